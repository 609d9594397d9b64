"""The state of a story index on a Redis server, shared by workers: an
:class:`~dedup.live.state.IndexState`.

The LSH views are the batch's bands (:func:`dedup.live.bands.lsh_bands`) and
band keys (:func:`dedup.sketch.lsh.band_keys`), one sorted set per bucket
(members: sequence numbers, scored by themselves, so a bucket reads in
ascending order and its most recent members are its last). datasketch's
``MinHashLSH`` is not used here: its public API answers a query with the
union of the buckets, while the index needs each bucket's members to apply
the batch's bucket cap, which only its private storage internals expose.
Under the same prefix ``P``:

==================  ============================================================
``P:seq``           counter of article sequence numbers (INCR)
``P:n_docs``        articles counted in the document frequencies
``P:dflog``         list: the columns of the last ``DF_LOG`` articles counted
                    (distinct hashed columns, little-endian int32), one entry
                    per article
``P:df``            string: the document frequency of each hashed column
                    (little-endian int32) over the first ``P:df_n`` articles,
                    written every ``DF_LOG / 2`` articles; with the log since
                    ``P:df_n``, every article is counted
``P:df_n``          articles counted in ``P:df``
``P:ids``           hash: article id -> sequence number
``P:e:<seq>``       hash: one article (id, story, version, time, live flag,
                    and while live its term counts, terms before pruning,
                    pruned weight, signatures, neighbour profile -- ``top``
                    and ``rev``, partner seqs then scores -- and partner list
                    ``pl``, partner seqs then bands in common, as raw
                    little-endian arrays; no ``pl``: the article has no list)
``P:s:<story>``     sorted set: the story's members (sequence numbers)
``P:stories``       sorted set: story ids by the sequence number of their first member
``P:live``          sorted set: live articles by sequence number
``P:live_t``        sorted set: live dated articles by publication time
``P:newest``        newest publication time seen
``P:b:<v>:<band>:<key>``  sorted set: an LSH bucket of view ``t`` or ``s``
``P:lock``          the lock each ``add`` holds while it decides and writes
                    (a worker's random token, for at most ``LOCK_TTL``)
``P:epoch``         a random name of this making of the index: a worker that
                    finds another (the prefix dropped and made again) starts
                    its copies afresh and checks the parameters again
``P:config``        the index's parameters and key layout (a second worker must agree)
==================  ============================================================

An ``add`` computes the article's features outside the lock, then under
``P:lock`` reads what it needs, decides, inserts into the LSH buckets and
writes the article in one MULTI/EXEC transaction -- the moment it is
acknowledged. If Redis goes away before that, the article is not in the index;
everything acknowledged before is. A lost connection raises
:class:`~dedup.live.records.IndexStorageError`. The writes of an add are one
script (:data:`_COMMIT`) that runs only while the lock is still the worker's
and nobody has written since it took it: a worker stalled past ``LOCK_TTL``
(another may have taken the lock meanwhile) writes nothing and is told so,
and a commit sent again after its reply was lost writes nothing twice.

Each worker keeps a copy of the document frequencies, brought up to date from
``P:dflog`` when it takes the lock, and the fixed fields of the live records
it has read (:data:`RECORD_CACHE`): what crosses the network is what changed.
The bucket scripts name keys that are not among their KEYS (a bucket's key is
computed from the signature): a single server, not Redis Cluster.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any

import numpy as np

from ..params import Params
from ..sketch.lsh import band_keys
from ..sketch.minhash import EMPTY
from .bands import lsh_bands
from .records import Entry, IndexStorageError, PartnerLists, Profiles, Snapshot
from .scoring import Scorer

__all__ = ["RedisState", "connect", "drop_index"]

LAYOUT = 3  # 1: datasketch's MinHashLSH storage for the buckets (before dedup 0.2); 2: P:df a hash
LOCK_TTL = 60.0  # seconds an add may hold the index lock; a worker stalled longer writes nothing
LOCK_WAIT = 120.0  # seconds a worker waits for the lock before it gives up
DF_LOG = 4096  # articles' columns kept in P:dflog: a worker further behind reads all of P:df (8 MB at 2**21 columns)

# Scripts that take many values as one argument: the client then encodes and
# parses one value instead of hundreds (redis-py spends ~2 us an argument).
# Bucket keys are joined by newlines (they never hold one).
#
# (KEYS: P:n_docs, P:dflog, P:df, P:df_n, P:newest, P:seq, P:lock, P:epoch,
# P:live, P:live_t)
# With a token ARGV[2], first the lock (false if another worker holds it;
# taken for ARGV[3] ms). Then what a worker that has counted the first ARGV[1]
# articles lacks: {n_docs, 0, newest, seq, epoch, live, oldest, the log
# entries since}, or, when the log does not reach back that far, {n_docs, 1,
# newest, seq, epoch, live, oldest, P:df, the log entries since P:df_n};
# live: the live articles, oldest: the earliest time of a dated one ('' none)
_DF_SYNC = """
if ARGV[2] ~= '' and redis.call('GET', KEYS[7]) ~= ARGV[2] then
  if not redis.call('SET', KEYS[7], ARGV[2], 'NX', 'PX', ARGV[3]) then return false end
end
local n, seen = tonumber(redis.call('GET', KEYS[1]) or '0'), tonumber(ARGV[1])
local newest, seq = redis.call('GET', KEYS[5]) or '', tonumber(redis.call('GET', KEYS[6]) or '0')
local epoch = redis.call('GET', KEYS[8]) or ''
local live, oldest = redis.call('ZCARD', KEYS[9]), redis.call('ZRANGE', KEYS[10], 0, 0, 'WITHSCORES')[2] or ''
if n == seen then return {n, 0, newest, seq, epoch, live, oldest} end
local first = n - redis.call('LLEN', KEYS[2])
local out, head
if seen < n and seen >= first then
  out, head = redis.call('LRANGE', KEYS[2], seen - first, -1), {n, 0, newest, seq, epoch, live, oldest}
else
  local c = tonumber(redis.call('GET', KEYS[4]) or '0')
  if c < first then return redis.error_reply('the document frequencies of the index are incomplete') end
  local saved = redis.call('GET', KEYS[3]) or ''
  out, head = redis.call('LRANGE', KEYS[2], c - first, -1), {n, 1, newest, seq, epoch, live, oldest, saved}
end
for i = #head, 1, -1 do table.insert(out, 1, head[i]) end
return out
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# Writes that go together (an add's, a removal's, a re-clustering's), as one
# atomic call: ops from ARGV[8] on, each a name, an argument count and the
# arguments (see _Ops). An add's are guarded: run only while ARGV[1] (the lock)
# holds the token ARGV[2] and ARGV[3] (P:seq) is the article's number ARGV[4],
# so a worker whose lock expired (stalled past LOCK_TTL) writes nothing; found
# written already (a reply lost and the call sent again): 0, nothing twice.
# A guarded call also renews the lock for ARGV[7] ms: the re-clustering that
# follows the add's writes runs under the lock too.
_COMMIT = """
if ARGV[1] ~= '' then
  if redis.call('GET', ARGV[1]) ~= ARGV[2] then return redis.error_reply('LOCKLOST') end
  local cur = tonumber(redis.call('GET', ARGV[3]) or '0')
  if cur == tonumber(ARGV[4]) + 1 and redis.call('HGET', ARGV[5], 'id') == ARGV[6] then return 0 end
  if cur ~= tonumber(ARGV[4]) then return redis.error_reply('LOCKLOST') end
  redis.call('PEXPIRE', ARGV[1], ARGV[7])
end
local i = 8
while i <= #ARGV do
  local op, a = ARGV[i], {}
  for j = 1, tonumber(ARGV[i + 1]) do a[j] = ARGV[i + 1 + j] end
  i = i + 2 + #a
  if op == 'call' then redis.call(unpack(a))
  elseif op == 'buckets' then
    for key in string.gmatch(a[1], '[^\\n]+') do redis.call('ZADD', key, a[2], a[2]) end
  elseif op == 'if_live' then
    if redis.call('HGET', a[1], 'live') == '1' then redis.call('HSET', unpack(a)) end
  elseif op == 'if_greater' then
    local c = redis.call('GET', a[1])
    if (not c) or tonumber(c) < tonumber(a[2]) then redis.call('SET', a[1], a[2]) end
  elseif op == 'place' then  -- a story listed at its first member, or not at all
    local first = redis.call('ZRANGE', a[1], 0, 0, 'WITHSCORES')
    if #first == 0 then redis.call('ZREM', a[2], a[3]) else redis.call('ZADD', a[2], first[2], a[3]) end
  end
end
return 1
"""

_UNGUARDED = ["", "", "", 0, "", "", 0]  # _COMMIT's guard arguments for writes outside an add

_BUCKETS_REMOVE = """
for key in string.gmatch(ARGV[1], '[^\\n]+') do redis.call('ZREM', key, ARGV[2]) end
return 0
"""

# per view (ARGV[1], ARGV[2]): the members of its buckets as int64, a bucket
# above ARGV[3] members giving its last ARGV[4] (``capped_start``)
_BUCKETS_QUERY = """
local cap, near, res = tonumber(ARGV[3]), tonumber(ARGV[4]), {}
for v = 1, 2 do
  local out = {}
  for key in string.gmatch(ARGV[v], '[^\\n]+') do
    local m = redis.call('ZRANGE', key, 0, -1)
    local first = 1
    if #m > cap then first = math.max(#m - near, 0) + 1 end
    for j = first, #m do out[#out + 1] = struct.pack('<i8', tonumber(m[j])) end
  end
  res[v] = table.concat(out)
end
return res
"""

_LIVE_FIELDS = ("cols", "counts", "nt", "dr", "top", "rev", "pl", "tsig", "ssig")


def _redis() -> Any:
    try:
        import redis
    except ImportError as exc:  # pragma: no cover
        raise ImportError("a Redis-backed StoryIndex needs the redis client: pip install 'dedup[redis]'") from exc
    return redis


def connect(connection: dict[str, Any] | str) -> tuple[Any, str]:
    """A ``redis.Redis`` client and ``host:port`` for messages, from ``redis.Redis``
    keyword arguments or a URL (``redis://[[user]:password@]host[:port][/db]``,
    ``rediss://`` for TLS, ``unix:///path``)."""
    redis = _redis()
    if isinstance(connection, str):
        client = redis.Redis.from_url(connection)
        kwargs = client.connection_pool.connection_kwargs
    else:
        kwargs = dict(connection)
        client = redis.Redis(**kwargs)
    where = (
        kwargs.get("path")
        or kwargs.get("unix_socket_path")
        or f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
    )
    return client, where


def _pack(d: dict[int, Any] | None, values: str = "<f8") -> bytes:
    """A neighbour profile (or, ``values="<i8"``, a partner list) as bytes:
    partner seqs (int64), then scores (float64; bands in common: int64), by seq."""
    keys = sorted(d or ())
    if not keys:
        return b""
    return np.array(keys, dtype="<i8").tobytes() + np.array([d[k] for k in keys], dtype=values).tobytes()  # type: ignore[index]


def _unpack(b: bytes, values: str = "<f8") -> dict[int, Any]:
    n = len(b) // 16
    return dict(
        zip(np.frombuffer(b, "<i8", n).tolist(), np.frombuffer(b, values, n, offset=8 * n).tolist(), strict=False)
    )


def _record(entry: Entry) -> dict[str, Any]:
    """The ``P:e:<seq>`` hash of an entry."""
    rec: dict[str, Any] = {
        "id": entry.id,
        "story": entry.story,
        "version": entry.version,
        "ts": repr(entry.ts),
        "live": "1" if entry.live else "0",
    }
    if entry.live:
        rec.update(
            cols=np.asarray(entry.cols, "<i4").tobytes(),
            counts=np.asarray(entry.counts, "<f4").tobytes(),
            nt=int(entry.n_terms),
            dr=repr(float(entry.dropped)),
            top=_pack(entry.top),
            rev=_pack(entry.rev),
            **({} if entry.partners is None else {"pl": _pack(entry.partners, "<i8")}),
            tsig=np.asarray(entry.term_sig, "<u4").tobytes(),
            ssig=np.asarray(entry.shingle_sig, "<u4").tobytes(),
        )
    return rec


# the fields of a record that change after it is written; the rest (text
# features, signatures, time) is fixed, and a worker keeps it (RECORD_CACHE)
_CHANGING = ("id", "story", "version", "live", "top", "rev", "pl")
RECORD_CACHE = 8192  # live records whose fixed fields a worker keeps (about 5 KB each)


def _entry(seq: int, h: dict[bytes, bytes]) -> Entry:
    e = Entry(
        seq=seq, id=h[b"id"].decode(), story=h[b"story"].decode(), version=h[b"version"].decode(), ts=float(h[b"ts"])
    )
    if h.get(b"live") == b"1":
        e.live = True
        e.cols = np.frombuffer(h[b"cols"], dtype="<i4")
        e.counts = np.frombuffer(h[b"counts"], dtype="<f4")
        e.n_terms = int(h.get(b"nt", b"0"))
        e.dropped = float(h.get(b"dr", b"0"))
        e.top = _unpack(h.get(b"top", b""))
        e.rev = _unpack(h.get(b"rev", b""))
        e.partners = None if b"pl" not in h else _unpack(h[b"pl"], "<i8")
        e.term_sig = np.frombuffer(h[b"tsig"], dtype="<u4")
        e.shingle_sig = np.frombuffer(h[b"ssig"], dtype="<u4")
    return e


class _Ops:
    """An add's writes, collected for one :data:`_COMMIT` call: the pipeline
    methods the queueing helpers use, and the conditional writes as ops of
    their own (a script cannot call another)."""

    def __init__(self) -> None:
        self.args: list[Any] = []

    def _op(self, name: str, *args: Any) -> None:
        self.args += [name, len(args), *args]

    def zadd(self, key: str, mapping: dict[Any, Any], nx: bool = False) -> None:
        for member, score in mapping.items():
            self._op("call", "ZADD", key, *(("NX",) if nx else ()), score, member)

    def hset(self, key: str, field: Any = None, value: Any = None, mapping: dict[str, Any] | None = None) -> None:
        pairs = [x for kv in mapping.items() for x in kv] if mapping is not None else [field, value]
        self._op("call", "HSET", key, *pairs)

    def set(self, key: str, value: Any) -> None:
        self._op("call", "SET", key, value)

    def rpush(self, key: str, value: Any) -> None:
        self._op("call", "RPUSH", key, value)

    def ltrim(self, key: str, start: int, end: int) -> None:
        self._op("call", "LTRIM", key, start, end)

    def incr(self, key: str) -> None:
        self._op("call", "INCR", key)

    def call(self, *command: Any) -> None:
        self._op("call", *command)

    def if_live(self, key: str, *pairs: Any) -> None:
        self._op("if_live", key, *pairs)

    def if_greater(self, key: str, value: str) -> None:
        self._op("if_greater", key, value)

    def buckets(self, keys: str, seq: int) -> None:
        self._op("buckets", keys, seq)

    def place(self, members: str, stories: str, story: str) -> None:
        self._op("place", members, stories, story)


class RedisState:
    """Everything the index knows, on a Redis server (see the module docstring)."""

    kind = "redis"

    def __init__(self, params: Params, connection: dict[str, Any] | str, prefix: str, *, config: dict[str, Any]):
        redis = _redis()
        self.params = params
        self.connection = connection if isinstance(connection, str) else dict(connection)
        self.prefix = prefix
        self._refused = redis.exceptions.ResponseError  # the server said no: out of memory, no such database, ...
        self._errors = (
            redis.exceptions.ConnectionError,
            redis.exceptions.TimeoutError,
            redis.exceptions.LockError,
            self._refused,
        )
        self.r, self.where = connect(self.connection)
        scripts = (_DF_SYNC, _RELEASE, _COMMIT, _BUCKETS_REMOVE, _BUCKETS_QUERY)
        self._df_sync, self._release, self._commit, self._buckets_remove, self._buckets_query = (
            self.r.register_script(src) for src in scripts
        )
        self._token = ""  # this worker's hold of the lock
        self._epoch = ""  # P:epoch when this worker's copies were made (a dropped index gets a new one)
        # this worker's copy of the document frequencies: the first `_seen` articles counted
        self._df = np.zeros(params.n_features, dtype=np.int32)
        self._seen = 0
        self._saved = 0  # articles counted in P:df when this copy was last brought up to date
        self._records: OrderedDict[int, Entry] = OrderedDict()  # seq -> a live record read before (LRU)
        self._held = False  # the lock is held and the copy (and _newest, _next_seq) is current
        self._newest = -math.inf
        self._next_seq = 0
        self._live: tuple[int, float] | None = None  # live articles and the oldest dated one's time, while held
        self.views = lsh_bands(params)
        self.scorer = Scorer(params)
        self._config = json.dumps({"params": params.to_dict(), "layout": LAYOUT, **config}, sort_keys=True)
        self._register()

    def _register(self) -> None:
        """Join the index under the prefix (making it if there is none): its
        parameters must be this worker's; its epoch names this making of it."""
        try:
            self.r.setnx(self._k("config"), self._config)
            theirs = self.r.get(self._k("config")).decode()
            self.r.setnx(self._k("epoch"), os.urandom(8).hex())
            self._epoch = self.r.get(self._k("epoch")).decode()
        except self._errors as exc:
            how = "cannot use" if isinstance(exc, self._refused) else "cannot reach"
            raise IndexStorageError(f"{how} Redis at {self.where}: {exc}") from exc
        if theirs != self._config:
            raise ValueError(
                f"the index {self.prefix!r} on Redis at {self.where} was created with other parameters "
                f"(or by another dedup version): {theirs}"
            )

    def _k(self, *parts: Any) -> str:
        return ":".join([self.prefix, *map(str, parts)])

    def failure(self, exc: BaseException) -> str | None:
        if not isinstance(exc, self._errors):
            return None
        what = "Redis refused a command" if isinstance(exc, self._refused) else "lost the connection to Redis"
        return f"{what} at {self.where} ({exc}); every article acknowledged before this one is stored"

    def _guarded(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except self._errors as exc:
            raise IndexStorageError(self.failure(exc)) from exc

    # reading
    def lock(self) -> AbstractContextManager[object]:
        return self._holding()

    @contextlib.contextmanager
    def _holding(self) -> Iterator[None]:
        """The index lock (taken for :data:`LOCK_TTL`), with this worker's
        copies brought up to date in the same call (nobody else writes an
        article while it is held)."""
        self._take()
        self._held = True
        try:
            yield
        finally:
            self._held = False
            # not ours any more (held past LOCK_TTL): the commit wrote nothing then, or was done before
            self._guarded(self._release, [self._k("lock")], [self._token])

    def _take(self) -> None:
        """Take the lock, polled every millisecond, and bring the copies up to date."""
        token = os.urandom(16).hex()
        deadline = time.monotonic() + LOCK_WAIT
        while (got := self._sync_call(token)) is None:
            if time.monotonic() > deadline:
                raise IndexStorageError(
                    f"another worker has held the index lock on Redis at {self.where} for over {LOCK_WAIT:g} s"
                )
            time.sleep(0.001)
        self._token = token
        self._apply(got)

    def _sync_call(self, token: str) -> Any:
        names = ("n_docs", "dflog", "df", "df_n", "newest", "seq", "lock", "epoch", "live", "live_t")
        args = [self._seen, token, int(LOCK_TTL * 1000)]
        return self._guarded(self._df_sync, [self._k(k) for k in names], args)

    def _sync_df(self) -> None:
        """Count the articles other workers added since this copy was made
        (from the log of their columns), or read all of ``P:df`` when the log
        no longer reaches back that far."""
        self._apply(self._sync_call(""))

    def _apply(self, got: list[Any]) -> None:
        """Bring the copies up to date with a sync's answer (see :data:`_DF_SYNC`)."""
        if got[4].decode() != self._epoch:  # the index was dropped (and maybe made again) since
            self._df[:] = 0
            self._seen = self._saved = 0
            self._records.clear()
            self._register()
            got = self._sync_call("")
        self._newest = float(got[2]) if got[2] else -math.inf
        self._next_seq = int(got[3])
        self._live = (int(got[5]), float(got[6]) if got[6] else math.inf)
        log = got[7:]
        if got[1] == 1:  # the saved frequencies, then the log since
            saved = np.frombuffer(log.pop(0), "<i4")
            self._df[:] = 0
            self._df[: len(saved)] = saved
        for cols in log:
            self._df[np.frombuffer(cols, "<i4")] += 1
        self._seen = int(got[0])

    def df_of(self, cols: np.ndarray) -> np.ndarray:
        if not self._held:
            self._sync_df()
        return self._df[cols].astype(np.float64)

    def get_n_docs(self) -> int:
        if self._held:
            return self._seen
        return int(self._guarded(self.r.get, self._k("n_docs")) or 0)

    def has(self, article_id: str) -> bool:
        return bool(self._guarded(self.r.hexists, self._k("ids"), article_id))

    def get(self, article_id: str) -> Entry | None:
        s = self._guarded(self.r.hget, self._k("ids"), article_id)
        return None if s is None else self.get_seqs([int(s)])[0]

    def get_seqs(self, seqs: Sequence[int]) -> list[Entry | None]:
        """The records (one round trip): of a live record read before, only
        the fields that change are read again (:data:`_CHANGING`)."""
        known = [self._records.get(s) for s in seqs]
        pipe = self.r.pipeline(transaction=False)
        for s, old in zip(seqs, known, strict=True):
            if old is None:
                pipe.hgetall(self._k("e", s))
            else:
                pipe.hmget(self._k("e", s), _CHANGING)
        got = self._guarded(pipe.execute)
        out = [self._read(s, old, h) for s, old, h in zip(seqs, known, got, strict=True)]
        while len(self._records) > RECORD_CACHE:
            self._records.popitem(last=False)
        return out

    def _read(self, seq: int, old: Entry | None, h: Any) -> Entry | None:
        """A record from its whole hash, or from its changing fields and the fixed ones kept."""
        if old is None:
            e = _entry(seq, h) if h else None
        elif h[0] is None:  # removed
            e = None
        elif h[0].decode() != old.id:  # another record under this seq (the index was made again)
            self._records.pop(seq, None)
            return self._read(seq, None, self._guarded(self.r.hgetall, self._k("e", seq)))
        elif h[3] != b"1":  # no longer live: the small record
            e = _entry(seq, {b"id": h[0], b"story": h[1], b"version": h[2], b"ts": repr(old.ts).encode()})
        else:
            e = replace(old, story=h[1].decode(), version=h[2].decode(), top=_unpack(h[4] or b""))
            e.rev = _unpack(h[5] or b"")
            e.partners = None if h[6] is None else _unpack(h[6], "<i8")
        if e is not None and e.live:
            self._records[seq] = e
            self._records.move_to_end(seq)
        else:
            self._records.pop(seq, None)
        return e

    def story_size(self, story: str) -> int:
        return int(self._guarded(self.r.zcard, self._k("s", story)))

    def story_sizes(self, stories: Sequence[str]) -> list[int]:
        pipe = self.r.pipeline(transaction=False)
        for t in stories:
            pipe.zcard(self._k("s", t))
        return [int(n) for n in self._guarded(pipe.execute)]

    def story_ids(self) -> Iterator[str]:
        return iter([s.decode() for s in self._guarded(self.r.zrange, self._k("stories"), 0, -1)])

    def story_members(self, story: str) -> list[Entry]:
        seqs = [int(s) for s in self._guarded(self.r.zrange, self._k("s", story), 0, -1)]
        return [e for e in self.get_seqs(seqs) if e is not None]

    def n_articles(self) -> int:
        return int(self._guarded(self.r.hlen, self._k("ids")))

    def n_stories(self) -> int:
        return int(self._guarded(self.r.zcard, self._k("stories")))

    def n_live(self) -> int:
        return int(self._guarded(self.r.zcard, self._k("live")))

    def get_newest_ts(self) -> float:
        if self._held:
            return self._newest
        v = self._guarded(self.r.get, self._k("newest"))
        return -math.inf if v is None else float(v)

    # writing
    def claim_seq(self) -> int:
        """Under the lock, the next number as the lock's sync read it: it is
        written with the article (:meth:`commit`), so an add that fails before
        leaves it to the next one (nothing else is written under it)."""
        if not self._held:
            return int(self._guarded(self.r.incr, self._k("seq"))) - 1
        self._next_seq += 1
        return self._next_seq - 1

    def _write_profiles(self, ops: _Ops, profiles: Profiles | None) -> None:
        """Queue the new neighbour profiles of other articles (only while their
        record exists and is live: a concurrent removal or eviction wins)."""
        for s, (top, rev) in sorted((profiles or {}).items()):
            ops.if_live(self._k("e", s), "top", _pack(top), "rev", _pack(rev))

    def _write_partners(self, ops: _Ops, lists: PartnerLists | None) -> None:
        """Queue the new partner lists of other (live) articles."""
        for s, held in sorted((lists or {}).items()):
            ops.if_live(self._k("e", s), "pl", _pack(held, "<i8"))

    def _queue_record(self, pipe: Any, entry: Entry) -> None:
        """Queue an entry's record, its story membership and its place in the live sets."""
        if entry.live:
            pipe.zadd(self._k("live"), {entry.seq: entry.seq})
            if not math.isnan(entry.ts):
                pipe.zadd(self._k("live_t"), {entry.seq: entry.ts})
        pipe.hset(self._k("e", entry.seq), mapping=_record(entry))
        pipe.hset(self._k("ids"), entry.id, entry.seq)
        pipe.zadd(self._k("s", entry.story), {entry.seq: entry.seq})
        pipe.zadd(self._k("stories"), {entry.story: entry.seq}, nx=True)

    def commit(
        self, entry: Entry, all_cols: np.ndarray, profiles: Profiles | None = None, lists: PartnerLists | None = None
    ) -> None:
        ops = _Ops()  # every write of the add, in one atomic script call
        if entry.live:
            ops.buckets("\n".join(self._buckets(entry.term_sig, entry.shingle_sig)), entry.seq)
        self._write_profiles(ops, profiles)
        self._write_partners(ops, lists)
        self._queue_record(ops, entry)
        # the article's columns (distinct) logged and n_docs raised
        cols = np.asarray(all_cols, "<i4")
        if self._held:
            ops.set(self._k("seq"), entry.seq + 1)
        ops.rpush(self._k("dflog"), cols.tobytes())
        ops.ltrim(self._k("dflog"), -DF_LOG, -1)
        ops.incr(self._k("n_docs"))
        if self._held and self._seen + 1 - self._saved >= DF_LOG // 2:
            self._queue_saved_df(ops, cols)
        if not math.isnan(entry.ts):  # the newest time, raised on the server (no read first)
            ops.if_greater(self._k("newest"), repr(entry.ts))
        self._write(entry, ops)
        if self._held:  # counted here too: the copy stays current under the lock
            self._df[cols] += 1
            self._seen += 1
            if entry.ts > self._newest:  # (False for NaN)
                self._newest = entry.ts
            if entry.live and self._live is not None:
                self._live = (self._live[0] + 1, min(self._live[1], math.inf if math.isnan(entry.ts) else entry.ts))

    def _write(self, entry: Entry, ops: _Ops) -> None:
        """Run an add's writes, under the lock's guard (see :data:`_COMMIT`)."""
        guard = _UNGUARDED
        if self._held:
            ttl = int(LOCK_TTL * 1000)
            guard = [self._k("lock"), self._token, self._k("seq"), entry.seq, self._k("e", entry.seq), entry.id, ttl]
        try:
            self._run(ops, guard)
        except self._refused as exc:
            if "LOCKLOST" not in str(exc):
                raise IndexStorageError(self.failure(exc)) from exc
            raise IndexStorageError(
                f"the index lock on Redis at {self.where} ran out ({LOCK_TTL:g} s) before article "
                f"{entry.id!r} was written, and another worker may have written since: it was not indexed"
            ) from exc
        except self._errors as exc:
            raise IndexStorageError(self.failure(exc)) from exc

    def _run(self, ops: _Ops, guard: list[Any] | None = None) -> None:
        """Run writes as one atomic :data:`_COMMIT` call (unguarded without ``guard``)."""
        self._commit(keys=[], args=(guard or _UNGUARDED) + ops.args)

    def _queue_saved_df(self, pipe: _Ops, cols: np.ndarray) -> None:
        """Queue all the document frequencies with this article's ``cols``
        counted (``P:df``, as int32 up to the last column counted) and their
        article count (``P:df_n``): the log need reach back no further."""
        df = self._df.copy()
        df[cols] += 1
        used = np.flatnonzero(df)
        pipe.set(self._k("df"), df[: used[-1] + 1 if len(used) else 0].astype("<i4").tobytes())
        pipe.set(self._k("df_n"), self._seen + 1)
        self._saved = self._seen + 1

    def evictable(self, cutoff: float | None, max_live: int | None) -> list[int]:
        if self._held and self._live is not None:  # none, as the lock's sync and this worker's writes tell
            n_live, oldest = self._live
            if (cutoff is None or oldest >= cutoff) and (max_live is None or n_live <= max_live):
                return []
        out: list[int] = []
        if cutoff is not None:
            out = [int(s) for s in self._guarded(self.r.zrangebyscore, self._k("live_t"), "-inf", f"({cutoff}")]
        if max_live is not None:
            extra = self.n_live() - len(out) - max_live
            if extra > 0:
                for s in self._guarded(self.r.zrange, self._k("live"), 0, extra + len(out)):
                    if extra <= 0:
                        break
                    if int(s) not in out:
                        out.append(int(s))
                        extra -= 1
        return out

    def make_dead(self, seqs: Sequence[int]) -> None:
        self._live = None  # asked of the server again until the next sync
        pipe = self.r.pipeline(transaction=True)
        for s in seqs:
            pipe.zrem(self._k("live"), s)
            pipe.zrem(self._k("live_t"), s)
            pipe.hset(self._k("e", s), "live", "0")
            pipe.hdel(self._k("e", s), *_LIVE_FIELDS)
        self._guarded(pipe.execute)

    def _place_stories(self, ops: _Ops, stories: set[str]) -> None:
        """Queue each story's place in ``P:stories`` at its first member now
        (where the in-memory index lists it), or its removal when it has none."""
        for story in sorted(stories):
            ops.place(self._k("s", story), self._k("stories"), story)

    def delete(self, entry: Entry, profiles: Profiles | None = None) -> None:
        ops = _Ops()  # one atomic call: a story emptied here leaves the list with its last member
        self._write_profiles(ops, profiles)
        ops.call("ZREM", self._k("live"), entry.seq)
        ops.call("ZREM", self._k("live_t"), entry.seq)
        ops.call("DEL", self._k("e", entry.seq))
        ops.call("HDEL", self._k("ids"), entry.id)
        ops.call("ZREM", self._k("s", entry.story), entry.seq)
        self._place_stories(ops, {entry.story})
        self._guarded(self._run, ops)

    def reassign(self, changes: dict[int, str]) -> None:
        entries = {e.seq: e for e in self.get_seqs(list(changes)) if e is not None}
        ops = _Ops()
        for s, e in entries.items():
            ops.call("ZREM", self._k("s", e.story), s)
            ops.zadd(self._k("s", changes[s]), {s: s})
            ops.hset(self._k("e", s), "story", changes[s])
        self._place_stories(ops, {e.story for e in entries.values()} | {changes[s] for s in entries})
        self._guarded(self._run, ops)

    # the LSH views: one sorted set per bucket
    def _buckets(self, term_sig: np.ndarray | None, shingle_sig: np.ndarray | None) -> tuple[str, str]:
        """The bucket keys of both signatures, each view's joined by newlines
        (none for an empty signature), as the bucket scripts take them."""
        out = []
        for (bands, rows), sig, name in zip(self.views, (term_sig, shingle_sig), "ts", strict=True):
            if sig is None or (np.asarray(sig) == EMPTY).all():
                out.append("")
                continue
            keys = band_keys(np.asarray(sig)[None, :], bands, rows)[0].tolist()
            head = self._k("b", name, "")
            out.append("\n".join([f"{head}{b}:{k}" for b, k in enumerate(keys)]))
        return out[0], out[1]

    def lsh_insert(self, entry: Entry) -> None:
        ops = _Ops()
        ops.buckets("\n".join(self._buckets(entry.term_sig, entry.shingle_sig)), entry.seq)
        self._guarded(self._run, ops)

    def lsh_query(self, term_sig: np.ndarray, shingle_sig: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Members of the signatures' buckets (one round trip), per view; a
        bucket above ``max_bucket_size`` gives its ``bucket_neighbours`` most recent."""
        p = self.params
        args = [*self._buckets(term_sig, shingle_sig), p.max_bucket_size, p.bucket_neighbours]
        t, s = self._guarded(self._buckets_query, [], args)
        return np.unique(np.frombuffer(t, "<i8")), np.unique(np.frombuffer(s, "<i8"))

    def lsh_remove(self, seqs: Sequence[int]) -> None:
        pipe = self.r.pipeline(transaction=False)
        for e in self.get_seqs(list(seqs)):
            if e is not None and e.live:
                keys = "\n".join(self._buckets(e.term_sig, e.shingle_sig))
                self._buckets_remove(keys=[], args=[keys, e.seq], client=pipe)
        self._guarded(pipe.execute)

    # scoring support
    def candidate_products(
        self, pc: np.ndarray, pw: np.ndarray, entries: Sequence[Entry], n_docs: float, own_cols: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Over a pool of the entries' rows with their columns renumbered."""
        return self.scorer.products_of_rows(pc, pw, entries, n_docs, own_cols, self.df_of)

    # whole state
    def snapshot(self) -> Snapshot:
        ids = self._guarded(self.r.hgetall, self._k("ids"))
        entries = [e for e in self.get_seqs(sorted(int(s) for s in ids.values())) if e is not None]
        if not self._held:
            self._sync_df()  # the saved frequencies and the log since
        cols = np.flatnonzero(self._df).astype(np.int64)
        vals = self._df[cols].astype(np.int32)
        return Snapshot(
            entries=tuple(entries),
            df_cols=cols,
            df_vals=vals,
            n_docs=self.get_n_docs(),
            next_seq=int(self._guarded(self.r.get, self._k("seq")) or 0),
            newest_ts=self.get_newest_ts(),
            n_stories=self.n_stories(),
        )

    def restore(self, snap: Snapshot) -> None:
        if self.n_articles() or self.get_n_docs():
            raise ValueError(f"restore() needs an empty index; {self.prefix!r} on Redis at {self.where} is not")
        pipe = self.r.pipeline(transaction=True)
        for e in snap.entries:
            self._queue_record(pipe, e)
        if len(snap.df_cols):
            df = np.zeros(int(snap.df_cols.max()) + 1, dtype="<i4")
            df[snap.df_cols] = snap.df_vals
            pipe.set(self._k("df"), df.tobytes())
        pipe.set(self._k("df_n"), snap.n_docs)
        pipe.set(self._k("n_docs"), snap.n_docs)
        pipe.set(self._k("seq"), snap.next_seq)
        if snap.newest_ts > -math.inf:
            pipe.set(self._k("newest"), repr(snap.newest_ts))
        self._guarded(pipe.execute)
        for e in snap.entries:
            if e.live:
                self.lsh_insert(e)

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a broken connection
            self.r.close()


def drop_index(connection: dict[str, Any] | str, prefix: str) -> int:
    """Delete every key of the index ``prefix`` on a Redis server (keyword
    arguments or a URL, as :func:`connect`); returns how many."""
    r = connect(connection)[0]
    n = 0
    batch: list[bytes] = []
    for key in r.scan_iter(match=f"{prefix}:*", count=1000):
        batch.append(key)
        if len(batch) == 1000:  # a round trip per thousand keys, not per key
            n += r.delete(*batch)
            batch = []
    return n + (r.delete(*batch) if batch else 0)
