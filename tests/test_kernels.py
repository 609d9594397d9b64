"""The compiled kernels give exactly what the numpy/scipy code they replace gives."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from dedup import _kernels as K
from dedup.minhash import (
    _oph_signatures_numpy,
    _signatures_numpy,
    estimate_jaccard,
    oph_signatures,
    pair_jaccard,
    signatures,
)
from dedup.normalize import tokenize
from dedup.shingle import _hash_tokens_dict, _ngram_hashes_numpy, hash_texts, hash_tokens, ngram_hashes
from dedup.verify import pair_cosine, row_kth_largest, top_terms


def _ragged(seed: int, n: int = 60, max_len: int = 300, dtype=np.uint64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, max_len, n)
    lengths[:6] = [0, 1, 2, 3, 4, 0]  # empty and short sets, two empties
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    hi = 2**64 if dtype == np.uint64 else 2**32
    values = rng.integers(0, hi, offsets[-1], dtype=np.uint64).astype(dtype)
    return values, offsets


def _same_batch(a, b) -> None:
    assert np.array_equal(a.hashes, b.hashes) and a.hashes.dtype == b.hashes.dtype
    assert np.array_equal(a.ids, b.ids) and np.array_equal(a.offsets, b.offsets)
    assert a.vocab == b.vocab


_WORDS = ["u.s", "peace-making", "1,000", "john's", "it's", "a", "z9", "x", "-", "'", ".", ",", "1,a", "a,1",
          "e.g.", "--", "...", "3.5", "o'neil", "don't", "x-", "-y", "'q'", "a.b.c", "9,9,9", "9,", ",9", "rock'n'roll"]


def _random_texts(seed: int, n: int = 80) -> list[str]:
    rng = np.random.default_rng(seed)
    seps = [" ", "  ", "\n", "\t", ", ", ". ", "; ", "! ", "(", ")", "\"", "_", "/", "\x1f", "\x00", "A"]
    out = []
    for i in range(n):
        k = int(rng.integers(0, 60))
        parts = []
        for _ in range(k):
            parts.append(_WORDS[rng.integers(len(_WORDS))] if rng.random() < 0.5
                         else "".join(rng.choice(list("abcxyz019'.-,"), rng.integers(1, 6))))
            parts.append(seps[rng.integers(len(seps))])
        out.append("".join(parts))
    out[0] = ""
    out[1] = "   "
    out[2] = "münchen straße 東京 tokyo's ü-x 1,000"  # not ASCII: the regex tokenises it
    out[3] = "kyiv\ud800 x"  # a lone surrogate
    out[4] = ",,,'''"  # no token
    return out


def test_hash_texts_equals_tokenize_then_hash_tokens():
    texts = _random_texts(0)
    lists = [tokenize(t) for t in texts]
    batch, digests = hash_texts(texts)
    _same_batch(batch, _hash_tokens_dict(lists))
    want = [hashlib.blake2b("\x1f".join(t).encode("utf-8", "surrogatepass"), digest_size=8).digest() for t in lists]
    assert digests == want
    assert sum(map(len, lists)) > 500


def test_factorize_compares_bytes_when_keys_collide():
    texts = _random_texts(9)
    buf = np.frombuffer("".join(texts).encode("utf-8", "surrogatepass"), np.uint8)
    enc = [t.encode("utf-8", "surrogatepass") for t in texts]
    off = np.concatenate([[0], np.cumsum([len(e) for e in enc])]).astype(np.int64)
    pretok = np.array([not t.isascii() for t in texts])
    joined, _, _, starts, ends, keys = K.token_spans(buf, off, pretok)
    want = K.factorize_spans(joined, starts, ends, keys)
    for bad in (np.zeros_like(keys), keys & np.uint64(7), keys | np.uint64(0xFFFFFFFF << 32)):
        got = K.factorize_spans(joined, starts, ends, bad)  # every key alike, or few distinct
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    assert len(want[1]) > 100


def test_hash_texts_on_no_texts_and_only_empty_texts():
    batch, digests = hash_texts([])
    assert batch.n_docs == 0 and len(batch.hashes) == 0 and digests == []
    batch, digests = hash_texts(["", "..."])
    _same_batch(batch, _hash_tokens_dict([[], []]))
    assert len(digests) == 2


def test_hash_tokens_equals_the_dict_path_including_awkward_tokens():
    lists = [tokenize(t) for t in _random_texts(1)]
    _same_batch(hash_tokens(lists), _hash_tokens_dict(lists))
    for odd in ([["a", "", "b"], []], [["a\x1fb"], ["a", "b"]], [["a\x1fb", ""]], [[]], []):
        _same_batch(hash_tokens(odd), _hash_tokens_dict(odd))


def test_hash_texts_takes_texts_and_token_lists_mixed():
    texts = _random_texts(2)
    items = [t if i % 3 else tokenize(t) for i, t in enumerate(texts)]
    lists = [tokenize(t) for t in texts]
    batch, digests = hash_texts(items)
    _same_batch(batch, _hash_tokens_dict(lists))
    assert digests == hash_texts(texts)[1]
    items[7] = ["x", ""]  # an empty token: the dict path, same result
    lists[7] = ["x", ""]
    batch, digests = hash_texts(items)
    _same_batch(batch, _hash_tokens_dict(lists))
    assert digests[7] == hashlib.blake2b(b"x\x1f", digest_size=8).digest()


@pytest.mark.parametrize("n", [2, 3, 5])
def test_ngram_hashes_equal_numpy(n):
    h, off = _ragged(2)
    got, got_off = ngram_hashes(h, off, n)
    want, want_off = _ngram_hashes_numpy(h, off, n)
    assert np.array_equal(got, want) and np.array_equal(got_off, want_off)


def test_oph_and_affine_signatures_equal_numpy():
    h, off = _ragged(3)
    for k, seed in ((128, 1), (256, 7), (7, 3)):
        assert np.array_equal(oph_signatures(h, off, num_perm=k, seed=seed),
                              _oph_signatures_numpy(h, off, num_perm=k, seed=seed, chunk_elements=500))
    v, off = _ragged(4, dtype=np.uint32)
    v[:10] = 0xFFFFFFFF
    for k, seed in ((256, 1), (64, 7)):
        assert np.array_equal(signatures(v, off, num_perm=k, seed=seed),
                              _signatures_numpy(v, off, num_perm=k, seed=seed, chunk_elements=3000))
    # no documents, or no values
    assert signatures(np.zeros(0, np.uint32), np.zeros(1, np.int64)).shape == (0, 128)
    assert (oph_signatures(np.zeros(0, np.uint64), np.zeros(3, np.int64)) == 0xFFFFFFFF).all()


def test_oph_densifies_sparse_rows_like_numpy():
    rng = np.random.default_rng(5)
    lengths = np.array([1, 2, 5, 30, 0, 1])  # few elements: most bins borrowed
    off = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    h = rng.integers(0, 2**64, off[-1], dtype=np.uint64)
    assert np.array_equal(oph_signatures(h, off, num_perm=256), _oph_signatures_numpy(h, off, num_perm=256))


def test_pair_jaccard_equals_estimate_jaccard():
    rng = np.random.default_rng(6)
    sig = rng.integers(0, 4, (50, 64)).astype(np.uint32)
    sig[3] = 0xFFFFFFFF  # empty set
    pairs = rng.integers(0, 50, (400, 2))
    pairs[0] = (3, 4)
    pairs[1] = (5, 3)
    want = estimate_jaccard(sig[pairs[:, 0]], sig[pairs[:, 1]])
    assert np.array_equal(pair_jaccard(sig, pairs), want)
    assert len(pair_jaccard(sig, np.zeros((0, 2), np.int64))) == 0


def _scipy_cosine(x: sp.csr_matrix, pairs: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(x[pairs[:, 0]].multiply(x[pairs[:, 1]]).sum(axis=1)).ravel().astype(np.float64), 0, 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pair_cosine_is_bit_identical_to_scipy(dtype):
    rng = np.random.default_rng(7)
    # long rows sharing many columns (pairwise summation beyond 128 terms),
    # short rows, empty rows, disjoint rows
    dense = np.zeros((40, 3000), dtype=dtype)
    for i in range(40):
        width = [0, 1, 5, 50, 400, 2500][i % 6]
        cols = rng.choice(3000, width, replace=False)
        dense[i, cols] = rng.random(width)
    x = normalize(sp.csr_matrix(dense), norm="l2").astype(dtype)
    x.sort_indices()
    pairs = np.array([(i, j) for i in range(40) for j in range(i + 1, 40)], dtype=np.int64)
    got = pair_cosine(x, pairs)
    assert np.array_equal(got, _scipy_cosine(x, pairs))
    assert np.array_equal(got, pair_cosine(x, pairs[:, ::-1]))  # a product commutes: same order
    assert len(pair_cosine(x, np.zeros((0, 2), np.int64))) == 0


def test_pair_cosine_in_threads_equals_one_block():
    x = normalize(sp.random(3000, 800, density=0.05, format="csr", random_state=2, dtype=np.float32))
    rng = np.random.default_rng(0)
    pairs = rng.integers(0, 3000, (120_000, 2))
    ind = x.indptr.astype(np.int64)
    whole = K.pair_dot(ind, x.indices, x.data, pairs)
    assert np.array_equal(K.run_split(lambda p: K.pair_dot(ind, x.indices, x.data, p), pairs, min_block=1000), whole)
    assert np.array_equal(pair_cosine(x, pairs), _scipy_cosine(x, pairs))


def test_pair_cosine_of_pairs_grouped_by_row_equals_the_merge_bit_for_bit():
    # grouped pairs go through a table of the first row's columns; columns
    # spaced to collide in it, rows met again after other rows, long rows
    rng = np.random.default_rng(3)
    n, width = 300, 400
    rows = []
    for i in range(n):
        k = int(rng.integers(1, width))
        cols = np.sort(rng.choice(1 << 22, k, replace=False)) if i % 3 else np.arange(k) * (1 << 16)
        rows.append(cols)
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum([len(c) for c in rows], out=indptr[1:])
    x = sp.csr_matrix((rng.random(indptr[-1]).astype(np.float32), np.concatenate(rows), indptr), shape=(n, 1 << 22))
    x = normalize(x)
    pairs = rng.integers(0, n, (20_000, 2))
    pairs = pairs[np.argsort(pairs[:, 0] // 7, kind="stable")]  # runs of one row, each row in several runs
    got = pair_cosine(x, pairs)
    assert np.array_equal(got, _scipy_cosine(x, pairs))
    single = np.concatenate([pair_cosine(x, pairs[k : k + 1]) for k in range(0, 2000)])  # no runs: the merge
    assert np.array_equal(single, got[:2000])
    assert (got > 0).sum() > 1000  # the pairs do share columns


def test_pair_cosine_of_non_canonical_rows_falls_back():
    x = sp.csr_matrix((np.array([0.6, 0.8, 1.0], np.float32), np.array([3, 1, 1]), np.array([0, 2, 3])), shape=(2, 5))
    assert not x.has_sorted_indices
    assert np.allclose(pair_cosine(x, np.array([[0, 1]])), [0.8])


def test_row_kth_largest_and_top_terms_against_sorting():
    x = sp.random(200, 500, density=0.2, format="csr", random_state=3, dtype=np.float32)
    x.data = np.round(x.data * 5).astype(np.float32)  # many ties
    x = x.tolil()
    x[49, :] = 0  # an empty row
    x = x.tocsr()
    for k in (1, 3, 60, 500):
        kth = row_kth_largest(x.indptr, x.data, k)
        vals, offs = top_terms(x, k)
        for i in range(x.shape[0]):
            row = x.data[x.indptr[i] : x.indptr[i + 1]]
            cols = x.indices[x.indptr[i] : x.indptr[i + 1]]
            want = np.sort(row)[::-1][k - 1] if len(row) > k else -np.inf
            assert kth[i] == want
            order = np.lexsort((cols, -row))[:k]
            assert vals[offs[i] : offs[i + 1]].tolist() == cols[order].tolist()
        assert vals.dtype == np.uint32


def test_term_counts_equal_feature_counts():
    from dedup.verify import feature_counts

    lists = [tokenize(t) for t in _random_texts(8)]
    lists[5] = ["alone"]  # one token: one "bigram" of itself
    batch = _hash_tokens_dict(lists)
    for n_features in (2**21, 64):
        want = feature_counts(batch, n_features)
        indptr, indices, data = K.term_counts(batch.hashes, batch.offsets, np.uint64(n_features - 1))
        got = sp.csr_matrix((data, indices, indptr), shape=want.shape)
        assert np.array_equal(got.indptr, want.indptr) and np.array_equal(got.indices, want.indices)
        assert np.array_equal(got.data, want.data) and got.data.dtype == want.data.dtype


# --- candidates: each row's best partners ----------------------------------------

def _reference_top_partners(sig, bands, rows, valid, cap, nb, ts, window, k, keep_bands):
    """Brute force: the pairs plain banding proposes, each row's k best by
    (bands in common desc, distance asc, partner asc), union of both sides,
    and every pair agreeing in keep_bands bands or more."""
    from dedup import candidates as cand

    n = len(sig)
    offered = cand.candidate_pairs(sig, bands, rows, valid=valid, max_bucket_size=cap, neighbours=nb,
                                   timestamps=ts, window_seconds=window)
    keys = cand.band_keys(sig, bands, rows)
    partners: dict[int, list[tuple[int, int, int]]] = {}
    sure = set()
    for i, j in offered.tolist():
        c = int((keys[i] == keys[j]).sum())
        if c >= keep_bands:
            sure.add((i, j))
        partners.setdefault(i, []).append((-c, abs(i - j), j))
        partners.setdefault(j, []).append((-c, abs(i - j), i))
    kept = {(min(x, y), max(x, y)) for x, lst in partners.items() for _, _, y in sorted(lst)[:k]} | sure
    return np.array(sorted(kept), dtype=np.int64).reshape(-1, 2)


@pytest.mark.parametrize("rows,cap,times", [(1, 100, "sorted"), (1, 6, "sorted"), (1, 6, None), (2, 8, "shuffled"),
                                            (1, 5, "nan")])
def test_top_partner_pairs_equal_brute_force(rows, cap, times):
    from dedup import candidates as cand

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
    for k, keep in ((1, 10**6), (3, 10**6), (10, 10**6), (1, 6), (3, 9)):
        got = cand.candidate_pairs(sig, bands, rows, valid=valid, max_bucket_size=cap, neighbours=3,
                                   timestamps=ts, window_seconds=None if ts is None else 20.0, max_partners=k,
                                   keep_bands=keep)
        want = _reference_top_partners(sig, bands, rows, valid, cap, 3, ts, None if ts is None else 20.0, k, keep)
        assert np.array_equal(got, want), (k, keep, len(got), len(want))
        assert not ({7, 9} & set(got.ravel().tolist()))


def test_top_partner_pairs_keep_everything_when_rows_have_few_partners():
    from dedup import candidates as cand

    rng = np.random.default_rng(3)
    sig = rng.integers(0, 2**32, (300, 64), dtype=np.uint64).astype(np.uint32)
    sig[100:110] = sig[100]
    sig[200:203, :5] = 7
    plain = cand.candidate_pairs(sig, 64, 1)
    assert np.array_equal(cand.candidate_pairs(sig, 64, 1, max_partners=20), plain) and len(plain) > 40


def test_top_partner_pairs_in_threads_equal_one_thread(monkeypatch):
    import os

    from dedup import candidates as cand

    rng = np.random.default_rng(4)
    n = 25_000  # above the size where threads are used
    sig = rng.integers(0, 3000, (n, 16)).astype(np.uint32)
    ts = np.sort(rng.uniform(0, 1000, n))
    kw = dict(timestamps=ts, window_seconds=50.0, max_partners=4, keep_bands=2)
    many = cand.candidate_pairs(sig, 16, 1, **kw)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert np.array_equal(cand.candidate_pairs(sig, 16, 1, **kw), many) and len(many) > n


def _neighbour_similarity_by_sorting(pairs, sims, n, k):
    """The reference: both directions of every pair sorted by (row,
    -similarity, column), each row's first k kept, made symmetric."""
    from dedup.verify import _max_duplicates

    rows = np.concatenate([pairs[:, 0], pairs[:, 1]])
    cols = np.concatenate([pairs[:, 1], pairs[:, 0]])
    vals = np.concatenate([sims, sims]).astype(np.float64)
    keep = vals > 0
    rows, cols, vals = rows[keep], cols[keep], vals[keep]
    order = np.lexsort((cols, -vals, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    top = (np.arange(len(rows)) - np.searchsorted(rows, rows, side="left")) < k
    rows, cols, vals = rows[top], cols[top], vals[top]
    w = _max_duplicates(np.concatenate([rows, cols, np.arange(n)]), np.concatenate([cols, rows, np.arange(n)]),
                        np.concatenate([vals, vals, np.ones(n)]), n)
    return pair_cosine(normalize(w, norm="l2"), pairs)


@pytest.mark.parametrize("seed", range(6))
def test_neighbour_similarity_equals_sorting_every_pair(seed):
    from dedup.verify import neighbour_similarity

    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 400))
    p = np.unique(np.sort(rng.integers(0, n, (int(rng.integers(1, 4000)), 2)), axis=1), axis=0)
    p = p[p[:, 0] < p[:, 1]]
    sims = np.round(rng.random(len(p)) - 0.2, 2)  # ties, zeros and negatives
    k = int(rng.integers(1, 12))
    assert np.array_equal(neighbour_similarity(p, sims, n, k), _neighbour_similarity_by_sorting(p, sims, n, k))


def test_compiled_pruning_equals_the_numpy_expressions():
    from dedup import Params
    from dedup.pipeline import prior_of, article_tokens, prepare_articles, prune_counts
    from dedup.shingle import hash_texts
    from dedup.synth import generate_articles
    from dedup.verify import feature_counts

    arts, _ = prepare_articles(generate_articles(300, seed=4))
    tokens, _ = hash_texts([article_tokens(a) for a in arts])
    counts = feature_counts(tokens, 1 << 21)
    assert counts.dtype == np.float32
    for max_terms in (1, 50, 300):
        p = Params(max_terms=max_terms)
        fast, fast_dropped = prune_counts(counts, prior_of(p), p.background_docs, max_terms)
        slow, slow_dropped = prune_counts(counts.astype(np.float64), prior_of(p), p.background_docs, max_terms)
        assert np.array_equal(fast.indptr, slow.indptr) and np.array_equal(fast.indices, slow.indices)
        assert np.array_equal(fast.data, slow.data) and np.array_equal(fast_dropped, slow_dropped)
        assert (np.diff(fast.indptr) == np.minimum(np.diff(counts.indptr), max_terms)).all()
        assert (fast_dropped > 0).sum() == (np.diff(counts.indptr) > max_terms).sum()


@pytest.mark.parametrize("bits", [0, 12, 32, 47, 64])
def test_radix_argsort_equals_numpys_stable_argsort(bits):
    rng = np.random.default_rng(bits)
    n = 5000
    if bits == 64:
        keys = rng.integers(0, 2**63, n, dtype=np.uint64) * np.uint64(2) + rng.integers(0, 2, n, dtype=np.uint64)
    else:
        keys = rng.integers(0, max(1, 2**bits // 50), n, dtype=np.uint64)  # many equal keys: stability shows
    order, ordered = K.stable_argsort(keys)
    want = np.argsort(keys, kind="stable")
    assert np.array_equal(order, want) and np.array_equal(ordered, keys[want])


@pytest.mark.parametrize("bands,rows", [(256, 1), (20, 5), (3, 7)])
def test_band_fingerprints_equal_the_band_keys_top_byte(bands, rows):
    from dedup.candidates import band_keys
    from dedup.shingle import fmix64

    rng = np.random.default_rng(bands)
    sig = rng.integers(0, 2**32, (300, 256), dtype=np.uint32)
    width = (bands + 7) // 8 * 8
    got = K.band_fingerprints(sig, bands, rows, width)
    want = np.zeros((300, width), np.uint8)
    want[:, :bands] = (fmix64(band_keys(sig, bands, rows)) >> np.uint64(56)).astype(np.uint8)
    assert np.array_equal(got, want)
