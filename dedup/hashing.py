"""Hash mixing shared by every stage that hashes: tokens, n-grams, feature columns, band keys.

MurmurHash3's 64-bit finaliser as a numpy function over arrays (:func:`fmix64`)
and as a scalar for compiled kernels (:func:`fmix64_scalar`); BLAKE2b for
strings. One definition, so a token hashes alike in the batch, the live index
and on Spark.
"""

from __future__ import annotations

import hashlib

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
