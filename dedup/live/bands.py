"""LSH band arithmetic of the live index: bands and rows for a threshold, the
band keys of a signature, and which stored pairs the batch would score.

Bands and rows come from :func:`dedup.sketch.lsh.optimal_params`, the batch's
band arithmetic (datasketch's published optimiser, written once).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..arrays import upper_pairs
from ..params import Params
from ..sketch import _kernels as sketch_kernels
from ..sketch import lsh as cand
from ..sketch.lsh import KEEP_BANDS, lsh_params, optimal_params
from ..sketch.minhash import signed
from .records import Partners

__all__ = [
    "optimal_params",
    "lsh_params",
    "lsh_bands",
    "colliding",
    "partner_lists",
    "partner_rule",
]


def lsh_bands(params: Params) -> tuple[tuple[int, int], tuple[int, int]]:
    """``(bands, rows)`` of the two LSH views (term view, shingle view): the batch's
    (:func:`dedup.sketch.lsh.lsh_views`)."""
    return (
        lsh_params(params.lsh_threshold, params.num_perm),
        lsh_params(params.copy_threshold, params.num_perm, recall_weight=0.5),
    )


def colliding(
    params: Params,
    term_sigs: np.ndarray,
    shingle_sigs: np.ndarray,
    seqs: Sequence[int] | None = None,
    partners: Sequence[Partners | None] | None = None,
) -> np.ndarray:
    """Which pairs of articles share an LSH band in either view (the pairs the
    batch scores; ``params.min_bands`` bands in the term view), as an
    ``(n, n)`` bool matrix; an empty signature shares none.
    Where the partner rule can drop a pair (``params.max_partners`` with
    ``min_bands`` below ``KEEP_BANDS``: :func:`dedup.sketch.lsh.ranks_partners`),
    term-view pairs follow it:
    kept when one article holds the other in its stored partner list
    (``partners``, see :mod:`dedup.live.decide`; an article without a list,
    None, keeps all its pairs), or when they agree in ``KEEP_BANDS`` bands.
    Without ``partners`` the lists are those of these articles alone
    (:func:`partner_rule`), ranked in ``seqs`` order."""
    n = len(term_sigs)
    out = np.zeros((n, n), dtype=bool)
    order = np.arange(n) if seqs is None else np.asarray(seqs, dtype=np.int64)
    for view, ((bands, rows), sigs) in enumerate(zip(lsh_bands(params), (term_sigs, shingle_sigs), strict=False)):
        usable = signed(sigs)
        common = _common_bands(sigs, bands, rows)
        least = params.min_bands if view == 0 else 1  # the term view's pairs need min_bands
        hit = (common >= least) & usable[:, None] & usable[None, :]
        if view == 0 and cand.ranks_partners(params):  # else no list can drop a pair
            if partners is None:
                hit &= partner_rule(common, hit, order, params.max_partners)
            else:
                hit &= _listed(common, order, partners)
        out |= hit
    return out


def _common_bands(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """Bands in common of every pair of rows, as an ``(n, n)`` matrix: each
    pair counted once (the count is symmetric), a row with itself agreeing
    in all ``bands``."""
    n = len(sigs)
    upper = upper_pairs(n)
    common = np.full((n, n), bands, dtype=np.int32)
    counts = cand.bands_in_common(sigs, np.stack(upper, axis=1), bands, rows)
    common[upper] = counts
    common[upper[::-1]] = counts
    return common


def _listed(common: np.ndarray, order: np.ndarray, partners: Sequence[Partners | None]) -> np.ndarray:
    """Pairs held in either article's stored partner list (all of an article
    without one), or agreeing in ``KEEP_BANDS`` bands."""
    kept = common >= KEEP_BANDS
    pos = {int(s): i for i, s in enumerate(order.tolist())}
    for i, held in enumerate(partners):
        if held is None:
            kept[i, :] = True
            continue
        js = [pos[s] for s in held if s in pos]
        kept[i, js] = True
    return kept | kept.T


def partner_lists(
    max_partners: int, owners: Sequence[int], held: Sequence[Partners], offers: Sequence[tuple[int, int, int]]
) -> list[Partners]:
    """The partner lists of articles at ``owners`` (seqs; the rank's row
    order) holding ``held`` (partner seq -> bands in common), once each offer
    ``(list, partner seq, bands)`` is made in turn: the batch's lists
    (:func:`dedup.sketch.lsh.top_partner_pairs`), each keeping its
    ``max_partners`` best partners by bands in common, then nearness in seq
    order, then lower seq -- the batch's compiled ranking
    (:func:`dedup.sketch._kernels.offer_partners`). Nothing changes in place."""
    m = len(owners)
    best_c = np.zeros((m, max_partners), dtype=np.int32)
    best_p = np.zeros((m, max_partners), dtype=np.int64)
    fill = np.zeros(m, dtype=np.int64)
    for r, h in enumerate(held):
        fill[r] = min(len(h), max_partners)
        best_p[r, : fill[r]] = list(h)[: fill[r]]
        best_c[r, : fill[r]] = [h[s] for s in best_p[r, : fill[r]].tolist()]
    o = np.asarray(offers, dtype=np.int64).reshape(-1, 3)
    sketch_kernels.offer_partners(np.asarray(owners, dtype=np.int64), o[:, 0], o[:, 1], o[:, 2], best_c, best_p, fill)
    return [dict(zip(best_p[r, : fill[r]].tolist(), best_c[r, : fill[r]].tolist(), strict=True)) for r in range(m)]


def partner_rule(common: np.ndarray, hit: np.ndarray, order: np.ndarray, max_partners: int) -> np.ndarray:
    """The pairs :func:`dedup.sketch.lsh.top_partner_pairs` keeps among ``hit``
    when these rows are all there is: among the ``max_partners`` best of
    either side (:func:`partner_lists`, rows ranked in ``order``), or
    sharing ``KEEP_BANDS`` bands."""
    offers = [(i, int(order[j]), int(common[i, j])) for i, j in zip(*np.nonzero(hit), strict=True) if i != j]
    lists = partner_lists(max_partners, order.tolist(), [{}] * len(order), offers)
    return _listed(common, order, lists)
