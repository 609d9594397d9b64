"""The in-memory state of a story index (the embedded default): an
:class:`~dedup.live.state.IndexState` in this process.

Article records are :class:`~dedup.live.records.Entry` values in a dict by
sequence number; the two LSH views are compact band tables
(:class:`~dedup.live.bandtable.BandTable`); the live articles' term counts
also sit in a :class:`~dedup.live._kernels.TermPool`, so the compiled
candidate pass reads them without touching a Python object; document
frequencies are one int32 array over the hashed columns, with their sum with
the background prior kept beside it (what the idf reads).
"""

from __future__ import annotations

import heapq
import math
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager

import numpy as np

from ..features.weights import sublinear_tf
from ..params import Params
from ._kernels import TermPool, count_documents, own_candidate_products
from .bands import lsh_bands
from .bandtable import BandTable
from .records import Entry, PartnerLists, Profiles, Snapshot
from .scoring import Scorer

__all__ = ["MemoryState"]


class MemoryState:
    """Everything the index knows, in this process."""

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
        self.scorer = Scorer(params)
        # document frequency plus background prior per column (what the idf reads), kept with df
        self.total_df = self.scorer.prior.copy() if self.scorer.prior_docs else np.zeros(params.n_features)
        self._keys: tuple | None = None  # (term_sig, shingle_sig, their band keys) of the last query
        self._lock = threading.RLock()

    # reading
    def lock(self) -> AbstractContextManager[object]:
        return self._lock

    def failure(self, exc: BaseException) -> str | None:
        return None  # nothing here fails as storage

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

    def story_sizes(self, stories: Sequence[str]) -> list[int]:
        return [len(self.stories.get(t, ())) for t in stories]

    def story_ids(self) -> Iterator[str]:
        # by first member: a story renamed by re-clustering keeps its place, and a
        # loaded index (stories rebuilt from the members) gives the same order
        return iter(sorted(self.stories, key=lambda t: self.stories[t][0]))

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

    def commit(
        self, entry: Entry, all_cols: np.ndarray, profiles: Profiles | None = None, lists: PartnerLists | None = None
    ) -> None:
        if entry.live:  # LSH first: a bucket member without a record is ignored
            self.lsh_insert(entry)
        self._set_profiles(profiles)
        for s, held in (lists or {}).items():
            e = self.entries.get(s)
            if e is not None and e.live:
                e.partners = held
        count_documents(self.df, self.total_df, self.scorer.prior, all_cols, bool(self.scorer.prior_docs))
        self.n_docs += 1
        self._put(entry)
        if not math.isnan(entry.ts) and entry.ts > self.newest_ts:
            self.newest_ts = entry.ts

    def _put(self, entry: Entry) -> None:
        """File a record: by seq and id, in its story, and (live) in the live set and the term pool."""
        self.entries[entry.seq] = entry
        self.seq_of[entry.id] = entry.seq
        self.stories.setdefault(entry.story, []).append(entry.seq)
        if entry.live:
            self.terms.put(
                entry.seq, entry.cols, sublinear_tf(np.asarray(entry.counts, dtype=np.float64)), entry.dropped
            )
            self.live_order[entry.seq] = None
            if not math.isnan(entry.ts):
                heapq.heappush(self.live_by_time, (entry.ts, entry.seq))

    def _sync_total_df(self, cols: np.ndarray) -> None:
        """``total_df`` of ``cols`` from their document frequencies."""
        self.total_df[cols] = self.scorer.total_df(self.df[cols].astype(np.float64), cols)

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

    def _set_profiles(self, profiles: Profiles | None) -> None:
        for s, (top, rev) in (profiles or {}).items():
            e = self.entries.get(s)
            if e is not None and e.live:
                e.top, e.rev = top, rev

    def delete(self, entry: Entry, profiles: Profiles | None = None) -> None:
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

    # the LSH views (compact band tables)
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

    def lsh_query(self, term_sig: np.ndarray, shingle_sig: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.params
        kt, ks = self._band_keys(term_sig, shingle_sig)
        return (
            self.bands[0].query_keys(kt, p.max_bucket_size, p.bucket_neighbours),
            self.bands[1].query_keys(ks, p.max_bucket_size, p.bucket_neighbours),
        )

    def lsh_remove(self, seqs: Sequence[int]) -> None:
        for s in seqs:
            e = self.entries.get(s)
            if e is not None and e.live:
                self.bands[0].remove(s, e.term_sig)
                self.bands[1].remove(s, e.shingle_sig)

    # scoring support
    def candidate_products(
        self, pc: np.ndarray, pw: np.ndarray, entries: Sequence[Entry], n_docs: float, own_cols: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Straight from the term pool and ``total_df`` (the article's own columns counted once more)."""
        pool, sc = self.terms, self.scorer
        seqs = np.fromiter((e.seq for e in entries), dtype=np.int64, count=len(entries))
        return own_candidate_products(
            own_cols,
            self.df,
            sc.prior,
            bool(sc.prior_docs),
            pc,
            pw,
            seqs,
            (pool.start, pool.length, pool.dropped, pool.cols, pool.tf),
            self.total_df,
            float(n_docs),
            float(sc.prior_docs),
        )

    # whole state
    def snapshot(self) -> Snapshot:
        with self._lock:
            df_cols = np.flatnonzero(self.df).astype(np.int64)
            return Snapshot(
                entries=tuple(sorted(self.entries.values(), key=lambda e: e.seq)),
                df_cols=df_cols,
                df_vals=self.df[df_cols].astype(np.int32),
                n_docs=self.n_docs,
                next_seq=self.next_seq,
                newest_ts=self.newest_ts,
                n_stories=len(self.stories),
            )

    def restore(self, snap: Snapshot) -> None:
        if self.entries or self.n_docs:
            raise ValueError("restore() needs an empty index")
        self.n_docs, self.next_seq, self.newest_ts = snap.n_docs, snap.next_seq, snap.newest_ts
        self.df[snap.df_cols] = snap.df_vals
        self._sync_total_df(snap.df_cols)
        for e in snap.entries:
            self._put(e)
            if e.live:
                self.lsh_insert(e)

    def close(self) -> None:
        pass
