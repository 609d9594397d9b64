"""cluster_articles(): stories from raw text, on the seeds, ECB+ and bad input."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup import Article, ArticleError, DedupWarning, Params, cluster_articles
from dedup.cluster import link
from dedup.pipeline import ScoredPairs

from .conftest import ROOT


def _partition(result) -> set[frozenset[str]]:
    return {frozenset(c.ids) for c in result}


def _text_partition(result) -> set[frozenset[str]]:
    return {frozenset(a.text for a in c.members) for c in result}


# --- the seed pair ----------------------------------------------------------

def test_seed_pair_is_one_story(seed_texts):
    result = cluster_articles([{"id": i, "text": t} for i, t in seed_texts])
    assert len(result) == 1
    c = result[0]
    assert set(c.ids) == {i for i, _ in seed_texts}
    assert c.representative.id in c.ids and c.id == c.representative.id
    (score,) = c.scores
    assert score.cosine >= Params().threshold
    assert score.jaccard < 0.3  # a rewrite, not a copy: two versions
    assert len(c.versions) == 2


def test_seed_pair_joins_in_ecbplus_and_nothing_else_joins(seed_texts, ecbplus_docs):
    docs = [{"id": d["doc_id"], "text": d["text"]} for d in ecbplus_docs]
    docs += [{"id": i, "text": t} for i, t in seed_texts]
    result = cluster_articles(docs)
    seed_ids = {i for i, _ in seed_texts}
    c = result.cluster_of(next(iter(seed_ids)))
    assert set(c.ids) == seed_ids
    assert sum(len(x) for x in result) == len(docs)


def test_cli_cluster_seeds_prints_one_story():
    out = subprocess.run([sys.executable, "-m", "dedup.cli", "cluster", str(ROOT / "seeds")],
                         capture_output=True, text=True, check=True).stdout
    assert "2 articles, 1 story " in out
    assert "000_aadb172c92af177a" in out and "001_7c6128077c236151" in out


# --- every article once, order independence ---------------------------------

def test_every_article_in_exactly_one_cluster(ecbplus_docs):
    docs = [{"id": d["doc_id"], "text": d["text"]} for d in ecbplus_docs[:200]]
    result = cluster_articles(docs)
    ids = [a.id for c in result for a in c.members]
    assert sorted(ids) == sorted(d["id"] for d in docs)


@pytest.fixture(scope="module")
def small_corpus(ecbplus_docs):
    # three topics: enough same-topic hard negatives to make the order matter if it could
    keep = [d for d in ecbplus_docs if d["topic"] in (1, 3, 8)]
    return [{"id": d["doc_id"], "text": d["text"]} for d in keep]


@pytest.fixture(scope="module")
def small_corpus_partition(small_corpus):
    return _partition(cluster_articles(small_corpus))


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_shuffled_input_gives_same_clusters(small_corpus, small_corpus_partition, seed):
    docs = list(small_corpus)
    random.Random(seed).shuffle(docs)
    assert _partition(cluster_articles(docs)) == small_corpus_partition


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_shuffled_strings_give_same_text_groups(small_corpus, seed):
    texts = [d["text"] for d in small_corpus]
    expected = _text_partition(cluster_articles(texts))
    random.Random(seed).shuffle(texts)
    assert _text_partition(cluster_articles(texts)) == expected


def test_same_input_same_output_across_runs(small_corpus):
    code = (
        "import json,sys; from dedup import cluster_articles;"
        "docs=json.load(sys.stdin); print(json.dumps([c.to_dict() for c in cluster_articles(docs)]))"
    )
    import json

    runs = [
        subprocess.run([sys.executable, "-c", code], input=json.dumps(small_corpus), capture_output=True,
                       text=True, check=True, env={"PYTHONHASHSEED": str(s), "PATH": ""}, cwd=ROOT).stdout
        for s in (1, 2)
    ]
    assert runs[0] == runs[1] and runs[0].startswith("[")


# --- linkage ----------------------------------------------------------------

def _chain(threshold: float, linkage: str) -> np.ndarray:
    # A~B and B~C confirmed, A and C never similar: a chain.
    pairs = np.array([[0, 1], [1, 2]])
    scored = ScoredPairs(pairs=pairs, cosine=np.array([0.9, 0.9]), jaccard=np.zeros(2))
    return link(3, scored, Params(threshold=threshold, linkage=linkage))


def test_single_linkage_is_transitive():
    labels = _chain(0.5, "single")
    assert len(set(labels.tolist())) == 1


@pytest.mark.parametrize("linkage", ["average", "complete"])
def test_average_and_complete_resist_chaining(linkage):
    labels = _chain(0.7, linkage)
    assert len(set(labels.tolist())) == 2  # B goes with A or C, not both


def test_average_linkage_merges_a_dense_group():
    pairs = np.array([[0, 1], [0, 2], [1, 2], [2, 3]])
    scored = ScoredPairs(pairs=pairs, cosine=np.array([0.9, 0.8, 0.85, 0.35]), jaccard=np.zeros(4))
    labels = link(4, scored, Params(threshold=0.5, linkage="average"))
    assert labels[0] == labels[1] == labels[2] != labels[3]


# --- representatives, versions, copies --------------------------------------

def test_representative_is_earliest_published_and_copies_grouped(seed_texts):
    (oid, original), (rid, rewrite) = seed_texts
    t0 = datetime(2026, 1, 27, 8, tzinfo=timezone.utc)
    arts = [
        Article(id="rewrite", text=rewrite, published=t0 + timedelta(hours=1)),
        Article(id="copy", text="LONDON (Reuters) - " + original, published=t0 + timedelta(hours=2)),
        Article(id="original", text=original, published=t0),
    ]
    (c,) = cluster_articles(arts)
    assert c.representative.id == "original"
    assert c.ids[0] == "original"
    versions = {v.representative.id: {x.id for x in v.copies} for v in c.versions}
    assert versions == {"original": {"copy"}, "rewrite": set()}
    pair = {(s.a, s.b): s for s in c.scores}[("copy", "original")]
    assert pair.jaccard > 0.9 and pair.cosine > 0.95


def test_time_window_keeps_distant_copies_apart(seed_texts):
    _, original = seed_texts[0]
    t0 = datetime(2020, 1, 1, tzinfo=timezone.utc)
    arts = [Article(id="a", text=original, published=t0), Article(id="b", text=original, published=t0 + timedelta(days=30))]
    assert len(cluster_articles(arts)) == 2
    assert len(cluster_articles(arts, time_window=None)) == 1


# --- parameters -------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    (dict(threshold=1.5), "threshold"),
    (dict(linkage="ward"), "linkage"),
    (dict(num_perm=1), "num_perm"),
    (dict(n_features=1000), "power of two"),
    (dict(time_window=-1), "time_window"),
    (dict(random_state=-3), "random_state"),
])
def test_bad_parameters_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cluster_articles(["a b c"], **kwargs)


def test_unknown_parameter_is_named():
    with pytest.raises(TypeError, match="treshold"):
        cluster_articles(["a b c"], treshold=0.5)


# --- bad input --------------------------------------------------------------

@pytest.fixture(scope="module")
def story_pair(seed_texts):
    return [{"id": "orig", "text": seed_texts[0][1]}, {"id": "rewrite", "text": seed_texts[1][1]}]


def _seed_cluster_intact(result) -> bool:
    return any({"orig", "rewrite"} <= set(c.ids) for c in result)


@pytest.mark.parametrize("text", ["", "   \n\t  ", None, "... --- !!!"])
def test_empty_text_is_a_flagged_singleton(story_pair, text):
    result = cluster_articles(story_pair + [{"id": "blank", "text": text}])
    c = result.cluster_of("blank")
    assert c.ids == ("blank",) and "empty" in c.flags
    assert _seed_cluster_intact(result)


def test_two_empty_articles_are_not_merged():
    result = cluster_articles([{"id": "a", "text": ""}, {"id": "b", "text": " "}])
    assert _partition(result) == {frozenset({"a"}), frozenset({"b"})}


@pytest.mark.parametrize("bad, reason", [
    ({"id": "n", "text": 42}, "'text' must be a string"),
    ({"id": "l", "text": ["a"]}, "'text' must be a string"),
    ({"id": "t", "text": "x", "title": ["t"]}, "'title' must be text"),
    ({"id": "p", "text": "x", "published": "yesterday"}, "not an ISO 8601"),
    (3.14, "expected str, dict or Article"),
])
def test_non_text_fields_are_rejected_by_name(story_pair, bad, reason):
    with pytest.warns(DedupWarning, match=reason):
        result = cluster_articles(story_pair + [bad])
    assert len(result.rejected) == 1 and reason in result.rejected[0].reason
    assert result.rejected[0].position == 2
    assert _seed_cluster_intact(result)
    with pytest.raises(ArticleError, match=reason):
        cluster_articles(story_pair + [bad], errors="raise")


def test_duplicate_ids_name_both(story_pair):
    dup = [{"id": "orig", "text": "something else entirely"}]
    with pytest.raises(ArticleError, match=r"'orig'.*positions 0 and 2"):
        cluster_articles(story_pair + dup, errors="raise")
    with pytest.warns(DedupWarning, match="duplicate id"):
        result = cluster_articles(story_pair + dup)
    assert _seed_cluster_intact(result) and result.rejected[0].position == 2


def test_ten_megabyte_article(story_pair):
    rng = np.random.default_rng(0)
    words = np.array(["w%d" % i for i in range(50_000)])
    huge = " ".join(rng.choice(words, 1_700_000))
    assert len(huge) > 10_000_000
    result = cluster_articles(story_pair + [{"id": "huge", "text": huge}])
    assert result.cluster_of("huge").ids == ("huge",)
    assert _seed_cluster_intact(result)


def test_nul_and_control_characters_are_ignored(story_pair):
    dirty = "\x00".join(story_pair[0]["text"][i : i + 50] for i in range(0, len(story_pair[0]["text"]), 50))
    dirty = dirty.replace(" ", " \x07\x1b", 20)
    result = cluster_articles(story_pair + [{"id": "dirty", "text": dirty}])
    c = result.cluster_of("dirty")
    assert "orig" in c.ids
    assert max(s.cosine for s in c.scores if "dirty" in (s.a, s.b)) > 0.9


def test_html_markup_does_not_count(story_pair):
    text = story_pair[0]["text"]
    marked = "<html><head><style>p{color:red}</style><script>var tracking=1;</script></head><body>" + "".join(
        f"<p class='para'>{p}</p>" for p in text.split("\n") if p.strip()) + "</body></html>"
    result = cluster_articles(story_pair + [{"id": "html", "text": marked}])
    c = result.cluster_of("html")
    scores = {frozenset((s.a, s.b)): s for s in c.scores}
    assert "orig" in c.ids and scores[frozenset(("html", "orig"))].cosine > 0.95


@pytest.mark.parametrize("script", ["cyrillic", "cjk"])
def test_other_scripts_cluster(script):
    if script == "cyrillic":
        base = ("Президент Украины Владимир Зеленский заявил в воскресенье, что документ о гарантиях "
                "безопасности для Украины готов на сто процентов. Переговоры в Абу-Даби продолжатся.")
        other = "Центральный банк России повысил ключевую ставку до двадцати одного процента годовых в пятницу."
    else:
        base = "乌克兰总统泽连斯基周日表示，美国为乌克兰提供安全保障的文件已经百分之百准备就绪。阿布扎比的谈判将继续进行。"
        other = "日本央行周五宣布维持利率不变，并表示将继续关注通货膨胀和汇率的变化。"
    copy = base.replace("воскресенье", "понедельник") if script == "cyrillic" else base.replace("周日", "周一")
    # The background word frequencies of the text's language tell its common
    # words ("в", "的") from distinctive ones; CJK runs are compared as bigrams.
    language = "ru" if script == "cyrillic" else "zh"
    docs = [{"id": "a", "text": base}, {"id": "b", "text": copy}, {"id": "c", "text": other}]
    result = cluster_articles(docs, background=language)
    assert _partition(result) == {frozenset({"a", "b"}), frozenset({"c"})}
    assert all("empty" not in c.flags for c in result)


# --- no n x n structure ----------------------------------------------------

def _peak_traced(docs) -> tuple[int, object]:
    import tracemalloc

    tracemalloc.start()
    try:
        result = cluster_articles(docs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, result


@pytest.mark.slow
def test_20k_articles_stay_far_below_n_squared_memory():
    from dedup.synth import generate_articles

    n = 20_000
    docs = list(generate_articles(n, seed=3))
    small_peak, _ = _peak_traced(docs[: n // 4])
    peak, result = _peak_traced(docs)
    dense = n * n * 8  # one float64 n x n matrix: 3.2 GB
    assert peak < dense / 2, f"peak {peak / 1e9:.2f} GB"
    # 4x the articles: linear structures grow ~4x, an n x n one 16x
    assert peak / small_peak < 6, f"peak grew {peak / small_peak:.1f}x for 4x the articles"
    assert sum(len(c) for c in result) == n
    # planted copies and rewrites are found: far fewer stories than articles
    stories = {d["story"] for d in docs}
    assert len(result) <= len(stories) * 1.05
