"""End-to-end throughput of three deduplication pipelines on the same articles, each with its ARI.

    python benchmarks/pipelines.py                          # n = 20,000, 3 runs, dedup on 1 and 2 cores
    python benchmarks/pipelines.py --n 2000 --runs 1 --out /tmp/pipe-smoke      # a smoke test

Articles come from :func:`dedup.synth.generate_articles` (seeded, news-length,
copies and rewrites planted; the planted story of each article is the ground
truth). They are written once to a JSON-lines file (not timed); each pipeline
then runs in a fresh process of its own, which reads the file (not timed),
warms up on the first 300 articles (imports, numba kernels compiled or loaded
from their cache; not timed) and times ``--runs`` runs from the raw texts to
one label per article:

* **dedup**: ``cluster_articles(articles, n_jobs=j)`` for each ``j`` of
  ``--jobs`` (the ``Article`` values built untimed); the label of an article
  is its cluster's id.
* **rensa** (the simplest fast pipeline a user would write): ``\\w+`` words of
  the lowercased text, the set of word 5-gram shingles built in Python,
  ``RMinHash.from_token_sets(sets, 128, 42)``, ``RMinHashLSH(0.8, 128, 16)``
  with ``insert_many`` and ``query_all``, a candidate pair kept when its
  estimated Jaccard is at least 0.8, union-find over the kept pairs.
* **datasketch**: the same shingles, ``MinHash.bulk`` (128 permutations, its
  default SHA-1 hash), ``MinHashLSH(threshold=0.8, num_perm=128)`` (datasketch
  picks its own bands and rows), insert all then query all, the same
  confirmation and union-find. It is slow, so it is timed on the first
  ``--datasketch-sample`` articles and its rate is labelled "sample of N".

One core means one core: the rows with one core (dedup with ``n_jobs=1``,
rensa, datasketch -- the two baselines are single-threaded pipelines) run
their timed calls with every thread of the process pinned to the first CPU
it may use (``os.sched_setaffinity``; threads started inside inherit it),
because dedup's compiled kernels otherwise run in threads, one per core.
dedup with ``n_jobs=2`` runs unpinned. Peak memory is each pipeline
process's own ``ru_maxrss`` (input included; dedup's feature workers, when
there are any, are reported apart). Ratios are dedup's median articles/s
over the baseline's, from this one run (the machine is shared: quote ratios).
Writes ``benchmarks/results/pipelines.json`` and ``pipelines.md`` (``--out``
for another folder).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import date
from itertools import islice
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results"
WORD = re.compile(r"\w+")
SHINGLE = 5
NUM_PERM = 128
THRESHOLD = 0.8
WARM_UP = 300


# --- one core -----------------------------------------------------------------


def _threads() -> list[int]:
    return [int(t) for t in os.listdir("/proc/self/task")]


@contextmanager
def pinned(cpu: int | None) -> Iterator[str]:
    """Every thread of this process on CPU ``cpu`` inside the block (None:
    left as it is); threads started inside inherit it. Restored afterwards."""
    if cpu is None:
        yield "unpinned"
        return
    before: dict[int, set[int]] = {}
    for tid in _threads():
        try:
            before[tid] = os.sched_getaffinity(tid)
            os.sched_setaffinity(tid, {cpu})
        except OSError:  # the thread ended meanwhile
            pass
    default = before.get(os.getpid(), set(range(os.cpu_count() or 1)))
    try:
        yield f"pinned to cpu {cpu}"
    finally:
        for tid in _threads():
            with suppress(OSError):  # the thread ended meanwhile
                os.sched_setaffinity(tid, before.get(tid, default))


# --- the baselines ------------------------------------------------------------


def shingle_sets(texts: Sequence[str]) -> list[set[str]]:
    """Word 5-gram shingles of each text (lowercased ``\\w+`` words); a text
    shorter than 5 words gives one shingle of all its words."""
    out = []
    for text in texts:
        w = WORD.findall(text.lower())
        out.append({" ".join(w[i : i + SHINGLE]) for i in range(max(1, len(w) - SHINGLE + 1))})
    return out


def union_find(n: int, pairs: Sequence[tuple[int, int]]) -> list[int]:
    """The root of each item after joining every pair (path halving)."""
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j in pairs:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    return [find(i) for i in range(n)]


def confirm(candidates: Sequence[Sequence[int]], jaccard: Callable[[int, int], float]) -> tuple[list, int]:
    """Candidate pairs ``i < j`` whose estimated Jaccard is at least the
    threshold, and how many candidate pairs there were."""
    kept, seen = [], 0
    for i, keys in enumerate(candidates):
        for j in keys:
            if j > i:
                seen += 1
                if jaccard(i, j) >= THRESHOLD:
                    kept.append((i, j))
    return kept, seen


def run_rensa(texts: Sequence[str]) -> tuple[list[int], dict[str, int]]:
    from rensa import RMinHash, RMinHashLSH

    mhs = RMinHash.from_token_sets(shingle_sets(texts), NUM_PERM, 42)
    lsh = RMinHashLSH(THRESHOLD, NUM_PERM, 16)
    lsh.insert_many(mhs)
    pairs, seen = confirm(lsh.query_all(mhs), lambda i, j: mhs[i].jaccard(mhs[j]))
    info = {"candidate_pairs": seen, "confirmed_pairs": len(pairs), "bands": 16, "rows": NUM_PERM // 16}
    return union_find(len(texts), pairs), info


def run_datasketch(texts: Sequence[str]) -> tuple[list[int], dict[str, int]]:
    from datasketch import MinHash, MinHashLSH

    mhs = MinHash.bulk([[s.encode() for s in set_] for set_ in shingle_sets(texts)], num_perm=NUM_PERM)
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    for i, m in enumerate(mhs):
        lsh.insert(i, m)
    candidates = [lsh.query(m) for m in mhs]
    pairs, seen = confirm(candidates, lambda i, j: mhs[i].jaccard(mhs[j]))
    info = {"candidate_pairs": seen, "confirmed_pairs": len(pairs), "bands": lsh.b, "rows": lsh.r}
    return union_find(len(texts), pairs), info


def run_dedup(articles: Sequence[Any], jobs: int) -> tuple[list[str], dict[str, int]]:
    from dedup import cluster_articles

    clustering = cluster_articles(articles, n_jobs=jobs)
    label_of = {a.id: c.id for c in clustering for a in c.members}
    return [label_of[a.id] for a in articles], {"rejected": len(clustering.rejected)}


# --- one pipeline, in its own process -----------------------------------------


def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc (VmRSS now, VmHWM its peak),
    in MB. Not ``ru_maxrss``: that one survives fork and exec, so a child
    started by a big parent reports at least the parent's size."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _load(feed: Path, limit: int) -> list[dict]:
    with feed.open(encoding="utf-8") as f:
        return [json.loads(line) for line in islice(f, limit)]


def child(pipeline: str, feed: Path, limit: int, jobs: int, runs: int, pin: int | None) -> dict[str, Any]:
    """Warm up, then time ``runs`` runs of one pipeline (in this process).
    Peak memory is read before scoring (sklearn is imported only then)."""
    docs = _load(feed, limit)
    stories = [d["story"] for d in docs]
    if pipeline == "dedup":
        from dedup import Article

        data: list = [Article(id=d["id"], text=d["text"]) for d in docs]
        fn: Callable = lambda xs: run_dedup(xs, jobs)  # noqa: E731
        warm = lambda: run_dedup(data[:WARM_UP], 1)  # noqa: E731
    else:
        data = [d["text"] for d in docs]
        fn = run_rensa if pipeline == "rensa" else run_datasketch
        warm = lambda: fn(data[:WARM_UP])  # noqa: E731
    del docs
    gc.collect()
    input_rss = _status_mb("VmRSS")
    t0 = time.perf_counter()
    with pinned(pin):
        warm()
    warm_s = time.perf_counter() - t0
    seconds, load_before = [], os.getloadavg()
    for _ in range(runs):
        gc.collect()
        with pinned(pin) as how:
            t0 = time.perf_counter()
            labels, info = fn(data)
            seconds.append(time.perf_counter() - t0)
    peak = _status_mb("VmHWM")
    from sklearn.metrics import adjusted_rand_score

    return {
        "pipeline": pipeline,
        "articles": len(data),
        "jobs": jobs,
        "cpu": how,
        "seconds": seconds,
        "ari": float(adjusted_rand_score(stories, labels)),
        "clusters": len(set(labels)),
        "stories": len(set(stories)),
        "info": info,
        "warm_up_s": warm_s,
        "input_peak_rss_mb": input_rss,
        "peak_rss_mb": peak,
        "workers_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "load_average": [list(load_before), list(os.getloadavg())],
    }


def run_child(
    pipeline: str, feed: Path, limit: int, jobs: int, runs: int, pin: int | None, tmp: Path
) -> dict[str, Any]:
    """One pipeline in a fresh process (so its peak memory is its own); its
    figures summarised (articles/s min, median, max over the runs)."""
    result = tmp / f"{pipeline}-{jobs}.json"
    cmd = [sys.executable, __file__, "--child", pipeline, "--feed", str(feed), "--result", str(result)]
    cmd += ["--n", str(limit), "--child-jobs", str(jobs), "--runs", str(runs)]
    cmd += [] if pin is None else ["--pin", str(pin)]
    subprocess.run(cmd, check=True)
    rec = json.loads(result.read_text())
    rates = sorted(rec["articles"] / s for s in rec["seconds"])
    rec["articles_per_s"] = {"min": rates[0], "median": statistics.median(rates), "max": rates[-1]}
    rec["median_seconds"] = statistics.median(rec["seconds"])
    rec["cores"] = jobs if pin is None else 1
    rec["name"] = "dedup" if pipeline == "dedup" else f"{pipeline} (single-threaded)"
    r = rec["articles_per_s"]
    print(
        f"  {rec['name']:<28} {rec['cores']} core(s)  {r['min']:9,.0f} / {r['median']:9,.0f} / {r['max']:9,.0f} art/s"
        f"  ({rec['articles']:,} articles, median {rec['median_seconds']:.2f} s)  ARI {rec['ari']:.4f}"
        f"  peak {rec['peak_rss_mb']:,.0f} MB",
        flush=True,
    )
    return rec


# --- report -------------------------------------------------------------------


def ratios(rows: list[dict[str, Any]]) -> dict[str, float]:
    """dedup's median articles/s over each baseline's, per dedup core count."""
    out = {}
    for d in (r for r in rows if r["pipeline"] == "dedup"):
        cores = f"{d['cores']} core" + ("s" if d["cores"] > 1 else "")
        for b in (r for r in rows if r["pipeline"] != "dedup"):
            out[f"dedup {cores} / {b['pipeline']}"] = d["articles_per_s"]["median"] / b["articles_per_s"]["median"]
    return out


def _row(r: dict[str, Any], n: int) -> str:
    rate = r["articles_per_s"]
    who = r["name"] + (f", n_jobs={r['jobs']}" if r["pipeline"] == "dedup" else "")
    timed = f"{r['articles']:,}" + (f" (sample of {r['articles']:,})" if r["articles"] < n else "")
    workers = f" (+ workers {r['workers_peak_rss_mb']:,.0f})" if r["workers_peak_rss_mb"] > 0 else ""
    return (
        f"| {who} | {r['cores']} ({r['cpu']}) | {timed} | {rate['min']:,.0f} / **{rate['median']:,.0f}** / "
        f"{rate['max']:,.0f} | {r['median_seconds']:.2f} | {r['ari']:.4f} | {r['clusters']:,} | "
        f"{r['input_peak_rss_mb']:,.0f} | {r['peak_rss_mb']:,.0f}{workers} |"
    )


def markdown(meta: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    n = meta["n"]
    lines = [
        "# Deduplication pipelines end to end: dedup, rensa, datasketch",
        "",
        f"{meta['date']}, {meta['machine']}, {meta['cores']} cores; python {meta['python']}; "
        f"{n:,} generated articles (seed {meta['seed']}, {meta['stories']:,} planted stories); "
        f"{meta['runs']} timed run(s) per pipeline after a warm-up of {WARM_UP} articles. "
        f"Load average (1, 5, 15 min) {meta['load_average_before']} before, {meta['load_average_after']} after "
        "(the machine is shared: ratios are what to quote). Command: `" + meta["command"] + "`.",
        "",
        "Each pipeline runs from the raw texts to one label per article in a fresh process. One core means "
        "every thread pinned to one CPU (rensa and datasketch are single-threaded pipelines and run pinned too); "
        "dedup with more cores runs unpinned. ARI is against the planted stories of the articles timed. "
        "Peak RSS is the pipeline process's own (VmHWM; input texts and imports included); dedup's feature "
        "workers (n_jobs > 1 and more than one chunk of 2,000) are shown apart as '+ workers': the largest "
        "worker's ru_maxrss, which counts again the pages it shares with its parent since the fork.",
        "",
        "| pipeline | cores | articles timed | articles/s min / median / max | seconds (median) | ARI "
        "| clusters | RSS MB with the input read | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_row(r, n) for r in rows]
    lines += ["", "dedup's median articles/s over the baseline's (same run):", ""]
    lines += [f"* {k}: **{v:.1f}x**" for k, v in meta["ratios"].items()]
    sample = [r for r in rows if r["articles"] < n]
    if sample:
        lines += [
            "",
            "datasketch is timed on a sample (the first "
            + f"{sample[0]['articles']:,} articles): its rate, ARI and memory are the sample's; "
            "the ratio compares rates.",
        ]
    lines += ["", "Candidate pairs from the baselines' LSH, and those kept (estimated Jaccard >= 0.8):", ""]
    lines += [
        f"* {r['pipeline']}: {r['info']['candidate_pairs']:,} candidate pairs, {r['info']['confirmed_pairs']:,} kept"
        + f" ({r['info']['bands']} bands x {r['info']['rows']} rows)"
        for r in rows
        if r["pipeline"] != "dedup"
    ]
    return "\n".join(lines) + "\n"


# --- main ---------------------------------------------------------------------


def _args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20_000, help="articles (default 20,000)")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3, help="timed runs per pipeline (min, median, max reported)")
    ap.add_argument("--jobs", default="1,2", help="n_jobs of dedup, comma-separated (1 runs pinned to one CPU)")
    ap.add_argument("--datasketch-sample", type=int, default=5000, help="datasketch on the first N articles")
    ap.add_argument(
        "--cpu", type=int, default=None, help="the CPU the one-core rows are pinned to (default: the first allowed)"
    )
    ap.add_argument("--out", type=Path, default=RESULTS, help="results folder (default benchmarks/results)")
    ap.add_argument("--child", choices=("dedup", "rensa", "datasketch"), help=argparse.SUPPRESS)
    ap.add_argument("--feed", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--child-jobs", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--pin", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    return args


def _write_feed(n: int, seed: int, path: Path) -> int:
    """The generated articles as JSON lines; returns how many planted stories."""
    from dedup.synth import generate_articles

    stories = set()
    with path.open("w", encoding="utf-8") as f:
        for d in generate_articles(n, seed=seed):
            stories.add(d["story"])
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    return len(stories)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    if args.child:
        rec = child(args.child, args.feed, args.n, args.child_jobs, args.runs, args.pin)
        args.result.write_text(json.dumps(rec))
        return 0
    jobs = [int(j) for j in args.jobs.split(",") if j.strip()]
    cpu = min(os.sched_getaffinity(0)) if args.cpu is None else args.cpu
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="dedup-pipelines-") as tmp:
        feed = Path(tmp) / "articles.jsonl"
        t0 = time.perf_counter()
        stories = _write_feed(args.n, args.seed, feed)
        print(f"{args.n:,} articles generated in {time.perf_counter() - t0:.1f} s (not timed)", flush=True)
        for j in jobs:
            rows.append(run_child("dedup", feed, args.n, j, args.runs, cpu if j == 1 else None, Path(tmp)))
        rows.append(run_child("rensa", feed, args.n, 1, args.runs, cpu, Path(tmp)))
        sample = min(args.n, args.datasketch_sample)
        rows.append(run_child("datasketch", feed, sample, 1, args.runs, cpu, Path(tmp)))
    meta = run_meta(args, load_before, "pipelines.py", argv) | {"stories": stories, "ratios": ratios(rows)}
    write_results(args.out, "pipelines", meta, rows, markdown(meta, rows))
    return 0


def run_meta(args: argparse.Namespace, load_before: tuple, script: str, argv: list[str] | None) -> dict[str, Any]:
    """What every result records: the date, machine, sizes, load and command."""
    return {
        "date": date.today().isoformat(),
        "machine": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "n": args.n,
        "seed": args.seed,
        "runs": args.runs,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "command": f"python benchmarks/{script} " + " ".join(sys.argv[1:] if argv is None else argv),
    }


def write_results(out: Path, name: str, meta: dict[str, Any], results: Any, md: str) -> None:
    """``name.json`` (meta and results) and ``name.md`` into ``out``; the Markdown printed."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n")
    (out / f"{name}.md").write_text(md)
    print(md)


if __name__ == "__main__":
    raise SystemExit(main())
