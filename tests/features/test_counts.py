"""Term counts and n-gram hashes: compiled kernels against numpy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from dedup.features import _kernels as K
from dedup.features.counts import _ngram_hashes_numpy, boost_terms, feature_columns, feature_counts, ngram_hashes
from dedup.features.featurize import featurize_texts
from dedup.hashing import hash_str
from dedup.params import Params
from dedup.text.normalise import tokenize
from dedup.text.tokens import _hash_tokens_dict, hash_tokens, key_token_hashes
from tests._data import ragged, random_texts


@pytest.mark.parametrize("n", [2, 3, 5])
def test_ngram_hashes_equal_numpy(n):
    h, off = ragged(2)
    got, got_off = ngram_hashes(h, off, n)
    want, want_off = _ngram_hashes_numpy(h, off, n)
    assert np.array_equal(got, want) and np.array_equal(got_off, want_off)


def test_term_counts_equal_feature_counts():
    from dedup.features.counts import feature_counts

    lists = [tokenize(t) for t in random_texts(8)]
    lists[5] = ["alone"]  # one token: one "bigram" of itself
    batch = _hash_tokens_dict(lists)
    for n_features in (2**21, 64):
        want = feature_counts(batch, n_features)
        indptr, indices, data = K.term_counts(batch.hashes, batch.offsets, np.uint64(n_features - 1))
        got = sp.csr_matrix((data, indices, indptr), shape=want.shape)
        assert np.array_equal(got.indptr, want.indptr) and np.array_equal(got.indices, want.indices)
        assert np.array_equal(got.data, want.data) and got.data.dtype == want.data.dtype


def test_boost_multiplies_exactly_the_key_unigrams_of_their_document():
    docs = [["storm", "hits", "miami"], ["miami", "votes"]]
    counts = feature_counts(hash_tokens(docs), 1 << 20)
    before = counts.copy()
    d, h = key_token_hashes(["Storm hits Miami", "votes"])
    assert d.tolist() == [0] and h.tolist() == [hash_str("miami")]
    c = feature_columns(h, 1 << 20)
    boosted = boost_terms(counts, d, c, 3.0)
    changed = (boosted != before * 1).tocoo()
    assert changed.nnz == 1 and changed.row[0] == 0 and changed.col[0] == c[0]
    assert boosted[0, c[0]] == pytest.approx(3.0 * before[0, c[0]])
    assert boosted[1, c[0]] == before[1, c[0]]  # the other document's "miami" is not its key fact


@pytest.mark.parametrize("sorted_indices", [True, False])
def test_boost_multiplies_each_listed_entry_once_and_nothing_else(sorted_indices):
    import scipy.sparse as sp

    rng = np.random.default_rng(4)
    n, width = 40, 500
    m = sp.random(n, width, density=0.1, format="csr", dtype=np.float32, random_state=5)
    m.data[:] = rng.integers(1, 5, m.nnz)
    if not sorted_indices:  # the same entries, stored out of order
        order = np.concatenate([np.arange(lo, hi)[::-1] for lo, hi in zip(m.indptr[:-1], m.indptr[1:], strict=True)])
        m = sp.csr_matrix((m.data[order], m.indices[order], m.indptr), shape=m.shape)
    assert m.has_sorted_indices == sorted_indices
    coo = m.tocoo()
    pick = rng.choice(m.nnz, 60)  # present entries, some twice, and absent ones
    docs = np.concatenate([coo.row[pick], rng.integers(0, n, 30), [n - 1]]).astype(np.int64)
    cols = np.concatenate([coo.col[pick], rng.integers(0, width, 30), [width - 1]]).astype(np.int64)
    want = m.toarray()
    listed = np.zeros_like(want, dtype=bool)
    listed[docs, cols] = True
    want[listed & (want != 0)] *= 3.0
    assert np.array_equal(boost_terms(m, docs, cols, 3.0).toarray(), want)


def test_key_term_weight_one_is_the_old_features_and_is_validated():
    texts = ["Judge Ruth Bader spoke in Ohio on 4 May.", "A storm hit the coast."]
    off = featurize_texts(texts, Params(key_term_weight=1.0))
    on = featurize_texts(texts, Params(key_term_weight=3.0))
    assert np.array_equal(off.counts.indices, on.counts.indices)
    assert (on.counts.data >= off.counts.data).all() and (on.counts.data > off.counts.data).any()
    assert np.array_equal(on.counts.data[on.counts.indptr[1] :], off.counts.data[off.counts.indptr[1] :])
    for bad in (0.5, 1000.0, True, "3"):
        with pytest.raises(ValueError, match="key_term_weight"):
            Params(key_term_weight=bad)


def test_stems_join_inflections_of_short_texts_only():
    from dedup.features.counts import stem_counts

    short = ["police", "arrest", "suspects"], ["suspect", "arrested", "by", "police"]
    long_doc = ["arrested"] * 70
    batch = hash_tokens([*short, long_doc])
    stems = stem_counts(batch, 1 << 20, 5)
    assert stems.shape == (3, 1 << 20) and stems[2].nnz == 0  # a long text gets no stems
    # "arrest"/"arrested" -> "arres", "suspects"/"suspect" -> "suspe", "police" -> "polic": all shared
    assert stems[0].nnz == 3 and set(stems[0].indices) == set(stems[1].indices)
    words = feature_counts(batch, 1 << 20)
    assert not set(stems[0].indices) & set(words[0].indices)  # stems are columns apart from the words
    assert stem_counts(batch, 1 << 20, 0).nnz == 0
    with pytest.raises(ValueError, match="stem_length"):
        Params(stem_length=-1)


@pytest.mark.parametrize("n", [0, 1, 2, 1000])
def test_sorted_runs_equal_numpy_unique_with_counts(n):
    rng = np.random.default_rng(n)
    s = np.sort(rng.integers(0, max(1, n // 3), n).astype(np.int32))  # runs of equal values
    values, counts = K.sorted_runs(s)
    want_values, want_counts = np.unique(s, return_counts=True)
    assert values.dtype == counts.dtype == np.int64
    assert np.array_equal(values, want_values) and np.array_equal(counts, want_counts)


@pytest.mark.parametrize("n", [0, 1, 2, 1000, 50_000])
def test_column_runs_equal_numpy_unique_with_counts(n):
    rng = np.random.default_rng(n)
    width = max(1, n // 3)
    s = rng.integers(0, width, n).astype(np.int32)  # unsorted, with repeats
    values, counts = K.column_runs(s, width + 5)
    want_values, want_counts = np.unique(s, return_counts=True)
    assert values.dtype == counts.dtype == np.int64
    assert np.array_equal(values, want_values) and np.array_equal(counts, want_counts)


@pytest.mark.parametrize("n_features", [1 << 10, 1 << 21])
def test_featurize_document_frequencies_by_counting_or_sorting(n_features):
    """Few columns (counted in slots) or many (sorted): the same df, that of
    the unpruned counts' columns."""
    texts = random_texts(40)
    raw = featurize_texts(texts, Params(n_features=n_features))
    full = featurize_texts(texts, Params(n_features=n_features, max_terms=None))
    want = np.diff(full.counts.tocsc().indptr)
    assert np.array_equal(raw.df_cols, np.flatnonzero(want))
    assert np.array_equal(raw.df_vals, want[want > 0].astype(np.float64))


def test_featurize_document_frequencies_count_each_row_once():
    texts = random_texts(3)
    raw = featurize_texts(texts, Params())
    full = featurize_texts(texts, Params(max_terms=None))  # nothing pruned: the df of the counts themselves
    want = np.diff(full.counts.tocsc().indptr)
    assert np.array_equal(raw.document_frequency(), want.astype(np.float64))
    assert raw.df_vals.sum() > len(texts)
