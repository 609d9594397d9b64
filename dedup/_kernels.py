"""Compiled kernels (numba) of pair scoring: the sparse dot product of row pairs
and each row's top neighbours. Each reproduces bit for bit the numpy/scipy
code it replaces (tests compare them). (Kernels of the other stages live
beside them: text/, features/, sketch/.)
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .arrays import KERNEL_OPTIONS, popcount, prefetch


@njit(inline="always")
def _pairwise_leaf(a, lo, n):
    if n < 8:  # numpy starts from -0.0, and -0.0 + x == x for every x
        res = a[lo]
        for i in range(lo + 1, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - (n % 8):
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(inline="always")
def _pairwise_sum(a, lo, n):
    """numpy's pairwise summation of ``a[lo:lo+n]`` (``n >= 1``; numpy's
    ``@TYPE@_pairwise_sum``) in the dtype of ``a``: the very additions
    ``np.add.reduce`` makes. Blocks of at most 128 are summed by eight
    accumulators; longer runs split in two (at a multiple of 8 near the
    middle) and add the halves -- here with an explicit stack, as numba's
    cache cannot hold a recursive function."""
    if n <= 128:
        return _pairwise_leaf(a, lo, n)
    f_lo = np.empty(64, np.int64)
    f_n = np.empty(64, np.int64)
    f_stage = np.empty(64, np.int64)
    vals = np.empty(64, a.dtype)
    top = 0
    nv = 0
    f_lo[0], f_n[0], f_stage[0] = lo, n, 0
    while top >= 0:
        flo, fn = f_lo[top], f_n[top]
        if fn <= 128:
            vals[nv] = _pairwise_leaf(a, flo, fn)
            nv += 1
            top -= 1
            continue
        n2 = fn // 2
        n2 -= n2 % 8
        stage = f_stage[top]
        f_stage[top] = stage + 1
        if stage == 0:
            top += 1
            f_lo[top], f_n[top], f_stage[top] = flo, n2, 0
        elif stage == 1:
            top += 1
            f_lo[top], f_n[top], f_stage[top] = flo + n2, fn - n2, 0
        else:
            vals[nv - 2] = vals[nv - 2] + vals[nv - 1]
            nv -= 1
            top -= 1
    return vals[0]


@njit(inline="always")
def _lay_out(indptr, indices, row, bits, rank, one):
    """Row ``row``'s columns as set bits; ``rank[w]``: the row's entries before bitmap word ``w``."""
    for a in range(indptr[row], indptr[row + 1]):
        col = indices[a]
        if bits[col >> 6] == 0:
            rank[col >> 6] = a - indptr[row]
        bits[col >> 6] |= one << np.uint64(col & 63)


DOT_AHEAD = 2
"""Pairs :func:`pair_dot` reads ahead: the first cache lines of a later
pair's second row are asked for while this pair is scored (the rest of
the row then streams in)."""


@njit(inline="always")
def _prefetch_row_start(indptr, indices, data, row):
    """:func:`dedup.arrays.prefetch` the first two cache lines of a CSR row's columns and values."""
    for a in (indptr[row], indptr[row] + 16):
        prefetch(indices, a)
        prefetch(data, a)


@njit(**KERNEL_OPTIONS)
def pair_dot(indptr, indices, data, pairs, order, n_cols):
    """Dot product of CSR row pairs (sorted, duplicate-free indices), added up
    as ``x[i].multiply(x[j]).sum(axis=1)`` does: the nonzero products in
    column order, the first plus numpy's pairwise sum of the rest, in the
    dtype of ``data``.

    Pairs are visited in ``order`` (grouped by first row, so each first row
    is laid out once): its columns as a bitmap of ``n_cols`` bits (cache
    resident) with each word's rank in the row. The second row's entries
    are tested against it in column order; a shared column (few, for most
    candidate pairs) is found in the first row by the rank and a popcount.
    The second row's values are touched first, a cache line at a time, so
    these scattered reads find them in cache: the cost is about one pass
    over the second row, against a branchy merge of both."""
    out = np.zeros(len(pairs), data.dtype)
    width = 0
    for r in range(len(indptr) - 1):
        width = max(width, indptr[r + 1] - indptr[r])
    prod = np.empty(width, data.dtype)
    bits = np.zeros((n_cols >> 6) + 1, np.uint64)
    rank = np.empty((n_cols >> 6) + 1, np.int64)
    one = np.uint64(1)
    cur = -1
    for t in range(len(pairs)):
        if t + DOT_AHEAD < len(pairs):
            _prefetch_row_start(indptr, indices, data, pairs[order[t + DOT_AHEAD], 1])
        q = order[t]
        i, j = pairs[q, 0], pairs[q, 1]
        if i != cur:
            if cur >= 0:
                for a in range(indptr[cur], indptr[cur + 1]):
                    bits[indices[a] >> 6] = 0
            _lay_out(indptr, indices, i, bits, rank, one)
            cur = i
        touch = data.dtype.type(0)
        for b in range(indptr[j], indptr[j + 1], 8):
            touch += data[b]
        c = 0
        for b in range(indptr[j], indptr[j + 1]):
            col = indices[b]
            w = bits[col >> 6]
            if (w >> np.uint64(col & 63)) & one:
                a = indptr[i] + rank[col >> 6] + popcount(w & ((one << np.uint64(col & 63)) - one))
                v = data[a] * data[b]
                if v != 0:
                    prod[c] = v
                    c += 1
        if c > 0:
            out[q] = prod[0] + _pairwise_sum(prod, 1, c - 1) if c > 1 else prod[0]
        elif touch != touch:  # never: keeps the touching loop
            out[q] = 0
    return out


@njit(inline="always")
def _nb_offer(x, y, v, best_v, best_c, fill):
    """Offer partner ``y`` with similarity ``v`` to row ``x``'s top list:
    higher similarity first, then lower column (partners are distinct)."""
    k = best_v.shape[1]
    f = fill[x]
    if f < k:
        t = f
        fill[x] = f + 1
    else:
        t = k - 1
        if v < best_v[x, t] or (v == best_v[x, t] and y > best_c[x, t]):
            return
    # insertion into the sorted list (k is small)
    while t > 0 and (v > best_v[x, t - 1] or (v == best_v[x, t - 1] and y < best_c[x, t - 1])):
        best_v[x, t] = best_v[x, t - 1]
        best_c[x, t] = best_c[x, t - 1]
        t -= 1
    best_v[x, t] = v
    best_c[x, t] = y


@njit(**KERNEL_OPTIONS)
def top_neighbours(pairs, sims, n, k):
    """Each row's ``k`` most similar partners among the scored pairs (positive
    similarities only; ties to the lower column), as ``(values, columns,
    counts)`` with ``(n, k)`` arrays: what sorting both directions of every
    pair by (row, -similarity, column) and keeping each row's first ``k``
    gives, in O(n * k) memory instead of O(pairs)."""
    return top_partners(pairs[:, 0], pairs[:, 1], sims, n, k, True)


@njit(**KERNEL_OPTIONS)
def top_partners(rows, cols, sims, n, k, both):
    """:func:`top_neighbours` of offers ``(rows[q], cols[q])`` (rows in
    ``0..n-1``), one direction only unless ``both``; the same sorted lists,
    ties to the lower column."""
    best_v = np.zeros((n, k), np.float64)
    best_c = np.full((n, k), -1, np.int64)
    fill = np.zeros(n, np.int64)
    for q in range(len(rows)):
        v = np.float64(sims[q])
        if v > 0:
            _nb_offer(rows[q], cols[q], v, best_v, best_c, fill)
            if both:
                _nb_offer(cols[q], rows[q], v, best_v, best_c, fill)
    return best_v, best_c, fill


@njit(**KERNEL_OPTIONS)
def symmetric_profiles(rows, cols, vals, n):
    """The CSR rows ``(indptr, indices, data)`` of the entries ``(rows[q],
    cols[q])`` and ``(cols[q], rows[q])`` valued ``vals[q]``, plus ``(i, i)``
    valued 1 for every row: columns sorted, each kept once with its largest
    value -- what sorting the coordinates by (row, column, -value) and keeping
    each first gives, in memory for the entries alone."""
    counts = np.ones(n, np.int64)  # the diagonal entry, then the offers
    for q in range(len(rows)):
        counts[rows[q]] += 1
        counts[cols[q]] += 1
    indptr = np.zeros(n + 1, np.int64)
    for r in range(n):
        indptr[r + 1] = indptr[r] + counts[r]
    at = indptr[:-1].copy()
    indices = np.empty(indptr[n], np.int64)
    data = np.empty(indptr[n], np.float64)
    for r in range(n):
        indices[at[r]] = r
        data[at[r]] = 1.0
        at[r] += 1
    for q in range(len(rows)):
        a, b, v = rows[q], cols[q], vals[q]
        indices[at[a]], data[at[a]] = b, v
        at[a] += 1
        indices[at[b]], data[at[b]] = a, v
        at[b] += 1
    out = 0
    for r in range(n):
        lo, hi = indptr[r], indptr[r + 1]
        order = np.argsort(indices[lo:hi])
        c_row, v_row = indices[lo:hi][order], data[lo:hi][order]
        indptr[r] = out
        for t in range(hi - lo):
            if t > 0 and c_row[t] == indices[out - 1]:
                if v_row[t] > data[out - 1]:
                    data[out - 1] = v_row[t]
            else:
                indices[out], data[out] = c_row[t], v_row[t]
                out += 1
    indptr[n] = out
    return indptr, indices[:out].copy(), data[:out].copy()
