"""LSH band arithmetic of the live index: bands and rows for a threshold, the
band keys of a signature, and which stored pairs the batch would score.

Bands and rows come from :func:`dedup.sketch.lsh.optimal_params`, the batch's
band arithmetic (datasketch's published optimiser, written once).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..params import Params
from ..sketch import lsh as cand
from ..sketch.lsh import lsh_params, optimal_params
from ..sketch.minhash import signed

__all__ = ["optimal_params", "lsh_params", "lsh_bands", "colliding", "partner_rule"]


def lsh_bands(params: Params) -> tuple[tuple[int, int], tuple[int, int]]:
    """``(bands, rows)`` of the two LSH views (term view, shingle view): the batch's
    (:func:`dedup.sketch.lsh.lsh_views`)."""
    return (
        lsh_params(params.lsh_threshold, params.num_perm),
        lsh_params(params.copy_threshold, params.num_perm, recall_weight=0.5),
    )


def colliding(
    params: Params, term_sigs: np.ndarray, shingle_sigs: np.ndarray, seqs: Sequence[int] | None = None
) -> np.ndarray:
    """Which pairs of articles share an LSH band in either view (the pairs the
    batch scores), as an ``(n, n)`` bool matrix; an empty signature shares none.
    With ``params.max_partners``, term-view pairs follow the partner rule
    (:func:`dedup.sketch.lsh.top_partner_pairs`) among these articles, ranked
    by bands in common, then nearness in ``seqs`` order, then lower seq."""
    n = len(term_sigs)
    out = np.zeros((n, n), dtype=bool)
    order = np.arange(n) if seqs is None else np.asarray(seqs, dtype=np.int64)
    for view, ((bands, rows), sigs) in enumerate(zip(lsh_bands(params), (term_sigs, shingle_sigs), strict=False)):
        keys = cand.band_keys(sigs, bands, rows)
        usable = signed(sigs)
        common = np.zeros((n, n), dtype=np.int64)
        for b in range(keys.shape[1]):
            common += keys[:, b][:, None] == keys[:, b][None, :]
        hit = (common > 0) & usable[:, None] & usable[None, :]
        if view == 0 and params.max_partners is not None:
            hit &= partner_rule(common, hit, order, params.max_partners)
        out |= hit
    return out


def partner_rule(
    common: np.ndarray, hit: np.ndarray, order: np.ndarray, max_partners: int, keep_bands: int = 4
) -> np.ndarray:
    """The pairs :func:`dedup.sketch.lsh.top_partner_pairs` keeps among ``hit``:
    among the ``max_partners`` best of either side (more bands in ``common``,
    then nearer in ``order``, then lower), or sharing ``keep_bands`` bands."""
    n = len(common)
    kept = common >= keep_bands
    for i in range(n):
        js = np.flatnonzero(hit[i])
        js = js[js != i]
        if len(js) <= max_partners:
            kept[i, js] = True
            continue
        rank = np.lexsort((order[js], np.abs(order[js] - order[i]), -common[i, js]))
        kept[i, js[rank[:max_partners]]] = True
    return kept | kept.T
