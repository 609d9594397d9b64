"""One input record, the field names that map a record onto an article, and
the conversion of a parsed record into an :class:`~dedup.article.Article`.

Every reader yields :class:`Record` values: an article, or the reason the
record could not be used, always with its file and line (or row).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..article import Article, ArticleError, coerce_article

__all__ = ["Record", "FieldMap", "InputError", "record_from_mapping", "CHECKED_FIELDS"]

#: the article fields whose strings must be valid UTF-8 (they are written out)
CHECKED_FIELDS = ("id", "text", "title", "source", "url")


class InputError(ValueError):
    """An input that cannot be read at all (unknown format, unreadable file);
    the message names the file. One bad *record* is a :class:`Record` with an
    error instead, and never stops a reader."""


@dataclass(frozen=True)
class FieldMap:
    """Which input field holds each article field (``--id-field`` & co.)."""

    id: str = "id"
    text: str = "text"
    title: str = "title"
    published: str = "published"

    def pairs(self) -> tuple[tuple[str, str], ...]:
        """``(article field, input field)`` for each mapped field."""
        return (("id", self.id), ("text", self.text), ("title", self.title), ("published", self.published))


@dataclass(frozen=True)
class Record:
    """One input record: an article, or the reason it could not be used.

    ``line`` is the 1-based line (JSONL), the line a row ends on (CSV, the
    header is line 1), the row (Parquet), or 0 for a whole ``.txt`` file.
    ``raw`` is the parsed record (a dict) when it could be parsed; ``data``
    the record's exact input bytes (JSONL), so that it can be written out
    unchanged; ``id_field`` the key of ``raw`` the id was looked up under
    (a CSV header's own spelling of ``--id-field``).
    """

    source: str
    line: int
    article: Article | None = None
    error: str | None = None
    raw: Any = None
    data: bytes | None = None
    id_field: str | None = None

    @property
    def ok(self) -> bool:
        return self.article is not None

    def where(self) -> str:
        """``file:line`` (or the file alone for a whole-file record)."""
        return f"{self.source}:{self.line}" if self.line else self.source


def _check_utf8(rec: Mapping[str, Any], ref: str) -> None:
    for name in CHECKED_FIELDS:
        value = rec.get(name)
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ArticleError(ref, f"field {name!r} has bytes that are not valid UTF-8") from None


def record_from_mapping(obj: Any, default_id: str, fields: FieldMap) -> Article:
    """The :class:`Article` of one parsed record, its fields renamed by ``fields``.

    Raises :class:`~dedup.ArticleError` with the reason when the record cannot
    be used (not an object, no text, wrong types, undecodable bytes).
    """
    if not isinstance(obj, Mapping):
        raise ArticleError(default_id, f"expected a JSON object, got {type(obj).__name__}")
    if fields.text not in obj and not obj.get(fields.title):
        raise ArticleError(default_id, f"missing text field {fields.text!r}")
    renamed = {source for name, source in fields.pairs() if source != name}
    taken = {name for name, source in fields.pairs() if source != name}
    rec = {k: v for k, v in obj.items() if k not in renamed and k not in taken}
    for name, source in fields.pairs():
        if source in obj:
            rec[name] = obj[source]
    _check_utf8(rec, default_id)
    return coerce_article(rec, default_id)
