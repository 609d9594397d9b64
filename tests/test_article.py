"""Article values: checked and coerced when built (issue 18 case 11), epoch
dates out of range rejected with a reason (case 1), Clustering.labels_."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timezone

import pytest

from dedup import Article, ArticleError, cluster_articles

TEXT = "Officials met in Geneva on Tuesday to discuss the ceasefire proposal for the region."


def test_article_coerces_like_a_dict():  # issue 18 case 11
    a = Article(id=42, text=TEXT, title=2024, published="2024-03-01T10:00:00Z")
    assert a.id == "42" and a.title == "2024"
    assert a.published == datetime(2024, 3, 1, 10, tzinfo=timezone.utc)
    assert Article(id="e", text=None).text == ""
    assert Article(id="n", text="x", published=1_700_000_000_000).published.year == 2023  # epoch ms
    assert Article(id="d", text="x", published=date(2024, 2, 3)).published == datetime(2024, 2, 3, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        (dict(id=["x"], text=TEXT), "'id' must be a string or integer"),
        (dict(id=True, text=TEXT), "'id' must be a string or integer"),
        (dict(id="a", text=3), "'text' must be a string"),
        (dict(id="a", text=TEXT, url=5), "'url' must be text"),
        (dict(id="a", text=TEXT, published="last Tuesday"), "not an ISO 8601 date"),
        (dict(id="a", text=TEXT, published=1e17), "out of range"),
        (dict(id="a\ud800", text=TEXT), "not valid UTF-8"),
        (dict(id="a", text=TEXT, metadata=[1]), "'metadata' must be a mapping"),
    ],
)
def test_article_refuses_bad_values_when_built(kwargs, reason):  # issue 18 cases 11, 1, 4
    with pytest.raises(ArticleError, match=reason):
        Article(**kwargs)


def test_cluster_articles_with_built_articles_never_crashes_mid_run():  # issue 18 case 11
    arts = [Article(id=1, text=TEXT, title=7, published="2024-01-01"), Article(id=2, text=TEXT + " Again.")]
    result = cluster_articles(arts)
    assert sorted(a.id for c in result for a in c.members) == ["1", "2"]


def test_out_of_range_epoch_is_one_rejected_record():  # issue 18 case 1
    docs = [{"id": "bad", "text": TEXT, "published": 1e17}, {"id": "good", "text": TEXT}]
    with pytest.warns(UserWarning, match="out of range"):
        result = cluster_articles(docs)
    assert [r.ref for r in result.rejected] == ["'bad'"] and "out of range" in result.rejected[0].reason
    assert [a.id for c in result for a in c.members] == ["good"]


def test_labels_is_an_attribute_and_labels_call_is_deprecated():
    result = cluster_articles([{"id": "a", "text": TEXT}, {"id": "b", "text": TEXT}])
    assert result.labels_ == {"a": result[0].id, "b": result[0].id}
    with pytest.warns(DeprecationWarning, match="labels_"):
        assert result.labels() == result.labels_


def test_without_text_keeps_every_other_field():
    a = Article(id=7, text="Storm hits Miami", title="Storm", metadata={"k": 1}, published="2020-01-01T00:00:00Z")
    b = a.without_text()
    assert b.text == "" and a.text == "Storm hits Miami"
    assert b == dataclasses.replace(a, text="") and b.metadata == {"k": 1} and b.id == "7"


def test_a_dict_record_gives_the_article_the_constructor_gives():
    """coerce_article builds from values it checked itself (no second check):
    the same article, field for field, as ``Article(...)`` of those values."""
    from types import MappingProxyType

    from dedup.article import coerce_article

    rec = {
        "id": 42,
        "text": TEXT,
        "title": 2024,
        "url": "u",
        "published": 1_700_000_000,
        "desk": "x",
        "metadata": {"k": 1},
    }
    got = coerce_article(rec, "0")
    want = Article(id=42, text=TEXT, title=2024, url="u", published=1_700_000_000, metadata={"desk": "x", "k": 1})
    assert got == want and _values(got) == _values(want) and isinstance(got.metadata, MappingProxyType)
    assert coerce_article({"text": None}, "3") == Article(id="3", text="")


def _values(a: Article) -> dict:
    """Every field's value (metadata too, which equality leaves out)."""
    import dataclasses

    return {f.name: getattr(a, f.name) for f in dataclasses.fields(a)}


def test_articles_pickle_with_their_metadata():
    import pickle

    a = Article(id=7, text=TEXT, title="T", published="2020-01-01T00:00:00Z", metadata={"k": [1, 2]})
    for b in (pickle.loads(pickle.dumps(a)), pickle.loads(pickle.dumps(a.without_text()))):
        assert _values(b) == {**_values(a), "text": b.text} and b.metadata == {"k": [1, 2]}
    assert pickle.loads(pickle.dumps(a)).text == TEXT
    assert not hasattr(a, "__dict__")  # slots: no dict per article (a million are held at once)


def test_missing_cells_of_a_records_dict_are_missing_fields():
    # df.to_dict("records") gives NaT for a missing time and NaN for a missing
    # title or source; a DataFrame read directly gives None for both
    pd = pytest.importorskip("pandas")
    from dedup.live import StoryIndex

    rec = {"id": "a", "text": "Bank raises rates", "published": pd.NaT, "title": float("nan"), "source": float("nan")}
    (cluster,) = cluster_articles([rec])
    a = cluster.representative
    assert a.published is None and a.title is None and a.source is None and a.timestamp is None
    assert StoryIndex().add(rec).kind == "new"
    assert Article(id="b", text="x", published=pd.NaT).published is None
