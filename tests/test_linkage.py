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


@pytest.mark.parametrize("linkage", ["average", "complete"])
def test_copies_are_one_group_before_the_agglomeration(linkage):
    # a chain of copies (Jaccard past copy_threshold) with the pairs between its
    # ends never scored: average linkage alone splits it; copies stay together
    n = 40
    pairs = np.array([[i, j] for i in range(n) for j in range(i + 1, min(i + 4, n))])
    cos = np.full(len(pairs), 0.95)
    apart = link(n, ScoredPairs(pairs=pairs, cosine=cos, jaccard=np.zeros(len(pairs))), Params(linkage=linkage))
    assert len(set(apart.tolist())) > 1
    together = link(n, ScoredPairs(pairs=pairs, cosine=cos, jaccard=np.full(len(pairs), 0.9)), Params(linkage=linkage))
    assert set(together.tolist()) == {0}


def test_only_copy_groups_with_unscored_pairs_are_forced():
    # three copies scored pair by pair are left to the linkage (as every batch
    # was before); with one of their pairs never scored they are one group first
    full = np.array([[0, 1], [0, 2], [1, 2]])
    low = np.full(3, 0.05)
    scored = ScoredPairs(pairs=full, cosine=low, jaccard=np.full(3, 0.9))
    assert len(set(link(3, scored, Params(threshold=0.5)).tolist())) == 3
    scored = ScoredPairs(pairs=full[:2], cosine=low[:2], jaccard=np.full(2, 0.9))
    assert link(3, scored, Params(threshold=0.5)).tolist() == [0, 0, 0]


@pytest.mark.parametrize("copies", [101, pytest.param(300, marks=pytest.mark.slow)])
def test_a_story_syndicated_many_times_is_one_story(copies):
    # past max_bucket_size (100) a bucket pairs each copy with its 8 nearest only:
    # 101 copies gave 5 stories, 1,000 gave 60; the live index kept them in one
    from dedup.live import StoryIndex
    from dedup.synth import generate_articles

    others = list(generate_articles(40, seed=3))
    wire = others.pop(0)["text"]
    arts = [{"id": f"c{i}", "text": wire} for i in range(copies)] + [{"id": a["id"], "text": a["text"]} for a in others]
    clusters = cluster_articles(arts)
    (big,) = [c for c in clusters if c.representative.id.startswith("c")]
    assert len(big.members) == copies and len(big.versions) == 1
    index = StoryIndex()
    index.add_many(arts)
    live = sorted((sorted(s.members) for s in index), key=lambda m: m[0])
    assert live == sorted((sorted(m.id for m in c.members) for c in clusters), key=lambda m: m[0])


def test_copies_joined_below_the_threshold_are_scored_and_one_version():
    # three identical texts, one of their pairs never scored (bucket cap of 2,
    # one neighbour), linked under a threshold above their story scores: the
    # copy rule makes them one story, and the pairs that joined them are its
    # scores and make one version (they were three versions, with no score)
    text = "Officials met in Geneva on Tuesday to discuss the ceasefire proposal for the northern region."
    docs = [{"id": f"w{i}", "text": text} for i in range(3)]
    (story,) = cluster_articles(docs, threshold=0.95, max_bucket_size=2, bucket_neighbours=1)
    assert [sorted(a.id for a in v.members) for v in story.versions] == [["w0", "w1", "w2"]]
    assert {x for s in story.scores for x in (s.a, s.b)} == {"w0", "w1", "w2"}
    assert all(s.jaccard >= Params().copy_threshold and 0.0 <= s.score < 0.95 for s in story.scores)
