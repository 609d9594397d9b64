"""Per-article features: term counts (hashed unigrams and bigrams) and
word n-gram shingle hashes, from the same tokens; the shingle signatures.

:func:`featurize` is the per-article stage of every path (batch, live index,
Spark): each article's result depends on it alone, so it can run anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._sysmem import release_freed_memory
from ..arrays import csr_of
from ..hashing import COMBINE, fmix64
from ..text.tokens import TokenBatch
from ._kernels import scale_entries, term_counts

__all__ = [
    "feature_counts",
    "document_frequency",
    "ngram_hashes",
    "unique_per_doc",
    "RawFeatures",
    "feature_columns",
    "boost_terms",
    "stem_counts",
]


def feature_columns(hashes: np.ndarray, n_features: int) -> np.ndarray:
    return (fmix64(hashes) & np.uint64(n_features - 1)).astype(np.int64)


def feature_counts(tokens: TokenBatch, n_features: int) -> sp.csr_matrix:
    """Term counts of unigrams and bigrams, hashed into ``n_features`` columns."""
    # One compiled pass per document (dedup._kernels.term_counts): the
    # columns of its unigrams and bigrams (a one-word document has one
    # "bigram": the word itself again, hashed differently), radix-sorted and
    # counted -- the same matrix as building it from coordinates with scipy.

    indptr, indices, data = term_counts(
        np.ascontiguousarray(tokens.hashes, dtype=np.uint64), tokens.offsets, np.uint64(n_features - 1)
    )
    return sp.csr_matrix((data, indices, indptr), shape=(tokens.n_docs, n_features))


def boost_terms(counts: sp.csr_matrix, docs: np.ndarray, cols: np.ndarray, factor: float) -> sp.csr_matrix:
    """``counts`` with the entries ``(docs[k], cols[k])`` multiplied by ``factor``
    (in place): key facts count ``factor`` times (so their sublinear tf gains
    ``ln(factor)``, and pruning keeps them first)."""
    if factor == 1.0 or not len(docs) or not counts.nnz:
        return counts
    scale = np.asarray(factor, dtype=counts.data.dtype)
    if counts.has_sorted_indices:  # rows column-sorted: each key found by a binary search in its row
        docs, cols = np.asarray(docs, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        scale_entries(counts.indptr, counts.indices, counts.data, docs, cols, scale[()])
        return counts
    width = np.int64(counts.shape[1])
    rows = np.repeat(np.arange(counts.shape[0], dtype=np.int64), np.diff(counts.indptr))
    entries = rows * width + counts.indices.astype(np.int64)
    keys = np.asarray(docs, dtype=np.int64) * width + np.asarray(cols, dtype=np.int64)
    counts.data[np.isin(entries, keys)] *= scale
    return counts


def stem_counts(tokens: TokenBatch, n_features: int, length: int, max_tokens: int = 64) -> sp.csr_matrix:
    """Counts of word stems (the first ``length`` characters of each longer
    word, a column apart from the words) of every document with at most
    ``max_tokens`` tokens -- headlines, alerts; longer documents get none.

    Two headlines of one event often inflect the same words differently
    ("kills" / "killed", "Ukraine" / "Ukrainian"); their stems agree. Only
    short texts need it: a full article repeats its facts in many forms."""
    from ..hashing import hash_str

    n = tokens.n_docs
    lengths = tokens.lengths()
    short = (lengths > 0) & (lengths <= max_tokens)
    if length < 1 or not short.any():
        return sp.csr_matrix((n, n_features), dtype=np.float32)
    doc_of = np.repeat(np.arange(n, dtype=np.int64), lengths)
    pos = np.flatnonzero(short[doc_of])
    ids = tokens.ids[pos]
    distinct = np.unique(ids)
    vocab = tokens.vocab
    stems = [vocab[i][:length] if len(vocab[i]) > length and vocab[i].isalpha() else "" for i in distinct.tolist()]
    hashes = np.fromiter((hash_str("\x1e" + t) if t else 0 for t in stems), dtype=np.uint64, count=len(stems))
    col_of = np.where(hashes != 0, feature_columns(hashes, n_features), -1)
    cols = col_of[np.searchsorted(distinct, ids)]
    keep = cols >= 0
    out = sp.csr_matrix((np.ones(int(keep.sum()), np.float32), (doc_of[pos][keep], cols[keep])), shape=(n, n_features))
    out.sum_duplicates()
    return out


def document_frequency(counts: sp.csr_matrix) -> np.ndarray:
    """Number of documents each column occurs in."""
    return np.bincount(counts.indices, minlength=counts.shape[1]).astype(np.float64)


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
    np.diff(offsets)
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
            acc *= COMBINE  # in place: no temporary per step
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
                short_vals = short_vals * COMBINE + nxt.astype(np.uint64)
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


@dataclass(frozen=True)
class RawFeatures:
    """What the per-article stages produce for a run of articles, before any
    corpus statistic is applied: term counts, shingle signatures, digests."""

    counts: sp.csr_matrix  # hashed unigram + bigram counts
    shingle_signatures: np.ndarray  # (n, num_perm) uint32, one-permutation hashing of word n-gram shingles
    digests: list[bytes]  # of the comparison tokens: the content part of the canonical order
    empty: np.ndarray  # bool: no usable text
    # Document frequency of every column, counted before the rows were pruned
    # to Params.max_terms (sparse: columns, then counts); None when ``counts``
    # is complete, and then :meth:`document_frequency` counts it from ``counts``.
    df_cols: np.ndarray | None = None
    df_vals: np.ndarray | None = None
    # Squared weight (sublinear tf times the background prior's idf) of the
    # terms pruned from each row; None when nothing was pruned.
    dropped: np.ndarray | None = None
    # Distinct terms of each row before pruning; None: the stored values of ``counts``.
    n_terms: np.ndarray | None = None

    def terms_per_row(self) -> np.ndarray:
        """Distinct unigrams and bigrams of each article (before any pruning)."""
        return np.diff(self.counts.indptr) if self.n_terms is None else self.n_terms

    @property
    def n(self) -> int:
        return len(self.empty)

    def document_frequency(self) -> np.ndarray:
        """Dense document frequency per column (exact even when rows are pruned)."""
        if self.df_cols is None:
            return document_frequency(self.counts)
        df = np.zeros(self.counts.shape[1], dtype=np.float64)
        df[self.df_cols] = self.df_vals
        return df

    def take(self, order: np.ndarray) -> RawFeatures:
        return RawFeatures(
            self.counts[order],
            self.shingle_signatures[order],
            [self.digests[i] for i in order],
            self.empty[order],
            self.df_cols,
            self.df_vals,
            None if self.dropped is None else self.dropped[order],
            None if self.n_terms is None else self.n_terms[order],
        )

    @staticmethod
    def concat(parts: Sequence[RawFeatures]) -> RawFeatures:
        if len(parts) == 1:
            return parts[0]
        df_cols = df_vals = None
        if any(p.df_cols is not None for p in parts):
            n_features = parts[0].counts.shape[1]
            df = np.zeros(n_features, dtype=np.float64)
            for p in parts:
                if p.df_cols is None:
                    df += document_frequency(p.counts)
                else:
                    df[p.df_cols] += p.df_vals
            df_cols = np.flatnonzero(df)
            df_vals = df[df_cols]
        return RawFeatures(
            counts=sp.vstack([p.counts for p in parts], format="csr"),
            shingle_signatures=np.concatenate([p.shingle_signatures for p in parts]),
            digests=[d for p in parts for d in p.digests],
            empty=np.concatenate([p.empty for p in parts]),
            df_cols=df_cols,
            df_vals=df_vals,
            dropped=None
            if all(p.dropped is None for p in parts)
            else np.concatenate([np.zeros(p.n) if p.dropped is None else p.dropped for p in parts]),
            n_terms=None
            if all(p.n_terms is None for p in parts)
            else np.concatenate([p.terms_per_row() for p in parts]),
        )

    @staticmethod
    def stack(parts: list[RawFeatures]) -> RawFeatures:
        """:meth:`concat` that releases each part (popped from ``parts``,
        which ends empty) as soon as it is copied: the output is filled in
        order, so a large batch's features are held about once, not twice."""
        if len(parts) == 1:
            return parts.pop()
        n = sum(p.n for p in parts)
        nnz = sum(p.counts.nnz for p in parts)
        first = parts[0]
        indptr = np.zeros(n + 1, dtype=np.int64)
        indices = np.empty(nnz, dtype=first.counts.indices.dtype)
        data = np.empty(nnz, dtype=first.counts.dtype)
        sigs = np.empty((n, first.shingle_signatures.shape[1]), dtype=np.uint32)
        digests: list[bytes] = []
        empty = np.empty(n, dtype=bool)
        pruned = any(p.dropped is not None for p in parts)
        dropped = np.zeros(n) if pruned else None
        n_terms = np.empty(n, dtype=np.int64)
        df_cols, df_vals, n_features = first.df_cols, first.df_vals, first.counts.shape[1]
        row = at = 0
        while parts:
            p = parts.pop(0)
            c = p.counts
            indptr[row + 1 : row + p.n + 1] = c.indptr[1:] + at
            indices[at : at + c.nnz] = c.indices
            data[at : at + c.nnz] = c.data
            sigs[row : row + p.n] = p.shingle_signatures
            digests.extend(p.digests)
            empty[row : row + p.n] = p.empty
            if dropped is not None and p.dropped is not None:
                dropped[row : row + p.n] = p.dropped
            n_terms[row : row + p.n] = p.terms_per_row()
            row, at = row + p.n, at + c.nnz
            del p, c
            if len(parts) % 8 == 0:  # every few parts (a call costs about a millisecond)
                release_freed_memory()
        counts = csr_of(data, indices, indptr, (n, n_features))
        return RawFeatures(counts, sigs, digests, empty, df_cols, df_vals, dropped, n_terms)
