"""The disk cache of derived arrays: computed once, read back whole, and
never an error or a wrong array when the file or the folder is bad."""

from __future__ import annotations

import os

import numpy as np
import pytest

from dedup import _cache


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("DEDUP_CACHE_DIR", str(tmp_path / "c"))
    return tmp_path / "c"


class _Compute:
    def __init__(self, arr: np.ndarray):
        self.arr, self.calls = arr, 0

    def __call__(self) -> np.ndarray:
        self.calls += 1
        return self.arr.copy()


def _get(compute, key=None, shape=(5,)):
    return _cache.cached_array("t", key or {"a": 1}, shape, np.float64, compute)


def test_computed_once_then_read(folder):
    compute = _Compute(np.arange(5, dtype=np.float64) / 3)
    first = _get(compute)
    second = _get(compute)
    assert compute.calls == 1 and np.array_equal(first, second) and second.dtype == np.float64
    assert len(list(folder.glob("t-*.npy"))) == 1 and not list(folder.glob("*.tmp"))
    _get(compute, key={"a": 2})  # another key: another entry
    assert compute.calls == 2 and len(list(folder.glob("t-*.npy"))) == 2


@pytest.mark.parametrize("damage", ["truncate", "garbage", "shape", "dtype"])
def test_a_bad_file_is_computed_again_and_replaced(folder, damage):
    compute = _Compute(np.linspace(0, 1, 5))
    _get(compute)
    (path,) = folder.glob("t-*.npy")
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:-9])
    elif damage == "garbage":
        path.write_bytes(b"not an array")
    elif damage == "shape":
        np.save(path, np.zeros(4))
    else:
        np.save(path, np.zeros(5, np.float32))
    assert np.array_equal(_get(compute), compute.arr) and compute.calls == 2
    assert np.array_equal(np.load(path), compute.arr)  # replaced by the right array


def test_an_unwritable_folder_is_no_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("DEDUP_CACHE_DIR", str(blocker / "sub"))  # a folder inside a file: cannot exist
    compute = _Compute(np.ones(5))
    assert np.array_equal(_get(compute), np.ones(5)) and np.array_equal(_get(compute), np.ones(5))
    assert compute.calls == 2


@pytest.mark.parametrize("value", ["off", "", "none"])
def test_turned_off(tmp_path, monkeypatch, value):
    monkeypatch.setenv("DEDUP_CACHE_DIR", value)
    monkeypatch.chdir(tmp_path)
    assert _cache.cache_dir() is None
    compute = _Compute(np.ones(5))
    _get(compute), _get(compute)
    assert compute.calls == 2 and not os.listdir(tmp_path)


def test_default_folder_follows_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.delenv("DEDUP_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert _cache.cache_dir() == tmp_path / "dedup"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert _cache.cache_dir() == tmp_path / "home" / ".cache" / "dedup"
    monkeypatch.setattr(os.path, "expanduser", lambda path: path)  # no home known: "~" stays "~"
    assert _cache.cache_dir() is None


def test_a_computed_array_of_the_wrong_shape_is_refused(folder):
    with pytest.raises(ValueError, match="expected"):
        _get(_Compute(np.ones(3)))
