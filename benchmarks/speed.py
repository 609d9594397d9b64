"""Speed and memory of dedup against datasketch and rensa, at growing n.

    python benchmarks/speed.py                    # n = 10k and 100k (about 5 minutes on 2 cores)
    python benchmarks/speed.py --million          # also n = 1M (about 15 minutes, 24 GB machine)
    python benchmarks/speed.py --sizes 2000       # a smoke test
    python benchmarks/speed.py --sizes 100000 1000000 --seed 7 --no-keep-text \\
        --lsh-max 0 --signature-max 0 --profile-n 0
                                                  # 1M (and 100k, for the growth) as cluster_articles(keep_text=False)
                                                  # runs it: results/speed-1m.*

Articles come from :func:`dedup.synth.generate_articles` (seeded: news-length
texts with English word frequencies, 10% copies and rewrites planted). For
each n the run measures, in one process and on the same articles:

* **dedup's pipeline, stage by stage**, as :func:`dedup.cluster_articles`
  runs it (``n_jobs`` worker processes for the per-article stage), the
  input read a line at a time from a JSON-lines file written first (not
  timed): per-article features (read and parse, normalise, tokenise,
  hash, shingle, sign, count terms), weighting (TF-IDF, top terms, term signatures), LSH candidates,
  verification (pair cosine), clustering, and end to end. Throughput is
  articles per second of wall time; memory is the peak resident set size
  (this process plus its workers, sampled every 10 ms) during the stage.
* **signatures** (one core, the same word 5-gram shingles of the same
  articles): dedup's copy-view sketch (one-permutation hashing,
  :func:`dedup.sketch.minhash.oph_signatures`) and its exact 128-permutation
  MinHash (:func:`dedup.sketch.minhash.signatures`, equal to datasketch's
  ``affine32``), against datasketch ``MinHash`` updated per shingle and
  ``MinHash.bulk`` (both with datasketch's default SHA-1 hash; on a sample,
  rates extrapolated and labelled so), rensa ``RMinHash`` per article
  (``update`` with the shingle strings) and rensa's batch matrix from the
  flat pre-hashed shingles (its fastest path, exact and "rho"). dedup's
  figure includes hashing the shingles from the token hashes; the
  baselines are handed ready shingles (strings or hashes), so the
  comparison is conservative for dedup.
* **LSH candidates**: dedup's numpy banding against a plain datasketch
  ``MinHashLSH`` insert-all/query-all loop with the same bands and rows over
  the same signatures (n <= 100k).

Ratios (baseline time / dedup time) are from this one run: the machine is
shared and noisy, ratios are what to quote. Writes
``benchmarks/results/speed.md``, ``speed.json`` and ``speed.png`` (time and
memory against n, log-log).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dedup import Params  # noqa: E402
from dedup.article import iter_articles  # noqa: E402
from dedup.batch import PairStages, RowFile, featurize_parts, weigh_batch  # noqa: E402
from dedup.features.counts import ngram_hashes  # noqa: E402
from dedup.hashing import fold32  # noqa: E402
from dedup.linkage import build_clusters, link  # noqa: E402
from dedup.sketch import lsh as cand  # noqa: E402
from dedup.sketch.minhash import oph_signatures, signatures  # noqa: E402
from dedup.synth import generate_articles  # noqa: E402
from dedup.text.tokens import article_tokens, hash_tokens  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


# --- measuring ----------------------------------------------------------------


class PeakRSS:
    """Peak resident memory of this process and its children, sampled in a thread.

    This process counts with its resident set; a worker (forked, so it
    shares the parent's pages until it writes them) with its unique set
    (USS: pages only it holds), so shared pages are counted once.

    This process is sampled every ``interval`` seconds, the workers every
    ``child_interval`` (their last figures held in between): a worker's USS
    is read from ``/proc/PID/smaps_rollup``, a walk of its page tables
    under its memory lock, and read every 20 ms by two samplers (the run's
    and the stage's) it slowed the features stage by 40-70%. A worker's
    memory is a plateau (one chunk of articles at a time, and the allocator
    keeps what it freed), so the slower sampling misses little."""

    def __init__(self, interval: float = 0.02, child_interval: float = 0.5):
        self.proc = psutil.Process()
        self.interval, self.child_interval = interval, child_interval
        self.peak = 0
        self._children, self._children_at = 0, -float("inf")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def current(self, children_now: bool = True) -> int:
        """This process's RSS plus its children's USS (their last sample,
        unless ``children_now`` or it is ``child_interval`` old)."""
        now = time.perf_counter()
        if children_now or now - self._children_at >= self.child_interval:
            total = 0
            for c in self.proc.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    total += c.memory_full_info().uss
            self._children, self._children_at = total, now
        return self.proc.memory_info().rss + self._children

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current(children_now=False))
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRSS:
        self.peak = self.current()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()
        self.peak = max(self.peak, self.current())


@contextmanager
def stage(record: dict[str, Any], name: str, n: int) -> Iterator[None]:
    gc.collect()
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        yield
        dt = time.perf_counter() - t0
    record[name] = {
        "seconds": dt,
        "articles_per_s": n / dt if dt > 0 else float("inf"),
        "peak_rss_mb": mem.peak / 2**20,
    }
    print(f"    {name:<28} {dt:9.2f} s  {n / dt:12,.0f} art/s  peak {mem.peak / 2**20:8,.0f} MB", flush=True)


def timed(fn, *args, **kwargs) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


# --- the pipeline, stage by stage ---------------------------------------------


def write_input(n: int, seed: int, path: Path) -> float:
    """The generated articles as JSON lines (not timed: the input a caller
    would have on disk). Returns the seconds it took."""
    t0 = time.perf_counter()
    with path.open("w", encoding="utf-8") as f:
        for d in generate_articles(n, seed=seed):
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    return time.perf_counter() - t0


def read_input(path: Path) -> Iterator[dict]:
    """The articles of :func:`write_input`, one parsed line at a time."""
    with path.open(encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def run_pipeline(
    n: int,
    seed: int,
    params: Params,
    rec: dict[str, Any],
    keep_text: bool = True,
    keep_features: bool = True,
    input_dir: Path | None = None,
) -> dict[str, Any]:
    """The steps of :func:`dedup.cluster_articles`, each timed. The articles
    are first written to a JSON-lines file (not timed); the feature stage
    reads it a line at a time through :func:`iter_articles` (as a caller
    with a million articles would), so only the Article values stay in
    memory, not the input dicts too -- and with ``keep_text=False`` not
    their texts either. Reading and parsing the file counts as dedup's time.
    ``keep_features`` keeps the features for the baselines (the memory
    figures then include them); without it they go as in
    :func:`dedup.cluster_articles`. ``input_dir`` keeps the input file for
    the next run (generating 1M articles takes about 5 minutes)."""
    stages: dict[str, Any] = {}
    rejected: list = []
    with tempfile.TemporaryDirectory(prefix="dedup-speed-") as tmp:
        path = Path(tmp) / "articles.jsonl"
        if input_dir is not None:
            input_dir.mkdir(parents=True, exist_ok=True)
            path = input_dir / f"articles-{n}-seed{seed}.jsonl"
        if path.exists():
            print(f"    (input read from {path}, generated by an earlier run)", flush=True)
        else:
            rec["generate_s"] = gen = write_input(n, seed, path.with_suffix(".part"))
            path.with_suffix(".part").rename(path)
            print(f"    (input generated in {gen:.1f} s and written to a JSON-lines file: not timed)", flush=True)
        gc.collect()
        with PeakRSS() as total:
            t_all = time.perf_counter()
            with stage(stages, "features (read, per article)", n):
                counts = RowFile(params.n_features)  # a large batch's term counts wait in a file
                arts, parts = featurize_parts(
                    iter_articles(read_input(path), "warn", rejected), params, keep_text=keep_text, spill=counts
                )
            print(
                f"    (articles {'with' if keep_text else 'without'} their texts kept: "
                f"{total.current() / 2**20:,.0f} MB now)",
                flush=True,
            )
            with stage(stages, "weighting (TF-IDF, top terms)", n):
                ordered, features = weigh_batch(arts, parts, params, counts=counts)
                del arts
            pair_stages = PairStages(features, params)
            if not keep_features:  # as cluster_articles: each feature let go once used
                del features
            with stage(stages, "LSH candidates", n):
                pairs = pair_stages.candidates()
            with stage(stages, "verification", n):
                scored = pair_stages.verify()
            with stage(stages, "story score (short texts, neighbours)", n):
                scored = pair_stages.story(scored)
            with stage(stages, "clustering", n):
                labels = link(n, scored, params)
                clusters = build_clusters(ordered, labels, scored, params, empty=pair_stages.empty)
            dt = time.perf_counter() - t_all
    stages["end to end"] = {"seconds": dt, "articles_per_s": n / dt, "peak_rss_mb": total.peak / 2**20}
    print(f"    {'end to end':<28} {dt:9.2f} s  {n / dt:12,.0f} art/s  peak {total.peak / 2**20:8,.0f} MB", flush=True)
    from sklearn.metrics import adjusted_rand_score

    label_of = {a.id: c.id for c in clusters for a in c.members}
    rec["ari_vs_planted"] = float(
        adjusted_rand_score([a.metadata["story"] for a in ordered], [label_of[a.id] for a in ordered])
    )
    stories = {a.metadata["story"] for a in ordered}
    pure = sum(len({m.metadata["story"] for m in c.members}) == 1 for c in clusters)
    rec["pipeline"] = stages
    rec["candidates_per_article"] = len(pairs) / n
    rec["clusters"] = len(clusters)
    rec["stories"] = len(stories)
    rec["pure_cluster_share"] = pure / len(clusters)
    return {"features": features if keep_features else None, "pairs": pairs, "articles": ordered}


# --- signatures against the baselines -----------------------------------------


def shingle_inputs(arts: list, k: int) -> tuple[list[list[str]], float, Any]:
    tokens = [article_tokens(a) for a in arts]
    t0 = time.perf_counter()
    shingles = [[" ".join(t[i : i + k]) for i in range(max(1, len(t) - k + 1))] for t in tokens]
    build = time.perf_counter() - t0
    return shingles, build, tokens


def bench_signatures(arts: list, params: Params, sample: dict[str, int], rec: dict[str, Any]) -> None:
    from datasketch import MinHash
    from rensa import RMinHash

    n = len(arts)
    K, seed = params.num_perm, params.random_state
    shingles, build_s, tokens = shingle_inputs(arts, params.shingle_size)
    out: dict[str, Any] = {"n": n, "build_shingle_strings_per_article_s": build_s / n}

    def rate(name: str, seconds: float, count: int, note: str = "") -> None:
        out[name] = {"articles": count, "seconds": seconds, "articles_per_s": count / seconds, "note": note}
        print(
            f"    sig {name:<34} {count / seconds:12,.0f} art/s  ({count:,} articles{', ' + note if note else ''})",
            flush=True,
        )

    # dedup: from the token strings to signatures (hashing tokens, hashing
    # shingles, sketching) -- the like-for-like figure against datasketch
    # given the shingles as bytes (it hashes them with SHA-1 itself)
    t0 = time.perf_counter()
    batch = hash_tokens(tokens)
    sh, off = ngram_hashes(batch.hashes, batch.offsets, params.shingle_size)
    oph = oph_signatures(sh, off, num_perm=K, seed=seed)
    rate("dedup oph32 from token strings", time.perf_counter() - t0, n)
    del batch, oph
    # dedup: from token hashes (what featurize has) to signatures
    batch = hash_tokens(tokens)
    t0 = time.perf_counter()
    sh, off = ngram_hashes(batch.hashes, batch.offsets, params.shingle_size)
    oph = oph_signatures(sh, off, num_perm=K, seed=seed)
    rate("dedup oph32 (copy view)", time.perf_counter() - t0, n)
    t0 = time.perf_counter()
    sh, off = ngram_hashes(batch.hashes, batch.offsets, params.shingle_size)
    exact = signatures(fold32(sh), off, num_perm=K, seed=seed)
    rate("dedup affine32 exact", time.perf_counter() - t0, n)
    del oph, exact

    # rensa
    m = min(n, sample["rensa"])
    t0 = time.perf_counter()
    for s in shingles[:m]:
        h = RMinHash(K, seed)
        h.update(s)
        h.digest()
    rate("rensa RMinHash per article", time.perf_counter() - t0, m, "shingle strings given")
    flat_off = off.astype(np.uint64)
    dt, _ = timed(RMinHash.digest_matrix_from_flat_token_hashes, sh, flat_off, K, seed)
    rate("rensa batch matrix (flat hashes)", dt, n, "pre-hashed shingles given")
    dt, _ = timed(RMinHash.digest_matrix_from_flat_token_hashes_rho, sh, flat_off, K, seed)
    rate("rensa batch matrix rho", dt, n, "pre-hashed shingles given; O(tokens) sketch")

    # datasketch
    m = min(n, sample["bulk"])
    enc = [[s.encode() for s in x] for x in shingles[:m]]
    dt, _ = timed(MinHash.bulk, enc, num_perm=K, seed=seed)
    rate(
        "datasketch MinHash.bulk",
        dt,
        m,
        f"sample of {m:,}, extrapolated, shingle bytes given" if m < n else "shingle bytes given",
    )
    t0 = time.perf_counter()
    enc2 = [
        [" ".join(t[i : i + params.shingle_size]).encode() for i in range(max(1, len(t) - params.shingle_size + 1))]
        for t in tokens[:m]
    ]
    MinHash.bulk(enc2, num_perm=K, seed=seed)
    rate(
        "datasketch MinHash.bulk from token strings",
        time.perf_counter() - t0,
        m,
        f"sample of {m:,}, extrapolated; building the shingle bytes included",
    )
    del enc2
    m = min(n, sample["update"])
    t0 = time.perf_counter()
    for x in enc[:m]:
        h = MinHash(num_perm=K, seed=seed)
        for s in x:
            h.update(s)
    rate(
        "datasketch MinHash.update per shingle",
        time.perf_counter() - t0,
        m,
        f"sample of {m:,}, extrapolated" if m < n else "",
    )
    base = out["dedup oph32 (copy view)"]["articles_per_s"]
    exact_rate = out["dedup affine32 exact"]["articles_per_s"]
    full = out["dedup oph32 from token strings"]["articles_per_s"]
    out["ratios"] = {
        name: {
            "oph32": base / v["articles_per_s"],
            "affine32": exact_rate / v["articles_per_s"],
            "oph32_from_tokens": full / v["articles_per_s"],
        }
        for name, v in out.items()
        if isinstance(v, dict) and "articles_per_s" in v and not name.startswith("dedup")
    }
    rec["signatures"] = out


def bench_lsh(features: Any, params: Params, rec: dict[str, Any], limit: int) -> None:
    n = features.n
    out: dict[str, Any] = {}
    for view, sig, thr, rw in (
        ("terms", features.term_signatures, params.lsh_threshold, 0.9),
        ("shingles", features.shingle_signatures, params.copy_threshold, 0.5),
    ):
        b, r = cand.lsh_params(thr, params.num_perm, recall_weight=rw)
        m = min(n, limit)
        s = sig[:m]
        valid = ~features.empty[:m]
        dt_ours, ours = timed(
            cand.candidate_pairs,
            s,
            b,
            r,
            valid=valid,
            max_bucket_size=params.max_bucket_size,
            neighbours=params.bucket_neighbours,
        )
        with PeakRSS() as mem:
            dt_ds, theirs = timed(cand.datasketch_candidates, s, b, r, seed=params.random_state, valid=valid)
        out[view] = {
            "articles": m,
            "bands": b,
            "rows": r,
            "dedup_s": dt_ours,
            "datasketch_s": dt_ds,
            "ratio": dt_ds / dt_ours,
            "dedup_pairs": len(ours),
            "datasketch_pairs": len(theirs),
            "datasketch_peak_rss_mb": mem.peak / 2**20,
        }
        print(
            f"    lsh {view:<9} b={b} r={r}: dedup {dt_ours:.2f} s, datasketch {dt_ds:.2f} s "
            f"(x{dt_ds / dt_ours:.1f}); pairs {len(ours):,} vs {len(theirs):,} (capped buckets)",
            flush=True,
        )
    rec["lsh"] = out


def bench_kernels(features: Any, pairs: np.ndarray, arts: list, params: Params, rec: dict[str, Any]) -> None:
    """The compiled kernels (:mod:`dedup._kernels`) against the numpy/scipy
    code they replace, on the same inputs, in this run (the results are
    equal: tests/test_kernels.py)."""
    from dedup.features.counts import _ngram_hashes_numpy
    from dedup.scoring import pair_cosine
    from dedup.sketch.minhash import _oph_signatures_numpy, _signatures_numpy, estimate_jaccard, pair_jaccard
    from dedup.text.normalise import similarity_text, tokenize
    from dedup.text.tokens import _hash_tokens_dict, hash_texts

    out: dict[str, Any] = {}

    def row(name: str, unit: str, count: int, fast, slow) -> None:
        fast()  # compiled already in the pipeline run; this warms caches alike
        t_fast, _ = timed(fast)
        t_slow, _ = timed(slow)
        out[name] = {
            "unit": unit,
            "count": count,
            "kernel_s": t_fast,
            "reference_s": t_slow,
            "speedup": t_slow / t_fast if t_fast > 0 else float("inf"),
        }
        print(
            f"    kernel {name:<36} x{t_slow / t_fast:6.1f}  ({t_fast / count * 1e6:.2f} vs "
            f"{t_slow / count * 1e6:.2f} us/{unit})",
            flush=True,
        )

    p = pairs[: min(len(pairs), 200_000)]
    x = features.ordered_tfidf()
    row(
        "pair cosine (scipy csr_elmul + sum)",
        "pair",
        len(p),
        lambda: pair_cosine(x, p),
        lambda: np.clip(np.asarray(x[p[:, 0]].multiply(x[p[:, 1]]).sum(axis=1)).ravel(), 0, 1),
    )
    sig = features.shingle_signatures
    row(
        "pair Jaccard (gathered rows)",
        "pair",
        len(p),
        lambda: pair_jaccard(sig, p),
        lambda: estimate_jaccard(sig[p[:, 0]], sig[p[:, 1]]),
    )
    sample = arts[: min(len(arts), 5000)]
    texts = [(a.title + "\n" + a.text) if a.title else a.text for a in sample]
    folded = [similarity_text(t) for t in texts]
    row(
        "tokenise + hash (hash_texts)",
        "article",
        len(sample),
        lambda: hash_texts(folded),
        lambda: _hash_tokens_dict([tokenize(f) for f in folded]),
    )
    batch = hash_texts(folded)[0]
    k, seed = params.num_perm, params.random_state
    row(
        "5-gram hashes",
        "article",
        len(sample),
        lambda: ngram_hashes(batch.hashes, batch.offsets, 5),
        lambda: _ngram_hashes_numpy(batch.hashes, batch.offsets, 5),
    )
    sh, off = ngram_hashes(batch.hashes, batch.offsets, params.shingle_size)
    row(
        "oph32 signatures",
        "article",
        len(sample),
        lambda: oph_signatures(sh, off, num_perm=k, seed=seed),
        lambda: _oph_signatures_numpy(sh, off, num_perm=k, seed=seed),
    )
    v = fold32(sh)
    row(
        "affine32 signatures",
        "article",
        len(sample),
        lambda: signatures(v, off, num_perm=k, seed=seed),
        lambda: _signatures_numpy(v, off, num_perm=k, seed=seed),
    )
    rec["kernels"] = out


def profile_end_to_end(docs: list, params: Params, top: int = 25) -> str:
    from dedup import cluster_articles

    prof = cProfile.Profile()
    prof.enable()
    cluster_articles(docs, params=params.with_(n_jobs=1))
    prof.disable()
    s = io.StringIO()
    pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(top)
    return s.getvalue()


# --- report -------------------------------------------------------------------


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = [r["n"] for r in results]
    names = list(results[0]["pipeline"])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 5))
    for name in names:
        ax1.plot(
            ns,
            [r["pipeline"][name]["seconds"] for r in results],
            "o-",
            label=name,
            lw=2.5 if name == "end to end" else 1.2,
        )
        ax2.plot(
            ns,
            [r["pipeline"][name]["peak_rss_mb"] for r in results],
            "o-",
            label=name,
            lw=2.5 if name == "end to end" else 1.2,
        )
    ref = np.array(ns, dtype=float)
    t0 = results[0]["pipeline"]["end to end"]["seconds"]
    ax1.plot(ns, t0 * ref / ref[0], "k:", label="linear from smallest n")
    for ax, label in ((ax1, "wall time (s)"), (ax2, "peak resident memory (MB)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("articles")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    ax1.legend(fontsize=7)
    fig.suptitle(f"dedup cost against n ({os.cpu_count()} cores, n_jobs={results[0]['n_jobs']})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _seconds(result: dict) -> float:
    """End-to-end seconds of one size's run."""
    return result["pipeline"]["end to end"]["seconds"]


def markdown(results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        "# dedup speed benchmark",
        "",
        f"{meta['date']}, {meta['machine']}, {meta['cores']} cores, {meta['memory_gb']:.0f} GB; "
        f"n_jobs={meta['n_jobs']}; python {meta['python']}. One run; ratios are from this run. "
        "Load average (1, 5, 15 min) at the start and end of each n: "
        + "; ".join(
            f"n={r['n']:,}: {tuple(round(x, 1) for x in r.get('load_average_before', ()))} -> "
            f"{tuple(round(x, 1) for x in r.get('load_average_after', ()))}"
            for r in results
        )
        + " (the machine is shared: 2 cores, other jobs running). "
        f"Before the runs, a warm-up of 300 articles ({meta.get('warm_up_s', 0):.1f} s) compiled or loaded the "
        "numba kernels, so no figure below includes compiling. "
        + (
            "Articles are read a line at a time from a JSON-lines file (reading included in the features stage) "
            "and kept with their texts (as `cluster_articles()` does by default)."
            if meta.get("keep_text", True)
            else "Articles are read a line at a time from a JSON-lines file (reading included in the features stage) "
            "and their texts released once featurised (`cluster_articles(keep_text=False)`): the memory is "
            "the pipeline's, not the input's."
        ),
        "",
        "## Pipeline stages (wall time, articles/s, peak resident memory of process + workers)",
        "",
    ]
    names = list(results[0]["pipeline"])
    head = "| stage | " + " | ".join(f"n={r['n']:,}" for r in results) + " |"
    lines += [head, "|---" * (len(results) + 1) + "|"]
    for name in names:
        cells = [
            f"{r['pipeline'][name]['articles_per_s']:,.0f}/s, {r['pipeline'][name]['seconds']:.1f} s, "
            f"{r['pipeline'][name]['peak_rss_mb']:,.0f} MB"
            for r in results
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append(
        "| candidates per article | " + " | ".join(f"{r['candidates_per_article']:.1f}" for r in results) + " |"
    )
    lines.append(
        "| clusters / planted stories | " + " | ".join(f"{r['clusters']:,} / {r['stories']:,}" for r in results) + " |"
    )
    lines.append(
        "| ARI against the planted stories | "
        + " | ".join(f"{r.get('ari_vs_planted', float('nan')):.4f}" for r in results)
        + " |"
    )
    if len(results) > 1:
        lines += [
            "",
            "Growth of end-to-end time: "
            + ", ".join(
                f"{results[i]['n']:,} -> {results[i + 1]['n']:,}: "
                f"x{_seconds(results[i + 1]) / _seconds(results[i]):.1f}"
                f" (n x{results[i + 1]['n'] / results[i]['n']:.0f})"
                for i in range(len(results) - 1)
            ),
        ]
    sig_runs = [r for r in results if "signatures" in r]
    if sig_runs:
        lines += [
            "",
            f"## Signatures (word 5-gram shingles, {meta.get('num_perm', Params().num_perm)} permutations, one core)",
            "",
            "Like with like: *dedup oph32 from token strings* (hashing the tokens, hashing the shingles, "
            "sketching) against *datasketch MinHash.bulk from token strings* (building the shingle bytes, "
            "its default SHA-1 hash and permutations); the other dedup rows start from the "
            "token hashes the pipeline already has (shared with TF-IDF).",
            "",
        ]
        for r in sig_runs:
            s = r["signatures"]
            lines += [
                f"n = {r['n']:,}. Building the shingle strings that datasketch and rensa's per-article API take: "
                f"{1 / s['build_shingle_strings_per_article_s']:,.0f} art/s (not counted below).",
                "",
                "| implementation | articles/s | articles timed | dedup oph32 is x faster | dedup affine32 is x faster "
                "| dedup oph32 from token strings is x faster |",
                "|---|---|---|---|---|---|",
            ]
            for name, v in s.items():
                if isinstance(v, dict) and "articles_per_s" in v:
                    ratio = s["ratios"].get(name)
                    cells = (
                        (
                            f"{ratio['oph32']:.2f}",
                            f"{ratio['affine32']:.2f}",
                            f"{ratio.get('oph32_from_tokens', 0):.2f}",
                        )
                        if ratio
                        else ("", "", "")
                    )
                    note = f" ({v['note']})" if v["note"] else ""
                    lines.append(
                        f"| {name}{note} | {v['articles_per_s']:,.0f} | {v['articles']:,} "
                        f"| {cells[0]} | {cells[1]} | {cells[2]} |"
                    )
            lines.append("")
    lsh_runs = [r for r in results if "lsh" in r]
    if lsh_runs:
        lines += [
            "## LSH candidates: numpy banding against datasketch MinHashLSH (insert all, query all)",
            "",
            "| n | view | bands x rows | dedup s | datasketch s | ratio | datasketch peak MB |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in lsh_runs:
            for view, v in r["lsh"].items():
                lines.append(
                    f"| {v['articles']:,} | {view} | {v['bands']} x {v['rows']} | {v['dedup_s']:.2f} | "
                    f"{v['datasketch_s']:.2f} | {v['ratio']:.1f} | {v['datasketch_peak_rss_mb']:,.0f} |"
                )
    kern_runs = [r for r in results if "kernels" in r]
    if kern_runs:
        lines += [
            "",
            "## Compiled kernels against the numpy/scipy code they replace (same inputs, equal results)",
            "",
            "| n | step | kernel us/unit | numpy/scipy us/unit | kernel is x faster |",
            "|---|---|---|---|---|",
        ]
        for r in kern_runs:
            for name, v in r["kernels"].items():
                lines.append(
                    f"| {r['n']:,} | {name} (per {v['unit']}) | {v['kernel_s'] / v['count'] * 1e6:.2f} | "
                    f"{v['reference_s'] / v['count'] * 1e6:.2f} | {v['speedup']:.1f} |"
                )
    if meta.get("profile"):
        lines += [
            "",
            f"## Profile of the end-to-end run (n = {meta['profile_n']:,}, one process, by own time)",
            "",
            "```",
            meta["profile"].strip(),
            "```",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--million", action="store_true", help="also run n = 1,000,000 (pipeline only; about 15 min)")
    ap.add_argument("--jobs", type=int, default=2, help="n_jobs of the pipeline (default 2)")
    ap.add_argument(
        "--max-terms",
        type=int,
        default=None,
        help="Params.max_terms (e.g. 256 for 1M articles in under 8 GB; default: the library's)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--no-keep-text",
        dest="keep_text",
        action="store_false",
        help="cluster as cluster_articles(keep_text=False) does: texts released once featurised "
        "(the signature baselines, which need the texts, are skipped)",
    )
    ap.add_argument("--signature-max", type=int, default=100_000, help="signature baselines only up to this n")
    ap.add_argument(
        "--lsh-max", type=int, default=100_000, help="datasketch LSH baseline on at most this many articles"
    )
    ap.add_argument("--profile-n", type=int, default=10_000, help="profile the end-to-end run at this n (0: no)")
    ap.add_argument(
        "--input-dir",
        type=Path,
        default=None,
        help="keep the generated JSON-lines inputs here and reuse them in later runs "
        "(articles-N-seedS.jsonl; default: a temporary folder, removed after each n)",
    )
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    sizes = sorted(set(args.sizes + ([1_000_000] if args.million else [])))
    params = Params(n_jobs=args.jobs) if args.max_terms is None else Params(n_jobs=args.jobs, max_terms=args.max_terms)
    sample = {"rensa": 20_000, "bulk": 2_000, "update": 300}
    results = []
    profile = ""
    # numba compiles the kernels at their first call (a few seconds, once;
    # later processes, the feature workers too, load them from the cache):
    # a small run first, so no stage below is timed with a compile in it.
    t0 = time.perf_counter()
    warm = list(generate_articles(300, seed=args.seed + 1))
    from dedup import cluster_articles
    from dedup.scoring import pair_cosine

    cluster_articles(warm, params=params.with_(n_jobs=1))
    for dtype in (np.float32, np.float64):  # pair cosine of float64 rows (neighbour profiles) too
        import scipy.sparse as sp

        pair_cosine(sp.identity(3, dtype=dtype, format="csr"), np.array([[0, 1]]))
    warm_up_s = time.perf_counter() - t0
    print(f"warm-up (compiling or loading the kernels, 300 articles): {warm_up_s:.1f} s", flush=True)
    for n in sizes:
        print(f"n = {n:,}", flush=True)
        rec: dict[str, Any] = {"n": n, "n_jobs": args.jobs, "load_average_before": os.getloadavg()}
        state = run_pipeline(
            n,
            args.seed,
            params,
            rec,
            keep_text=args.keep_text,
            keep_features=n <= max(args.lsh_max, args.signature_max if args.keep_text else 0),
            input_dir=args.input_dir,
        )
        if n <= args.lsh_max:
            bench_lsh(state["features"], params, rec, args.lsh_max)
        arts = state["articles"]
        kern_features, kern_pairs = state["features"], state["pairs"]
        del state
        gc.collect()
        if n <= args.signature_max and args.keep_text:
            bench_signatures(arts, params, sample, rec)
            bench_kernels(kern_features, kern_pairs, arts, params, rec)
        del kern_features, kern_pairs
        if n == args.profile_n and args.keep_text:
            profile = profile_end_to_end(arts, params)
        rec["load_average_after"] = os.getloadavg()
        print(
            f"    load average (1, 5, 15 min) before {rec['load_average_before']}, after {rec['load_average_after']}",
            flush=True,
        )
        results.append(rec)
        del arts
        gc.collect()
    meta = {
        "date": date.today().isoformat(),
        "machine": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "memory_gb": psutil.virtual_memory().total / 2**30,
        "n_jobs": args.jobs,
        "python": platform.python_version(),
        "profile": profile,
        "profile_n": args.profile_n,
        "num_perm": params.num_perm,
        "max_terms": params.max_terms,
        "warm_up_s": warm_up_s,
        "keep_text": args.keep_text,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    # a run up to a million (the 1M run, with 100k beside it for the growth) goes beside the 10k/100k table
    top = max(sizes)
    suffix = "" if top <= 100_000 else f"-{top // 10**6}m" if top % 10**6 == 0 else f"-{top // 1000}k"
    (args.out / f"speed{suffix}.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    (args.out / f"speed{suffix}.md").write_text(markdown(results, meta))
    plot(results, args.out / f"speed{suffix}.png")
    print((args.out / f"speed{suffix}.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
