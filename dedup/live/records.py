"""The values of the live index: what an add answers (:class:`Match`), a story
(:class:`Story`), one indexed article as the storage keeps it (:class:`Entry`),
an article's own features before it meets the index (:class:`Prepared`), the
whole state as plain arrays (:class:`Snapshot`, what a saved file holds), and
the index's errors.

Kept apart from :mod:`dedup.live.index` so that the storage modules
(:mod:`~dedup.live.memory`, :mod:`~dedup.live.redis`) and the file format
(:mod:`~dedup.live.persist`) depend on these values, never on the index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..article import Article

__all__ = [
    "KINDS",
    "DuplicateArticleError",
    "IndexStorageError",
    "IndexFormatError",
    "IndexSaveError",
    "Match",
    "Story",
    "Entry",
    "Prepared",
    "Profiles",
    "Partners",
    "PartnerLists",
    "Snapshot",
]

KINDS = ("new", "rewrite", "copy")

# seq -> (top, rev): the neighbour profiles an add or a removal changes
Profiles = dict[int, tuple[dict[int, float], dict[int, float]]]
# an article's partner list (the batch's partner rule, :mod:`dedup.live.decide`):
# partner seq -> term-view bands in common, at most Params.max_partners of them
Partners = dict[int, int]
PartnerLists = dict[int, Partners]  # seq -> the new partner list of an article an add changes


class DuplicateArticleError(ValueError):
    """An article with this id is already in the index."""


class IndexStorageError(RuntimeError):
    """The index's storage (e.g. the Redis server) failed; the message says
    what was stored before the failure."""


class IndexFormatError(ValueError):
    """A saved index file that cannot be loaded (truncated, corrupted, another
    format or version, inconsistent contents, too large once inflated); the
    message names the file and the reason."""


class IndexSaveError(OSError):
    """The index could not be written (read-only folder, disk full, ...); the
    message names the file and the reason, and the previous file at that path
    is left as it was."""


@dataclass(frozen=True)
class Match:
    """Where an article belongs.

    ``kind`` is ``"new"`` (it starts a story), ``"rewrite"`` (a new version of
    the known story ``story``) or ``"copy"`` (a copy of version ``version``).
    ``matched`` is the indexed article it resembles most (``None`` for a new
    story), with the TF-IDF ``cosine`` and estimated shingle ``jaccard`` of
    that pair; ``score`` is what decided it (the mean story score to the
    story's members, :func:`dedup.scoring.story_similarity`; for a copy, the
    Jaccard). ``merged`` lists stories that this article bridged and that
    were merged into ``story``. ``existing`` is True when the id was already
    indexed (e.g. by another worker sharing a Redis index): nothing was
    added, and the match says where that article is.
    """

    id: str
    story: str
    version: str
    kind: str
    matched: str | None = None
    cosine: float = 0.0
    jaccard: float = 0.0
    score: float = 0.0
    merged: tuple[str, ...] = ()
    existing: bool = False

    @classmethod
    def already_indexed(cls, article_id: str, story: str, version: str) -> Match:
        """The answer for an id already in a shared index: where that article is
        (``existing``; the scores are 1: it is the same article)."""
        return cls(article_id, story, version, "copy", article_id, 1.0, 1.0, 1.0, existing=True)

    @property
    def is_new(self) -> bool:
        return self.kind == "new"

    @property
    def is_copy(self) -> bool:
        return self.kind == "copy"

    def to_dict(self) -> dict[str, Any]:
        d = {
            "id": self.id,
            "story": self.story,
            "version": self.version,
            "kind": self.kind,
            "matched": self.matched,
            "cosine": round(self.cosine, 4),
            "jaccard": round(self.jaccard, 4),
            "score": round(self.score, 4),
            "merged": list(self.merged),
        }
        if self.existing:
            d["existing"] = True
        return d


@dataclass(frozen=True)
class Story:
    """One story of the index: member ids in the order they were added.

    ``id`` is the id of the article that started the story (it does not
    change as the story grows). ``representative`` is the earliest published
    member (without times: the first added). ``versions`` group copies: each
    starts with the version's first article.
    """

    id: str
    representative: str
    members: tuple[str, ...]
    versions: tuple[tuple[str, ...], ...] = ()

    def __len__(self) -> int:
        return len(self.members)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "representative": self.representative,
            "members": list(self.members),
            "versions": [list(v) for v in self.versions],
        }


@dataclass(slots=True)
class Entry:
    """One indexed article, as the storage keeps it (see :mod:`dedup.live.index`)."""

    seq: int
    id: str
    story: str
    version: str
    ts: float  # NaN when unknown
    live: bool = False
    cols: np.ndarray | None = None  # int32, sorted: kept hashed columns
    counts: np.ndarray | None = None  # float32 term counts of those columns
    term_sig: np.ndarray | None = None  # uint32 (num_perm,)
    shingle_sig: np.ndarray | None = None  # uint32 (num_perm,)
    n_terms: int = 0  # distinct terms before pruning (the short-text rule)
    dropped: float = 0.0  # squared weight of the terms pruned by Params.max_terms (kept in the norm)
    # Neighbour profile: ``top`` its best-scoring partners (seq -> short-text-scaled
    # score, at most Params.neighbourhood), ``rev`` the partners that have it in their ``top``.
    top: dict[int, float] | None = None
    rev: dict[int, float] | None = None
    # Partner list: its best term-view partners so far (see :mod:`dedup.live.decide`);
    # None when not kept (no ``max_partners``, or loaded from a file written before it was)
    partners: Partners | None = None

    def drop_features(self) -> None:
        self.live = False
        self.cols = self.counts = self.term_sig = self.shingle_sig = None
        self.top = self.rev = self.partners = None


@dataclass
class Prepared:
    """An article's own features, before it meets the index."""

    article: Article | None
    ts: float
    cols: np.ndarray  # int32 sorted: the kept columns (Params.max_terms)
    df_cols: np.ndarray  # int32 sorted: every column of the article (counted in document frequencies)
    counts: np.ndarray  # float32
    shingle_sig: np.ndarray
    empty: bool
    n_terms: int = 0
    dropped: float = 0.0
    positioned: bool = False  # no id of its own: its id is a position given ahead, checked under the lock


@dataclass(frozen=True)
class Snapshot:
    """The whole state of an index as plain values: what a saved file holds.

    ``entries`` in sequence order (live ones with their features); ``df_cols``
    and ``df_vals`` the nonzero running document frequencies."""

    entries: tuple[Entry, ...]
    df_cols: np.ndarray  # int64
    df_vals: np.ndarray  # int32
    n_docs: int
    next_seq: int
    newest_ts: float  # -inf when no article had a time
    n_stories: int
