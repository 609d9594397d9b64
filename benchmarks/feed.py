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

Also reported: how many generated copies ``dedupe`` dropped (recall of
copies) and how many originals it dropped by mistake, from the ground truth
in the generated records.

    python benchmarks/feed.py --n 100000 --jobs 2
    nohup python benchmarks/feed.py --n 1000000 --jobs 2 > feed-1m.log 2>&1 &

Results go to ``benchmarks/results/feed-<n>.json`` (and a line of Markdown
on stdout).
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
from pathlib import Path
from typing import Any, Callable

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


def run_measured(cmd: list[str], every: int = 0, on_checkpoint: Callable[[list[dict]], None] | None = None
                 ) -> dict[str, Any]:
    """Run a command; wall time and peak RSS of its process tree.

    With ``every``, the command's progress lines (``dedup: N read``) are
    followed and each time another ``every`` articles are read a checkpoint
    (articles, seconds, articles/s overall and since the last checkpoint, RSS
    now, peak RSS so far, load average) is recorded and passed to
    ``on_checkpoint``, so a long run that is stopped still leaves figures."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    rss_now = 0
    peak_pss = 0
    stop = threading.Event()
    checkpoints: list[dict] = []
    tail: list[str] = []

    def sample() -> None:
        nonlocal peak, rss_now, peak_pss
        try:
            p = psutil.Process(proc.pid)
        except psutil.NoSuchProcess:
            return
        k = 0
        while not stop.is_set():
            try:
                procs = [p, *p.children(recursive=True)]
                rss_now = sum(q.memory_info().rss for q in procs)
                peak = max(peak, rss_now)
                if k % 5 == 0:  # proportional set size: pages shared by the forked workers counted once
                    peak_pss = max(peak_pss, sum(getattr(q.memory_full_info(), "pss", 0) for q in procs))
            except psutil.Error:
                pass
            k += 1
            stop.wait(0.2)

    def follow() -> None:
        """Read stderr (progress lines end in a carriage return)."""
        buf = ""
        assert proc.stderr is not None
        while True:
            chunk = proc.stderr.read(256)
            if not chunk:
                break
            buf += chunk
            *parts, buf = re.split(r"[\r\n]", buf)
            for part in parts:
                if not part.strip():
                    continue
                tail.append(part)
                del tail[:-20]
                m = _READ.search(part)
                if m and every:
                    n = int(m.group(1).replace(",", ""))
                    if n >= every * (len(checkpoints) + 1):
                        now = time.perf_counter() - t0
                        last = checkpoints[-1] if checkpoints else {"articles": 0, "seconds": 0.0}
                        checkpoints.append({
                            "articles": n, "seconds": round(now, 1), "articles_per_s": round(n / now, 1),
                            "articles_per_s_since_last": round((n - last["articles"]) / max(1e-9, now - last["seconds"]), 1),
                            "rss_mb": round(rss_now / 2**20), "peak_rss_mb": round(peak / 2**20),
                            "load_average": [round(x, 2) for x in os.getloadavg()]})
                        if on_checkpoint is not None:
                            on_checkpoint(checkpoints)
        if buf.strip():
            tail.append(buf)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    proc.wait()
    reader.join()
    stop.set()
    th.join()
    err = "\n".join(tail)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 3):
        raise RuntimeError(f"{cmd[:4]} failed ({proc.returncode}): {err[-2000:]}")
    return {"seconds": wall, "peak_rss_mb": peak / 2**20, "peak_pss_mb": peak_pss / 2**20, "stderr": err.strip()[-500:], "checkpoints": checkpoints}


_WORD = re.compile(r"\w+")


def baseline(feed: str, threshold: float, num_perm: int) -> None:
    """Plain datasketch: MinHash of word 5-gram shingles, query then insert."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--jobs", type=int, default=2, help="--jobs of dedup dedupe (feature workers)")
    ap.add_argument("--workdir", default=None, help="where the feed file goes (default a temp folder)")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--every", type=int, default=50_000,
                    help="record articles/s and RSS every this many articles (written to the JSON as it goes)")
    ap.add_argument("--baseline-only", metavar="FEED", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    from dedup import Params

    p = Params()
    if args.baseline_only:
        baseline(args.baseline_only, p.copy_threshold, p.num_perm)
        return 0

    work = Path(args.workdir or tempfile.mkdtemp(prefix="dedup-feed-"))
    work.mkdir(parents=True, exist_ok=True)
    feed = work / f"feed-{args.n}.jsonl"
    t0 = time.perf_counter()
    kinds = write_feed(args.n, args.seed, feed)
    gen_seconds = time.perf_counter() - t0
    print(f"generated {args.n:,} articles in {gen_seconds:.0f} s: {kinds}", flush=True)

    load_before = os.getloadavg()
    dups = work / "dups.jsonl"
    cmd = [sys.executable, "-m", "dedup.cli", "dedupe", str(feed), "-o", os.devnull, "--duplicates", str(dups),
           "--progress", "--jobs", str(args.jobs)]
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"feed-{args.n}.json"

    def partial(checkpoints: list[dict]) -> None:
        out.write_text(json.dumps({"n": args.n, "seed": args.seed, "jobs": args.jobs, "cpus": os.cpu_count(),
                                   "status": "running", "load_average_before": [round(x, 2) for x in load_before],
                                   "dedupe_checkpoints": checkpoints}, indent=2) + "\n")
        c = checkpoints[-1]
        print(f"  {c['articles']:,}: {c['articles_per_s']:.0f}/s overall, {c['articles_per_s_since_last']:.0f}/s "
              f"lately, RSS {c['rss_mb']} MB (peak {c['peak_rss_mb']} MB), load {c['load_average']}", flush=True)

    ours = run_measured(cmd, every=args.every, on_checkpoint=partial)
    truth = {}
    with feed.open(encoding="utf-8") as f:
        for line in f:
            a = json.loads(line)
            truth[a["id"]] = a["kind"]
    dropped = [json.loads(line)["id"] for line in dups.open(encoding="utf-8")]
    copies = sum(1 for k in truth.values() if k == "copy")
    dropped_copies = sum(1 for i in dropped if truth[i] == "copy")
    dropped_originals = sum(1 for i in dropped if truth[i] == "original")
    print(f"dedup dedupe: {ours['seconds']:.0f} s, {args.n / ours['seconds']:.0f} articles/s, "
          f"peak RSS {ours['peak_rss_mb']:.0f} MB (PSS {ours['peak_pss_mb']:.0f} MB); copies dropped {dropped_copies}/{copies}, "
          f"originals dropped {dropped_originals}", flush=True)

    base = None
    if not args.no_baseline:
        base = run_measured([sys.executable, __file__, "--baseline-only", str(feed)])
        print(f"datasketch loop: {base['seconds']:.0f} s, {args.n / base['seconds']:.0f} articles/s, "
              f"peak RSS {base['peak_rss_mb']:.0f} MB", flush=True)

    load_after = os.getloadavg()
    record = {
        "load_average": {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in load_after]},
        "n": args.n, "seed": args.seed, "jobs": args.jobs, "cpus": os.cpu_count(), "kinds": kinds,
        "dedupe": {"seconds": round(ours["seconds"], 1), "articles_per_s": round(args.n / ours["seconds"], 1),
                   "peak_rss_mb": round(ours["peak_rss_mb"]), "peak_pss_mb": round(ours["peak_pss_mb"]),
                   "copies_dropped": dropped_copies,
                   "copies": copies, "originals_dropped": dropped_originals, "dropped": len(dropped),
                   "checkpoints": ours["checkpoints"]},
        "datasketch_loop": None if base is None else {
            "seconds": round(base["seconds"], 1), "articles_per_s": round(args.n / base["seconds"], 1),
            "peak_rss_mb": round(base["peak_rss_mb"]), "peak_pss_mb": round(base["peak_pss_mb"]), "result": base["stderr"]},
    }
    if base is not None:
        record["throughput_ratio"] = round(base["seconds"] / ours["seconds"], 3)
    out.write_text(json.dumps(record, indent=2) + "\n")
    b = record["datasketch_loop"]
    print(f"| {args.n:,} | {record['dedupe']['articles_per_s']:,.0f} | {record['dedupe']['peak_rss_mb']:,} MB | "
          + (f"{b['articles_per_s']:,.0f} | {b['peak_rss_mb']:,} MB |" if b else "- | - |"))
    print(f"load average (1, 5, 15 min) before {record['load_average']['before']}, after {record['load_average']['after']}")
    print(f"written {out}")
    if not args.workdir:
        feed.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
