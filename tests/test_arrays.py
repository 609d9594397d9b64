"""Compiled array utilities against numpy."""

from __future__ import annotations

import os

import numpy as np
import pytest
import scipy.sparse as sp

from dedup import arrays as K


@pytest.mark.parametrize("bits", [0, 12, 32, 47, 64])
def test_radix_argsort_equals_numpys_stable_argsort(bits):
    rng = np.random.default_rng(bits)
    n = 5000
    if bits == 64:
        keys = rng.integers(0, 2**63, n, dtype=np.uint64) * np.uint64(2) + rng.integers(0, 2, n, dtype=np.uint64)
    else:
        keys = rng.integers(0, max(1, 2**bits // 50), n, dtype=np.uint64)  # many equal keys: stability shows
    order, ordered = K.stable_argsort(keys)
    want = np.argsort(keys, kind="stable")
    assert np.array_equal(order, want) and np.array_equal(ordered, keys[want])


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this platform")
def test_usable_cpus_follows_the_affinity_and_run_split_gives_the_same_result():
    before = os.sched_getaffinity(0)
    items = np.arange(300_000, dtype=np.int64)
    whole = K.run_split(lambda a: a * 3 + 1, items, min_block=10_000)
    try:
        os.sched_setaffinity(0, {min(before)})
        assert K.usable_cpus() == 1
        pinned = K.run_split(lambda a: a * 3 + 1, items, min_block=10_000)
    finally:
        os.sched_setaffinity(0, before)
    assert K.usable_cpus() == len(before)
    np.testing.assert_array_equal(pinned, whole)
    np.testing.assert_array_equal(whole, items * 3 + 1)


def test_popcount_counts_set_bits():
    from numba import njit

    from dedup.arrays import popcount

    counts = njit(lambda xs: np.array([popcount(x) for x in xs]))
    rng = np.random.default_rng(5)
    xs = np.concatenate([np.array([0, 1, 2**63, 2**64 - 1], dtype=np.uint64), rng.integers(0, 2**64, 500, np.uint64)])
    assert counts(xs).tolist() == [bin(int(x)).count("1") for x in xs]


def test_in_threads_gives_each_items_result_in_order(monkeypatch):
    import threading

    import dedup.arrays as arrays

    seen = set()

    def square(i: int) -> int:
        seen.add(threading.get_ident())
        return i * i

    monkeypatch.setattr(arrays, "usable_cpus", lambda: 2)
    assert arrays.in_threads(square, list(range(40))) == [i * i for i in range(40)]
    assert threading.get_ident() not in seen  # computed in the pool's threads
    seen.clear()
    assert arrays.in_threads(square, [3]) == [9] and seen == {threading.get_ident()}  # one item: here


def test_in_order_hands_results_on_in_order_with_at_most_ahead_outstanding():
    from concurrent.futures import Future, ThreadPoolExecutor

    import dedup.arrays as arrays

    outstanding, most = [0], [0]

    with ThreadPoolExecutor(max_workers=3) as pool:

        def submit(i: int) -> Future:
            outstanding[0] += 1
            most[0] = max(most[0], outstanding[0])
            return pool.submit(lambda: i * i)

        got = []
        for r in arrays.in_order(submit, range(20), 4):
            outstanding[0] -= 1
            got.append(r)
    assert got == [i * i for i in range(20)] and most[0] == 4


@pytest.mark.parametrize("dtype", [np.uint8, np.uint32, np.float64])
def test_prefetch_is_only_a_hint(dtype):
    """A kernel that asks for rows ahead (:func:`dedup.arrays.prefetch_row`,
    :func:`dedup.arrays.prefetch`) reads the same values as one that does
    not: the hint compiles for any dtype and changes nothing."""
    from numba import njit

    @njit
    def row_sums(a, order, ahead):
        out = np.zeros(len(order))
        for k in range(len(order)):
            if ahead and k + 3 < len(order):
                K.prefetch_row(a, order[k + 3])
                K.prefetch(a, order[k + 3] * a.shape[1])
            for c in range(a.shape[1]):
                out[k] += a[order[k], c]
        return out

    rng = np.random.default_rng(7)
    a = rng.integers(0, 200, (500, 37)).astype(dtype)
    order = rng.integers(0, len(a), 2000)
    want = a[order].sum(axis=1, dtype=np.float64)
    assert np.array_equal(row_sums(a, order, True), want)
    assert np.array_equal(row_sums(a, order, False), want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index", [np.int32, np.int64])
def test_normalize_rows_equals_scikit_learns_normalize_bit_for_bit(dtype, index):
    """Rows of every length (empty ones, rows of zeros), values over a wide
    range: the same bits as ``sklearn.preprocessing.normalize(copy=False)``."""
    from sklearn.preprocessing import normalize

    rng = np.random.default_rng(3)
    x = sp.random(400, 300, density=0.05, format="csr", dtype=np.float64, random_state=rng)
    x.data = (x.data * 10.0 ** rng.integers(-6, 6, x.nnz)).astype(dtype)
    x = sp.vstack([x[:10], sp.csr_matrix((10, 300), dtype=dtype), x[20:]], format="csr")  # empty rows
    x.data[x.indptr[7] : x.indptr[8]] = 0  # a row of zeros: left alone
    x.indptr, x.indices = x.indptr.astype(index), x.indices.astype(index)
    assert (np.diff(x.indptr) == 0).any()
    want = normalize(x.copy(), norm="l2", copy=False)
    got = K.normalize_rows(x)
    assert got is x and got.dtype == want.dtype
    assert np.array_equal(got.data.view(np.uint8), want.data.view(np.uint8))
    with pytest.raises(TypeError):
        K.normalize_rows(sp.csr_matrix(np.eye(3, dtype=np.int64)))
    with pytest.raises(ValueError, match="NaN"):
        K.normalize_rows(sp.csr_matrix(np.array([[np.nan, 1.0]])))


@pytest.mark.parametrize("n", [0, 1, 2, 7, 64, 65, 130])
def test_upper_pairs_are_triu_indices_and_read_only(n):
    for _ in range(2):  # the second call for n <= 64 is the kept pair of arrays
        i, j = K.upper_pairs(n)
        want_i, want_j = np.triu_indices(n, 1)
        assert np.array_equal(i, want_i) and np.array_equal(j, want_j) and i.dtype == want_i.dtype
        with pytest.raises(ValueError, match="read-only"):
            i[:1] = 0
