"""Memory: freed heap pages back to the operating system, idle matrices out to a file,
the cycle collector paused while a loop makes many objects."""

from __future__ import annotations

import ctypes
import gc
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    try:
        lib = ctypes.CDLL("libc.so.6")
        lib.malloc_trim  # noqa: B018 - glibc only
        return lib
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return None


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off for the block (back on after it, if it
    was on). A loop that makes an object per article (20k clusters with
    their tuples) otherwise triggers collections that walk every object the
    process holds -- half the time of building the clusters -- while it
    makes no reference cycles for them to find."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


# Below this peak resident memory (bytes) nothing is trimmed: what could be
# handed back is small, and a trim costs a walk of the heap plus a page fault
# for every page the next arrays take back (a tenth of the run at 20k articles).
TRIM_ABOVE = 1 << 30


def release_freed_memory() -> None:
    """Give freed heap pages back to the OS (glibc's ``malloc_trim``) once
    the process has held :data:`TRIM_ABOVE` or more.

    Arrays below glibc's mmap threshold (which it raises up to 32 MB after
    large frees) live on the heap; when a stage frees thousands of them --
    feature parts unpickled from the workers, one band's keys at a time --
    the pages stay resident and the next stage's arrays come on top. The
    pipeline calls this between stages and inside its long loops: the
    1M-article run holds gigabytes less. A no-op where there is no glibc."""
    lib = _libc()
    if lib is not None and peak_resident_bytes() >= TRIM_ABOVE:
        lib.malloc_trim(0)


def peak_resident_bytes() -> int:
    """The most resident memory this process has held (Linux: ``ru_maxrss`` in KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class SpilledRows:
    """A CSR matrix parked in a temporary file until it is needed again.

    The batch pipeline's TF-IDF rows are most of its memory at a million
    articles and are idle while the candidates are found; written out (to
    ``dir``, default the system's temporary folder) they leave room for
    that stage, and :meth:`load` reads them back unchanged. Its arrays that
    cannot be written (no space, no folder) are kept in memory."""

    def __init__(self, x: sp.csr_matrix, dir: str | None = None) -> None:
        self._shape = x.shape
        self._sorted = bool(x.has_sorted_indices)
        self._kept: sp.csr_matrix | None = None
        self._parts: list[SpilledArray] = []
        try:
            self._tmp: tempfile.TemporaryDirectory | None = tempfile.TemporaryDirectory(prefix="dedup-rows-", dir=dir)
        except OSError:
            self._tmp, self._kept = None, x
            return
        self._parts = [SpilledArray(getattr(x, name), self._tmp.name) for name in ("data", "indices", "indptr")]

    @property
    def spilled(self) -> bool:
        return self._kept is None and all(p.spilled for p in self._parts)

    def load(self) -> sp.csr_matrix:
        """The matrix, read back (the files are removed)."""
        if self._kept is not None:
            x, self._kept = self._kept, None
            return x
        from .arrays import csr_of

        data, indices, indptr = (p.load() for p in self._parts)
        assert self._tmp is not None
        self._tmp.cleanup()
        x = csr_of(data, indices, indptr, self._shape)
        x.has_sorted_indices = self._sorted
        return x


class SpilledArray:
    """A dense array parked in a temporary file until it is needed again
    (one of :class:`SpilledRows`' three); kept in memory if the file cannot
    be written."""

    def __init__(self, a: np.ndarray, dir: str | None = None) -> None:
        self._shape, self._dtype = a.shape, a.dtype
        self._kept: np.ndarray | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None
        try:
            self._tmp = tempfile.TemporaryDirectory(prefix="dedup-array-", dir=dir)
            np.ascontiguousarray(a).tofile(os.path.join(self._tmp.name, "a"))
        except OSError:
            if self._tmp is not None:
                self._tmp.cleanup()
            self._tmp, self._kept = None, a

    @property
    def spilled(self) -> bool:
        return self._kept is None

    def load(self) -> np.ndarray:
        """The array, read back (the file is removed)."""
        if self._kept is not None:
            a, self._kept = self._kept, None
            return a
        assert self._tmp is not None
        a = np.fromfile(os.path.join(self._tmp.name, "a"), dtype=self._dtype).reshape(self._shape)
        self._tmp.cleanup()
        return a
