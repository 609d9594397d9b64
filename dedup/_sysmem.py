"""Memory: freed heap pages back to the operating system, idle matrices out to a file,
the cycle collector paused while a loop makes many objects."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import mmap
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


class RowFile:
    """CSR rows (sorted, duplicate-free columns) kept in two temporary files,
    values and columns, appended a block of rows at a time.

    A large batch's term rows -- most of its memory at a million articles
    (512 terms an article: 4 GB) -- live here from the moment they are
    counted: weighing reads them back a block of rows at a time
    (:meth:`read`), verification maps them (:meth:`mapped`) and lets the
    pages go between blocks of pairs. The files are made at the first
    :meth:`append` (in ``dir``, default the system's temporary folder) and
    removed by :meth:`close`; if they cannot be written the rows are kept
    in memory, with the same results."""

    def __init__(self, n_cols: int, dtype: np.dtype | type = np.float32, dir: str | None = None) -> None:
        self.n_cols, self.dtype = int(n_cols), np.dtype(dtype)
        self.dir = dir  # where the files go (None: the system's temporary folder)
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._lengths: list[np.ndarray] = []
        self._indptr: np.ndarray | None = np.zeros(1, dtype=np.int64)
        self._kept: list[tuple[np.ndarray, np.ndarray]] | None = None  # the rows, when no file could be written
        self._written = 0

    @property
    def n_rows(self) -> int:
        return sum(len(k) for k in self._lengths) if self._indptr is None else len(self._indptr) - 1

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_rows, self.n_cols)

    @property
    def indptr(self) -> np.ndarray:
        """Row offsets (int64, held in memory: 8 bytes a row)."""
        if self._indptr is None:
            lengths = np.concatenate(self._lengths)
            self._indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
            np.cumsum(lengths, out=self._indptr[1:])
        return self._indptr

    @property
    def spilled(self) -> bool:
        """Whether the rows are in files (not kept in memory)."""
        return self._kept is None and self._tmp is not None

    def append(self, x: sp.csr_matrix) -> None:
        """Add the rows of ``x`` (its values in :attr:`dtype`, columns int32) after the others."""
        if not x.has_canonical_format:
            raise ValueError("RowFile rows need sorted, duplicate-free columns")
        data = np.ascontiguousarray(x.data, dtype=self.dtype)
        indices = np.ascontiguousarray(x.indices, dtype=np.int32)
        self._lengths.append(np.diff(x.indptr).astype(np.int64))
        self._indptr = None
        if self._kept is None:
            try:
                if self._tmp is None:
                    self._tmp = tempfile.TemporaryDirectory(prefix="dedup-rows-", dir=self.dir)
                for name, a in (("data", data), ("indices", indices)):
                    with open(self._path(name), "ab") as f:
                        a.tofile(f)
                self._written += len(data)
                return
            except OSError:
                self._keep_in_memory()
        assert self._kept is not None
        self._kept.append((data, indices))  # not copied: the caller lets x go

    def _path(self, name: str) -> str:
        assert self._tmp is not None
        return os.path.join(self._tmp.name, name)

    def _keep_in_memory(self) -> None:
        """From now on rows are kept in memory: those written so far are read back."""
        kept = []
        if self._tmp is not None and self._written:
            kept.append(self._read_files(0, self._written))
        self.close()
        self._kept = kept

    def _read_files(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        return tuple(  # type: ignore[return-value]
            np.fromfile(self._path(name), dtype=dt, count=b - a, offset=a * np.dtype(dt).itemsize)
            for name, dt in (("data", self.dtype), ("indices", np.int32))
        )

    def read(self, lo: int, hi: int) -> sp.csr_matrix:
        """Rows ``lo`` to ``hi`` (excluded), read into memory."""
        from .arrays import csr_of

        indptr = self.indptr
        a, b = int(indptr[lo]), int(indptr[hi])
        if self._kept is not None:
            if len(self._kept) != 1:  # one array each from now on
                self._kept = [
                    (
                        np.concatenate([k[0] for k in self._kept] or [np.zeros(0, self.dtype)]),
                        np.concatenate([k[1] for k in self._kept] or [np.zeros(0, np.int32)]),
                    )
                ]
            data, indices = self._kept[0][0][a:b].copy(), self._kept[0][1][a:b].copy()
        elif b > a:
            data, indices = self._read_files(a, b)
        else:
            data, indices = np.zeros(0, self.dtype), np.zeros(0, np.int32)
        x = csr_of(data, indices, indptr[lo : hi + 1] - a, (hi - lo, self.n_cols))
        x.has_canonical_format = True
        return x

    def mapped(self) -> MappedRows:
        """All rows as a matrix over the files, mapped into memory (copy on
        write: the files never change); the pages read stay resident only
        until :meth:`MappedRows.release`."""
        if self._kept is not None or self._tmp is None or not self.nnz:
            return MappedRows(self.read(0, self.n_rows), [])
        from .arrays import csr_of

        maps, arrays = [], []
        for name, dt in (("data", self.dtype), ("indices", np.int32)):
            with open(self._path(name), "rb") as f:
                m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
            maps.append(m)
            arrays.append(np.frombuffer(m, dtype=dt, count=self.nnz))
        x = csr_of(arrays[0], arrays[1], self.indptr, self.shape)
        x.has_canonical_format = True
        return MappedRows(x, maps)

    def close(self) -> None:
        """Remove the files (the rows are gone)."""
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        self._written = 0


class MappedRows:
    """:meth:`RowFile.mapped`: ``matrix`` is the rows; a context manager
    that unmaps the files on exit."""

    def __init__(self, matrix: sp.csr_matrix, maps: list[mmap.mmap]) -> None:
        self.matrix: sp.csr_matrix | None = matrix
        self._maps = maps

    def release(self) -> None:
        """Let the pages read so far go (they are read again when needed):
        what stays resident is the pages of the rows used since the last call."""
        for m in self._maps:
            if hasattr(m, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
                m.madvise(mmap.MADV_DONTNEED)

    def __enter__(self) -> MappedRows:
        return self

    def __exit__(self, *exc: object) -> None:
        self.matrix = None
        for m in self._maps:
            with contextlib.suppress(BufferError):  # a view of the rows outlives the block: unmapped when it goes
                m.close()
        self._maps = []


class SpilledArray:
    """A dense array parked in a temporary file until it is needed again
    (a large batch's shingle signatures while other stages run); kept in memory if the file cannot
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
