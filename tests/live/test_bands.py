"""Band arithmetic of the live index against the published behaviour it mirrors:
datasketch's MinHashLSH bands and rows, and the batch's partner rule."""

from __future__ import annotations

import numpy as np
import pytest

from dedup import Params
from dedup.live.bands import colliding, lsh_bands, lsh_params, optimal_params, partner_rule
from dedup.sketch import lsh as cand


@pytest.mark.parametrize("threshold", [0.1, 0.3, 0.5, 0.6, 0.9])
@pytest.mark.parametrize("num_perm", [16, 64])
@pytest.mark.parametrize("weights", [(0.5, 0.5), (0.1, 0.9), (0.3, 0.7)])
def test_optimal_params_are_datasketchs(threshold, num_perm, weights):
    """The public ``b`` and ``r`` attributes of ``MinHashLSH(threshold, num_perm, weights)``."""
    from datasketch import MinHashLSH

    mine = optimal_params(threshold, num_perm, *weights)
    try:
        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=weights)
    except ValueError as exc:  # datasketch refuses a single band
        assert "b < 2" in str(exc) and mine[0] < 2
        return
    assert mine == (lsh.b, lsh.r)


def test_default_views_are_the_batchs():
    """The live index bands its two views as the batch does (at the default 256 permutations)."""
    from datasketch import MinHashLSH

    p = Params()
    (tb, tr), (sb, sr) = lsh_bands(p)
    assert (tb * tr, sb * sr) == (p.num_perm, p.num_perm)
    assert tr == MinHashLSH(threshold=p.lsh_threshold, num_perm=p.num_perm, weights=(0.1, 0.9)).r
    assert sr == MinHashLSH(threshold=p.copy_threshold, num_perm=p.num_perm, weights=(0.5, 0.5)).r
    assert lsh_params(0.5, 64, recall_weight=0.5) == cand.lsh_params(0.5, 64, recall_weight=0.5)


def test_bad_threshold_and_weight_are_named():
    with pytest.raises(ValueError, match="threshold"):
        optimal_params(0.0, 16)
    with pytest.raises(ValueError, match="recall_weight"):
        lsh_params(0.5, 16, recall_weight=1.0)


@pytest.mark.parametrize("max_partners", [1, 3, 8])
def test_partner_rule_keeps_the_batchs_pairs(max_partners):
    """Among rows in sequence order, the partner rule keeps exactly the pairs
    :func:`dedup.sketch.lsh.top_partner_pairs` keeps (no bucket cap, no window)."""
    rng = np.random.default_rng(max_partners)
    n, bands = 70, 24
    sigs = rng.integers(0, 6, (n, bands)).astype(np.uint32)
    keys = cand.band_keys(sigs, bands, 1)
    common = (keys[:, None, :] == keys[None, :, :]).sum(axis=2)
    hit = common > 0
    np.fill_diagonal(hit, False)
    kept = partner_rule(common, hit, np.arange(n), max_partners) & hit
    got = np.argwhere(np.triu(kept, 1))
    want = cand.top_partner_pairs(sigs, bands, 1, np.arange(n), max_partners, max_bucket_size=10**6)
    assert got.tolist() == want.tolist()
    assert 0 < len(want) < hit.sum() // 2  # the rule dropped some pairs


@pytest.mark.parametrize(("max_partners", "min_bands"), [(1, 1), (4, 1), (4, 2)])
def test_partner_lists_of_a_feed_in_time_order_are_the_batchs(max_partners, min_bands):
    """Fed in time order (buckets uncapped), the stored partner lists keep
    exactly the term-view pairs :func:`dedup.sketch.lsh.top_partner_pairs`
    keeps for the same signatures in seq order (pairs agreeing in fewer
    than ``min_bands`` bands offered to neither)."""
    from dedup import StoryIndex
    from dedup.live.memory import MemoryState
    from dedup.synth import generate_articles

    params = Params(max_partners=max_partners, min_bands=min_bands, max_bucket_size=10**6, time_window=None)
    state = MemoryState(params)
    index = StoryIndex(params, state=state)
    for a in generate_articles(160, seed=3):
        index.add(a)
    live = sorted((e for e in state.entries.values() if e.live), key=lambda e: e.seq)
    sigs = np.stack([e.term_sig for e in live])
    (tb, tr), _ = lsh_bands(params)
    n = len(live)
    common = cand.bands_in_common(sigs, np.argwhere(np.ones((n, n), dtype=bool)), tb, tr).reshape(n, n)
    pos = {e.seq: i for i, e in enumerate(live)}
    kept = common >= cand.KEEP_BANDS
    for i, e in enumerate(live):
        kept[i, [pos[s] for s in e.partners if s in pos]] = True
    kept &= (common >= min_bands) & ~np.eye(len(live), dtype=bool)
    got = np.argwhere(np.triu(kept | kept.T, 1))
    want = cand.top_partner_pairs(
        sigs, tb, tr, np.arange(len(live)), max_partners, max_bucket_size=10**6, min_bands=min_bands
    )
    assert got.tolist() == want.tolist()
    assert len(want) < np.triu(common > 0, 1).sum()  # the rule dropped some pairs


@pytest.mark.parametrize(("max_partners", "min_bands"), [(None, 5), (50, 5), (50, 3)])
def test_plan_partners_drops_term_pairs_with_too_few_bands(max_partners, min_bands):
    """A term-view candidate agreeing in fewer than ``min_bands`` bands is not
    scored (with the partner rule or without it); one the shingle view also
    proposed is, whatever its bands. Partner lists are kept only where they
    can drop a pair (``min_bands`` below ``KEEP_BANDS``)."""
    from dedup.live.decide import plan_partners
    from dedup.live.records import Entry

    rng = np.random.default_rng(2)
    params = Params(max_partners=max_partners, min_bands=min_bands, time_window=None)
    (tb, tr), _ = lsh_bands(params)
    me = rng.integers(0, 2**32, tb * tr, dtype=np.uint64).astype(np.uint32)
    entries, agree = [], []
    for s in range(12):
        sig = rng.integers(0, 2**32, tb * tr, dtype=np.uint64).astype(np.uint32)
        sig[: 2 * s] = me[: 2 * s]  # agrees in 2s one-row bands
        entries.append(Entry(seq=s, id=str(s), story=str(s), version=str(s), ts=float("nan"), term_sig=sig))
        agree.append(2 * s)
    by_term = np.ones(12, dtype=bool)
    by_shingle = np.zeros(12, dtype=bool)
    by_shingle[1] = True  # one band only, but a copy-view pair
    plan = plan_partners(params, 12, me, entries, by_term, by_shingle)
    assert plan.keep.tolist() == [c >= min_bands or s == 1 for s, c in enumerate(agree)]
    if min_bands < cand.KEEP_BANDS:
        assert set(plan.own) == {s for s, c in enumerate(agree) if c >= min_bands}
    else:
        assert plan.own is None


@pytest.mark.parametrize("min_bands", [1, 3, 7])
def test_colliding_term_pairs_need_min_bands(min_bands):
    """Re-clustering reads the pairs the batch scores: in the term view,
    those agreeing in ``min_bands`` bands or more."""
    rng = np.random.default_rng(min_bands)
    params = Params(max_partners=None, min_bands=min_bands)
    (tb, tr), (sb, sr) = lsh_bands(params)
    n = 30
    term = rng.integers(0, 60, (n, tb * tr)).astype(np.uint32)  # about 4 chance agreements a pair
    shingle = rng.integers(0, 2**32, (n, sb * sr), dtype=np.uint64).astype(np.uint32)  # none
    common = cand.bands_in_common(term, np.argwhere(np.ones((n, n), dtype=bool)), tb, tr).reshape(n, n)
    got = colliding(params, term, shingle)
    want = common >= min_bands
    assert np.array_equal(got & ~np.eye(n, dtype=bool), want & ~np.eye(n, dtype=bool))
    assert 0 < want.sum() < n * n


@pytest.mark.parametrize(("bands", "rows"), [(256, 1), (32, 8)])
def test_common_bands_of_a_neighbourhood_count_every_ordered_pair(bands, rows):
    """The re-clustering's matrix of bands in common, counted once per pair,
    equals bands_in_common over every ordered pair (the diagonal included),
    with empty signatures among the rows."""
    from dedup.live.bands import _common_bands
    from dedup.sketch.minhash import EMPTY

    rng = np.random.default_rng(4)
    for n in (1, 2, 9, 25):
        sig = rng.integers(0, 3, (n, 256)).astype(np.uint32)
        sig[n // 2] = EMPTY
        want = cand.bands_in_common(sig, np.argwhere(np.ones((n, n), dtype=bool)), bands, rows).reshape(n, n)
        got = _common_bands(sig, bands, rows)
        assert got.dtype == want.dtype and np.array_equal(got, want)
