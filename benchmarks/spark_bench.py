"""Spark path against the in-memory path on generated articles, and a 100M estimate.

    python benchmarks/spark_bench.py --n 100000            # Spark and in-memory
    python benchmarks/spark_bench.py --n 1000000 --no-memory-path

Generates ``n`` articles with :func:`dedup.synth.generate_articles` into a
Parquet file (not timed), then

* runs :func:`dedup.spark.cluster_spark` in a local Spark session
  (``local[2]`` by default: this is a 2-core machine shared with others),
  timing each stage and reading each stage's shuffle volume from Spark's
  status API; memory is the peak summed RSS of the driver, the JVM and the
  Python workers (sampled every 0.5 s);
* first (while no JVM holds memory), unless ``--no-memory-path``, runs
  :func:`dedup.cluster_articles` on the same records in a fresh process,
  streamed from the Parquet file with ``keep_text=False`` (time, peak RSS),
  once for each ``--jobs`` value (``n_jobs``; default 1 and 2: one core,
  and the cores ``local[2]`` gives Spark);
* checks the two give the same clusters (adjusted Rand index between them,
  and of each against the generator's planted stories), and
* writes ``benchmarks/results/spark-<n>.json`` with the figures and an
  estimate for ``--target`` articles on ``--cores`` executor cores, scaled
  from the measured per-article cost of each stage (the candidate, verify
  and link stages scale with the number of pairs, which with a time window
  grows linearly with the corpus).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def write_parquet(n: int, seed: int, path: Path, chunk: int = 50_000) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dedup.synth import generate_articles

    schema = pa.schema([("id", pa.string()), ("text", pa.string()), ("published", pa.string()), ("story", pa.string())])
    with pq.ParquetWriter(path, schema) as w:
        buf = []
        for r in generate_articles(n, seed=seed):
            buf.append({"id": r["id"], "text": r["text"], "published": r["published"], "story": str(r["story"])})
            if len(buf) == chunk:
                w.write_table(pa.Table.from_pylist(buf, schema))
                buf = []
        if buf:
            w.write_table(pa.Table.from_pylist(buf, schema))


def stored_rows(path: Path) -> int:
    """How many articles the Parquet file at ``path`` holds (from its footer)."""
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


class PeakRSS:
    """Peak summed RSS of this process and all its descendants, and the peak
    growth of used space on the disk holding ``disk`` (Spark's local dir)."""

    def __init__(self, interval: float = 0.5, disk: str = "."):
        import psutil

        self.proc, self.peak, self.interval = psutil.Process(), 0, interval
        self.disk, self.disk_peak = disk, 0
        self._disk0 = shutil.disk_usage(disk).used
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = 0
            for p in [self.proc, *self.proc.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
            self.peak = max(self.peak, total)
            self.disk_peak = max(self.disk_peak, shutil.disk_usage(self.disk).used - self._disk0)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRSS:
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()


def tree_cpu_s() -> float:
    """CPU seconds (user + system) of this process and its living descendants
    (the JVM and its Python workers, which Spark keeps for the whole run)."""
    import psutil

    total = 0.0
    for p in [psutil.Process(), *psutil.Process().children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def shuffle_by_stage(ui: str, app_id: str) -> dict[str, dict[str, float]]:
    """Shuffle write and input bytes of the dedup stages, from Spark's REST API."""

    def get(path: str):
        with urllib.request.urlopen(f"{ui}/api/v1/applications/{app_id}/{path}") as r:
            return json.load(r)

    stage_of = {}
    for job in get("jobs"):
        name = (job.get("description") or "").removeprefix("dedup: ")
        for s in job.get("stageIds", []):
            stage_of[s] = name
    out: dict[str, dict[str, float]] = {}
    for st in get("stages?status=COMPLETE"):
        name = stage_of.get(st["stageId"], "other")
        d = out.setdefault(name, {"shuffle_write_bytes": 0.0, "executor_cpu_s": 0.0})
        d["shuffle_write_bytes"] += st.get("shuffleWriteBytes", 0)
        d["executor_cpu_s"] += st.get("executorCpuTime", 0) / 1e9
    return out


def run_spark(path: Path, n: int, args: argparse.Namespace) -> tuple[dict, dict[str, str]]:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    from dedup.spark.run import run

    spark = (
        SparkSession.builder.master(args.master)
        .appName("dedup-spark-bench")
        .config("spark.sql.shuffle.partitions", str(args.partitions))
        .config("spark.driver.memory", args.driver_memory)
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.local.dir", args.local_dir)
        # shuffle files of stages cut off by checkpoints are freed at the next
        # driver GC; the default (30 min) lets a 1M run fill the disk first
        .config("spark.cleaner.periodicGC.interval", "3min")
        # JDK 17's G1 gives up an allocation while native code pins the heap
        # (GCLocker) after two retries: an OutOfMemoryError with free heap,
        # met in the weigh step of a 1M run
        .config("spark.driver.extraJavaOptions", "-XX:+UnlockDiagnosticVMOptions -XX:GCLockerRetryAllocationCount=100")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    df = spark.read.parquet(str(path))
    timings: dict[str, float] = {}
    cpu0 = tree_cpu_s()
    with PeakRSS(disk=str(Path(args.local_dir).parent)) as mem:
        t0 = time.perf_counter()
        out = run(df, published_col="published", timings=timings, block_size=args.block_size, **_params(args.max_terms))
        labels = {r["id"]: r["cluster"] for r in out.select("id", "cluster").toLocalIterator()}
        wall = time.perf_counter() - t0
    cpu = tree_cpu_s() - cpu0
    shuffle = {}
    try:
        shuffle = shuffle_by_stage(spark.sparkContext.uiWebUrl, spark.sparkContext.applicationId)
    except Exception as exc:  # pragma: no cover - UI off or port blocked
        print(f"(no shuffle figures: {exc})", file=sys.stderr)
    spark.stop()
    pairs = timings.pop("pairs", 0.0)
    block_size = int(timings.pop("block_size", 0)) or args.block_size
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_gb": mem.peak / 1e9,
        "peak_disk_gb": mem.disk_peak / 1e9,
        "stages_s": timings,
        "candidate_pairs": pairs,
        "block_size": block_size,
        "stages_shuffle": shuffle,
    }, labels


def _params(max_terms: int | None) -> dict:
    """Parameters for both paths: the library's defaults unless ``--max-terms``."""
    return {} if max_terms is None else {"max_terms": max_terms}


def gold_ari(path: Path, labels: dict[str, str]) -> float:
    """Adjusted Rand index of ``labels`` against the generator's planted stories."""
    import pyarrow.parquet as pq
    from sklearn.metrics import adjusted_rand_score

    t = pq.read_table(path, columns=["id", "story"]).to_pydict()
    return float(adjusted_rand_score(t["story"], [labels[i] for i in t["id"]]))


# The in-memory path streams the Parquet file by record batches into
# cluster_articles(keep_text=False): the memory measured is the pipeline's.
_MEMORY_CHILD = r"""
import json, resource, sys, time
import pyarrow.parquet as pq
from dedup import cluster_articles
f = pq.ParquetFile(sys.argv[1])
rows = (r for b in f.iter_batches(columns=["id", "text", "published"], batch_size=10_000) for r in b.to_pylist())
t0 = time.perf_counter()
res = cluster_articles(rows, keep_text=False, n_jobs=int(sys.argv[4]), **json.loads(sys.argv[3]))
wall = time.perf_counter() - t0
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
json.dump({"wall_s": wall, "cpu_s": cpu, "peak_rss_gb": me.ru_maxrss / 1e6,
           "labels": res.labels_}, open(sys.argv[2], "w"))
"""


def run_memory(path: Path, tmp: Path, n_jobs: int, max_terms: int | None = None) -> tuple[dict, dict[str, str]]:
    out = tmp / "memory.json"
    cmd = [sys.executable, "-c", _MEMORY_CHILD, str(path), str(out), json.dumps(_params(max_terms)), str(n_jobs)]
    subprocess.run(cmd, check=True)
    d = json.loads(out.read_text())
    labels = d.pop("labels")
    return {"n_jobs": n_jobs, **d}, labels


def estimate(n: int, spark: dict, target: int, cores: int, local_cores: int) -> dict:
    """Scale measured per-article costs to ``target`` articles on ``cores`` cores."""
    stages = {}
    total_s = 0.0
    total_shuffle = 0.0
    for name, secs in spark["stages_s"].items():
        core_s_per_article = secs * local_cores / n
        sh = spark["stages_shuffle"].get(name, {}).get("shuffle_write_bytes", 0.0) / n
        t = core_s_per_article * target / cores
        stages[name] = {
            "core_s_per_article": core_s_per_article,
            "shuffle_bytes_per_article": sh,
            "est_time_s": t,
            "est_shuffle_tb": sh * target / 1e12,
        }
        total_s += t
        total_shuffle += sh * target
    return {
        "target_articles": target,
        "cores": cores,
        "est_time_h": total_s / 3600,
        "est_shuffle_tb": total_shuffle / 1e12,
        "stages": stages,
        "assumes": "per-article cost constant (time-windowed pairs grow linearly); "
        "no allowance for stragglers or skew: add 30-50% in practice",
    }


def report(result: dict) -> str:
    """The run as Markdown: each path's wall time and memory, the ratios, the equality, Spark's stages."""
    sp, mems = result["spark"], result.get("memory", [])
    lines = [
        f"# Spark against in memory, {result['n']:,} generated articles",
        "",
        f"`{result['command']}` (master `{result['master']}`, {result['partitions']} shuffle partitions, "
        f"block size {result['block_size']:,}, {result['cpu_count']} CPUs; all paths in one run).",
        "",
        "| path | wall (s) | CPU (s) | peak RSS (GB) | ARI vs planted stories |",
        "|---|---|---|---|---|",
    ]
    for m in mems:
        lines.append(
            f"| in memory (`cluster_articles`, `n_jobs={m['n_jobs']}`) | {m['wall_s']:.0f} | {m['cpu_s']:.0f} "
            f"| {m['peak_rss_gb']:.1f} | {m['ari_vs_planted']:.4f} |"
        )
    lines.append(
        f"| Spark (`cluster_spark`) | {sp['wall_s']:.0f} | {sp['cpu_s']:.0f} "
        f"| {sp['peak_rss_gb']:.1f} | {sp['ari_vs_planted']:.4f} |"
    )
    lines.append("")
    for m in mems:
        lines.append(
            f"Spark / in memory with `n_jobs={m['n_jobs']}`: **{m['spark_over_memory']:.2f}x** wall time, "
            f"{m['spark_over_memory_cpu']:.2f}x CPU time. Same clusters: ARI between the two "
            f"{m['ari_vs_spark']:.4f}, same cluster ids: {m['same_cluster_ids']}.  "
        )
    lines += ["", f"Spark stages ({sp['candidate_pairs']:,.0f} candidate pairs):", "", "| stage | s |", "|---|---|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in sp["stages_s"].items()]
    return "\n".join(lines) + "\n"


def compare(m: dict, memory_labels: dict[str, str], spark: dict, spark_labels: dict[str, str]) -> None:
    """Into ``m`` (one in-memory run): its agreement with Spark and Spark's time over its time."""
    from sklearn.metrics import adjusted_rand_score

    ids = sorted(memory_labels)
    m["ari_vs_spark"] = adjusted_rand_score([memory_labels[i] for i in ids], [spark_labels[i] for i in ids])
    m["same_cluster_ids"] = set(memory_labels.values()) == set(spark_labels.values())
    m["spark_over_memory"] = spark["wall_s"] / m["wall_s"]
    m["spark_over_memory_cpu"] = spark["cpu_s"] / m["cpu_s"]
    print(
        f"in memory (n_jobs={m['n_jobs']}) vs Spark: ARI {m['ari_vs_spark']:.4f}, same cluster ids "
        f"{m['same_cluster_ids']}, Spark / in memory {m['spark_over_memory']:.2f}x "
        f"(CPU {m['spark_over_memory_cpu']:.2f}x)",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--partitions", type=int, default=None, help="shuffle partitions (default n/10k, 4..200)")
    ap.add_argument("--driver-memory", default="6g")
    ap.add_argument("--no-memory-path", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS, help="folder for the results (default: benchmarks/results)")
    ap.add_argument(
        "--data", default=None, help="Parquet file of the articles: generated there if missing, reused if present"
    )
    ap.add_argument(
        "--jobs", type=int, nargs="+", default=[1, 2], help="n_jobs of the in-memory runs (default: 1 and 2)"
    )
    ap.add_argument("--target", type=int, default=100_000_000)
    ap.add_argument("--cores", type=int, default=400, help="executor cores of the estimated cluster")
    ap.add_argument("--local-dir", default=None)
    ap.add_argument(
        "--max-terms", type=int, default=None, help="Params.max_terms for both paths (default: the library's)"
    )
    ap.add_argument(
        "--block-size",
        type=int,
        default=None,
        help="cluster_spark's block_size (default: the library's choice, dedup.spark.arguments.block_rows)",
    )
    args = ap.parse_args(argv)
    args.partitions = args.partitions or max(4, min(200, args.n // 10_000))
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dedup-spark-bench-") as tmp_s:
        tmp = Path(tmp_s)
        args.local_dir = args.local_dir or str(tmp / "spark-local")
        path = Path(args.data) if args.data else tmp / "articles.parquet"
        if not path.exists():
            t0 = time.perf_counter()
            write_parquet(args.n, args.seed, path)
            print(f"generated {args.n} articles in {time.perf_counter() - t0:.0f}s", flush=True)
        elif (rows := stored_rows(path)) != args.n:
            ap.error(f"--data {path} holds {rows:,} articles, not --n {args.n:,}")
        result = {
            "n": args.n,
            "seed": args.seed,
            "master": args.master,
            "partitions": args.partitions,
            "block_size": args.block_size,
            "max_terms": args.max_terms,
            "cpu_count": os.cpu_count(),
            "command": "python benchmarks/spark_bench.py " + " ".join(argv or sys.argv[1:]),
        }
        out = args.out / f"spark-{args.n}.json"
        runs: list[tuple[dict, dict[str, str]]] = []
        for n_jobs in [] if args.no_memory_path else args.jobs:  # first, while no JVM holds memory
            memory, labels = run_memory(path, tmp, n_jobs, args.max_terms)
            memory["ari_vs_planted"] = gold_ari(path, labels)
            runs.append((memory, labels))
            result["memory"] = [m for m, _ in runs]
            out.write_text(json.dumps(result, indent=2) + "\n")  # kept should a later step fail
            print(
                f"in memory (n_jobs={n_jobs}): {memory['wall_s']:.0f}s, peak {memory['peak_rss_gb']:.1f} GB, "
                f"ARI vs planted stories {memory['ari_vs_planted']:.4f}",
                flush=True,
            )
        spark, spark_labels = run_spark(path, args.n, args)
        result["spark"], result["block_size"] = spark, spark["block_size"]
        out.write_text(json.dumps(result, indent=2) + "\n")
        spark["ari_vs_planted"] = gold_ari(path, spark_labels)
        print(
            f"spark: {spark['wall_s']:.0f}s, peak {spark['peak_rss_gb']:.1f} GB, "
            f"ARI vs planted stories {spark['ari_vs_planted']:.4f}, stages "
            + ", ".join(f"{k} {v:.0f}s" for k, v in spark["stages_s"].items()),
            flush=True,
        )
        for memory, labels in runs:
            compare(memory, labels, spark, spark_labels)
        cores = args.master[6:-1]
        local_cores = int(cores) if args.master.startswith("local[") and cores.isdigit() else os.cpu_count()
        result["estimate"] = estimate(args.n, spark, args.target, args.cores, local_cores)
        e = result["estimate"]
        print(
            f"estimate for {e['target_articles']:,} articles on {e['cores']} cores: "
            f"{e['est_time_h']:.1f} h, shuffle {e['est_shuffle_tb']:.1f} TB",
            flush=True,
        )
    out.write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(report(result))
    print(f"wrote {out} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
