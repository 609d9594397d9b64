"""Verification: TF-IDF cosine, computed for candidate pairs only.

Features are hashed (unigrams and bigrams of the shared token hashes, folded
into ``n_features`` columns), so the same article gets the same columns in a
batch, in a live index and on a Spark executor -- no vocabulary to fit or
ship. Document frequencies come from the corpus (or the running counts of an
index), blended with a background prior from ``wordfreq`` word frequencies:
with it, a common word is common even in a batch of two, and a score means
the same at any corpus size. Weights are sublinear tf times smoothed idf,
rows L2-normalised with scikit-learn; a pair's cosine is the dot product of
two sparse rows. No n x n matrix is ever formed.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from .shingle import TokenBatch, fmix64, ngram_hashes

__all__ = [
    "background_prior",
    "feature_counts",
    "document_frequency",
    "idf_weights",
    "tfidf",
    "drop_columns",
    "csr_of",
    "pair_cosine",
    "top_terms",
    "row_kth_largest",
    "neighbour_similarity",
    "shared_terms",
    "blend_neighbourhood",
    "story_similarity",
]

_DOC_LENGTH = 400.0  # typical article length in tokens, to turn word frequency into document frequency


def _columns(hashes: np.ndarray, n_features: int) -> np.ndarray:
    return (fmix64(hashes) & np.uint64(n_features - 1)).astype(np.int64)


def feature_counts(tokens: TokenBatch, n_features: int) -> sp.csr_matrix:
    """Term counts of unigrams and bigrams, hashed into ``n_features`` columns."""
    # One compiled pass per document (dedup._kernels.term_counts): the
    # columns of its unigrams and bigrams (a one-word document has one
    # "bigram": the word itself again, hashed differently), radix-sorted and
    # counted -- the same matrix as building it from coordinates with scipy.
    from ._kernels import term_counts

    indptr, indices, data = term_counts(np.ascontiguousarray(tokens.hashes, dtype=np.uint64), tokens.offsets,
                                        np.uint64(n_features - 1))
    return sp.csr_matrix((data, indices, indptr), shape=(tokens.n_docs, n_features))


def document_frequency(counts: sp.csr_matrix) -> np.ndarray:
    """Number of documents each column occurs in."""
    return np.bincount(counts.indices, minlength=counts.shape[1]).astype(np.float64)


@lru_cache(maxsize=4)
def _word_frequencies(language: str) -> dict[str, float]:
    import wordfreq

    try:
        return wordfreq.get_frequency_dict(language, wordlist="best")
    except (LookupError, ValueError) as exc:  # pragma: no cover - depends on wordfreq's data
        raise ValueError(f"no background word frequencies for language {language!r}: {exc}") from exc


def background_prior(language: str | None, n_features: int, n_docs: int) -> np.ndarray:
    """Prior document frequency of every column, from word frequencies in ``language``.

    A word of frequency ``f`` is expected in ``1 - exp(-f * L)`` of documents
    of ``L`` tokens, times ``n_docs`` background documents; a column shared by
    several words (hash collisions) takes the largest. Words the list does not
    know (names, numbers) and bigrams get no prior: they count as rare. The
    array depends on the parameters alone -- not on the articles -- so a
    batch, a live index and a Spark executor weigh a term alike; it is
    computed once per process and cached (read-only).
    """
    return _background_prior(language, int(n_features), int(n_docs))


@lru_cache(maxsize=4)
def _background_prior(language: str | None, n_features: int, n_docs: int) -> np.ndarray:
    from .shingle import _hash_str

    prior = np.zeros(n_features, dtype=np.float64)
    if language is not None and n_docs > 0:
        freqs = _word_frequencies(language)
        f = np.fromiter(freqs.values(), dtype=np.float64, count=len(freqs))
        hashes = np.fromiter(map(_hash_str, freqs), dtype=np.uint64, count=len(freqs))
        np.maximum.at(prior, _columns(hashes, n_features), n_docs * -np.expm1(-f * _DOC_LENGTH))
    prior.flags.writeable = False
    return prior


def idf_weights(df: np.ndarray, n_docs: float, prior_df: np.ndarray | None = None, prior_docs: float = 0.0) -> np.ndarray:
    """Smoothed idf, ``ln((1 + N) / (1 + df)) + 1``, over corpus plus background."""
    total_df = df if prior_df is None else df + prior_df
    return (np.log((1.0 + n_docs + prior_docs) / (1.0 + total_df)) + 1.0).astype(np.float32)


def tfidf(
    counts: sp.csr_matrix, idf: np.ndarray, dropped: np.ndarray | None = None, *, copy: bool = True,
    chunk_nnz: int = 1 << 22,
) -> sp.csr_matrix:
    """Sublinear tf times idf, each row L2-normalised (scikit-learn's ``normalize``).

    ``dropped`` (per row) is the squared weight of terms pruned from the row
    (:func:`dedup.pipeline.prune_counts`); it counts in the row's norm, so a
    pruned row keeps the scale of the full one and its cosines stay close
    to the full cosines (lower bounds, missing only the dropped common terms).
    ``copy=False`` writes the weights over ``counts`` (when its dtype can
    hold them), a block of rows at a time: no second matrix, no temporary
    larger than ``chunk_nnz`` values. The values are the same either way."""
    out_dtype = np.result_type(np.float32, counts.dtype, idf.dtype)  # that of (1 + log(tf)) * idf
    x = counts.copy() if copy or counts.dtype != out_dtype else counts
    if x.dtype != out_dtype:
        x.data = x.data.astype(out_dtype)
    indptr = x.indptr
    rows = int(x.shape[0])
    lo = 0
    while lo < rows:  # blocks of rows holding about chunk_nnz values
        hi = min(rows, max(lo + 1, int(np.searchsorted(indptr, indptr[lo] + chunk_nnz, side="right")) - 1))
        a, b = int(indptr[lo]), int(indptr[hi])
        w = (1.0 + np.log(x.data[a:b])) * idf[x.indices[a:b]]
        if dropped is not None:
            block = sp.csr_matrix((w, x.indices[a:b], indptr[lo : hi + 1] - a), shape=(hi - lo, x.shape[1]))
            norm2 = np.asarray(block.multiply(block).sum(axis=1)).ravel() + dropped[lo:hi]
            scale = np.divide(1.0, np.sqrt(norm2), out=np.zeros_like(norm2), where=norm2 > 0)
            w *= np.repeat(scale, np.diff(indptr[lo : hi + 1])).astype(w.dtype)
        x.data[a:b] = w
        lo = hi
    if dropped is None:
        return normalize(x, norm="l2", copy=False)
    return x


def pair_cosine(x: sp.csr_matrix, pairs: np.ndarray, max_nnz: int = 4_000_000) -> np.ndarray:
    """Cosine of each row pair ``(i, j)`` of L2-normalised ``x``, in chunks of
    about ``max_nnz`` stored values so memory stays bounded.

    Rows with sorted, duplicate-free columns (as :func:`tfidf` makes them)
    go through a compiled merge of the two rows per pair
    (:func:`dedup._kernels.pair_dot`, in two threads for many pairs), which
    adds the products in the same order as the scipy expression below and
    so gives the same values, bit for bit, without copying any row."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if len(pairs) and x.has_canonical_format and x.dtype in (np.float32, np.float64):
        from ._kernels import pair_dot, run_split

        indptr, indices = x.indptr.astype(np.int64, copy=False), x.indices
        dots = run_split(lambda p: pair_dot(indptr, indices, x.data, p), np.ascontiguousarray(pairs))
        return np.clip(dots.astype(np.float64), 0.0, 1.0)
    out = np.empty(len(pairs), dtype=np.float64)
    row_nnz = np.diff(x.indptr)
    lo = 0
    while lo < len(pairs):
        cost = np.cumsum(row_nnz[pairs[lo : lo + 1_000_000, 0]] + row_nnz[pairs[lo : lo + 1_000_000, 1]])
        hi = lo + max(1, int(np.searchsorted(cost, max_nnz)))
        p = pairs[lo:hi]
        out[lo:hi] = np.asarray(x[p[:, 0]].multiply(x[p[:, 1]]).sum(axis=1)).ravel()
        lo = hi
    return np.clip(out, 0.0, 1.0)


def row_kth_largest(indptr: np.ndarray, data: np.ndarray, k: int, budget: int = 1 << 23) -> np.ndarray:
    """Each row's ``k``-th largest stored value (``-inf`` for rows with at
    most ``k`` values), by ``np.partition`` over blocks of rows padded to
    the block's longest row -- linear time, no sort of all stored values.
    (Compiled: one ``np.partition`` per row, :func:`dedup._kernels.row_kth_largest`.)"""
    from ._kernels import row_kth_largest as kth

    if len(indptr) > 1 and np.asarray(data).dtype in (np.float32, np.float64):
        return kth(np.asarray(indptr, dtype=np.int64), np.ascontiguousarray(data), int(k))
    n = len(indptr) - 1
    lengths = np.diff(indptr)
    out = np.full(n, -np.inf, dtype=np.float64)
    rows = np.flatnonzero(lengths > k)
    # Very long rows one by one; the rest in blocks padded to the widest row.
    huge = lengths[rows] > 8192
    for r in rows[huge].tolist():
        out[r] = np.partition(data[indptr[r] : indptr[r + 1]], lengths[r] - k)[lengths[r] - k]
    rows = rows[~huge]
    if len(rows):
        step = max(1, budget // int(lengths[rows].max()))
        for i in range(0, len(rows), step):
            block = rows[i : i + step]
            starts, lens = indptr[block], lengths[block]
            width = int(lens.max())
            dense = np.full((len(block), width), -np.inf, dtype=np.float64)
            r = np.repeat(np.arange(len(block)), lens)
            pos = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens)
            dense[r, pos] = data[np.repeat(starts, lens) + pos]
            out[block] = np.partition(dense, width - k, axis=1)[:, width - k]
    return out


def top_terms(x: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` heaviest columns (ties by column), as ``(values, offsets)``.

    Only the values at or above each row's ``k``-th largest
    (:func:`row_kth_largest`) are sorted, so the cost is linear in the
    number of stored values. (Compiled per row: :func:`dedup._kernels.row_top_k`.)"""
    from ._kernels import row_top_k

    if x.shape[0] and x.dtype in (np.float32, np.float64):
        return row_top_k(x.indptr.astype(np.int64, copy=False), x.indices, x.data, int(k))
    n = x.shape[0]
    lengths = np.diff(x.indptr)
    rows = np.repeat(np.arange(n), lengths)
    thr = row_kth_largest(x.indptr, x.data, k)
    cand = np.flatnonzero(x.data >= thr[rows])
    c_rows, c_data, c_cols = rows[cand], x.data[cand], x.indices[cand]
    order = np.lexsort((c_cols, -c_data, c_rows))
    c_rows = c_rows[order]
    c_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(c_rows, minlength=n), out=c_offsets[1:])
    rank = np.arange(len(order)) - c_offsets[c_rows]
    keep = order[rank < k]
    counts = np.bincount(c_rows[rank < k], minlength=n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return c_cols[keep].astype(np.uint32), offsets


def drop_columns(x: sp.csr_matrix, drop: np.ndarray) -> sp.csr_matrix:
    """``x`` without its stored values in the columns marked in ``drop``,
    compacted in place (``x`` is spent); row norms are not recomputed.

    The batch pipeline drops the terms no other article of the batch has
    (document frequency 1) once the rows are weighed and their top terms
    taken: such a term is in no pair's dot product or shared-term count, so
    every cosine stays the same bit for bit, while the rows -- most of a
    large batch's memory -- lose the rare names and bigrams only one
    article uses."""
    from ._kernels import drop_columns as kernel

    x.sum_duplicates()  # canonical rows (a no-op for the pipeline's)
    indptr = x.indptr.astype(np.int64)
    m = int(kernel(indptr, x.indices, x.data, np.asarray(drop, dtype=np.bool_)))
    out = csr_of(_shrunk(x.data, m), _shrunk(x.indices, m), indptr, x.shape)
    out.has_sorted_indices = True
    return out


def csr_of(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """A CSR matrix over these very arrays (scipy's constructor keeps views
    of them; a large matrix is then shrunk or spilled through its owners)."""
    x = sp.csr_matrix((data, indices, indptr), shape=shape, copy=False)
    if x.data.dtype == data.dtype and x.indices.dtype == indices.dtype:
        x.data, x.indices = data, indices
    return x


def _shrunk(a: np.ndarray, m: int) -> np.ndarray:
    """The first ``m`` values of ``a``: resized in place when ``a`` owns its
    memory (a large block shrinks without a copy), a copy otherwise."""
    if a.base is None and a.flags.owndata:
        a.resize(m, refcheck=False)
        return a
    return a[:m].copy()


def shared_terms(x: sp.csr_matrix, pairs: np.ndarray, max_rows: int = 1 << 16) -> np.ndarray:
    """How many columns (terms) each row pair ``(i, j)`` of ``x`` has in common."""
    out = np.zeros(len(pairs), dtype=np.int64)
    for lo in range(0, len(pairs), max_rows):
        p = pairs[lo : lo + max_rows]
        out[lo : lo + len(p)] = x[p[:, 0]].multiply(x[p[:, 1]]).getnnz(axis=1)
    return out


def neighbour_similarity(pairs: np.ndarray, sims: np.ndarray, n: int, k: int) -> np.ndarray:
    """Second-order similarity of each scored pair: the cosine of the two
    articles' neighbour profiles (shared-nearest-neighbour similarity).

    Each article's profile is its similarity to itself (1) and to its ``k``
    most similar scored partners; a profile row is L2-normalised and a pair's
    score is the dot product of the two rows. Two reports of one story tend
    to have the same nearest neighbours (the other reports of that story);
    an article about another story of the same kind shares vocabulary with
    them but not their neighbourhood. Only scored pairs are read and scored,
    so no n x n matrix is formed.
    """
    from ._kernels import top_neighbours

    if len(pairs) == 0:
        return np.zeros(0, dtype=np.float64)
    # each row's top k partners (compiled: O(n * k) memory, not O(pairs))
    best_v, best_c, fill = top_neighbours(np.ascontiguousarray(pairs, dtype=np.int64),
                                          np.ascontiguousarray(sims), int(n), int(k))
    top = np.arange(best_v.shape[1]) < fill[:, None]
    rows = np.repeat(np.arange(n, dtype=np.int64), fill)
    cols, vals = best_c[top], best_v[top]
    # symmetric profiles: j is in i's profile when either is in the other's top k
    w = _max_duplicates(np.concatenate([rows, cols, np.arange(n)]), np.concatenate([cols, rows, np.arange(n)]),
                        np.concatenate([vals, vals, np.ones(n)]), n)
    return pair_cosine(normalize(w, norm="l2"), pairs)


def _max_duplicates(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n: int) -> sp.csr_matrix:
    """A csr matrix from coordinates, keeping the largest value of duplicates."""
    order = np.lexsort((-vals, cols, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    return sp.csr_matrix((vals[first], (rows[first], cols[first])), shape=(n, n))


def story_similarity(
    pairs: np.ndarray,
    cosine: np.ndarray,
    n_terms: np.ndarray,
    n: int,
    *,
    short_text_terms: int = 0,
    neighbourhood: int = 0,
    neighbourhood_weight: float = 0.5,
    shared: np.ndarray | None = None,
    min_shared: int = 2,
) -> np.ndarray:
    """The score that linkage compares with ``Params.threshold``.

    Two steps on the scored candidate pairs, each off when its parameter is 0:

    1. **Short texts** (``short_text_terms`` = L): a pair of articles with
       ``n_i`` and ``n_j`` distinct terms (unigrams and bigrams) has its cosine
       multiplied by ``max(1, L / sqrt(n_i * n_j))`` (capped at 1). Sharing a
       fixed number of distinctive words gives a cosine of about that number
       over ``sqrt(n_i * n_j)``, so two headlines that share a name and a verb
       score low although that is strong evidence; the factor puts short texts
       on the scale of long ones. Articles with at least L terms are
       unchanged, and so is a pair with fewer than ``min_shared`` terms in
       common (``shared``, from :func:`shared_terms`, needed only where the
       factor would apply): one shared word is not evidence, however short
       the texts.
    2. **Neighbourhood** (``neighbourhood`` = k, ``neighbourhood_weight`` = w):
       the score becomes ``(1 - w) * s + w * neighbour_similarity(s, k)``
       (see :func:`neighbour_similarity`): reports of one story share their
       nearest neighbours; another story of the same kind shares words, not
       neighbours.

    ``n_terms`` is per row (e.g. the number of stored values of each TF-IDF
    row); ``n`` the number of rows.
    """
    s = np.asarray(cosine, dtype=np.float64)
    if len(pairs) == 0:
        return s.copy()
    if short_text_terms:
        t = np.maximum(np.asarray(n_terms, dtype=np.float64), 1.0)
        factor = np.maximum(1.0, short_text_terms / np.sqrt(t[pairs[:, 0]] * t[pairs[:, 1]]))
        if shared is not None:
            factor[np.asarray(shared) < min_shared] = 1.0
        s = np.minimum(1.0, s * factor)
    if neighbourhood and neighbourhood_weight > 0:
        return blend_neighbourhood(s, neighbour_similarity(pairs, s, n, neighbourhood), neighbourhood_weight)
    return np.clip(s, 0.0, 1.0)


def blend_neighbourhood(s: np.ndarray, neighbour: np.ndarray, weight: float) -> np.ndarray:
    """Step 2 of :func:`story_similarity`: ``(1 - w) * s + w * neighbour``, in [0, 1]
    (one definition for the batch, the live index and Spark)."""
    return np.clip((1.0 - weight) * s + weight * neighbour, 0.0, 1.0)
