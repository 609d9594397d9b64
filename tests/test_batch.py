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
from dedup.synth import generate_articles

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
    out = subprocess.run(
        [sys.executable, "-m", "dedup.cli", "cluster", str(ROOT / "seeds")], capture_output=True, text=True, check=True
    ).stdout
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
        subprocess.run(
            [sys.executable, "-c", code],
            input=json.dumps(small_corpus),
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": str(s), "PATH": ""},
            cwd=ROOT,
        ).stdout
        for s in (1, 2)
    ]
    assert runs[0] == runs[1] and runs[0].startswith("[")


# --- linkage ----------------------------------------------------------------


# --- representatives, versions, copies --------------------------------------


def test_time_window_keeps_distant_copies_apart(seed_texts):
    _, original = seed_texts[0]
    t0 = datetime(2020, 1, 1, tzinfo=timezone.utc)
    arts = [
        Article(id="a", text=original, published=t0),
        Article(id="b", text=original, published=t0 + timedelta(days=30)),
    ]
    assert len(cluster_articles(arts)) == 2
    assert len(cluster_articles(arts, time_window=None)) == 1


# --- parameters -------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(threshold=1.5), "threshold"),
        (dict(linkage="ward"), "linkage"),
        (dict(num_perm=1), "num_perm"),
        (dict(n_features=1000), "power of two"),
        (dict(time_window=-1), "time_window"),
        (dict(random_state=-3), "random_state"),
    ],
)
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


@pytest.mark.parametrize(
    "bad, reason",
    [
        ({"id": "n", "text": 42}, "'text' must be a string"),
        ({"id": "l", "text": ["a"]}, "'text' must be a string"),
        ({"id": "t", "text": "x", "title": ["t"]}, "'title' must be text"),
        ({"id": "p", "text": "x", "published": "yesterday"}, "not an ISO 8601"),
        (3.14, "expected str, dict or Article"),
    ],
)
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
    words = np.array([f"w{i}" for i in range(50_000)])
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
    marked = (
        "<html><head><style>p{color:red}</style><script>var tracking=1;</script></head><body>"
        + "".join(f"<p class='para'>{p}</p>" for p in text.split("\n") if p.strip())
        + "</body></html>"
    )
    result = cluster_articles(story_pair + [{"id": "html", "text": marked}])
    c = result.cluster_of("html")
    scores = {frozenset((s.a, s.b)): s for s in c.scores}
    assert "orig" in c.ids and scores[frozenset(("html", "orig"))].cosine > 0.95


@pytest.mark.parametrize("script", ["cyrillic", "cjk"])
def test_other_scripts_cluster(script):
    if script == "cyrillic":
        base = (
            "Президент Украины Владимир Зеленский заявил в воскресенье, что документ о гарантиях "
            "безопасности для Украины готов на сто процентов. Переговоры в Абу-Даби продолжатся."
        )
        other = "Центральный банк России повысил ключевую ставку до двадцати одного процента годовых в пятницу."
    else:
        base = (
            "乌克兰总统泽连斯基周日表示，美国为乌克兰提供安全保障的文件已经百分之百准备就绪。阿布扎比的谈判将继续进行。"
        )
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


def test_two_jobs_give_the_same_clusters_as_one():
    docs = list(generate_articles(3000, seed=2))
    one = cluster_articles(docs, n_jobs=1)
    two = cluster_articles(docs, n_jobs=2)
    assert sorted(sorted(m.id for m in c.members) for c in one) == sorted(sorted(m.id for m in c.members) for c in two)


def test_pruned_rows_never_merge_stories_and_keep_nearly_all_joins():
    from sklearn.metrics import adjusted_rand_score

    docs = list(generate_articles(400, seed=5))
    story = {d["id"]: d["story"] for d in docs}
    full = cluster_articles(docs, max_terms=None)
    pruned = cluster_articles(docs, max_terms=128)
    # a pruned row's norm is the full row's, so its cosines are lower bounds:
    # pruning may split off a weak rewrite but never joins two planted stories
    assert all(len({story[a.id] for a in c.members}) == 1 for c in pruned)
    label = lambda r: [next(c.id for c in r if d["id"] in c.ids) for d in docs]  # noqa: E731
    assert adjusted_rand_score(label(full), label(pruned)) >= 0.95


def test_stacked_parts_equal_concatenated_and_weighing_in_order_maps_rows():
    from dedup.article import prepare_articles
    from dedup.batch import canonical_order, featurize_parts
    from dedup.features.counts import RawFeatures
    from dedup.features.weights import weigh

    arts, _ = prepare_articles(generate_articles(700, seed=6))
    p = Params()
    kept, parts = featurize_parts(arts, p, chunk_size=128)
    assert len(parts) == 6 and [a.id for a in kept] == [a.id for a in arts]
    order = canonical_order(kept, [d for q in parts for d in q.digests])
    want = RawFeatures.concat(parts)
    got = RawFeatures.stack(parts)
    assert parts == []  # each part released once copied
    assert (got.counts != want.counts).nnz == 0 and np.array_equal(got.counts.indptr, want.counts.indptr)
    for name in ("shingle_signatures", "empty", "dropped", "n_terms", "df_cols", "df_vals"):
        assert np.array_equal(getattr(got, name), getattr(want, name)), name
    assert got.digests == want.digests
    # weighed in place with the canonical order: the same features as reordering the rows first
    ts = [kept[i].timestamp for i in order]
    ref = weigh(want.take(order), ts, p)
    mapped = weigh(got, ts, p, copy=False, order=order)
    assert ref.rows is None and np.array_equal(mapped.rows, order)
    for name in ("term_signatures", "shingle_signatures", "empty", "n_terms", "timestamps"):
        assert np.array_equal(getattr(ref, name), getattr(mapped, name)), name
    assert (mapped.ordered_tfidf() != ref.tfidf).nnz == 0
    rng = np.random.default_rng(0)
    pairs = np.unique(np.sort(rng.integers(0, 700, (3000, 2)), axis=1), axis=0)
    pairs = pairs[pairs[:, 0] < pairs[:, 1]]
    from dedup.scoring import score_pairs

    a, b = score_pairs(ref, pairs, p), score_pairs(mapped, pairs, p)
    assert (
        np.array_equal(a.cosine, b.cosine)
        and np.array_equal(a.shared, b.shared)
        and np.array_equal(a.jaccard, b.jaccard)
    )


def test_input_is_read_once_in_chunks_and_texts_can_be_released():
    docs = list(generate_articles(3000, seed=8))
    reads = []

    def source():
        for d in docs:
            reads.append(d["id"])
            yield d

    kept = cluster_articles(docs)
    lean = cluster_articles(source(), keep_text=False, n_jobs=2)
    assert reads == [d["id"] for d in docs]  # one pass over a generator
    assert lean.labels_ == kept.labels_
    assert [c.id for c in lean] == [c.id for c in kept]
    assert all(a.text == "" for c in lean for a in c.members)
    by_id = {d["id"]: d for d in docs}
    a = lean[0].members[0]
    assert a.published is not None and a.metadata["story"] == by_id[a.id]["story"]
    assert [s.score for s in lean[0].scores] == [s.score for s in kept[0].scores]


def test_bad_records_in_a_stream_are_rejected_and_the_rest_clustered():
    docs = list(generate_articles(300, seed=9))
    bad = [{"id": "x1", "text": 5}, {"id": docs[0]["id"], "text": "again"}]
    stream = iter(docs[:100] + bad[:1] + docs[100:] + bad[1:])
    with pytest.warns(UserWarning) as caught:
        result = cluster_articles(stream, keep_text=False)
    assert {r.ref for r in result.rejected} == {"'x1'", repr(docs[0]["id"])}
    assert [r.position for r in result.rejected] == [100, 301]
    assert any("'x1'" in str(w.message) for w in caught)
    assert sum(len(c) for c in result) == 300


@pytest.mark.parametrize("spill", ["never", "always", "unwritable"])
def test_pair_stages_let_each_feature_go_and_give_the_same_scores(spill, tmp_path):
    import weakref

    from dedup.article import prepare_articles
    from dedup.batch import PairStages, compute_features, find_candidates
    from dedup.scoring import score_pairs, story_scores

    arts, _ = prepare_articles(generate_articles(800, seed=11))
    p = Params()
    _, features = compute_features(arts, p)
    pairs = find_candidates(features, p)
    want = story_scores(score_pairs(features, pairs, p), features.n_terms, p)
    _, features = compute_features(arts, p)
    gone = weakref.ref(features)
    folder = tmp_path / ("missing" if spill == "unwritable" else "spill")
    if spill != "unwritable":
        folder.mkdir()
    stages = PairStages(features, p, spill_bytes=None if spill == "never" else 0, spill_dir=str(folder))
    del features
    got_pairs = stages.candidates()
    assert gone() is None  # the features holding the term signatures are let go
    if spill == "always":
        assert [d.name[:11] for d in folder.iterdir()] == ["dedup-rows-"]  # the rows wait on disk
    scored = stages.story(stages.verify())
    if spill == "always":
        assert list(folder.iterdir()) == []  # and the file is removed once read back
    assert np.array_equal(got_pairs, pairs)
    for name in ("pairs", "cosine", "jaccard", "shared", "similarity"):
        assert np.array_equal(getattr(scored, name), getattr(want, name)), name
    with pytest.raises(RuntimeError, match="in that order"):
        stages.verify()


def test_parking_the_shingle_signatures_while_weighing_changes_nothing(monkeypatch):
    from dedup import batch as pipeline
    from dedup.article import prepare_articles
    from dedup.batch import featurize_parts, weigh_batch

    arts, _ = prepare_articles(generate_articles(900, seed=14))
    p = Params()
    want_arts, want = weigh_batch(*featurize_parts(arts, p, chunk_size=200), p)
    monkeypatch.setattr(pipeline, "SPILL_BYTES", 0)  # every batch parks them
    parked = []
    real = pipeline.SpilledArray
    monkeypatch.setattr(pipeline, "SpilledArray", lambda a: parked.append(a.shape) or real(a))
    got_arts, got = weigh_batch(*featurize_parts(arts, p, chunk_size=200), p)
    assert parked == [(900, p.num_perm)]
    assert [a.id for a in got_arts] == [a.id for a in want_arts]
    for name in ("term_signatures", "shingle_signatures", "empty", "n_terms", "rows"):
        assert np.array_equal(getattr(got, name), getattr(want, name)), name
    assert (got.tfidf != want.tfidf).nnz == 0


def test_a_batch_whose_rows_wait_in_files_gives_the_same_clusters(monkeypatch, tmp_path):
    import tempfile

    from dedup import batch as pipeline
    from dedup import scoring
    from dedup.features import weights

    docs = list(generate_articles(1500, seed=21))
    want = [(c.to_dict(), c.scores) for c in cluster_articles(docs, n_jobs=1)]  # the scores unrounded
    # as a million articles would: the counts go to a file once past the
    # threshold, are weighed a block at a time, and scored a few blocks at a time
    monkeypatch.setattr(pipeline, "SPILL_BYTES", 1 << 18)
    monkeypatch.setattr(weights, "WEIGH_BLOCK_NNZ", 1 << 15)
    monkeypatch.setattr(scoring, "TILE_NNZ", 1 << 14)
    monkeypatch.setattr(scoring, "TILE_BLOCKS", 3)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    seen = []
    real = scoring.pair_blocks

    def blocks(features, pairs):
        out = real(features, pairs)
        seen.append((features.tfidf_file is not None, len(out)))
        return out

    monkeypatch.setattr(scoring, "pair_blocks", blocks)
    got = [(c.to_dict(), c.scores) for c in pipeline.cluster_articles(docs, n_jobs=1)]
    assert len(seen) == 1 and seen[0][0] and seen[0][1] > 1  # scored from a file, a few blocks at a time
    assert got == want
    assert list(tmp_path.iterdir()) == []  # and the files are gone
