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

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ._sysmem import release_freed_memory
from .minhash import EMPTY, to_lean_minhash
from .shingle import fmix64

__all__ = [
    "lsh_params",
    "band_keys",
    "bucket_pairs",
    "candidate_pairs",
    "top_partner_pairs",
    "datasketch_candidates",
    "within_window",
    "unique_pairs",
    "unique_codes",
    "code_pairs",
]


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


def stable_order(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.argsort(keys, kind="stable")`` and the sorted keys; band keys
    (uint64) by a compiled radix sort, several times numpy's merge sort."""
    if keys.dtype == np.uint64 and len(keys) > 1000:
        from ._kernels import stable_argsort

        return stable_argsort(keys)
    order = np.argsort(keys, kind="stable")
    return order, keys[order]


def _ragged_arange(counts: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(c)`` for each ``c`` in counts."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(counts)
    return np.arange(total, dtype=np.int64) - np.repeat(ends - counts, counts)


def _bucket_pairs(keys: np.ndarray, members: np.ndarray, max_bucket_size: int, neighbours: int) -> np.ndarray:
    """Pairs of ``members`` (ascending row indices) that share a key."""
    return _bucket_pairs_capped(keys, members, max_bucket_size, neighbours)[0]


def _bucket_pairs_capped(keys: np.ndarray, members: np.ndarray, max_bucket_size: int,
                         neighbours: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_bucket_pairs`, and the members whose bucket was capped."""
    order, k = stable_order(keys)  # stable: members stay ascending within a bucket
    idx = members[order]
    n = len(k)
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=members.dtype)
    starts = np.flatnonzero(np.concatenate([[True], k[1:] != k[:-1]]))
    sizes = np.diff(np.append(starts, n))
    group_end = np.repeat(starts + sizes, sizes)
    later = group_end - np.arange(n) - 1  # members after each one in its bucket
    big = np.repeat(sizes > max_bucket_size, sizes)
    counts = np.where(big, np.minimum(later, neighbours), later)
    left = np.repeat(np.arange(n), counts)
    right = left + 1 + _ragged_arange(counts)
    return np.stack([idx[left], idx[right]], axis=1), idx[big]


bucket_pairs = _bucket_pairs  # public name of the bucketing rule (the Spark path calls it per bucket)


def unique_pairs(pairs: np.ndarray, n: int) -> np.ndarray:
    """Sort and deduplicate ``(i, j)`` pairs with ``i < j``."""
    if len(pairs) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    codes = pairs[:, 0].astype(np.int64) * n
    codes += pairs[:, 1]
    return code_pairs(unique_codes(codes), n)


def unique_codes(codes: np.ndarray) -> np.ndarray:
    """Sorted unique values of an int64 array, sorting it in place (no copy
    of a large candidate set beyond the kept values)."""
    codes.sort()
    if len(codes) < 2:
        return codes
    keep = np.empty(len(codes), dtype=bool)
    keep[0] = True
    np.not_equal(codes[1:], codes[:-1], out=keep[1:])
    return codes[keep]


def code_pairs(codes: np.ndarray, n: int) -> np.ndarray:
    """``(i, j)`` rows of pair codes ``i * n + j``."""
    out = np.empty((len(codes), 2), dtype=np.int64)
    np.floor_divide(codes, n, out=out[:, 0])
    np.remainder(codes, n, out=out[:, 1])
    return out


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
    max_partners: int | None = None,
    keep_bands: int = 4,
) -> np.ndarray:
    """Pairs of rows that share at least one LSH band.

    ``valid`` masks out rows that must not be bucketed (empty sets, whose
    signatures are all equal). Rows are taken in index order, which callers
    make publication-time order when they have times. With ``timestamps``
    and ``window_seconds``, pairs further apart in time are dropped band by
    band (as :func:`within_window` would drop them at the end), so they
    never pile up.

    With ``max_partners`` = K, each row keeps only its K best partners: a
    pair is kept when it is among the K best of either row, ranked by the
    number of bands the two rows share (then nearer in index order, then
    lower index), or when they share ``keep_bands`` bands or more. See
    :func:`top_partner_pairs`: this bounds the chance pairs per article
    whatever the corpus size, where plain banding proposes more and more of
    them (two articles sharing one rare word) as the corpus grows.
    """
    n = len(signatures)
    members = np.arange(n) if valid is None else np.flatnonzero(valid)
    members = members[~(signatures[members] == EMPTY).all(axis=1)]
    if max_partners is not None:
        return top_partner_pairs(signatures, bands, rows, members, max_partners, max_bucket_size=max_bucket_size,
                                 neighbours=neighbours, timestamps=timestamps, window_seconds=window_seconds,
                                 keep_bands=keep_bands)
    acc = np.zeros(0, np.int64)  # unique pair codes i * n + j found so far, sorted
    found: list[np.ndarray] = []
    pending = 0
    # One band's keys at a time (memory O(n) per band, not O(n * bands)).
    # Each band's pairs become sorted unique int64 codes; they are merged
    # into the running set when they outnumber it (amortised: a pair is
    # merged O(1) times; the stable sort merges the sorted runs).
    for b in range(bands):
        keys = band_keys(signatures[members, b * rows : (b + 1) * rows], 1, rows)[:, 0]
        pr = within_window(_bucket_pairs(keys, members, max_bucket_size, neighbours), timestamps, window_seconds)
        if len(pr):
            found.append(np.unique(pr[:, 0].astype(np.int64) * n + pr[:, 1]))
            pending += len(found[-1])
        if pending > max(1 << 22, 2 * len(acc)):
            acc, found, pending = _merge_codes([acc, *found]), [], 0
            release_freed_memory()
    acc = _merge_codes([acc, *found])
    return code_pairs(acc, n)


def top_partner_pairs(
    signatures: np.ndarray,
    bands: int,
    rows: int,
    members: np.ndarray,
    max_partners: int,
    *,
    max_bucket_size: int = 100,
    neighbours: int = 8,
    timestamps: np.ndarray | None = None,
    window_seconds: float | None = None,
    keep_bands: int = 4,
) -> np.ndarray:
    """Banded candidates, each row keeping its ``max_partners`` best partners.

    The partners a row is offered are exactly the pairs of
    :func:`candidate_pairs` without the limit (band-mates, buckets over
    ``max_bucket_size`` paired with ``neighbours``, the time window). Each
    is ranked by the number of bands the two signatures agree in --
    computed from the signatures, so a pair met in many bands is ranked
    once -- then by distance in row order (publication time), then by row.
    A pair is kept when it is among the ``max_partners`` best of either of
    its rows, or when the two agree in ``keep_bands`` bands or more (two
    headlines of one story share many of their few terms: a big, dense
    story keeps all its pairs). The rule reads only the signatures and the row order, so it
    is deterministic and does not depend on the input order; memory is
    O(rows * max_partners) plus one band's pairs at a time.

    Why: chance collisions (two articles sharing one rare term collide in
    about 2 of 256 one-row bands) grow with the number of articles in the
    time window, while articles about one story share many terms and
    collide in many bands. Ranking by bands in common keeps those and
    bounds the chance pairs per article. (With 256 one-row bands, 4 bands
    in common estimate a Jaccard of about 0.016 between the top-term sets:
    two shared terms of 60.)
    """
    from . import _kernels

    if max_partners < 1:
        raise ValueError(f"max_partners must be >= 1, got {max_partners}")
    n = len(signatures)
    members = np.asarray(members, dtype=np.int64)
    best_c = np.zeros((n, max_partners), dtype=np.int32)
    best_p = np.zeros((n, max_partners), dtype=np.int64)
    fill = np.zeros(n, dtype=np.int64)
    worst = np.zeros(n, dtype=np.int64)
    sig = np.ascontiguousarray(signatures[:, : bands * rows])
    big = np.zeros((n, (bands + 7) // 8), dtype=np.uint8)  # bit b: the row's bucket in band b was capped
    # a byte per band key (padded to whole words of 8), to count bands in common
    fp = _kernels.band_fingerprints(sig, bands, rows, (bands + 7) // 8 * 8).view(np.uint64)
    if timestamps is None or window_seconds is None:
        ts, window, sorted_times = np.zeros(n), -1.0, False
    else:
        ts, window = np.ascontiguousarray(timestamps, dtype=np.float64), float(window_seconds)
        known = ts[~np.isnan(ts)]
        sorted_times = bool(np.all(np.diff(known) >= 0)) and not np.isnan(ts[: len(known)]).any()
    # Threads own ranges of rows (each updates only its rows' lists), so the
    # result is the same with any number of threads.
    workers = min(os.cpu_count() or 1, 4) if len(members) >= 20_000 else 1
    bounds = np.linspace(0, n, workers + 1).astype(np.int64)
    pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None
    sure: list[np.ndarray] = []  # pairs agreeing in keep_bands bands or more: kept whatever their rank
    try:
        for b in range(bands):
            # the members' band values gathered per band: no copy of all signatures
            keys = band_keys(sig[members, b * rows : (b + 1) * rows], 1, rows)[:, 0]
            order, k = stable_order(keys)  # stable: rows stay ascending within a bucket
            idx = members[order]
            if len(k) < 2:
                continue
            starts = np.flatnonzero(np.concatenate([[True], k[1:] != k[:-1]]))
            sizes = np.diff(np.append(starts, len(k)))
            big[idx[np.repeat(sizes > max_bucket_size, sizes)], b >> 3] |= np.uint8(1 << (b & 7))
            args = (max_bucket_size, neighbours, ts, window, sorted_times, fp, sig, bands, rows, b, big)
            if b % 32 == 31:
                release_freed_memory()  # one band's arrays at a time pile up on the heap otherwise
            # each proposed pair's bands in common computed once (threads by buckets), then
            # offered to the partner lists (threads by rows: each updates only its rows)
            if pool is None:
                proposed = _kernels.propose_band(idx, starts, 0, len(starts), *args)
                sure.append(_kernels.offer_proposals(proposed, best_c, best_p, fill, worst, 0, n, keep_bands))
            else:
                cuts = np.searchsorted(starts, np.linspace(0, len(idx), workers + 1).astype(np.int64))
                cuts[-1] = len(starts)
                proposed = np.concatenate(list(pool.map(
                    lambda w: _kernels.propose_band(idx, starts, cuts[w], cuts[w + 1], *args), range(workers))))
                sure.extend(pool.map(lambda w: _kernels.offer_proposals(
                    proposed, best_c, best_p, fill, worst, bounds[w], bounds[w + 1], keep_bands), range(workers)))
            del proposed
    finally:
        if pool is not None:
            pool.shutdown()
    del best_c, fp, big
    sure_pairs = np.concatenate(sure).astype(np.int64, copy=False) if sure else np.zeros((0, 2), np.int64)
    del sure
    codes = _kernels.partner_codes(best_p, fill, sure_pairs)  # each kept pair once or twice, as i * n + j (i < j)
    del best_p, sure_pairs
    return code_pairs(unique_codes(codes), n)


def _merge_codes(runs: list[np.ndarray]) -> np.ndarray:
    """Union of sorted unique int64 arrays."""
    return unique_codes(np.concatenate(runs))


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
