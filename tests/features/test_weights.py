"""Weights: top terms, pruning, TF-IDF in place, dropping unshared terms."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from dedup import Params
from dedup.features.weights import row_kth_largest, top_terms
from dedup.synth import generate_articles
from dedup.text.tokens import hash_texts


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


def test_compiled_pruning_equals_the_numpy_expressions():
    from dedup import Params
    from dedup.article import prepare_articles
    from dedup.features.counts import feature_counts
    from dedup.features.weights import prior_of, prune_counts
    from dedup.synth import generate_articles
    from dedup.text.tokens import article_tokens

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


def test_prior_idf_codes_give_every_column_its_exact_idf():
    from dedup import Params
    from dedup.features.weights import _prior_idf, _prior_idf_codes, prior_of

    p = Params()
    prior = prior_of(p)
    codes, values = _prior_idf_codes(prior, p.background_docs)
    assert codes.dtype == np.uint16 and len(values) < len(prior) // 100  # few distinct frequencies
    assert np.array_equal(values[codes], _prior_idf(prior, p.background_docs))
    assert _prior_idf_codes(prior, p.background_docs)[0] is codes  # the library's prior: cached
    mine = np.arange(70000, dtype=np.float64)  # a writeable prior of many distinct values: not cached
    codes2, values2 = _prior_idf_codes(mine, 5e5)
    assert codes2.dtype == np.uint32 and np.array_equal(values2[codes2], _prior_idf(mine, 5e5))
    mine[:] = 0
    assert np.array_equal(_prior_idf_codes(mine, 5e5)[1], _prior_idf(mine[:1], 5e5))


def test_top_terms_matches_a_full_sort():
    x = sp.random(300, 2000, density=0.1, format="csr", random_state=1, dtype=np.float32)
    x.data = np.round(x.data * 10).astype(np.float32) + 1  # many ties: broken by column
    for k in (1, 5, 40, 1000):
        vals, offs = top_terms(x, k)
        for i in range(x.shape[0]):
            row = x.getrow(i)
            order = np.lexsort((row.indices, -row.data))[:k]
            assert vals[offs[i] : offs[i + 1]].tolist() == row.indices[order].tolist()


def test_pruning_keeps_the_heaviest_terms_ties_by_column_and_the_exact_df():
    from dedup.article import Article
    from dedup.features.featurize import featurize
    from dedup.features.weights import prune_counts

    counts = sp.csr_matrix(np.array([[1, 3, 1, 1, 2, 0], [0, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0]], dtype=np.float32))
    prior = np.array([0, 0, 0, 0, 0, 0], dtype=np.float64)
    pruned, dropped = prune_counts(counts, prior, 2000, 3)
    # row 0: weights by tf only (no prior): col 1 (3), col 4 (2), then the tie at tf 1 goes to the lowest column
    assert pruned[0].indices.tolist() == [0, 1, 4]
    assert pruned[1].nnz == 0 and pruned[2].indices.tolist() == [0, 1]
    prior[1] = 2000  # a very common word now ranks below the tf-1 words
    assert prune_counts(counts, prior, 2000, 3)[0][0].indices.tolist() == [0, 2, 4]
    # the dropped terms' squared weight (cols 2 and 3: tf 1, the idf of an unknown word) counts in the norm
    idf = np.log(2001.0) + 1.0
    assert dropped.tolist() == pytest.approx([2 * idf**2, 0.0, 0.0])

    docs = [a["text"] for a in generate_articles(30, seed=3)]
    arts = [Article(id=str(i), text=t) for i, t in enumerate(docs)]
    full = featurize(arts, Params(max_terms=None))
    few = featurize(arts, Params(max_terms=50))
    assert np.diff(few.counts.indptr).max() == 50
    assert np.array_equal(few.document_frequency(), full.document_frequency())
    # a row's kept terms do not depend on the other articles
    alone = featurize(arts[7:8], Params(max_terms=50))
    assert np.array_equal(alone.counts.indices, few.counts[7].indices)


def _old_tfidf(counts, idf, dropped=None):
    """The whole-matrix expression the chunked, in-place weighting replaced."""

    x = counts.copy()
    x.data = (1.0 + np.log(x.data)) * idf[x.indices]
    if dropped is None:
        return normalize(x, norm="l2", copy=False)
    norm2 = np.asarray(x.multiply(x).sum(axis=1)).ravel() + dropped
    scale = np.divide(1.0, np.sqrt(norm2), out=np.zeros_like(norm2), where=norm2 > 0)
    x.data *= np.repeat(scale, np.diff(x.indptr)).astype(x.dtype)
    return x


@pytest.mark.parametrize("max_terms,cpus", [(None, 1), (100, 1), (100, 2)])
def test_in_place_weighting_in_blocks_equals_the_whole_matrix_expression(monkeypatch, max_terms, cpus):
    """Blocks of rows weighed one after the other or in threads: the values
    of the whole-matrix expression."""
    import dedup.arrays

    monkeypatch.setattr(dedup.arrays, "usable_cpus", lambda: cpus)
    from dedup.article import prepare_articles
    from dedup.batch import featurize_many
    from dedup.features.weights import idf_weights, tfidf

    arts, _ = prepare_articles(generate_articles(400, seed=5))
    raw = featurize_many(arts, Params(max_terms=max_terms))
    idf = idf_weights(raw.document_frequency(), raw.n)
    want = _old_tfidf(raw.counts, idf, raw.dropped)
    counts = raw.counts.copy()
    got = tfidf(counts, idf, raw.dropped, copy=False, chunk_nnz=997)  # blocks end mid-way anywhere
    assert got.data is counts.data  # weighed over the counts: no second matrix
    assert np.array_equal(got.data, want.data) and np.array_equal(got.indices, want.indices)
    assert np.array_equal(tfidf(raw.counts, idf, raw.dropped).data, want.data)


def test_dropping_terms_only_one_article_has_keeps_every_pair_score_bit_for_bit():
    from dedup.article import prepare_articles
    from dedup.batch import featurize_many
    from dedup.features.weights import drop_columns, weigh
    from dedup.scoring import score_pairs

    arts, _ = prepare_articles(generate_articles(600, seed=9))
    p = Params()
    raw = featurize_many(arts, p)
    ts = [a.timestamp for a in arts]
    full = weigh(raw, ts, p)
    lean = weigh(raw, ts, p, drop_unshared=True)
    df = raw.document_frequency()
    kept = df[full.tfidf.indices] > 1
    assert 0 < kept.sum() < full.tfidf.nnz  # some terms are one article's alone, some are shared
    assert np.array_equal(lean.tfidf.indices, full.tfidf.indices[kept])
    assert np.array_equal(lean.tfidf.data, full.tfidf.data[kept])
    assert np.array_equal(lean.term_signatures, full.term_signatures)  # top terms taken before the drop
    pairs = np.array([(i, j) for i in range(600) for j in range(i + 1, 600) if (i * 7 + j) % 5 == 0])
    a, b = score_pairs(full, pairs, p), score_pairs(lean, pairs, p.with_(short_text_terms=10**6))
    c = score_pairs(full, pairs, p.with_(short_text_terms=10**6))
    assert np.array_equal(a.cosine, b.cosine) and np.array_equal(b.shared, c.shared)
    # an arbitrary matrix and mask; not canonical, a view: compacted all the same
    rng = np.random.default_rng(1)
    x = sp.random(50, 40, density=0.3, format="csr", random_state=2, dtype=np.float32)
    drop = rng.random(40) < 0.4
    want = x.toarray()
    want[:, drop] = 0
    got = drop_columns(x.copy(), drop)
    assert np.array_equal(got.toarray(), want) and got.nnz == np.count_nonzero(want)


def test_kth_largest_equals_partition_with_ties():
    """The compiled selection (prune_rows, row_kth_largest, the top terms)
    returns what ``np.partition`` returns, on values with large blocks of
    ties, from a slice of a longer array (float64 and float32), which it
    leaves unchanged."""
    from dedup.features._kernels import kth_largest

    rng = np.random.default_rng(11)
    buf = np.empty((3, 400))
    for trial in range(3000):
        n = int(rng.integers(1, 400))
        a = np.round(rng.random(n) * rng.integers(1, 30), int(rng.integers(0, 3)))
        if rng.random() < 0.3:
            a[rng.random(n) < 0.6] = a.max()  # a tie block at the top, as a row's unseen bigrams make
        if trial % 2:
            a = a.astype(np.float32)
        k = int(rng.integers(1, n + 1))
        want = np.partition(a, n - k)[n - k]
        padded = np.concatenate([a[:0] + 99, a, a[:0] - 99, np.full(3, 1e9, a.dtype)])  # values past hi
        before = padded.copy()
        assert kth_largest(padded, 0, n, k, buf) == want
        shifted = np.concatenate([np.full(5, -1e9, a.dtype), a])
        assert kth_largest(shifted, 5, 5 + n, k, buf) == want
        assert np.array_equal(padded, before)


def test_row_sums_equal_scipy_row_sums_bit_for_bit():
    """The norms of :func:`tfidf` without the product matrix: the same sums, in the same order."""
    from dedup.features.weights import _row_sums

    rng = np.random.default_rng(8)
    for dtype in (np.float32, np.float64):
        m = sp.random(400, 3000, density=0.05, format="csr", dtype=dtype, random_state=3)
        m.data = (rng.random(m.nnz) * rng.choice([1e-3, 1.0, 30.0], m.nnz)).astype(dtype) + 1
        m = sp.csr_matrix(m.multiply(sp.csr_matrix(rng.random((400, 1)) < 0.9)))  # some rows empty
        m.sum_duplicates()  # canonical, as the counts are (column-sorted rows)
        assert (np.diff(m.indptr) == 0).any() and m.has_canonical_format
        want = np.asarray(m.multiply(m).sum(axis=1)).ravel()
        got = _row_sums(m.data * m.data, m.indptr)
        assert got.dtype == want.dtype and np.array_equal(got, want)


def test_background_prior_from_the_disk_cache_is_the_computed_one(tmp_path, monkeypatch):
    """The prior read back from the cache is the one computed from the word
    list, bit for bit; a cache written for other parameters is not used."""
    from dedup.features.weights import _background_prior, _prior_from_words

    monkeypatch.setenv("DEDUP_CACHE_DIR", str(tmp_path))
    p = Params()
    want = _prior_from_words(p.background, p.n_features, p.background_docs)
    for n_docs in (p.background_docs, p.background_docs + 1):
        _background_prior.cache_clear()
        written = _background_prior(p.background, p.n_features, n_docs)  # computed, stored
        _background_prior.cache_clear()
        read = _background_prior(p.background, p.n_features, n_docs)  # read back
        assert np.array_equal(written, read) and not read.flags.writeable
    assert len(list(tmp_path.glob("prior-*.npy"))) == 2
    assert np.array_equal(read, _prior_from_words(p.background, p.n_features, p.background_docs + 1))
    _background_prior.cache_clear()
    assert np.array_equal(_background_prior(p.background, p.n_features, p.background_docs), want)
    assert want.sum() > 0
    _background_prior.cache_clear()


def test_top_term_sets_in_two_threads_equal_one_pass(monkeypatch):
    """A large batch's rows are taken in two halves in two threads: the
    columns and offsets are those of one pass over all rows."""
    import dedup.arrays
    from dedup.features import weights

    x = sp.random(301, 500, density=0.2, format="csr", random_state=6, dtype=np.float32)
    want = weights.top_term_sets(x.indptr, x.indices, x.data, 30)
    monkeypatch.setattr(dedup.arrays, "usable_cpus", lambda: 2)
    monkeypatch.setattr(weights, "TOP_SET_SPLIT", 10)
    got = weights.top_term_sets(x.indptr, x.indices, x.data, 30)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1]) and len(want[0]) == 301 * 30


def test_top_term_sets_pick_the_top_terms_columns():
    """The same columns as top_terms (ties at the k-th value broken by the
    lower column), also for rows not sorted by column."""
    from dedup.features.weights import top_term_sets

    x = sp.random(300, 800, density=0.15, format="csr", random_state=5, dtype=np.float32)
    x.data = np.round(x.data * 4).astype(np.float32) + 1  # big blocks of ties
    x = x.tolil()
    x[7, :] = 0  # an empty row
    x = x.tocsr()
    shuffled = x.copy()
    rng = np.random.default_rng(0)
    for i in range(0, shuffled.shape[0], 2):  # every other row out of column order
        lo, hi = shuffled.indptr[i], shuffled.indptr[i + 1]
        perm = lo + rng.permutation(hi - lo)
        shuffled.indices[lo:hi], shuffled.data[lo:hi] = shuffled.indices[perm], shuffled.data[perm]
    for m in (x, shuffled):
        for k in (1, 4, 60, 800):
            want, want_offs = top_terms(x, k)
            got, offs = top_term_sets(m.indptr, m.indices, m.data, k)
            assert np.array_equal(offs, want_offs) and got.dtype == np.uint32
            for i in range(m.shape[0]):
                assert sorted(got[offs[i] : offs[i + 1]].tolist()) == sorted(want[offs[i] : offs[i + 1]].tolist())


@pytest.mark.parametrize("max_terms", [None, 100])
def test_weighing_rows_from_a_file_a_block_at_a_time_equals_weighing_them_in_memory(monkeypatch, tmp_path, max_terms):
    """The large batch's path (term counts in a file, weighed a block of
    rows at a time into a new file): the features of the in-memory path."""
    from dataclasses import replace

    from dedup._sysmem import RowFile
    from dedup.article import prepare_articles
    from dedup.batch import featurize_many
    from dedup.features import weights
    from dedup.features.weights import weigh

    monkeypatch.setattr(weights, "WEIGH_BLOCK_NNZ", 5000)  # blocks end anywhere
    arts, _ = prepare_articles(generate_articles(500, seed=13))
    p = Params(max_terms=max_terms)
    raw = featurize_many(arts, p)
    ts = [a.timestamp for a in arts]
    order = np.arange(len(arts))[::-1].copy()
    want = weigh(raw, ts[::-1], p, order=order, drop_unshared=True)
    counts = RowFile(p.n_features, np.float32, dir=str(tmp_path))
    for lo in range(0, raw.n, 128):
        counts.append(raw.counts[lo : lo + 128])
    spent = replace(raw, counts=sp.csr_matrix(raw.counts.shape, dtype=np.float32), n_terms=raw.terms_per_row())
    got = weigh(spent, ts[::-1], p, order=order, drop_unshared=True, counts_file=counts)
    assert got.tfidf.shape[0] == 0 and got.tfidf_file is not None and got.tfidf_file.spilled
    assert (got.tfidf_file.read(0, raw.n) != want.tfidf).nnz == 0
    for name in ("term_signatures", "shingle_signatures", "empty", "n_terms", "rows"):
        assert np.array_equal(getattr(got, name), getattr(want, name)), name
    assert [d.name for d in tmp_path.iterdir()] == [next(tmp_path.iterdir()).name]  # the counts' file is gone
    got.tfidf_file.close()
    assert list(tmp_path.iterdir()) == []
