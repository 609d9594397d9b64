"""Hashing: the compiled BLAKE2b equals hashlib's, byte string for byte string."""

from __future__ import annotations

import hashlib

import numpy as np

from dedup.hashing import blake2b64_spans, hash_bytes, hash_str, hash_strs


def _spans(parts: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lengths = np.array([len(p) for p in parts], dtype=np.int64)
    ends = np.cumsum(lengths)
    return np.frombuffer(b"".join(parts) or b"\0", np.uint8), ends - lengths, ends


def test_compiled_blake2b_equals_hashlib_across_block_boundaries():
    rng = np.random.default_rng(7)
    lengths = list(range(0, 300)) + [383, 384, 385, 1023, 1024, 1025] + rng.integers(0, 3000, 50).tolist()
    parts = [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in lengths]
    got = blake2b64_spans(*_spans(parts))
    want = [int.from_bytes(hashlib.blake2b(p, digest_size=8).digest(), "little") for p in parts]
    assert got.tolist() == want


def test_compiled_blake2b_of_token_strings_equals_hash_str():
    words = ["", "a", "the", "peace-making", "u.s", "1,000", "caf\u00e9", "\u6771\u4eac"]
    got = blake2b64_spans(*_spans([w.encode("utf-8") for w in words]))
    assert got.tolist() == [hash_str(w) for w in words] == [hash_bytes(w.encode()) for w in words]
    assert len(set(got.tolist())) == len(words)


def test_hash_strs_is_hash_str_of_each():
    """The vectorised form (the background prior's words) equals the scalar
    one, lone surrogates included; no strings, no hashes."""
    words = ["", "a", "caf\u00e9", "\udc80x", "word " * 40] + [f"w{i}" for i in range(500)]
    assert hash_strs(words).tolist() == [hash_str(w) for w in words]
    assert hash_strs(iter(words[:3])).tolist() == [hash_str(w) for w in words[:3]]
    assert hash_strs([]).dtype == np.uint64 and len(hash_strs([])) == 0
