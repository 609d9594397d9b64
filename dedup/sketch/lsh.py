"""Candidate pairs: LSH banding of MinHash signatures.

Bands and rows are derived from a Jaccard threshold by datasketch's published
optimiser, written here once (:func:`optimal_params`), weighted towards
recall; then every permutation is used (more bands only add recall). Two implementations of the same banding:

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

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

import numpy as np

from .._sysmem import release_freed_memory
from ..arrays import in_order, usable_cpus
from ..hashing import fmix64
from ..params import Params
from . import _kernels
from .minhash import signed, to_lean_minhash

__all__ = [
    "KEEP_BANDS",
    "ranks_partners",
    "lsh_params",
    "optimal_params",
    "band_keys",
    "stable_order",
    "keyed_pairs",
    "unique_pairs",
    "unique_codes",
    "code_pairs",
    "pair_codes",
    "candidate_pairs",
    "top_partner_pairs",
    "bands_in_common",
    "best_partners",
    "within_window",
    "datasketch_candidates",
    "lsh_views",
]


def _false_positive(threshold: float, b: int, r: int) -> float:
    from scipy.integrate import quad  # here: 0.15 s of imports (scipy.optimize) that most processes never need

    return quad(lambda s: 1 - (1 - s ** float(r)) ** float(b), 0.0, threshold)[0]


def _false_negative(threshold: float, b: int, r: int) -> float:
    from scipy.integrate import quad

    return quad(lambda s: 1 - (1 - (1 - s ** float(r)) ** float(b)), threshold, 1.0)[0]


@lru_cache(maxsize=64)
def optimal_params(
    threshold: float, num_perm: int, false_positive_weight: float = 0.5, false_negative_weight: float = 0.5
) -> tuple[int, int]:
    """``(b, r)`` minimising ``fp_weight * P(false positive) + fn_weight * P(false
    negative)`` for a Jaccard ``threshold`` over every ``b * r <= num_perm``:
    what datasketch's ``MinHashLSH`` picks (its ``b`` and ``r`` attributes)."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    best, opt = float("inf"), (0, 0)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            error = (
                _false_positive(threshold, b, r) * false_positive_weight
                + _false_negative(threshold, b, r) * false_negative_weight
            )
            if error < best:
                best, opt = error, (b, r)
    return opt


KEEP_BANDS = 4  # a pair agreeing in this many bands is kept whatever its partners' ranks


def ranks_partners(params: Params) -> bool:
    """Whether the partner rule (``Params.max_partners``) can drop a term-view
    pair: not without a bound, nor when every pair offered (``min_bands``
    bands or more) agrees in ``KEEP_BANDS`` bands and is kept whatever its rank."""
    return params.max_partners is not None and params.min_bands < KEEP_BANDS


def lsh_params(threshold: float, num_perm: int, recall_weight: float = 0.9) -> tuple[int, int]:
    """``(bands, rows)`` for a Jaccard ``threshold``: rows from :func:`optimal_params`
    with false negatives weighted ``recall_weight``, bands filling all
    ``num_perm`` permutations (the batch's and the live index's)."""
    if not 0.0 < recall_weight < 1.0:
        raise ValueError(f"recall_weight must be in (0, 1), got {recall_weight!r}")
    rows = SOLVED_ROWS.get((threshold, num_perm, recall_weight))
    if rows is None:
        _, rows = optimal_params(threshold, num_perm, 1.0 - recall_weight, recall_weight)
    return num_perm // rows, rows


# lsh_params' rows for the default parameters (term view, shingle view), so a
# process does not spend 0.15 s of numerical integration on them at start;
# tests/sketch/test_lsh.py solves each again and compares.
SOLVED_ROWS: dict[tuple[float, int, float], int] = {(0.1, 256, 0.9): 1, (0.6, 256, 0.5): 8}


def _check_width(signatures: np.ndarray, bands: int, rows: int) -> None:
    if bands * rows > signatures.shape[1]:
        raise ValueError(f"bands * rows = {bands * rows} exceeds the signature length {signatures.shape[1]}")


def _fingerprints(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """The band loop's fingerprints: a byte of each band key, eight bands to
    a uint64 word (zero padded), to count bands in common."""
    return _kernels.band_fingerprints(signatures, bands, rows, (bands + 7) // 8 * 8).view(np.uint64)


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 64-bit key per document and band: ``(n_docs, bands)``."""
    _check_width(signatures, bands, rows)
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
        from ..arrays import stable_argsort

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


def _bucket_pairs_capped(
    keys: np.ndarray, members: np.ndarray, max_bucket_size: int, neighbours: int
) -> tuple[np.ndarray, np.ndarray]:
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


def pair_codes(pairs: np.ndarray, n: int) -> np.ndarray:
    """Codes ``min(i, j) * n + max(i, j)`` of ``(i, j)`` pairs (the inverse of
    :func:`code_pairs`): half the memory of the pairs, merged by sorting."""
    return np.minimum(pairs[:, 0], pairs[:, 1]) * n + np.maximum(pairs[:, 0], pairs[:, 1])


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
    keep_bands: int = KEEP_BANDS,
    min_bands: int = 1,
) -> np.ndarray:
    """Pairs of rows that share at least ``min_bands`` LSH bands (one by default).

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

    ``min_bands`` drops the pairs that agree in fewer bands before anything
    else (before the ranking, which they would end anyway): chance pairs
    agree in a band or two, reports of one story in many.
    """
    if not isinstance(min_bands, (int, np.integer)) or min_bands < 1:
        raise ValueError(f"min_bands must be an integer >= 1, got {min_bands!r}")
    n = len(signatures)
    members = np.arange(n) if valid is None else np.flatnonzero(valid)
    members = _kernels.signed_members(signatures, np.asarray(members, dtype=np.int64))
    caps = {"max_bucket_size": max_bucket_size, "neighbours": neighbours}
    window = {"timestamps": timestamps, "window_seconds": window_seconds}
    if max_partners is not None:
        return top_partner_pairs(
            signatures, bands, rows, members, max_partners, keep_bands=keep_bands, min_bands=min_bands, **caps, **window
        )
    pairs = code_pairs(_banded_codes(signatures, bands, rows, members, **caps, **window), n)
    if min_bands > 1:
        pairs = pairs[bands_in_common(signatures[:, : bands * rows], pairs, bands, rows) >= min_bands]
    return pairs


def _banded_codes(
    signatures: np.ndarray,
    bands: int,
    rows: int,
    members: np.ndarray,
    *,
    max_bucket_size: int,
    neighbours: int,
    timestamps: np.ndarray | None,
    window_seconds: float | None,
) -> np.ndarray:
    """Every pair of ``members`` sharing a band (buckets capped, window
    applied), as sorted unique codes ``i * n + j``."""
    n = len(signatures)
    acc = np.zeros(0, np.int64)  # unique pair codes i * n + j found so far, sorted
    found: list[np.ndarray] = []
    pending = 0

    def band_codes(b: int) -> np.ndarray:
        keys = band_keys(signatures[members, b * rows : (b + 1) * rows], 1, rows)[:, 0]
        pr = within_window(_bucket_pairs(keys, members, max_bucket_size, neighbours), timestamps, window_seconds)
        return np.unique(pr[:, 0].astype(np.int64) * n + pr[:, 1])

    # One band's keys at a time per thread (memory O(n) per band, not
    # O(n * bands)). Each band's pairs become sorted unique int64 codes;
    # they are merged into the running set when they outnumber it
    # (amortised: a pair is merged O(1) times; the union does not depend
    # on the order of the bands).
    workers = min(usable_cpus(), 4) if len(members) >= 20_000 else 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        per_band = in_order(partial(pool.submit, band_codes), range(bands), 2 * workers) if workers > 1 else None
        for codes in per_band or map(band_codes, range(bands)):
            if len(codes):
                found.append(codes)
                pending += len(codes)
            if pending > max(1 << 22, 2 * len(acc)):
                acc, found, pending = _merge_codes([acc, *found]), [], 0
                release_freed_memory()
    return _merge_codes([acc, *found])


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
    keep_bands: int = KEEP_BANDS,
    min_bands: int = 1,
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
    story keeps all its pairs). Pairs agreeing in fewer than ``min_bands``
    bands are never offered (they would rank below every pair that is).
    The rule reads only the signatures and the row order: deterministic,
    whatever the input order; memory is O(rows * max_partners) plus one
    band's pairs at a time.

    Why: chance collisions (two articles sharing one rare term meet in about
    2 of 256 one-row bands) grow with the articles in the time window, while
    reports of one story share many terms and meet in many bands. (4 bands
    of 256 estimate a Jaccard of 0.016 between top-term sets: 2 terms of 60.)
    """
    if max_partners < 1:
        raise ValueError(f"max_partners must be >= 1, got {max_partners}")
    n = len(signatures)
    sig = np.ascontiguousarray(signatures[:, : bands * rows])
    ts, window, sorted_times = _time_arguments(timestamps, window_seconds, n)
    codes = _partner_codes(
        sig,
        bands,
        rows,
        np.asarray(members, dtype=np.int64),
        max_partners,
        (keep_bands, min_bands),
        (max_bucket_size, neighbours, ts, window, sorted_times),
    )
    return code_pairs(unique_codes(codes), n)


def _partner_codes(
    sig: np.ndarray,
    bands: int,
    rows: int,
    members: np.ndarray,
    max_partners: int,
    bands_rule: tuple[int, int],
    bucket_args: tuple,
) -> np.ndarray:
    """The band loop of :func:`top_partner_pairs`: the kept pairs as codes
    ``i * n + j`` (``i < j``; a pair once or twice)."""
    n = len(sig)
    lists = _PartnerLists.empty(n, max_partners)
    big = np.zeros((n, (bands + 7) // 8), dtype=np.uint8)  # bit b: the row's bucket in band b was capped
    fp = _fingerprints(sig, bands, rows)
    # Threads own ranges of rows (each updates only its rows' lists), so the
    # result is the same with any number of threads.
    workers = min(usable_cpus(), 4) if len(members) >= 20_000 else 1

    def buckets_of(b: int, big: np.ndarray = big) -> tuple[np.ndarray, np.ndarray] | None:
        return _band_buckets(sig[members, b * rows : (b + 1) * rows], members, bucket_args[0], big, b)

    sure: list[np.ndarray] = []  # codes of pairs agreeing in keep_bands bands or more: kept whatever their rank
    # With threads, the next band's buckets are sorted while this band's
    # pairs are proposed (it marks only its own band's bits of ``big``,
    # which this band's kernels do not read).
    with ThreadPoolExecutor(max_workers=workers) as pool, ThreadPoolExecutor(max_workers=1) as ahead:
        # two in flight: band b + 1's buckets are sorted while band b is handed on
        per_band = in_order(partial(ahead.submit, buckets_of), range(bands), 2) if workers > 1 else None
        for b, buckets in enumerate(per_band or map(buckets_of, range(bands))):
            if buckets is None:
                continue
            args = (*bucket_args, fp, sig, bands, rows, b, big, bands_rule[1])
            sure.extend(
                pair_codes(q, n) for q in _offer_band(pool, workers, *buckets, args, lists, bands_rule) if len(q)
            )
            if b % 32 == 31:
                release_freed_memory()  # one band's arrays at a time pile up on the heap otherwise
    best_p, fill = lists.best_p, lists.fill
    del lists, fp, big, buckets_of, per_band  # the other lists go
    listed = _kernels.partner_codes(best_p, fill)
    del best_p, fill
    return np.concatenate([listed, *sure])


@dataclass(frozen=True)
class _PartnerLists:
    """Each row's best partners so far: bands in common (``best_c``) and pair
    rows (``best_p``) of its ``fill`` entries, and the slot of its weakest
    (``worst``); the compiled kernels update the arrays in place."""

    best_c: np.ndarray
    best_p: np.ndarray
    fill: np.ndarray
    worst: np.ndarray

    @classmethod
    def empty(cls, n: int, k: int) -> _PartnerLists:
        # partners as int32 row numbers where they fit: at 1M rows and 80
        # partners the lists are most of the candidates stage's memory
        return cls(
            np.zeros((n, k), dtype=np.int32),
            np.zeros((n, k), dtype=np.int32 if n < np.iinfo(np.int32).max else np.int64),
            np.zeros(n, dtype=np.int64),
            np.zeros(n, dtype=np.int64),
        )


def _time_arguments(
    timestamps: np.ndarray | None, window_seconds: float | None, n: int
) -> tuple[np.ndarray, float, bool]:
    """The time window as the kernels take it: times (NaN unknown), the window
    (-1: none) and whether the known times are ascending and come first."""
    if timestamps is None or window_seconds is None:
        return np.zeros(n), -1.0, False
    ts = np.ascontiguousarray(timestamps, dtype=np.float64)
    known = ts[~np.isnan(ts)]
    return ts, float(window_seconds), bool(np.all(np.diff(known) >= 0)) and not np.isnan(ts[: len(known)]).any()


def _band_buckets(
    band: np.ndarray, members: np.ndarray, max_bucket_size: int, big: np.ndarray, b: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """One band's buckets of two members or more: their members in bucket
    order (rows ascending within a bucket) and where each bucket starts;
    marks the rows of capped buckets in ``big``. None when no bucket has two."""
    keys = band_keys(band, 1, band.shape[1])[:, 0]
    order, k = stable_order(keys)  # stable: rows stay ascending within a bucket
    idx = members[order]
    starts = np.flatnonzero(np.concatenate([[True], k[1:] != k[:-1]]))
    sizes = np.diff(np.append(starts, len(k)))
    big[idx[np.repeat(sizes > max_bucket_size, sizes)], b >> 3] |= np.uint8(1 << (b & 7))
    # a row alone in its bucket pairs with none: only buckets of two or more
    # go on, back to back (the kernel reads ahead along them)
    multi = sizes >= 2
    if not multi.any():
        return None
    idx, sizes = idx[np.repeat(multi, sizes)], sizes[multi]
    starts = np.zeros(len(sizes), dtype=np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    return idx, starts


def _offer_band(
    pool: ThreadPoolExecutor,
    workers: int,
    idx: np.ndarray,
    starts: np.ndarray,
    args: tuple,
    lists: _PartnerLists,
    bands_rule: tuple[int, int],
) -> list[np.ndarray]:
    """One band's pairs: each proposed pair's bands in common computed once
    (threads by buckets), then offered to the partner lists (threads by rows:
    each updates only its rows); ``bands_rule`` is ``(keep_bands, min_bands)``.
    Returns the pairs sure to be kept."""
    n = len(lists.fill)
    offer = (lists.best_c, lists.best_p, lists.fill, lists.worst)
    if workers == 1:
        proposed = _kernels.propose_band(idx, starts, 0, len(starts), *args)
        return [_kernels.offer_proposals(proposed, *offer, 0, n, *bands_rule)]
    cuts = np.searchsorted(starts, np.linspace(0, len(idx), workers + 1).astype(np.int64))
    cuts[-1] = len(starts)
    proposed = np.concatenate(
        list(pool.map(lambda w: _kernels.propose_band(idx, starts, cuts[w], cuts[w + 1], *args), range(workers)))
    )
    bounds = np.linspace(0, n, workers + 1).astype(np.int64)
    return list(
        pool.map(
            lambda w: _kernels.offer_proposals(proposed, *offer, bounds[w], bounds[w + 1], *bands_rule), range(workers)
        )
    )


def keyed_pairs(
    keys: np.ndarray,
    *,
    max_bucket_size: int = 100,
    neighbours: int = 8,
    timestamps: np.ndarray | None = None,
    window_seconds: float | None = None,
) -> np.ndarray:
    """Sorted unique codes ``i * m + j`` (``i < j``) of the ``m`` rows that
    share a key in one of the columns of ``keys`` (``(m, bands)`` band keys,
    rows in canonical order): the pairs :func:`_banded_codes` finds over
    those bands, by the batch's band kernel (:func:`_kernels.propose_band`),
    which proposes a pair once unless only capped buckets held it before --
    so several bands' pairs are never piled up to be made unique (the Spark
    path's bucketing, a few bands at a time)."""
    m, bands = keys.shape
    keys = np.ascontiguousarray(keys, dtype=np.uint64)
    members = np.arange(m, dtype=np.int64)
    ts, window, sorted_times = _time_arguments(timestamps, window_seconds, m)
    big = np.zeros((m, (bands + 7) // 8), dtype=np.uint8)
    fp = _fingerprints(keys, bands, 1)
    found = [np.zeros(0, np.int64)]
    for b in range(bands):
        buckets = _band_buckets(keys[:, b : b + 1], members, max_bucket_size, big, b)
        if buckets is not None:
            args = (max_bucket_size, neighbours, ts, window, sorted_times, fp, keys, bands, 1, b, big, 1)
            p = _kernels.propose_band(*buckets, 0, len(buckets[1]), *args)
            found.append(p[:, 0] * m + p[:, 1])
    return unique_codes(np.concatenate(found))


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
    members = [int(i) for i in members[signed(signatures[members])]]
    sketches = {i: to_lean_minhash(signatures[i], seed) for i in members}
    with lsh.insertion_session() as session:
        for i in members:
            session.insert(i, sketches[i])
    found = [(min(i, j), max(i, j)) for i in members for j in lsh.query(sketches[i]) if j != i]
    return unique_pairs(np.array(found, dtype=np.int64).reshape(-1, 2), n)


def lsh_views(params: Params) -> list[tuple[str, int, int]]:
    """``(signature, bands, rows)`` of the two candidate views: the term view
    (rewrites: each article's top terms) and the copy view (word shingles).
    The batch and the Spark path both band by these."""
    tb, tr = lsh_params(params.lsh_threshold, params.num_perm)
    sb, sr = lsh_params(params.copy_threshold, params.num_perm, recall_weight=0.5)
    return [("term", tb, tr), ("shingle", sb, sr)]


def bands_in_common(signatures: np.ndarray, pairs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """How many of ``bands`` bands (``rows`` values each) the signatures of
    each row pair agree in: the rank :func:`top_partner_pairs` gives a
    partner (first criterion). Counted as the band loop counts them (a byte
    of each band key, eight bands to a word, confirmed on the values)."""
    _check_width(signatures, bands, rows)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if not len(pairs):
        return np.zeros(0, dtype=np.int32)
    sig = np.ascontiguousarray(signatures)
    return _kernels.common_bands(pairs, _fingerprints(sig, bands, rows), sig, bands, rows)


def _rank_key(y: np.ndarray, dist: np.ndarray, common: np.ndarray) -> np.ndarray:
    """One sort key ordering offers as (more ``common`` first, then nearer,
    then lower ``y``): the three packed in an int64 when they fit (one sort
    instead of three), else their lexicographic rank."""
    c = int(common.max()) - common.astype(np.int64)  # more bands first
    bd, by = int(dist.max()).bit_length(), int(y.max()).bit_length()
    if int(c.max()).bit_length() + bd + by <= 63:
        return (c << (bd + by)) | (dist.astype(np.int64) << by) | y.astype(np.int64)
    key = np.empty(len(y), dtype=np.int64)
    key[np.lexsort((y, dist, c))] = np.arange(len(y))
    return key


def best_partners(x: np.ndarray, y: np.ndarray, common: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``(x, y)`` offers each ``x`` keeps: its ``k`` best partners ``y``,
    ranked by bands in common (more first), then by distance in canonical
    order ``|y - x|``, then by the lower ``y`` -- the ranking of
    :func:`top_partner_pairs` (offers are distinct)."""
    if not len(x):
        return x, y
    order = np.lexsort((_rank_key(y, np.abs(y - x), common), x))
    xs = x[order]
    starts = np.flatnonzero(np.concatenate([[True], xs[1:] != xs[:-1]]))
    sizes = np.diff(np.append(starts, len(xs)))
    place = np.arange(len(xs)) - np.repeat(starts, sizes)
    keep = order[place < k]
    return x[keep], y[keep]
