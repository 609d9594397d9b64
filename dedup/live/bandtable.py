"""A compact in-memory LSH band table: the buckets of one LSH view in numpy arrays.

:class:`BandTable` holds what datasketch's in-memory ``MinHashLSH`` holds for
the live index -- for every band, a bucket per band key with the articles
(sequence numbers) that have that key -- but in a few flat arrays instead of
one Python set per bucket (about 90 KB of dicts and sets per article with the
term view's 256 one-row bands; here about 40-60 bytes per band and article):

* an open-addressing hash table (linear probing, tombstones on removal,
  rebuilt at half load) over ``(band, key)``; ``key`` is the 64-bit band key
  of :func:`dedup.sketch.lsh.band_keys` (the raw minimum for one-row bands, a
  64-bit mix of the rows otherwise -- the batch's own key), the band is
  compared too, so two bands never share a bucket;
* a bucket with one member (most of them: rare terms) keeps it in its
  slot; a larger one has a segment of a shared ``int64`` pool holding its
  members in ascending sequence order; segments have power-of-two
  capacities, grow by moving to a segment twice as large, and freed segments
  go to a free list per capacity (kept in the freed segments themselves), so
  memory follows the live set. The slots take 23 bytes each, at 35-70% load.

Bucket semantics are the index's: :meth:`BandTable.query` returns every
member of each of the signature's buckets, except that a bucket with more
than ``max_bucket_size`` members contributes only its ``neighbours`` most
recent (largest sequence numbers) -- what ``sorted(bucket)[-neighbours:]``
gave on datasketch's sets. The loops are compiled with numba.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..hashing import COMBINE, band_key_scalar, fmix64_scalar
from ..sketch.lsh import band_keys
from ..sketch.minhash import EMPTY
from ._kernels import capped_start

__all__ = ["BandTable"]

_opts = dict(cache=True, nogil=True)
_EMPTY_SLOT = -1
_TOMB = -2
_N_CLASSES = 40
# meta: [0] used slots, [1] tombstones, [2] pool top, [3] members, [4 + c] free-list head of capacity 2**c
_USED, _TOMBS, _TOP, _MEMBERS, _FREE = 0, 1, 2, 3, 4


@njit(inline="always")
def _slot_hash(band, key, mask):
    return np.int64(fmix64_scalar(key ^ (np.uint64(band + 1) * COMBINE)) & np.uint64(mask))


@njit(**_opts)
def _find(sbands, skeys, band, key):
    """The slot of bucket ``(band, key)``, or -1."""
    mask = len(skeys) - 1
    i = _slot_hash(band, key, mask)
    while True:
        b = sbands[i]
        if b == _EMPTY_SLOT:
            return -1
        if b == band and skeys[i] == key:
            return i
        i = (i + 1) & mask


@njit(inline="always")
def _alloc(pool, meta, c):
    head = meta[_FREE + c]
    if head >= 0:
        meta[_FREE + c] = pool[head]
        return head
    size = np.int64(1) << c
    top = meta[_TOP]
    if top + size > len(pool):
        return -1
    meta[_TOP] = top + size
    return top


@njit(inline="always")
def _free(pool, meta, off, c):
    pool[off] = meta[_FREE + c]
    meta[_FREE + c] = off


@njit(inline="always")
def _probe(sbands, skeys, b, key, mask):
    """``(slot of bucket (b, key) or -1, the slot a new bucket would take)``:
    linear probing from the key's hash, the first tombstone reused."""
    i = _slot_hash(b, key, mask)
    tomb = -1
    while True:
        sb = sbands[i]
        if sb == _EMPTY_SLOT:
            return -1, (i if tomb < 0 else tomb)
        if sb == _TOMB:
            if tomb < 0:
                tomb = i
        elif sb == b and skeys[i] == key:
            return i, -1
        i = (i + 1) & mask


@njit(inline="always")
def _new_bucket(sbands, skeys, soff, ssize, scls, meta, slot, b, key, seq):
    """A new bucket in ``slot``: its one member is kept in the slot itself."""
    if sbands[slot] == _TOMB:
        meta[_TOMBS] -= 1
    meta[_USED] += 1
    sbands[slot] = b
    skeys[slot] = key
    soff[slot] = seq
    ssize[slot] = 1
    scls[slot] = 0
    meta[_MEMBERS] += 1


@njit(inline="always")
def _add_member(soff, ssize, scls, pool, meta, found, seq):
    """Add ``seq`` to the bucket in slot ``found``; False when its segment
    does not fit in ``pool`` (nothing changed then)."""
    s = ssize[found]
    off = soff[found]
    if s == 1:  # the second member: move to a segment of two
        if off == seq:
            return True
        new = _alloc(pool, meta, 1)
        if new < 0:
            return False
        pool[new] = min(off, seq)
        pool[new + 1] = max(off, seq)
        soff[found] = new
        ssize[found] = 2
        scls[found] = 1
        meta[_MEMBERS] += 1
        return True
    if pool[off + s - 1] == seq:
        return True  # already a member (a set, as in datasketch)
    c = scls[found]
    if s == (np.int64(1) << c):  # full: move to a segment twice as large
        new = _alloc(pool, meta, c + 1)
        if new < 0:
            return False
        for t in range(s):
            pool[new + t] = pool[off + t]
        _free(pool, meta, off, c)
        off = new
        soff[found] = new
        scls[found] = c + 1
    pos = s
    while pos > 0 and pool[off + pos - 1] > seq:  # keep ascending order (appends are in order)
        pool[off + pos] = pool[off + pos - 1]
        pos -= 1
    pool[off + pos] = seq
    ssize[found] = s + 1
    meta[_MEMBERS] += 1
    return True


@njit(**_opts)
def _one_band_keys(sig, bands, rows):
    """:func:`dedup.sketch.lsh.band_keys` of one signature (uint32), or None
    when every value is EMPTY (an empty document)."""
    empty = True
    for v in sig:
        if v != np.uint32(EMPTY):
            empty = False
            break
    if empty:
        return None
    out = np.empty(bands, np.uint64)
    for b in range(bands):
        out[b] = band_key_scalar(sig, b, rows)
    return out


@njit(**_opts)
def _insert(sbands, skeys, soff, ssize, scls, pool, meta, seq, keys, start):
    """Add ``seq`` to the bucket of each band ``start..`` (``keys[b]``); stops
    at the first band whose segment does not fit in ``pool`` and returns its
    index (``len(keys)`` when done). The caller keeps the table below half load."""
    mask = len(skeys) - 1
    for b in range(start, len(keys)):
        found, slot = _probe(sbands, skeys, b, keys[b], mask)
        if found < 0:
            _new_bucket(sbands, skeys, soff, ssize, scls, meta, slot, b, keys[b], seq)
        elif not _add_member(soff, ssize, scls, pool, meta, found, seq):
            return b
    return len(keys)


@njit(**_opts)
def _remove(sbands, skeys, soff, ssize, scls, pool, meta, seq, keys):
    """Take ``seq`` out of the bucket of each band (``keys[b]``); an emptied
    bucket frees its segment and leaves a tombstone."""
    for b in range(len(keys)):
        i = _find(sbands, skeys, b, keys[b])
        if i < 0:
            continue
        off = soff[i]
        s = ssize[i]
        if s == 1:
            if off == seq:
                sbands[i] = _TOMB
                meta[_USED] -= 1
                meta[_TOMBS] += 1
                meta[_MEMBERS] -= 1
            continue
        lo, hi = 0, s  # binary search: members are ascending
        while lo < hi:
            mid = (lo + hi) >> 1
            if pool[off + mid] < seq:
                lo = mid + 1
            else:
                hi = mid
        if lo >= s or pool[off + lo] != seq:
            continue
        for t in range(lo, s - 1):
            pool[off + t] = pool[off + t + 1]
        ssize[i] = s - 1
        meta[_MEMBERS] -= 1
        if s == 2:  # one member left: back into the slot
            soff[i] = pool[off]
            _free(pool, meta, off, scls[i])
            scls[i] = 0


@njit(**_opts)
def _query(sbands, skeys, soff, ssize, pool, keys, max_bucket_size, neighbours):
    """Sorted distinct members of the signature's buckets (a bucket above
    ``max_bucket_size`` members gives only its ``neighbours`` most recent)."""
    slots = np.empty(len(keys), np.int64)
    first = np.zeros(len(keys), np.int64)  # first member taken from each band's bucket
    total = 0
    for b in range(len(keys)):
        i = _find(sbands, skeys, b, keys[b])
        slots[b] = i
        if i >= 0:
            first[b] = capped_start(ssize[i], max_bucket_size, neighbours)
            total += ssize[i] - first[b]
    out = np.empty(total, np.int64)
    n = 0
    for b in np.flatnonzero(slots >= 0):
        i = slots[b]
        if ssize[i] == 1:  # a lone member is kept in the slot
            out[n] = soff[i]
            n += 1
        else:
            taken = ssize[i] - first[b]
            out[n : n + taken] = pool[soff[i] + first[b] : soff[i] + ssize[i]]
            n += taken
    return _sorted_distinct(out)


@njit(inline="always")
def _sorted_distinct(out):
    """``np.unique`` of ``out``, sorting it in place."""
    out.sort()
    m = 0
    for t in range(len(out)):
        if m == 0 or out[t] != out[m - 1]:
            out[m] = out[t]
            m += 1
    return out[:m]


@njit(**_opts)
def _rehash(sbands, skeys, soff, ssize, scls, capacity):
    """The live slots in a new table of ``capacity`` slots (no tombstones)."""
    nb = np.full(capacity, _EMPTY_SLOT, np.int16)
    nk = np.zeros(capacity, np.uint64)
    no = np.zeros(capacity, np.int64)
    ns = np.zeros(capacity, np.int32)
    nc = np.zeros(capacity, np.int8)
    mask = capacity - 1
    for j in range(len(sbands)):
        b = sbands[j]
        if b < 0:
            continue
        i = _slot_hash(b, skeys[j], mask)
        while nb[i] != _EMPTY_SLOT:
            i = (i + 1) & mask
        nb[i] = b
        nk[i] = skeys[j]
        no[i] = soff[j]
        ns[i] = ssize[j]
        nc[i] = scls[j]
    return nb, nk, no, ns, nc


class BandTable:
    """The buckets of one LSH view (``bands`` bands of ``rows`` rows), keyed
    by sequence numbers: :meth:`insert`, :meth:`remove`, :meth:`query`."""

    def __init__(self, bands: int, rows: int, capacity: int = 1 << 12, pool: int = 1 << 14):
        self.bands = bands
        self.rows = rows
        cap = 1 << max(4, int(capacity - 1).bit_length())
        if not 0 < bands < 2**15:
            raise ValueError(f"bands must be in 1..32767, got {bands}")
        self._sb = np.full(cap, _EMPTY_SLOT, np.int16)  # band of the slot; -1 empty, -2 tombstone
        self._sk = np.zeros(cap, np.uint64)  # band key
        self._so = np.zeros(cap, np.int64)  # segment offset in the pool; the member itself for one member
        self._ss = np.zeros(cap, np.int32)  # members
        self._sc = np.zeros(cap, np.int8)  # segment capacity 2**c (buckets of two or more)
        self._pool = np.zeros(max(16, pool), np.int64)
        self._meta = np.zeros(_FREE + _N_CLASSES, np.int64)
        self._meta[_FREE:] = -1

    def keys(self, sig: np.ndarray) -> np.ndarray | None:
        """The band keys of one signature (None for an empty document's):
        :func:`dedup.sketch.lsh.band_keys` of its row, in one compiled pass."""
        sig = np.ascontiguousarray(sig, dtype=np.uint32)
        if len(sig) < self.bands * self.rows:
            return np.ascontiguousarray(band_keys(sig[None, :], self.bands, self.rows)[0])  # raises
        return _one_band_keys(sig, self.bands, self.rows)

    def insert(self, seq: int, sig: np.ndarray) -> None:
        """Put article ``seq`` in the bucket of each of its bands (nothing for an empty signature)."""
        self.insert_keys(seq, self.keys(sig))

    def insert_keys(self, seq: int, keys: np.ndarray | None) -> None:
        """:meth:`insert` with the signature's band keys (:meth:`keys`) already computed."""
        if keys is None:
            return
        meta = self._meta
        if 10 * (meta[_USED] + meta[_TOMBS] + len(keys)) > 7 * len(self._sb):  # above 70% load
            self._resize(int(meta[_USED]) + len(keys))
        start = 0
        while True:
            start = _insert(
                self._sb, self._sk, self._so, self._ss, self._sc, self._pool, meta, np.int64(seq), keys, start
            )
            if start >= len(keys):
                return
            self._grow_pool()

    def remove(self, seq: int, sig: np.ndarray) -> None:
        """Take article ``seq`` (with signature ``sig``) out of its buckets."""
        keys = self.keys(sig)
        if keys is not None:
            _remove(self._sb, self._sk, self._so, self._ss, self._sc, self._pool, self._meta, np.int64(seq), keys)

    def query(self, sig: np.ndarray, max_bucket_size: int, neighbours: int) -> np.ndarray:
        """Sorted distinct members of the signature's buckets, big buckets capped."""
        return self.query_keys(self.keys(sig), max_bucket_size, neighbours)

    def query_keys(self, keys: np.ndarray | None, max_bucket_size: int, neighbours: int) -> np.ndarray:
        """:meth:`query` with the signature's band keys (:meth:`keys`) already computed."""
        if keys is None:
            return np.zeros(0, np.int64)
        return _query(self._sb, self._sk, self._so, self._ss, self._pool, keys, max_bucket_size, neighbours)

    def bucket(self, band: int, key: int) -> np.ndarray:
        """The members of one bucket (ascending), for tests and inspection."""
        i = _find(self._sb, self._sk, band, np.uint64(key))
        if i < 0:
            return np.zeros(0, np.int64)
        if self._ss[i] == 1:
            return np.array([self._so[i]], np.int64)
        return self._pool[self._so[i] : self._so[i] + self._ss[i]].copy()

    def __len__(self) -> int:
        """Members over all buckets (one per article and band)."""
        return int(self._meta[_MEMBERS])

    @property
    def n_buckets(self) -> int:
        return int(self._meta[_USED])

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self._sb, self._sk, self._so, self._ss, self._sc, self._pool, self._meta))

    def _resize(self, used: int) -> None:
        cap = len(self._sb)
        while 2 * used > cap:  # at most half full after the rebuild (tombstones dropped)
            cap *= 2
        self._sb, self._sk, self._so, self._ss, self._sc = _rehash(
            self._sb, self._sk, self._so, self._ss, self._sc, cap
        )
        self._meta[_TOMBS] = 0

    def _grow_pool(self) -> None:
        pool = np.zeros(2 * len(self._pool), np.int64)
        pool[: len(self._pool)] = self._pool
        self._pool = pool
