"""pandas DataFrames and Arrow tables in, to_pandas()/to_arrow() out (issue 19)."""

from __future__ import annotations

import sys
from datetime import datetime

import pytest

from dedup import cluster_articles, frame_records
from dedup.frames import OUTPUT_COLUMNS

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")

BASE = "Officials met in Geneva on Tuesday to discuss the ceasefire proposal for the northern region, {}."
TEXTS = [
    BASE.format("sources said"),
    BASE.format("sources said on Wednesday"),
    "The central bank raised interest rates by half a point to fight inflation, its governor said.",
]


def _records():
    return [{"id": f"a{i}", "text": t, "published": datetime(2024, 1, 1 + i)} for i, t in enumerate(TEXTS)]


def test_dataframe_in_gives_the_dict_clusters():
    expected = cluster_articles(_records()).labels_
    df = pd.DataFrame(_records())
    assert cluster_articles(df).labels_ == expected
    assert len(set(expected.values())) == 2  # the two Geneva versions join, the bank story is alone


def test_arrow_table_in_with_columns_mapped_by_keyword():
    expected = cluster_articles(_records()).labels_
    table = pa.table(
        {
            "doc": [r["id"] for r in _records()],
            "body": TEXTS,
            "when": [r["published"] for r in _records()],
            "text": ["not the body"] * 3,
        }
    )
    got = cluster_articles(frame_records(table, id_col="doc", text_col="body", published_col="when", batch_size=2))
    assert got.labels_ == expected
    one = next(frame_records(table, id_col="doc", text_col="body"))
    assert one["_text"] == "not the body"  # a column that would shadow a mapped one goes to metadata


def test_missing_values_and_numpy_scalars_become_plain_fields():
    df = pd.DataFrame(
        {"id": [1, 2], "text": TEXTS[:2], "title": ["T", None], "published": [pd.Timestamp("2024-01-02"), pd.NaT]}
    )
    rows = list(frame_records(df))
    assert rows[0]["id"] == 1 and type(rows[0]["id"]) is int
    assert "title" not in rows[1] and "published" not in rows[1]
    assert cluster_articles(df).labels_.keys() == {"1", "2"}


def test_missing_text_column_names_the_columns():
    with pytest.raises(ValueError, match="no column 'text'.*columns: id, body"):
        cluster_articles(pd.DataFrame({"id": [1], "body": ["x"]}))


def test_result_to_pandas_and_arrow():
    result = cluster_articles(_records())
    df = result.to_pandas()
    assert list(df.columns) == list(OUTPUT_COLUMNS) and len(df) == 3
    story = df.set_index("id")
    assert story.loc["a0", "story"] == story.loc["a1", "story"] != story.loc["a2", "story"]
    assert story["representative"].sum() == 2
    assert story.loc["a1", "score"] > 0 and pd.isna(story.loc["a2", "score"])
    table = result.to_arrow()
    assert table.column_names == list(OUTPUT_COLUMNS)
    assert table.to_pandas().equals(df)


def test_missing_extra_is_named(monkeypatch):
    result = cluster_articles(_records()[:1])
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ImportError, match=r"needs pandas.*pip install 'dedup\[pandas\]'"):
        result.to_pandas()
    with pytest.raises(ImportError, match=r"pip install 'dedup\[arrow\]'"):
        result.to_arrow()
