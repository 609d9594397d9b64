"""Wall time of each batch stage on generated articles, in one process on one core.

The stage table of issue 16's notes: the stages of :func:`dedup.cluster_articles`
called in turn (features, weighting, candidates, verification, story score,
linkage and clusters), timed apart, with the candidate pairs and how many of
them reach the threshold (the rest are what verification rejects).

    python benchmarks/stages.py --n 20000 --cpu 1

The first run compiles or loads the kernels; the figures are the last of
``--runs`` runs. Run it on two commits to compare them stage by stage.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dedup import Article, Params  # noqa: E402
from dedup.batch import PairStages, build_clusters, featurize_parts, link, weigh_batch  # noqa: E402
from dedup.synth import generate_articles  # noqa: E402


def run_stages(docs: list[dict], params: Params) -> tuple[dict[str, float], int, int]:
    """Seconds per stage, candidate pairs, and pairs at or above the threshold."""
    t: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        t[name], clock = now - clock, now

    arts, parts = featurize_parts(iter(Article(id=d["id"], text=d["text"]) for d in docs), params)
    lap("features")
    ordered, features = weigh_batch(arts, parts, params)
    lap("weighting")
    stages = PairStages(features, params)
    del features
    pairs = stages.candidates()
    lap("candidates")
    scored = stages.verify()
    lap("verification")
    scored = stages.story(scored)
    lap("story score")
    labels = link(len(ordered), scored, params)
    build_clusters(ordered, labels, scored, params, empty=stages.empty)
    lap("linkage and clusters")
    return t, len(pairs), int((scored.score >= params.threshold).sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=20_000, help="generated articles (default 20,000)")
    ap.add_argument("--seed", type=int, default=3, help="generator seed (default 3, as pipelines.py)")
    ap.add_argument("--runs", type=int, default=2, help="runs; the last is reported (default 2)")
    ap.add_argument("--cpu", type=int, default=None, help="pin the process to this CPU")
    args = ap.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    docs = list(generate_articles(args.n, seed=args.seed))
    params = Params()
    for _ in range(args.runs):
        t, n_pairs, strong = run_stages(docs, params)
    print(
        f"| stage | seconds ({args.n:,} articles, {'cpu ' + str(args.cpu) if args.cpu is not None else 'unpinned'}) |"
    )
    print("|---|---|")
    for name, s in t.items():
        print(f"| {name} | {s:.2f} |")
    print(f"| **total** | **{sum(t.values()):.2f}** |")
    rejected = 1 - strong / n_pairs if n_pairs else 0.0
    print(
        f"\ncandidate pairs {n_pairs:,} ({n_pairs / args.n:.1f} an article), {strong:,} at the threshold: "
        f"verification rejects {rejected:.1%}"
    )


if __name__ == "__main__":
    main()
