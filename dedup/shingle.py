"""Shingling: tokens to 64-bit hashes, and word n-grams hashed with numpy.

Each distinct token string of a batch is hashed once (BLAKE2b, 8 bytes: stable
across processes and Python versions, unlike ``hash()``); everything after
that -- n-grams, feature columns, signatures -- is array arithmetic over the
whole batch, with no Python loop per shingle. The same token hashes feed both
the shingle view (MinHash) and the TF-IDF features (:mod:`dedup.verify`), so a
text is tokenised once.
"""

from __future__ import annotations

import hashlib
from itertools import chain
from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ["TokenBatch", "fmix64", "hash_tokens", "hash_texts", "ngram_hashes", "unique_per_doc", "fold32"]

_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)
_COMBINE = np.uint64(0x9E3779B97F4A7C15)  # odd multiplier for order-sensitive combination


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


def _hash_str(s: str) -> int:
    return int.from_bytes(hashlib.blake2b(s.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


@dataclass(frozen=True)
class TokenBatch:
    """The tokens of many documents as arrays, document after document.

    ``hashes[offsets[i]:offsets[i+1]]`` are document ``i``'s token hashes in
    text order; ``vocab`` and ``ids`` give each token's string (``vocab[ids[k]]``).
    """

    hashes: np.ndarray  # uint64, one per token
    ids: np.ndarray  # int64, index into vocab
    offsets: np.ndarray  # int64, n_docs + 1
    vocab: tuple[str, ...]

    @property
    def n_docs(self) -> int:
        return len(self.offsets) - 1

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


def hash_tokens(token_lists: Sequence[Sequence[str]]) -> TokenBatch:
    """Hash every document's tokens; each distinct string is hashed once.

    The tokens are joined into one byte buffer and given ids in order of
    first occurrence by a compiled hash table (:mod:`dedup._kernels`); only
    the distinct strings are hashed in Python (see :func:`hash_texts`).
    """
    return hash_texts(token_lists)[0]


def hash_texts(items: Sequence[str | Sequence[str]]) -> tuple[TokenBatch, list[bytes]]:
    """Tokenise and hash many documents at once, with each document's digest.

    An item is either folded text (a ``str``, see :func:`dedup.normalize.fold`),
    tokenised exactly as :func:`dedup.normalize.tokenize` does, or the list
    of its tokens. The result equals ``hash_tokens`` of the token lists, but
    an ASCII text (most feeds) never becomes a Python string per token: a
    compiled scanner equal to ``tokenize``'s pattern finds its tokens in the
    bytes. The digest of a document is BLAKE2b (8 bytes) of its tokens
    joined by ``\x1f`` (UTF-8) -- the content part of the pipeline's
    canonical order. Token lists the byte buffer cannot hold (an empty
    token, or one containing ``\x1f``) take a dict path with the same result.
    """
    from .normalize import tokenize

    pretok = np.ones(len(items), dtype=np.bool_)
    encoded: list[bytes] = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            if item.isascii():
                pretok[i] = False
                encoded.append(item.encode("ascii"))
                continue
            item = tokenize(item)
        joined = "\x1f".join(item)
        if len(item) and joined.count("\x1f") != len(item) - 1:
            return _hash_items_dict(items)
        encoded.append(joined.encode("utf-8", "surrogatepass"))
    batch, digests = _batch_from_buffer(encoded, pretok)
    given = np.flatnonzero(pretok)
    if len(given):
        lengths = batch.lengths()[given]
        want = np.fromiter((len(items[i]) if not isinstance(items[i], str) else lengths[k]
                            for k, i in enumerate(given.tolist())), dtype=np.int64, count=len(given))
        if not np.array_equal(lengths, want):  # an empty token in a list
            return _hash_items_dict(items)
    return batch, digests


def _hash_items_dict(items: Sequence[str | Sequence[str]]) -> tuple[TokenBatch, list[bytes]]:
    from .normalize import tokenize

    lists = [tokenize(i) if isinstance(i, str) else list(i) for i in items]
    digests = [hashlib.blake2b("\x1f".join(t).encode("utf-8", "surrogatepass"), digest_size=8).digest() for t in lists]
    return _hash_tokens_dict(lists), digests


def _batch_from_buffer(encoded: list[bytes], pretokenized: np.ndarray) -> tuple[TokenBatch, list[bytes]]:
    from . import _kernels

    doc_offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)), out=doc_offsets[1:])
    buf = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    joined, joined_offsets, tok_offsets, starts, ends, keys = _kernels.token_spans(buf, doc_offsets, pretokenized)
    ids, first = _kernels.factorize_spans(joined, starts, ends, keys)
    raw = joined.tobytes()
    spans = list(zip(starts[first].tolist(), ends[first].tolist()))
    vocab = tuple(raw[s:e].decode("utf-8", "surrogatepass") for s, e in spans)
    table = np.fromiter((_hash_bytes(raw[s:e]) for s, e in spans), dtype=np.uint64, count=len(spans))
    jo = joined_offsets.tolist()
    digests = [hashlib.blake2b(raw[jo[d] : jo[d + 1]], digest_size=8).digest() for d in range(len(encoded))]
    batch = TokenBatch(hashes=table[ids] if len(ids) else np.zeros(0, np.uint64), ids=ids, offsets=tok_offsets,
                       vocab=vocab)
    return batch, digests


def _hash_bytes(b: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(b, digest_size=8).digest(), "little")


def _hash_tokens_dict(token_lists: Sequence[Sequence[str]]) -> TokenBatch:
    """:func:`hash_tokens` with a dict: the reference the compiled path equals."""
    lengths = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=len(token_lists))
    offsets = np.zeros(len(token_lists) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = list(chain.from_iterable(token_lists))
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(flat))}
    ids = np.fromiter(map(vocab.__getitem__, flat), dtype=np.int64, count=len(flat))
    del flat
    strings = tuple(vocab)
    table = np.fromiter((_hash_str(s) for s in strings), dtype=np.uint64, count=len(strings))
    return TokenBatch(hashes=table[ids] if len(ids) else np.zeros(0, np.uint64), ids=ids, offsets=offsets, vocab=strings)


def ngram_hashes(hashes: np.ndarray, offsets: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of all word n-grams inside each document (never across two).

    A non-empty document shorter than ``n`` tokens yields one shingle of all
    its tokens, so short texts still have a signature. Returns
    ``(hashes, offsets)`` in the same layout as the input.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    offsets = np.asarray(offsets, dtype=np.int64)
    total = len(hashes)
    lengths = np.diff(offsets)
    if n == 1 or total == 0:
        return fmix64(hashes.astype(np.uint64, copy=False)) if total else hashes.copy(), offsets.copy()
    from . import _kernels

    return _kernels.ngram_hashes(np.ascontiguousarray(hashes, dtype=np.uint64), offsets, n)


def _ngram_hashes_numpy(hashes: np.ndarray, offsets: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`ngram_hashes` with numpy (``n >= 2``, non-empty): the reference the kernel equals."""
    offsets = np.asarray(offsets, dtype=np.int64)
    total = len(hashes)
    lengths = np.diff(offsets)
    padded = np.concatenate([hashes.astype(np.uint64, copy=False), np.zeros(n - 1, np.uint64)])
    acc = padded[:total].copy()
    with np.errstate(over="ignore"):
        for k in range(1, n):
            acc *= _COMBINE  # in place: no temporary per step
            acc += padded[k : k + total]
    # an n-gram is whole when it starts at least n - 1 tokens before its document's end
    doc_of = np.repeat(np.arange(len(lengths)), lengths)
    full = np.ones(total, dtype=bool)
    ends = offsets[1:][lengths > 0]
    for k in range(1, n):
        idx = ends - k
        full[idx[idx >= 0]] = False
    full[offsets[:-1][(lengths > 0) & (lengths < n)]] = False
    # Short documents: one shingle over all their tokens (the n-gram hash
    # truncated at the document end, recomputed without the neighbour's tokens).
    short_docs = np.flatnonzero((lengths > 0) & (lengths < n))
    keep = full.copy()
    if len(short_docs):
        starts = offsets[short_docs]
        short_vals = hashes[starts].astype(np.uint64)
        with np.errstate(over="ignore"):
            for k in range(1, n):
                nxt = np.where(k < lengths[short_docs], hashes[np.minimum(starts + k, total - 1)], np.uint64(0))
                short_vals = short_vals * _COMBINE + nxt.astype(np.uint64)
        acc[starts] = short_vals
        keep[starts] = True
    out = fmix64(acc[keep])
    counts = np.bincount(doc_of[keep], minlength=len(lengths))
    new_offsets = np.zeros_like(offsets)
    np.cumsum(counts, out=new_offsets[1:])
    return out, new_offsets


def unique_per_doc(values: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Set semantics: sort and deduplicate the values within each document."""
    lengths = np.diff(offsets)
    doc_of = np.repeat(np.arange(len(lengths)), lengths)
    order = np.lexsort((values, doc_of))
    v, d = values[order], doc_of[order]
    keep = np.ones(len(v), dtype=bool)
    keep[1:] = (v[1:] != v[:-1]) | (d[1:] != d[:-1])
    counts = np.bincount(d[keep], minlength=len(lengths))
    new_offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(counts, out=new_offsets[1:])
    return v[keep], new_offsets
