"""Value types: what goes into the pipeline (:class:`Article`) and what comes out
(:class:`Cluster`, :class:`Version`, :class:`PairScore`, :class:`Clustering`).

All are frozen dataclasses: a result can be shared, hashed by id and never
changes under a caller's feet.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timezone
from functools import cached_property
from types import MappingProxyType
from typing import Any

from . import frames

__all__ = [
    "Article",
    "ArticleError",
    "Cluster",
    "Clustering",
    "PairScore",
    "Rejected",
    "Version",
    "coerce_article",
    "DedupWarning",
    "prepare_articles",
    "iter_articles",
    "claim_id",
]

_FIELDS = ("id", "text", "title", "source", "url", "published", "metadata")


class ArticleError(ValueError):
    """An input record that cannot be used; the message names the record."""

    def __init__(self, ref: str, reason: str):
        super().__init__(f"article {ref}: {reason}")
        self.ref = ref
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Article:
    """One news article.

    Only ``text`` is needed; ``id`` is assigned from the input position when
    missing. ``published`` is used to pick the representative (earliest) and,
    when every article has one, to restrict comparisons to a time window.

    Values are checked and coerced when the article is built, as for a dict
    (:func:`coerce_article`): an integer id or a numeric title becomes a
    string, ``published`` may be an ISO 8601 string or epoch seconds or
    milliseconds, ``text=None`` is empty text; anything else raises
    :class:`ArticleError` naming the article, so no bad value reaches a run.
    """

    id: str
    text: str
    title: str | None = None
    source: str | None = None
    url: str | None = None
    published: datetime | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        ref = _check_id(self.id)
        if ref != self.id:
            object.__setattr__(self, "id", ref)
        if self.text is None:
            object.__setattr__(self, "text", "")
        elif not isinstance(self.text, str):
            raise ArticleError(repr(ref), f"'text' must be a string, got {type(self.text).__name__}")
        for name in ("title", "source", "url"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                object.__setattr__(self, name, _optional_str(value, name, repr(ref)))
        if self.published is not None and (not isinstance(self.published, datetime) or _not_a_time(self.published)):
            object.__setattr__(self, "published", _parse_published(self.published, repr(ref)))
        if not isinstance(self.metadata, MappingProxyType):
            if not isinstance(self.metadata, Mapping):
                raise ArticleError(repr(ref), f"'metadata' must be a mapping, got {type(self.metadata).__name__}")
            object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    def without_text(self) -> Article:
        """This article with its text released (``text=""``): a copy that is not
        checked again (its fields were checked when it was built) -- what a
        run that lets texts go keeps of each article."""
        return self._checked({**self._fields(), "text": ""})

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its fields (``metadata`` as a plain dict: a mapping
        proxy does not pickle), so articles can go to other processes."""
        return (_unpickle_article, (type(self), {**self._fields(), "metadata": dict(self.metadata)}))

    def _fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _ARTICLE_FIELDS}

    @classmethod
    def _checked(cls, values: dict[str, Any]) -> Article:
        """An article from every field's value, each already checked and
        coerced as :meth:`__post_init__` leaves it (``metadata`` a
        ``MappingProxyType``): built without checking them again, which is
        most of the cost of reading an article."""
        out = object.__new__(cls)
        for name in _ARTICLE_FIELDS:  # slots: no per-article dict (about 200 bytes an article)
            object.__setattr__(out, name, values[name])
        return out

    @property
    def timestamp(self) -> float | None:
        """Publication time as POSIX seconds (naive datetimes are taken as UTC)."""
        if self.published is None:
            return None
        p = self.published if self.published.tzinfo else self.published.replace(tzinfo=timezone.utc)
        return p.timestamp()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``published`` as ISO 8601)."""
        d: dict[str, Any] = {"id": self.id, "text": self.text}
        for k in ("title", "source", "url"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        if self.published is not None:
            d["published"] = self.published.isoformat()
        if self.metadata:
            d["metadata"] = dict(self.metadata)
        return d


_ARTICLE_FIELDS = tuple(f.name for f in fields(Article))


def _unpickle_article(cls: type[Article], fields: dict[str, Any]) -> Article:
    return cls._checked({**fields, "metadata": MappingProxyType(fields["metadata"])})


def _check_id(value: Any) -> str:
    """The id as a string (an integer is converted); ArticleError for another type or bad UTF-8."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ArticleError(repr(value), f"'id' must be a string or integer, got {type(value).__name__}")
    art_id = value if isinstance(value, str) else str(value)
    try:
        art_id.encode("utf-8")
    except UnicodeEncodeError:
        raise ArticleError(ascii(art_id), "'id' has bytes that are not valid UTF-8") from None
    return art_id


def _from_epoch(value: float, ref: str) -> datetime:
    seconds = value / 1000.0 if abs(value) > 1e11 else float(value)  # epoch ms vs s
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise ArticleError(
            ref, f"'published' {value!r} is out of range for epoch seconds or milliseconds (years 1 to 9999)"
        ) from None


def _not_a_time(value: datetime) -> bool:
    """pandas' NaT: a datetime subclass that stands for a missing time."""
    return value != value  # noqa: PLR0124 -- NaT is the one datetime unequal to itself


def _parse_published(value: Any, ref: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return None if _not_a_time(value) else value  # NaT (df.to_dict("records")): no time
    if isinstance(value, date):  # a date column (Parquet, pandas): midnight UTC
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if isinstance(value, bool):
        raise ArticleError(ref, f"'published' must be a datetime, ISO 8601 string or epoch number, got {value!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ArticleError(ref, f"'published' is not a finite number: {value!r}")
        return _from_epoch(value, ref)
    if isinstance(value, str):
        s = value.strip()
        if s.endswith("Z"):
            s = s[:-1] + "+00:00"
        try:
            return datetime.fromisoformat(s)
        except ValueError:
            try:
                return _parse_published(float(s), ref)
            except ValueError:
                pass
        raise ArticleError(ref, f"'published' is not an ISO 8601 date: {value!r}")
    raise ArticleError(
        ref, f"'published' must be a datetime, ISO 8601 string or epoch number, got {type(value).__name__}"
    )


def _optional_str(value: Any, name: str, ref: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, float) and math.isnan(value):
        return None  # a missing cell (df.to_dict("records")), as a DataFrame's own reader takes it
    if isinstance(value, (int, float)) and not isinstance(value, bool) and name in ("source", "title"):
        return str(value)
    raise ArticleError(ref, f"field {name!r} must be text, got {type(value).__name__}")


def coerce_article(obj: Any, default_id: str) -> Article:
    """Turn a ``str``, ``dict`` or :class:`Article` into an :class:`Article`.

    Dict keys other than the article fields go to ``metadata``. ``text=None``
    is taken as empty text (the article becomes a flagged singleton); text of
    another type is an :class:`ArticleError` naming the article.
    """
    if isinstance(obj, Article):
        return obj  # checked when it was built
    if isinstance(obj, str):
        return Article(id=default_id, text=obj)
    if isinstance(obj, Mapping):
        raw_id = obj.get("id")
        if raw_id is None or raw_id == "":
            art_id = default_id
        else:
            try:
                art_id = _check_id(raw_id)
            except ArticleError as exc:
                raise ArticleError(default_id, exc.reason) from None
        ref = repr(art_id)
        text = obj.get("text")
        if text is None:
            text = ""
        elif not isinstance(text, str):
            raise ArticleError(ref, f"'text' must be a string, got {type(text).__name__}")
        meta = obj.get("metadata") or {}
        if not isinstance(meta, Mapping):
            raise ArticleError(ref, f"'metadata' must be a mapping, got {type(meta).__name__}")
        extra = {k: v for k, v in obj.items() if k not in _FIELDS}
        return Article._checked(
            {
                "id": art_id,
                "text": text,
                "title": _optional_str(obj.get("title"), "title", ref),
                "source": _optional_str(obj.get("source"), "source", ref),
                "url": _optional_str(obj.get("url"), "url", ref),
                "published": _parse_published(obj.get("published"), ref),
                "metadata": MappingProxyType({**extra, **meta}),
            }
        )
    raise ArticleError(default_id, f"expected str, dict or Article, got {type(obj).__name__}")


@dataclass(frozen=True)
class PairScore:
    """The similarity of two articles (ids ``a < b``) that was confirmed.

    ``score`` is what linkage compared with ``Params.threshold``: the TF-IDF
    ``cosine``, put on one scale for short texts and blended with the
    shared-neighbour similarity (:func:`dedup.scoring.story_similarity`);
    ``jaccard`` is the MinHash estimate of word-shingle Jaccard similarity
    (high for copies).
    """

    a: str
    b: str
    cosine: float
    jaccard: float
    score: float


@dataclass(frozen=True)
class Version:
    """One version of a story and its near-identical copies."""

    representative: Article
    copies: tuple[Article, ...] = ()

    @property
    def members(self) -> tuple[Article, ...]:
        return (self.representative, *self.copies)


@dataclass(frozen=True)
class Cluster:
    """One story: every article that tells it.

    ``id`` is the representative's id, so it does not depend on input order.
    ``members`` starts with the representative, then in the batch's canonical
    order: publication time (undated last), then a digest of the text, then id.
    ``scores`` are the confirmed pairs inside the cluster: a story score at or
    above the threshold, or copies the copy rule joined first
    (:func:`dedup.linkage.joining_pairs`). ``versions`` group
    near-identical copies. ``flags`` note anything unusual (``"empty"``: the
    article had no usable text and is alone by construction).
    """

    id: str
    representative: Article
    members: tuple[Article, ...]
    scores: tuple[PairScore, ...] = ()
    versions: tuple[Version, ...] = ()
    flags: frozenset[str] = frozenset()

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(a.id for a in self.members)

    def __len__(self) -> int:
        return len(self.members)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "representative": self.representative.id,
            "members": list(self.ids),
            "versions": [[v.representative.id, *(c.id for c in v.copies)] for v in self.versions],
            "scores": [
                {
                    "a": s.a,
                    "b": s.b,
                    "score": round(s.score, 4),
                    "cosine": round(s.cosine, 4),
                    "jaccard": round(s.jaccard, 4),
                }
                for s in self.scores
            ],
            "flags": sorted(self.flags),
        }


@dataclass(frozen=True)
class Rejected:
    """An input record left out, with the reason (and its position in the input)."""

    ref: str
    position: int
    reason: str


@dataclass(frozen=True)
class Clustering(Sequence[Cluster]):
    """The result of :func:`dedup.cluster_articles`: a sequence of clusters.

    Clusters are ordered by size (largest first), then by id. ``rejected``
    lists input records that could not be used (with ``errors="warn"``).
    """

    clusters: tuple[Cluster, ...]
    rejected: tuple[Rejected, ...] = ()

    def __len__(self) -> int:
        return len(self.clusters)

    def __getitem__(self, i):  # type: ignore[override]
        return self.clusters[i]

    def __iter__(self) -> Iterator[Cluster]:
        return iter(self.clusters)

    @cached_property
    def labels_(self) -> dict[str, str]:
        """Each article id mapped to its cluster id (as scikit-learn's ``labels_``)."""
        return {a.id: c.id for c in self.clusters for a in c.members}

    def labels(self) -> dict[str, str]:
        """Deprecated alias of :attr:`labels_` (to be removed in the next version)."""
        warnings.warn(
            "Clustering.labels() is deprecated; use the attribute Clustering.labels_", DeprecationWarning, stacklevel=2
        )
        return self.labels_

    def to_pandas(self) -> Any:
        """One row per article (``id``, ``story``, ``version``, ``representative``,
        ``score``) as a pandas DataFrame; needs ``dedup[pandas]``. See :func:`dedup.frames.clustering_rows`."""
        return frames.to_pandas(self)

    def to_arrow(self) -> Any:
        """The rows of :meth:`to_pandas` as a pyarrow Table; needs ``dedup[arrow]``."""
        return frames.to_arrow(self)

    def cluster_of(self, article_id: str) -> Cluster:
        for c in self.clusters:
            if any(a.id == article_id for a in c.members):
                return c
        raise KeyError(article_id)


class DedupWarning(UserWarning):
    """A record was rejected or flagged; the message names it."""


def prepare_articles(items: Iterable[Any], errors: str = "warn") -> tuple[list[Article], list[Rejected]]:
    """Coerce inputs to :class:`Article` and check ids are unique.

    ``errors="raise"`` raises :class:`ArticleError` at the first bad record;
    ``"warn"`` rejects it with a :class:`DedupWarning` and goes on;
    ``"ignore"`` rejects it silently. Rejected records are returned.
    """
    rejected: list[Rejected] = []
    good = list(iter_articles(items, errors, rejected))
    return good, rejected


def iter_articles(items: Iterable[Any], errors: str, rejected: list[Rejected]) -> Iterator[Article]:
    """:func:`prepare_articles` as a generator: each good record as an
    :class:`Article` as soon as it is read (so a caller streaming a large
    input never holds it whole); rejected records are appended to ``rejected``."""
    if errors not in ("raise", "warn", "ignore"):
        raise ValueError(f"errors must be 'raise', 'warn' or 'ignore', got {errors!r}")
    if frames.is_frame(items):  # a pandas DataFrame or Arrow table: its rows as dicts
        items = frames.frame_records(items)
    if isinstance(items, (str, bytes, dict, Article)):
        raise TypeError("cluster_articles() takes an iterable of articles, not a single article")
    return _iter_articles(items, errors, rejected)


def claim_id(seen: dict[str, int], id_: str, position: int) -> str | None:
    """Record that the record at input ``position`` uses ``id_``; if an earlier
    record holds it, leave ``seen`` as it is and return the rejection reason
    (the first record with an id wins, wherever the ids are checked)."""
    if id_ in seen:
        return f"duplicate id: input positions {seen[id_]} and {position} both use it"
    seen[id_] = position
    return None


def _iter_articles(items: Iterable[Any], errors: str, rejected: list[Rejected]) -> Iterator[Article]:
    seen: dict[str, int] = {}
    for pos, item in enumerate(items):
        try:
            art = coerce_article(item, default_id=str(pos))
            reason = claim_id(seen, art.id, pos)
            if reason is not None:
                raise ArticleError(repr(art.id), reason)
        except ArticleError as exc:
            if errors == "raise":
                raise
            rejected.append(Rejected(ref=exc.ref, position=pos, reason=exc.reason))
            if errors == "warn":
                warnings.warn(f"{exc} (input position {pos}); left out", DedupWarning, stacklevel=4)
            continue
        yield art
