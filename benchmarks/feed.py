"""Feed deduplication benchmark: ``dedup dedupe`` over a generated feed.

The feed comes from :func:`dedup.synth.generate_articles` (the generator the
speed benchmark uses): news-length articles (500-700 words), about 10% later
copies and rewrites, seeded. It is written once to a JSONL file; then, in the
same run and on the same file:

* ``dedup dedupe FEED -o /dev/null --duplicates DUPS`` as a subprocess --
  articles per second (wall clock, reading and parsing included) and peak
  resident memory of the whole process tree (sampled every 0.2 s; RSS
  summed over the processes, which counts the pages the forked feature
  workers share with the main process twice, and PSS, which does not);
  with ``--every N``, articles/s and memory every N articles, written to the
  JSON as the run goes (a long run that is stopped still leaves figures);
* the baseline: a plain datasketch ``MinHashLSH`` insert-and-query loop (one
  ``MinHash`` per article over word 5-gram shingles, ``update_batch``,
  threshold ``Params().copy_threshold``, query then insert), also as a
  subprocess, with the same measurements.

With ``--redis URL`` both keep their index on that Redis server (which must be
running): ``dedupe --redis URL`` against datasketch's ``MinHashLSH`` with its
Redis storage, in the same query-then-insert loop; each side's index is
dropped after its run, and the server memory it took (``used_memory`` after
the run minus before) is reported beside the client's.

With ``--repeat N`` the two run N times each, alternating, and each side's
median run is reported (every run's seconds beside it): on a shared machine
a slow spell then falls on both.

Also reported: how many generated copies ``dedupe`` dropped (recall of
copies) and how many originals it dropped by mistake, from the ground truth
in the generated records.

    python benchmarks/feed.py --n 100000 --jobs 2
    taskset -c 1 python benchmarks/feed.py --n 10000 --jobs 1 --repeat 3   # one core, each side's median of 3
    taskset -c 1 python benchmarks/feed.py --n 2000 --jobs 1 --redis redis://localhost:6379
    nohup python benchmarks/feed.py --n 1000000 --jobs 2 > feed-1m.log 2>&1 &

Results go to ``benchmarks/results/feed-<n>.json`` (``feed-<n>-redis.json``
with ``--redis``; ``--out`` for another folder; and a line of Markdown on stdout).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def write_feed(n: int, seed: int, path: Path) -> dict[str, int]:
    from dedup.synth import generate_articles

    kinds: dict[str, int] = {}
    with path.open("w", encoding="utf-8") as f:
        for a in generate_articles(n, seed=seed):
            kinds[a["kind"]] = kinds.get(a["kind"], 0) + 1
            f.write(json.dumps(a, ensure_ascii=False) + "\n")
    return kinds


_READ = re.compile(r"dedup: ([\d,]+) read")


class _Sampler:
    """Peak resident memory of a process tree, sampled every 0.2 s in a thread:
    RSS summed over the processes, and every fifth sample PSS (pages shared
    by forked workers counted once)."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peak = self.rss_now = self.peak_pss = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            p = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        k = 0
        while not self.stop.is_set():
            try:
                procs = [p, *p.children(recursive=True)]
                self.rss_now = sum(q.memory_info().rss for q in procs)
                self.peak = max(self.peak, self.rss_now)
                if k % 5 == 0:
                    self.peak_pss = max(self.peak_pss, sum(getattr(q.memory_full_info(), "pss", 0) for q in procs))
            except psutil.Error:
                pass
            k += 1
            self.stop.wait(0.2)

    def finish(self) -> None:
        self.stop.set()
        self.thread.join()


class _Follower:
    """Reads a command's stderr (progress lines end in a carriage return),
    keeps its last lines, and every ``every`` articles read records a
    checkpoint passed to ``on_checkpoint``."""

    def __init__(
        self, stream: Any, t0: float, sampler: _Sampler, every: int, on_checkpoint: Callable[[list[dict]], None] | None
    ):
        self.stream, self.t0, self.sampler, self.every = stream, t0, sampler, every
        self.on_checkpoint = on_checkpoint
        self.checkpoints: list[dict] = []
        self.tail: list[str] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        buf = ""
        while True:
            chunk = self.stream.read(256)
            if not chunk:
                break
            buf += chunk
            *parts, buf = re.split(r"[\r\n]", buf)
            for part in parts:
                if part.strip():
                    self._line(part)
        if buf.strip():
            self.tail.append(buf)

    def _line(self, part: str) -> None:
        self.tail.append(part)
        del self.tail[:-20]
        m = _READ.search(part)
        if not (m and self.every):
            return
        n = int(m.group(1).replace(",", ""))
        if n < self.every * (len(self.checkpoints) + 1):
            return
        now = time.perf_counter() - self.t0
        last = self.checkpoints[-1] if self.checkpoints else {"articles": 0, "seconds": 0.0}
        since = (n - last["articles"]) / max(1e-9, now - last["seconds"])
        self.checkpoints.append(
            {
                "articles": n,
                "seconds": round(now, 1),
                "articles_per_s": round(n / now, 1),
                "articles_per_s_since_last": round(since, 1),
                "rss_mb": round(self.sampler.rss_now / 2**20),
                "peak_rss_mb": round(self.sampler.peak / 2**20),
                "load_average": [round(x, 2) for x in os.getloadavg()],
            }
        )
        if self.on_checkpoint is not None:
            self.on_checkpoint(self.checkpoints)


def run_measured(
    cmd: list[str], every: int = 0, on_checkpoint: Callable[[list[dict]], None] | None = None
) -> dict[str, Any]:
    """Run a command; wall time and peak RSS of its process tree.

    With ``every``, the command's progress lines (``dedup: N read``) are
    followed and each time another ``every`` articles are read a checkpoint
    (articles, seconds, articles/s overall and since the last checkpoint, RSS
    now, peak RSS so far, load average) is recorded and passed to
    ``on_checkpoint``, so a long run that is stopped still leaves figures."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    sampler = _Sampler(proc.pid)
    follower = _Follower(proc.stderr, t0, sampler, every, on_checkpoint)
    proc.wait()
    follower.thread.join()
    sampler.finish()
    err = "\n".join(follower.tail)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 3):
        raise RuntimeError(f"{cmd[:4]} failed ({proc.returncode}): {err[-2000:]}")
    return {
        "seconds": wall,
        "peak_rss_mb": sampler.peak / 2**20,
        "peak_pss_mb": sampler.peak_pss / 2**20,
        "stderr": err.strip()[-500:],
        "checkpoints": follower.checkpoints,
    }


_WORD = re.compile(r"\w+")


def baseline(feed: str, threshold: float, num_perm: int, redis: str | None = None, name: str = "") -> None:
    """Plain datasketch: MinHash of word 5-gram shingles, query then insert
    (with ``redis``, the index on that server under the basename ``name``)."""
    from datasketch import MinHash, MinHashLSH

    storage: dict[str, Any] | None = None
    if redis:
        import redis as redislib

        kw = redislib.Redis.from_url(redis).connection_pool.connection_kwargs
        conn = {k: kw[k] for k in ("host", "port", "db", "password", "username") if kw.get(k) is not None}
        storage = {"type": "redis", "basename": name.encode(), "redis": conn}
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, storage_config=storage)
    dropped = 0
    with open(feed, encoding="utf-8") as f:
        for line in f:
            a = json.loads(line)
            w = _WORD.findall(a["text"].lower())
            shingles = {" ".join(w[i : i + 5]).encode("utf-8") for i in range(max(1, len(w) - 4))}
            m = MinHash(num_perm=num_perm)
            m.update_batch(list(shingles))
            if lsh.query(m):
                dropped += 1
            lsh.insert(a["id"], m, check_duplication=False)
    print(json.dumps({"dropped": dropped}), file=sys.stderr)


def _args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--jobs", type=int, default=2, help="--jobs of dedup dedupe (feature workers)")
    ap.add_argument("--workdir", default=None, help="where the feed file goes (default a temp folder)")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument(
        "--repeat", type=int, default=1, help="runs of each, alternating; the median run of each is reported"
    )
    ap.add_argument(
        "--every",
        type=int,
        default=50_000,
        help="record articles/s and RSS every this many articles (written to the JSON as it goes)",
    )
    ap.add_argument("--out", type=Path, default=RESULTS, help="results folder (default benchmarks/results)")
    ap.add_argument("--redis", metavar="URL", help="both indexes on this Redis server (dedupe --redis, MinHashLSH's)")
    ap.add_argument("--name", default="", help=argparse.SUPPRESS)  # the loop's basename on Redis
    ap.add_argument("--baseline-only", metavar="FEED", help=argparse.SUPPRESS)
    ap.add_argument("--threshold", type=float, default=0.8, help=argparse.SUPPRESS)  # the loop's, from Params
    ap.add_argument("--num-perm", type=int, default=128, help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def _dropped_counts(feed: Path, dups: Path) -> dict[str, int]:
    """Copies in the feed, copies and originals that ``dedupe`` dropped (ground truth from the generator)."""
    truth = {}
    with feed.open(encoding="utf-8") as f:
        for line in f:
            a = json.loads(line)
            truth[a["id"]] = a["kind"]
    dropped = [json.loads(line)["id"] for line in dups.open(encoding="utf-8")]
    return {
        "copies_dropped": sum(1 for i in dropped if truth[i] == "copy"),
        "copies": sum(1 for k in truth.values() if k == "copy"),
        "originals_dropped": sum(1 for i in dropped if truth[i] == "original"),
        "dropped": len(dropped),
    }


def _run_dedupe(args: argparse.Namespace, feed: Path, work: Path, load_before: tuple) -> dict[str, Any]:
    """``dedup dedupe`` on the feed, measured, with checkpoints written to the results as it goes."""
    dups = work / "dups.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "dedup.cli",
        "dedupe",
        str(feed),
        "-o",
        os.devnull,
        "--duplicates",
        str(dups),
        "--progress",
        "--jobs",
        str(args.jobs),
    ]
    prefix = f"feedbench-{os.getpid()}-{time.monotonic_ns()}"
    if args.redis:
        cmd += ["--redis", args.redis, "--redis-prefix", prefix]
    out = _results(args)

    def partial(checkpoints: list[dict]) -> None:
        out.write_text(
            json.dumps(
                {
                    "n": args.n,
                    "seed": args.seed,
                    "jobs": args.jobs,
                    "cpus": os.cpu_count(),
                    "status": "running",
                    "load_average_before": [round(x, 2) for x in load_before],
                    "dedupe_checkpoints": checkpoints,
                },
                indent=2,
            )
            + "\n"
        )
        c = checkpoints[-1]
        print(
            f"  {c['articles']:,}: {c['articles_per_s']:.0f}/s overall, {c['articles_per_s_since_last']:.0f}/s "
            f"lately, RSS {c['rss_mb']} MB (peak {c['peak_rss_mb']} MB), load {c['load_average']}",
            flush=True,
        )

    before = _server_memory(args.redis)
    ours = run_measured(cmd, every=args.every, on_checkpoint=partial)
    ours["server_mb"] = _server_memory(args.redis) - before
    if args.redis:
        from dedup.live.redis import drop_index

        drop_index(args.redis, prefix)
    counts = _dropped_counts(feed, dups)
    print(
        f"dedup dedupe: {ours['seconds']:.0f} s, {args.n / ours['seconds']:.0f} articles/s, "
        f"peak RSS {ours['peak_rss_mb']:.0f} MB (PSS {ours['peak_pss_mb']:.0f} MB); copies dropped "
        f"{counts['copies_dropped']}/{counts['copies']}, originals dropped {counts['originals_dropped']}",
        flush=True,
    )
    return {**_figures(args.n, ours), **counts, "checkpoints": ours["checkpoints"]}


def _results(args: argparse.Namespace) -> Path:
    return args.out / f"feed-{args.n}{'-redis' if args.redis else ''}.json"


def _server_memory(url: str | None) -> float:
    """The Redis server's ``used_memory`` in MB (0 without a server)."""
    if not url:
        return 0.0
    import redis as redislib

    return redislib.Redis.from_url(url).info("memory")["used_memory"] / 2**20


def _figures(n: int, measured: dict[str, Any]) -> dict[str, Any]:
    """Seconds, articles/s and peak memory of a measured run of ``n`` articles
    (and, on Redis, the server memory its index took)."""
    out = {
        "seconds": round(measured["seconds"], 1),
        "articles_per_s": round(n / measured["seconds"], 1),
        "peak_rss_mb": round(measured["peak_rss_mb"]),
        "peak_pss_mb": round(measured["peak_pss_mb"]),
    }
    if measured.get("server_mb"):
        out["redis_server_mb"] = round(measured["server_mb"])
    return out


def _run_baseline(args: argparse.Namespace, feed: Path) -> dict[str, Any]:
    from dedup import Params

    p = Params()  # the loop's own process never imports dedup: its memory is datasketch's alone
    cmd = [sys.executable, __file__, "--baseline-only", str(feed), "--threshold", str(p.copy_threshold)]
    name = f"feedbench-ds-{os.getpid()}-{time.monotonic_ns()}"
    if args.redis:
        cmd += ["--redis", args.redis, "--name", name]
    before = _server_memory(args.redis)
    base = run_measured([*cmd, "--num-perm", str(p.num_perm)])
    base["server_mb"] = _server_memory(args.redis) - before
    if args.redis:
        import redis as redislib

        r = redislib.Redis.from_url(args.redis)
        for key in r.scan_iter(match=f"{name}*", count=1000):
            r.delete(key)
    print(
        f"datasketch loop: {base['seconds']:.0f} s, {args.n / base['seconds']:.0f} articles/s, "
        f"peak RSS {base['peak_rss_mb']:.0f} MB",
        flush=True,
    )
    return {**_figures(args.n, base), "result": base["stderr"]}


def _interleaved(
    args: argparse.Namespace, feed: Path, work: Path, load_before: tuple
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """``--repeat`` runs of each, alternating (dedupe, loop, dedupe, ...), so
    that a slow spell of a shared machine falls on both; each side's median
    run, with every run's seconds beside it."""
    ours_runs, base_runs = [], []
    for _ in range(args.repeat):
        ours_runs.append(_run_dedupe(args, feed, work, load_before))
        if not args.no_baseline:
            base_runs.append(_run_baseline(args, feed))

    def median(runs: list[dict[str, Any]]) -> dict[str, Any]:
        m = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
        return {**m, "runs_seconds": [r["seconds"] for r in runs]} if len(runs) > 1 else m

    return median(ours_runs), median(base_runs) if base_runs else None


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    if args.baseline_only:
        baseline(args.baseline_only, args.threshold, args.num_perm, args.redis, args.name)
        return 0
    work = Path(args.workdir or tempfile.mkdtemp(prefix="dedup-feed-"))
    work.mkdir(parents=True, exist_ok=True)
    feed = work / f"feed-{args.n}.jsonl"
    t0 = time.perf_counter()
    kinds = write_feed(args.n, args.seed, feed)
    print(f"generated {args.n:,} articles in {time.perf_counter() - t0:.0f} s: {kinds}", flush=True)
    load_before = os.getloadavg()
    args.out.mkdir(parents=True, exist_ok=True)
    ours, base = _interleaved(args, feed, work, load_before)
    load_after = os.getloadavg()
    record = {
        "load_average": {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in load_after]},
        "n": args.n,
        "seed": args.seed,
        "jobs": args.jobs,
        "cpus": os.cpu_count(),
        "kinds": kinds,
        "dedupe": ours,
        "datasketch_loop": base,
        "redis": bool(args.redis),
    }
    if base is not None:
        record["throughput_ratio"] = round(base["seconds"] / ours["seconds"], 3)
    out = _results(args)
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(
        f"| {args.n:,} | {ours['articles_per_s']:,.0f} | {ours['peak_rss_mb']:,} MB | "
        + (f"{base['articles_per_s']:,.0f} | {base['peak_rss_mb']:,} MB |" if base else "- | - |")
    )
    loads = record["load_average"]
    print(f"load average (1, 5, 15 min) before {loads['before']}, after {loads['after']}")
    print(f"written {out}")
    if not args.workdir:
        feed.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
