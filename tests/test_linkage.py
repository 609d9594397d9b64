"""Linkage: single, average and complete over the story graph; representatives and versions."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from dedup import Article, Params, cluster_articles
from dedup.linkage import link
from dedup.scoring import ScoredPairs


def _chain(threshold: float, linkage: str) -> np.ndarray:
    # A~B and B~C confirmed, A and C never similar: a chain.
    pairs = np.array([[0, 1], [1, 2]])
    scored = ScoredPairs(pairs=pairs, cosine=np.array([0.9, 0.9]), jaccard=np.zeros(2))
    return link(3, scored, Params(threshold=threshold, linkage=linkage))


def test_single_linkage_is_transitive():
    labels = _chain(0.5, "single")
    assert len(set(labels.tolist())) == 1


@pytest.mark.parametrize("linkage", ["average", "complete"])
def test_average_and_complete_resist_chaining(linkage):
    labels = _chain(0.7, linkage)
    assert len(set(labels.tolist())) == 2  # B goes with A or C, not both


def test_average_linkage_merges_a_dense_group():
    pairs = np.array([[0, 1], [0, 2], [1, 2], [2, 3]])
    scored = ScoredPairs(pairs=pairs, cosine=np.array([0.9, 0.8, 0.85, 0.35]), jaccard=np.zeros(4))
    labels = link(4, scored, Params(threshold=0.5, linkage="average"))
    assert labels[0] == labels[1] == labels[2] != labels[3]


def test_representative_is_earliest_published_and_copies_grouped(seed_texts):
    (oid, original), (rid, rewrite) = seed_texts
    t0 = datetime(2026, 1, 27, 8, tzinfo=timezone.utc)
    arts = [
        Article(id="rewrite", text=rewrite, published=t0 + timedelta(hours=1)),
        Article(id="copy", text="LONDON (Reuters) - " + original, published=t0 + timedelta(hours=2)),
        Article(id="original", text=original, published=t0),
    ]
    (c,) = cluster_articles(arts)
    assert c.representative.id == "original"
    assert c.ids[0] == "original"
    versions = {v.representative.id: {x.id for x in v.copies} for v in c.versions}
    assert versions == {"original": {"copy"}, "rewrite": set()}
    pair = {(s.a, s.b): s for s in c.scores}[("copy", "original")]
    assert pair.jaccard > 0.9 and pair.cosine > 0.95


def test_components_by_union_find_equal_scipys():
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from dedup.linkage import components

    rng = np.random.default_rng(5)
    for n in (1, 2, 7, 50, 400, 1999, 2001, 5000):
        pairs = rng.integers(0, n, (int(rng.integers(0, 2 * n)), 2))
        want = connected_components(coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)))[1]
        got = components(n, pairs)
        # the same partition: each label of one maps to exactly one of the other
        assert (
            len(set(zip(got.tolist(), want.tolist(), strict=True))) == len(set(want.tolist())) == len(set(got.tolist()))
        )
