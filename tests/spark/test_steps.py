"""The Spark steps' plain helpers against the batch functions they stand for.

No Spark session: these are numpy functions (``dedup.spark.steps``), checked
against :mod:`dedup.sketch.lsh` on the same arrays.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dedup.sketch import lsh as cand
from dedup.sketch.minhash import EMPTY
from dedup.spark import steps


def _signatures(n: int, width: int, seed: int) -> np.ndarray:
    """Signatures over few values, so that rows collide in many bands."""
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, n // 6, n)
    base = rng.integers(0, 40, (n // 6, width))
    sig = base[groups] + (rng.random((n, width)) < 0.5) * rng.integers(0, 6, (n, width))
    return sig.astype(np.uint32)


@pytest.mark.parametrize(("k", "rows", "seed"), [(1, 1, 0), (3, 1, 1), (5, 2, 2), (2, 1, 3)])
def test_partner_rule_gives_the_batch_pairs(k, rows, seed):
    """Offered pairs (the unlimited banding), bands in common and each row's
    best ``k`` (both directions), plus the pairs with ``keep_bands`` bands or
    more: exactly :func:`dedup.sketch.lsh.candidate_pairs` with ``max_partners``."""
    n, bands = 300, 24
    sig = _signatures(n, bands * rows, seed)
    kw = {"max_bucket_size": 12, "neighbours": 3}
    offered = cand.candidate_pairs(sig, bands, rows, **kw)
    limited = cand.candidate_pairs(sig, bands, rows, max_partners=k, **kw)
    c = cand.bands_in_common(sig, offered, bands, rows)
    i, j = offered[:, 0], offered[:, 1]
    kx, ky = cand.best_partners(np.concatenate([i, j]), np.concatenate([j, i]), np.concatenate([c, c]), k)
    kept = {(min(a, b), max(a, b)) for a, b in zip(kx.tolist(), ky.tolist(), strict=True)}
    kept |= {tuple(p) for p in offered[c >= cand.KEEP_BANDS].tolist()}
    assert len(limited) < len(offered)  # the rule bites
    assert kept == {tuple(p) for p in limited.tolist()}


def test_bandable_leaves_out_empty_rows_and_empty_sets():
    sig = np.array([[1, 2], [EMPTY, EMPTY], [EMPTY, 3], [4, 5]], dtype=np.uint32)
    valid = np.array([True, True, True, False])
    assert steps.bandable(sig, valid).tolist() == [True, False, True, False]


def test_packed_rows_round_trip():
    import scipy.sparse as sp

    x = sp.csr_matrix(np.array([[0, 1.5, 0, 2], [0, 0, 0, 0], [3, 0, 0, 0.25]], dtype=np.float32))
    idx, val = steps.csr_blobs(x)
    y = steps.csr_of_blobs(idx, val, 4)
    assert (y != x).nnz == 0 and y.dtype == np.float32
    with pytest.raises(TypeError, match="float32 expected"):
        steps.csr_blobs(x.astype(np.float64))
    frame = steps.split_by_block(np.array([0, 0, 2]), codes=np.array([4, 7, 9]))
    assert frame["block"].tolist() == [0, 2]
    assert [np.frombuffer(b, np.int64).tolist() for b in frame["codes"]] == [[4, 7], [9]]


def test_duplicate_ids_after_the_first_position_are_rejected_as_in_memory():
    keys = pd.DataFrame(
        {"pos": [0, 1, 2, 3, 4], "id": ["a", "b", "a", "c", "c"], "reason": [None, None, None, "no text", None]}
    )
    keep, rejected = steps.accepted_rows(keys)
    assert keep.tolist() == [True, True, False, False, True]  # a rejected row's id stays free
    assert rejected == [(2, "a", "duplicate id: input positions 0 and 2 both use it"), (3, "c", "no text")]


def _partner_chain(sig: np.ndarray, params, block_size: int) -> np.ndarray:
    """The term view's pairs through the candidate and partner steps, run
    in-process (``view, band`` groups, blocks), as codes."""
    n = len(sig)
    view = steps.term_view(params)
    rank = np.arange(n, dtype=np.int64)
    keys = cand.band_keys(sig, sig.shape[1], 1)
    ts = np.zeros(n).tobytes()
    groups = [
        pd.DataFrame(
            {
                "view": [view],
                "band": [b],
                "keys": [np.ascontiguousarray(keys[:, b : b + 8]).tobytes()],
                "ranks": [rank.tobytes()],
                "ts": [ts],
            }
        )
        for b in range(0, sig.shape[1], 8)
    ]
    bucketed = pd.concat([steps.bucket_step(params, n, block_size)(g) for g in groups], ignore_index=True)
    merged = pd.concat([steps.merge_step(view)(g) for _, g in bucketed.groupby("block", sort=True)], ignore_index=True)
    rows = pd.DataFrame({"rank": rank, "term_sig": [r.tobytes() for r in sig]})
    sift = steps.sift_step(params, n, block_size, view)
    sifted = pd.concat([sift(rows, g) for _, g in merged.groupby("block", sort=True)], ignore_index=True)
    offers = sifted[sifted["kind"] == 1]
    chosen = pd.concat(
        [steps.partner_step(params, n, block_size)(g) for _, g in offers.groupby("block", sort=True)],
        ignore_index=True,
    )
    kept = pd.concat([sifted[sifted["kind"] == 0][["block", "codes"]], chosen], ignore_index=True)
    return np.sort(np.concatenate([steps.unblob(g["codes"], np.int64) for _, g in kept.groupby("block")]))


def test_blocks_cut_into_small_pieces_give_the_same_pairs(monkeypatch):
    """Every step reads a block's rows whatever the number of pieces its
    packed arrays were cut into."""
    from dedup import Params

    params = Params(max_partners=2, min_bands=1, time_window=None, max_bucket_size=6, bucket_neighbours=2)
    width = steps.view_signatures(params)[steps.term_view(params)][2]
    sig = _signatures(240, width, 5)
    whole = _partner_chain(sig, params, 50)
    monkeypatch.setattr(steps, "PIECE", 7)
    cut = _partner_chain(sig, params, 50)
    assert len(whole) > 100 and np.array_equal(np.unique(cut), np.unique(whole))
    piece = steps.pieces(3, a=np.arange(20, dtype=np.int64), b=np.arange(20, dtype=np.int32))
    assert len(piece) == 3 and steps.unblob(piece["b"], np.int32).tolist() == list(range(20))
    assert len(steps.pieces(4, a=np.zeros(0, np.int64))) == 1
