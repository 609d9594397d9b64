"""Compiled array utilities shared by the stages: threads over blocks, a stable
radix argsort, row permutations and ragged takes, and CSR construction
without copies. Each kernel is tested against the numpy expression it replaces.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from typing import TypeVar

import numpy as np
import scipy.sparse as sp
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

__all__ = [
    "usable_cpus",
    "run_split",
    "in_threads",
    "in_order",
    "stable_argsort",
    "permute_rows",
    "take_ragged",
    "csr_of",
    "row_blocks",
    "normalize_rows",
]


T = TypeVar("T")
R = TypeVar("R")

KERNEL_OPTIONS = dict(cache=True, nogil=True)  # every kernel: compiled once, cached, free to run in threads


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity: ``taskset``, a
    container's cpuset), not the machine's count: threads beyond them only
    take turns."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - no affinity on this platform
        return os.cpu_count() or 1


def run_split(fn: Callable[[np.ndarray], np.ndarray], items: np.ndarray, min_block: int = 50_000) -> np.ndarray:
    """``fn(items)`` computed over contiguous blocks in threads (one per core),
    the results concatenated. Only for kernels that release the GIL and whose
    result for an item does not depend on the other items."""
    blocks = len(items) // min_block
    if blocks <= 1:  # small inputs (the live index's): no affinity look-up either
        return fn(items)
    workers = min(usable_cpus(), blocks)
    if workers <= 1:
        return fn(items)
    bounds = np.linspace(0, len(items), workers + 1).astype(np.int64)
    return np.concatenate(in_threads(fn, [items[bounds[w] : bounds[w + 1]] for w in range(workers)]))


def in_threads(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``[fn(item) for item in items]``, in threads (one per usable core)
    when there is more than one item. Only for work that releases the GIL
    (numpy, the compiled kernels) and whose items are independent."""
    workers = min(usable_cpus(), len(items)) if len(items) > 1 else 1
    if workers <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


def in_order(submit: Callable[[T], Future[R]], items: Iterable[T], ahead: int) -> Iterator[R]:
    """The results of ``submit(item)`` (a future: a thread or process pool's
    ``submit``) for each item, in order, with at most ``ahead`` submitted
    and not yet handed on: the work runs ahead of the caller, but its
    results (and the items sent) do not pile up."""
    pending: deque[Future[R]] = deque()
    for item in items:
        if len(pending) >= ahead:
            yield pending.popleft().result()
        pending.append(submit(item))
    while pending:
        yield pending.popleft().result()


@njit(inline="always")
def _radix_sort(a, tmp, n, n_bits):
    """Sort ``a[:n]`` (non-negative, below ``2**n_bits``) by least-significant
    digit first, 8 bits a pass; ``tmp`` is scratch of the same size. Returns
    the array (``a`` or ``tmp``) holding the sorted run."""
    count = np.empty(257, np.int64)
    src, dst = a, tmp
    shift = 0
    while shift < n_bits:
        count[:] = 0
        for i in range(n):
            count[((src[i] >> shift) & 255) + 1] += 1
        for b in range(256):
            count[b + 1] += count[b]
        for i in range(n):
            digit = (src[i] >> shift) & 255
            dst[count[digit]] = src[i]
            count[digit] += 1
        src, dst = dst, src
        shift += 8
    return src[:n]


@njit(inline="always")
def popcount(x):
    """Set bits of a uint64 (SWAR), for compiled loops."""
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@intrinsic
def prefetch(typingctx, arr, i):
    """Ask the CPU to bring element ``i`` of contiguous ``arr`` (its flat
    index) into cache, without waiting for it (LLVM's ``llvm.prefetch``:
    a read, kept in all levels). A hint only: no value changes. Kernels that
    read rows at random call it for the rows they will read next, so that
    the misses overlap instead of stalling one after another (at a million
    rows the band kernel and the pair scores wait on memory)."""
    if not isinstance(arr, types.Array) or not isinstance(i, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        i8p = ir.IntType(8).as_pointer()
        addr = builder.bitcast(builder.gep(ary.data, [args[1]]), i8p)
        read, keep, data = (ir.Constant(ir.IntType(32), v) for v in (0, 3, 1))
        builder.call(_llvm_prefetch(builder.module), [addr, read, keep, data])
        return context.get_dummy_value()

    return types.void(arr, i), codegen


def _llvm_prefetch(module: ir.Module) -> ir.Function:
    """The declaration of ``llvm.prefetch`` in ``module`` (made once)."""
    name = "llvm.prefetch.p0i8"
    try:
        return module.get_global(name)
    except KeyError:
        i32 = ir.IntType(32)
        return ir.Function(module, ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer(), i32, i32, i32]), name)


@njit(inline="always")
def prefetch_row(a, r):
    """:func:`prefetch` every cache line of row ``r`` of the C-contiguous 2-d ``a``."""
    width = a.shape[1]
    step = max(1, 64 // a.itemsize)
    for c in range(0, width, step):
        prefetch(a, r * width + c)


@njit(inline="always")
def grown(a, n, extra=0):
    """``a`` doubled along its first axis (and ``extra`` rows more), its first
    ``n`` rows kept: how a compiled pass grows an output array between runs
    of its loop (an array reassigned inside the loop costs reference
    counting on every pass)."""
    b = np.empty((2 * len(a) + extra,) + a.shape[1:], a.dtype)
    b[:n] = a[:n]
    return b


@njit(**KERNEL_OPTIONS)
def stable_argsort(keys):
    """``np.argsort(keys, kind="stable")`` of uint64 keys, and the keys in
    that order: least-significant-digit radix sort, 16 bits a pass, as many
    passes as the largest key needs (two for 32-bit band keys)."""
    n = len(keys)
    order = np.arange(n)
    k = keys.copy()
    tmp_o = np.empty(n, np.int64)
    tmp_k = np.empty(n, np.uint64)
    top = np.uint64(0)
    for i in range(n):
        if k[i] > top:
            top = k[i]
    count = np.empty(65537, np.int64)
    digit_mask = np.uint64(0xFFFF)
    shift = np.uint64(0)
    for _ in range(4):
        if (top >> shift) == 0:
            break
        count[:] = 0
        for i in range(n):
            count[np.int64((k[i] >> shift) & digit_mask) + 1] += 1
        for d in range(65536):
            count[d + 1] += count[d]
        for i in range(n):
            d = np.int64((k[i] >> shift) & digit_mask)
            p = count[d]
            tmp_k[p] = k[i]
            tmp_o[p] = order[i]
            count[d] = p + 1
        k, tmp_k = tmp_k, k
        order, tmp_o = tmp_o, order
        shift += np.uint64(16)
    return order, k


@njit(**KERNEL_OPTIONS)
def permute_rows(a, order):
    """``a[:] = a[order]`` for a 2-d array, in place (one row of scratch:
    each cycle of the permutation is followed once)."""
    n = len(order)
    done = np.zeros(n, np.bool_)
    tmp = np.empty(a.shape[1], a.dtype)
    for start in range(n):
        if done[start]:
            continue
        tmp[:] = a[start]
        k = start
        while True:
            done[k] = True
            src = order[k]
            if src == start:
                a[k] = tmp
                break
            a[k] = a[src]
            k = src


@njit(**KERNEL_OPTIONS)
def take_ragged(values, offsets, order):
    """Rows ``order`` of a ragged array (``values`` cut at ``offsets``)."""
    n = len(order)
    out_offsets = np.zeros(n + 1, np.int64)
    for k in range(n):
        out_offsets[k + 1] = out_offsets[k] + offsets[order[k] + 1] - offsets[order[k]]
    out = np.empty(out_offsets[n], values.dtype)
    for k in range(n):
        lo = offsets[order[k]]
        for t in range(out_offsets[k + 1] - out_offsets[k]):
            out[out_offsets[k] + t] = values[lo + t]
    return out, out_offsets


def upper_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.triu_indices(n, 1)``, read-only; for ``n`` up to 64 kept for the
    next call (at most 0.7 MB): the live index asks for the pairs of a few
    small stories again and again, and numpy builds an ``(n, n)`` mask each
    time (50 us)."""
    return _upper_pairs(n) if n <= 64 else _read_only(np.triu_indices(n, 1))


@cache
def _upper_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    return _read_only(np.triu_indices(n, 1))


def _read_only(pair: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    for a in pair:
        a.flags.writeable = False
    return pair[0], pair[1]


def csr_of(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """A CSR matrix over these very arrays (scipy's constructor keeps views
    of them; a large matrix is then shrunk or spilled through its owners)."""
    x = sp.csr_matrix((data, indices, indptr), shape=shape, copy=False)
    if x.data.dtype == data.dtype and x.indices.dtype == indices.dtype:
        x.data, x.indices = data, indices
    return x


def normalize_rows(x: sp.csr_matrix) -> sp.csr_matrix:
    """``x`` with each row scaled to unit L2 norm, in place (rows of zeros
    left as they are): scikit-learn's ``normalize(x, norm="l2", copy=False)``
    of a float CSR matrix, the same values bit for bit, without importing
    scikit-learn (a second of start-up and 130 MB for every small batch)."""
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"normalize_rows needs float32 or float64 values, got {x.dtype}")
    if x.nnz and not np.isfinite(x.data).all():
        raise ValueError("normalize_rows: the values contain NaN or infinity")
    _normalize_rows(x.indptr, x.data)
    return x


@njit(**KERNEL_OPTIONS)
def _normalize_rows(indptr, data):
    """scikit-learn's ``_inplace_csr_row_normalize_l2``: each row's squares
    added in order in float64 (the product in the values' dtype), its square
    root, each value divided by it."""
    for i in range(len(indptr) - 1):
        s = 0.0
        for j in range(indptr[i], indptr[i + 1]):
            s += data[j] * data[j]
        if s == 0.0:
            continue
        s = np.sqrt(s)
        for j in range(indptr[i], indptr[i + 1]):
            data[j] /= s


def shrunk(a: np.ndarray, m: int) -> np.ndarray:
    """The first ``m`` values of ``a``: resized in place when ``a`` owns its
    memory (a large block shrinks without a copy), a copy otherwise."""
    if a.base is None and a.flags.owndata:
        a.resize(m, refcheck=False)
        return a
    return a[:m].copy()


def row_blocks(indptr: np.ndarray, chunk_nnz: int) -> list[tuple[int, int]]:
    """Consecutive row ranges ``(lo, hi)`` holding about ``chunk_nnz`` stored values each."""
    rows, lo, out = len(indptr) - 1, 0, []
    while lo < rows:
        hi = min(rows, max(lo + 1, int(np.searchsorted(indptr, indptr[lo] + chunk_nnz, side="right")) - 1))
        out.append((lo, hi))
        lo = hi
    return out
