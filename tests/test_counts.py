"""Key-fact boost of the term counts (dedup.features.counts.key_columns, boost_terms)."""

from __future__ import annotations

import numpy as np
import pytest

from dedup.features.counts import boost_terms, feature_counts, key_columns
from dedup.features.featurize import featurize_texts
from dedup.params import Params
from dedup.text.tokens import hash_tokens


def test_boost_multiplies_exactly_the_key_unigrams_of_their_document():
    docs = [["storm", "hits", "miami"], ["miami", "votes"]]
    counts = feature_counts(hash_tokens(docs), 1 << 20)
    before = counts.copy()
    d, c = key_columns([["miami"], []], 1 << 20)
    assert d.tolist() == [0]
    boosted = boost_terms(counts, d, c, 3.0)
    changed = (boosted != before * 1).tocoo()
    assert changed.nnz == 1 and changed.row[0] == 0 and changed.col[0] == c[0]
    assert boosted[0, c[0]] == pytest.approx(3.0 * before[0, c[0]])
    assert boosted[1, c[0]] == before[1, c[0]]  # the other document's "miami" is not its key fact


def test_key_term_weight_one_is_the_old_features_and_is_validated():
    texts = ["Judge Ruth Bader spoke in Ohio on 4 May.", "A storm hit the coast."]
    off = featurize_texts(texts, Params())
    on = featurize_texts(texts, Params(key_term_weight=3.0))
    assert np.array_equal(off.counts.indices, on.counts.indices)
    assert (on.counts.data >= off.counts.data).all() and (on.counts.data > off.counts.data).any()
    assert np.array_equal(on.counts.data[on.counts.indptr[1]:], off.counts.data[off.counts.indptr[1]:])
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
