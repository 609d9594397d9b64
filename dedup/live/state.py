"""The storage interface of a :class:`~dedup.live.index.StoryIndex`.

Everything the index knows -- article records, stories, running document
frequencies, the two LSH views, the live set -- sits behind
:class:`IndexState`. The index decides; the state stores. Two
implementations: :class:`dedup.live.memory.MemoryState` (this process, the
default) and :class:`dedup.live.redis.RedisState` (a Redis server shared by
workers). Saving and loading (:mod:`dedup.live.persist`) go through
:meth:`IndexState.snapshot` and :meth:`IndexState.restore`, as datasketch's
LSH goes through its storage interface without asking which one it has.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

import numpy as np

from .records import Entry, PartnerLists, Profiles, Snapshot

__all__ = ["IndexState"]


@runtime_checkable
class IndexState(Protocol):
    """Where a story index keeps its state (see the module docstring)."""

    kind: str  # "memory" or "redis"

    # --- reading -------------------------------------------------------------
    def lock(self) -> AbstractContextManager[object]:
        """Held while one add decides and writes (a Redis lock across workers)."""
        ...

    def failure(self, exc: BaseException) -> str | None:
        """What to tell the user when ``exc`` is a storage failure; None when it is not one."""
        ...

    def df_of(self, cols: np.ndarray) -> np.ndarray:
        """Running document frequencies (float64) of hashed columns ``cols``."""
        ...

    def get_n_docs(self) -> int: ...

    def has(self, article_id: str) -> bool: ...

    def get(self, article_id: str) -> Entry | None: ...

    def get_seqs(self, seqs: Sequence[int]) -> list[Entry | None]: ...

    def story_size(self, story: str) -> int: ...

    def story_sizes(self, stories: Sequence[str]) -> list[int]:
        """:meth:`story_size` of each (one round trip on a server)."""
        ...

    def story_ids(self) -> Iterator[str]:
        """Story ids in the order the stories were started."""
        ...

    def story_members(self, story: str) -> list[Entry]:
        """The story's members in sequence order."""
        ...

    def n_articles(self) -> int: ...

    def n_stories(self) -> int: ...

    def n_live(self) -> int: ...

    def get_newest_ts(self) -> float: ...

    # --- writing -------------------------------------------------------------
    def claim_seq(self) -> int: ...

    def commit(
        self, entry: Entry, all_cols: np.ndarray, profiles: Profiles | None = None, lists: PartnerLists | None = None
    ) -> None:
        """Store a new article: record, story membership, its LSH buckets
        (live), document frequencies
        of ``all_cols``, the neighbour profiles and the partner lists of other
        (live) articles it changed (one transaction)."""
        ...

    def evictable(self, cutoff: float | None, max_live: int | None) -> list[int]:
        """Live seqs older than ``cutoff``, and the oldest beyond ``max_live``."""
        ...

    def make_dead(self, seqs: Sequence[int]) -> None:
        """Drop the features of these articles (they keep a small record)."""
        ...

    def delete(self, entry: Entry, profiles: Profiles | None = None) -> None: ...

    def reassign(self, changes: dict[int, str]) -> None:
        """Move articles (by seq) to other stories."""
        ...

    # --- the LSH views -------------------------------------------------------
    def lsh_insert(self, entry: Entry) -> None: ...

    def lsh_query(self, term_sig: np.ndarray, shingle_sig: np.ndarray) -> np.ndarray:
        """Sorted seqs sharing a band with either signature (big buckets capped)."""
        ...

    def lsh_remove(self, seqs: Sequence[int]) -> None: ...

    # --- scoring support -----------------------------------------------------
    def candidate_products(
        self, pc: np.ndarray, pw: np.ndarray, entries: Sequence[Entry], n_docs: float, own_cols: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Cosines and shared-term counts of one article's row (``pc``, ``pw``)
        with each live entry's row under the current frequencies (plus one on
        ``own_cols``): :func:`dedup.live.scoring.row_products` of
        :func:`dedup.live.scoring.weights`, from the compiled kernel."""
        ...

    # --- whole state ---------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """Everything, as plain values (for saving to a file)."""
        ...

    def restore(self, snap: Snapshot) -> None:
        """Fill an empty state from a snapshot."""
        ...

    def close(self) -> None: ...
