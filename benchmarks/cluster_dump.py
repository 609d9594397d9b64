"""Every cluster, representative, version and score of ``cluster_articles`` on
fixed inputs, written bit for bit (floats as hex), to prove a refactor changes
no output: run it before and after, then compare the two files.

    python benchmarks/cluster_dump.py before.json     # on the old code
    python benchmarks/cluster_dump.py after.json      # on the new code
    cmp before.json after.json

Inputs: ECB+ (file order, shuffled, with ``max_terms=48, max_partners=3``, with
single linkage), the seed pair, the UCI headlines with and without dates (and
some with articles that have no words: the ``empty`` flag), and 6,000
generated articles with one and two jobs.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dedup import cluster_articles  # noqa: E402
from dedup.synth import generate_articles  # noqa: E402

DATA = ROOT / "benchmarks" / "data"


def dump(clusters) -> dict:
    """The clustering as plain, exactly comparable values."""
    out = [
        {
            "ids": list(c.ids),
            "rep": c.representative.id,
            "flags": sorted(c.flags),
            "versions": [[a.id for a in v.members] for v in c.versions],
            "scores": [
                [s.a, s.b, float(s.cosine).hex(), float(s.jaccard).hex(), float(s.score).hex()] for s in c.scores
            ],
        }
        for c in clusters
    ]
    return {"clusters": sorted(out, key=lambda d: d["ids"]), "rejected": [str(r) for r in clusters.rejected]}


def inputs() -> dict[str, tuple[list, dict]]:
    with (DATA / "ecbplus" / "ecbplus_docs.jsonl").open(encoding="utf-8") as f:
        ecb = [{"id": d["doc_id"], "text": d["text"]} for d in map(json.loads, f)]
    seeds = [{"id": p.name, "text": p.read_text(encoding="utf-8")} for p in sorted((ROOT / "seeds").iterdir())]
    with (DATA / "uci-news-aggregator-subset" / "uci_news_aggregator_subset.csv").open(encoding="utf-8") as f:
        uci = [{"id": r["ID"], "text": r["TITLE"], "published": int(r["TIMESTAMP"]) / 1000} for r in csv.DictReader(f)]
    shuffled = list(ecb)
    random.Random(5).shuffle(shuffled)
    gen = list(generate_articles(6000, seed=3))
    return {
        "ecb": (ecb + seeds, {}),
        "ecb_shuffled": (shuffled + seeds, {}),
        "ecb_mt48_mp3": (ecb, {"max_terms": 48, "max_partners": 3}),
        "ecb_single": (ecb, {"linkage": "single", "threshold": 0.2}),
        "uci": (uci, {}),
        "uci_empties": (
            uci[:300] + [{"id": f"e{i}", "text": t} for i, t in enumerate(["", "   ", "!!!", "-- --"])],
            {},
        ),
        "uci_nodate": ([{k: v for k, v in d.items() if k != "published"} for d in uci], {}),
        "gen6k": (gen, {}),
        "gen6k_j2": (gen, {"n_jobs": 2}),
    }


def main(dst: str) -> None:
    res = {name: dump(cluster_articles(docs, **kw)) for name, (docs, kw) in inputs().items()}
    Path(dst).write_text(json.dumps(res, sort_keys=True), encoding="utf-8")
    for name, v in res.items():
        digest = hashlib.sha1(json.dumps(v, sort_keys=True).encode()).hexdigest()[:12]
        print(f"{name}: {len(v['clusters'])} clusters, {digest}")


if __name__ == "__main__":
    main(sys.argv[1])
