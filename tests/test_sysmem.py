"""Memory helpers: the cycle collector paused for a block; freed pages trimmed only in a large process."""

from __future__ import annotations

import gc

import pytest

from dedup._sysmem import collector_paused


def test_collector_paused_for_the_block_and_restored_after_it():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(KeyError), collector_paused():
        raise KeyError("x")
    assert gc.isenabled()  # also after an error


def test_collector_left_off_when_it_was_off():
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_freed_memory_is_trimmed_only_past_the_peak_threshold(monkeypatch):
    from dedup import _sysmem

    calls = []

    class FakeLibc:
        def malloc_trim(self, pad):
            calls.append(pad)

    monkeypatch.setattr(_sysmem, "_libc", lambda: FakeLibc())
    peak = _sysmem.peak_resident_bytes()
    assert peak > 1 << 20  # a Python process with numpy holds more than a megabyte
    monkeypatch.setattr(_sysmem, "TRIM_ABOVE", peak + (1 << 30))
    _sysmem.release_freed_memory()
    assert calls == []  # a small process: nothing to hand back worth a trim
    monkeypatch.setattr(_sysmem, "TRIM_ABOVE", peak)
    _sysmem.release_freed_memory()
    assert calls == [0]
