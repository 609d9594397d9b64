"""Term counts and n-gram hashes: compiled kernels against numpy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from dedup.features import _kernels as K
from dedup.features.counts import _ngram_hashes_numpy, ngram_hashes
from dedup.text.normalise import tokenize
from dedup.text.tokens import _hash_tokens_dict
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
