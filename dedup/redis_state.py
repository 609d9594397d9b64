"""The state of a :class:`~dedup.index.StoryIndex` on a Redis server, shared by workers.

The LSH tables use datasketch's own Redis storage (``MinHashLSH(storage_config=
{"type": "redis", "basename": ..., "redis": {...}})``, keys as bytes, never
pickled). Next to them, under the same prefix ``P``:

==================  ============================================================
``P:seq``           counter of article sequence numbers (INCR)
``P:n_docs``        articles counted in the document frequencies
``P:df``            hash: hashed column -> document frequency
``P:ids``           hash: article id -> sequence number
``P:e:<seq>``       hash: one article (id, story, version, time, live flag,
                    and while live its term counts, terms before pruning,
                    pruned weight, signatures and neighbour profile -- ``top``
                    and ``rev``, partner seqs then scores -- as raw
                    little-endian arrays)
``P:s:<story>``     sorted set: the story's members (sequence numbers)
``P:stories``       sorted set: story ids by first sequence number
``P:live``          sorted set: live articles by sequence number
``P:live_t``        sorted set: live dated articles by publication time
``P:newest``        newest publication time seen
``P:lock``          the lock each ``add`` holds while it decides and writes
``P:config``        the index's parameters (a second worker must agree)
==================  ============================================================

An ``add`` computes the article's features outside the lock, then under
``P:lock`` reads what it needs, decides, inserts into the LSH tables and
writes the article in one MULTI/EXEC transaction -- the moment it is
acknowledged. If Redis goes away before that, the article is not in the index
(an LSH entry without a record is ignored); everything acknowledged before is.
A lost connection raises :class:`~dedup.index.IndexStorageError`.
"""

from __future__ import annotations

import functools
import json
import math
from typing import Any, Iterator, Sequence

import numpy as np

from .params import Params

__all__ = ["RedisState", "make_lsh", "lsh_buckets", "lsh_insert_plain"]


def _storage_errors() -> tuple[type[BaseException], ...]:
    import redis

    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.LockError)


def _guard(fn):
    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        try:
            return fn(self, *args, **kwargs)
        except self.storage_errors as exc:
            from .index import IndexStorageError

            raise IndexStorageError(self.describe_failure(exc)) from exc
    return wrapper


_SET_IF_LIVE = """
if redis.call('HGET', KEYS[1], 'live') == '1' then
  redis.call('HSET', KEYS[1], 'top', ARGV[1], 'rev', ARGV[2])
end
return 0
"""


_SET_IF_GREATER = """
local cur = redis.call('GET', KEYS[1])
if (not cur) or tonumber(cur) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 0
"""


def _pack(d: dict[int, float] | None) -> bytes:
    """A neighbour profile as bytes: partner seqs (int64), then scores (float64), by seq."""
    keys = sorted(d or ())
    return (np.array(keys, dtype="<i8").tobytes()
            + np.array([d[k] for k in keys], dtype="<f8").tobytes()) if keys else b""  # type: ignore[index]


def _unpack(b: bytes) -> dict[int, float]:
    n = len(b) // 16
    return dict(zip(np.frombuffer(b, "<i8", n).tolist(), np.frombuffer(b, "<f8", n, offset=8 * n).tolist()))


def make_lsh(params: Params, storage_config: dict | None, basename: bytes | None = None):
    """The two datasketch LSH views (term view, shingle view) with the batch's
    bands and rows (:func:`dedup.index.lsh_bands`); on Redis when
    ``storage_config`` says so."""
    from datasketch import MinHashLSH

    from .index import lsh_bands

    views = []
    for name, (b, r) in zip((b"t", b"s"), lsh_bands(params)):
        cfg = None
        if storage_config is not None:
            cfg = dict(storage_config)
            cfg["basename"] = (basename or b"dedup") + b":lsh:" + name
        views.append(MinHashLSH(num_perm=params.num_perm, params=(b, r), storage_config=cfg, prepickle=False))
    return views[0], views[1]


def seq_key(seq: int) -> bytes:
    return b"%d" % seq


def band_hs(lsh, sig: np.ndarray) -> list[bytes]:
    """datasketch's key of each band of one signature (``MinHashLSH._H`` of
    each hash range), from one byte swap of the whole row instead of one per band."""
    sig = np.asarray(sig, dtype=np.uint32)
    if getattr(lsh, "hashfunc", None) is not None:  # pragma: no cover - not used by the index
        return [lsh._H(sig[start:end]) for start, end in lsh.hashranges]
    buf = sig.byteswap().tobytes()
    return [buf[4 * start : 4 * end] for start, end in lsh.hashranges]


def redis_client(lsh):
    first = lsh.hashtables[0]
    return first._redis if hasattr(first, "_redis") else None


def lsh_buckets(lsh, sig: np.ndarray) -> list[list[int]]:
    """The members (seqs) of each band's bucket for one signature."""
    keys = band_hs(lsh, sig)
    tables = lsh.hashtables
    r = redis_client(lsh)
    if r is not None:
        # One round trip for all bands (datasketch's RedisSetStorage, read in one pipeline).
        pipe = r.pipeline(transaction=False)
        for key, table in zip(keys, tables):
            table._get_items(pipe, table.redis_key(key))
        results = pipe.execute()
    else:
        results = [table.get(key) for key, table in zip(keys, tables)]
    return [[int(k) for k in res] for res in results]


def lsh_insert_plain(lsh, seq: int, sig: np.ndarray) -> None:
    """What ``MinHashLSH.insert`` stores (key list, one bucket per band), without a pipeline."""
    key = seq_key(seq)
    hs = band_hs(lsh, sig)
    lsh.keys.insert(key, *hs)
    for h, table in zip(hs, lsh.hashtables):
        table.insert(h, key)


class RedisState:
    kind = "redis"

    def __init__(self, params: Params, connection: dict[str, Any], prefix: str, *, config: dict[str, Any]):
        try:
            import redis
        except ImportError as exc:  # pragma: no cover
            raise ImportError("a Redis-backed StoryIndex needs the redis client: pip install 'dedup[redis]'") from exc
        from .index import IndexStorageError

        self.params = params
        self.connection = dict(connection)
        self.prefix = prefix
        self.storage_errors = _storage_errors()
        self.r = redis.Redis(**self.connection)
        where = f"{self.connection.get('host', 'localhost')}:{self.connection.get('port', 6379)}"
        self.where = where
        try:
            self.r.ping()
            mine = json.dumps({"params": params.to_dict(), **config}, sort_keys=True)
            self.r.setnx(self._k("config"), mine)
            theirs = self.r.get(self._k("config")).decode()
        except self.storage_errors as exc:
            raise IndexStorageError(f"cannot reach Redis at {where}: {exc}") from exc
        if theirs != mine:
            raise ValueError(f"the index {prefix!r} on Redis at {where} was created with other parameters: {theirs}")
        cfg = {"type": "redis", "redis": self.connection}
        self.lsh_term, self.lsh_shingle = make_lsh(params, cfg, prefix.encode())
        self.newest_cache = -math.inf

    def _k(self, *parts: Any) -> str:
        return ":".join([self.prefix, *map(str, parts)])

    def describe_failure(self, exc: BaseException) -> str:
        return (f"lost the connection to Redis at {self.where} ({exc}); every article acknowledged before "
                "this one is stored")

    # reading
    def lock(self):
        return self.r.lock(self._k("lock"), timeout=60, blocking_timeout=120)

    @_guard
    def df_of(self, cols: np.ndarray) -> np.ndarray:
        if len(cols) == 0:
            return np.zeros(0)
        vals = self.r.hmget(self._k("df"), [int(c) for c in cols])
        return np.array([0 if v is None else int(v) for v in vals], dtype=np.float64)

    @_guard
    def get_n_docs(self) -> int:
        return int(self.r.get(self._k("n_docs")) or 0)

    @_guard
    def has(self, article_id: str) -> bool:
        return bool(self.r.hexists(self._k("ids"), article_id))

    @_guard
    def get(self, article_id: str):
        s = self.r.hget(self._k("ids"), article_id)
        return None if s is None else self.get_seqs([int(s)])[0]

    @_guard
    def get_seqs(self, seqs: Sequence[int]) -> list:
        pipe = self.r.pipeline(transaction=False)
        for s in seqs:
            pipe.hgetall(self._k("e", s))
        return [self._entry(s, h) if h else None for s, h in zip(seqs, pipe.execute())]

    def _entry(self, seq: int, h: dict[bytes, bytes]):
        from .index import Entry

        e = Entry(seq=seq, id=h[b"id"].decode(), story=h[b"story"].decode(), version=h[b"version"].decode(),
                  ts=float(h[b"ts"]))
        if h.get(b"live") == b"1":
            e.live = True
            e.cols = np.frombuffer(h[b"cols"], dtype="<i4")
            e.counts = np.frombuffer(h[b"counts"], dtype="<f4")
            e.n_terms = int(h.get(b"nt", b"0"))
            e.dropped = float(h.get(b"dr", b"0"))
            e.top = _unpack(h.get(b"top", b""))
            e.rev = _unpack(h.get(b"rev", b""))
            e.term_sig = np.frombuffer(h[b"tsig"], dtype="<u4")
            e.shingle_sig = np.frombuffer(h[b"ssig"], dtype="<u4")
        return e

    @_guard
    def story_size(self, story: str) -> int:
        return int(self.r.zcard(self._k("s", story)))

    @_guard
    def story_ids(self) -> Iterator[str]:
        return iter([s.decode() for s in self.r.zrange(self._k("stories"), 0, -1)])

    @_guard
    def story_members(self, story: str) -> list:
        seqs = [int(s) for s in self.r.zrange(self._k("s", story), 0, -1)]
        return [e for e in self.get_seqs(seqs) if e is not None]

    @_guard
    def n_articles(self) -> int:
        return int(self.r.hlen(self._k("ids")))

    @_guard
    def n_stories(self) -> int:
        return int(self.r.zcard(self._k("stories")))

    @_guard
    def n_live(self) -> int:
        return int(self.r.zcard(self._k("live")))

    @_guard
    def get_newest_ts(self) -> float:
        v = self.r.get(self._k("newest"))
        return -math.inf if v is None else float(v)

    # writing
    @_guard
    def claim_seq(self) -> int:
        return int(self.r.incr(self._k("seq"))) - 1

    def _write_profiles(self, pipe, profiles: dict[int, tuple[dict, dict]] | None) -> None:
        """Queue the new neighbour profiles of other (live) articles."""
        for s, (top, rev) in sorted((profiles or {}).items()):
            key = self._k("e", s)
            # only while the record exists and is live (a concurrent removal or eviction wins)
            pipe.eval(_SET_IF_LIVE, 1, key, _pack(top), _pack(rev))

    @_guard
    def commit(self, entry, df_cols: np.ndarray, profiles: dict[int, tuple[dict, dict]] | None = None) -> None:
        pipe = self.r.pipeline(transaction=True)
        self._write_profiles(pipe, profiles)
        rec: dict[str, Any] = {"id": entry.id, "story": entry.story, "version": entry.version, "ts": repr(entry.ts),
                               "live": "1" if entry.live else "0"}
        if entry.live:
            rec.update(cols=np.asarray(entry.cols, "<i4").tobytes(), counts=np.asarray(entry.counts, "<f4").tobytes(),
                       nt=int(entry.n_terms), dr=repr(float(entry.dropped)),
                       top=_pack(entry.top), rev=_pack(entry.rev), tsig=np.asarray(entry.term_sig, "<u4").tobytes(),
                       ssig=np.asarray(entry.shingle_sig, "<u4").tobytes())
            pipe.zadd(self._k("live"), {entry.seq: entry.seq})
            if not math.isnan(entry.ts):
                pipe.zadd(self._k("live_t"), {entry.seq: entry.ts})
        pipe.hset(self._k("e", entry.seq), mapping=rec)
        pipe.hset(self._k("ids"), entry.id, entry.seq)
        pipe.zadd(self._k("s", entry.story), {entry.seq: entry.seq})
        pipe.zadd(self._k("stories"), {entry.story: entry.seq}, nx=True)
        for c in np.asarray(df_cols).tolist():
            pipe.hincrby(self._k("df"), c, 1)  # queued: the whole transaction is one round trip
        pipe.incr(self._k("n_docs"))
        if not math.isnan(entry.ts):  # the newest time, raised on the server (no read first)
            pipe.eval(_SET_IF_GREATER, 1, self._k("newest"), repr(entry.ts))
        pipe.execute()

    @_guard
    def evictable(self, cutoff: float | None, max_live: int | None) -> list[int]:
        out: list[int] = []
        if cutoff is not None:
            out = [int(s) for s in self.r.zrangebyscore(self._k("live_t"), "-inf", f"({cutoff}")]
        if max_live is not None:
            extra = self.n_live() - len(out) - max_live
            if extra > 0:
                for s in self.r.zrange(self._k("live"), 0, extra + len(out)):
                    if extra <= 0:
                        break
                    if int(s) not in out:
                        out.append(int(s))
                        extra -= 1
        return out

    @_guard
    def make_dead(self, seqs: Sequence[int]) -> None:
        pipe = self.r.pipeline(transaction=True)
        for s in seqs:
            pipe.zrem(self._k("live"), s)
            pipe.zrem(self._k("live_t"), s)
            pipe.hset(self._k("e", s), "live", "0")
            pipe.hdel(self._k("e", s), "cols", "counts", "nt", "dr", "top", "rev", "tsig", "ssig")
        pipe.execute()

    @_guard
    def delete(self, entry, profiles: dict[int, tuple[dict, dict]] | None = None) -> None:
        pipe = self.r.pipeline(transaction=True)
        self._write_profiles(pipe, profiles)
        pipe.zrem(self._k("live"), entry.seq)
        pipe.zrem(self._k("live_t"), entry.seq)
        pipe.delete(self._k("e", entry.seq))
        pipe.hdel(self._k("ids"), entry.id)
        pipe.zrem(self._k("s", entry.story), entry.seq)
        pipe.execute()
        if not self.r.zcard(self._k("s", entry.story)):
            self.r.zrem(self._k("stories"), entry.story)

    @_guard
    def reassign(self, changes: dict[int, str]) -> None:
        entries = {e.seq: e for e in self.get_seqs(list(changes)) if e is not None}
        pipe = self.r.pipeline(transaction=True)
        for s, story in changes.items():
            e = entries.get(s)
            if e is None:
                continue
            pipe.zrem(self._k("s", e.story), s)
            pipe.zadd(self._k("s", story), {s: s})
            pipe.zadd(self._k("stories"), {story: s}, nx=True)
            pipe.hset(self._k("e", s), "story", story)
        pipe.execute()
        old = {e.story for e in entries.values()}
        for story in old:
            if not self.r.zcard(self._k("s", story)):
                self.r.zrem(self._k("stories"), story)

    # the LSH views (datasketch's Redis storage)
    @_guard
    def lsh_insert(self, entry) -> None:
        """Insert into both LSH views what ``MinHashLSH.insert`` would (the key
        list and one bucket per band), through datasketch's storage objects,
        every command of both views in one pipeline (one round trip)."""
        from .minhash import EMPTY

        key = seq_key(entry.seq)
        pipe = self.r.pipeline(transaction=False)
        for lsh, sig in ((self.lsh_term, entry.term_sig), (self.lsh_shingle, entry.shingle_sig)):
            if (sig == EMPTY).all():
                continue
            hs = band_hs(lsh, sig)
            lsh.keys._insert(pipe, key, *hs)
            for h, table in zip(hs, lsh.hashtables):
                table._insert(pipe, h, key)
        pipe.execute()

    @_guard
    def lsh_query(self, term_sig: np.ndarray, shingle_sig: np.ndarray) -> np.ndarray:
        """Members of the signatures' buckets; a bucket above ``max_bucket_size``
        gives its ``bucket_neighbours`` most recent."""
        from .minhash import EMPTY

        p = self.params
        found: set[int] = set()
        for lsh, sig in ((self.lsh_term, term_sig), (self.lsh_shingle, shingle_sig)):
            if (sig == EMPTY).all():
                continue
            for bucket in lsh_buckets(lsh, sig):
                if len(bucket) > p.max_bucket_size:
                    bucket = sorted(bucket)[-p.bucket_neighbours:]
                found.update(bucket)
        return np.array(sorted(found), dtype=np.int64)

    @_guard
    def lsh_remove(self, seqs: Sequence[int]) -> None:
        for lsh in (self.lsh_term, self.lsh_shingle):
            for s in seqs:
                key = seq_key(s)
                if key in lsh:
                    lsh.remove(key)

    def close(self) -> None:
        try:
            self.r.close()
        except Exception:  # pragma: no cover
            pass

    @classmethod
    def drop(cls, connection: dict[str, Any], prefix: str) -> int:
        """Delete every key of the index ``prefix`` (LSH tables included)."""
        import redis

        r = redis.Redis(**connection)
        n = 0
        for key in r.scan_iter(match=f"{prefix}:*", count=1000):
            n += r.delete(key)
        return n
