"""MinHash signatures: datasketch's affine32 scheme, one-permutation hashing, Jaccard estimates."""

from __future__ import annotations

import numpy as np

from dedup.sketch.minhash import (
    EMPTY,
    _oph_signatures_numpy,
    _signatures_numpy,
    estimate_jaccard,
    oph_signatures,
    pair_jaccard,
    signatures,
    to_lean_minhash,
)
from tests._data import ragged, sets


def test_oph_and_affine_signatures_equal_numpy():
    h, off = ragged(3)
    for k, seed in ((128, 1), (256, 7), (7, 3)):
        assert np.array_equal(
            oph_signatures(h, off, num_perm=k, seed=seed),
            _oph_signatures_numpy(h, off, num_perm=k, seed=seed, chunk_elements=500),
        )
    v, off = ragged(4, dtype=np.uint32)
    v[:10] = 0xFFFFFFFF
    for k, seed in ((256, 1), (64, 7)):
        assert np.array_equal(
            signatures(v, off, num_perm=k, seed=seed),
            _signatures_numpy(v, off, num_perm=k, seed=seed, chunk_elements=3000),
        )
    # no documents, or no values
    assert signatures(np.zeros(0, np.uint32), np.zeros(1, np.int64)).shape == (0, 128)
    assert (oph_signatures(np.zeros(0, np.uint64), np.zeros(3, np.int64)) == 0xFFFFFFFF).all()


def test_oph_densifies_sparse_rows_like_numpy():
    rng = np.random.default_rng(5)
    lengths = np.array([1, 2, 5, 30, 0, 1])  # few elements: most bins borrowed
    off = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    h = rng.integers(0, 2**64, off[-1], dtype=np.uint64)
    assert np.array_equal(oph_signatures(h, off, num_perm=256), _oph_signatures_numpy(h, off, num_perm=256))


def test_pair_jaccard_equals_estimate_jaccard():
    rng = np.random.default_rng(6)
    sig = rng.integers(0, 4, (50, 64)).astype(np.uint32)
    sig[3] = 0xFFFFFFFF  # empty set
    pairs = rng.integers(0, 50, (400, 2))
    pairs[0] = (3, 4)
    pairs[1] = (5, 3)
    want = estimate_jaccard(sig[pairs[:, 0]], sig[pairs[:, 1]])
    assert np.array_equal(pair_jaccard(sig, pairs), want)
    assert len(pair_jaccard(sig, np.zeros((0, 2), np.int64))) == 0


def test_signatures_equal_datasketch_affine32():
    from datasketch import MinHash

    values, offsets = sets()
    sig = signatures(values.astype(np.uint32), offsets, num_perm=64, seed=7)
    for i in range(len(offsets) - 1):
        m = MinHash(num_perm=64, seed=7, scheme="affine32", hashfunc=lambda v: v)
        for v in values[offsets[i] : offsets[i + 1]].tolist():
            m.update(int(v))
        assert np.array_equal(sig[i], m.hashvalues.astype(np.uint32)), i


def test_signatures_do_not_depend_on_chunking():
    values, offsets = sets(1)
    a = signatures(values.astype(np.uint32), offsets)
    b = _signatures_numpy(values.astype(np.uint32), offsets, chunk_elements=300)
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
    batched = oph_signatures(np.concatenate([b, a]), np.array([0, 1000, 2000]), seed=3)
    assert np.array_equal(alone[0], batched[1])
    # loads into datasketch
    assert to_lean_minhash(alone[0], seed=3).jaccard(to_lean_minhash(alone[0], seed=3)) == 1.0
