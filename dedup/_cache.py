"""A disk cache for arrays derived from installed data, so a new process does
not derive them again (the background prior: 0.5 s of importing wordfreq,
reading its word list and hashing 321k words, at every start of the CLI, a
worker or a Spark executor).

An entry is one ``.npy`` file named by a digest of its key (which names
everything the array depends on, versions included), written to a temporary
file and renamed into place, so a reader sees a whole file or none. A file
that cannot be read, or whose array has not the expected shape and dtype, is
ignored and computed again; a directory that cannot be written is no error
(the array is then computed in every process, as without a cache).

The folder is ``$DEDUP_CACHE_DIR``, else ``$XDG_CACHE_HOME/dedup``, else
``~/.cache/dedup`` (no cache when no home folder is known);
``DEDUP_CACHE_DIR=off`` turns the cache off.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["cache_dir", "cached_array"]

FORMAT = 1


def cache_dir() -> Path | None:
    """The cache folder, or None when the cache is off."""
    given = os.environ.get("DEDUP_CACHE_DIR")
    if given is not None:
        return None if given.strip().lower() in ("", "off", "0", "none") else Path(given)
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        home = os.path.expanduser("~")
        if home.startswith("~"):  # no home folder known: no cache (not a "~" folder in the working one)
            return None
        base = os.path.join(home, ".cache")
    return Path(base) / "dedup"


def _path(folder: Path, name: str, key: dict[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps({"format": FORMAT, **key}, sort_keys=True).encode()).hexdigest()[:32]
    return folder / f"{name}-{digest}.npy"


def _read(path: Path, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray | None:
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    return arr if arr.shape == shape and arr.dtype == dtype else None


def _write(path: Path, arr: np.ndarray) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, arr, allow_pickle=False)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass  # a read-only or full disk: no cache, same result


def cached_array(
    name: str, key: dict[str, Any], shape: tuple[int, ...], dtype: type, compute: Callable[[], np.ndarray]
) -> np.ndarray:
    """``compute()`` (an array of ``shape`` and ``dtype``), from the cache
    when an entry for ``name`` and ``key`` (JSON values) is there, else
    computed and stored."""
    folder = cache_dir()
    want = np.dtype(dtype)
    path = None if folder is None else _path(folder, name, key)
    if path is not None:
        found = _read(path, shape, want)
        if found is not None:
            return found
    arr = compute()
    if arr.shape != shape or arr.dtype != want:
        raise ValueError(f"{name}: computed {arr.dtype}{arr.shape}, expected {want}{shape}")
    if path is not None:
        _write(path, arr)
    return arr
