"""StoryIndex: a live index of stories for a feed, one article at a time.

Each incoming article is checked against everything seen so far: it starts
a new story, joins a known story as a new version (a rewrite), or is a copy
of a known version. The same stages as :func:`dedup.cluster_articles` are
used -- :func:`dedup.features.featurize.featurize` for the per-article features,
:mod:`dedup.scoring` for TF-IDF weights, :func:`dedup.sketch.minhash.signatures`
for the top-terms view, the two LSH views of :mod:`dedup.sketch.lsh` (same
bands, rows and band keys: in memory compact band tables,
:mod:`dedup.live.bandtable`; on Redis a sorted set per bucket) -- and the
same :class:`dedup.Params`.

Modules: :mod:`~dedup.live.records` (the values), :mod:`~dedup.live.state`
(the storage interface) with :mod:`~dedup.live.memory` and
:mod:`~dedup.live.redis`, :mod:`~dedup.live.prepare` (an article's own
features), :mod:`~dedup.live.scoring` (weights and story score),
:mod:`~dedup.live.decide` (candidates and the greedy decision),
:mod:`~dedup.live.recluster` (local re-clustering), :mod:`~dedup.live.bands`
(band arithmetic, the partner rule), :mod:`~dedup.live.persist` (the file).
This module is the public face: :class:`StoryIndex`.

Incremental TF-IDF
------------------
Features are hashed, so no vocabulary is fitted. The index keeps *running
document frequencies* (one count per hashed column, every article ever
added) and the article count, blended with the same ``wordfreq`` background
prior as a batch (:func:`dedup.features.weights.background_prior`: one read-only array
per process, depending on the parameters only). When an article arrives, the
frequencies are updated with its columns first (a batch counts every article
in its own frequencies), then the article and each candidate are weighed
with the *current* frequencies: each indexed article keeps its term counts,
not frozen weights, so two articles are always compared under one idf, as in
a batch. Rows are pruned to ``Params.max_terms`` terms by
:func:`dedup.features.featurize.featurize` exactly as in a batch (frequencies count
every term; the pruned weight stays in the row's norm, ``Entry.dropped``).
Removing an article does not change the frequencies. In memory, the
candidates of an add are weighed and multiplied with the article's row in
one compiled pass (:func:`dedup.live._kernels.candidate_products`) over the
live rows kept in flat arrays (:class:`dedup.live._kernels.TermPool`) and a
per-column array of document frequency plus prior; the numpy form
(:meth:`dedup.live.scoring.Scorer.weights`) is its reference and is used for
the article's own row and for re-clustering.

Story score
-----------
Pairs are linked on the batch's score (:func:`dedup.scoring.story_similarity`):
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
apart than ``time_window``, and the term-view pairs the batch's partner rule
(``max_partners``) drops are left out: each live article keeps its partner
list, so the rule is applied from both sides of a pair (:mod:`dedup.live.decide`;
re-clustering reads the same lists). Each candidate is scored (TF-IDF cosine,
estimated shingle Jaccard, story score). If a candidate's Jaccard reaches
``copy_threshold`` the article is a *copy* of that candidate's version (best
Jaccard wins). Otherwise the article joins the story with the highest mean
story score over *all* its members (members that were not scored count 0,
as in average linkage) when that mean reaches ``threshold`` -- a *rewrite*,
a new version; else it starts a *new* story. Ties go to the older story.

Arrival order matters to a greedy rule, so after each add the article's
neighbourhood (its story and every story with a member whose story score
with it reaches a quarter of the threshold) is clustered again with the
batch's own :func:`dedup.linkage.link` over the pairs the batch would score,
with the story score (:mod:`dedup.live.recluster`): a later article can
merge two stories it bridges, or move a member to a story it fits better, as
the batch would. Story membership of earlier articles can therefore change
(a :class:`Match` describes the state right after its add). On all ECB+
articles the adjusted Rand index against :func:`dedup.cluster_articles` is
0.9888 fed in file order and 0.9940-0.9948 in three shuffled orders
(0.9917 and 0.9946-0.9978 with ``min_bands=1``)
(``tests/live/test_index.py``).

Memory
------
Per article the index keeps its id, story, version and time; while an
article can still be matched ("live") also its pruned term counts (on the
entry and, for the compiled candidate pass, in the term pool: about 20 bytes
per kept term in all) and its two
signatures (uint32 arrays), its neighbour profile, its partner list (at
most ``max_partners`` seqs and band counts), and its place in the
two LSH band tables (one member per band: about 40-60 bytes per band in
numpy arrays, :mod:`dedup.live.bandtable`). An article leaves the live set when it is older
than ``retention`` (default ``time_window``) behind the newest publication
time seen -- it can no longer be within the window of new articles unless
the feed arrives badly out of order -- or, with ``max_live``, when more than
that many articles are live (oldest first). So memory grows with the feed
only by a small record per article.

Storage
-------
The in-memory state is the embedded default. ``StoryIndex(redis={...})``
puts everything (LSH buckets, article
records, stories, document frequencies) on a Redis server, so several
worker processes share one index; each ``add`` holds a Redis lock while it
decides and writes (featurising happens outside the lock), so concurrent
workers give the same kind of result as one worker; an article another
worker indexed first is answered with a :class:`Match` flagged ``existing``.
See :mod:`dedup.live.redis`. Saving and loading (:meth:`StoryIndex.save` /
:meth:`StoryIndex.load`) go through the state's snapshot
(:mod:`dedup.live.persist`).
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any, TypeVar

from ..arrays import usable_cpus
from ..article import Article, coerce_article
from ..params import Params, window
from . import persist
from .decide import decide
from .memory import MemoryState
from .prepare import prepare, prepare_job
from .recluster import Neighbourhood, settle
from .records import DuplicateArticleError, Entry, IndexStorageError, Match, Prepared, Profiles, Story
from .redis import RedisState
from .scoring import Scorer
from .state import IndexState

__all__ = ["StoryIndex"]

_T = TypeVar("_T")


def _runs(items: Iterator[_T], size: int, ready: Callable[[], bool] | None) -> Iterator[list[_T]]:
    """Runs of up to ``size`` items; with ``ready``, a run also ends when
    ``ready()`` says nothing more has arrived. An exception from ``items``
    ends its run, and is raised once that run has been handed on."""
    if size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {size}")
    while True:
        run: list[_T] = []
        try:
            for item in items:
                run.append(item)
                if len(run) >= size or (ready is not None and not ready()):
                    break
        except Exception:
            if run:
                yield run
            raise
        if not run:
            return
        yield run


def _id_key(article_id: object) -> str | None:
    """An id as the index keeps it: a str, or an int as its decimal (as
    :func:`dedup.article.coerce_article` stores it); None for anything else."""
    if isinstance(article_id, str):
        return article_id
    if isinstance(article_id, int) and not isinstance(article_id, bool):
        return str(article_id)
    return None


def _without_id(article: Any) -> bool:
    """Whether an input article has no id of its own (a str, or a dict whose
    id is missing or empty): it is given a position as id."""
    if isinstance(article, str):
        return True
    if isinstance(article, Mapping):
        raw = article.get("id")
        return raw is None or raw == ""
    return False


def _check_stream_args(articles: Any, n_jobs: Any, chunk_size: Any) -> None:
    """:meth:`StoryIndex.add_stream`'s arguments, checked before anything is read."""
    if isinstance(articles, (str, bytes, Mapping, Article)):
        raise TypeError(f"add_stream/add_many take an iterable of articles, not a single {type(articles).__name__}")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or not (n_jobs == -1 or n_jobs >= 1):
        raise ValueError(f"n_jobs must be a positive integer or -1, got {n_jobs!r}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be an integer >= 1, got {chunk_size!r}")


def _retention(retention: timedelta | float | None | str, params: Params) -> timedelta | None:
    """The ``retention`` argument, validated: a timedelta, days, None or "window"."""
    if isinstance(retention, str):
        if retention != "window":
            raise ValueError(f"retention must be a timedelta, days, None or 'window', got {retention!r}")
        return params.time_window
    return None if retention is None else window("retention", retention)


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
    redis : dict or str, optional
        ``{"host": ..., "port": ...}`` (any ``redis.Redis`` arguments) or a
        URL (``"redis://localhost:6379/0"``): keep the index on this Redis
        server, shared by every worker using the same ``redis_prefix``.
    redis_prefix : str, default "dedup"
        Namespace of this index's Redis keys.
    state : IndexState, optional
        Any storage implementing :class:`dedup.live.state.IndexState`, built
        with the same parameters (instead of ``redis``; default: in memory).
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
        redis: dict[str, Any] | str | None = None,
        redis_prefix: str = "dedup",
        state: IndexState | None = None,
        **kwargs: Any,
    ):
        if params is not None and not isinstance(params, Params):
            raise TypeError(f"params must be a dedup.Params, got {type(params).__name__}")
        p = Params.from_kwargs(**kwargs) if params is None else (params.with_(**kwargs) if kwargs else params)
        if max_live is not None and (not isinstance(max_live, int) or isinstance(max_live, bool) or max_live < 1):
            raise ValueError(f"max_live must be a positive integer or None, got {max_live!r}")
        self.params = p
        self.retention = _retention(retention, p)
        self.max_live = max_live
        self.reach = Neighbourhood()  # how far re-clustering reaches after an add
        self._scorer = Scorer(p)
        self._state: IndexState
        if state is not None:
            if redis is not None or not isinstance(state, IndexState):
                raise TypeError("state must be a dedup.live.state.IndexState, and not given with redis")
            self._state = state
        elif redis is not None:
            self._state = RedisState(p, redis, redis_prefix, config=self.config())
        else:
            self._state = MemoryState(p)

    def config(self) -> dict[str, Any]:
        """The index's own settings besides its parameters (saved with it)."""
        return {
            "retention_days": None if self.retention is None else self.retention.total_seconds() / 86400.0,
            "max_live": self.max_live,
        }

    # --- adding ----------------------------------------------------------------

    def add(self, article: Any) -> Match:
        """Index one article (str, dict or :class:`Article`) and say where it belongs.

        An id already indexed raises :class:`DuplicateArticleError` in memory;
        on a shared (Redis) index, where another worker may have indexed it
        first, it is answered with the stored article's place (a match with
        ``existing=True``; nothing is added). A str without id gets the next
        position as id (one no indexed article has when the index is locked
        for the add: another worker may have taken it since).
        """
        prep = prepare([self._coerce(article)], self.params)[0]
        prep.positioned = _without_id(article)
        return self._add_prepared(prep)

    def add_many(self, articles: Iterable[Any]) -> list[Match]:
        """:meth:`add` each article in turn (same results as one at a time)."""
        return list(self.add_stream(articles))

    def add_stream(
        self,
        articles: Iterable[Any],
        *,
        n_jobs: int = 1,
        chunk_size: int = 64,
        ready: Callable[[], bool] | None = None,
    ) -> Iterator[Match]:
        """:meth:`add` every article, yielding each match as it is decided.

        Articles are featurised ``chunk_size`` at a time (each as if alone,
        so the matches are those of :meth:`add`), which waits for a chunk to
        arrive. For a live source give ``ready``, a callable saying whether
        the next article is already there (:meth:`dedup.io.ReadAhead.ready`):
        a chunk then ends as soon as it is not, and the articles that came
        are matched at once. With ``n_jobs > 1`` the features are computed
        ahead in worker processes; the decisions stay in this process, in
        input order. A record that is not an article, or an error of the
        source, is raised after the articles before it are indexed.
        """
        _check_stream_args(articles, n_jobs, chunk_size)
        return self._stream(articles, n_jobs, chunk_size, ready)

    def _stream(
        self, articles: Iterable[Any], n_jobs: int, chunk_size: int, ready: Callable[[], bool] | None
    ) -> Iterator[Match]:
        runs = _runs(self._coerced(articles), chunk_size, ready)
        if n_jobs == 1:
            for chunk in runs:
                preps = prepare([a for a, _ in chunk], self.params)  # featurised together, each as alone
                for (_, positioned), prep in zip(chunk, preps, strict=True):
                    prep.positioned = positioned
                    yield self._add_prepared(prep)
            return
        workers = usable_cpus() if n_jobs == -1 else n_jobs
        with ProcessPoolExecutor(max_workers=workers) as pool:
            pool.submit(int).result()  # the workers are forked now, before a source's reading thread starts
            pending: deque[tuple[list[tuple[Article, bool]], Future]] = deque()
            failure: Exception | None = None
            while True:
                try:
                    chunk = next(runs)
                except StopIteration:
                    break
                except Exception as exc:  # of the source: raised once the articles before it are indexed
                    failure = exc
                    break
                fields = [{"id": a.id, "text": a.text, "title": a.title, "published": a.published} for a, _ in chunk]
                pending.append((chunk, pool.submit(prepare_job, (fields, self.params))))
                while pending and (len(pending) > 2 * workers or (ready is not None and not ready())):
                    yield from self._finish(*pending.popleft())  # an error of the index stops here, as in add
            while pending:
                yield from self._finish(*pending.popleft())
            if failure is not None:
                raise failure

    def _coerced(self, articles: Iterable[Any]) -> Iterator[tuple[Article, bool]]:
        """Each article coerced, and whether its id is a position (a str
        without id gets the next position, checked again at its add)."""
        counter = itertools.count(self._state.n_articles())
        for a in articles:
            if isinstance(a, bytes):
                raise TypeError("articles are str, dict or Article, not bytes")
            yield coerce_article(a, default_id=self._default_id(a, counter)), _without_id(a)

    def _default_id(self, article: Any, counter: Iterator[int]) -> str:
        """The next position as id; for an article without id of its own, the
        next that no indexed article has (after a remove, positions repeat)."""
        return self._free_position(counter) if _without_id(article) else str(next(counter))

    def _free_position(self, counter: Iterator[int]) -> str:
        """The next position of ``counter`` that no indexed article has as id."""
        k = next(counter)
        while self._state.has(str(k)):
            k = next(counter)
        return str(k)

    def _finish(self, chunk: list[tuple[Article, bool]], fut: Future) -> Iterator[Match]:
        for (a, positioned), prep in zip(chunk, fut.result(), strict=False):
            prep.article, prep.positioned = a, positioned
            yield self._add_prepared(prep)

    def query(self, article: Any) -> Match:
        """Where the article would belong, without adding it: the decision
        :meth:`add` makes before it re-clusters the neighbourhood (which may
        then move it, or merge stories it bridges)."""
        prep = prepare([self._coerce(article)], self.params)[0]
        with self._locked():
            return decide(self._state, self._scorer, prep, seq=None).match

    def remove(self, article_id: str | int) -> None:
        """Remove an article; its story keeps its other members (and its id).
        Its partners' neighbour profiles lose it (they are not refilled)."""
        with self._locked():
            key = _id_key(article_id)
            entry = None if key is None else self._state.get(key)
            if entry is None:
                raise KeyError(article_id)
            profiles = None
            if entry.live:
                profiles = self._unlink(entry)
                self._state.lsh_remove([entry.seq])
            self._state.delete(entry, profiles)

    def _unlink(self, entry: Entry) -> Profiles:
        """The profiles of ``entry``'s partners without it."""
        partners = sorted(set(entry.top or ()) | set(entry.rev or ()))
        out: Profiles = {}
        for e in self._state.get_seqs(partners):
            if e is not None and e.live:
                top, rev = dict(e.top or {}), dict(e.rev or {})
                top.pop(entry.seq, None)
                rev.pop(entry.seq, None)
                out[e.seq] = (top, rev)
        return out

    # --- reading -----------------------------------------------------------------

    def __contains__(self, article_id: object) -> bool:
        key = _id_key(article_id)
        return key is not None and self._state.has(key)

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

    @property
    def storage(self) -> str:
        """Where the state lives: ``"memory"`` or ``"redis"``."""
        return self._state.kind

    def story(self, story_id: str) -> Story | None:
        members = self._state.story_members(story_id)
        if not members:
            return None
        dated = [e for e in members if not math.isnan(e.ts)]
        rep = min(dated, key=lambda e: (e.ts, e.seq)) if dated else members[0]
        versions: dict[str, list[str]] = {}
        for e in members:
            versions.setdefault(e.version, []).append(e.id)
        return Story(
            id=story_id,
            representative=rep.id,
            members=tuple(e.id for e in members),
            versions=tuple(tuple(v) for v in versions.values()),
        )

    def story_of(self, article_id: str) -> Story:
        e = self._state.get(article_id)
        if e is None:
            raise KeyError(article_id)
        return self.story(e.story)  # type: ignore[return-value]

    def version_of(self, article_id: str) -> str:
        """The version (the id of its first article) an indexed article belongs to."""
        e = self._state.get(article_id)
        if e is None:
            raise KeyError(article_id)
        return e.version

    def labels(self) -> dict[str, str]:
        """Map each article id to its story id."""
        return {a: s.id for s in self for a in s.members}

    def stats(self) -> dict[str, Any]:
        return {
            "articles": self.n_articles,
            "stories": len(self),
            "live": self.n_live,
            "storage": self._state.kind,
            "params": self.params.to_dict(),
            **self.config(),
        }

    # --- saving --------------------------------------------------------------------

    def save(self, path: str) -> None:
        """Write the index to ``path`` atomically (see :mod:`dedup.live.persist`).

        Raises :class:`~dedup.IndexSaveError` when the file cannot be written
        (the previous file at ``path`` is then left as it was). The state is
        read under the index lock: on Redis, other workers' adds wait, so the
        file holds one moment of the index."""
        with self._locked():
            snap = self._state.snapshot()
        persist.save_index(path, self.params, self.config(), snap)

    @classmethod
    def load(cls, path: str, *, redis: dict[str, Any] | str | None = None, redis_prefix: str = "dedup") -> StoryIndex:
        """Read an index written by :meth:`save` (into memory, or into an
        empty index on Redis with ``redis``). Raises
        :class:`~dedup.IndexFormatError` for a file that is not a whole,
        consistent index."""
        params, config, snap = persist.load_index(path)
        index = cls(
            params,
            retention=config["retention_days"],
            max_live=config["max_live"],
            redis=redis,
            redis_prefix=redis_prefix,
        )
        index._state.restore(snap)
        return index

    def close(self) -> None:
        self._state.close()

    def __enter__(self) -> StoryIndex:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- the work ------------------------------------------------------------------

    def _coerce(self, article: Any) -> Article:
        if isinstance(article, bytes):
            raise TypeError("articles are str, dict or Article, not bytes")
        return coerce_article(article, default_id=self._default_id(article, itertools.count(self._state.n_articles())))

    @contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            with self._state.lock():
                yield
        except IndexStorageError:
            raise
        except Exception as exc:
            message = self._state.failure(exc)
            if message is None:
                raise
            raise IndexStorageError(message) from exc

    def _existing(self, article_id: str) -> Match:
        """The answer for an id already indexed on a shared index: where it is."""
        e = self._state.get(article_id)
        assert e is not None
        return Match.already_indexed(e.id, e.story, e.version)

    def _add_prepared(self, prep: Prepared) -> Match:
        """Decide and store one article (an id that is a position given before
        the lock and taken since is given again: :meth:`_reposition`)."""
        a = prep.article
        assert a is not None
        with self._locked():
            if self._state.has(a.id):
                if prep.positioned:
                    a = prep.article = self._reposition(a)
                elif self._state.kind == "memory":
                    raise DuplicateArticleError(f"article {a.id!r} is already in the index")
                else:
                    return self._existing(a.id)
            seq = self._state.claim_seq()
            d = decide(self._state, self._scorer, prep, seq)
            d.match = self._fresh_names(d.match, seq)
            entry = Entry(seq=seq, id=a.id, story=d.match.story, version=d.match.version, ts=prep.ts)
            if not prep.empty:
                entry.live = True
                entry.cols, entry.counts = prep.cols, prep.counts
                entry.n_terms, entry.dropped = prep.n_terms, prep.dropped
                entry.term_sig, entry.shingle_sig = d.term_sig, prep.shingle_sig
                entry.top, entry.rev = d.top, d.rev
                entry.partners = d.partners
            self._state.commit(entry, prep.df_cols, d.changed, d.partner_changes)  # the acknowledgement
            match = settle(self._state, self._scorer, self.reach, d.match, entry, d.best) if entry.live else d.match
            self._evict()
        return match

    def _reposition(self, article: Article) -> Article:
        """An article without id of its own whose position was taken after it
        was given (by another worker, or by an article ahead of it in its
        chunk with that id): the next free position now, under the lock, as
        :meth:`add` would give it -- not an answer that it is indexed already."""
        return replace(article, id=self._free_position(itertools.count(self._state.n_articles())))

    def _fresh_names(self, match: Match, seq: int) -> Match:
        """A new story or version is named by its article's id, unless a removed
        article of that id left it to a story or version still there (a story
        keeps its id when its first member goes): then ``id~seq``."""
        if match.kind == "new" and self._state.story_size(match.story):
            name = f"{match.id}~{seq}"
            return replace(match, story=name, version=name)
        if match.kind == "rewrite" and any(e.version == match.version for e in self._state.story_members(match.story)):
            return replace(match, version=f"{match.id}~{seq}")
        return match

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
