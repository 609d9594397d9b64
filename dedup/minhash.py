"""MinHash signatures for many documents at once.

The scheme is pinned here rather than borrowed from datasketch at run time, so
signatures stay the same across datasketch releases: it is datasketch 2.x's
``"affine32"`` scheme (32-bit input hash, MurmurHash3 32-bit finaliser, then
``a * h + b mod 2**32`` with odd ``a``), with the permutation parameters drawn
exactly as datasketch draws them from ``numpy.random.RandomState(seed)``. A row
of :func:`signatures` therefore equals ``datasketch.MinHash(num_perm, seed,
scheme="affine32", hashfunc=identity)`` fed the same 32-bit values, and
:func:`to_lean_minhash` hands it to datasketch (e.g. a ``MinHashLSH``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["SCHEME", "EMPTY", "permutations", "fmix32", "signatures", "to_lean_minhash", "estimate_jaccard"]

SCHEME = "affine32"
EMPTY = np.uint32(0xFFFFFFFF)  # the value of every slot of an empty set's signature

_C1 = np.uint32(0x85EBCA6B)
_C2 = np.uint32(0xC2B2AE35)


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser (datasketch's pre-mix for ``affine32``)."""
    h = h ^ (h >> np.uint32(16))
    h = h * _C1
    h = h ^ (h >> np.uint32(13))
    h = h * _C2
    return h ^ (h >> np.uint32(16))


@lru_cache(maxsize=16)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``(a, b)`` parameters of the ``num_perm`` affine permutations for ``seed``."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    a.flags.writeable = False
    b.flags.writeable = False
    return a, b


def signatures(
    values: np.ndarray,
    offsets: np.ndarray,
    *,
    num_perm: int = 128,
    seed: int = 1,
    chunk_elements: int = 1 << 22,
) -> np.ndarray:
    """Signatures of many sets at once: an ``(n_docs, num_perm)`` uint32 array.

    ``values[offsets[i]:offsets[i+1]]`` are set ``i``'s 32-bit element hashes
    (duplicates are harmless). An empty set's row is all :data:`EMPTY`. Work
    is done over blocks of whole documents, about ``chunk_elements`` hash
    evaluations at a time, so memory stays bounded.
    """
    values = np.asarray(values, dtype=np.uint32)
    offsets = np.asarray(offsets, dtype=np.int64)
    n_docs = len(offsets) - 1
    a, b = permutations(num_perm, seed)
    out = np.full((n_docs, num_perm), EMPTY, dtype=np.uint32)
    if n_docs == 0 or len(values) == 0:
        return out
    mixed = fmix32(values)
    lengths = np.diff(offsets)
    per_block = max(1, chunk_elements // num_perm)
    doc = 0
    while doc < n_docs:
        # Grow the block of documents until it holds about per_block values.
        end = int(np.searchsorted(offsets, offsets[doc] + per_block, side="right")) - 1
        end = min(max(end, doc + 1), n_docs)
        lo, hi = offsets[doc], offsets[end]
        if hi > lo:
            block = mixed[lo:hi, None] * a[None, :] + b[None, :]
            nonempty = np.flatnonzero(lengths[doc:end] > 0)
            starts = offsets[doc:end][nonempty] - lo
            out[doc + nonempty] = np.minimum.reduceat(block, starts, axis=0)
        doc = end
    return out


def estimate_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity of row pairs (share of equal slots); 0 for empty sets."""
    eq = (sig_a == sig_b).mean(axis=-1)
    empty = (sig_a == EMPTY).all(axis=-1) | (sig_b == EMPTY).all(axis=-1)
    return np.where(empty, 0.0, eq)


def to_lean_minhash(signature: np.ndarray, seed: int = 1):
    """A ``datasketch.LeanMinHash`` holding one signature row."""
    from datasketch import LeanMinHash

    return LeanMinHash(seed=seed, hashvalues=np.asarray(signature, dtype=np.uint32), scheme=SCHEME)
