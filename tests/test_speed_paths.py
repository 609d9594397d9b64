"""Correctness of the fast paths (behaviour only; timings live in benchmarks/speed.py)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from dedup import Params, cluster_articles
from dedup import candidates as cand
from dedup.minhash import EMPTY, estimate_jaccard, oph_signatures, signatures, to_lean_minhash
from dedup.synth import generate_articles
from dedup.verify import pair_cosine, top_terms


def _sets(seed=0, n=40):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 300, n)
    lengths[3] = 0
    lengths[5] = 1
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    values = rng.integers(0, 2**32, offsets[-1], dtype=np.uint64)
    return values, offsets


def test_signatures_equal_datasketch_affine32():
    from datasketch import MinHash

    values, offsets = _sets()
    sig = signatures(values.astype(np.uint32), offsets, num_perm=64, seed=7, chunk_elements=1000)
    for i in range(len(offsets) - 1):
        m = MinHash(num_perm=64, seed=7, scheme="affine32", hashfunc=lambda v: v)
        for v in values[offsets[i] : offsets[i + 1]].tolist():
            m.update(int(v))
        assert np.array_equal(sig[i], m.hashvalues.astype(np.uint32)), i


def test_signatures_do_not_depend_on_chunking():
    values, offsets = _sets(1)
    a = signatures(values.astype(np.uint32), offsets, chunk_elements=1 << 20)
    b = signatures(values.astype(np.uint32), offsets, chunk_elements=300)
    assert np.array_equal(a, b)


def test_oph_signatures_estimate_jaccard_and_handle_edges():
    rng = np.random.default_rng(0)
    universe = rng.integers(0, 2**63, 4000, dtype=np.uint64)
    a, b = universe[:1000], np.concatenate([universe[:600], universe[1000:1400]])  # J = 600 / 1400
    est = []
    for seed in range(20):
        sig = oph_signatures(np.concatenate([a, b, a[:3]]), np.array([0, 1000, 2000, 2000, 2003]), seed=seed)
        assert (sig[2] == EMPTY).all()  # empty set
        assert not (sig[3] == EMPTY).any()  # three elements: densified
        est.append(estimate_jaccard(sig[0], sig[1]))
    assert abs(np.mean(est) - 600 / 1400) < 0.03
    # a set's sketch does not depend on the batch it is in, nor on chunking
    alone = oph_signatures(a, np.array([0, 1000]), seed=3)
    batched = oph_signatures(np.concatenate([b, a]), np.array([0, 1000, 2000]), seed=3, chunk_elements=7)
    assert np.array_equal(alone[0], batched[1])
    # loads into datasketch
    assert to_lean_minhash(alone[0], seed=3).jaccard(to_lean_minhash(alone[0], seed=3)) == 1.0


def test_numpy_candidates_equal_datasketch_lsh_when_uncapped():
    docs = list(generate_articles(300, seed=5))
    from dedup.pipeline import compute_features, prepare_articles

    arts, _ = prepare_articles(docs)
    p = Params()
    _, feats = compute_features(arts, p)
    for sig, thr, rw in ((feats.term_signatures, p.lsh_threshold, 0.9), (feats.shingle_signatures, p.copy_threshold, 0.5)):
        b, r = cand.lsh_params(thr, p.num_perm, recall_weight=rw)
        ours = cand.candidate_pairs(sig, b, r, max_bucket_size=10**9)
        theirs = cand.datasketch_candidates(sig, b, r, seed=p.random_state)
        assert np.array_equal(ours, theirs)
        assert len(ours) > 0


def test_top_terms_matches_a_full_sort():
    x = sp.random(300, 2000, density=0.1, format="csr", random_state=1, dtype=np.float32)
    x.data = np.round(x.data * 10).astype(np.float32) + 1  # many ties: broken by column
    for k in (1, 5, 40, 1000):
        vals, offs = top_terms(x, k)
        for i in range(x.shape[0]):
            row = x.getrow(i)
            order = np.lexsort((row.indices, -row.data))[:k]
            assert vals[offs[i] : offs[i + 1]].tolist() == row.indices[order].tolist()


def test_pair_cosine_equals_dense_dot():
    from sklearn.preprocessing import normalize

    x = normalize(sp.random(200, 500, density=0.05, format="csr", random_state=2))
    rng = np.random.default_rng(0)
    pairs = np.unique(np.sort(rng.integers(0, 200, (3000, 2)), axis=1), axis=0)
    pairs = pairs[pairs[:, 0] < pairs[:, 1]]
    dense = x.toarray()
    want = np.clip((dense[pairs[:, 0]] * dense[pairs[:, 1]]).sum(1), 0, 1)
    assert np.allclose(pair_cosine(x, pairs, max_nnz=500), want)


def test_two_jobs_give_the_same_clusters_as_one():
    docs = list(generate_articles(3000, seed=2))
    one = cluster_articles(docs, n_jobs=1)
    two = cluster_articles(docs, n_jobs=2)
    assert sorted(sorted(m.id for m in c.members) for c in one) == sorted(sorted(m.id for m in c.members) for c in two)


def test_generator_is_seeded_and_plants_copies():
    a = list(generate_articles(500, seed=4))
    b = list(generate_articles(500, seed=4))
    assert a == b
    kinds = {d["kind"] for d in a}
    assert kinds == {"original", "copy", "rewrite"}
    words = [len(d["text"].split()) for d in a]
    assert 450 <= np.median(words) <= 750


def test_pruning_keeps_the_heaviest_terms_ties_by_column_and_the_exact_df():
    from dedup.pipeline import featurize, prune_counts
    from dedup.article import Article

    counts = sp.csr_matrix(np.array([[1, 3, 1, 1, 2, 0], [0, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0]], dtype=np.float32))
    prior = np.array([0, 0, 0, 0, 0, 0], dtype=np.float64)
    pruned, dropped = prune_counts(counts, prior, 2000, 3)
    # row 0: weights by tf only (no prior): col 1 (3), col 4 (2), then the tie at tf 1 goes to the lowest column
    assert pruned[0].indices.tolist() == [0, 1, 4]
    assert pruned[1].nnz == 0 and pruned[2].indices.tolist() == [0, 1]
    prior[1] = 2000  # a very common word now ranks below the tf-1 words
    assert prune_counts(counts, prior, 2000, 3)[0][0].indices.tolist() == [0, 2, 4]
    # the dropped terms' squared weight (cols 2 and 3: tf 1, the idf of an unknown word) counts in the norm
    idf = np.log(2001.0) + 1.0
    assert dropped.tolist() == pytest.approx([2 * idf**2, 0.0, 0.0])

    docs = [a["text"] for a in generate_articles(30, seed=3)]
    arts = [Article(id=str(i), text=t) for i, t in enumerate(docs)]
    full = featurize(arts, Params(max_terms=None))
    few = featurize(arts, Params(max_terms=50))
    assert np.diff(few.counts.indptr).max() == 50
    assert np.array_equal(few.document_frequency(), full.document_frequency())
    # a row's kept terms do not depend on the other articles
    alone = featurize(arts[7:8], Params(max_terms=50))
    assert np.array_equal(alone.counts.indices, few.counts[7].indices)


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


@pytest.mark.slow  # 227 s of a 14.7 min default run on the loaded 2-core machine
def test_candidate_pairs_are_the_same_when_found_pairs_are_merged_in_steps():
    rng = np.random.default_rng(0)
    sig = rng.integers(0, 50, (3000, 128)).astype(np.uint32)  # many collisions: many pairs
    pairs = cand.candidate_pairs(sig, 128, 1, max_bucket_size=10_000)
    keys = cand.band_keys(sig, 128, 1)
    ref = set()
    for b in range(128):
        _, inv = np.unique(keys[:, b], return_inverse=True)
        for g in np.unique(inv):
            m = np.flatnonzero(inv == g)
            ref.update((int(m[i]), int(m[j])) for i in range(len(m)) for j in range(i + 1, len(m)))
    assert len(pairs) > 4 * 3000 and set(map(tuple, pairs.tolist())) == ref


# --- streaming and memory-saving paths of the feature stage -------------------

def _old_tfidf(counts, idf, dropped=None):
    """The whole-matrix expression the chunked, in-place weighting replaced."""
    from sklearn.preprocessing import normalize

    x = counts.copy()
    x.data = (1.0 + np.log(x.data)) * idf[x.indices]
    if dropped is None:
        return normalize(x, norm="l2", copy=False)
    norm2 = np.asarray(x.multiply(x).sum(axis=1)).ravel() + dropped
    scale = np.divide(1.0, np.sqrt(norm2), out=np.zeros_like(norm2), where=norm2 > 0)
    x.data *= np.repeat(scale, np.diff(x.indptr)).astype(x.dtype)
    return x


@pytest.mark.parametrize("max_terms", [None, 100])
def test_in_place_weighting_in_blocks_equals_the_whole_matrix_expression(max_terms):
    from dedup.pipeline import featurize_many, prepare_articles
    from dedup.verify import idf_weights, tfidf

    arts, _ = prepare_articles(generate_articles(400, seed=5))
    raw = featurize_many(arts, Params(max_terms=max_terms))
    idf = idf_weights(raw.document_frequency(), raw.n)
    want = _old_tfidf(raw.counts, idf, raw.dropped)
    counts = raw.counts.copy()
    got = tfidf(counts, idf, raw.dropped, copy=False, chunk_nnz=997)  # blocks end mid-way anywhere
    assert got.data is counts.data  # weighed over the counts: no second matrix
    assert np.array_equal(got.data, want.data) and np.array_equal(got.indices, want.indices)
    assert np.array_equal(tfidf(raw.counts, idf, raw.dropped).data, want.data)


def test_stacked_parts_equal_concatenated_and_weighing_in_order_maps_rows():
    from dedup.pipeline import RawFeatures, canonical_order, featurize_parts, prepare_articles, weigh

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
    from dedup.pipeline import score_pairs

    a, b = score_pairs(ref, pairs, p), score_pairs(mapped, pairs, p)
    assert np.array_equal(a.cosine, b.cosine) and np.array_equal(a.shared, b.shared) and np.array_equal(a.jaccard, b.jaccard)


def test_dropping_terms_only_one_article_has_keeps_every_pair_score_bit_for_bit():
    from dedup.pipeline import featurize_many, prepare_articles, score_pairs, weigh
    from dedup.verify import drop_columns

    arts, _ = prepare_articles(generate_articles(600, seed=9))
    p = Params()
    raw = featurize_many(arts, p)
    ts = [a.timestamp for a in arts]
    full = weigh(raw, ts, p)
    lean = weigh(raw, ts, p, drop_unshared=True)
    df = raw.document_frequency()
    kept = df[full.tfidf.indices] > 1
    assert 0 < kept.sum() < full.tfidf.nnz  # some terms are one article's alone, some are shared
    assert np.array_equal(lean.tfidf.indices, full.tfidf.indices[kept])
    assert np.array_equal(lean.tfidf.data, full.tfidf.data[kept])
    assert np.array_equal(lean.term_signatures, full.term_signatures)  # top terms taken before the drop
    pairs = np.array([(i, j) for i in range(600) for j in range(i + 1, 600) if (i * 7 + j) % 5 == 0])
    a, b = score_pairs(full, pairs, p), score_pairs(lean, pairs, p.with_(short_text_terms=10**6))
    c = score_pairs(full, pairs, p.with_(short_text_terms=10**6))
    assert np.array_equal(a.cosine, b.cosine) and np.array_equal(b.shared, c.shared)
    # an arbitrary matrix and mask; not canonical, a view: compacted all the same
    rng = np.random.default_rng(1)
    x = sp.random(50, 40, density=0.3, format="csr", random_state=2, dtype=np.float32)
    drop = rng.random(40) < 0.4
    want = x.toarray()
    want[:, drop] = 0
    got = drop_columns(x.copy(), drop)
    assert np.array_equal(got.toarray(), want) and got.nnz == np.count_nonzero(want)


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
    assert lean.labels() == kept.labels()
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

    from dedup.pipeline import PairStages, compute_features, find_candidates, prepare_articles, score_pairs, story_scores

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
    from dedup import pipeline
    from dedup.pipeline import featurize_parts, prepare_articles, weigh_batch

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
