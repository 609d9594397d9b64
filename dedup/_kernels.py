"""Compiled kernels (numba) for the per-article and per-pair hot loops.

Each kernel reproduces, bit for bit, what the numpy/scipy code it replaces
computes (the tests compare them on random inputs): the same token ids and
hashes, the same n-gram hashes, the same signatures, the same cosine down to
the order of the float additions. They exist only because a loop per token,
per document or per pair is what these stages are, and numpy can only
express those as many passes over large temporaries.

All kernels are ``@njit(cache=True, nogil=True)``: compiled at first use
(a few seconds once; later processes load the cache from ``__pycache__``)
and free to run in threads.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np
from numba import njit

_C64 = np.uint64(0x9E3779B97F4A7C15)  # shingle.ngram_hashes' combining multiplier
_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_EMPTY32 = np.uint32(0xFFFFFFFF)
_OPH_OFFSET = np.uint32(0x9E3779B1)
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)

_opts = dict(cache=True, nogil=True)


@njit(inline="always")
def _fmix64(x):
    x ^= x >> np.uint64(33)
    x *= _M1
    x ^= x >> np.uint64(33)
    x *= _M2
    x ^= x >> np.uint64(33)
    return x


@njit(inline="always")
def _fmix32(h):
    # numba widens uint32 arithmetic to 64 bits: truncate after each product
    h = np.uint32(h ^ (h >> np.uint32(16)))
    h = np.uint32(h * np.uint32(0x85EBCA6B))
    h = np.uint32(h ^ (h >> np.uint32(13)))
    h = np.uint32(h * np.uint32(0xC2B2AE35))
    return np.uint32(h ^ (h >> np.uint32(16)))


def run_split(fn: Callable[[np.ndarray], np.ndarray], items: np.ndarray, min_block: int = 50_000) -> np.ndarray:
    """``fn(items)`` computed over contiguous blocks in threads (one per core),
    the results concatenated. Only for kernels that release the GIL and whose
    result for an item does not depend on the other items."""
    workers = min(os.cpu_count() or 1, max(1, len(items) // min_block))
    if workers <= 1:
        return fn(items)
    bounds = np.linspace(0, len(items), workers + 1).astype(np.int64)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(fn, [items[bounds[w] : bounds[w + 1]] for w in range(workers)]))
    return np.concatenate(parts)


# --- tokens ---------------------------------------------------------------------

@njit(inline="always")
def _alnum(c):
    return (97 <= c <= 122) or (48 <= c <= 57)


@njit(inline="always")
def _digit(c):
    return 48 <= c <= 57


@njit(inline="always")
def _emit_token(buf, lo, hi, out, o, first, starts, ends, keys, t):
    """Append token ``buf[lo:hi]`` to ``out`` at ``o`` (after a ``\x1f``
    unless it is the document's first) as token ``t``: its span and its
    byte hash. Returns the new end of ``out``."""
    if not first:
        out[o] = 31
        o += 1
    starts[t] = o
    h = _FNV_OFFSET
    for q in range(lo, hi):
        out[o] = buf[q]
        h = (h ^ np.uint64(buf[q])) * _FNV_PRIME
        o += 1
    ends[t] = o
    keys[t] = _fmix64(h)
    return o


@njit(**_opts)
def token_spans(buf, doc_offsets, pretokenized):
    """Tokens of many documents, and each document's tokens joined by ``\\x1f``.

    ``buf[doc_offsets[d]:doc_offsets[d+1]]`` is document ``d``: folded ASCII
    text, tokenised here exactly as ``normalize._ASCII_TOKEN_RE.findall``
    (runs of ``[a-z0-9]``, joined by ``' . -`` between two of them or by a
    comma between two digits); or, where ``pretokenized[d]``, tokens
    already joined by ``\\x1f`` (texts the regex tokenised). Returns
    ``(joined, joined_offsets, tok_offsets, starts, ends, keys)``: token
    ``t`` is ``joined[starts[t]:ends[t]]``, document ``d``'s tokens are
    ``tok_offsets[d]:tok_offsets[d+1]``, and ``keys[t]`` is a 64-bit hash of
    the token's bytes for :func:`factorize_spans` (not the token hash the
    pipeline uses, which is BLAKE2b).
    """
    n_docs = len(doc_offsets) - 1
    out = np.empty(len(buf) + 1, np.uint8)
    joined_offsets = np.zeros(n_docs + 1, np.int64)
    tok_offsets = np.zeros(n_docs + 1, np.int64)
    cap = len(buf) // 2 + 1  # a token and its separator take at least two bytes
    starts = np.empty(cap, np.int64)
    ends = np.empty(cap, np.int64)
    keys = np.empty(cap, np.uint64)
    o = 0
    t = 0
    for d in range(n_docs):
        lo, hi = doc_offsets[d], doc_offsets[d + 1]
        first = True
        if pretokenized[d]:
            i = lo
            while i < hi:
                j = i
                while j < hi and buf[j] != 31:
                    j += 1
                if j > i:
                    o = _emit_token(buf, i, j, out, o, first, starts, ends, keys, t)
                    first = False
                    t += 1
                i = j + 1
        else:
            i = lo
            while i < hi:
                if not _alnum(buf[i]):
                    i += 1
                    continue
                s = i
                i += 1
                while True:
                    while i < hi and _alnum(buf[i]):
                        i += 1
                    if i + 1 < hi and _alnum(buf[i + 1]):
                        c = buf[i]
                        if c == 39 or c == 46 or c == 45 or (c == 44 and _digit(buf[i - 1]) and _digit(buf[i + 1])):
                            i += 1
                            continue
                    break
                o = _emit_token(buf, s, i, out, o, first, starts, ends, keys, t)
                first = False
                t += 1
        joined_offsets[d + 1] = o
        tok_offsets[d + 1] = t
    return out[:o], joined_offsets, tok_offsets, starts[:t], ends[:t], keys[:t]


@njit(**_opts)
def factorize_spans(buf, starts, ends, keys):
    """Ids of byte strings ``buf[starts[t]:ends[t]]`` in order of first
    occurrence (as ``dict.fromkeys``), by an open-addressing table keyed by
    ``keys`` (hashes of the strings) that doubles with the number of
    distinct strings. Equal keys are confirmed by comparing the bytes with
    a compact copy of each distinct string, so ids are exact. Returns
    ``(ids, first)``: ``first[v]`` is the first token with id ``v``."""
    n = len(starts)
    cap = 1 << 12
    table = np.full(cap, -1, np.int64)  # per slot: high 32 bits of the key, then the id
    store = np.empty(1 << 16, np.uint8)  # the distinct strings, back to back
    s_off = np.zeros(1025, np.int64)
    first = np.empty(1024, np.int64)
    ids = np.empty(n, np.int64)
    n_ids = 0
    hi_mask = np.int64(-1) << np.int64(32)
    for t in range(n):
        s, e = starts[t], ends[t]
        h = keys[t]
        tag = np.int64(h >> np.uint64(32)) << np.int64(32)
        mask = cap - 1
        slot = np.int64(h & np.uint64(mask))
        found = -1
        while True:
            entry = table[slot]
            if entry == -1:
                break
            if (entry & hi_mask) == tag:
                v = entry & np.int64(0xFFFFFFFF)
                lo, hi2 = s_off[v], s_off[v + 1]
                if hi2 - lo == e - s:
                    same = True
                    for q in range(e - s):
                        if store[lo + q] != buf[s + q]:
                            same = False
                            break
                    if same:
                        found = v
                        break
            slot = (slot + 1) & mask
        if found >= 0:
            ids[t] = found
            continue
        if n_ids + 1 >= len(first):
            grown = 2 * len(first)
            first2 = np.empty(grown, np.int64)
            first2[:n_ids] = first[:n_ids]
            first = first2
            s_off2 = np.zeros(grown + 1, np.int64)
            s_off2[: n_ids + 1] = s_off[: n_ids + 1]
            s_off = s_off2
        if s_off[n_ids] + (e - s) > len(store):
            store2 = np.empty(2 * len(store) + (e - s), np.uint8)
            store2[: s_off[n_ids]] = store[: s_off[n_ids]]
            store = store2
        o = s_off[n_ids]
        for q in range(e - s):
            store[o + q] = buf[s + q]
        s_off[n_ids + 1] = o + (e - s)
        first[n_ids] = t
        ids[t] = n_ids
        table[slot] = tag | n_ids
        n_ids += 1
        if 2 * n_ids > cap:  # keep the load under one half
            cap *= 2
            mask = cap - 1
            table = np.full(cap, -1, np.int64)
            for v in range(n_ids):
                slot = np.int64(keys[first[v]] & np.uint64(mask))
                while table[slot] != -1:
                    slot = (slot + 1) & mask
                table[slot] = (np.int64(keys[first[v]] >> np.uint64(32)) << np.int64(32)) | v
    return ids, first[:n_ids].copy()


# --- n-grams and signatures -----------------------------------------------------

@njit(**_opts)
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
                    acc = acc * _C64 + hashes[t + k]
                out[o] = _fmix64(acc)
                o += 1
        elif length > 0:
            acc = hashes[lo]
            for k in range(1, n):
                acc = acc * _C64 + (hashes[lo + k] if k < length else np.uint64(0))
            out[o] = _fmix64(acc)
            o += 1
        new_offsets[d + 1] = o
    return out, new_offsets


@njit(**_opts)
def oph(hashes, offsets, num_perm, mix):
    """``minhash.oph_signatures``: one-permutation bins, then rotation densification."""
    n_docs = len(offsets) - 1
    out = np.full((n_docs, num_perm), _EMPTY32, np.uint32)
    k = np.uint64(num_perm)
    filled = np.empty(num_perm, np.bool_)
    for d in range(n_docs):
        row = out[d]
        lo, hi = offsets[d], offsets[d + 1]
        if hi == lo:
            continue
        for t in range(lo, hi):
            g = _fmix64(hashes[t] + mix)
            b = ((g >> np.uint64(32)) * k) >> np.uint64(32)
            v = np.uint32(g & np.uint64(0xFFFFFFFF))
            if v < row[b]:
                row[b] = v
        n_empty = 0
        for b in range(num_perm):
            filled[b] = row[b] != _EMPTY32
            if not filled[b]:
                n_empty += 1
        if n_empty == 0 or n_empty == num_perm:
            continue
        # each empty bin borrows the next filled bin to its right, circularly
        nxt = -1
        dist = np.uint32(0)
        for step in range(2 * num_perm - 1, -1, -1):
            b = step % num_perm
            if filled[b]:
                nxt = b
                dist = np.uint32(0)
            else:
                dist += np.uint32(1)
                if step < num_perm and nxt >= 0:
                    row[b] = np.uint32(row[nxt] + dist * _OPH_OFFSET)
    return out


@njit(**_opts)
def affine_min(values, offsets, a, b):
    """``minhash.signatures``: per set and permutation, ``min(a * fmix32(v) + b)`` (mod 2**32)."""
    n_docs = len(offsets) - 1
    num_perm = len(a)
    out = np.full((n_docs, num_perm), _EMPTY32, np.uint32)
    row = np.empty(num_perm, np.uint32)
    for d in range(n_docs):
        lo, hi = offsets[d], offsets[d + 1]
        if hi == lo:
            continue
        row[:] = _EMPTY32
        for t in range(lo, hi):
            m = _fmix32(values[t])
            for p in range(num_perm):
                row[p] = min(row[p], np.uint32(a[p] * m + b[p]))
        out[d] = row
    return out


@njit(**_opts)
def pair_jaccard(sig, pairs):
    """``minhash.estimate_jaccard`` of row pairs of one signature matrix."""
    m = len(pairs)
    k = sig.shape[1]
    out = np.zeros(m, np.float64)
    for q in range(m):
        i, j = pairs[q, 0], pairs[q, 1]
        eq = 0
        empty_i = True
        empty_j = True
        for p in range(k):
            x, y = sig[i, p], sig[j, p]
            eq += x == y
            empty_i &= x == _EMPTY32
            empty_j &= y == _EMPTY32
        if not (empty_i or empty_j):
            out[q] = eq / k
    return out


# --- sparse rows ----------------------------------------------------------------

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


@njit(**_opts)
def pair_dot(indptr, indices, data, pairs):
    """Dot product of CSR row pairs (sorted, duplicate-free indices), added up
    as ``x[i].multiply(x[j]).sum(axis=1)`` does: the nonzero products in
    column order, the first plus numpy's pairwise sum of the rest, in the
    dtype of ``data``."""
    m = len(pairs)
    out = np.zeros(m, data.dtype)
    width = 0
    for r in range(len(indptr) - 1):
        width = max(width, indptr[r + 1] - indptr[r])
    prod = np.empty(width, data.dtype)
    for q in range(m):
        a, a_end = indptr[pairs[q, 0]], indptr[pairs[q, 0] + 1]
        b, b_end = indptr[pairs[q, 1]], indptr[pairs[q, 1] + 1]
        c = 0
        while a < a_end and b < b_end:  # branch-free steps: the rare match is the only branch
            ca, cb = indices[a], indices[b]
            if ca == cb:
                v = data[a] * data[b]
                if v != 0:
                    prod[c] = v
                    c += 1
            a += ca <= cb
            b += cb <= ca
        if c > 0:
            out[q] = prod[0] + _pairwise_sum(prod, 1, c - 1) if c > 1 else prod[0]
    return out


@njit(**_opts)
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


@njit(**_opts)
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


@njit(**_opts)
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


@njit(**_opts)
def prune_rows(indptr, indices, data, log_tf, col_idf, k):
    """Each CSR row cut to its ``k`` heaviest values by the weight
    ``log_tf[tf] * col_idf[column]`` (ties: lower columns first), as
    :func:`dedup.pipeline.prune_counts` does with numpy. Returns the kept
    ``(indptr, indices, data)`` and each row's dropped squared weight."""
    n = len(indptr) - 1
    out_indptr = np.zeros(n + 1, np.int64)
    width = 0
    for r in range(n):
        length = indptr[r + 1] - indptr[r]
        out_indptr[r + 1] = out_indptr[r] + min(length, k)
        width = max(width, length)
    out_indices = np.empty(out_indptr[n], indices.dtype)
    out_data = np.empty(out_indptr[n], data.dtype)
    dropped = np.zeros(n, np.float64)
    w = np.empty(width, np.float64)
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
            w[t] = log_tf[np.int64(data[lo + t])] * col_idf[indices[lo + t]]
        thr = np.partition(w[:length].copy(), length - k)[length - k]
        above = 0
        for t in range(length):
            above += w[t] > thr
        room = k - above
        for t in range(length):
            v = w[t]
            if v > thr or (v == thr and room > 0):
                if v == thr:
                    room -= 1
                out_indices[o] = indices[lo + t]
                out_data[o] = data[lo + t]
                o += 1
            else:
                dropped[r] += v * v
    return out_indptr, out_indices, out_data, dropped


@njit(**_opts)
def row_kth_largest(indptr, data, k):
    """Each row's ``k``-th largest stored value, ``-inf`` for rows with at most ``k``."""
    n = len(indptr) - 1
    out = np.full(n, -np.inf, np.float64)
    for r in range(n):
        lo, hi = indptr[r], indptr[r + 1]
        length = hi - lo
        if length > k:
            row = data[lo:hi].astype(np.float64)
            out[r] = np.partition(row, length - k)[length - k]
    return out


@njit(**_opts)
def row_top_k(indptr, indices, data, k):
    """Each row's ``k`` largest values' columns, by value descending, ties by
    column ascending. Returns ``(columns, offsets)``."""
    n = len(indptr) - 1
    offsets = np.zeros(n + 1, np.int64)
    for r in range(n):
        offsets[r + 1] = offsets[r] + min(k, indptr[r + 1] - indptr[r])
    cols = np.empty(offsets[n], np.uint32)
    for r in range(n):
        lo, hi = indptr[r], indptr[r + 1]
        length = hi - lo
        if length == 0:
            continue
        vals = data[lo:hi].astype(np.float64)
        if length > k:
            thr = np.partition(vals.copy(), length - k)[length - k]
        else:
            thr = -np.inf
        cand = np.flatnonzero(vals >= thr)
        cc = indices[lo:hi][cand].astype(np.int64)
        by_col = np.argsort(cc, kind="mergesort")
        cand = cand[by_col]
        cc = cc[by_col]
        order = np.argsort(-vals[cand], kind="mergesort")
        take = min(k, length)
        o = offsets[r]
        for q in range(take):
            cols[o + q] = cc[order[q]]
    return cols, offsets


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


@njit(**_opts)
def term_counts(hashes, offsets, mask):
    """Hashed unigram + bigram counts per document as CSR ``(indptr, indices,
    data)``: columns ``fmix64(h) & mask`` of each token hash and of each
    bigram hash (``ngram_hashes(..., 2)``: a one-token document has one
    "bigram"), sorted, duplicates added up -- ``verify.feature_counts``."""
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
            cols[c] = np.int64(_fmix64(hashes[t]) & mask)
            c += 1
        if length == 1:
            cols[c] = np.int64(_fmix64(_fmix64(hashes[lo] * _C64)) & mask)
            c += 1
        for t in range(lo, hi - 1):
            cols[c] = np.int64(_fmix64(_fmix64(hashes[t] * _C64 + hashes[t + 1])) & mask)
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
    return indptr, indices[:o].copy(), counts[:o].copy()


# --- candidates -----------------------------------------------------------------

@njit(**_opts)
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



@njit(**_opts)
def band_fingerprints(sig, bands, rows, width):
    """One byte per row and band: the top byte of ``fmix64`` of the band key
    (:func:`dedup.candidates.band_keys`), ``width`` bytes a row (zero
    padded) -- the fingerprints :func:`offer_band` counts bands in common
    with. One pass over the signatures, row by row."""
    n = sig.shape[0]
    fp = np.zeros((n, width), np.uint8)
    for i in range(n):
        for b in range(bands):
            key = np.uint64(sig[i, b * rows])
            for r in range(1, rows):
                key = _fmix64(key * _C64 + np.uint64(sig[i, b * rows + r]))
            fp[i, b] = np.uint8(_fmix64(key) >> np.uint64(56))
    return fp


@njit(inline="always")
def _better(c1, p1, c2, p2, x):
    """Whether partner ``p1`` (``c1`` bands in common with ``x``) ranks above
    ``p2``: more bands, then nearer to ``x`` in canonical order, then lower."""
    if c1 != c2:
        return c1 > c2
    d1, d2 = abs(p1 - x), abs(p2 - x)
    if d1 != d2:
        return d1 < d2
    return p1 < p2


@njit(inline="always")
def _offer(x, y, c, best_c, best_p, fill, worst):
    k = best_c.shape[1]
    f = fill[x]
    if f < k:
        for t in range(f):
            if best_p[x, t] == y:
                return
        best_c[x, f] = c
        best_p[x, f] = y
        fill[x] = f + 1
        if f + 1 < k:
            return
    else:
        w = worst[x]
        if not _better(c, y, best_c[x, w], best_p[x, w], x):
            return  # no better than the worst kept (or the worst itself)
        for t in range(k):
            if best_p[x, t] == y:
                return
        best_c[x, w] = c
        best_p[x, w] = y
    w = 0
    for t in range(1, k):
        if _better(best_c[x, w], best_p[x, w], best_c[x, t], best_p[x, t], x):
            w = t
    worst[x] = w


@njit(inline="always")
def _band_equal(sig, i, j, b, rows):
    same = True
    for r in range(b * rows, (b + 1) * rows):
        same &= sig[i, r] == sig[j, r]
    return same


_LOW7 = np.uint64(0x0101010101010101)
_HIGH = np.uint64(0x8080808080808080)


@njit(inline="always")
def _bands_in_common(i, j, fp, sig, bands, rows, band, big):
    """The number of bands rows ``i`` and ``j`` agree in, or -1 when an
    earlier band with an uncapped bucket already proposed the pair.

    From one-byte fingerprints of the band keys (8 bands per word; a zero
    byte of the xor flags a possible match, confirmed on the signature
    values)."""
    c = 0
    for w in range(fp.shape[1]):
        x = fp[i, w] ^ fp[j, w]
        t = (x - _LOW7) & ~x & _HIGH
        if t == 0:
            continue
        for k in range(8):
            if (t >> np.uint64(8 * k + 7)) & np.uint64(1):
                b = 8 * w + k
                if b < bands and _band_equal(sig, i, j, b, rows):
                    if b < band and not (big[i, b >> 3] >> (b & 7)) & 1:
                        return -1  # proposed before
                    c += 1
    return c


@njit(inline="always")
def _room(out, n_out):
    """``out`` (rows filled up to ``n_out``), doubled when full."""
    if n_out < len(out):
        return out
    grown = np.empty((2 * len(out), out.shape[1]), out.dtype)
    grown[:n_out] = out[:n_out]
    return grown


@njit(inline="always")
def _propose(a, b, c, out, n_out):
    out = _room(out, n_out)
    out[n_out, 0] = a
    out[n_out, 1] = b
    out[n_out, 2] = c
    return out, n_out + 1


@njit(**_opts)
def propose_band(idx, starts, g_lo, g_hi, max_bucket_size, neighbours, ts, window, sorted_times,
                 fp, sig, bands, rows, band, big):
    """The pairs one band proposes, from its buckets ``g_lo <= g < g_hi``,
    with the number of bands each agrees in: rows ``(i, j, bands)``.

    ``idx`` are the band's rows sorted by bucket (ascending within one),
    ``starts`` where each bucket begins. Pairs are those of
    ``candidates._bucket_pairs`` (a bucket over ``max_bucket_size``: each
    row with its next ``neighbours``) that ``candidates.within_window``
    keeps (``window < 0``: no window). With ``sorted_times`` (times
    non-decreasing along the rows, unknown ones last) a row stops pairing at
    the first later row past the window and goes on with the rows of
    unknown time, which it always pairs with.

    The count is computed from the signatures (``fp``: a byte per band key,
    eight to a word, to find the candidates). A pair already proposed by an
    earlier band -- one where the two agree and their bucket was not capped
    (``big`` bit clear: every pair of it was proposed) -- is left out:
    offering a pair twice changes nothing. Buckets are independent, so
    threads can take ranges of them."""
    out = np.empty((1024, 3), np.int64)
    n_out = 0
    m = len(idx)
    n_buckets = len(starts)
    for g in range(g_lo, g_hi):
        s = starts[g]
        e = starts[g + 1] if g + 1 < n_buckets else m
        size = e - s
        if size < 2:
            continue
        if size > max_bucket_size:
            for p in range(s, e - 1):
                a = idx[p]
                for q in range(p + 1, min(e, p + 1 + neighbours)):
                    b = idx[q]
                    if window >= 0 and abs(ts[a] - ts[b]) > window:
                        continue
                    c = _bands_in_common(a, b, fp, sig, bands, rows, band, big)
                    if c >= 0:
                        out, n_out = _propose(a, b, c, out, n_out)
            continue
        nan_start = e
        if window >= 0 and sorted_times:
            while nan_start > s and np.isnan(ts[idx[nan_start - 1]]):
                nan_start -= 1
        for p in range(s, e - 1):
            a = idx[p]
            if window < 0 or np.isnan(ts[a]):
                for q in range(p + 1, e):
                    c = _bands_in_common(a, idx[q], fp, sig, bands, rows, band, big)
                    if c >= 0:
                        out, n_out = _propose(a, idx[q], c, out, n_out)
            elif sorted_times:
                q = p + 1
                while q < nan_start and ts[idx[q]] - ts[a] <= window:
                    c = _bands_in_common(a, idx[q], fp, sig, bands, rows, band, big)
                    if c >= 0:
                        out, n_out = _propose(a, idx[q], c, out, n_out)
                    q += 1
                for q in range(max(nan_start, p + 1), e):
                    c = _bands_in_common(a, idx[q], fp, sig, bands, rows, band, big)
                    if c >= 0:
                        out, n_out = _propose(a, idx[q], c, out, n_out)
            else:
                for q in range(p + 1, e):
                    b = idx[q]
                    if abs(ts[a] - ts[b]) > window:
                        continue
                    c = _bands_in_common(a, b, fp, sig, bands, rows, band, big)
                    if c >= 0:
                        out, n_out = _propose(a, b, c, out, n_out)
    return out[:n_out]


@njit(**_opts)
def offer_proposals(proposed, best_c, best_p, fill, worst, lo, hi, keep_bands):
    """Offer proposed pairs ``(i, j, bands)`` (:func:`propose_band`) to both
    rows' lists of best partners, each keeping the ``best_c.shape[1]`` best
    (:func:`_better`; ``fill`` and ``worst`` are the bookkeeping). Only rows
    ``lo <= x < hi`` are updated, so threads can share the work by ranges of
    rows. Returns the pairs (row ``i`` in the range) that agree in at least
    ``keep_bands`` bands: those are kept whatever their rank."""
    sure = np.empty((1024, 2), np.int64)
    n_sure = 0
    for t in range(len(proposed)):
        i, j, c = proposed[t, 0], proposed[t, 1], proposed[t, 2]
        own_i = lo <= i < hi
        if own_i:
            _offer(i, j, c, best_c, best_p, fill, worst)
            if c >= keep_bands:
                sure = _room(sure, n_sure)
                sure[n_sure, 0] = i
                sure[n_sure, 1] = j
                n_sure += 1
        if lo <= j < hi:
            _offer(j, i, c, best_c, best_p, fill, worst)
    return sure[:n_sure].copy()


# --- neighbour profiles (story score) -------------------------------------------------

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


@njit(**_opts)
def top_neighbours(pairs, sims, n, k):
    """Each row's ``k`` most similar partners among the scored pairs (positive
    similarities only; ties to the lower column), as ``(values, columns,
    counts)`` with ``(n, k)`` arrays: what sorting both directions of every
    pair by (row, -similarity, column) and keeping each row's first ``k``
    gives, in O(n * k) memory instead of O(pairs)."""
    best_v = np.zeros((n, k), np.float64)
    best_c = np.full((n, k), -1, np.int64)
    fill = np.zeros(n, np.int64)
    for q in range(len(pairs)):
        v = np.float64(sims[q])
        if v > 0:
            i, j = pairs[q, 0], pairs[q, 1]
            _nb_offer(i, j, v, best_v, best_c, fill)
            _nb_offer(j, i, v, best_v, best_c, fill)
    return best_v, best_c, fill


@njit(cache=True)
def partner_codes(best_p, fill, sure):
    """Codes ``i * n + j`` (``i < j``) of every row's kept best partners
    (``best_p[x, :fill[x]]``, ``fill`` capped at the list length) and of the
    ``sure`` pairs, in one array (not deduplicated)."""
    n, k = best_p.shape
    total = len(sure)
    for x in range(n):
        total += min(fill[x], k)
    out = np.empty(total, np.int64)
    o = 0
    for x in range(n):
        for t in range(min(fill[x], k)):
            y = best_p[x, t]
            out[o] = min(x, y) * n + max(x, y)
            o += 1
    for q in range(len(sure)):
        a, b = sure[q, 0], sure[q, 1]
        out[o] = min(a, b) * n + max(a, b)
        o += 1
    return out
