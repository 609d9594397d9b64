"""LSH band arithmetic of the live index: bands and rows for a threshold, the
band keys of a signature, and which stored pairs the batch would score.

:func:`optimal_rows` is datasketch's published optimiser (``MinHashLSH``'s
``b`` and ``r`` for a threshold and weights: the grid search minimising the
weighted integrals of false positive and false negative probability), written
here so that no private datasketch function is called; the tests compare it
with ``MinHashLSH(threshold=..., num_perm=..., weights=...).b, .r``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from scipy.integrate import quad

from ..params import Params
from ..sketch import lsh as cand
from ..sketch.minhash import EMPTY

__all__ = ["optimal_params", "lsh_params", "lsh_bands", "colliding", "partner_rule"]


def _false_positive(threshold: float, b: int, r: int) -> float:
    return quad(lambda s: 1 - (1 - s ** float(r)) ** float(b), 0.0, threshold)[0]


def _false_negative(threshold: float, b: int, r: int) -> float:
    return quad(lambda s: 1 - (1 - (1 - s ** float(r)) ** float(b)), threshold, 1.0)[0]


# CORE: sketch/lsh.py -- replaces candidates.lsh_params' call of datasketch's private _optimal_param
@lru_cache(maxsize=64)
def optimal_params(
    threshold: float, num_perm: int, false_positive_weight: float = 0.5, false_negative_weight: float = 0.5
) -> tuple[int, int]:
    """``(b, r)`` minimising ``fp_weight * P(false positive) + fn_weight * P(false
    negative)`` for a Jaccard ``threshold`` over every ``b * r <= num_perm``:
    what datasketch's ``MinHashLSH`` picks (its ``b`` and ``r`` attributes)."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    best, opt = float("inf"), (0, 0)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            error = (
                _false_positive(threshold, b, r) * false_positive_weight
                + _false_negative(threshold, b, r) * false_negative_weight
            )
            if error < best:
                best, opt = error, (b, r)
    return opt


# CORE: sketch/lsh.py -- candidates.lsh_params without datasketch's private function
def lsh_params(threshold: float, num_perm: int, recall_weight: float = 0.9) -> tuple[int, int]:
    """``(bands, rows)`` for a Jaccard ``threshold``: rows from :func:`optimal_params`
    with false negatives weighted ``recall_weight``, bands filling all
    ``num_perm`` permutations (:func:`dedup.sketch.lsh.lsh_params`)."""
    if not 0.0 < recall_weight < 1.0:
        raise ValueError(f"recall_weight must be in (0, 1), got {recall_weight!r}")
    _, rows = optimal_params(threshold, num_perm, 1.0 - recall_weight, recall_weight)
    return num_perm // rows, rows


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
        usable = ~(sigs == EMPTY).all(axis=1)
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
