"""The live index honours every clustering parameter the batch honours (issue 14):
each Params field that changes ``cluster_articles``' result on a small labelled
feed also changes the StoryIndex's result on the same feed."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime, timedelta, timezone

import pytest

from dedup import Params, StoryIndex, cluster_articles

# a value other than the default for each field (n_jobs only schedules work: it changes nothing)
_OTHER = {
    "threshold": 0.3,
    "linkage": "complete",
    "n_terms": 8,
    "num_perm": 32,
    "lsh_threshold": 0.6,
    "shingle_size": 1,
    "copy_threshold": 0.2,
    "max_bucket_size": 2,
    "bucket_neighbours": 1,
    "time_window": timedelta(hours=12),
    "n_features": 1 << 8,
    "background": None,
    "background_docs": 50_000,
    "random_state": 7,
    "n_jobs": 2,
    "short_text_terms": 0,
    "neighbourhood": 0,
    "neighbourhood_weight": 0.95,
    "max_terms": 12,
    "max_partners": 1,
    "min_bands": 12,
    "key_term_weight": 1.0,
    "stem_length": 0,
    "headline_terms": 0,
    "headline_neighbourhood": 2,
}
# small capped buckets, so that max_bucket_size and bucket_neighbours have buckets to cap; about
# half of the articles profiled as headlines, so that headline_terms and headline_neighbourhood act;
# every banded pair offered (min_bands 1), so that the partner rule (max_partners) has pairs to rank
_BASE = Params(max_bucket_size=6, bucket_neighbours=2, headline_terms=400, min_bands=1)
_OTHER.update(max_bucket_size=100, bucket_neighbours=5)


@pytest.fixture(scope="module")
def docs(ecbplus_docs) -> list[dict]:
    """Three ECB+ topics with publication times spread over ten days."""
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    chosen = [d for d in ecbplus_docs if d["topic"] in (1, 3, 8)]
    return [
        {"id": d["doc_id"], "text": d["text"], "published": (t0 + timedelta(hours=5 * k)).isoformat()}
        for k, d in enumerate(chosen)
    ]


def _batch(docs, params):
    c = cluster_articles(docs, params=params)
    return sorted(sorted(a.id for a in x.members) for x in c), sorted(
        (s.a, s.b, round(s.score, 9)) for x in c for s in x.scores
    )


def _live(docs, params):
    index = StoryIndex(params)
    matches = [index.add(d) for d in docs]
    return sorted(sorted(s.members) for s in index), [(m.kind, m.story, round(m.score, 9)) for m in matches]


def test_every_field_is_listed():
    assert set(_OTHER) == {f.name for f in fields(Params)}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(_OTHER))
def test_a_field_that_changes_the_batch_changes_the_live_index(docs, name):
    changed = _BASE.with_(**{name: _OTHER[name]})
    if _batch(docs, changed) == _batch(docs, _BASE):
        assert name == "n_jobs", f"{name}={_OTHER[name]!r} no longer changes the batch: pick another value"
        return
    assert _live(docs, changed) != _live(docs, _BASE), name
