"""Compiled kernels (numba) of the sketches: one-permutation and affine MinHash,
signature Jaccard, and the LSH partner rule's band loop. Each reproduces bit
for bit the numpy code it replaces (tests compare them on random inputs).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..arrays import KERNEL_OPTIONS, grown, popcount, prefetch_row
from ..hashing import band_key_scalar, fmix64_scalar

_EMPTY32 = np.uint32(0xFFFFFFFF)


_OPH_OFFSET = np.uint32(0x9E3779B1)


@njit(inline="always")
def _fmix32(h):
    # numba widens uint32 arithmetic to 64 bits: truncate after each product
    h = np.uint32(h ^ (h >> np.uint32(16)))
    h = np.uint32(h * np.uint32(0x85EBCA6B))
    h = np.uint32(h ^ (h >> np.uint32(13)))
    h = np.uint32(h * np.uint32(0xC2B2AE35))
    return np.uint32(h ^ (h >> np.uint32(16)))


@njit(**KERNEL_OPTIONS)
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
            g = fmix64_scalar(hashes[t] + mix)
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


@njit(**KERNEL_OPTIONS)
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


JACCARD_AHEAD = 8
"""Pairs :func:`pair_jaccard` reads ahead (rows at random in a large matrix)."""


@njit(**KERNEL_OPTIONS)
def pair_jaccard(sig, pairs):
    """``minhash.estimate_jaccard`` of row pairs of one signature matrix."""
    m = len(pairs)
    k = sig.shape[1]
    out = np.zeros(m, np.float64)
    for q in range(m):
        if q + JACCARD_AHEAD < m:  # a later pair's second row, while this one is compared
            prefetch_row(sig, pairs[q + JACCARD_AHEAD, 1])
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


@njit(**KERNEL_OPTIONS)
def band_fingerprints(sig, bands, rows, width):
    """One byte per row and band: the top byte of ``fmix64`` of the band key
    (:func:`dedup.sketch.lsh.band_keys`), ``width`` bytes a row (zero
    padded) -- the fingerprints :func:`offer_band` counts bands in common
    with. One pass over the signatures, row by row."""
    n = sig.shape[0]
    fp = np.zeros((n, width), np.uint8)
    for i in range(n):
        row = sig[i]
        for b in range(bands):
            fp[i, b] = np.uint8(fmix64_scalar(band_key_scalar(row, b, rows)) >> np.uint64(56))
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
def _weakest(row_c, row_p, x, k):
    """The slot of the lowest-ranked of the ``k`` partners of ``x`` in ``row_c``, ``row_p``."""
    w = 0
    for t in range(1, k):
        if _better(row_c[w], row_p[w], row_c[t], row_p[t], x):
            w = t
    return w


@njit(inline="always")
def _offer_row(x, y, c, row_c, row_p, f, w):
    """Offer partner ``y`` (``c`` bands in common) to the list of ``x``: slots
    ``row_c``, ``row_p``, ``f`` of them filled, ``w`` the weakest once full;
    the list keeps its ``len(row_c)`` best (:func:`_better`). Returns the new
    ``(f, w)``."""
    k = len(row_c)
    if f < k:
        for t in range(f):
            if row_p[t] == y:
                return f, w
        row_c[f] = c
        row_p[f] = y
        f += 1
        if f < k:
            return f, w
    else:
        if not _better(c, y, row_c[w], row_p[w], x):
            return f, w  # no better than the worst kept (or the worst itself)
        for t in range(k):
            if row_p[t] == y:
                return f, w
        row_c[w] = c
        row_p[w] = y
    return f, _weakest(row_c, row_p, x, k)


@njit(inline="always")
def _offer(x, y, c, best_c, best_p, fill, worst):
    fill[x], worst[x] = _offer_row(x, y, c, best_c[x], best_p[x], fill[x], worst[x])


@njit(cache=True)
def offer_partners(owners, rows, ys, cs, best_c, best_p, fill):
    """The partner lists of a few rows, as :func:`offer_proposals` keeps them,
    given as slots: row ``r`` (owner at ``owners[r]`` in canonical order) holds
    ``fill[r]`` partners ``best_p[r]`` with ``best_c[r]`` bands in common.
    Offers partner ``ys[t]`` (``cs[t]`` bands) to row ``rows[t]``, in turn;
    updates the arrays in place (the live index's partner lists)."""
    k = best_c.shape[1]
    worst = np.zeros(len(fill), np.int64)
    for r in range(len(fill)):
        if fill[r] >= k:
            worst[r] = _weakest(best_c[r], best_p[r], owners[r], k)
    for t in range(len(rows)):
        r = rows[t]
        fill[r], worst[r] = _offer_row(owners[r], ys[t], cs[t], best_c[r], best_p[r], fill[r], worst[r])


@njit(inline="always")
def _band_equal(sig, i, j, b, rows):
    same = True
    for r in range(b * rows, (b + 1) * rows):
        same &= sig[i, r] == sig[j, r]
    return same


_LOW7 = np.uint64(0x0101010101010101)


_HIGH = np.uint64(0x8080808080808080)


@njit(inline="always")
def _flagged(fp, i, j, w):
    """The high bit of every byte of fingerprint word ``w`` that may be equal
    in rows ``i`` and ``j`` (a zero byte of the xor; every equal byte is flagged)."""
    x = fp[i, w] ^ fp[j, w]
    return (x - _LOW7) & ~x & _HIGH


@njit(inline="always")
def _bands_in_common(i, j, fp, sig, bands, rows, band, big, known):
    """The number of bands rows ``i`` and ``j`` agree in, or -1 when an
    earlier band with an uncapped bucket already proposed the pair.

    From one-byte fingerprints of the band keys (8 bands per word; a zero
    byte of the xor flags a possible match, confirmed on the signature
    values). Band ``known`` (-1: none) is known to agree: not read."""
    c = 0
    for w in range(fp.shape[1]):
        t = _flagged(fp, i, j, w)
        if t == 0:
            continue
        for k in range(8):
            if (t >> np.uint64(8 * k + 7)) & np.uint64(1):
                b = 8 * w + k
                if b < bands and (b == known or _band_equal(sig, i, j, b, rows)):
                    if b < band and not (big[i, b >> 3] >> (b & 7)) & 1:
                        return -1  # proposed before
                    c += 1
    return c


@njit(**KERNEL_OPTIONS)
def signed_members(sig, members):
    """The ``members`` whose signature rows sign a non-empty set (a value
    other than EMPTY): :func:`dedup.sketch.minhash.signed` of those rows,
    read in place up to a value other than EMPTY (most often the first),
    where numpy would copy the rows (1 GB at a million) and compare every value."""
    keep = np.empty(len(members), np.bool_)
    for k in range(len(members)):
        row = members[k]
        ok = False
        for c in range(sig.shape[1]):
            if sig[row, c] != _EMPTY32:
                ok = True
                break
        keep[k] = ok
    return members[keep]


@njit(inline="always")
def _fingerprint_matches(i, j, fp):
    """Fingerprint bytes rows ``i`` and ``j`` share, flagged as
    :func:`_bands_in_common` flags them: at least the bands they agree in
    (equal keys have equal fingerprints), read from the fingerprints alone."""
    m = 0
    for w in range(fp.shape[1]):
        m += popcount(_flagged(fp, i, j, w))
    return m


@njit(**KERNEL_OPTIONS)
def common_bands(pairs, fp, sig, bands, rows):
    """How many bands each row pair ``(i, j)`` agrees in
    (:func:`dedup.sketch.lsh.bands_in_common`): the fingerprint words
    (:func:`band_fingerprints`) find the bands that may agree, the signature
    values confirm them. (Counted as from band 0: no band comes before it,
    so the capped-bucket bits are never read.)"""
    no_big = np.zeros((1, 1), np.uint8)
    out = np.empty(len(pairs), np.int32)
    for q in range(len(pairs)):
        out[q] = _bands_in_common(pairs[q, 0], pairs[q, 1], fp, sig, bands, rows, 0, no_big, -1)
    return out


@njit(**KERNEL_OPTIONS)
def propose_band(
    idx,
    starts,
    g_lo,
    g_hi,
    max_bucket_size,
    neighbours,
    ts,
    window,
    sorted_times,
    fp,
    sig,
    bands,
    rows,
    band,
    big,
    least,
):
    """The pairs one band proposes, from its buckets ``g_lo <= g < g_hi``,
    with the number of bands each agrees in: rows ``(i, j, bands)``; pairs
    agreeing in fewer than ``least`` bands are left out (1: none).

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
    threads can take ranges of them. A pair whose fingerprints agree in
    fewer than ``least`` bands is left out before any signature value is
    read (:func:`_bands_in_common`): most pairs, each a read or two at
    random in a large batch's signatures.

    The buckets are read by :func:`_propose_run`, which stops at a row
    whose pairs might not fit; the output grows here, between runs (an
    array variable assigned inside the pair loop costs reference counting
    on every pair)."""
    knobs = (max_bucket_size, neighbours, _times_in_order(ts, idx, starts, g_lo, g_hi), window, sorted_times)
    views = (fp, sig, bands, rows, band, big, least)
    out = np.empty((1024, 3), np.int64)
    n_out = 0
    g, p = g_lo, -1
    while True:
        g, p, n_out = _propose_run(idx, starts, g, p, g_hi, knobs, views, out, n_out)
        if g >= g_hi:
            return out[:n_out]
        out = grown(out, n_out, max(0, n_out + len(idx) - 2 * len(out)))  # room for a row's pairs (fewer than len(idx))


@njit(inline="always")
def _times_in_order(ts, idx, starts, g_lo, g_hi):
    """The times of the rows of buckets ``g_lo <= g < g_hi`` in bucket order
    (``at[k] = ts[idx[k]]``; the other places unset), gathered in one pass:
    the pair loops then read them in sequence (at a million rows, reading
    ``ts`` at random in each pair check cost a cache miss a row)."""
    m = len(idx)
    lo = starts[g_lo] if g_lo < len(starts) else m
    hi = starts[g_hi] if g_hi < len(starts) else m
    at = np.empty(m, np.float64)
    for k in range(lo, hi):
        at[k] = ts[idx[k]]
    return at


READ_AHEAD = 64
"""Rows of a band's buckets whose fingerprints :func:`_propose_run` asks
for ahead of pairing them: at a million rows each is a cache miss, and
asked for together they overlap."""


@njit(**KERNEL_OPTIONS)
def _propose_run(idx, starts, g, p, g_hi, knobs, views, out, n_out):
    """:func:`propose_band` from row ``p`` of bucket ``g`` on (``p < 0``: its
    first), until a row's pairs might not fit in ``out``; returns ``(g, p,
    n_out)``: where to go on from (``g == g_hi``: done) and the rows of
    ``out`` filled. ``knobs`` holds :func:`propose_band`'s bucket
    arguments (``max_bucket_size`` to ``sorted_times``), ``views`` its
    signature ones (``fp`` to ``least``)."""
    max_bucket_size, neighbours, at, window, sorted_times = knobs
    fp, sig, bands, rows, band, big, least = views
    m = len(idx)
    n_buckets = len(starts)
    ahead = starts[g] if g < n_buckets else m  # rows before it are asked for
    while g < g_hi:
        s = starts[g]
        e = starts[g + 1] if g + 1 < n_buckets else m
        while ahead < min(m, s + READ_AHEAD):  # the fingerprints of the next rows, while these are paired
            prefetch_row(fp, idx[ahead])
            ahead += 1
        if e - s >= 2:
            first = max(s, p)
            if e - s > max_bucket_size:
                p, n_out = _propose_capped(idx, s, e, first, neighbours, at, window, views, out, n_out)
            else:
                p, n_out = _propose_bucket(idx, s, e, first, at, window, sorted_times, views, out, n_out)
            if p < e - 1:
                return g, p, n_out
        g, p = g + 1, -1
    return g, p, n_out


@njit(inline="always")
def _try_pair(a, b, views, out, n_out):
    """Propose ``(a, b)`` with its bands in common, unless proposed before or
    agreeing in fewer than ``least`` bands; returns the new number of rows of
    ``out``. (``views``: :func:`propose_band`'s ``fp`` to ``least``.)"""
    fp, sig, bands, rows, band, big, least = views
    if least > 1 and _fingerprint_matches(a, b, fp) < least:
        return n_out  # fewer bands agree than the fingerprints do
    # a one-row band's bucket key is the signature value: the pair agrees there
    c = _bands_in_common(a, b, fp, sig, bands, rows, band, big, band if rows == 1 else -1)
    if c < least:  # -1: proposed before
        return n_out
    out[n_out, 0] = a
    out[n_out, 1] = b
    out[n_out, 2] = c
    return n_out + 1


@njit(inline="always")
def _propose_capped(idx, s, e, first, neighbours, at, window, views, out, n_out):
    """A bucket over the cap, from its row ``first`` on: each row with its
    next ``neighbours`` rows in the window (``at``: the times in the order
    of ``idx``). Returns ``(p, n_out)``: ``p < e - 1`` the row whose pairs
    might not fit (not begun)."""
    for p in range(first, e - 1):
        if n_out + min(neighbours, e - p - 1) > len(out):
            return p, n_out
        a = idx[p]
        for q in range(p + 1, min(e, p + 1 + neighbours)):
            b = idx[q]
            if window >= 0 and abs(at[p] - at[q]) > window:
                continue
            n_out = _try_pair(a, b, views, out, n_out)
    return e - 1, n_out


@njit(inline="always")
def _propose_bucket(idx, s, e, first, at, window, sorted_times, views, out, n_out):
    """A bucket within the cap, from its row ``first`` on: every pair in the
    window (rows of unknown time pair with all; ``at``: the times in the
    order of ``idx``). Returns ``(p, n_out)`` as :func:`_propose_capped`."""
    nan_start = e
    if window >= 0 and sorted_times:
        while nan_start > s and np.isnan(at[nan_start - 1]):
            nan_start -= 1
    for p in range(first, e - 1):
        if n_out + (e - p - 1) > len(out):
            return p, n_out
        a = idx[p]
        if window < 0 or np.isnan(at[p]):
            for q in range(p + 1, e):
                n_out = _try_pair(a, idx[q], views, out, n_out)
        elif sorted_times:
            q = p + 1
            while q < nan_start and at[q] - at[p] <= window:
                n_out = _try_pair(a, idx[q], views, out, n_out)
                q += 1
            for q in range(max(nan_start, p + 1), e):
                n_out = _try_pair(a, idx[q], views, out, n_out)
        else:
            for q in range(p + 1, e):
                if not abs(at[p] - at[q]) > window:  # NaN: kept
                    n_out = _try_pair(a, idx[q], views, out, n_out)
    return e - 1, n_out


@njit(**KERNEL_OPTIONS)
def offer_proposals(proposed, best_c, best_p, fill, worst, lo, hi, keep_bands, min_bands):
    """Offer proposed pairs ``(i, j, bands)`` (:func:`propose_band`) that
    agree in ``min_bands`` bands or more to both rows' lists of best
    partners, each keeping the ``best_c.shape[1]`` best (:func:`_better`;
    ``fill`` and ``worst`` are the bookkeeping). Only rows ``lo <= x < hi``
    are updated, so threads can share the work by ranges of rows. Returns
    the pairs (row ``i`` in the range) that agree in at least ``keep_bands``
    bands: those are kept whatever their rank. (With ``min_bands >=
    keep_bands`` every pair offered is such a pair, and the lists, which
    could only add pairs already kept, are left alone.)"""
    n_sure = 0
    for t in range(len(proposed)):  # counted first: no array grown in the loop below
        n_sure += proposed[t, 2] >= max(min_bands, keep_bands) and lo <= proposed[t, 0] < hi
    sure = np.empty((n_sure, 2), np.int64)
    n_sure = 0
    ranked = min_bands < keep_bands
    for t in range(len(proposed)):
        i, j, c = proposed[t, 0], proposed[t, 1], proposed[t, 2]
        if c < min_bands:
            continue
        if lo <= i < hi:
            if ranked:
                _offer(i, j, c, best_c, best_p, fill, worst)
            if c >= keep_bands:
                sure[n_sure, 0] = i
                sure[n_sure, 1] = j
                n_sure += 1
        if ranked and lo <= j < hi:
            _offer(j, i, c, best_c, best_p, fill, worst)
    return sure


@njit(cache=True)
def partner_codes(best_p, fill):
    """Codes ``i * n + j`` (``i < j``) of every row's kept best partners
    (``best_p[x, :fill[x]]``, ``fill`` capped at the list length), in one
    array (not deduplicated)."""
    n, k = best_p.shape
    total = 0
    for x in range(n):
        total += min(fill[x], k)
    out = np.empty(total, np.int64)
    o = 0
    for x in range(n):
        for t in range(min(fill[x], k)):
            y = best_p[x, t]
            out[o] = min(x, y) * n + max(x, y)
            o += 1
    return out
