"""StoryIndex: incremental add/query/remove, agreement with the batch clustering."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from dedup import Params, cluster_articles
from dedup.index import DuplicateArticleError, Match, Story, StoryIndex
from dedup.synth import generate_articles


@pytest.fixture(scope="module")
def feed() -> list[dict]:
    return [{k: a[k] for k in ("id", "text", "published", "story", "kind")} for a in generate_articles(200, seed=7)]


def test_seed_pair_is_one_story(seed_texts):
    index = StoryIndex()
    (id1, t1), (id2, t2) = seed_texts
    first = index.add({"id": id1, "text": t1})
    second = index.add({"id": id2, "text": t2})
    assert first.kind == "new" and first.story == id1
    assert second.kind in ("rewrite", "copy") and second.story == id1
    assert second.matched == id1 and second.cosine >= Params().threshold
    assert len(index) == 1 and index.n_articles == 2
    story = next(iter(index))
    assert isinstance(story, Story) and set(story.members) == {id1, id2}


def test_copies_and_rewrites_of_generated_feed(feed):
    index = StoryIndex()
    matches = [index.add(a) for a in feed]
    by_id = {m.id: m for m in matches}
    copies = [a for a in feed if a["kind"] == "copy"]
    assert copies
    originals = {a["story"]: a["id"] for a in feed if a["kind"] == "original"}
    for a in copies:
        m = by_id[a["id"]]
        assert m.kind == "copy", m
        assert index.story_of(a["id"]).id == index.story_of(originals[a["story"]]).id
    # every article is in exactly one story
    members = [i for s in index for i in s.members]
    assert sorted(members) == sorted(a["id"] for a in feed)
    assert sum(len(s) for s in index) == index.n_articles == len(feed)


def test_query_does_not_insert(feed):
    index = StoryIndex()
    for a in feed[:100]:
        index.add(a)
    n, stories = index.n_articles, len(index)
    copy = next(a for a in feed[:100] if a["kind"] == "copy")
    probe = dict(copy, id="probe")
    q = index.query(probe)
    assert isinstance(q, Match) and q.kind == "copy"
    assert index.n_articles == n and len(index) == stories and "probe" not in index
    assert index.add(probe).story == q.story


def test_duplicate_id_is_refused_and_remove(feed):
    index = StoryIndex()
    index.add(feed[0])
    with pytest.raises(DuplicateArticleError):
        index.add(feed[0])
    assert index.n_articles == 1
    index.remove(feed[0]["id"])
    assert feed[0]["id"] not in index and len(index) == 0
    with pytest.raises(KeyError):
        index.remove(feed[0]["id"])
    # once removed, a copy of it starts a new story
    copy = dict(feed[0], id="again")
    assert index.add(copy).kind == "new"


def test_time_window_applies(feed):
    a = feed[0]
    later = dict(a, id="later", published=(datetime.fromisoformat(a["published"]) + timedelta(days=30)).isoformat())
    index = StoryIndex()
    index.add(a)
    assert index.add(later).kind == "new"
    index2 = StoryIndex(time_window=None)
    index2.add(a)
    assert index2.add(later).kind == "copy"


def test_retention_bounds_live_articles(feed):
    index = StoryIndex(retention=timedelta(hours=1))
    for a in feed:
        index.add(a)
    assert index.n_articles == len(feed)
    assert 0 < index.n_live < len(feed)  # the feed spans more than an hour (30 s apart on average)
    capped = StoryIndex(max_live=50)
    for a in feed[:120]:
        capped.add(a)
    assert capped.n_live == 50 and capped.n_articles == 120


def test_add_many_equals_one_at_a_time(feed):
    one, many = StoryIndex(), StoryIndex()
    m1 = [one.add(a) for a in feed[:80]]
    m2 = many.add_many(feed[:80])
    assert m1 == m2


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="max_live"):
        StoryIndex(max_live=0)
    with pytest.raises(TypeError, match="unknown parameter"):
        StoryIndex(thresold=0.2)


def _ecb_articles(ecbplus_docs):
    return [{"id": d["doc_id"], "text": d["text"]} for d in ecbplus_docs]


@pytest.mark.slow
def test_incremental_agrees_with_batch_on_ecbplus(ecbplus_docs):
    """ARI between incremental (5 random orders) and batch clusters, averaged, >= 0.97."""
    docs = _ecb_articles(ecbplus_docs)
    params = Params()
    batch = cluster_articles(docs, params=params).labels()
    ids = [d["id"] for d in docs]
    scores = []
    for seed in range(5):
        order = docs[:]
        random.Random(seed).shuffle(order)
        index = StoryIndex(params)
        for d in order:
            index.add(d)
        labels = index.labels()
        scores.append(adjusted_rand_score([batch[i] for i in ids], [labels[i] for i in ids]))
    assert np.mean(scores) >= 0.97, scores


def test_incremental_agrees_with_batch_on_three_topics(ecbplus_docs):
    docs = [d for d, raw in zip(_ecb_articles(ecbplus_docs), ecbplus_docs) if raw["topic"] in (1, 3, 8)]
    batch = cluster_articles(docs).labels()
    order = docs[:]
    random.Random(3).shuffle(order)
    index = StoryIndex()
    for d in order:
        index.add(d)
    labels = index.labels()
    ids = [d["id"] for d in docs]
    assert adjusted_rand_score([batch[i] for i in ids], [labels[i] for i in ids]) >= 0.9
