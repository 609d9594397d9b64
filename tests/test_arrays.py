"""Compiled array utilities against numpy."""

from __future__ import annotations

import numpy as np
import pytest

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
