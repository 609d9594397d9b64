"""StoryIndex: a live index of stories for a feed, one article at a time.

Each incoming article is checked against everything seen so far: it starts
a new story, joins a known story as a new version (a rewrite), or is a copy
of a known version. The same stages as :func:`dedup.cluster_articles` are
used -- :func:`dedup.pipeline.featurize` for the per-article features,
:mod:`dedup.verify` for TF-IDF weights, :func:`dedup.minhash.signatures`
for the top-terms view, the two LSH views of :mod:`dedup.candidates` (same
bands, rows and band keys: in memory compact band tables,
:mod:`dedup.bandtable`; on Redis datasketch ``MinHashLSH``) -- and the
same :class:`dedup.Params`.

Incremental TF-IDF
------------------
Features are hashed, so no vocabulary is fitted. The index keeps *running
document frequencies* (one count per hashed column, every article ever
added) and the article count, blended with the same ``wordfreq`` background
prior as a batch (:func:`dedup.verify.background_prior`: one read-only array
per process, depending on the parameters only). When an article arrives, the
frequencies are updated with its columns first (a batch counts every article
in its own frequencies), then the article and each candidate are weighed
with the *current* frequencies: each indexed article keeps its term counts,
not frozen weights, so two articles are always compared under one idf, as in
a batch. Rows are pruned to ``Params.max_terms`` terms by
:func:`dedup.pipeline.featurize` exactly as in a batch (frequencies count
every term; the pruned weight stays in the row's norm, ``Entry.dropped``).
Removing an article does not change the frequencies. In memory, the
candidates of an add are weighed and multiplied with the article's row in
one compiled pass (:func:`dedup._index_kernels.candidate_products`) over the
live rows kept in flat arrays (:class:`dedup._index_kernels.TermPool`) and a
per-column array of document frequency plus prior; the numpy form
(:meth:`StoryIndex._weights`) is its reference and is used for the article's
own row and for re-clustering.

Story score
-----------
Pairs are linked on the batch's score (:func:`dedup.verify.story_similarity`):
the cosine times the short-text factor (``Params.short_text_terms``, from
each article's number of terms and the terms the pair shares), blended with
the shared-neighbour similarity. The batch builds each article's neighbour
profile from all its scored pairs at once; the index keeps it incrementally:
each live article stores its ``Params.neighbourhood`` best partners (``top``,
by short-text-scaled score) and the partners that have it among theirs
(``rev``). A new article takes its best scored candidates and enters a
candidate's ``top`` when it beats the weakest one (which leaves); its pairs
are then scored with the updated profiles. Removing an article takes it out
of its partners' profiles (they are not refilled); an article that stops
being live keeps its place in the profiles of the others.

Assignment (the incremental form of average linkage)
----------------------------------------------------
Candidates come from the two LSH views (with the batch's bucket cap: a bucket
larger than ``max_bucket_size`` contributes only its ``bucket_neighbours``
most recent members) and are dropped when both times are known and further
apart than ``time_window``. Each candidate is scored (TF-IDF cosine,
estimated shingle Jaccard, story score). If a candidate's Jaccard reaches
``copy_threshold`` the article is a *copy* of that candidate's version (best
Jaccard wins). Otherwise the article joins the story with the highest mean
story score over *all* its members (members that were not scored count 0,
as in average linkage) when that mean reaches ``threshold`` -- a *rewrite*,
a new version; else it starts a *new* story. Ties go to the older story.

Arrival order matters to a greedy rule, so after each add the article's
neighbourhood (its story and every story with a member within half the
threshold of it) is clustered again with the batch's own
:func:`dedup.cluster.link` over the pairs that share an LSH band, scored
with the story score: a later article can merge two stories it bridges, or
move a member to a story it fits better, as the batch would. Story
membership of earlier articles can therefore change (a :class:`Match`
describes the state right after its add). On ECB+ in random orders the
adjusted Rand index against :func:`dedup.cluster_articles` is about 0.99
(``tests/test_index.py``).

Memory
------
Per article the index keeps its id, story, version and time; while an
article can still be matched ("live") also its pruned term counts (on the
entry and, for the compiled candidate pass, in the term pool: about 20 bytes
per kept term in all) and its two
signatures (uint32 arrays), its neighbour profile, and its place in the
two LSH band tables (one member per band: about 40-60 bytes per band in
numpy arrays, :mod:`dedup.bandtable`). An article leaves the live set when it is older
than ``retention`` (default ``time_window``) behind the newest publication
time seen -- it can no longer be within the window of new articles unless
the feed arrives badly out of order -- or, with ``max_live``, when more than
that many articles are live (oldest first). So memory grows with the feed
only by a small record per article.

Storage
-------
The in-memory state is the embedded default. ``StoryIndex(redis={...})``
puts everything (LSH tables through datasketch's Redis storage, article
records, stories, document frequencies) on a Redis server, so several
worker processes share one index; each ``add`` holds a Redis lock while it
decides and writes (featurising happens outside the lock), so concurrent
workers give the same kind of result as one worker. See
:mod:`dedup.redis_state`. Persistence of the in-memory index
(:meth:`StoryIndex.save` / :meth:`StoryIndex.load`) is in
:mod:`dedup.index_file`.
"""

from __future__ import annotations

import heapq
import math
import threading
from collections import OrderedDict
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from functools import lru_cache
from datetime import timedelta
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import scipy.sparse as sp

from . import candidates as cand
from . import verify
from ._index_kernels import TermPool, candidate_products, profile_dots, sublinear_tf
from .article import Article, ArticleError, coerce_article
from .bandtable import BandTable
from .minhash import EMPTY, estimate_jaccard, signatures
from .params import Params
from .pipeline import RawFeatures, featurize

__all__ = ["StoryIndex", "Match", "Story", "DuplicateArticleError", "IndexStorageError", "IndexFormatError"]

KINDS = ("new", "rewrite", "copy")


class DuplicateArticleError(ValueError):
    """An article with this id is already in the index."""


class IndexStorageError(RuntimeError):
    """The index's storage (e.g. the Redis server) failed; the message says
    what was stored before the failure."""


class IndexFormatError(ValueError):
    """A saved index file that cannot be loaded (truncated, corrupted, another
    format or version); the message names the file and the reason."""


@dataclass(frozen=True)
class Match:
    """Where an article belongs.

    ``kind`` is ``"new"`` (it starts a story), ``"rewrite"`` (a new version of
    the known story ``story``) or ``"copy"`` (a copy of version ``version``).
    ``matched`` is the indexed article it resembles most (``None`` for a new
    story), with the TF-IDF ``cosine`` and estimated shingle ``jaccard`` of
    that pair; ``score`` is what decided it (the mean story score to the
    story's members, :func:`dedup.verify.story_similarity`; for a copy, the
    Jaccard). ``merged`` lists stories
    that this article bridged and that were merged into ``story``.
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

    @property
    def is_new(self) -> bool:
        return self.kind == "new"

    @property
    def is_copy(self) -> bool:
        return self.kind == "copy"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "story": self.story, "version": self.version, "kind": self.kind,
                "matched": self.matched, "cosine": round(self.cosine, 4), "jaccard": round(self.jaccard, 4),
                "score": round(self.score, 4), "merged": list(self.merged)}


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
        return {"id": self.id, "representative": self.representative, "members": list(self.members),
                "versions": [list(v) for v in self.versions]}


@dataclass(slots=True)
class Entry:
    """One indexed article (internal; the state classes store these)."""

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
    # Neighbour profile (see "Story score" above): ``top`` its best-scoring
    # partners (seq -> short-text-scaled score, at most Params.neighbourhood),
    # ``rev`` the partners that have this article in their ``top``.
    top: dict[int, float] | None = None
    rev: dict[int, float] | None = None

    def drop_features(self) -> None:
        self.live = False
        self.cols = self.counts = self.term_sig = self.shingle_sig = None
        self.top = self.rev = None


@dataclass
class _Prepared:
    """An article's own features, before it meets the index."""

    article: Article
    ts: float
    cols: np.ndarray  # int32 sorted: the kept columns (Params.max_terms)
    df_cols: np.ndarray  # int32: every column of the article (counted in document frequencies)
    counts: np.ndarray  # float32
    shingle_sig: np.ndarray
    empty: bool
    n_terms: int = 0
    dropped: float = 0.0


# --- the in-memory state -------------------------------------------------------

class MemoryState:
    """Everything the index knows, in this process (the embedded default)."""

    kind = "memory"

    def __init__(self, params: Params):
        self.params = params
        self.df = np.zeros(params.n_features, dtype=np.int32)
        self.n_docs = 0
        self.next_seq = 0
        self.newest_ts = -math.inf
        self.entries: dict[int, Entry] = {}
        self.seq_of: dict[str, int] = {}
        self.stories: dict[str, list[int]] = {}  # story id -> member seqs, in order added
        self.live_order: OrderedDict[int, None] = OrderedDict()  # live seqs, oldest first
        self.live_by_time: list[tuple[float, int]] = []  # heap of (ts, seq), lazily cleaned
        (tb, tr), (sb, sr) = lsh_bands(params)
        self.bands = (BandTable(tb, tr), BandTable(sb, sr))  # term view, shingle view
        self.terms = TermPool()  # live rows for the compiled candidate products
        # document frequency plus background prior per column (what the idf reads), kept with df
        self._prior = verify.background_prior(params.background, params.n_features, params.background_docs)
        self._with_prior = bool(params.background and params.background_docs)
        self.total_df = self._prior.copy() if self._with_prior else np.zeros(params.n_features)
        self._keys: tuple | None = None  # (term_sig, shingle_sig, their band keys) of the last query
        self._lock = threading.RLock()

    # reading
    def lock(self):
        return self._lock

    def df_of(self, cols: np.ndarray) -> np.ndarray:
        return self.df[cols].astype(np.float64)

    def get_n_docs(self) -> int:
        return self.n_docs

    def has(self, article_id: str) -> bool:
        return article_id in self.seq_of

    def get(self, article_id: str) -> Entry | None:
        s = self.seq_of.get(article_id)
        return None if s is None else self.entries[s]

    def get_seqs(self, seqs: Sequence[int]) -> list[Entry | None]:
        return [self.entries.get(s) for s in seqs]

    def story_size(self, story: str) -> int:
        return len(self.stories.get(story, ()))

    def story_ids(self) -> Iterator[str]:
        return iter(list(self.stories))

    def story_members(self, story: str) -> list[Entry]:
        return [self.entries[s] for s in self.stories.get(story, ())]

    def n_articles(self) -> int:
        return len(self.entries)

    def n_stories(self) -> int:
        return len(self.stories)

    def n_live(self) -> int:
        return len(self.live_order)

    def get_newest_ts(self) -> float:
        return self.newest_ts

    # writing
    def claim_seq(self) -> int:
        s = self.next_seq
        self.next_seq += 1
        return s

    def commit(self, entry: Entry, all_cols: np.ndarray, profiles: dict[int, tuple[dict, dict]] | None = None) -> None:
        """Store a new article: its record, its story membership, its document
        frequencies, and the neighbour profiles (seq -> (top, rev)) it changed."""
        self._set_profiles(profiles)
        self.df[all_cols] += 1
        self.sync_total_df(all_cols)
        self.n_docs += 1
        self.entries[entry.seq] = entry
        self.seq_of[entry.id] = entry.seq
        self.stories.setdefault(entry.story, []).append(entry.seq)
        if entry.live:
            self.keep_row(entry)
            self.live_order[entry.seq] = None
            if not math.isnan(entry.ts):
                heapq.heappush(self.live_by_time, (entry.ts, entry.seq))
        if not math.isnan(entry.ts) and entry.ts > self.newest_ts:
            self.newest_ts = entry.ts

    def sync_total_df(self, cols: np.ndarray) -> None:
        """``total_df`` of ``cols`` from their document frequencies, as :func:`verify.idf_weights` adds them."""
        df = self.df[cols].astype(np.float64)
        self.total_df[cols] = df + self._prior[cols] if self._with_prior else df

    def keep_row(self, entry: Entry) -> None:
        """Put a live entry's term counts in the pool the candidate kernel reads."""
        self.terms.put(entry.seq, entry.cols, sublinear_tf(entry.counts), entry.dropped)

    def evictable(self, cutoff: float | None, max_live: int | None) -> list[int]:
        out = []
        if cutoff is not None:
            while self.live_by_time and self.live_by_time[0][0] < cutoff:
                _, s = heapq.heappop(self.live_by_time)
                if s in self.live_order:
                    out.append(s)
        if max_live is not None:
            extra = len(self.live_order) - len(out) - max_live
            for s in self.live_order:
                if extra <= 0:
                    break
                if s not in out:
                    out.append(s)
                    extra -= 1
        return out

    def make_dead(self, seqs: Sequence[int]) -> None:
        for s in seqs:
            self.live_order.pop(s, None)
            self.terms.drop(s)
            e = self.entries.get(s)
            if e is not None:
                e.drop_features()

    def _set_profiles(self, profiles: dict[int, tuple[dict, dict]] | None) -> None:
        for s, (top, rev) in (profiles or {}).items():
            e = self.entries.get(s)
            if e is not None and e.live:
                e.top, e.rev = top, rev

    def delete(self, entry: Entry, profiles: dict[int, tuple[dict, dict]] | None = None) -> None:
        self._set_profiles(profiles)
        self.live_order.pop(entry.seq, None)
        self.terms.drop(entry.seq)
        del self.entries[entry.seq]
        del self.seq_of[entry.id]
        members = self.stories[entry.story]
        members.remove(entry.seq)
        if not members:
            del self.stories[entry.story]

    def reassign(self, changes: dict[int, str]) -> None:
        """Move articles (by seq) to other stories."""
        touched = set()
        for s, story in changes.items():
            e = self.entries[s]
            self.stories[e.story].remove(s)
            if not self.stories[e.story]:
                del self.stories[e.story]
            e.story = story
            self.stories.setdefault(story, []).append(s)
            touched.add(story)
        for t in touched:
            self.stories[t].sort()

    # the LSH views (compact band tables, :mod:`dedup.bandtable`)
    def _band_keys(self, term_sig: np.ndarray, shingle_sig: np.ndarray) -> tuple:
        """The band keys of both views; those of the last query are kept, so
        the add that queried inserts without computing them again."""
        k = self._keys
        if k is not None and k[0] is term_sig and k[1] is shingle_sig:
            return k[2], k[3]
        kt, ks = self.bands[0].keys(term_sig), self.bands[1].keys(shingle_sig)
        self._keys = (term_sig, shingle_sig, kt, ks)
        return kt, ks

    def lsh_insert(self, entry: Entry) -> None:
        kt, ks = self._band_keys(entry.term_sig, entry.shingle_sig)
        self._keys = None
        self.bands[0].insert_keys(entry.seq, kt)
        self.bands[1].insert_keys(entry.seq, ks)

    def lsh_query(self, term_sig: np.ndarray, shingle_sig: np.ndarray) -> np.ndarray:
        p = self.params
        kt, ks = self._band_keys(term_sig, shingle_sig)
        t = self.bands[0].query_keys(kt, p.max_bucket_size, p.bucket_neighbours)
        s = self.bands[1].query_keys(ks, p.max_bucket_size, p.bucket_neighbours)
        return np.union1d(t, s) if len(s) else t

    def lsh_remove(self, seqs: Sequence[int]) -> None:
        for s in seqs:
            e = self.entries.get(s)
            if e is not None and e.live:
                self.bands[0].remove(s, e.term_sig)
                self.bands[1].remove(s, e.shingle_sig)

    def close(self) -> None:
        pass


def _prepare_job(job: tuple[list[dict], Params]) -> list["_Prepared"]:
    """Features of articles sent as plain dicts (the article itself stays with the caller)."""
    dicts, params = job
    out = []
    for d in dicts:
        prep = _from_raw(coerce_article(d, d["id"]), featurize([coerce_article(d, d["id"])], params), params)
        prep.article = None  # type: ignore[assignment]
        out.append(prep)
    return out


def _from_raw(a: Article, raw: RawFeatures, params: Params) -> "_Prepared":
    """One article's own features, from :func:`featurize` of that article alone."""
    row = raw.counts
    cols = row.indices.astype(np.int32)
    counts = row.data.astype(np.float32)
    order = np.argsort(cols, kind="stable")
    cols, counts = cols[order], counts[order]
    ts = a.timestamp
    df_cols = getattr(raw, "df_cols", None)
    df_cols = cols if df_cols is None else np.sort(np.asarray(df_cols, dtype=np.int32))  # sorted: binary search
    return _Prepared(article=a, ts=math.nan if ts is None else float(ts), cols=cols, df_cols=df_cols, counts=counts,
                     shingle_sig=raw.shingle_signatures[0], empty=bool(raw.empty[0]),
                     n_terms=int(raw.terms_per_row()[0]),
                     dropped=0.0 if raw.dropped is None else float(raw.dropped[0]))


def lsh_bands(params: Params) -> tuple[tuple[int, int], tuple[int, int]]:
    """``(bands, rows)`` of the two LSH views (term view, shingle view): the batch's."""
    return _lsh_bands(params.lsh_threshold, params.copy_threshold, params.num_perm)


@lru_cache(maxsize=16)
def _lsh_bands(lsh_threshold: float, copy_threshold: float, num_perm: int) -> tuple[tuple[int, int], tuple[int, int]]:
    # datasketch's optimiser integrates numerically (tens of ms): once per parameter set
    return (cand.lsh_params(lsh_threshold, num_perm),
            cand.lsh_params(copy_threshold, num_perm, recall_weight=0.5))


def _ones(x: sp.csr_matrix) -> sp.csr_matrix:
    """The pattern of ``x`` (1 where a value is stored): products count shared terms."""
    return sp.csr_matrix((np.ones(len(x.data)), x.indices, x.indptr), shape=x.shape)


# --- the index -----------------------------------------------------------------

class StoryIndex:
    """A live index of stories: ``add`` each article of a feed as it arrives.

    Parameters
    ----------
    params : Params, optional
        Pipeline parameters (shared with :func:`dedup.cluster_articles`);
        keyword arguments override them.
    retention : timedelta, float (days) or None, default ``params.time_window``
        How far behind the newest publication time an article stays
        matchable. None keeps every dated article matchable.
    max_live : int or None, default None
        At most this many articles stay matchable (the most recent ones);
        None: no limit. Set it for feeds without publication times.
    redis : dict, optional
        ``{"host": ..., "port": ...}`` (any ``redis.Redis`` arguments): keep
        the index on this Redis server, shared by every worker using the
        same ``redis_prefix``.
    redis_prefix : str, default "dedup"
        Namespace of this index's Redis keys.
    **kwargs
        Pipeline parameters by name (see :class:`dedup.Params`).

    Examples
    --------
    >>> index = StoryIndex()
    >>> m = index.add({"id": "a1", "text": "..."})
    >>> m.kind, m.story
    """

    def __init__(
        self,
        params: Params | None = None,
        *,
        retention: timedelta | float | None | str = "window",
        max_live: int | None = None,
        redis: dict[str, Any] | None = None,
        redis_prefix: str = "dedup",
        **kwargs: Any,
    ):
        if params is not None and not isinstance(params, Params):
            raise TypeError(f"params must be a dedup.Params, got {type(params).__name__}")
        p = Params.from_kwargs(**kwargs) if params is None else (params.with_(**kwargs) if kwargs else params)
        if isinstance(retention, str):
            if retention != "window":
                raise ValueError(f"retention must be a timedelta, days, None or 'window', got {retention!r}")
            retention = p.time_window
        elif isinstance(retention, (int, float)) and not isinstance(retention, bool):
            retention = timedelta(days=retention)
        if retention is not None and (not isinstance(retention, timedelta) or retention.total_seconds() <= 0):
            raise ValueError(f"retention must be a positive timedelta (or days) or None, got {retention!r}")
        if max_live is not None and (not isinstance(max_live, int) or isinstance(max_live, bool) or max_live < 1):
            raise ValueError(f"max_live must be a positive integer or None, got {max_live!r}")
        self.params = p
        # the background prior of every column (per process, read-only): entries keep only their counts
        self._prior = verify.background_prior(p.background, p.n_features, p.background_docs)
        # per-column scratch (all False / 0 between uses): membership and position look-ups by gather
        self._scratch_own = np.zeros(p.n_features, dtype=bool)
        self._scratch_pos = np.zeros(p.n_features, dtype=np.int32)
        self.max_local = 300  # largest neighbourhood clustered again on an add
        self.neighbourhood = 0.5  # stories re-clustered: a member within this share of the threshold
        self.retention = retention
        self.max_live = max_live
        if redis is not None:
            from .redis_state import RedisState

            self._state: Any = RedisState(p, redis, redis_prefix, config=self._config())
        else:
            self._state = MemoryState(p)

    def _config(self) -> dict[str, Any]:
        return {"retention_days": None if self.retention is None else self.retention.total_seconds() / 86400.0,
                "max_live": self.max_live}

    # --- public API ------------------------------------------------------------

    def add(self, article: Any) -> Match:
        """Index one article (str, dict or :class:`Article`) and say where it belongs.

        Raises :class:`DuplicateArticleError` if its id is already indexed (a
        str without id gets the next position as id).
        """
        return self._add_prepared(self._prepare([self._coerce(article)])[0])

    def add_many(self, articles: Iterable[Any]) -> list[Match]:
        """:meth:`add` each article in turn (same results as one at a time)."""
        return list(self.add_stream(articles))

    def add_stream(self, articles: Iterable[Any], *, n_jobs: int = 1, chunk_size: int = 64) -> Iterator[Match]:
        """:meth:`add` every article, yielding each match as it is decided.

        With ``n_jobs > 1`` the per-article features are computed ahead in
        worker processes (each article on its own, so results are the same as
        with one); the decisions stay in this process, in input order. A
        record that is not an article raises :class:`ArticleError`.
        """
        if n_jobs == 1:
            for a in articles:
                yield self.add(a)
            return
        import itertools
        import os
        from concurrent.futures import ProcessPoolExecutor

        workers = (os.cpu_count() or 1) if n_jobs == -1 else n_jobs
        counter = itertools.count(self._state.n_articles())
        coerced = (coerce_article(a, default_id=str(next(counter))) for a in articles)
        chunks = iter(lambda: list(itertools.islice(coerced, chunk_size)), [])
        def job(chunk: list[Article]):
            fields = [{"id": a.id, "text": a.text, "title": a.title, "published": a.published} for a in chunk]
            return chunk, pool.submit(_prepare_job, (fields, self.params))

        def finish(chunk: list[Article], fut) -> Iterator[Match]:
            for a, prep in zip(chunk, fut.result()):
                prep.article = a
                yield self._add_prepared(prep)

        with ProcessPoolExecutor(max_workers=workers) as pool:
            pending: list = []
            for chunk in chunks:
                pending.append(job(chunk))
                if len(pending) > 2 * workers:
                    yield from finish(*pending.pop(0))
            for item in pending:
                yield from finish(*item)

    def query(self, article: Any) -> Match:
        """Where the article would belong, without adding it."""
        prep = self._prepare([self._coerce(article)])[0]
        with self._locked():
            return self._decide(prep, seq=None)[0]

    def remove(self, article_id: str) -> None:
        """Remove an article; its story keeps its other members (and its id).
        Its partners' neighbour profiles lose it (they are not refilled)."""
        with self._locked():
            entry = self._state.get(article_id)
            if entry is None:
                raise KeyError(article_id)
            profiles = None
            if entry.live:
                profiles = self._unlink(entry)
                self._state.lsh_remove([entry.seq])
            self._state.delete(entry, profiles)

    def _unlink(self, entry: Entry) -> dict[int, tuple[dict, dict]]:
        """The profiles of ``entry``'s partners without it."""
        partners = sorted(set(entry.top or ()) | set(entry.rev or ()))
        out = {}
        for e in self._state.get_seqs(partners):
            if e is not None and e.live:
                top, rev = dict(e.top or {}), dict(e.rev or {})
                top.pop(entry.seq, None)
                rev.pop(entry.seq, None)
                out[e.seq] = (top, rev)
        return out

    def __contains__(self, article_id: object) -> bool:
        return isinstance(article_id, str) and self._state.has(article_id)

    def __len__(self) -> int:
        """The number of stories (``n_articles`` counts articles)."""
        return self._state.n_stories()

    def __iter__(self) -> Iterator[Story]:
        """Every story, in the order they were started."""
        for sid in self._state.story_ids():
            s = self.story(sid)
            if s is not None:
                yield s

    @property
    def n_articles(self) -> int:
        return self._state.n_articles()

    @property
    def n_live(self) -> int:
        """Articles that new articles can still match."""
        return self._state.n_live()

    def story(self, story_id: str) -> Story | None:
        members = self._state.story_members(story_id)
        if not members:
            return None
        dated = [e for e in members if not math.isnan(e.ts)]
        rep = min(dated, key=lambda e: (e.ts, e.seq)) if dated else members[0]
        versions: dict[str, list[str]] = {}
        for e in members:
            versions.setdefault(e.version, []).append(e.id)
        return Story(id=story_id, representative=rep.id, members=tuple(e.id for e in members),
                     versions=tuple(tuple(v) for v in versions.values()))

    def story_of(self, article_id: str) -> Story:
        e = self._state.get(article_id)
        if e is None:
            raise KeyError(article_id)
        return self.story(e.story)  # type: ignore[return-value]

    def labels(self) -> dict[str, str]:
        """Map each article id to its story id."""
        return {a: s.id for s in self for a in s.members}

    def stats(self) -> dict[str, Any]:
        return {"articles": self.n_articles, "stories": len(self), "live": self.n_live,
                "storage": self._state.kind, "params": self.params.to_dict(), **self._config()}

    def save(self, path: str) -> None:
        """Write the index to ``path`` atomically (see :mod:`dedup.index_file`)."""
        from .index_file import save_index

        save_index(self, path)

    @classmethod
    def load(cls, path: str) -> "StoryIndex":
        """Read an index written by :meth:`save`."""
        from .index_file import load_index

        return load_index(cls, path)

    def close(self) -> None:
        self._state.close()

    def __enter__(self) -> "StoryIndex":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- the work ------------------------------------------------------------------

    def _coerce(self, article: Any) -> Article:
        if isinstance(article, (str, bytes)) and not isinstance(article, str):
            raise TypeError("articles are str, dict or Article, not bytes")
        return coerce_article(article, default_id=str(self._state.n_articles()))

    def _prepare(self, articles: Sequence[Article]) -> list[_Prepared]:
        """Per-article features, each article featurised on its own (so the
        result does not depend on what else arrives with it)."""
        out = []
        for a in articles:
            raw = featurize([a], self.params)
            out.append(_from_raw(a, raw, self.params))
        return out

    @contextmanager
    def _locked(self):
        errors = getattr(self._state, "storage_errors", ())
        try:
            with self._state.lock():
                yield
        except errors as exc:  # the storage failed (Redis); MemoryState has none
            raise IndexStorageError(self._state.describe_failure(exc)) from exc

    def _weights(self, items: Sequence[Any], n_docs: float, own_cols: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """TF-IDF weights of articles with ``cols``, ``counts`` and ``dropped``,
        under the current document frequencies (plus one on ``own_cols``,
        sorted: the article being added counts in its own), as ``(cols,
        weights, indptr)``: each article's kept columns (ascending) and
        L2-normalised weights. The weighting of :func:`verify.idf_weights`
        (with the background prior) and :func:`verify.tfidf` (sublinear tf
        times idf; the norm includes the pruned terms), written out for a few
        short rows: scikit-learn's and scipy's input checks cost more than the sums."""
        p = self.params
        n = len(items)
        lengths = np.fromiter((len(e.cols) for e in items), dtype=np.int64, count=n)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        if indptr[-1] == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64), indptr
        cols = np.concatenate([e.cols for e in items]).astype(np.int64)
        counts = np.concatenate([e.counts for e in items]).astype(np.float64)
        df = self._state.df_of(cols)
        if own_cols is not None and len(own_cols):
            own = self._scratch_own
            own[own_cols] = True  # a gather per column: much cheaper than a binary search each
            try:
                df = df + own[cols]
            finally:
                own[own_cols] = False
        bg = p.background_docs if p.background else 0
        idf = verify.idf_weights(df, n_docs, self._prior[cols] if bg else None, bg)
        w = (1.0 + np.log(counts)) * idf
        rows = np.repeat(np.arange(n), lengths)
        norm2 = np.bincount(rows, weights=w * w, minlength=n)
        norm2 += np.fromiter((e.dropped for e in items), dtype=np.float64, count=n)
        scale = np.divide(1.0, np.sqrt(norm2), out=np.zeros_like(norm2), where=norm2 > 0)
        w *= scale[rows]
        return cols, w, indptr

    def _rows(self, items: Sequence[Any], n_docs: float, own_cols: np.ndarray | None = None
              ) -> tuple[sp.csr_matrix, np.ndarray]:
        """:meth:`_weights` as a matrix over the articles' own columns only
        (returned beside: hashed column of each matrix column), so products
        and transposes never touch ``n_features``-sized arrays."""
        cols, w, indptr = self._weights(items, n_docs, own_cols)
        if len(cols) == 0:
            return sp.csr_matrix((len(items), 0), dtype=np.float64), cols
        ucols, inv = np.unique(cols, return_inverse=True)
        return sp.csr_matrix((w, inv.ravel(), indptr), shape=(len(items), len(ucols))), ucols

    def _short_scaled(self, cos: np.ndarray, n_i: np.ndarray, n_j: np.ndarray, shared: np.ndarray) -> np.ndarray:
        """Step 1 of :func:`verify.story_similarity` (the short-text factor) for
        pairs given by their cosines, terms per article and terms in common."""
        m = len(cos)
        pairs = np.stack([np.arange(m), m + np.arange(m)], axis=1)
        return verify.story_similarity(pairs, cos, np.concatenate([n_i, n_j]), 2 * m,
                                       short_text_terms=self.params.short_text_terms, neighbourhood=0,
                                       shared=shared)

    @property
    def _blending(self) -> bool:
        return self.params.blends_neighbourhood

    def _plan_profiles(
        self, seq: int, entries: Sequence[Entry], s1: np.ndarray
    ) -> tuple[dict[int, float], dict[int, float], dict[int, tuple[dict, dict]]]:
        """The neighbour profiles once a new article's scored pairs count.

        As in :func:`verify.neighbour_similarity`: the article keeps its ``k``
        best partners (by short-text-scaled score ``s1``, ties by seq), and
        enters a partner's top ``k`` when it beats the partner's weakest, which
        then leaves it. Returns the article's ``top`` and ``rev`` and the new
        ``(top, rev)`` of every other article that changed. Nothing is changed
        in place (``query`` uses it too)."""
        k = self.params.neighbourhood
        top_n: dict[int, float] = {}
        rev_n: dict[int, float] = {}
        changed: dict[int, tuple[dict, dict]] = {}
        if not self._blending:
            return top_n, rev_n, changed

        def edit(e: Entry) -> tuple[dict, dict]:
            if e.seq not in changed:
                changed[e.seq] = (dict(e.top or {}), dict(e.rev or {}))
            return changed[e.seq]

        pos = [i for i in range(len(entries)) if s1[i] > 0]
        for i in sorted(pos, key=lambda i: (-s1[i], entries[i].seq))[:k]:
            top_n[entries[i].seq] = float(s1[i])
            edit(entries[i])[1][seq] = float(s1[i])
        evicted: dict[int, list[int]] = {}  # partner dropped from a top -> whose top
        for i in pos:
            e, v = entries[i], float(s1[i])
            top = changed[e.seq][0] if e.seq in changed else (e.top or {})
            if len(top) >= k:
                if v <= min(top.values()):  # not better than the weakest: most candidates
                    continue
                worst = min(top, key=lambda j: (top[j], -j))
                if v <= top[worst]:
                    continue
                top = edit(e)[0]
                del top[worst]
                evicted.setdefault(worst, []).append(e.seq)
            edit(e)[0][seq] = v
            rev_n[e.seq] = v
        if evicted:
            known = {e.seq: e for e in entries}
            missing = sorted(j for j in evicted if j not in known)
            known.update((e.seq, e) for e in self._state.get_seqs(missing) if e is not None)
            for j in sorted(evicted):
                e = known.get(j)
                if e is not None and e.live:
                    rev = edit(e)[1]
                    for c in evicted[j]:
                        rev.pop(c, None)
        return top_n, rev_n, changed

    def _candidate_products(self, pc: np.ndarray, pw: np.ndarray, entries: Sequence[Entry], n_docs: float,
                            own_cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """What ``_row_products(pc, pw, _weights(entries, n_docs, own_cols))``
        gives, from the compiled :func:`candidate_products`: in memory straight
        from the state's :class:`TermPool`; otherwise (Redis) over a pool of
        the entries' rows with their columns renumbered."""
        pool = getattr(self._state, "terms", None)
        if pool is None:
            return self._products_of_rows(pc, pw, entries, n_docs, own_cols)
        state = self._state
        seqs = np.fromiter((e.seq for e in entries), dtype=np.int64, count=len(entries))
        total = state.total_df
        saved = total[own_cols]
        total[own_cols] = self._total_df(state.df[own_cols] + 1.0, own_cols)  # the article counts in its own
        try:
            return candidate_products(pc, pw, seqs, pool.start, pool.length, pool.dropped, pool.cols, pool.tf,
                                      total, float(n_docs), float(self._bg))
        finally:
            total[own_cols] = saved

    @property
    def _bg(self) -> int:
        p = self.params
        return p.background_docs if p.background else 0

    def _total_df(self, df: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Document frequencies ``df`` (float64) of columns ``cols`` plus the
        background prior, as :func:`verify.idf_weights` adds them."""
        return df + self._prior[cols] if self._bg else df

    def _products_of_rows(self, pc: np.ndarray, pw: np.ndarray, entries: Sequence[Entry], n_docs: float,
                          own_cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_candidate_products` from the entries' own rows (Redis: no pool),
        columns renumbered over the candidates' columns."""
        n = len(entries)
        length = np.fromiter((len(e.cols) for e in entries), dtype=np.int32, count=n)
        start = np.zeros(n, dtype=np.int64)
        np.cumsum(length[:-1], out=start[1:])
        cols = np.concatenate([e.cols for e in entries]) if n else np.zeros(0, np.int32)
        tf = sublinear_tf(np.concatenate([e.counts for e in entries]) if n else np.zeros(0))
        ucols, local = np.unique(cols, return_inverse=True)
        at = np.minimum(np.searchsorted(ucols, pc), max(len(ucols) - 1, 0))
        hit = ucols[at] == pc if len(ucols) else np.zeros(len(pc), dtype=bool)
        own = np.isin(ucols, own_cols)
        total = self._total_df(self._state.df_of(ucols) + own, ucols)
        dropped = np.fromiter((e.dropped for e in entries), dtype=np.float64, count=n)
        return candidate_products(at[hit].astype(np.int64), pw[hit], np.arange(n, dtype=np.int64), start, length,
                                  dropped, local.ravel().astype(np.int32), tf, total, float(n_docs),
                                  float(self._bg))

    def _row_products(self, pc: np.ndarray, pw: np.ndarray, rows: tuple[np.ndarray, np.ndarray, np.ndarray]
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Cosines (clipped to [0, 1]) and shared-term counts of one article's
        row (``pc`` ascending, ``pw``) with each of ``rows`` (:meth:`_weights`):
        products summed per row in ascending column order, as the sparse
        product did, without building matrices."""
        cc, cw, indptr = rows
        k = len(indptr) - 1
        if len(pc) == 0 or len(cc) == 0:
            return np.zeros(k), np.zeros(k)
        r = np.repeat(np.arange(k), np.diff(indptr))
        where = self._scratch_pos  # column -> 1 + its position in the article's row (0: absent)
        where[pc] = np.arange(1, len(pc) + 1, dtype=np.int32)
        try:
            pos = where[cc] - 1
        finally:
            where[pc] = 0
        hit = pos >= 0
        cos = np.bincount(r[hit], weights=cw[hit] * pw[pos[hit]], minlength=k)
        shared = np.bincount(r[hit], minlength=k).astype(np.float64)
        return np.clip(cos, 0.0, 1.0), shared

    def _blend(self, s1: np.ndarray, profiles: Sequence[tuple[int, dict | None, dict | None]],
               pairs: np.ndarray) -> np.ndarray:
        """Step 2 of :func:`verify.story_similarity`: ``(1 - w) * s1 + w *`` the
        dot product of the two articles' L2-normalised neighbour profiles
        (``(seq, top, rev)`` per row; ``pairs`` index them)."""
        if not self._blending or len(pairs) == 0:
            return np.clip(s1, 0.0, 1.0)
        keys: list[int] = []
        vals: list[float] = []
        offsets = np.zeros(len(profiles) + 1, dtype=np.int64)
        for i, (seq, top, rev) in enumerate(profiles):
            d = dict(rev) if rev else {}
            if top:
                for j, v in top.items():
                    if v > d.get(j, -1.0):
                        d[j] = v
            d[seq] = 1.0  # itself (weighs 1 > 0, so the norm is never 0)
            keys.extend(d)
            vals.extend(d.values())
            offsets[i + 1] = offsets[i] + len(d)
        nb = profile_dots(np.array(keys, dtype=np.int64), np.array(vals, dtype=np.float64), offsets,
                          np.ascontiguousarray(pairs, dtype=np.int64))
        return verify.blend_neighbourhood(s1, nb, self.params.neighbourhood_weight)

    def _decide(self, prep: _Prepared, seq: int | None) -> tuple[Match, np.ndarray, tuple]:
        """Match for a prepared article against the current state (with its own
        document frequencies counted); also its term signature and the
        neighbour profiles it would change (:meth:`_plan_profiles`)."""
        p = self.params
        a = prep.article
        n_docs = self._state.get_n_docs() + 1
        self._last_best: dict[str, float] = {}  # story -> best story score of the article to a member
        unchanged: tuple = ({}, {}, {})
        if prep.empty:
            return Match(id=a.id, story=a.id, version=a.id, kind="new"), np.full(p.num_perm, EMPTY, np.uint32), unchanged
        pc, pw, pptr = self._weights([prep], n_docs, own_cols=prep.df_cols)  # the article's own row
        terms, offsets = verify.top_terms(sp.csr_matrix((pw, pc, pptr), shape=(1, p.n_features)), p.n_terms)
        term_sig = signatures(terms, offsets, num_perm=p.num_perm, seed=p.random_state)[0]

        cand_seqs = self._candidates(term_sig, prep.shingle_sig)
        entries = [e for e in self._state.get_seqs(cand_seqs) if e is not None and e.live and e.seq != seq]
        window = None if p.time_window is None else p.time_window.total_seconds()
        if window is not None and not math.isnan(prep.ts):
            entries = [e for e in entries if math.isnan(e.ts) or abs(e.ts - prep.ts) <= window]
        if not entries:
            return Match(id=a.id, story=a.id, version=a.id, kind="new"), term_sig, unchanged
        # Candidates' weights under the same (current) document frequencies.
        cos, shared = self._candidate_products(pc, pw, entries, n_docs, prep.df_cols)
        jac = estimate_jaccard(np.stack([e.shingle_sig for e in entries]), prep.shingle_sig[None, :])
        s1 = self._short_scaled(cos, np.full(len(entries), prep.n_terms, dtype=np.float64),
                                np.array([e.n_terms for e in entries], dtype=np.float64), shared)
        me = -1 if seq is None else seq
        plan = self._plan_profiles(me, entries, s1)
        top_n, rev_n, changed = plan
        profiles = [(me, top_n, rev_n)] + [(e.seq, *changed.get(e.seq, (e.top, e.rev))) for e in entries]
        pairs = np.stack([np.zeros(len(entries), dtype=np.int64), np.arange(1, len(entries) + 1)], axis=1)
        score = self._blend(s1, profiles, pairs)

        best_copy = max(range(len(entries)), key=lambda k: (jac[k], cos[k], -entries[k].seq))
        if jac[best_copy] >= p.copy_threshold:
            e = entries[best_copy]
            for k, e2 in enumerate(entries):
                self._last_best[e2.story] = max(self._last_best.get(e2.story, 0.0), float(score[k]))
            return (Match(id=a.id, story=e.story, version=e.version, kind="copy", matched=e.id,
                          cosine=float(cos[best_copy]), jaccard=float(jac[best_copy]), score=float(jac[best_copy])),
                    term_sig, plan)
        sums: dict[str, float] = {}
        first_seq: dict[str, int] = {}
        best_member: dict[str, int] = {}
        for k, e in enumerate(entries):
            if score[k] <= 0:
                continue
            sums[e.story] = sums.get(e.story, 0.0) + score[k]
            self._last_best[e.story] = max(self._last_best.get(e.story, 0.0), float(score[k]))
            first_seq[e.story] = min(first_seq.get(e.story, e.seq), e.seq)
            b = best_member.get(e.story)
            if b is None or (score[k], -e.seq) > (score[b], -entries[b].seq):
                best_member[e.story] = k
        best_story, best_score = None, -1.0
        for s in sorted(sums, key=lambda s: first_seq[s]):
            mean = sums[s] / max(1, self._state.story_size(s))
            if mean > best_score:
                best_story, best_score = s, mean
        if best_story is not None and best_score >= p.threshold:
            k = best_member[best_story]
            e = entries[k]
            return (Match(id=a.id, story=best_story, version=a.id, kind="rewrite", matched=e.id,
                          cosine=float(cos[k]), jaccard=float(jac[k]), score=float(best_score)), term_sig, plan)
        return Match(id=a.id, story=a.id, version=a.id, kind="new"), term_sig, plan

    def _candidates(self, term_sig: np.ndarray, shingle_sig: np.ndarray) -> list[int]:
        """Members of the article's buckets in either view (big buckets capped), sorted."""
        return self._state.lsh_query(term_sig, shingle_sig).tolist()

    def _add_prepared(self, prep: _Prepared) -> Match:
        a = prep.article
        with self._locked():
            if self._state.has(a.id):
                raise DuplicateArticleError(f"article {a.id!r} is already in the index")
            seq = self._state.claim_seq()
            match, term_sig, (top, rev, changed) = self._decide(prep, seq)
            entry = Entry(seq=seq, id=a.id, story=match.story, version=match.version, ts=prep.ts)
            if not prep.empty:
                entry.live = True
                entry.cols, entry.counts = prep.cols, prep.counts
                entry.n_terms, entry.dropped = prep.n_terms, prep.dropped
                entry.term_sig, entry.shingle_sig = term_sig, prep.shingle_sig
                entry.top, entry.rev = top, rev
            if entry.live:  # LSH first: an LSH entry without a record is ignored
                self._state.lsh_insert(entry)
            self._state.commit(entry, prep.df_cols, changed)  # the acknowledgement (one transaction on Redis)
            if entry.live:
                match = self._settle(match, entry)
            self._evict()
        return match

    def _settle(self, match: Match, entry: Entry) -> Match:
        """Re-cluster the neighbourhood, then describe where the article ended up."""
        p = self.params
        touched = [t for t, best in self._last_best.items() if best >= self.neighbourhood * p.threshold]
        before = {t: self._state.story_size(t) for t in touched}
        self._recluster(entry, touched)
        story = self._state.get(entry.id).story
        merged = tuple(t for t in touched if t != story and t != match.story and self._state.story_size(t) == 0
                       and before.get(t))
        if story == match.story and not merged:
            return match
        if match.kind == "copy":
            return replace(match, story=story, merged=merged)
        others = [e for e in self._state.story_members(story) if e.seq != entry.seq]
        if not others:
            return Match(id=entry.id, story=story, version=entry.version, kind="new")
        live = [e for e in others if e.live]
        if not live:
            return Match(id=entry.id, story=story, version=entry.version, kind="rewrite", matched=others[0].id,
                         merged=merged)
        cos, score = self._story_matrix([entry] + live)
        k = int(np.argmax(score[0, 1:]))
        best = live[k]
        jac = float(estimate_jaccard(best.shingle_sig, entry.shingle_sig))
        return Match(id=entry.id, story=story, version=entry.version, kind="rewrite", matched=best.id,
                     cosine=float(cos[0, k + 1]), jaccard=jac, score=float(score[0, 1:].sum() / len(others)),
                     merged=merged)

    def _recluster(self, entry: Entry, touched: Sequence[str]) -> None:
        """Average linkage again over the new article's neighbourhood.

        The neighbourhood is the article's story and every story with a
        member whose story score with the article reaches half the threshold.
        Only pairs that share an LSH band are scored (as in the batch), with
        the batch's story score (:meth:`_story_matrix`). The members are
        clustered afresh with :func:`dedup.cluster.link`, so a later article
        can merge two stories it bridges, or take a member to a story it fits
        better, as the batch would. Stories with members that are no longer
        live (or neighbourhoods above ``max_local`` articles) are left as
        they are.
        """
        from .cluster import link
        from .pipeline import ScoredPairs

        stories = [entry.story] + [t for t in touched if t != entry.story]
        groups = {t: self._state.story_members(t) for t in stories}
        free = [t for t in stories if groups[t] and all(e.live for e in groups[t])]
        if entry.story not in free or len(free) == 1 and len(groups[entry.story]) <= 2:
            return
        members = sorted((e for t in free for e in groups[t]), key=lambda e: e.seq)
        if len(members) > self.max_local:
            return
        cos, score = self._story_matrix(members)
        iu, ju = np.triu_indices(len(members), k=1)
        keep = score[iu, ju] > 0
        pairs = np.stack([iu[keep], ju[keep]], axis=1).astype(np.int64)
        scored = ScoredPairs(pairs=pairs, cosine=cos[iu, ju][keep], jaccard=np.zeros(len(pairs)),
                             similarity=score[iu, ju][keep])
        labels = link(len(members), scored, self.params)
        # Name each new group: an old story id whose first member it holds, else its first member's id.
        first_of = {t: groups[t][0].seq for t in free}
        by_label: dict[int, list[Entry]] = {}
        for e, lab in zip(members, labels.tolist()):
            by_label.setdefault(lab, []).append(e)
        changes: dict[int, str] = {}
        taken: set[str] = set()
        for lab in sorted(by_label, key=lambda l: by_label[l][0].seq):
            group = by_label[lab]
            seqs = {e.seq for e in group}
            name = next((t for t in free if first_of[t] in seqs and t not in taken), None)
            if name is None:
                name = group[0].id
                if name in taken or (name not in free and self._state.story_size(name)):
                    name = f"{group[0].id}~{group[0].seq}"
            taken.add(name)
            for e in group:
                if e.story != name:
                    changes[e.seq] = name
        if changes:
            self._state.reassign(changes)

    def _colliding(self, members: Sequence[Entry]) -> np.ndarray:
        """Which pairs share an LSH band in either view (the batch scores only those)."""
        n = len(members)
        out = np.zeros((n, n), dtype=bool)
        views = zip(lsh_bands(self.params), (np.stack([e.term_sig for e in members]),
                                              np.stack([e.shingle_sig for e in members])))
        for (bands, rows), sigs in views:
            keys = cand.band_keys(sigs, bands, rows)
            usable = ~(sigs == EMPTY).all(axis=1)
            hit = np.zeros((n, n), dtype=bool)
            for b in range(keys.shape[1]):
                hit |= keys[:, b][:, None] == keys[:, b][None, :]
            out |= hit & usable[:, None] & usable[None, :]
        return out

    def _story_matrix(self, members: Sequence[Entry]) -> tuple[np.ndarray, np.ndarray]:
        """TF-IDF cosines and story scores of every pair of live ``members``
        that the batch would score (sharing an LSH band, within the time
        window; 0 elsewhere), under the current frequencies: the short-text
        factor, then the blend with the stored neighbour profiles -- the two
        steps of :func:`verify.story_similarity`."""
        n = len(members)
        x, _ = self._rows(members, self._state.get_n_docs())
        cos = np.clip((x @ x.T).toarray(), 0.0, 1.0)
        shared = (_ones(x) @ _ones(x).T).toarray()
        mask = self._colliding(members)
        window = self.params.time_window
        if window is not None:
            t = np.array([e.ts for e in members])
            with np.errstate(invalid="ignore"):
                mask &= ~(np.abs(t[:, None] - t[None, :]) > window.total_seconds())
        iu, ju = np.nonzero(np.triu(mask, 1))
        nt = np.array([e.n_terms for e in members], dtype=np.float64)
        s1 = self._short_scaled(cos[iu, ju], nt[iu], nt[ju], shared[iu, ju])
        sc = self._blend(s1, [(e.seq, e.top, e.rev) for e in members], np.stack([iu, ju], axis=1).astype(np.int64))
        c_out = np.zeros((n, n))
        s_out = np.zeros((n, n))
        c_out[iu, ju] = c_out[ju, iu] = cos[iu, ju]
        s_out[iu, ju] = s_out[ju, iu] = sc
        return c_out, s_out

    def _evict(self) -> None:
        cutoff = None
        newest = self._state.get_newest_ts()
        if self.retention is not None and newest > -math.inf:
            cutoff = newest - self.retention.total_seconds()
        if cutoff is None and self.max_live is None:
            return
        seqs = self._state.evictable(cutoff, self.max_live)
        if seqs:
            self._state.lsh_remove(seqs)
            self._state.make_dead(seqs)
