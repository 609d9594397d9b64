"""Hash mixing shared by every stage that hashes: tokens, n-grams, feature columns, band keys.

MurmurHash3's 64-bit finaliser as a numpy function over arrays (:func:`fmix64`)
and as a scalar for compiled kernels (:func:`fmix64_scalar`); BLAKE2b for
strings. One definition, so a token hashes alike in the batch, the live index
and on Spark.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import numpy as np
from numba import njit

__all__ = [
    "fmix64",
    "fold32",
]


_M1 = np.uint64(0xFF51AFD7ED558CCD)


_M2 = np.uint64(0xC4CEB9FE1A85EC53)


_S33 = np.uint64(33)


COMBINE = np.uint64(0x9E3779B97F4A7C15)  # odd multiplier for order-sensitive combination
FNV_OFFSET = np.uint64(0xCBF29CE484222325)  # FNV-1a, for the tokeniser's byte keys
FNV_PRIME = np.uint64(0x100000001B3)


def fmix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser: a fixed avalanching bijection (wraps mod 2^64)."""
    x = x ^ (x >> _S33)  # a new array; the rest works in place on it
    x *= _M1
    x ^= x >> _S33
    x *= _M2
    x ^= x >> _S33
    return x


def fold32(x: np.ndarray) -> np.ndarray:
    """Fold 64-bit hashes to 32 bits (xor of halves), the input width of the MinHash scheme."""
    return ((x >> np.uint64(32)) ^ x).astype(np.uint32)


def hash_str(s: str) -> int:
    return int.from_bytes(hashlib.blake2b(s.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


def joined_bytes(parts: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Byte strings back to back as one uint8 buffer, and where each starts
    (``offsets``, one more than ``parts``): what the compiled passes read."""
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, parts), dtype=np.int64, count=len(parts)), out=offsets[1:])
    return np.frombuffer(b"".join(parts) or b"\0", np.uint8), offsets


def hash_strs(strings: Iterable[str]) -> np.ndarray:
    """:func:`hash_str` of each string (uint64), in one compiled pass over
    their UTF-8 bytes laid end to end (:func:`blake2b64_spans`)."""
    buf, offsets = joined_bytes([s.encode("utf-8", "surrogatepass") for s in strings])
    return blake2b64_spans(buf, offsets[:-1], offsets[1:])


def hash_bytes(b: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(b, digest_size=8).digest(), "little")


@njit(inline="always")
def fmix64_scalar(x):
    x ^= x >> np.uint64(33)
    x *= _M1
    x ^= x >> np.uint64(33)
    x *= _M2
    x ^= x >> np.uint64(33)
    return x


@njit(inline="always")
def band_key_scalar(row, b, rows):
    """The key of band ``b`` (``rows`` values) of one signature ``row``:
    :func:`dedup.sketch.lsh.band_keys`'s, for compiled kernels (the first
    value, each further one mixed in as ``fmix64(key * COMBINE + value)``)."""
    key = np.uint64(row[b * rows])
    for r in range(1, rows):
        key = fmix64_scalar(key * COMBINE + np.uint64(row[b * rows + r]))
    return key


_IV = np.array(
    [
        0x6A09E667F3BCC908,
        0xBB67AE8584CAA73B,
        0x3C6EF372FE94F82B,
        0xA54FF53A5F1D36F1,
        0x510E527FADE682D1,
        0x9B05688C2B3E6C1F,
        0x1F83D9ABFB41BD6B,
        0x5BE0CD19137E2179,
    ],
    dtype=np.uint64,
)


_SIGMA = np.array(
    [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
        [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
        [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
        [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
        [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
        [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
        [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
        [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
        [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
    ],
    dtype=np.int64,
)


@njit(inline="always")
def _rotr(x, n):
    return (x >> np.uint64(n)) | (x << np.uint64(64 - n))


@njit(inline="always")
def _mix(v, a, b, c, d, x, y):
    """BLAKE2b's G function on the working vector ``v``."""
    v[a] = v[a] + v[b] + x
    v[d] = _rotr(v[d] ^ v[a], 32)
    v[c] = v[c] + v[d]
    v[b] = _rotr(v[b] ^ v[c], 24)
    v[a] = v[a] + v[b] + y
    v[d] = _rotr(v[d] ^ v[a], 16)
    v[c] = v[c] + v[d]
    v[b] = _rotr(v[b] ^ v[c], 63)


@njit(inline="always")
def _compress(h, m, v, counter, last):
    """One BLAKE2b compression of the block words ``m`` into the state ``h``."""
    for i in range(8):
        v[i] = h[i]
        v[i + 8] = _IV[i]
    v[12] ^= np.uint64(counter)
    if last:
        v[14] = ~v[14]
    for r in range(12):
        s = _SIGMA[r % 10]
        _mix(v, 0, 4, 8, 12, m[s[0]], m[s[1]])
        _mix(v, 1, 5, 9, 13, m[s[2]], m[s[3]])
        _mix(v, 2, 6, 10, 14, m[s[4]], m[s[5]])
        _mix(v, 3, 7, 11, 15, m[s[6]], m[s[7]])
        _mix(v, 0, 5, 10, 15, m[s[8]], m[s[9]])
        _mix(v, 1, 6, 11, 12, m[s[10]], m[s[11]])
        _mix(v, 2, 7, 8, 13, m[s[12]], m[s[13]])
        _mix(v, 3, 4, 9, 14, m[s[14]], m[s[15]])
    for i in range(8):
        h[i] ^= v[i] ^ v[i + 8]


@njit(inline="always")
def blake2b64_scalar(buf, lo, hi, h, m, v):
    """BLAKE2b with an 8-byte digest of ``buf[lo:hi]``, as the little-endian
    integer :func:`hash_bytes` gives (``h``, ``m``, ``v``: scratch of 8, 16
    and 16 uint64). Compiled kernels hash token bytes with it, so no Python
    string is made per token."""
    for i in range(8):
        h[i] = _IV[i]
    h[0] ^= np.uint64(0x01010008)  # digest length 8, no key, fanout 1, depth 1
    n = hi - lo
    done = 0
    while True:
        take = min(128, n - done)
        m[:] = 0
        for q in range(take):
            m[q >> 3] |= np.uint64(buf[lo + done + q]) << np.uint64(8 * (q & 7))
        done += take
        last = done >= n
        _compress(h, m, v, done, last)
        if last:
            return h[0]


@njit(cache=True, nogil=True)
def blake2b64_spans(buf, starts, ends):
    """:func:`hash_bytes` of every ``buf[starts[k]:ends[k]]`` (uint8 ``buf``)."""
    out = np.empty(len(starts), np.uint64)
    h = np.empty(8, np.uint64)
    m = np.empty(16, np.uint64)
    v = np.empty(16, np.uint64)
    for k in range(len(starts)):
        out[k] = blake2b64_scalar(buf, starts[k], ends[k], h, m, v)
    return out
