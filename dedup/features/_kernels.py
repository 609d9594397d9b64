"""Compiled kernels (numba) of the feature stages: n-gram hashes, term counts,
pruning and top terms per row, dropping columns. Each reproduces bit for bit
the numpy/scipy code it replaces (tests compare them on random inputs).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..arrays import KERNEL_OPTIONS, _radix_sort
from ..hashing import COMBINE, fmix64_scalar


@njit(**KERNEL_OPTIONS)
def ngram_hashes(hashes, offsets, n):
    """``shingle.ngram_hashes`` for ``n >= 2`` (see there), one pass per document."""
    n_docs = len(offsets) - 1
    total = 0
    for d in range(n_docs):
        length = offsets[d + 1] - offsets[d]
        if length >= n:
            total += length - n + 1
        elif length > 0:
            total += 1
    out = np.empty(total, np.uint64)
    new_offsets = np.zeros(n_docs + 1, np.int64)
    o = 0
    for d in range(n_docs):
        lo, hi = offsets[d], offsets[d + 1]
        length = hi - lo
        if length >= n:
            for t in range(lo, hi - n + 1):
                acc = hashes[t]
                for k in range(1, n):
                    acc = acc * COMBINE + hashes[t + k]
                out[o] = fmix64_scalar(acc)
                o += 1
        elif length > 0:
            acc = hashes[lo]
            for k in range(1, n):
                acc = acc * COMBINE + (hashes[lo + k] if k < length else np.uint64(0))
            out[o] = fmix64_scalar(acc)
            o += 1
        new_offsets[d + 1] = o
    return out, new_offsets


@njit(**KERNEL_OPTIONS)
def term_counts(hashes, offsets, mask):
    """Hashed unigram + bigram counts per document as CSR ``(indptr, indices,
    data)``: columns ``fmix64(h) & mask`` of each token hash and of each
    bigram hash (``ngram_hashes(..., 2)``: a one-token document has one
    "bigram"), sorted, duplicates added up -- ``feature_counts``."""
    n_docs = len(offsets) - 1
    total = 0
    for d in range(n_docs):
        length = offsets[d + 1] - offsets[d]
        total += 2 * length - 1 if length > 1 else 2 * length
    indptr = np.zeros(n_docs + 1, np.int64)
    indices = np.empty(total, np.int32)
    counts = np.empty(total, np.float32)
    width = 0
    for d in range(n_docs):
        width = max(width, offsets[d + 1] - offsets[d])
    cols = np.empty(2 * width, np.int64)
    tmp = np.empty(2 * width, np.int64)
    n_bits = 0
    while (np.uint64(1) << np.uint64(n_bits)) <= mask and n_bits < 64:
        n_bits += 1
    o = 0
    for d in range(n_docs):
        lo, hi = offsets[d], offsets[d + 1]
        length = hi - lo
        c = 0
        for t in range(lo, hi):
            cols[c] = np.int64(fmix64_scalar(hashes[t]) & mask)
            c += 1
        if length == 1:
            cols[c] = np.int64(fmix64_scalar(fmix64_scalar(hashes[lo] * COMBINE)) & mask)
            c += 1
        for t in range(lo, hi - 1):
            cols[c] = np.int64(fmix64_scalar(fmix64_scalar(hashes[t] * COMBINE + hashes[t + 1])) & mask)
            c += 1
        if c:
            s = _radix_sort(cols, tmp, c, n_bits)
            prev = s[0]
            run = 1
            for q in range(1, c):
                if s[q] == prev:
                    run += 1
                else:
                    indices[o] = prev
                    counts[o] = run
                    o += 1
                    prev = s[q]
                    run = 1
            indices[o] = prev
            counts[o] = run
            o += 1
        indptr[d + 1] = o
    return indptr, indices[:o], counts[:o]  # views: the unused tail was never written (no resident pages)


@njit(**KERNEL_OPTIONS)
def kth_largest(src, lo, hi, k, buf):
    """The ``k``-th largest of ``src[lo:hi]`` (``1 <= k <= hi - lo``; the
    value ``np.partition(src[lo:hi], n - k)[n - k]`` gives) as float64;
    ``src`` is not changed. ``buf`` is float64 scratch of shape ``(3, m)``,
    ``m >= hi - lo``.

    Quickselect whose partition has no branch on the values: each value is
    written to both the "above the pivot" and the "below" buffer and only
    the matching count advances (a branch per value mispredicts half the
    time on a row's weights: 4x slower). Values equal to the pivot are
    counted, not moved, so a row's large blocks of ties end in one pass.
    Each pass reads one buffer and writes the two others."""
    want = k - 1  # position in descending order
    n = hi - lo
    which = -1  # the buffer the values are in (-1: still ``src``)
    while n > 1:
        if which < 0:
            x, y, z = np.float64(src[lo]), np.float64(src[lo + n // 2]), np.float64(src[lo + n - 1])
        else:
            x, y, z = buf[which, 0], buf[which, n // 2], buf[which, n - 1]
        if x > y:  # y: the median of the three
            x, y = y, x
        if y > z:
            y = x if x > z else z
        up = 1 if which == 0 else 0
        down = 1 if which == 2 else 2
        g = 0
        s = 0
        if which < 0:
            for i in range(lo, hi):
                v = np.float64(src[i])
                buf[up, g] = v
                buf[down, s] = v
                g += v > y
                s += v < y
        else:
            for i in range(n):
                v = buf[which, i]
                buf[up, g] = v
                buf[down, s] = v
                g += v > y
                s += v < y
        if want < g:
            which, n = up, g
        elif want < n - s:
            return y
        else:
            want -= n - s
            which, n = down, s
    return np.float64(src[lo]) if which < 0 else buf[which, 0]


@njit(**KERNEL_OPTIONS)
def _capped_offsets(indptr, k):
    """Row offsets of the rows cut to at most ``k`` entries, and the longest row's length."""
    n = len(indptr) - 1
    offsets = np.zeros(n + 1, np.int64)
    width = 0
    for r in range(n):
        length = indptr[r + 1] - indptr[r]
        offsets[r + 1] = offsets[r] + min(length, k)
        width = max(width, length)
    return offsets, width


@njit(**KERNEL_OPTIONS)
def prune_rows(indptr, indices, data, log_tf, idf_codes, idf_values, k):
    """Each CSR row cut to its ``k`` heaviest values by the weight
    ``log_tf[tf] * idf_values[idf_codes[column]]`` (ties: lower columns first), as
    :func:`dedup.features.weights.prune_counts` does with numpy. Returns the kept
    ``(indptr, indices, data)`` and each row's dropped squared weight."""
    n = len(indptr) - 1
    out_indptr, width = _capped_offsets(indptr, k)
    # one slot more: the compaction below writes every entry and advances past the kept ones
    out_indices = np.empty(out_indptr[n] + 1, indices.dtype)
    out_data = np.empty(out_indptr[n] + 1, data.dtype)
    dropped = np.zeros(n, np.float64)
    w = np.empty(width, np.float64)
    scratch = np.empty((3, width), np.float64)
    for r in range(n):
        lo, hi = indptr[r], indptr[r + 1]
        length = hi - lo
        o = out_indptr[r]
        if length <= k:
            for t in range(length):
                out_indices[o + t] = indices[lo + t]
                out_data[o + t] = data[lo + t]
            continue
        for t in range(length):
            w[t] = log_tf[np.int64(data[lo + t])] * idf_values[idf_codes[indices[lo + t]]]
        thr = kth_largest(w, 0, length, k, scratch)
        above = 0
        for t in range(length):
            above += w[t] > thr
        room = k - above
        acc = 0.0
        for t in range(length):  # without a branch on the weight (kept: about half, unpredictable)
            v = w[t]
            tie = v == thr
            keep = (v > thr) | (tie & (room > 0))
            room -= tie & keep
            out_indices[o] = indices[lo + t]
            out_data[o] = data[lo + t]
            o += keep
            acc += 0.0 if keep else v * v  # in order: the sum numpy's bincount gives
        dropped[r] = acc
    return out_indptr, out_indices[:-1], out_data[:-1], dropped


@njit(**KERNEL_OPTIONS)
def row_kth_largest(indptr, data, k):
    """Each row's ``k``-th largest stored value, ``-inf`` for rows with at most ``k``."""
    n = len(indptr) - 1
    out = np.full(n, -np.inf, np.float64)
    width = 0
    for r in range(n):
        width = max(width, indptr[r + 1] - indptr[r])
    scratch = np.empty((3, width), np.float64)
    for r in range(n):
        if indptr[r + 1] - indptr[r] > k:
            out[r] = kth_largest(data, indptr[r], indptr[r + 1], k, scratch)
    return out


@njit(**KERNEL_OPTIONS)
def row_top_k(indptr, indices, data, k):
    """Each row's ``k`` largest values' columns, by value descending, ties by
    column ascending. Returns ``(columns, offsets)``. Per row: the ``k``-th
    largest by quickselect (:func:`kth_largest`), the values at or above it
    (about ``k``) sorted by (value descending, column), in scratch arrays
    made once."""
    n = len(indptr) - 1
    offsets, width = _capped_offsets(indptr, k)
    cols = np.empty(offsets[n], np.uint32)
    scratch = np.empty((3, width), np.float64)
    cand_v = np.empty(width, np.float64)
    cand_c = np.empty(width, np.int64)
    for r in range(n):
        lo, hi = indptr[r], indptr[r + 1]
        length = hi - lo
        if length == 0:
            continue
        thr = kth_largest(data, lo, hi, k, scratch) if length > k else -np.inf
        m = 0
        for q in range(length):
            v = np.float64(data[lo + q])
            if v >= thr:
                cand_v[m] = v
                cand_c[m] = indices[lo + q]
                m += 1
        _sort_desc_by_value(cand_v, cand_c, m)
        o = offsets[r]
        for q in range(min(k, length)):
            cols[o + q] = cand_c[q]
    return cols, offsets


@njit(**KERNEL_OPTIONS)
def row_top_set(indptr, indices, data, k):
    """The columns :func:`row_top_k` picks, in the row's stored order: each
    row's ``k`` largest values, ties at the ``k``-th broken by the lower
    column. A set is all a MinHash signature reads, so the picked values
    are not sorted; the ``k``-th largest (:func:`kth_largest`) and one pass
    choose them. Returns ``(columns, offsets)``."""
    n = len(indptr) - 1
    offsets, width = _capped_offsets(indptr, k)
    cols = np.empty(offsets[n] + 1, np.uint32)  # one slot more: the pass below writes before it advances
    scratch = np.empty((3, width), np.float64)
    ties = np.empty(width, np.int64)
    for r in range(n):
        lo, hi = indptr[r], indptr[r + 1]
        length = hi - lo
        o = offsets[r]
        if length <= k:
            for q in range(length):
                cols[o + q] = indices[lo + q]
            continue
        thr = kth_largest(data, lo, hi, k, scratch)
        cut = _tie_cut(indices, data, lo, hi, thr, k, ties)
        for q in range(length):
            v = np.float64(data[lo + q])
            c = np.int64(indices[lo + q])
            cols[o] = c
            o += (v > thr) | ((v == thr) & (c <= cut))
    return cols[:-1], offsets


@njit(inline="always")
def _tie_cut(indices, data, lo, hi, thr, k, ties):
    """The highest column kept among a row's values equal to ``thr`` (its
    ``k``-th largest): the lowest ``k - above`` of them are kept."""
    above, m = 0, 0
    for q in range(lo, hi):
        v = np.float64(data[q])
        above += v > thr
        if v == thr:
            ties[m] = indices[q]
            m += 1
    room = k - above
    if room >= m:
        return np.int64(np.iinfo(np.int64).max)
    ascending = True
    for q in range(1, m):
        ascending &= ties[q] > ties[q - 1]
    if ascending:  # column-sorted rows (the usual): no sort
        return ties[room - 1]
    return np.sort(ties[:m])[room - 1]


@njit(inline="always")
def _sort_desc_by_value(v, c, m):
    """``v[:m]``, ``c[:m]`` sorted together by (``v`` descending, ``c``
    ascending): insertion sort for the usual few dozen, else one argsort
    of the pairs."""
    if m <= 96:
        for i in range(1, m):
            x, y = v[i], c[i]
            j = i - 1
            while j >= 0 and (v[j] < x or (v[j] == x and c[j] > y)):
                v[j + 1] = v[j]
                c[j + 1] = c[j]
                j -= 1
            v[j + 1] = x
            c[j + 1] = y
        return
    by_col = np.argsort(c[:m], kind="mergesort")
    vv, cc = v[:m][by_col], c[:m][by_col]
    order = np.argsort(-vv, kind="mergesort")
    v[:m] = vv[order]
    c[:m] = cc[order]


@njit(**KERNEL_OPTIONS)
def drop_columns(indptr, indices, data, drop):
    """Remove, in place, the stored values of CSR rows whose column is marked
    in ``drop``; rows keep their order and their values' order. Returns the
    new number of stored values (``indptr`` is rewritten to match)."""
    o = 0
    for r in range(len(indptr) - 1):
        a, b = indptr[r], indptr[r + 1]
        indptr[r] = o
        for k in range(a, b):
            if not drop[indices[k]]:
                indices[o] = indices[k]
                data[o] = data[k]
                o += 1
    indptr[len(indptr) - 1] = o
    return o


@njit(**KERNEL_OPTIONS)
def scale_entries(indptr, indices, data, docs, cols, factor):
    """``data[e] *= factor`` for each stored entry ``e`` at ``(docs[k], cols[k])``
    of a column-sorted CSR matrix, once however often a key repeats (keys
    not stored are skipped), in place: a binary search of each key in its
    row -- :func:`dedup.features.counts.boost_terms` without the row index
    of every entry."""
    hit = np.zeros(len(data), np.bool_)
    for k in range(len(docs)):
        lo, end = indptr[docs[k]], indptr[docs[k] + 1]
        hi, c = end, cols[k]
        while lo < hi:
            mid = (lo + hi) >> 1
            if indices[mid] < c:
                lo = mid + 1
            else:
                hi = mid
        if lo < end and indices[lo] == c:
            hit[lo] = True
    for e in range(len(data)):
        if hit[e]:
            data[e] *= factor


@njit(**KERNEL_OPTIONS)
def column_runs(indices, n):
    """The distinct values of ``indices`` (each in ``[0, n)``), ascending, and
    how often each occurs (int64 both): :func:`sorted_runs` of the sorted
    values, by counting into ``n`` slots and reading them in order -- a
    chunk of 2,000 articles has about 2M term entries, whose sort was a
    fifth of the per-article stage."""
    seen = np.zeros(n, np.int32)
    m = 0
    for e in range(len(indices)):
        v = indices[e]
        m += seen[v] == 0
        seen[v] += 1
    values = np.empty(m, np.int64)
    counts = np.empty(m, np.int64)
    o = 0
    for c in range(n):
        if seen[c]:
            values[o] = c
            counts[o] = seen[c]
            o += 1
    return values, counts


@njit(**KERNEL_OPTIONS)
def sorted_runs(s):
    """The distinct values of sorted ``s`` and how often each occurs (int64
    both): what ``np.unique(s, return_counts=True)`` gives for the
    already-sorted values, counted in two passes without a branch on the
    values (numpy's mask, flatnonzero and diff each take a pass and an array)."""
    n = len(s)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    m = 1
    for i in range(1, n):
        m += s[i] != s[i - 1]
    values = np.empty(m, np.int64)
    ends = np.empty(m, np.int64)
    o = 0
    values[0] = s[0]
    ends[0] = 1
    for i in range(1, n):
        o += s[i] != s[i - 1]
        values[o] = s[i]
        ends[o] = i + 1
    counts = np.empty(m, np.int64)
    prev = 0
    for k in range(m):
        counts[k] = ends[k] - prev
        prev = ends[k]
    return values, counts
