"""LSH banding: buckets, the cap, the partner rule, against brute force and datasketch."""

from __future__ import annotations

import numpy as np
import pytest

from dedup import Params
from dedup.sketch import _kernels as K
from dedup.sketch import lsh as cand
from dedup.synth import generate_articles


def _reference_top_partners(sig, bands, rows, valid, cap, nb, ts, window, k, keep_bands, min_bands=1):
    """Brute force: the pairs plain banding proposes that agree in min_bands
    bands or more, each row's k best by (bands in common desc, distance asc,
    partner asc), union of both sides, and every pair agreeing in keep_bands
    bands or more; k None: all of them."""
    from dedup.sketch import lsh as cand

    offered = cand.candidate_pairs(
        sig, bands, rows, valid=valid, max_bucket_size=cap, neighbours=nb, timestamps=ts, window_seconds=window
    )
    keys = cand.band_keys(sig, bands, rows)
    partners: dict[int, list[tuple[int, int, int]]] = {}
    sure = set()
    for i, j in offered.tolist():
        c = int((keys[i] == keys[j]).sum())
        if c < min_bands:
            continue
        if c >= keep_bands or k is None:
            sure.add((i, j))
        partners.setdefault(i, []).append((-c, abs(i - j), j))
        partners.setdefault(j, []).append((-c, abs(i - j), i))
    kept = sure if k is None else {(min(x, y), max(x, y)) for x, lst in partners.items() for _, _, y in sorted(lst)[:k]}
    kept |= sure
    return np.array(sorted(kept), dtype=np.int64).reshape(-1, 2)


@pytest.mark.parametrize(
    "rows,cap,times", [(1, 100, "sorted"), (1, 6, "sorted"), (1, 6, None), (2, 8, "shuffled"), (1, 5, "nan")]
)
def test_top_partner_pairs_equal_brute_force(rows, cap, times):
    from dedup.sketch import lsh as cand

    rng = np.random.default_rng(rows * 100 + cap)
    n, bands = 400, 24
    sig = rng.integers(0, 6, (n, bands * rows)).astype(np.uint32)  # many collisions, big buckets
    sig[:40] = sig[0]  # a group of copies: one big bucket in every band
    sig[7] = 0xFFFFFFFF  # an empty set
    valid = np.ones(n, dtype=bool)
    valid[9] = False
    ts = None
    if times is not None:
        ts = np.sort(rng.uniform(0, 100, n))
        if times == "shuffled":
            ts = rng.permutation(ts)
        if times == "nan":
            ts[-30:] = np.nan  # unknown times come last in canonical order
    cases = ((1, 10**6, 1), (3, 10**6, 1), (10, 10**6, 1), (1, 6, 1), (3, 9, 1), (3, 9, 4), (1, 6, 6), (3, 4, 7))
    for k, keep, least in (*cases, (None, 10**6, 1), (None, 10**6, 5)):
        got = cand.candidate_pairs(
            sig,
            bands,
            rows,
            valid=valid,
            max_bucket_size=cap,
            neighbours=3,
            timestamps=ts,
            window_seconds=None if ts is None else 20.0,
            max_partners=k,
            keep_bands=keep,
            min_bands=least,
        )
        window = None if ts is None else 20.0
        want = _reference_top_partners(sig, bands, rows, valid, cap, 3, ts, window, k, keep, least)
        assert np.array_equal(got, want), (k, keep, least, len(got), len(want))
        assert len(want) > 0
        assert not ({7, 9} & set(got.ravel().tolist()))


@pytest.mark.parametrize("rows,cap,times", [(1, 100, "sorted"), (1, 6, "sorted"), (2, 5, "shuffled"), (1, 5, "nan")])
def test_keyed_pairs_equal_plain_banding(rows, cap, times):
    """The band kernel over a few bands' keys finds exactly the pairs the
    numpy banding does (capped buckets, time window, each pair once)."""
    rng = np.random.default_rng(rows * 10 + cap)
    n, bands = 300, 16
    sig = rng.integers(0, 5, (n, bands * rows)).astype(np.uint32)
    sig[:30] = sig[0]  # copies: a big bucket in every band
    ts = np.sort(rng.uniform(0, 100, n))
    if times == "shuffled":
        ts = rng.permutation(ts)
    if times == "nan":
        ts[-25:] = np.nan
    for window in (None, 15.0):
        want = cand.candidate_pairs(
            sig, bands, rows, max_bucket_size=cap, neighbours=3, timestamps=ts, window_seconds=window
        )
        codes = cand.keyed_pairs(
            cand.band_keys(sig, bands, rows), max_bucket_size=cap, neighbours=3, timestamps=ts, window_seconds=window
        )
        assert len(want) > n
        assert np.array_equal(cand.code_pairs(codes, n), want), (window, len(codes), len(want))


def test_top_partner_pairs_keep_everything_when_rows_have_few_partners():
    from dedup.sketch import lsh as cand

    rng = np.random.default_rng(3)
    sig = rng.integers(0, 2**32, (300, 64), dtype=np.uint64).astype(np.uint32)
    sig[100:110] = sig[100]
    sig[200:203, :5] = 7
    plain = cand.candidate_pairs(sig, 64, 1)
    assert np.array_equal(cand.candidate_pairs(sig, 64, 1, max_partners=20), plain) and len(plain) > 40


@pytest.mark.parametrize("max_partners,cap", [(4, 100), (4, 6), (None, 100), (None, 6)])
def test_candidate_pairs_in_threads_equal_one_thread(monkeypatch, max_partners, cap):
    """Threads propose a band's pairs while the next band's buckets are
    sorted (marking its capped rows), or take whole bands (no partner cap):
    the pairs are those of one thread, with capped buckets too."""
    from dedup.sketch import lsh as cand

    rng = np.random.default_rng(4)
    n = 25_000  # above the size where threads are used
    sig = rng.integers(0, 3000, (n, 16)).astype(np.uint32)
    ts = np.sort(rng.uniform(0, 1000, n))
    kw = dict(timestamps=ts, window_seconds=50.0, max_partners=max_partners, keep_bands=2, max_bucket_size=cap)
    monkeypatch.setattr(cand, "usable_cpus", lambda: 2)  # threads even on one CPU
    many = cand.candidate_pairs(sig, 16, 1, **kw)
    monkeypatch.setattr(cand, "usable_cpus", lambda: 1)
    assert np.array_equal(cand.candidate_pairs(sig, 16, 1, **kw), many) and len(many) > n


@pytest.mark.parametrize("bands,rows", [(256, 1), (20, 5), (3, 7)])
def test_band_fingerprints_equal_the_band_keys_top_byte(bands, rows):
    from dedup.hashing import fmix64
    from dedup.sketch.lsh import band_keys

    rng = np.random.default_rng(bands)
    sig = rng.integers(0, 2**32, (300, 256), dtype=np.uint32)
    width = (bands + 7) // 8 * 8
    got = K.band_fingerprints(sig, bands, rows, width)
    want = np.zeros((300, width), np.uint8)
    want[:, :bands] = (fmix64(band_keys(sig, bands, rows)) >> np.uint64(56)).astype(np.uint8)
    assert np.array_equal(got, want)


def test_solved_rows_are_what_the_integration_gives():
    """The default parameters' rows, kept solved, are optimal_params' own
    answer; the defaults use them, other parameters are solved as before."""
    p = Params()
    assert (p.lsh_threshold, p.num_perm, 0.9) in cand.SOLVED_ROWS
    assert (p.copy_threshold, p.num_perm, 0.5) in cand.SOLVED_ROWS
    for (threshold, num_perm, recall), rows in cand.SOLVED_ROWS.items():
        assert cand.optimal_params(threshold, num_perm, 1.0 - recall, recall)[1] == rows
    assert cand.lsh_params(0.5, 64, 0.5) == (
        64 // cand.optimal_params(0.5, 64, 0.5, 0.5)[1],
        cand.optimal_params(0.5, 64, 0.5, 0.5)[1],
    )


def test_numpy_candidates_equal_datasketch_lsh_when_uncapped():
    docs = list(generate_articles(300, seed=5))
    from dedup.article import prepare_articles
    from dedup.batch import compute_features

    arts, _ = prepare_articles(docs)
    p = Params()
    _, feats = compute_features(arts, p)
    for sig, thr, rw in (
        (feats.term_signatures, p.lsh_threshold, 0.9),
        (feats.shingle_signatures, p.copy_threshold, 0.5),
    ):
        b, r = cand.lsh_params(thr, p.num_perm, recall_weight=rw)
        ours = cand.candidate_pairs(sig, b, r, max_bucket_size=10**9)
        theirs = cand.datasketch_candidates(sig, b, r, seed=p.random_state)
        assert np.array_equal(ours, theirs)
        assert len(ours) > 0


@pytest.mark.slow  # minutes on a loaded 2-core machine
def test_candidate_pairs_are_the_same_when_found_pairs_are_merged_in_steps():
    rng = np.random.default_rng(0)
    sig = rng.integers(0, 50, (3000, 128)).astype(np.uint32)  # many collisions: many pairs
    pairs = cand.candidate_pairs(sig, 128, 1, max_bucket_size=10_000)
    keys = cand.band_keys(sig, 128, 1)
    ref = set()
    for b in range(128):
        _, inv = np.unique(keys[:, b], return_inverse=True)
        for g in np.unique(inv):
            m = np.flatnonzero(inv == g)
            ref.update((int(m[i]), int(m[j])) for i in range(len(m)) for j in range(i + 1, len(m)))
    assert len(pairs) > 4 * 3000 and set(map(tuple, pairs.tolist())) == ref


def test_bands_in_common_counts_equal_bands():
    sig = np.array([[1, 2, 3, 4, 5, 6], [1, 2, 0, 4, 5, 0], [9, 9, 9, 9, 9, 9]], dtype=np.uint32)
    pairs = np.array([[0, 1], [0, 2], [0, 0]])
    assert cand.bands_in_common(sig, pairs, 3, 2).tolist() == [1, 0, 3]  # bands (1,2) (3,4) (5,6)
    assert cand.bands_in_common(sig, pairs, 6, 1).tolist() == [4, 0, 6]


@pytest.mark.parametrize(("bands", "rows"), [(24, 1), (13, 3), (256, 1), (32, 8)])
def test_bands_in_common_equal_a_count_over_the_signature_values(bands, rows):
    rng = np.random.default_rng(bands + rows)
    sig = rng.integers(0, 3, (200, bands * rows + 5)).astype(np.uint32)  # many equal bands
    sig[50:60] = sig[50]
    pairs = rng.integers(0, 200, (3000, 2))
    a = sig[pairs[:, 0], : bands * rows].reshape(-1, bands, rows)
    b = sig[pairs[:, 1], : bands * rows].reshape(-1, bands, rows)
    want = (a == b).all(axis=2).sum(axis=1)
    got = cand.bands_in_common(sig, pairs, bands, rows)
    assert got.dtype == np.int32 and np.array_equal(got, want) and want.max() == bands
    with pytest.raises(ValueError, match="exceeds the signature length"):
        cand.bands_in_common(sig, pairs, bands + 6, rows)


@pytest.mark.parametrize("dtype", [np.uint32, np.uint64])
def test_signed_members_equal_signed_rows(dtype):
    from dedup.sketch.minhash import EMPTY, signed

    rng = np.random.default_rng(11)
    sig = rng.integers(0, 50, (300, 16)).astype(dtype)
    sig[rng.random((300, 16)) < 0.6] = EMPTY  # rows partly EMPTY
    sig[::7] = EMPTY  # rows wholly EMPTY: an empty set
    members = np.flatnonzero(rng.random(300) < 0.8)
    want = members[signed(sig[members])]
    got = K.signed_members(sig, members)
    assert np.array_equal(got, want) and 0 < len(want) < len(members)


def _fingerprint_alikes(groups: int, size: int) -> np.ndarray:
    """``groups`` rows of ``size`` distinct one-row band values, the values
    of a row sharing one fingerprint byte (the top byte of fmix64)."""
    from dedup.hashing import fmix64

    values = np.arange(1, 50_000, dtype=np.uint64)
    top = fmix64(values) >> np.uint64(56)
    return np.stack([values[top == g][:size] for g in range(groups)]).astype(np.uint32)


@pytest.mark.parametrize("least", [2, 4, 6])
def test_propose_band_leaves_out_pairs_below_least_bands_despite_equal_fingerprints(least):
    """Rows whose band values differ but whose fingerprints agree (the band
    kernel's first filter passes them) still count only the bands whose
    values agree: ``propose_band`` with ``least`` gives exactly the pairs of
    ``least=1`` that agree in ``least`` bands or more."""
    rng = np.random.default_rng(least)
    n, bands = 120, 32
    alike = _fingerprint_alikes(bands, 12)
    sig = alike[np.arange(bands), rng.integers(0, 12, (n, bands))]  # fingerprints agree in every band, values seldom
    sig[:, 0] = rng.integers(0, 4, n)  # band 0 buckets the rows
    members = np.arange(n, dtype=np.int64)
    fp = cand._fingerprints(sig, bands, 1)
    assert (cand._kernels.common_bands(np.array([[0, 1]]), fp, sig, bands, 1) < bands).all()
    order = np.argsort(sig[:, 0], kind="stable")
    keys = sig[order, 0]
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]])).astype(np.int64)
    args = (200, 8, np.zeros(n), -1.0, False, fp, sig, bands, 1, 0, np.zeros((n, 4), np.uint8))
    every = K.propose_band(members[order], starts, 0, len(starts), *args, 1)
    some = K.propose_band(members[order], starts, 0, len(starts), *args, least)
    want = every[every[:, 2] >= least]
    assert len(want) > 50 and len(want) < len(every)
    assert np.array_equal(some, want)
    pairs = every[:, :2]
    brute = (sig[pairs[:, 0]] == sig[pairs[:, 1]]).sum(axis=1)
    assert np.array_equal(every[:, 2], brute)


def test_best_partners_ranks_by_bands_then_distance_then_lower_row():
    x = np.array([5, 5, 5, 5, 7])
    y = np.array([1, 9, 4, 6, 5])
    c = np.array([2, 2, 1, 1, 3])
    kx, ky = cand.best_partners(x, y, c, 3)
    assert sorted(zip(kx.tolist(), ky.tolist(), strict=True)) == [(5, 1), (5, 4), (5, 9), (7, 5)]
    kx, ky = cand.best_partners(x, y, c, 1)
    assert sorted(zip(kx.tolist(), ky.tolist(), strict=True)) == [(5, 1), (7, 5)]  # 1 and 9 tie at distance 4


@pytest.mark.parametrize("n_keys", [3, 40, 5000])
def test_band_buckets_are_the_buckets_of_two_or_more_and_propose_the_same_pairs(n_keys):
    """``_band_buckets`` hands on only the buckets with two rows or more (back
    to back, rows ascending within each); the band kernel, which reads ahead
    along them, proposes from them exactly what it proposes from every
    bucket, singletons included, in the same order."""
    rng = np.random.default_rng(n_keys)
    n, bands = 3000, 8
    sig = rng.integers(0, n_keys, (n, bands)).astype(np.uint32)
    members = np.flatnonzero(rng.random(n) < 0.9).astype(np.int64)
    big = np.zeros((n, 1), np.uint8)
    got = cand._band_buckets(sig[members, 2:3], members, 50, big, 2)
    keys = sig[members, 2]
    sizes = np.bincount(keys, minlength=n_keys)
    if (sizes < 2).all():
        assert got is None
        return
    idx, starts = got
    bounds = np.append(starts, len(idx))
    for s, e in zip(bounds[:-1], bounds[1:], strict=True):
        assert e - s >= 2 and len(set(keys[np.searchsorted(members, idx[s:e])])) == 1
        assert (np.diff(idx[s:e]) > 0).all()
    assert sorted(idx.tolist()) == sorted(members[sizes[keys] >= 2].tolist())
    assert ((big[:, 0] & 4) > 0).sum() == int(sizes[sizes > 50].sum())
    order = members[np.argsort(keys, kind="stable")]
    s_keys = sig[order, 2]
    every = np.flatnonzero(np.concatenate([[True], s_keys[1:] != s_keys[:-1]])).astype(np.int64)
    fp = cand._fingerprints(sig, bands, 1)
    args = (50, 8, np.zeros(n), -1.0, False, fp, sig, bands, 1, 2, np.zeros((n, 1), np.uint8), 1)
    want = K.propose_band(order, every, 0, len(every), *args)
    assert len(want) and np.array_equal(K.propose_band(idx, starts, 0, len(starts), *args), want)
