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

from collections.abc import Iterator
from functools import lru_cache

import numpy as np

from ..hashing import fmix64

__all__ = [
    "SCHEME",
    "EMPTY",
    "signed",
    "fmix32",
    "permutations",
    "signatures",
    "oph_signatures",
    "estimate_jaccard",
    "pair_jaccard",
    "to_lean_minhash",
]


SCHEME = "affine32"


EMPTY = np.uint32(0xFFFFFFFF)  # the value of every slot of an empty set's signature


def signed(signatures: np.ndarray) -> np.ndarray:
    """Mask of the rows that sign a non-empty set (not all :data:`EMPTY`): the
    only rows LSH buckets, in every backend (an empty set collides with nothing)."""
    return ~(signatures == EMPTY).all(axis=-1)


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


def _sets(
    values: np.ndarray, offsets: np.ndarray, dtype: type, num_perm: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Ragged sets as contiguous arrays, and the all-:data:`EMPTY` signatures
    when there is nothing to sign (no set, or no element in any); else None."""
    values = np.ascontiguousarray(values, dtype=dtype)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    if len(offsets) < 2 or len(values) == 0:
        return values, offsets, np.full((max(len(offsets) - 1, 0), num_perm), EMPTY, dtype=np.uint32)
    return values, offsets, None


def _blocks(offsets: np.ndarray, budget: int) -> Iterator[tuple[int, int, int, int]]:
    """``(doc, end, lo, hi)`` of consecutive blocks of documents holding about
    ``budget`` elements each (at least one document), skipping empty blocks:
    documents ``doc:end``, elements ``lo:hi``."""
    doc, n_docs = 0, len(offsets) - 1
    while doc < n_docs:
        end = int(np.searchsorted(offsets, offsets[doc] + budget, side="right")) - 1
        end = min(max(end, doc + 1), n_docs)
        if offsets[end] > offsets[doc]:
            yield doc, end, int(offsets[doc]), int(offsets[end])
        doc = end


def _oph_mix(seed: int) -> np.uint64:
    """The seed's 64-bit offset added to every element hash before remixing."""
    return np.uint64((seed * int(_OPH_SEED_MIX)) & 0xFFFFFFFFFFFFFFFF)


def signatures(values: np.ndarray, offsets: np.ndarray, *, num_perm: int = 128, seed: int = 1) -> np.ndarray:
    """Signatures of many sets at once: an ``(n_docs, num_perm)`` uint32 array.

    ``values[offsets[i]:offsets[i+1]]`` are set ``i``'s 32-bit element hashes
    (duplicates are harmless). An empty set's row is all :data:`EMPTY`.

    One compiled pass (:func:`dedup._kernels.affine_min`): each value is
    mixed once and the ``num_perm`` running minima of its set are updated in
    a vectorised loop, with no ``(num_perm, values)`` temporary.
    """
    from . import _kernels

    a, b = permutations(num_perm, seed)
    values, offsets, none = _sets(values, offsets, np.uint32, num_perm)
    return none if none is not None else _kernels.affine_min(values, offsets, a, b)


def _signatures_numpy(
    values: np.ndarray, offsets: np.ndarray, *, num_perm: int = 128, seed: int = 1, chunk_elements: int = 1 << 20
) -> np.ndarray:
    """:func:`signatures` with numpy over blocks of documents: the reference the kernel equals."""
    a, b = permutations(num_perm, seed)
    values, offsets, none = _sets(values, offsets, np.uint32, num_perm)
    if none is not None:
        return none
    out = np.full((len(offsets) - 1, num_perm), EMPTY, dtype=np.uint32)
    mixed = fmix32(values)
    lengths = np.diff(offsets)
    per_block = max(1, chunk_elements // num_perm)
    b_col = b[:, None]
    for doc, end, lo, hi in _blocks(offsets, per_block):
        block = np.multiply.outer(a, mixed[lo:hi])
        block += b_col
        nonempty = np.flatnonzero(lengths[doc:end] > 0)
        starts = offsets[doc:end][nonempty] - lo
        out[doc + nonempty] = np.minimum.reduceat(block, starts, axis=1).T
    return out


_OPH_SEED_MIX = np.uint64(0x9E3779B97F4A7C15)


_OPH_OFFSET = np.uint32(0x9E3779B1)  # rotation densification: offset per bin borrowed across


def oph_signatures(hashes: np.ndarray, offsets: np.ndarray, *, num_perm: int = 128, seed: int = 1) -> np.ndarray:
    """One-permutation hashing with rotation densification (scheme ``"oph32"``).

    A cheaper sketch of the same kind for large sets (the copy view's
    shingles): each 64-bit element hash ``h`` is remixed with the seed
    (``g = fmix64(h + seed * 0x9E3779B97F4A7C15)``) and falls into bin
    ``(g >> 32) * num_perm >> 32``; a bin keeps the minimum of the low 32 bits
    ``g & 0xFFFFFFFF`` of its elements. An empty bin takes the value of the
    next non-empty bin to its right (circularly), plus ``t * 0x9E3779B1``
    (mod 2**32) for a distance ``t`` (Shrivastava & Li, ICML 2014), so that
    two sets agree in a bin with probability equal to their Jaccard
    similarity, as with ``num_perm`` permutations -- but each element is
    hashed once instead of ``num_perm`` times. An empty set's row is all
    :data:`EMPTY`. The rows load into ``datasketch.LeanMinHash`` (for LSH
    and Jaccard estimates) like any signature; they are not datasketch's
    own hash values, so do not ``update`` them with datasketch. Computed by
    one compiled pass per document (:func:`dedup.sketch._kernels.oph`).
    """
    from . import _kernels

    hashes, offsets, none = _sets(hashes, offsets, np.uint64, num_perm)
    return none if none is not None else _kernels.oph(hashes, offsets, num_perm, _oph_mix(seed))


def _oph_signatures_numpy(
    hashes: np.ndarray, offsets: np.ndarray, *, num_perm: int = 128, seed: int = 1, chunk_elements: int = 1 << 18
) -> np.ndarray:
    """:func:`oph_signatures` with numpy: the reference the kernel equals."""
    k, mix = np.uint64(num_perm), _oph_mix(seed)
    hashes, offsets, none = _sets(hashes, offsets, np.uint64, num_perm)
    if none is not None:
        return none
    out = np.full((len(offsets) - 1, num_perm), EMPTY, dtype=np.uint32)
    flat = out.reshape(-1)
    for doc, end, lo, hi in _blocks(offsets, chunk_elements):
        with np.errstate(over="ignore"):
            g = fmix64(hashes[lo:hi] + mix)
        key = np.repeat(
            np.arange(doc * num_perm, end * num_perm, num_perm, dtype=np.int64), np.diff(offsets[doc : end + 1])
        )
        key += ((g >> np.uint64(32)) * k >> np.uint64(32)).astype(np.int64)
        val = g.astype(np.uint32)
        # Scatter until no element is below its bin's value: each round
        # settles every bin whose current winner is its minimum.
        while len(key):
            flat[key] = val
            smaller = val < flat[key]
            key, val = key[smaller], val[smaller]
    _densify(out)
    return out


def _densify(sig: np.ndarray) -> None:
    """Rotation densification of one-permutation rows, in place."""
    empty = sig == EMPTY
    rows = np.flatnonzero(empty.any(axis=1) & ~empty.all(axis=1))
    if len(rows) == 0:
        return
    k = sig.shape[1]
    for lo in range(0, len(rows), 65536):
        r = rows[lo : lo + 65536]
        s = sig[r]
        e = empty[r]
        s2 = np.concatenate([s, s], axis=1)
        idx = np.where(np.concatenate([e, e], axis=1), 2 * k, np.arange(2 * k))
        nxt = np.minimum.accumulate(idx[:, ::-1], axis=1)[:, ::-1][:, :k]
        dist = (nxt - np.arange(k)).astype(np.uint32)
        with np.errstate(over="ignore"):
            filled = np.take_along_axis(s2, nxt, axis=1) + dist * _OPH_OFFSET
        sig[r] = np.where(e, filled, s)


def estimate_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity of row pairs (share of equal slots); 0 for empty sets."""
    eq = (sig_a == sig_b).mean(axis=-1)
    empty = (sig_a == EMPTY).all(axis=-1) | (sig_b == EMPTY).all(axis=-1)
    return np.where(empty, 0.0, eq)


def pair_jaccard(sig: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """:func:`estimate_jaccard` of the row pairs ``(i, j)`` of one signature
    matrix, without gathering the ``(pairs, num_perm)`` rows (which at
    millions of pairs would take gigabytes)."""
    from . import _kernels

    pairs = np.ascontiguousarray(pairs, dtype=np.int64).reshape(-1, 2)
    if len(pairs) == 0:
        return np.zeros(0, dtype=np.float64)
    return _kernels.pair_jaccard(np.ascontiguousarray(sig, dtype=np.uint32), pairs)


def to_lean_minhash(signature: np.ndarray, seed: int = 1):
    """A ``datasketch.LeanMinHash`` holding one signature row."""
    from datasketch import LeanMinHash

    return LeanMinHash(seed=seed, hashvalues=np.asarray(signature, dtype=np.uint32), scheme=SCHEME)
