"""Reading and writing articles: folders of .txt, JSONL and CSV (optionally gzipped).

Readers never stop at a bad record: :func:`iter_records` yields one
:class:`Record` per input line/row, holding either an :class:`Article` or the
reason it was rejected, with its file and line number. :func:`read_paths`
is the convenience for the CLI: good articles out, bad ones reported.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator

from .article import Article, ArticleError, coerce_article

__all__ = ["Record", "iter_records", "read_paths", "open_text", "write_jsonl", "detect_format", "FORMATS"]

FORMATS = ("jsonl", "csv", "txt")
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass(frozen=True)
class Record:
    """One input record: an article, or the reason it could not be read."""

    source: str  # file name, or "<stdin>"
    line: int  # 1-based line (JSONL) or row (CSV, header is row 1); 0 for a whole .txt file
    article: Article | None = None
    error: str | None = None
    raw: Any = None  # the parsed record, when it could be parsed

    @property
    def ok(self) -> bool:
        return self.article is not None

    def where(self) -> str:
        return f"{self.source}:{self.line}" if self.line else self.source


def detect_format(path: str) -> str:
    """``jsonl``, ``csv`` or ``txt`` from a file name (a ``.gz`` suffix is looked through)."""
    name = path[:-3] if path.endswith(".gz") else path
    ext = os.path.splitext(name)[1].lower()
    if ext in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if ext in (".csv", ".tsv"):
        return "csv"
    return "txt"


def open_text(path: str, mode: str = "r") -> IO[str]:
    """Open a text file, ``-`` for stdin/stdout, gunzipping ``.gz``; bad bytes
    are escaped (``surrogateescape``) so that one bad record is reported, not fatal."""
    if path == "-":
        stream = sys.stdin if "r" in mode else sys.stdout
        if "r" in mode:
            return io.TextIOWrapper(stream.buffer, encoding="utf-8", errors="surrogateescape", newline="")
        return stream
    if path.endswith(".gz"):
        return gzip.open(path, mode + "t", encoding="utf-8", errors="surrogateescape", newline="")
    return open(path, mode, encoding="utf-8", errors="surrogateescape", newline="")


def _check_decodable(value: Any, name: str) -> None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ArticleError("", f"field {name!r} has bytes that are not valid UTF-8") from None


def _from_mapping(obj: Any, default_id: str, text_field: str, id_field: str) -> Article:
    if not isinstance(obj, dict):
        raise ArticleError(default_id, f"expected a JSON object, got {type(obj).__name__}")
    if text_field not in obj and not ("title" in obj and obj.get("title")):
        raise ArticleError(default_id, f"missing text field {text_field!r}")
    rec = dict(obj)
    if text_field != "text":
        rec["text"] = rec.pop(text_field, None)
    if id_field != "id":
        rec["id"] = rec.pop(id_field, None)
    for k in ("text", "title"):
        _check_decodable(rec.get(k), k)
    return coerce_article(rec, default_id)


def iter_records(
    path: str,
    *,
    fmt: str | None = None,
    text_field: str = "text",
    id_field: str = "id",
    stream: IO[str] | None = None,
) -> Iterator[Record]:
    """Every record of one input, good or bad, with its line number.

    Missing ids become ``"<file stem>:<line>"``. For CSV, the header names the
    fields (``text_field``, ``id_field``, title, published, ...).
    """
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    label = "<stdin>" if path == "-" else path
    stem = "stdin" if path == "-" else Path(path[:-3] if path.endswith(".gz") else path).stem
    f = stream if stream is not None else open_text(path)
    try:
        if fmt == "txt":
            text = f.read()
            try:
                _check_decodable(text, "text")
                yield Record(label, 0, article=Article(id=stem, text=text))
            except ArticleError as exc:
                yield Record(label, 0, error=f"article {stem!r}: {exc.reason}")
            return
        if fmt == "jsonl":
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield Record(label, n, error=f"invalid JSON: {exc.msg} (column {exc.colno})")
                    continue
                yield _record(label, n, obj, f"{stem}:{n}", text_field, id_field)
            return
        delimiter = "\t" if path.endswith((".tsv", ".tsv.gz")) else ","
        reader = csv.DictReader(f, delimiter=delimiter)
        fields = [h.strip() for h in (reader.fieldnames or [])]
        lower = {h.lower(): h for h in fields}
        reader.fieldnames = fields
        tf = text_field if text_field in fields else lower.get(text_field.lower())
        idf = id_field if id_field in fields else lower.get(id_field.lower())
        for row in reader:
            n = reader.line_num
            if None in row:
                yield Record(label, n, error=f"row has {len(fields) + len(row[None])} fields, header has {len(fields)}")
                continue
            obj = {k.lower() if k in (tf, idf) or k.lower() in ("title", "published", "source", "url") else k: v
                   for k, v in row.items()}
            if tf is None and "title" not in obj:
                yield Record(label, n, error=f"missing text column {text_field!r} (header: {', '.join(fields)})")
                continue
            if tf is None:
                obj["text"] = ""
            yield _record(label, n, obj, f"{stem}:{n}", tf.lower() if tf else "text", idf.lower() if idf else "id")
    finally:
        if stream is None and path != "-":
            f.close()


def _record(label: str, n: int, obj: Any, default_id: str, text_field: str, id_field: str) -> Record:
    try:
        return Record(label, n, article=_from_mapping(obj, default_id, text_field, id_field), raw=obj)
    except ArticleError as exc:
        return Record(label, n, error=str(exc), raw=obj)


def _expand(paths: Iterable[str]) -> Iterator[str]:
    for p in paths:
        if p != "-" and os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs.sort()
                for name in sorted(files):
                    if name.startswith("."):
                        continue
                    full = os.path.join(root, name)
                    if detect_format(full) in ("jsonl", "csv") or name.endswith((".txt", ".txt.gz")):
                        yield full
        elif p != "-" and not os.path.exists(p):
            raise FileNotFoundError(f"no such file or folder: {p}")
        else:
            yield p


def read_paths(
    paths: Iterable[str],
    *,
    text_field: str = "text",
    id_field: str = "id",
    on_error: Callable[[Record], None] | None = None,
) -> Iterator[Article]:
    """Articles from files and folders (``.txt`` files, ``.jsonl``, ``.csv``, optionally ``.gz``).

    Bad records are passed to ``on_error`` (default: a line on stderr naming
    file, line and reason) and skipped; the good ones still come through.
    """
    report = on_error or (lambda r: print(f"dedup: {r.where()}: {r.error}", file=sys.stderr))
    for path in _expand(paths):
        for rec in iter_records(path, text_field=text_field, id_field=id_field):
            if rec.ok:
                yield rec.article  # type: ignore[misc]
            else:
                report(rec)


def write_jsonl(rows: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """Write dicts as JSON lines; returns how many."""
    n = 0
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        n += 1
    return n
