"""Compiled kernels (numba) and compact storage for :class:`dedup.live.index.StoryIndex`.

:func:`candidate_products` weighs every candidate of a new article and takes
its dot product with the article's row in one pass over stored term counts,
instead of building the candidates' TF-IDF rows with numpy per add. It
computes what :meth:`dedup.live.scoring.Scorer.weights` followed by
:meth:`~dedup.live.scoring.Scorer.row_products` compute (the numpy reference the tests
compare it with), with the float operations in the same order; the only
possible difference is numba's ``log`` against numpy's in the idf, which
differ by at most one unit in the last place of a float64 (0.2% of inputs)
before the idf is rounded to float32, where they agreed on 3 million inputs
(the test compares the two bit for bit). Its cost is one scattered read per
stored value (the column's document frequency): the gather runs in a loop of
its own so the cache misses overlap.

:func:`profile_dots` gives the neighbour-profile cosines of the story score
(step 2 of :func:`dedup.scoring.story_similarity`) from flat arrays.

:class:`TermPool` keeps the live articles' pruned term counts in two flat
arrays (columns and sublinear term frequencies, a segment per article,
compacted in place when the pool is full), indexed by sequence number, so the
kernel reads a candidate's row without touching a Python object.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["TermPool", "candidate_products", "idf_value", "capped_start", "profile_dots"]

_opts = dict(cache=True, nogil=True)


# CORE: features/weights.py -- the scalar form of verify.idf_weights, for compiled loops
@njit(inline="always")
def idf_value(top, total_df):
    """:func:`dedup.features.weights.idf_weights` of one column, ``ln(top / (1 + df)) + 1``
    with ``top = 1 + N + prior docs`` and ``df`` the column's document frequency
    plus prior, rounded to float32 as the array form rounds it."""
    return np.float64(np.float32(math.log(top / (1.0 + total_df)) + 1.0))


@njit(inline="always")
def total_df_value(df, prior, with_prior):
    """A column's document frequency ``df`` (float64) plus its background
    ``prior`` when there is one: :meth:`dedup.live.scoring.Scorer.total_df`
    for one column."""
    return df + prior if with_prior else df


# CORE: sketch/lsh.py -- the bucket cap of candidates._bucket_pairs_capped, as the live query reads it
@njit(inline="always")
def capped_start(size, max_bucket_size, neighbours):
    """First member (ascending order) of a bucket of ``size`` that pairs with a
    newcomer: a bucket over ``max_bucket_size`` gives only its ``neighbours``
    most recent -- the batch pairs each member with its next ``neighbours``."""
    if size > max_bucket_size:
        return max(size - neighbours, 0)
    return 0


@njit(**_opts)
def count_documents(df, total_df, prior, cols, with_prior):
    """One more document in each of ``cols`` (distinct): ``df`` (int) and
    ``total_df``, the float64 sum with the background ``prior`` that the idf
    reads (:meth:`dedup.live.scoring.Scorer.total_df`'s sum, column by column)."""
    for c in cols:
        df[c] += 1
        total_df[c] = total_df_value(np.float64(df[c]), prior[c], with_prior)


@njit(**_opts)
def candidate_products(pc, pw, seqs, start, length, dropped, pool_cols, pool_tf, total_df, n_docs, prior_docs):
    """Cosines (clipped to [0, 1]) and shared-term counts of one article's
    row (columns ``pc`` ascending, L2-normalised weights ``pw``) with each
    candidate ``seqs[k]``.

    A candidate's row is ``pool_cols`` / ``pool_tf`` (sublinear tf) from
    ``start[s]`` for ``length[s]`` values, ascending columns; ``dropped[s]``
    is the squared weight pruned from it (kept in the norm). ``total_df``
    (by column) is the document frequency plus the background prior, the
    article's own columns counted: the one array read at random, once per
    stored value. Weighting as :func:`dedup.features.weights.idf_weights` (idf rounded
    to float32) and :func:`dedup.features.weights.tfidf`; the row's products are summed
    in ascending column order (a merge with ``pc``)."""
    k = len(seqs)
    cos = np.zeros(k)
    shared = np.zeros(k)
    top = (1.0 + n_docs) + prior_docs
    longest = 0
    for r in range(k):
        longest = max(longest, length[seqs[r]])
    w = np.empty(longest)
    m_own = len(pc)
    for r in range(k):
        s = seqs[r]
        lo = start[s]
        n = length[s]
        for t in range(n):  # the gather alone first: its cache misses overlap
            w[t] = total_df[pool_cols[lo + t]]
        norm2 = 0.0
        for t in range(n):
            x = pool_tf[lo + t] * idf_value(top, w[t])
            w[t] = x
            norm2 += x * x
        norm2 += dropped[s]
        scale = 1.0 / math.sqrt(norm2) if norm2 > 0 else 0.0
        acc = 0.0
        m = 0
        a = 0
        t = 0
        while t < n and a < m_own:
            c = pool_cols[lo + t]
            o = pc[a]
            if c == o:
                acc += (w[t] * scale) * pw[a]
                m += 1
                t += 1
                a += 1
            elif c < o:
                t += 1
            else:
                a += 1
        cos[r] = min(max(acc, 0.0), 1.0)
        shared[r] = m
    return cos, shared


@njit(**_opts)
def own_totals(df, cols, own_cols, prior, with_prior):
    """Document frequency plus prior of an article's columns ``cols``
    (ascending) with the article itself counted where ``own_cols``
    (ascending, distinct) has the column: ``(df + own) + prior``, the sums
    :meth:`dedup.live.scoring.Scorer.weights` makes (``df``: float64, per
    column of ``cols``). A merge of the two sorted lists, no scratch array."""
    out = np.empty(len(cols), np.float64)
    j = 0
    for k in range(len(cols)):
        c = cols[k]
        while j < len(own_cols) and own_cols[j] < c:
            j += 1
        v = df[k] + 1.0 if j < len(own_cols) and own_cols[j] == c else df[k]
        out[k] = total_df_value(v, prior[c], with_prior)
    return out


@njit(**_opts)
def own_candidate_products(own_cols, df, prior, with_prior, pc, pw, seqs, pool, total_df, n_docs, prior_docs):
    """:func:`candidate_products` with the new article's own columns
    (``own_cols``, distinct) counted once more in ``total_df`` for the call:
    ``(df + 1) + prior`` there (:meth:`dedup.live.scoring.Scorer.total_df`'s
    sum), restored after. ``pool`` is the :class:`TermPool`'s
    ``(start, length, dropped, cols, tf)``."""
    saved = np.empty(len(own_cols), np.float64)
    for k in range(len(own_cols)):
        c = own_cols[k]
        saved[k] = total_df[c]
        total_df[c] = total_df_value(np.float64(df[c]) + 1.0, prior[c], with_prior)
    start, length, dropped, cols, tf = pool
    out = candidate_products(pc, pw, seqs, start, length, dropped, cols, tf, total_df, n_docs, prior_docs)
    for k in range(len(own_cols)):
        total_df[own_cols[k]] = saved[k]
    return out


@njit(**_opts)
def _compact(start, length, cols, tf):
    """Move the live segments (``length >= 0``) to the front of the pools, in
    place (segments lie in sequence order, so each moves towards the front);
    updates ``start``; returns the used size."""
    top = 0
    for s in range(len(start)):
        n = length[s]
        if n < 0:
            continue
        lo = start[s]
        if lo != top:
            for t in range(n):
                cols[top + t] = cols[lo + t]
                tf[top + t] = tf[lo + t]
            start[s] = top
        top += n
    return top


def _moved(a: np.ndarray, used: int, size: int) -> np.ndarray:
    """A new array of ``size`` holding ``a[:used]``, the rest unwritten."""
    out = np.empty(size, a.dtype)
    out[:used] = a[:used]
    return out


class TermPool:
    """Live articles' pruned term counts, by sequence number, in flat arrays:
    the rows :func:`candidate_products` reads (columns int32, sublinear tf
    float64, squared pruned weight float64), about 12 bytes per kept term. A
    removed row leaves garbage, compacted away in place when the pool is full."""

    def __init__(self, capacity: int = 1 << 16, seqs: int = 1 << 12):
        self.cols = np.zeros(capacity, np.int32)
        self.tf = np.zeros(capacity, np.float64)
        self.start = np.zeros(seqs, np.int64)
        self.length = np.full(seqs, -1, np.int32)  # -1: no row
        self.dropped = np.zeros(seqs, np.float64)
        self.top = 0
        self.garbage = 0

    def put(self, seq: int, cols: np.ndarray, tf: np.ndarray, dropped: float) -> None:
        """Store the row of ``seq`` (ascending ``cols``, their sublinear tf);
        rows are put in increasing ``seq`` order (segments lie in that order)."""
        if seq >= len(self.start):
            size = max(2 * len(self.start), seq + 1)
            self.start = np.concatenate([self.start, np.zeros(size - len(self.start), np.int64)])
            self.length = np.concatenate([self.length, np.full(size - len(self.length), -1, np.int32)])
            self.dropped = np.concatenate([self.dropped, np.zeros(size - len(self.dropped), np.float64)])
        n = len(cols)
        if self.top + n > len(self.cols):
            self._make_room(n)
        self.cols[self.top : self.top + n] = cols
        self.tf[self.top : self.top + n] = tf
        self.start[seq] = self.top
        self.length[seq] = n
        self.dropped[seq] = dropped
        self.top += n

    def drop(self, seq: int) -> None:
        """Forget the row of ``seq`` (if any)."""
        if seq < len(self.length) and self.length[seq] >= 0:
            self.garbage += int(self.length[seq])
            self.length[seq] = -1

    def _make_room(self, n: int) -> None:
        """Compact in place; grow (double) only if that leaves less than a
        quarter free, so a compaction follows at least a quarter pool of
        inserts and memory stays near the live rows (no second pool at once)."""
        if self.garbage:
            self.top = int(_compact(self.start, self.length, self.cols, self.tf))
            self.garbage = 0
        size = len(self.cols)
        while 4 * (self.top + n) > 3 * size:
            size *= 2
        if size > len(self.cols):  # the free part is not written (its pages are touched as rows arrive)
            self.cols = _moved(self.cols, self.top, size)
            self.tf = _moved(self.tf, self.top, size)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.cols, self.tf, self.start, self.length, self.dropped))


@njit(**_opts)
def profile_dots(keys, vals, offsets, pairs):
    """Cosine of the neighbour profiles of each pair ``(i, j)``: profile ``i``
    is ``keys``/``vals`` from ``offsets[i]`` to ``offsets[i + 1]`` (distinct
    keys, any order). Each profile is sorted by key and L2-normalised (its
    squares summed in key order), and a pair's dot product is summed in
    ascending key order, as :func:`dedup.scoring.pair_cosine` sums the batch's."""
    n = len(offsets) - 1
    sk = np.empty_like(keys)
    sv = np.empty(len(vals))
    for i in range(n):
        lo = offsets[i]
        hi = offsets[i + 1]
        order = np.argsort(keys[lo:hi], kind="mergesort")
        s = 0.0
        for t in range(hi - lo):
            sk[lo + t] = keys[lo + order[t]]
            v = vals[lo + order[t]]
            sv[lo + t] = v
            s += v * v
        norm = math.sqrt(s)
        for t in range(lo, hi):
            sv[t] = sv[t] / norm if norm > 0 else 0.0
    out = np.zeros(len(pairs))
    for p in range(len(pairs)):
        i = pairs[p, 0]
        j = pairs[p, 1]
        a, ae = offsets[i], offsets[i + 1]
        b, be = offsets[j], offsets[j + 1]
        acc = 0.0
        while a < ae and b < be:
            ka = sk[a]
            kb = sk[b]
            if ka == kb:
                acc += sv[a] * sv[b]
                a += 1
                b += 1
            elif ka < kb:
                a += 1
            else:
                b += 1
        out[p] = acc
    return out


@njit(**_opts)
def row_gram(cols, w, indptr):
    """Dot products and shared-column counts of every two rows (columns
    ascending, no repeats) as dense ``(n, n)`` arrays: what scipy's
    ``(x @ x.T).toarray()`` gives -- each product of the shared columns
    added in column order, from 0, as its sparse product adds them -- and
    the same of the rows' patterns. For the few rows of a neighbourhood,
    where scipy's input checks cost more than the sums."""
    n = len(indptr) - 1
    dots = np.zeros((n, n), np.float64)
    shared = np.zeros((n, n), np.float64)
    for i in range(n):
        for k in range(i, n):
            a, a_end = indptr[i], indptr[i + 1]
            b, b_end = indptr[k], indptr[k + 1]
            s = 0.0
            c = 0
            while a < a_end and b < b_end:
                ca, cb = cols[a], cols[b]
                if ca == cb:
                    s += w[a] * w[b]
                    c += 1
                a += ca <= cb
                b += cb <= ca
            dots[i, k] = dots[k, i] = s
            shared[i, k] = shared[k, i] = c
    return dots, shared
