"""Scoring an article against indexed ones: the batch's weights and story score,
for a few rows at a time under the index's running document frequencies.

Nothing here defines a formula of its own: the idf is
:func:`dedup.weights.idf_weights`, the short-text factor and the neighbour
blend are :func:`dedup.pair_scoring.story_similarity` and
:func:`dedup.pair_scoring.blend_neighbourhood`, sublinear tf is
:func:`~dedup.features.weights.sublinear_tf` (the compiled candidate pass uses
the same scalar functions). What is specific to a live index is how the
inputs are gathered: an article's own row counts in its own document
frequencies (as in a batch), candidates are weighed under the *current*
frequencies, and neighbour profiles are kept incrementally
(:meth:`Scorer.plan_profiles`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from .. import scoring as pair_scoring
from ..features import weights
from ..features.weights import sublinear_tf
from ..params import Params
from ._kernels import candidate_products, own_totals, profile_dots
from .records import Entry, Profiles

__all__ = ["Scorer", "Rows"]

Rows = tuple[np.ndarray, np.ndarray, np.ndarray]  # (cols, weights, indptr)


class Scorer:
    """The weighting and scoring of one index's parameters, with per-column
    scratch arrays (all False / 0 between uses) for look-ups by gather."""

    def __init__(self, params: Params):
        self.params = params
        # the background prior of every column (per process, read-only): entries keep only their counts
        self.prior = weights.background_prior(params.background, params.n_features, params.background_docs)
        self.prior_docs = params.background_docs if params.background else 0
        self.scratch_own = np.zeros(params.n_features, dtype=bool)
        self.scratch_pos = np.zeros(params.n_features, dtype=np.int32)

    def total_df(self, df: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Document frequencies ``df`` (float64) of columns ``cols`` plus the
        background prior, as :func:`dedup.features.weights.idf_weights` adds them."""
        return df + self.prior[cols] if self.prior_docs else df

    def weights(
        self,
        items: Sequence[Entry | object],
        df_of: Callable[[np.ndarray], np.ndarray],
        n_docs: float,
        own_cols: np.ndarray | None = None,
    ) -> Rows:
        """TF-IDF weights of articles with ``cols``, ``counts`` and ``dropped``,
        under the document frequencies ``df_of`` gives (plus one on
        ``own_cols``, sorted: the article being added counts in its own), as
        ``(cols, weights, indptr)``: each article's kept columns (ascending)
        and L2-normalised weights, the norm including the pruned terms
        (:func:`dedup.features.weights.tfidf`'s weighting, written out for a few short rows:
        scikit-learn's and scipy's input checks cost more than the sums)."""
        n = len(items)
        if n == 1:
            return self._one_row(items[0], df_of, n_docs, own_cols)
        lengths = np.fromiter((len(e.cols) for e in items), dtype=np.int64, count=n)  # type: ignore[union-attr]
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        if indptr[-1] == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64), indptr
        cols = np.concatenate([e.cols for e in items]).astype(np.int64)  # type: ignore[union-attr]
        counts = np.concatenate([e.counts for e in items]).astype(np.float64)  # type: ignore[union-attr]
        df = df_of(cols)
        if own_cols is not None and len(own_cols):
            own = self.scratch_own
            own[own_cols] = True  # a gather per column: much cheaper than a binary search each
            try:
                df = df + own[cols]
            finally:
                own[own_cols] = False
        idf = weights.idf_weights(df, n_docs, self.prior[cols] if self.prior_docs else None, self.prior_docs)
        w = sublinear_tf(np.asarray(counts, dtype=np.float64)) * idf
        rows = np.repeat(np.arange(n), lengths)
        norm2 = np.bincount(rows, weights=w * w, minlength=n)
        norm2 += np.fromiter((e.dropped for e in items), dtype=np.float64, count=n)  # type: ignore[union-attr]
        scale = np.divide(1.0, np.sqrt(norm2), out=np.zeros_like(norm2), where=norm2 > 0)
        w *= scale[rows]
        return cols, w, indptr

    def _one_row(
        self, e: Entry | object, df_of: Callable[[np.ndarray], np.ndarray], n_docs: float, own_cols: np.ndarray | None
    ) -> Rows:
        """:meth:`weights` of one article (an add's own row) in fewer numpy
        calls: the same operations on the same values (the frequencies
        gathered by :func:`own_totals`), the squared weights summed in order
        as ``np.bincount`` sums them (``np.cumsum``)."""
        cols = e.cols.astype(np.int64)  # type: ignore[union-attr]
        indptr = np.array([0, len(cols)], dtype=np.int64)
        if not len(cols):
            return cols, np.zeros(0, dtype=np.float64), indptr
        own = np.zeros(0, np.int32) if own_cols is None else own_cols
        total = own_totals(df_of(cols), cols, own, self.prior, bool(self.prior_docs))
        idf = weights.idf_weights(total, n_docs, None, self.prior_docs)
        w = sublinear_tf(e.counts.astype(np.float64)) * idf  # type: ignore[union-attr]
        norm2 = float(np.cumsum(w * w)[-1]) + float(e.dropped)  # type: ignore[union-attr]
        w *= 1.0 / math.sqrt(norm2) if norm2 > 0 else 0.0
        return cols, w, indptr

    def products_of_rows(
        self,
        pc: np.ndarray,
        pw: np.ndarray,
        entries: Sequence[Entry],
        n_docs: float,
        own_cols: np.ndarray,
        df_of: Callable[[np.ndarray], np.ndarray],
    ) -> tuple[np.ndarray, np.ndarray]:
        """What ``row_products(pc, pw, weights(entries, df_of, n_docs, own_cols))``
        gives, from the compiled :func:`candidate_products` over a pool of the
        entries' own rows, columns renumbered over the candidates' columns (a
        state without a term pool: Redis)."""
        n = len(entries)
        length = np.fromiter((len(e.cols) for e in entries), dtype=np.int32, count=n)
        start = np.zeros(n, dtype=np.int64)
        np.cumsum(length[:-1], out=start[1:])
        cols = np.concatenate([e.cols for e in entries]) if n else np.zeros(0, np.int32)
        tf = sublinear_tf(np.concatenate([e.counts for e in entries]).astype(np.float64) if n else np.zeros(0))
        ucols, local = np.unique(cols, return_inverse=True)
        at = np.minimum(np.searchsorted(ucols, pc), max(len(ucols) - 1, 0))
        hit = ucols[at] == pc if len(ucols) else np.zeros(len(pc), dtype=bool)
        own = np.isin(ucols, own_cols)
        total = self.total_df(df_of(ucols) + own, ucols)
        dropped = np.fromiter((e.dropped for e in entries), dtype=np.float64, count=n)
        return candidate_products(
            at[hit].astype(np.int64),
            pw[hit],
            np.arange(n, dtype=np.int64),
            start,
            length,
            dropped,
            local.ravel().astype(np.int32),
            tf,
            total,
            float(n_docs),
            float(self.prior_docs),
        )

    def row_products(self, pc: np.ndarray, pw: np.ndarray, rows: Rows) -> tuple[np.ndarray, np.ndarray]:
        """Cosines (clipped to [0, 1]) and shared-term counts of one article's
        row (``pc`` ascending, ``pw``) with each of ``rows`` (:meth:`weights`):
        products summed per row in ascending column order, as the sparse
        product does, without building matrices (the compiled candidate pass's
        reference)."""
        cc, cw, indptr = rows
        k = len(indptr) - 1
        if len(pc) == 0 or len(cc) == 0:
            return np.zeros(k), np.zeros(k)
        r = np.repeat(np.arange(k), np.diff(indptr))
        where = self.scratch_pos  # column -> 1 + its position in the article's row (0: absent)
        where[pc] = np.arange(1, len(pc) + 1, dtype=np.int32)
        try:
            pos = where[cc] - 1
        finally:
            where[pc] = 0
        hit = pos >= 0
        cos = np.bincount(r[hit], weights=cw[hit] * pw[pos[hit]], minlength=k)
        shared = np.bincount(r[hit], minlength=k).astype(np.float64)
        return np.clip(cos, 0.0, 1.0), shared

    def short_scaled(self, cos: np.ndarray, n_i: np.ndarray, n_j: np.ndarray, shared: np.ndarray) -> np.ndarray:
        """Step 1 of :func:`dedup.scoring.story_similarity` (the short-text factor) for
        pairs given by their cosines, terms per article and terms in common."""
        m = len(cos)
        pairs = np.stack([np.arange(m), m + np.arange(m)], axis=1)
        return pair_scoring.story_similarity(
            pairs,
            cos,
            np.concatenate([n_i, n_j]),
            2 * m,
            short_text_terms=self.params.short_text_terms,
            neighbourhood=0,
            shared=shared,
        )

    def blend(
        self, s1: np.ndarray, profiles: Sequence[tuple[int, dict | None, dict | None]], pairs: np.ndarray
    ) -> np.ndarray:
        """Step 2 of :func:`dedup.scoring.story_similarity`: ``(1 - w) * s1 + w *`` the
        dot product of the two articles' L2-normalised neighbour profiles
        (``(seq, top, rev)`` per row; ``pairs`` index them)."""
        if not self.params.blends_neighbourhood or len(pairs) == 0:
            return np.clip(s1, 0.0, 1.0)
        keys: list[int] = []
        vals: list[float] = []
        offsets = np.zeros(len(profiles) + 1, dtype=np.int64)
        for i, (seq, top, rev) in enumerate(profiles):
            d = _profile(seq, top, rev)
            keys.extend(d)
            vals.extend(d.values())
            offsets[i + 1] = offsets[i] + len(d)
        nb = profile_dots(
            np.array(keys, dtype=np.int64),
            np.array(vals, dtype=np.float64),
            offsets,
            np.ascontiguousarray(pairs, dtype=np.int64),
        )
        return pair_scoring.blend_neighbourhood(s1, nb, self.params.neighbourhood_weight)

    def profile_size(self, n_terms: int) -> int:
        """An article's neighbour-profile size (:func:`dedup.scoring.profile_size`)."""
        p = self.params
        return pair_scoring.profile_size(n_terms, p.neighbourhood, p.headline_terms, p.headline_neighbourhood)

    def plan_profiles(
        self,
        seq: int,
        entries: Sequence[Entry],
        s1: np.ndarray,
        get_seqs: Callable[[Sequence[int]], list[Entry | None]],
        n_terms: int,
    ) -> tuple[dict[int, float], dict[int, float], Profiles]:
        """The neighbour profiles once a new article's scored pairs count.

        As in :func:`dedup.scoring.neighbour_similarity`: the article keeps its ``k``
        best partners (by short-text-scaled score ``s1``, ties by seq), and
        enters a partner's top ``k`` when it beats the partner's weakest, which
        then leaves it; ``k`` is each article's own profile size
        (:meth:`profile_size`; the article has ``n_terms`` terms). Returns the article's ``top`` and ``rev`` and the new
        ``(top, rev)`` of every other article that changed. Nothing is changed
        in place (``query`` uses it too)."""
        top_n: dict[int, float] = {}
        rev_n: dict[int, float] = {}
        changed: Profiles = {}
        if not self.params.blends_neighbourhood:
            return top_n, rev_n, changed

        def edit(e: Entry) -> tuple[dict, dict]:
            if e.seq not in changed:
                changed[e.seq] = (dict(e.top or {}), dict(e.rev or {}))
            return changed[e.seq]

        pos = [i for i in range(len(entries)) if s1[i] > 0]
        for i in sorted(pos, key=lambda i: (-s1[i], entries[i].seq))[: self.profile_size(n_terms)]:
            top_n[entries[i].seq] = float(s1[i])
            edit(entries[i])[1][seq] = float(s1[i])
        evicted = self._enter_tops(seq, entries, s1, pos, changed, edit, rev_n)
        if evicted:
            known = {e.seq: e for e in entries}
            missing = sorted(j for j in evicted if j not in known)
            known.update((e.seq, e) for e in get_seqs(missing) if e is not None)
            for j in sorted(evicted):
                e = known.get(j)
                if e is not None and e.live:
                    rev = edit(e)[1]
                    for c in evicted[j]:
                        rev.pop(c, None)
        return top_n, rev_n, changed

    def _enter_tops(
        self,
        seq: int,
        entries: Sequence[Entry],
        s1: np.ndarray,
        pos: list[int],
        changed: Profiles,
        edit: Callable[[Entry], tuple[dict, dict]],
        rev_n: dict[int, float],
    ) -> dict[int, list[int]]:
        """The new article enters each partner's top ``k`` (the partner's own
        size) it beats the weakest of; returns partner dropped from a top -> whose top."""
        evicted: dict[int, list[int]] = {}
        for i in pos:
            e, v = entries[i], float(s1[i])
            top = changed[e.seq][0] if e.seq in changed else (e.top or {})
            if len(top) >= self.profile_size(e.n_terms):
                if v <= min(top.values()):  # not better than the weakest: most candidates
                    continue
                worst = min(top, key=lambda j: (top[j], -j))
                if v <= top[worst]:
                    continue
                top = edit(e)[0]
                del top[worst]
                evicted.setdefault(worst, []).append(e.seq)
            edit(e)[0][seq] = v
            rev_n[e.seq] = v
        return evicted


def _profile(seq: int, top: dict | None, rev: dict | None) -> dict[int, float]:
    """An article's neighbour profile: ``rev`` and ``top`` (the larger value
    where both hold a partner) and itself at 1 (so the norm is never 0)."""
    d = dict(rev) if rev else {}
    if top:
        for j, v in top.items():
            if v > d.get(j, -1.0):
                d[j] = v
    d[seq] = 1.0
    return d
