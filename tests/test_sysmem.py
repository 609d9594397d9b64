"""Memory helpers: the cycle collector paused for a block and restored after it."""

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
