"""The quality benchmark's metrics on hand-made examples, and one small CV fold."""

from __future__ import annotations

import importlib.util
import math
import sys

import pytest

from .conftest import ROOT

_spec = importlib.util.spec_from_file_location("quality", ROOT / "benchmarks" / "quality.py")
quality = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("quality", quality)  # dataclasses look their module up
_spec.loader.exec_module(quality)


def test_bcubed_by_hand():
    # gold: {a,b,c} {d,e}; pred: {a,b} {c,d,e}
    gold = [1, 1, 1, 2, 2]
    pred = ["x", "x", "y", "y", "y"]
    p, r, f = quality.bcubed(gold, pred)
    # precision per item: a 2/2, b 2/2, c 1/3, d 2/3, e 2/3 -> 11/3 / 5
    assert p == pytest.approx((1 + 1 + 1 / 3 + 2 / 3 + 2 / 3) / 5)
    # recall per item: a 2/3, b 2/3, c 1/3, d 2/2, e 2/2
    assert r == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 1 + 1) / 5)
    assert f == pytest.approx(2 * p * r / (p + r))


def test_pairwise_by_hand():
    gold = [1, 1, 1, 2, 2]
    pred = ["x", "x", "y", "y", "y"]
    p, r, f = quality.pairwise(gold, pred)
    # predicted pairs: ab, cd, ce, de (4); right: ab, de (2); gold pairs: ab ac bc de (4)
    assert (p, r) == (pytest.approx(0.5), pytest.approx(0.5))
    assert f == pytest.approx(0.5)


def test_perfect_and_all_singletons():
    gold = ["s", "s", "t", "u", "u", "u"]
    s = quality.scores(gold, [10, 10, 20, 30, 30, 30])
    assert s["ari"] == pytest.approx(1.0) and s["b3_f1"] == pytest.approx(1.0) and s["pair_f1"] == pytest.approx(1.0)
    s = quality.scores(gold, list(range(6)))
    assert s["b3_p"] == 1.0 and s["pair_p"] == 1.0 and s["pair_r"] == 0.0
    assert s["b3_r"] == pytest.approx((0.5 + 0.5 + 1 + 1 / 3 + 1 / 3 + 1 / 3) / 6)
    assert s["clusters"] == 6 and s["gold_clusters"] == 3


def test_folds_partition_groups():
    groups = [str(g) for g in range(1, 31)]
    folds = quality.folds_of(groups, 5)
    assert len(folds) == 5 and all(len(f) == 6 for f in folds)
    assert set().union(*folds) == set(groups)
    assert quality.folds_of(groups, 5) == folds  # seeded


def test_small_cross_validation_runs():
    ecb = [d for d in quality.load_ecbplus() if d.group in {"1", "3", "6", "8"}]
    uci = quality.load_uci()
    stories = sorted({d.group for d in uci})[:4]
    tasks = [
        quality.Task("ECB+", ecb, quality.load_seeds()),
        quality.Task("UCI", [d for d in uci if d.group in stories]),
    ]
    variants = [
        {"short_text_terms": 0, "neighbourhood": 0, "neighbourhood_weight": 0.0},
        {"short_text_terms": 100, "neighbourhood": 4, "neighbourhood_weight": 0.5},
    ]
    cv = quality.cross_validate(tasks, variants, [0.05, 0.2], k=2, log=lambda s: None)
    for name in ("ECB+", "UCI"):
        rows = cv["rows"][name]
        assert [r["fold"] for r in rows] == [1, 2]
        for r in rows:
            assert -1.0 <= r["ari"] <= 1.0 and 0.0 <= r["b3_f1"] <= 1.0
            assert r["n_test"] > 0 and "threshold=" in r["chosen"] and not math.isnan(r["train_ari"])
        # every article is predicted by exactly the fold that held it out
        assert set(cv["pooled"][name]) == {d.id for t in tasks if t.name == name for d in t.docs}
    assert all(isinstance(r["seed_joined_alone"], bool) for r in cv["rows"]["ECB+"])


def test_story_similarity_rules():
    import numpy as np

    from dedup.scoring import story_similarity

    pairs = np.array([[0, 1], [2, 3]])
    cos = np.array([0.1, 0.1])
    terms = np.array([16, 16, 400, 400])
    s = story_similarity(pairs, cos, terms, 4, short_text_terms=100)
    assert s[0] == pytest.approx(0.1 * 100 / 16) and s[1] == pytest.approx(0.1)  # only short texts scale
    assert np.array_equal(story_similarity(pairs, cos, terms, 4), cos)  # both rules off: the cosine


def test_dendrogram_sweep_matches_library_linkage():
    docs = [d for d in quality.load_ecbplus() if d.group in {"1", "3"}]
    g = quality.dedup_graph(docs, quality.Params())
    for t in (0.05, 0.1, 0.2):
        assert g.check(quality.Params(threshold=t))


def test_candidate_recall_is_a_share():
    docs = [d for d in quality.load_ecbplus() if d.group in {"2"}]
    g = quality.dedup_graph(docs, quality.Params())
    r = quality.candidate_recall(g, quality.Params())
    assert 0.0 <= r["candidate_recall"] <= 1.0 and r["candidates_per_article"] >= 0


# --- the evaluation protocol ---------------------------------------------------------


def test_final_split_is_locked_seeded_and_disjoint():
    groups = [str(g) for g in range(1, 31)]
    locked = quality.final_groups(groups)
    assert len(locked) == round(quality.FINAL_SHARE * 30) and locked <= set(groups)
    assert quality.final_groups(list(reversed(groups))) == locked  # depends on the names only, not their order
    assert quality.final_groups(groups, seed=quality.FINAL_SEED + 1) != locked
    docs = [quality.Doc(id=f"d{i}", text="x", gold=g, group=g) for i, g in enumerate(groups * 2)]
    (dev,), (final,) = quality.split_tasks([quality.Task("T", docs)])
    assert {d.group for d in final.docs} == locked
    assert not {d.group for d in dev.docs} & locked and len(dev.docs) + len(final.docs) == len(docs)


def test_spread_and_undated():
    s = quality.spread([{"ari": 0.8}, {"ari": 0.9}, {"ari": 1.0}])
    assert s["mean"] == pytest.approx(0.9) and s["sd"] == pytest.approx(0.1) and s["values"] == [0.8, 0.9, 1.0]
    uci = quality.load_uci()[:3]
    assert all(d.published is not None for d in uci)
    assert all(d.published is None for d in quality.undated(uci))
    tasks = quality.with_undated([quality.Task("UCI", uci)])
    assert [t.name for t in tasks] == ["UCI", "UCI undated"] and not tasks[1].select


def test_cross_validation_reports_in_sample_and_scores_undated_without_choosing_on_it():
    uci = quality.load_uci()
    stories = sorted({d.group for d in uci})[:4]
    dated = quality.Task("UCI", [d for d in uci if d.group in stories])
    variants = [{"short_text_terms": 100, "neighbourhood": 4, "neighbourhood_weight": 0.5}]
    tasks = quality.with_undated([dated])
    rep = quality.cv_report(tasks, variants, [0.05, 0.1], k=2, log=lambda s: None)
    for name in ("UCI", "UCI undated"):
        m = rep["summary"][name]
        assert len(m["ari"]["values"]) == 2 and m["gap"] == pytest.approx(m["in_sample_ari"]["mean"] - m["ari"]["mean"])
    assert all(math.isnan(r["train_ari"]) for r in rep["cv"]["rows"]["UCI undated"])


def test_withholding_dates_costs_little_on_development_headlines():
    # issue 17: dates are a hint, not a crutch. Eight development stories (never the locked final split).
    uci = quality.load_uci()
    locked = quality.final_groups([d.group for d in uci])
    stories = sorted({d.group for d in uci} - locked)[:8]
    docs = [d for d in uci if d.group in stories]
    gold = [d.gold for d in docs]
    params = quality.Params()
    dated = quality.scores(gold, quality.run_dedup(docs, params))["ari"]
    undated = quality.scores(gold, quality.run_dedup(quality.undated(docs), params))["ari"]
    assert undated >= dated - 0.02, (dated, undated)
    assert dated > 0.5  # and the headlines do cluster
