"""Returning freed heap memory to the operating system."""

from __future__ import annotations

import ctypes
from functools import lru_cache


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    try:
        lib = ctypes.CDLL("libc.so.6")
        lib.malloc_trim  # noqa: B018 - glibc only
        return lib
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return None


def release_freed_memory() -> None:
    """Give freed heap pages back to the OS (glibc's ``malloc_trim``).

    Arrays below glibc's mmap threshold (which it raises up to 32 MB after
    large frees) live on the heap; when a stage frees thousands of them --
    feature parts unpickled from the workers, one band's keys at a time --
    the pages stay resident and the next stage's arrays come on top. The
    pipeline calls this between stages and inside its long loops: the
    1M-article run holds gigabytes less. A no-op where there is no glibc."""
    lib = _libc()
    if lib is not None:
        lib.malloc_trim(0)
