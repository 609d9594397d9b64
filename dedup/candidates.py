"""Candidate pairs: LSH banding of MinHash signatures.

Bands and rows are derived from a Jaccard threshold by datasketch's own
optimiser (weighted towards recall, then every permutation is used: more
bands only add recall). Two implementations of the same banding:

* :func:`candidate_pairs` -- batch: band keys bucketed by sorting with numpy,
  one band at a time (memory O(n) per band). Buckets larger than
  ``max_bucket_size`` are not expanded to all pairs; each member is paired
  with its next ``neighbours`` members in processing order (publication
  time, then content), so a common term cannot blow up the candidate set
  while a big group of copies stays connected.
* :func:`datasketch_candidates` -- the same bands through datasketch's
  ``MinHashLSH`` (in memory or on Redis); the live index uses it, and the
  tests check both give the same pairs when no bucket is capped.

Pairs are ``(i, j)`` row-index arrays with ``i < j``, sorted and unique.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .minhash import EMPTY, to_lean_minhash
from .shingle import fmix64

__all__ = ["lsh_params", "band_keys", "candidate_pairs", "datasketch_candidates", "within_window", "unique_pairs"]


def lsh_params(threshold: float, num_perm: int, recall_weight: float = 0.9) -> tuple[int, int]:
    """``(bands, rows)`` for a Jaccard ``threshold``: rows from datasketch's
    optimiser with false negatives weighted ``recall_weight``, bands filling
    all ``num_perm`` permutations."""
    from datasketch.lsh import _optimal_param

    if not 0.0 < recall_weight < 1.0:
        raise ValueError(f"recall_weight must be in (0, 1), got {recall_weight!r}")
    _, rows = _optimal_param(threshold, num_perm, 1.0 - recall_weight, recall_weight)
    return num_perm // rows, rows


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 64-bit key per document and band: ``(n_docs, bands)``."""
    if bands * rows > signatures.shape[1]:
        raise ValueError(f"bands * rows = {bands * rows} exceeds the signature length {signatures.shape[1]}")
    sig = signatures[:, : bands * rows].astype(np.uint64).reshape(len(signatures), bands, rows)
    if rows == 1:
        return sig[:, :, 0]
    acc = sig[:, :, 0]
    with np.errstate(over="ignore"):
        for r in range(1, rows):
            acc = fmix64(acc * np.uint64(0x9E3779B97F4A7C15) + sig[:, :, r])
    return acc


def _ragged_arange(counts: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(c)`` for each ``c`` in counts."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(counts)
    return np.arange(total, dtype=np.int64) - np.repeat(ends - counts, counts)


def _bucket_pairs(keys: np.ndarray, members: np.ndarray, max_bucket_size: int, neighbours: int) -> np.ndarray:
    """Pairs of ``members`` (ascending row indices) that share a key."""
    order = np.argsort(keys, kind="stable")  # stable: members stay ascending within a bucket
    k = keys[order]
    idx = members[order]
    n = len(k)
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    starts = np.flatnonzero(np.concatenate([[True], k[1:] != k[:-1]]))
    sizes = np.diff(np.append(starts, n))
    group_end = np.repeat(starts + sizes, sizes)
    later = group_end - np.arange(n) - 1  # members after each one in its bucket
    big = np.repeat(sizes > max_bucket_size, sizes)
    counts = np.where(big, np.minimum(later, neighbours), later)
    left = np.repeat(np.arange(n), counts)
    right = left + 1 + _ragged_arange(counts)
    return np.stack([idx[left], idx[right]], axis=1)


def unique_pairs(pairs: np.ndarray, n: int) -> np.ndarray:
    """Sort and deduplicate ``(i, j)`` pairs with ``i < j``."""
    if len(pairs) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    codes = np.unique(pairs[:, 0].astype(np.int64) * n + pairs[:, 1])
    return np.stack([codes // n, codes % n], axis=1)


def candidate_pairs(
    signatures: np.ndarray,
    bands: int,
    rows: int,
    *,
    valid: np.ndarray | None = None,
    max_bucket_size: int = 100,
    neighbours: int = 8,
    timestamps: np.ndarray | None = None,
    window_seconds: float | None = None,
) -> np.ndarray:
    """Pairs of rows that share at least one LSH band.

    ``valid`` masks out rows that must not be bucketed (empty sets, whose
    signatures are all equal). Rows are taken in index order, which callers
    make publication-time order when they have times. With ``timestamps``
    and ``window_seconds``, pairs further apart in time are dropped band by
    band (as :func:`within_window` would drop them at the end), so they
    never pile up.
    """
    n = len(signatures)
    members = np.arange(n) if valid is None else np.flatnonzero(valid)
    members = members[~(signatures[members] == EMPTY).all(axis=1)]
    sig = signatures[members]
    acc = np.zeros(0, np.int64)  # unique pair codes i * n + j found so far, sorted
    found: list[np.ndarray] = []
    pending = 0
    # One band's keys at a time (memory O(n) per band, not O(n * bands)).
    # Each band's pairs become sorted unique int64 codes; they are merged
    # into the running set when they outnumber it (amortised: a pair is
    # merged O(1) times; the stable sort merges the sorted runs).
    for b in range(bands):
        keys = band_keys(sig[:, b * rows : (b + 1) * rows], 1, rows)[:, 0]
        pr = within_window(_bucket_pairs(keys, members, max_bucket_size, neighbours), timestamps, window_seconds)
        if len(pr):
            found.append(np.unique(pr[:, 0].astype(np.int64) * n + pr[:, 1]))
            pending += len(found[-1])
        if pending > max(1 << 22, 2 * len(acc)):
            acc, found, pending = _merge_codes([acc, *found]), [], 0
    acc = _merge_codes([acc, *found])
    return np.stack([acc // n, acc % n], axis=1) if len(acc) else np.zeros((0, 2), np.int64)


def _merge_codes(runs: list[np.ndarray]) -> np.ndarray:
    """Union of sorted unique int64 arrays."""
    codes = np.sort(np.concatenate(runs), kind="stable")
    if len(codes) < 2:
        return codes
    keep = np.empty(len(codes), dtype=bool)
    keep[0] = True
    np.not_equal(codes[1:], codes[:-1], out=keep[1:])
    return codes[keep]


def within_window(pairs: np.ndarray, timestamps: np.ndarray | None, window_seconds: float | None) -> np.ndarray:
    """Keep pairs published within ``window_seconds`` of each other (pairs with
    a missing time, NaN, are kept)."""
    if timestamps is None or window_seconds is None or len(pairs) == 0:
        return pairs
    dt = np.abs(timestamps[pairs[:, 0]] - timestamps[pairs[:, 1]])
    return pairs[~(dt > window_seconds)]


def datasketch_candidates(
    signatures: np.ndarray,
    bands: int,
    rows: int,
    *,
    seed: int,
    valid: np.ndarray | None = None,
    storage_config: dict[str, Any] | None = None,
) -> np.ndarray:
    """The same banding through ``datasketch.MinHashLSH`` (insert all, then query all)."""
    from datasketch import MinHashLSH

    n, num_perm = signatures.shape
    lsh = MinHashLSH(num_perm=num_perm, params=(bands, rows), storage_config=storage_config)
    members = np.arange(n) if valid is None else np.flatnonzero(valid)
    members = [int(i) for i in members if not (signatures[i] == EMPTY).all()]
    sketches = {i: to_lean_minhash(signatures[i], seed) for i in members}
    with lsh.insertion_session() as session:
        for i in members:
            session.insert(i, sketches[i])
    found = [(min(i, j), max(i, j)) for i in members for j in lsh.query(sketches[i]) if j != i]
    return unique_pairs(np.array(found, dtype=np.int64).reshape(-1, 2), n)
