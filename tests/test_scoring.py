"""Pair scoring: the cosine kernel against scipy, the neighbour similarity against sorting."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from dedup import _kernels as K
from dedup.arrays import run_split
from dedup.scoring import pair_cosine


def _scipy_cosine(x: sp.csr_matrix, pairs: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(x[pairs[:, 0]].multiply(x[pairs[:, 1]]).sum(axis=1)).ravel().astype(np.float64), 0, 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pair_cosine_is_bit_identical_to_scipy(dtype):
    rng = np.random.default_rng(7)
    # long rows sharing many columns (pairwise summation beyond 128 terms),
    # short rows, empty rows, disjoint rows
    dense = np.zeros((40, 3000), dtype=dtype)
    for i in range(40):
        width = [0, 1, 5, 50, 400, 2500][i % 6]
        cols = rng.choice(3000, width, replace=False)
        dense[i, cols] = rng.random(width)
    x = normalize(sp.csr_matrix(dense), norm="l2").astype(dtype)
    x.sort_indices()
    pairs = np.array([(i, j) for i in range(40) for j in range(i + 1, 40)], dtype=np.int64)
    got = pair_cosine(x, pairs)
    assert np.array_equal(got, _scipy_cosine(x, pairs))
    assert np.array_equal(got, pair_cosine(x, pairs[:, ::-1]))  # a product commutes: same order
    assert len(pair_cosine(x, np.zeros((0, 2), np.int64))) == 0


def test_pair_cosine_in_threads_equals_one_block():
    x = normalize(sp.random(3000, 800, density=0.05, format="csr", random_state=2, dtype=np.float32))
    rng = np.random.default_rng(0)
    pairs = rng.integers(0, 3000, (120_000, 2))
    ind = x.indptr.astype(np.int64)

    def dots(p: np.ndarray) -> np.ndarray:
        return K.pair_dot(ind, x.indices, x.data, p, np.argsort(p[:, 0], kind="stable"), x.shape[1])

    whole = dots(pairs)
    assert np.array_equal(run_split(dots, pairs, min_block=1000), whole)
    assert np.array_equal(K.pair_dot(ind, x.indices, x.data, pairs, np.arange(len(pairs)), x.shape[1]), whole)
    assert np.array_equal(pair_cosine(x, pairs), _scipy_cosine(x, pairs))


def test_pair_cosine_of_pairs_grouped_by_row_equals_the_merge_bit_for_bit():
    # grouped pairs share one bitmap of the first row's columns; columns in
    # one bitmap word, rows met again after other rows, long rows
    rng = np.random.default_rng(3)
    n, width = 300, 400
    rows = []
    for i in range(n):
        k = int(rng.integers(1, width))
        cols = np.sort(rng.choice(1 << 22, k, replace=False)) if i % 3 else np.arange(k) * (1 + i % 2 * 8191)
        rows.append(cols)
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum([len(c) for c in rows], out=indptr[1:])
    x = sp.csr_matrix((rng.random(indptr[-1]).astype(np.float32), np.concatenate(rows), indptr), shape=(n, 1 << 22))
    x = normalize(x)
    pairs = rng.integers(0, n, (20_000, 2))
    pairs = pairs[np.argsort(pairs[:, 0] // 7, kind="stable")]  # runs of one row, each row in several runs
    got = pair_cosine(x, pairs)
    assert np.array_equal(got, _scipy_cosine(x, pairs))
    single = np.concatenate([pair_cosine(x, pairs[k : k + 1]) for k in range(0, 2000)])  # no runs: the merge
    assert np.array_equal(single, got[:2000])
    assert (got > 0).sum() > 1000  # the pairs do share columns


def test_pair_cosine_of_non_canonical_rows_falls_back():
    x = sp.csr_matrix((np.array([0.6, 0.8, 1.0], np.float32), np.array([3, 1, 1]), np.array([0, 2, 3])), shape=(2, 5))
    assert not x.has_sorted_indices
    assert np.allclose(pair_cosine(x, np.array([[0, 1]])), [0.8])


def _max_duplicates(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n: int) -> sp.csr_matrix:
    """A csr matrix from coordinates, keeping the largest value of duplicates."""
    order = np.lexsort((-vals, cols, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    return sp.csr_matrix((vals[first], (rows[first], cols[first])), shape=(n, n))


def _neighbour_similarity_by_sorting(pairs, sims, n, k):
    """The reference: both directions of every pair sorted by (row,
    -similarity, column), each row's first k (one size or one per row) kept,
    made symmetric."""
    rows = np.concatenate([pairs[:, 0], pairs[:, 1]])
    cols = np.concatenate([pairs[:, 1], pairs[:, 0]])
    vals = np.concatenate([sims, sims]).astype(np.float64)
    keep = vals > 0
    rows, cols, vals = rows[keep], cols[keep], vals[keep]
    order = np.lexsort((cols, -vals, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    top = (np.arange(len(rows)) - np.searchsorted(rows, rows, side="left")) < np.broadcast_to(k, (n,))[rows]
    rows, cols, vals = rows[top], cols[top], vals[top]
    w = _max_duplicates(
        np.concatenate([rows, cols, np.arange(n)]),
        np.concatenate([cols, rows, np.arange(n)]),
        np.concatenate([vals, vals, np.ones(n)]),
        n,
    )
    return pair_cosine(normalize(w, norm="l2"), pairs)


@pytest.mark.parametrize("seed", range(6))
def test_neighbour_similarity_equals_sorting_every_pair(seed):
    from dedup.scoring import neighbour_similarity

    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 400))
    p = np.unique(np.sort(rng.integers(0, n, (int(rng.integers(1, 4000)), 2)), axis=1), axis=0)
    p = p[p[:, 0] < p[:, 1]]
    sims = np.round(rng.random(len(p)) - 0.2, 2)  # ties, zeros and negatives
    k = int(rng.integers(1, 12))
    assert np.array_equal(neighbour_similarity(p, sims, n, k), _neighbour_similarity_by_sorting(p, sims, n, k))


@pytest.mark.parametrize("seed", range(6))
def test_neighbour_similarity_with_a_size_per_row_equals_sorting(seed):
    """Headlines keep larger profiles (``profile_sizes``): the two-pass lists
    equal each row's own first k of the sorted pairs."""
    from dedup.scoring import neighbour_similarity, profile_sizes

    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(2, 300))
    p = np.unique(np.sort(rng.integers(0, n, (int(rng.integers(1, 5000)), 2)), axis=1), axis=0)
    p = p[p[:, 0] < p[:, 1]]
    sims = np.round(rng.random(len(p)) - 0.2, 2)
    terms = rng.integers(5, 200, n)
    k = profile_sizes(terms, int(rng.integers(1, 9)), int(rng.integers(10, 150)), int(rng.integers(1, 40)))
    assert len(set(k.tolist())) <= 2
    assert np.array_equal(neighbour_similarity(p, sims, n, k), _neighbour_similarity_by_sorting(p, sims, n, k))


def test_profile_sizes():
    from dedup.scoring import profile_size, profile_sizes

    t = np.array([10, 29, 30, 400])
    assert profile_sizes(t, 8, 30, 32).tolist() == [32, 32, 8, 8]
    assert profile_sizes(t, 8, 0, 32).tolist() == [8, 8, 8, 8]
    assert profile_sizes(t, 8, 30, 0).tolist() == [8, 8, 8, 8]
    for h, hk in ((30, 32), (0, 32), (30, 0)):
        assert [profile_size(int(x), 8, h, hk) for x in t] == profile_sizes(t, 8, h, hk).tolist()


def test_pair_cosine_equals_dense_dot():
    from sklearn.preprocessing import normalize

    x = normalize(sp.random(200, 500, density=0.05, format="csr", random_state=2))
    rng = np.random.default_rng(0)
    pairs = np.unique(np.sort(rng.integers(0, 200, (3000, 2)), axis=1), axis=0)
    pairs = pairs[pairs[:, 0] < pairs[:, 1]]
    dense = x.toarray()
    want = np.clip((dense[pairs[:, 0]] * dense[pairs[:, 1]]).sum(1), 0, 1)
    assert np.allclose(pair_cosine(x, pairs, max_nnz=500), want)


def test_pairs_over_rows_in_a_file_are_scored_a_few_row_blocks_at_a_time(monkeypatch, tmp_path):
    """Each pair in exactly one block; a block's pairs touch at most
    TILE_BLOCKS blocks of rows (the pages resident at once), unless one
    tile alone is more; and the scores are those of the rows in memory."""
    from dataclasses import replace

    from dedup import Params, scoring
    from dedup._sysmem import RowFile
    from dedup.article import prepare_articles
    from dedup.batch import compute_features
    from dedup.scoring import pair_blocks, score_pairs
    from dedup.synth import generate_articles

    monkeypatch.setattr(scoring, "TILE_NNZ", 3000)
    monkeypatch.setattr(scoring, "TILE_BLOCKS", 4)
    arts, _ = prepare_articles(generate_articles(400, seed=17))
    p = Params()
    _, f = compute_features(arts, p)
    rng = np.random.default_rng(0)
    pairs = np.unique(np.sort(rng.integers(0, 400, size=(5000, 2)), axis=1), axis=0)
    pairs = pairs[pairs[:, 0] < pairs[:, 1]]
    want = score_pairs(f, pairs, p.with_(short_text_terms=10**6))
    rows = RowFile(p.n_features, np.float32, dir=str(tmp_path))
    rows.append(f.tfidf)
    spilled = replace(f, tfidf=sp.csr_matrix((0, p.n_features), dtype=np.float32), tfidf_file=rows)
    blocks = pair_blocks(spilled, pairs)
    assert len(blocks) > 1
    assert np.array_equal(np.sort(np.concatenate(blocks)), np.arange(len(pairs)))
    starts = np.array([lo for lo, _ in scoring.row_blocks(rows.indptr, 3000)])
    for b in blocks:
        touched = np.unique(np.searchsorted(starts, spilled.tfidf_rows(pairs[b]), side="right") - 1)
        assert len(touched) <= 4
    got = score_pairs(spilled, pairs, p.with_(short_text_terms=10**6))
    for name in ("cosine", "jaccard", "shared"):
        assert np.array_equal(getattr(got, name), getattr(want, name)), name
    rows.close()
