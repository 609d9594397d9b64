"""pandas DataFrames and Arrow tables in and out (``pip install "dedup[pandas]"``
or ``"dedup[arrow]"``).

In: :func:`frame_records` turns a ``pandas.DataFrame``, a ``pyarrow.Table``
or ``RecordBatch`` into the dicts :func:`dedup.cluster_articles` reads, a
batch of rows at a time, columns renamed by keyword (``text_col="body"``).
``cluster_articles(df)`` calls it for a frame whose columns already carry
the dict form's names. Missing values (``None``, ``NaN``, ``NaT``) become
absent fields; numpy scalars become Python ones.

Out: :func:`clustering_rows` is one row per article of a result (id, story,
version, representative, score), the rows of ``Clustering.to_pandas()`` and
``Clustering.to_arrow()``.

This module imports neither library until it is called, and nothing else
of dedup (the article module calls it).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterator
from typing import Any

__all__ = ["require", "is_frame", "frame_records", "clustering_rows", "to_pandas", "to_arrow", "OUTPUT_COLUMNS"]

#: columns of :func:`to_pandas` / :func:`to_arrow`, one row per article
OUTPUT_COLUMNS = ("id", "story", "version", "representative", "score")
_EXTRA = {"pandas": "pandas", "pyarrow": "arrow"}


def require(module: str, extra: str) -> Any:
    """Import ``module`` or raise ImportError saying which extra to install."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError:
        top = module.split(".")[0]
        raise ImportError(f"this needs {top}, which is not installed: pip install 'dedup[{extra}]'") from None


def _kind(obj: Any) -> str | None:
    mod = type(obj).__module__ or ""
    name = type(obj).__name__
    if mod.startswith("pandas") and name == "DataFrame":
        return "pandas"
    if mod.startswith("pyarrow") and name in ("Table", "RecordBatch"):
        return "arrow"
    return None


def is_frame(obj: Any) -> bool:
    """Whether ``obj`` is a pandas DataFrame or an Arrow Table/RecordBatch (without importing either)."""
    return _kind(obj) is not None


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return type(value).__name__ in ("NaTType", "NAType")


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)  # numpy scalars
    if item is not None and type(value).__module__ == "numpy":
        return item()
    return value


def _batches(obj: Any, batch_size: int) -> Iterator[tuple[list[str], list[list[Any]]]]:
    if _kind(obj) == "arrow":
        for batch in obj.to_batches(max_chunksize=batch_size) if hasattr(obj, "to_batches") else [obj]:
            yield list(batch.schema.names), [col.to_pylist() for col in batch.columns]
        return
    names = [str(c) for c in obj.columns]
    for start in range(0, len(obj), batch_size):
        part = obj.iloc[start : start + batch_size]
        yield names, [part.iloc[:, k].tolist() for k in range(len(names))]


def frame_records(
    frame: Any,
    *,
    id_col: str = "id",
    text_col: str = "text",
    title_col: str = "title",
    published_col: str = "published",
    source_col: str = "source",
    url_col: str = "url",
    batch_size: int = 4096,
) -> Iterator[dict[str, Any]]:
    """The rows of a DataFrame or Arrow table as article dicts, ``batch_size`` rows at a time.

    Each ``*_col`` names the column holding that field (a column that does
    not exist is simply absent, except ``text_col``: a ValueError listing the
    columns). Other columns go to the article's metadata.
    """
    if not is_frame(frame):
        raise TypeError(f"expected a pandas DataFrame or a pyarrow Table, got {type(frame).__name__}")
    rename = {
        id_col: "id",
        text_col: "text",
        title_col: "title",
        published_col: "published",
        source_col: "source",
        url_col: "url",
    }
    columns = [str(c) for c in (frame.column_names if _kind(frame) == "arrow" else frame.columns)]
    if text_col not in columns:
        raise ValueError(f"no column {text_col!r} (columns: {', '.join(columns)}); name it with text_col=")
    return _rows(frame, rename, batch_size)


def _rows(frame: Any, rename: dict[str, str], batch_size: int) -> Iterator[dict[str, Any]]:
    taken = {v for k, v in rename.items() if k != v}
    for names, cols in _batches(frame, batch_size):
        keys = [rename.get(n, "_" + n if n in taken else n) for n in names]
        for values in zip(*cols, strict=True):
            yield {k: _plain(v) for k, v in zip(keys, values, strict=True) if not _missing(v)}


def clustering_rows(clustering: Any) -> dict[str, list[Any]]:
    """Columns of one row per article: ``id``, ``story`` (the cluster id),
    ``version`` (the id heading its group of copies), ``representative``
    (bool) and ``score`` (its highest confirmed score inside its story; None
    for an article alone)."""
    out: dict[str, list[Any]] = {c: [] for c in OUTPUT_COLUMNS}
    for c in clustering:
        best: dict[str, float] = {}
        for s in c.scores:
            for x in (s.a, s.b):
                best[x] = max(best.get(x, -1.0), s.score)
        version_of = {a.id: v.representative.id for v in c.versions for a in v.members}
        for a in c.members:
            out["id"].append(a.id)
            out["story"].append(c.id)
            out["version"].append(version_of.get(a.id, a.id))
            out["representative"].append(a.id == c.id)
            out["score"].append(best.get(a.id))
    return out


def to_pandas(clustering: Any) -> Any:
    """:func:`clustering_rows` as a ``pandas.DataFrame``."""
    pd = require("pandas", "pandas")
    rows = clustering_rows(clustering)
    df = pd.DataFrame(rows, columns=list(OUTPUT_COLUMNS))
    df["score"] = df["score"].astype("float64")
    return df


def to_arrow(clustering: Any) -> Any:
    """:func:`clustering_rows` as a ``pyarrow.Table``."""
    pa = require("pyarrow", "arrow")
    rows = clustering_rows(clustering)
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("story", pa.string()),
            ("version", pa.string()),
            ("representative", pa.bool_()),
            ("score", pa.float64()),
        ]
    )
    return pa.table(rows, schema=schema)
