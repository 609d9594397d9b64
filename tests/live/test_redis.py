"""StoryIndex on a real Redis server: shared by worker processes, clear failures."""

from __future__ import annotations

import json
import multiprocessing as mp
import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from dedup.live import IndexStorageError, StoryIndex
from dedup.synth import generate_articles
from tests.conftest import NO_REDIS, REDIS, free_port, start_redis, stop_redis

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def feed() -> list[dict]:
    return list(generate_articles(60, seed=31))


def test_redis_index_matches_memory_index(redis_server, prefix, feed):
    mem = StoryIndex()
    with StoryIndex(redis=redis_server, redis_prefix=prefix) as red:
        for a in feed:
            assert red.add(a) == mem.add(a)
        assert sorted(s.members for s in red) == sorted(s.members for s in mem)
        assert red.n_articles == len(feed)
        q = dict(next(a for a in feed if a["kind"] == "copy"), id="probe")
        assert red.query(q) == mem.query(q)
        red.remove(feed[0]["id"])
        assert feed[0]["id"] not in red


def test_redis_index_matches_memory_index_on_headlines(redis_server, prefix, uci_headlines):
    """Headlines keep larger neighbour profiles (Params.headline_terms): the
    Redis index stores and applies them as the in-memory one does."""
    stories = sorted({d["story"] for d in uci_headlines})[:3]
    docs = [{"id": d["id"], "text": d["text"]} for d in uci_headlines if d["story"] in stories][:150]
    mem = StoryIndex()
    with StoryIndex(redis=redis_server, redis_prefix=prefix) as red:
        for a in docs:
            assert red.add(a) == mem.add(a)
        assert sorted(s.members for s in red) == sorted(s.members for s in mem)
        assert len(mem) < len(docs) // 2  # headlines of three stories: mostly joined


def test_an_add_asks_the_server_for_evictions_only_when_some_are_due(redis_server, prefix, feed):
    """The lock's sync tells how many articles are live and the oldest one's
    time: an add with nothing to evict makes no round trip for it, and one
    with articles past the retention evicts them as the in-memory index does."""
    dated = sorted((a for a in feed if a.get("published")), key=lambda a: a["published"])[:12]
    mem, red = (
        StoryIndex(retention=timedelta(days=1)),
        StoryIndex(redis=redis_server, redis_prefix=prefix, retention=timedelta(days=1)),
    )
    asked, ask = [], red._state.r.zrangebyscore
    red._state.r.zrangebyscore = lambda *a, **k: asked.append(a) or ask(*a, **k)
    for a in dated[:6]:
        assert red.add(a) == mem.add(a)
    late = dict(
        dated[6], id="late", published=(datetime.fromisoformat(dated[5]["published"]) + timedelta(days=3)).isoformat()
    )
    assert not asked
    assert red.add(late) == mem.add(late)
    assert asked and red.n_live == mem.n_live == 1


def test_second_worker_sees_the_first_workers_articles(redis_server, prefix, feed):
    w1 = StoryIndex(redis=redis_server, redis_prefix=prefix)
    w2 = StoryIndex(redis=redis_server, redis_prefix=prefix)
    original = next(a for a in feed if a["kind"] == "original")
    copy = dict(original, id="copy-of-it")
    w1.add(original)
    m = w2.add(copy)
    assert m.kind == "copy" and m.story == original["id"]
    again = w2.add(original)  # issue 18 case 2: indexed by another worker first -> a duplicate, not an error
    assert again.existing and again.id == original["id"] and again.story == original["id"]
    assert w1.n_articles == 2


def test_capped_buckets_give_the_memory_index_candidates(redis_server, prefix, feed):
    """Buckets above ``max_bucket_size`` give their ``bucket_neighbours`` most
    recent members on the server as in the in-memory band tables."""
    params = {"max_bucket_size": 3, "bucket_neighbours": 2}
    mem = StoryIndex(**params)
    with StoryIndex(redis=redis_server, redis_prefix=prefix, **params) as red:
        for a in feed:
            assert red.add(a) == mem.add(a)
        assert sorted(s.members for s in red) == sorted(s.members for s in mem)


@pytest.mark.parametrize("log", [4, 4096])
def test_workers_taking_turns_score_as_one_index(redis_server, prefix, feed, monkeypatch, tmp_path, log):
    """Each worker keeps a copy of the document frequencies and catches up on
    what the others counted: from the log of their columns, or (a worker
    further behind than the log reaches: ``DF_LOG`` 4) from the saved
    frequencies and the log since. Every match, scores included, equals one
    in-memory index's, and so do the frequencies a saved index holds."""
    from dedup.live import persist
    from dedup.live import redis as red_state

    monkeypatch.setattr(red_state, "DF_LOG", log)
    mem = StoryIndex()
    workers = [StoryIndex(redis=redis_server, redis_prefix=prefix) for _ in range(3)]
    turns = [0] * 7 + [1] * 2 + [2] * 9 + [0, 1, 2] * 4 + [1] * 30
    for a, w in zip(feed, turns, strict=False):
        assert workers[w].add(a) == mem.add(a)
    workers[2].save(str(tmp_path / "red.idx"))
    mem.save(str(tmp_path / "mem.idx"))
    snap, want = (persist.load_index(str(tmp_path / f"{n}.idx"))[2] for n in ("red", "mem"))
    assert snap.n_docs == want.n_docs == len(feed)
    assert snap.df_cols.tolist() == want.df_cols.tolist() and snap.df_vals.tolist() == want.df_vals.tolist()


def test_other_parameters_are_refused(redis_server, prefix):
    StoryIndex(redis=redis_server, redis_prefix=prefix)
    with pytest.raises(ValueError, match="other parameters"):
        StoryIndex(redis=redis_server, redis_prefix=prefix, threshold=0.5)


@pytest.mark.slow
def test_redis_going_away_is_a_clear_error_and_loses_nothing_acknowledged(tmp_path, feed):
    if REDIS is None:
        pytest.skip(NO_REDIS)
    port = free_port()
    args = ("--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", str(tmp_path))
    proc = start_redis(port, *args)
    conn = {"host": "127.0.0.1", "port": port, "socket_timeout": 5}
    try:
        index = StoryIndex(redis=conn, redis_prefix="gone")
        acked = [index.add(a).id for a in feed[:15]]
        stop_redis(proc)
        with pytest.raises(IndexStorageError, match=f"Redis at 127.0.0.1:{port}.*acknowledged"):
            index.add(feed[15])
        proc = start_redis(port, *args)
        again = StoryIndex(redis=conn, redis_prefix="gone")
        assert all(i in again for i in acked)
        assert again.n_articles == len(acked)
        assert sorted(m for s in again for m in s.members) == sorted(acked)
        assert again.add(feed[15]).id == feed[15]["id"]  # and it carries on
    finally:
        stop_redis(proc)


@pytest.mark.slow
def test_dedupe_cli_with_redis(redis_server, prefix, feed, tmp_path):
    import sys

    p = tmp_path / "feed.jsonl"
    p.write_text("".join(json.dumps(a) + "\n" for a in feed))
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "dedup.cli",
            "dedupe",
            str(p),
            "--redis",
            f"{redis_server['host']}:{redis_server['port']}",
            "--redis-prefix",
            prefix,
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    kept = [json.loads(line)["id"] for line in res.stdout.splitlines()]
    assert kept == [a["id"] for a in feed if a["kind"] != "copy"]


def _soak_worker(conn: dict, prefix: str, articles: list[dict], out) -> None:
    """Add every article; report (id, existing) for each, or the error that stopped the worker."""
    try:
        index = StoryIndex(redis=conn, redis_prefix=prefix)
        out.put(("ok", [(a["id"], index.add(a).existing) for a in articles]))
    except Exception as exc:  # reported to the test, which fails on it
        out.put(("error", repr(exc)))


SOAK_ARTICLES = int(__import__("os").environ.get("DEDUP_SOAK_ARTICLES", "80"))


@pytest.mark.slow
def test_four_workers_on_overlapping_feeds(redis_server, prefix):
    """Issue 18 case 2 and the Redis soak: four workers on overlapping feeds at
    once (``DEDUP_SOAK_ARTICLES``, default 80; e.g. 2000 for a longer soak).
    No worker dies; every article is added exactly once by someone and
    answered as already indexed to every other worker that had it."""
    feed = list(generate_articles(SOAK_ARTICLES, seed=17))
    n = len(feed)
    # worker w gets a half of the feed starting at w * n / 4 (wrapping): each article goes to two workers
    parts = [[feed[(w * n // 4 + k) % n] for k in range(n // 2)] for w in range(4)]
    parts[1] = parts[1][::-1]
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_soak_worker, args=(redis_server, prefix, part, q)) for part in parts]
    for p in procs:
        p.start()
    results = [q.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert all(status == "ok" for status, _ in results), results
    added = sorted(i for _, rows in results for i, existing in rows if not existing)
    again = sorted(i for _, rows in results for i, existing in rows if existing)
    given = sorted(a["id"] for part in parts for a in part)
    assert added == sorted({a["id"] for part in parts for a in part})  # each added exactly once
    assert sorted(added + again) == given  # every input accounted for
    index = StoryIndex(redis=redis_server, redis_prefix=prefix)
    assert index.n_articles == len(added)
    assert sorted(m for s in index for m in s.members) == added  # each in exactly one story
    # copies found their originals, whichever worker added them
    story = {m: s.id for s in index for m in s.members}
    first: dict[str, str] = {}
    for a in feed:
        first.setdefault(a["story"], a["id"])
    for a in feed:
        if a["kind"] == "copy":
            assert story[a["id"]] == story[first[a["story"]]]


def test_save_and_load_through_the_storage_interface(redis_server, prefix, feed, tmp_path):
    """A Redis index saves to a file and a file loads into an empty Redis
    index (both through IndexState.snapshot / restore): the same stories, and
    the same answers afterwards as the in-memory index."""
    from dedup.live.redis import drop_index

    mem = StoryIndex()
    with StoryIndex(redis=redis_server, redis_prefix=prefix) as red:
        for a in feed[:40]:
            assert red.add(a) == mem.add(a)
        red.save(str(tmp_path / "from-redis.dedup"))
    back = StoryIndex.load(str(tmp_path / "from-redis.dedup"))
    assert sorted(s.members for s in back) == sorted(s.members for s in mem)
    mem.save(str(tmp_path / "from-memory.dedup"))
    other = prefix + "-loaded"
    try:
        loaded = StoryIndex.load(str(tmp_path / "from-memory.dedup"), redis=redis_server, redis_prefix=other)
        assert sorted(s.members for s in loaded) == sorted(s.members for s in mem)
        for a in feed[40:]:
            assert loaded.add(a) == mem.add(a) == back.add(a)
    finally:
        drop_index(redis_server, other)


@pytest.mark.slow
def test_four_dedupe_workers_on_overlapping_feeds_account_for_every_article(redis_server, prefix, tmp_path):
    """Issue 18 case 2 through the command: four ``dedup dedupe --redis`` workers at
    once on overlapping feeds; none dies, and every input article ends in some
    worker's kept or duplicates output (one already indexed by another worker is
    a duplicate, "already indexed")."""
    rows = list(generate_articles(120, seed=41))
    procs, outs = [], []
    for w in range(4):
        part = [r for k, r in enumerate(rows) if k % 4 in (w, (w + 1) % 4)]  # each article in two feeds
        src = tmp_path / f"feed{w}.jsonl"
        src.write_text("".join(json.dumps(r) + "\n" for r in part), encoding="utf-8")
        kept, dups = tmp_path / f"kept{w}.jsonl", tmp_path / f"dups{w}.jsonl"
        outs.append((kept, dups))
        cmd = [sys.executable, "-m", "dedup", "dedupe", str(src), "-o", str(kept), "--duplicates", str(dups)]
        cmd += ["--redis", f"{redis_server['host']}:{redis_server['port']}", "--redis-prefix", prefix, "--no-progress"]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    codes = [(p.wait(300), p.stderr.read()) for p in procs]
    assert all(rc == 0 for rc, _ in codes), codes
    seen: set[str] = set()
    for kept, dups in outs:
        for path in (kept, dups):
            seen |= {json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines() if line}
    assert seen == {r["id"] for r in rows}


def test_a_redis_url_names_the_server(redis_server, prefix, feed):
    url = f"redis://{redis_server['host']}:{redis_server['port']}/0"
    StoryIndex(redis=url, redis_prefix=prefix).add(feed[0])
    assert StoryIndex(redis=redis_server, redis_prefix=prefix).n_articles == 1


def test_a_request_the_server_refuses_is_a_storage_error(redis_server, prefix, feed):
    # a database number the server has not (or, mid-run, a server out of memory)
    # answered "a bug in dedup" with the raw ResponseError
    url = f"redis://{redis_server['host']}:{redis_server['port']}/9999"
    with pytest.raises(IndexStorageError, match="cannot use Redis at .*DB index is out of range"):
        StoryIndex(redis=url, redis_prefix=prefix)
    out = subprocess.run(
        [sys.executable, "-m", "dedup", "dedupe", "-", "--redis", url, "-o", "-", "--no-progress"],
        input=json.dumps(feed[0]) + "\n",
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and out.stderr.strip().splitlines() == [
        f"dedup: error: cannot use Redis at {redis_server['host']}:{redis_server['port']}: DB index is out of range"
    ]


def test_drop_index_deletes_every_key_of_its_prefix_only(redis_server, prefix, feed):
    """Thousands of keys (an article's buckets), deleted a batch at a time; another index stays."""
    import redis as redislib

    from dedup.live.redis import drop_index

    r = redislib.Redis(**redis_server)
    with (
        StoryIndex(redis=redis_server, redis_prefix=prefix) as red,
        StoryIndex(redis=redis_server, redis_prefix=prefix + "x") as other,
    ):
        for a in feed[:8]:
            red.add(a)
        other.add(feed[0])
        keys = sum(1 for _ in r.scan_iter(match=f"{prefix}:*", count=1000))
        kept = sum(1 for _ in r.scan_iter(match=f"{prefix}x:*", count=1000))
        assert keys > 2000
        assert drop_index(redis_server, prefix) == keys
        assert not any(r.scan_iter(match=f"{prefix}:*", count=1000))
        assert sum(1 for _ in r.scan_iter(match=f"{prefix}x:*", count=1000)) == kept
        drop_index(redis_server, prefix + "x")
