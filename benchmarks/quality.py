"""Quality of story clustering on real labelled news, against baselines.

    python benchmarks/quality.py            # full run, writes benchmarks/results/
    python benchmarks/quality.py --quick    # fewer folds and thresholds (a smoke test)

Data (bundled in ``benchmarks/data``, nothing is downloaded):

* **ECB+** topics 1-30: 663 articles, 56 gold stories. Each topic holds two
  different real events of the same kind, so the other event of a topic is a
  hard negative (same vocabulary, another story). The seed pair
  (``seeds/``: one story told twice with little shared phrasing) is mixed in;
  it must come out joined and alone.
* **UCI News Aggregator** subset: 3,594 headlines (title only) in 53 stories,
  the short-text case.

Metrics (:func:`scores`): adjusted Rand index; B-cubed precision, recall and
F1; pairwise precision, recall and F1; number of clusters. For dedup's own
pipeline also the recall of the candidate stage -- the share of the pairs that
all-pairs verification would confirm (cosine >= threshold over the same
TF-IDF vectors) that LSH proposes -- and candidates per article.

Honest evaluation: dedup's parameters are chosen by cross-validation over
ECB+ *topics* (5 folds: choose on four fifths of the topics, score the
held-out topics with :func:`dedup.cluster_articles`); per-fold figures are
reported. UCI is scored by cross-validation over stories the same way, and
the shipped defaults -- never tuned on UCI -- are scored on it as well.
Baselines are built the way a user would build them, with datasketch and
scikit-learn directly: the textbook word-5-gram MinHash/LSH at 0.8 with
connected components; a text-dedup-style news setup (word 2-grams, 256
permutations, threshold 0.45, connected components); all-pairs TF-IDF cosine
with connected components and with average linkage, each at its *best*
threshold on the full data (oracles: they peek at the labels).

Writes ``benchmarks/results/quality.md`` (tables), ``quality.json`` (every
figure) and ``quality-threshold.png`` (precision/recall against threshold).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # benchmark the checkout, also when run as a script
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from scipy.cluster.hierarchy import fcluster  # noqa: E402
from scipy.cluster.hierarchy import linkage as scipy_linkage  # noqa: E402
from scipy.sparse.csgraph import connected_components  # noqa: E402
from scipy.spatial.distance import squareform  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402

from dedup import Params, cluster_articles  # noqa: E402
from dedup.cluster import link  # noqa: E402
from dedup.pipeline import compute_features, find_candidates, prepare_articles, score_pairs  # noqa: E402

DATA = ROOT / "benchmarks" / "data"
ECBPLUS = DATA / "ecbplus" / "ecbplus_docs.jsonl"
UCI = DATA / "uci-news-aggregator-subset" / "uci_news_aggregator_subset.csv"
SEEDS = ROOT / "seeds"
RESULTS = ROOT / "benchmarks" / "results"

SEED_LABEL = "__seed__"


# --- data -------------------------------------------------------------------

@dataclass(frozen=True)
class Doc:
    id: str
    text: str
    gold: str
    group: str  # the unit of cross-validation: ECB+ topic, UCI story
    published: datetime | None = None

    def as_input(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "text": self.text}
        if self.published is not None:
            d["published"] = self.published
        return d


def load_ecbplus(path: Path = ECBPLUS) -> list[Doc]:
    with path.open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [Doc(id=r["doc_id"], text=r["text"], gold=r["cluster_id"], group=str(r["topic"])) for r in rows]


def load_seeds(path: Path = SEEDS) -> list[Doc]:
    return [Doc(id=p.stem, text=p.read_text(encoding="utf-8"), gold=SEED_LABEL, group=SEED_LABEL)
            for p in sorted(path.glob("*.txt"))]


def load_uci(path: Path = UCI) -> list[Doc]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [
        Doc(id="uci" + r["ID"], text=r["TITLE"], gold=r["STORY"], group=r["STORY"],
            published=datetime.fromtimestamp(int(r["TIMESTAMP"]) / 1000.0, tz=timezone.utc))
        for r in rows
    ]


# --- metrics ----------------------------------------------------------------

def _contingency(gold: Sequence[Any], pred: Sequence[Any]) -> sp.csr_matrix:
    if len(gold) != len(pred):
        raise ValueError("gold and pred differ in length")
    _, g = np.unique(np.asarray(gold, dtype=object).astype(str), return_inverse=True)
    _, p = np.unique(np.asarray(pred, dtype=object).astype(str), return_inverse=True)
    m = sp.coo_matrix((np.ones(len(g)), (g, p)), shape=(g.max(initial=-1) + 1, p.max(initial=-1) + 1)).tocsr()
    m.sum_duplicates()
    return m


def bcubed(gold: Sequence[Any], pred: Sequence[Any]) -> tuple[float, float, float]:
    """B-cubed precision, recall, F1 (Bagga & Baldwin): per item, the share of
    its predicted cluster that shares its gold label (precision) and the share
    of its gold cluster that shares its predicted cluster (recall), averaged."""
    n = len(gold)
    if n == 0:
        return 1.0, 1.0, 1.0
    c = _contingency(gold, pred)
    gold_size = np.asarray(c.sum(axis=1)).ravel()
    pred_size = np.asarray(c.sum(axis=0)).ravel()
    coo = c.tocoo()
    sq = coo.data ** 2
    precision = float((sq / pred_size[coo.col]).sum() / n)
    recall = float((sq / gold_size[coo.row]).sum() / n)
    return precision, recall, _f1(precision, recall)


def pairwise(gold: Sequence[Any], pred: Sequence[Any]) -> tuple[float, float, float]:
    """Pairwise precision, recall, F1 over all unordered pairs of items:
    a pair is positive when both items share a cluster. With no predicted
    pairs precision is 1; with no gold pairs recall is 1."""
    c = _contingency(gold, pred)

    def pairs(x: np.ndarray) -> float:
        return float((x * (x - 1) / 2).sum())

    both = pairs(c.tocoo().data)
    in_gold = pairs(np.asarray(c.sum(axis=1)).ravel())
    in_pred = pairs(np.asarray(c.sum(axis=0)).ravel())
    precision = both / in_pred if in_pred else 1.0
    recall = both / in_gold if in_gold else 1.0
    return precision, recall, _f1(precision, recall)


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def scores(gold: Sequence[Any], pred: Sequence[Any]) -> dict[str, float]:
    """All clustering metrics of ``pred`` against ``gold`` (labels per item)."""
    bp, br, bf = bcubed(gold, pred)
    pp, pr, pf = pairwise(gold, pred)
    return {
        "ari": float(adjusted_rand_score(gold, pred)),
        "b3_p": bp, "b3_r": br, "b3_f1": bf,
        "pair_p": pp, "pair_r": pr, "pair_f1": pf,
        "clusters": int(len(set(pred))),
        "gold_clusters": int(len(set(gold))),
        "n": len(gold),
    }


# --- dedup, as a user calls it ------------------------------------------------

def run_dedup(docs: Sequence[Doc], params: Params) -> list[str]:
    """Cluster label per doc from :func:`dedup.cluster_articles`."""
    result = cluster_articles([d.as_input() for d in docs], params=params, errors="raise")
    label = {a.id: c.id for c in result for a in c.members}
    return [label[d.id] for d in docs]


# --- dedup, scored once and linked at many thresholds ---------------------------

@dataclass
class Graph:
    """dedup's scored candidate graph of a batch (rows in the docs' order)."""

    n: int
    pairs: np.ndarray
    scored: Any  # dedup.pipeline.ScoredPairs, rows in canonical order
    order: np.ndarray  # canonical row -> doc position
    tfidf: sp.csr_matrix  # rows in canonical order
    seconds: float = 0.0

    _tree: Any = None

    def labels(self, params: Params) -> np.ndarray:
        """Labels per doc at ``params.threshold``. Average linkage is cut from
        one dendrogram (scipy, unscored pairs at similarity 0 -- the same
        rule as :func:`dedup.cluster.link`, which :meth:`check` confirms);
        other linkages call :func:`dedup.cluster.link`."""
        if params.linkage == "average" and self.n <= 6000:
            return cut(self._dendrogram(), params.threshold)[np.argsort(self.order)]
        lab = link(self.n, self.scored, params)
        out = np.empty(self.n, dtype=np.int64)
        out[self.order] = self.order[lab]
        return out

    def _dendrogram(self) -> Any:
        if self._tree is None:
            p, s = self.scored.pairs, self.scored.cosine
            dist = np.ones((self.n, self.n))
            dist[p[:, 0], p[:, 1]] = dist[p[:, 1], p[:, 0]] = 1.0 - s
            np.fill_diagonal(dist, 0.0)
            self._tree = scipy_linkage(squareform(dist, checks=False), method="average")
        return self._tree

    def check(self, params: Params) -> bool:
        """Whether the dendrogram cut equals :func:`dedup.cluster.link` at ``params``."""
        lab = link(self.n, self.scored, params)
        ref = np.empty(self.n, dtype=np.int64)
        ref[self.order] = self.order[lab]
        return adjusted_rand_score(ref, self.labels(params)) == 1.0


def dedup_graph(docs: Sequence[Doc], params: Params) -> Graph:
    """The same steps as :func:`dedup.cluster_articles`, kept apart so that one
    scored graph serves every threshold (linkage is the only step that reads it)."""
    t0 = time.perf_counter()
    good, _ = prepare_articles([d.as_input() for d in docs], errors="raise")
    arts, features = compute_features(good, params)
    position = {d.id: i for i, d in enumerate(docs)}
    order = np.array([position[a.id] for a in arts], dtype=np.int64)
    pairs = find_candidates(features, params)
    scored = score_pairs(features, pairs)
    return Graph(n=len(arts), pairs=pairs, scored=scored, order=np.asarray(order), tfidf=features.tfidf,
                 seconds=time.perf_counter() - t0)


def candidate_recall(g: Graph, threshold: float) -> dict[str, float]:
    """Share of the pairs that all-pairs verification confirms (cosine >=
    ``threshold`` over the same vectors) that the candidate stage proposes."""
    sims = (g.tfidf @ g.tfidf.T).tocoo()
    keep = (sims.row < sims.col) & (sims.data >= threshold)
    confirmed = set(zip(sims.row[keep].tolist(), sims.col[keep].tolist()))
    proposed = set(map(tuple, g.pairs.tolist()))
    hit = len(confirmed & proposed)
    return {
        "candidate_recall": hit / len(confirmed) if confirmed else 1.0,
        "confirmed_pairs": len(confirmed),
        "candidates": len(proposed),
        "candidates_per_article": len(proposed) / g.n if g.n else 0.0,
    }


# --- baselines, built as a user would ---------------------------------------------

_WORD_RE = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    return _WORD_RE.findall(text.lower())


def _shingles(text: str, n: int) -> set[bytes]:
    w = _words(text)
    if len(w) < n:  # text-dedup's rule: a short text is one shingle
        return {" ".join(w).encode()} if w else set()
    return {" ".join(w[i : i + n]).encode() for i in range(len(w) - n + 1)}


def _components(n: int, pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    p = np.asarray(list(pairs), dtype=np.int64).reshape(-1, 2)
    g = sp.coo_matrix((np.ones(len(p)), (p[:, 0], p[:, 1])), shape=(n, n))
    return connected_components(g, directed=False)[1]


def minhash_lsh_cc(docs: Sequence[Doc], ngram: int, num_perm: int, threshold: float) -> np.ndarray:
    """datasketch MinHash over word n-gram shingles, MinHashLSH at ``threshold``,
    connected components of the pairs sharing a bucket (as text-dedup does)."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    hashes = []
    for i, d in enumerate(docs):
        m = MinHash(num_perm=num_perm, seed=1)
        sh = _shingles(d.text, ngram)
        m.update_batch(list(sh))
        hashes.append(m)
        if sh:
            lsh.insert(str(i), m)
    pairs = []
    for i, m in enumerate(hashes):
        if _shingles(docs[i].text, ngram):
            pairs += [(i, int(j)) for j in lsh.query(m) if int(j) != i]
    return _components(len(docs), pairs)


def sklearn_tfidf(docs: Sequence[Doc]) -> sp.csr_matrix:
    """scikit-learn TF-IDF, unigrams and bigrams, sublinear tf, L2 rows."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform([d.text for d in docs])


def all_pairs_cc(sims: sp.coo_matrix, n: int, threshold: float) -> np.ndarray:
    keep = (sims.row < sims.col) & (sims.data >= threshold)
    return _components(n, zip(sims.row[keep].tolist(), sims.col[keep].tolist()))


def average_linkage_tree(x: sp.csr_matrix) -> np.ndarray:
    """SciPy average-linkage dendrogram over all pairs' cosine distance (the
    same clustering as scikit-learn's ``AgglomerativeClustering(linkage=
    "average", metric="cosine")``, built once and cut at every threshold)."""
    dist = 1.0 - (x @ x.T).toarray()
    np.fill_diagonal(dist, 0.0)
    return scipy_linkage(squareform(np.clip(dist, 0.0, None), checks=False), method="average")


def cut(tree: np.ndarray, threshold: float) -> np.ndarray:
    """Flat clusters of a similarity dendrogram: merges at similarity >= ``threshold``."""
    return fcluster(tree, 1.0 - threshold + 1e-12, criterion="distance")


# --- cross-validation -----------------------------------------------------------

def folds_of(groups: Sequence[str], k: int, seed: int = 0) -> list[set[str]]:
    """``k`` folds of the distinct groups, assigned by a seeded shuffle."""
    distinct = sorted(set(groups))
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(distinct))
    return [{distinct[i] for i in perm[f::k]} for f in range(k)]


@dataclass
class Candidate:
    """One point of the parameter grid: features-level params + thresholds."""

    name: str
    params: Params
    thresholds: Sequence[float]


def choose(train: Sequence[Doc], grid: Sequence[Candidate], metric: str = "ari") -> tuple[Params, float, list[dict]]:
    """The grid point with the best ``metric`` on ``train`` (ties: the first)."""
    gold = [d.gold for d in train]
    best: tuple[float, Params] | None = None
    curve = []
    for cand in grid:
        g = dedup_graph(train, cand.params)
        for t in cand.thresholds:
            p = cand.params.with_(threshold=float(t))
            s = scores(gold, g.labels(p))
            curve.append({"name": cand.name, "threshold": float(t), **s})
            if best is None or s[metric] > best[0] + 1e-12:
                best = (s[metric], p)
    assert best is not None
    return best[1], best[0], curve


def cross_validate(docs: Sequence[Doc], grid: Sequence[Candidate], k: int, extra: Sequence[Doc] = (),
                   metric: str = "ari", log: Callable[[str], None] = print) -> list[dict]:
    """Per fold: choose on the other folds' groups, score the held-out groups
    with :func:`dedup.cluster_articles` (``extra`` docs are mixed into the
    held-out batch, not scored, but reported: e.g. the seed pair)."""
    out = []
    for f, held in enumerate(folds_of([d.group for d in docs], k)):
        train = [d for d in docs if d.group not in held]
        test = [d for d in docs if d.group in held]
        chosen, train_score, _ = choose(train, grid, metric)
        batch = list(test) + list(extra)
        pred = run_dedup(batch, chosen)
        s = scores([d.gold for d in test], pred[: len(test)])
        row = {"fold": f + 1, "held_out": sorted(held, key=_natural), "n_test": len(test),
               "chosen": _param_summary(chosen), "train_" + metric: train_score, **s}
        if extra:
            row["seed_joined_alone"] = _joined_alone(pred, len(test), len(extra))
        row["_pred"] = [f"{f}:{x}" for x in pred[: len(test)]]
        row["_ids"] = [d.id for d in test]
        out.append(row)
        log(f"  fold {f + 1}: chose {row['chosen']} (train {metric} {train_score:.3f}) -> "
            f"held-out ARI {s['ari']:.3f}, B3 F1 {s['b3_f1']:.3f}")
    return out


def _joined_alone(pred: Sequence[Any], start: int, count: int) -> bool:
    labels = set(pred[start : start + count])
    if len(labels) != 1:
        return False
    (lab,) = labels
    return sum(1 for x in pred if x == lab) == count


def _natural(s: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s))


def _param_summary(p: Params, base: Params | None = None) -> str:
    base = base or Params()
    diff = {k: v for k, v in p.to_dict().items() if v != base.to_dict()[k] or k == "threshold"}
    return ", ".join(f"{k}={_fmt(v)}" for k, v in diff.items())


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


# --- the benchmark ----------------------------------------------------------------

def threshold_grid(quick: bool) -> np.ndarray:
    return np.round(np.arange(0.01, 0.41, 0.04 if quick else 0.01), 3)


def parameter_grid(quick: bool) -> list[Candidate]:
    """What cross-validation chooses among: the threshold, for the default
    features. (Feature variants that were measured and did not help are listed
    in the README, not searched here, to keep the run short.)"""
    base = Params()
    return [Candidate("default features", base, threshold_grid(quick))]


@dataclass
class Report:
    quick: bool
    sections: dict[str, Any] = field(default_factory=dict)


def evaluate_dataset(name: str, docs: list[Doc], extra: list[Doc], k: int, quick: bool,
                     log: Callable[[str], None]) -> dict[str, Any]:
    gold = [d.gold for d in docs]
    n = len(docs)
    res: dict[str, Any] = {"name": name, "n": n, "gold_clusters": len(set(gold))}
    rows: list[dict[str, Any]] = []

    # dedup, shipped defaults, the whole data set (+ extra docs mixed in).
    defaults = Params()
    t0 = time.perf_counter()
    pred = run_dedup(docs + extra, defaults)
    secs = time.perf_counter() - t0
    row = {"method": "dedup `cluster_articles()`, defaults", "tuning": "none (defaults)", "seconds": secs,
           **scores(gold, pred[:n])}
    if extra:
        row["seed_joined_alone"] = _joined_alone(pred, n, len(extra))
    g = dedup_graph(docs + extra, defaults)
    row.update(candidate_recall(g, defaults.threshold))
    res["dendrogram_matches_link"] = g.check(defaults)  # the fast threshold sweep is the library's linkage
    rows.append(row)
    log(f"{name}: dedup defaults ARI {row['ari']:.3f} B3 F1 {row['b3_f1']:.3f} "
        f"candidate recall {row['candidate_recall']:.3f} ({row['candidates_per_article']:.1f}/article) in {secs:.1f}s")

    # dedup, cross-validated over groups.
    log(f"{name}: {k}-fold cross-validation over {'topics' if extra else 'stories'}")
    cv = cross_validate(docs, parameter_grid(quick), k, extra=extra, log=log)
    # Pooled held-out predictions (each article predicted by the fold that held it out),
    # scored as one clustering: comparable with the whole-set rows.
    pooled = {i: lab for r in cv for i, lab in zip(r.pop("_ids"), r.pop("_pred"))}
    res["cv"] = cv
    res["cv_mean"] = {m: float(np.mean([r[m] for r in cv])) for m in ("ari", "b3_p", "b3_r", "b3_f1", "pair_p",
                                                                     "pair_r", "pair_f1")}
    row = {"method": f"dedup `cluster_articles()`, parameters by {k}-fold CV", "tuning": "CV (pooled held-out)",
           **scores(gold, [pooled[d.id] for d in docs])}
    if extra:
        row["seed_joined_alone"] = all(r["seed_joined_alone"] for r in cv)
    rows.append(row)

    # dedup's curve against the threshold on the whole set (descriptive, for the plot).
    g = dedup_graph(docs + extra, defaults)
    curve = []
    for t in threshold_grid(quick):
        s = scores(gold, g.labels(defaults.with_(threshold=float(t)))[:n])
        curve.append({"threshold": float(t), **s})
    res["dedup_curve"] = curve

    # Baselines.
    for label, ngram, perms, th in (("textbook: word 5-gram MinHash, LSH 0.8, conn. components", 5, 128, 0.8),
                                    ("text-dedup-style news: word 2-grams, 256 perm, LSH 0.45, conn. comp.", 2, 256, 0.45)):
        t0 = time.perf_counter()
        pred = minhash_lsh_cc(docs, ngram, perms, th)
        rows.append({"method": label, "tuning": "none", "seconds": time.perf_counter() - t0, **scores(gold, pred)})
        log(f"{name}: {label}: ARI {rows[-1]['ari']:.3f}")
    x = sklearn_tfidf(docs)
    sims = (x @ x.T).tocoo()
    ths = threshold_grid(quick) if quick else np.round(np.arange(0.02, 0.61, 0.01), 3)
    cc_curve = [{"threshold": float(t), **scores(gold, all_pairs_cc(sims, n, t))} for t in ths]
    best = max(cc_curve, key=lambda r: r["ari"])
    rows.append({"method": f"all-pairs TF-IDF cosine, conn. components @ {best['threshold']:.2f}",
                 "tuning": "oracle (best threshold on the labels)", **{k_: v for k_, v in best.items() if k_ != "threshold"}})
    res["cc_curve"] = cc_curve
    log(f"{name}: all-pairs TF-IDF + CC best ARI {best['ari']:.3f} at {best['threshold']:.2f}")
    if n <= 5000:
        avg_ths = ths
        tree = average_linkage_tree(x)
        avg_curve = [{"threshold": float(t), **scores(gold, cut(tree, t))} for t in avg_ths]
        best = max(avg_curve, key=lambda r: r["ari"])
        rows.append({"method": f"all-pairs TF-IDF cosine, average linkage @ {best['threshold']:.2f}",
                     "tuning": "oracle (best threshold on the labels)",
                     **{k_: v for k_, v in best.items() if k_ != "threshold"}})
        res["avg_curve"] = avg_curve
        log(f"{name}: all-pairs TF-IDF + average linkage best ARI {best['ari']:.3f} at {best['threshold']:.2f}")
    res["rows"] = rows
    return res


def render_markdown(report: dict[str, Any]) -> str:
    out = ["# Quality benchmark", "",
           f"Generated by `python benchmarks/quality.py`{' --quick' if report['quick'] else ''} "
           f"in {report['seconds']:.0f} s. Defaults: `{report['defaults']}`.", "",
           "ARI = adjusted Rand index; B³ = B-cubed; pair = pairwise precision/recall/F1 over all "
           "article pairs. *Oracle* rows choose their threshold on the very labels they are scored on "
           "(an upper bound for that method, not a fair score); *CV* rows choose on training folds and "
           "are scored on held-out folds.", ""]
    for ds in report["datasets"]:
        out += [f"## {ds['title']}", "", ds["blurb"], ""]
        head = ["method", "tuning", "ARI", "B³ P", "B³ R", "B³ F1", "pair P", "pair R", "pair F1", "clusters"]
        has_seed = any("seed_joined_alone" in r for r in ds["rows"])
        if has_seed:
            head.append("seed pair joined, alone")
        out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in ds["rows"]:
            cells = [r["method"], r["tuning"], f"{r['ari']:.3f}", f"{r['b3_p']:.3f}", f"{r['b3_r']:.3f}",
                     f"{r['b3_f1']:.3f}", f"{r['pair_p']:.3f}", f"{r['pair_r']:.3f}", f"{r['pair_f1']:.3f}",
                     f"{r['clusters']:.0f} (gold {r['gold_clusters']:.0f})"]
            if has_seed:
                cells.append({True: "yes", False: "no"}.get(r.get("seed_joined_alone"), "–"))
            out.append("| " + " | ".join(cells) + " |")
        d = ds["rows"][0]
        out += ["", f"Candidate stage (defaults, threshold {report['threshold']:g}): recall "
                f"**{d['candidate_recall']:.3f}** of the {d['confirmed_pairs']} pairs all-pairs verification "
                f"confirms, {d['candidates_per_article']:.1f} candidates per article.", ""]
        out += ["Cross-validation folds (chosen on the other folds, scored on these):", "",
                "| fold | held out | chosen | train ARI | ARI | B³ F1 | pair F1 | clusters |"
                + (" seed |" if has_seed else ""),
                "|---|---|---|---|---|---|---|---|" + ("---|" if has_seed else "")]
        for r in ds["cv"]:
            held = ", ".join(r["held_out"]) if len(r["held_out"]) <= 8 else f"{len(r['held_out'])} stories"
            line = (f"| {r['fold']} | {held} | {r['chosen']} | {r['train_ari']:.3f} | {r['ari']:.3f} | "
                    f"{r['b3_f1']:.3f} | {r['pair_f1']:.3f} | {r['clusters']} (gold {r['gold_clusters']}) |")
            if has_seed:
                line += " yes |" if r["seed_joined_alone"] else " no |"
            out.append(line)
        m = ds["cv_mean"]
        out += [f"| mean | | | | {m['ari']:.3f} | {m['b3_f1']:.3f} | {m['pair_f1']:.3f} | |"
                + (" |" if has_seed else ""), ""]
    return "\n".join(out) + "\n"


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = report["datasets"]
    fig, axes = plt.subplots(1, len(sets), figsize=(6 * len(sets), 4.2), squeeze=False)
    for ax, ds in zip(axes[0], sets):
        c = ds["dedup_curve"]
        t = [r["threshold"] for r in c]
        ax.plot(t, [r["b3_p"] for r in c], label="dedup B³ precision", color="tab:blue")
        ax.plot(t, [r["b3_r"] for r in c], label="dedup B³ recall", color="tab:orange")
        ax.plot(t, [r["ari"] for r in c], label="dedup ARI", color="black", lw=2)
        if "avg_curve" in ds:
            a = ds["avg_curve"]
            ax.plot([r["threshold"] for r in a], [r["ari"] for r in a], ls="--", color="gray",
                    label="all-pairs TF-IDF, average linkage: ARI")
        cc = ds["cc_curve"]
        ax.plot([r["threshold"] for r in cc], [r["ari"] for r in cc], ls=":", color="gray",
                label="all-pairs TF-IDF, conn. components: ARI")
        ax.axvline(report["threshold"], color="tab:red", lw=1, label=f"default threshold {report['threshold']:g}")
        ax.set_xlim(0, 0.4)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("cosine threshold")
        ax.set_title(ds["title"])
        ax.grid(alpha=0.3)
    axes[0][0].legend(loc="lower left", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="coarser threshold grid (a smoke test, ~1 min)")
    ap.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="output folder (default benchmarks/results)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    log = lambda s: print(s, flush=True)  # noqa: E731
    ecb, seeds, uci = load_ecbplus(), load_seeds(), load_uci()
    datasets = []
    r = evaluate_dataset("ECB+", ecb, seeds, args.folds, args.quick, log)
    r["title"] = "ECB+ topics 1–30 (663 articles, 56 stories) + the seed pair"
    r["blurb"] = ("Full news articles; each topic holds two real events of the same kind, so the other event is a "
                  "hard negative. Scores are over the ECB+ articles; the seed pair is mixed in and must come out "
                  "joined and alone. CV: 5 folds of topics.")
    datasets.append(r)
    r = evaluate_dataset("UCI", uci, [], args.folds, args.quick, log)
    r["title"] = "UCI News Aggregator subset (3,594 headlines, 53 stories)"
    r["blurb"] = ("Headlines only. The defaults were not tuned on this set, so the defaults row is out of sample; "
                  "CV: 5 folds of stories.")
    datasets.append(r)
    report = {"quick": args.quick, "seconds": time.perf_counter() - t0, "defaults": _param_summary(Params()),
              "threshold": Params().threshold, "params": Params().to_dict(), "datasets": datasets}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "quality.md").write_text(render_markdown(report), encoding="utf-8")
    (args.out / "quality.json").write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")
    plot(report, args.out / "quality-threshold.png")
    log(f"wrote {args.out / 'quality.md'}, quality.json, quality-threshold.png in {report['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
