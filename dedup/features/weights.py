"""Weights: sublinear tf, smoothed idf with the background prior, pruning,
TF-IDF rows and each article's top terms -- the one definition every path
(batch, live index, Spark) calls.

Document frequencies blend the corpus with a background prior from
``wordfreq`` word frequencies: with it, a common word is common even in a
batch of two, and a score means the same at any corpus size.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache, partial

import numpy as np
import scipy.sparse as sp

from .._cache import cached_array
from .._sysmem import RowFile
from ..arrays import csr_of, in_order, in_threads, normalize_rows, row_blocks, shrunk
from ..hashing import hash_str, hash_strs
from ..params import Params
from ..sketch.minhash import signatures
from ._kernels import row_top_k, row_top_set
from .counts import RawFeatures, feature_columns

__all__ = [
    "sublinear_tf",
    "smoothed_idf",
    "background_prior",
    "idf_weights",
    "tfidf",
    "row_kth_largest",
    "top_terms",
    "top_term_sets",
    "drop_columns",
    "prune_counts",
    "Features",
    "weigh",
]


_DOC_LENGTH = 400.0  # typical article length in tokens, to turn word frequency into document frequency


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
    computed once per process and cached (read-only), and kept on disk for
    the next process (:mod:`dedup._cache`).
    """
    return _background_prior(language, int(n_features), int(n_docs))


@lru_cache(maxsize=4)
def _background_prior(language: str | None, n_features: int, n_docs: int) -> np.ndarray:
    if language is None or n_docs <= 0:
        prior = np.zeros(n_features, dtype=np.float64)
    else:
        prior = _stored_prior(language, n_features, n_docs)
    prior.flags.writeable = False
    return prior


def _stored_prior(language: str, n_features: int, n_docs: int) -> np.ndarray:
    """:func:`_prior_from_words`, from the disk cache (:mod:`dedup._cache`)
    when this wordfreq's list was read for these parameters before."""
    compute = partial(_prior_from_words, language, n_features, n_docs)
    version = _wordfreq_version()
    if version is None:
        return compute()
    # how words become columns, by example: a change to the hashing makes a new entry
    probe = np.array([hash_str(w) for w in ("the", "news", "caf\u00e9")], dtype=np.uint64)
    key = {
        "language": language,
        "n_features": n_features,
        "n_docs": n_docs,
        "doc_length": _DOC_LENGTH,
        "wordfreq": version,
        "columns": feature_columns(probe, n_features).tolist(),
    }
    return cached_array("prior", key, (n_features,), np.float64, compute)


def _wordfreq_version() -> str | None:
    """The installed wordfreq's version (its word lists), without importing it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("wordfreq")
    except PackageNotFoundError:  # pragma: no cover - a dependency
        return None


def _prior_from_words(language: str, n_features: int, n_docs: int) -> np.ndarray:
    """:func:`background_prior` computed from the word list."""
    prior = np.zeros(n_features, dtype=np.float64)
    freqs = _word_frequencies(language)
    f = np.fromiter(freqs.values(), dtype=np.float64, count=len(freqs))
    hashes = hash_strs(freqs)
    np.maximum.at(prior, feature_columns(hashes, n_features), n_docs * -np.expm1(-f * _DOC_LENGTH))
    return prior


def sublinear_tf(tf: np.ndarray) -> np.ndarray:
    """``1 + ln(tf)``: a term's weight grows with the log of its count (the
    one definition of sublinear tf; ``tf >= 1``)."""
    return 1.0 + np.log(tf)


def smoothed_idf(df: np.ndarray, n_docs: float) -> np.ndarray:
    """``ln((1 + N) / (1 + df)) + 1`` (scikit-learn's smoothed idf, float64):
    the one definition of idf, for the corpus plus background and for the
    background alone (pruning)."""
    return np.log((1.0 + n_docs) / (1.0 + df)) + 1.0


def idf_weights(
    df: np.ndarray, n_docs: float, prior_df: np.ndarray | None = None, prior_docs: float = 0.0
) -> np.ndarray:
    """Smoothed idf, ``ln((1 + N) / (1 + df)) + 1``, over corpus plus background."""
    total_df = df if prior_df is None else df + prior_df
    return smoothed_idf(total_df, n_docs + prior_docs).astype(np.float32)


def _row_sums(values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Each CSR row's sum of ``values``, in their dtype: scipy's
    ``m.sum(axis=1)`` of the matrix with those values (the same
    ``np.add.reduceat`` over the non-empty rows), without building it."""
    out = np.zeros(len(indptr) - 1, dtype=values.dtype)
    rows = np.flatnonzero(np.diff(indptr))
    if len(rows):
        out[rows] = np.add.reduceat(values, indptr[rows])
    return out


def tfidf(
    counts: sp.csr_matrix,
    idf: np.ndarray,
    dropped: np.ndarray | None = None,
    *,
    copy: bool = True,
    chunk_nnz: int = 1 << 22,
) -> sp.csr_matrix:
    """Sublinear tf times idf, each row L2-normalised (:func:`dedup.arrays.normalize_rows`).

    ``dropped`` (per row) is the squared weight of terms pruned from the row
    (:func:`dedup.features.weights.prune_counts`); it counts in the row's norm, so a
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
    bounds = row_blocks(indptr, chunk_nnz)

    def weigh_block(block: tuple[int, int]) -> None:
        lo, hi = block
        a, b = int(indptr[lo]), int(indptr[hi])
        w = sublinear_tf(x.data[a:b]) * idf[x.indices[a:b]]
        if dropped is not None:
            norm2 = _row_sums(w * w, indptr[lo : hi + 1] - a) + dropped[lo:hi]
            scale = np.divide(1.0, np.sqrt(norm2), out=np.zeros_like(norm2), where=norm2 > 0)
            w *= np.repeat(scale, np.diff(indptr[lo : hi + 1])).astype(w.dtype)
        x.data[a:b] = w

    in_threads(weigh_block, bounds)  # blocks are disjoint: the same values in any order
    return normalize_rows(x) if dropped is None else x


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


TOP_SET_SPLIT = 50_000
"""Rows from which :func:`top_term_sets` takes the two halves in two threads."""


def top_term_sets(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The columns :func:`top_terms` gives for the CSR rows ``(data, indices,
    indptr)`` (float data), each row's in its stored order rather than by
    weight: the sets the top-terms signatures are taken over (a signature
    does not depend on the order), without sorting them."""
    indptr = indptr.astype(np.int64, copy=False)
    n = len(indptr) - 1
    halves = [(0, n)] if n < TOP_SET_SPLIT else [(0, n // 2), (n // 2, n)]
    parts = in_threads(lambda h: row_top_set(indptr[h[0] : h[1] + 1], indices, data, int(k)), halves)
    if len(parts) == 1:
        return parts[0]
    (c1, o1), (c2, o2) = parts  # each half's offsets start at 0
    return np.concatenate([c1, c2]), np.concatenate([o1[:-1], o2 + o1[-1]])


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
    out = csr_of(shrunk(x.data, m), shrunk(x.indices, m), indptr, x.shape)
    out.has_sorted_indices = True
    return out


def prior_of(params: Params) -> np.ndarray:
    return background_prior(params.background, params.n_features, params.background_docs)


def prune_counts(
    counts: sp.csr_matrix, prior_df: np.ndarray, prior_docs: float, max_terms: int
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Keep each row's ``max_terms`` heaviest terms (``Params.max_terms``).

    The weight that ranks a row's terms is known from the article alone:
    sublinear tf times the idf of the background prior only
    (:func:`dedup.idf_weights` with no corpus documents), ties broken
    by column -- so a row's kept terms do not depend on the other articles
    or their order, and the same article is pruned alike in a batch, a live
    index or on Spark. The terms dropped are an article's most common
    words and word pairs, which weigh least in the TF-IDF cosine; the
    document frequencies used for the final weights are counted before
    pruning (:attr:`RawFeatures.df_cols`), and each row's dropped squared
    weight is returned beside the pruned counts, so that the row's norm
    (:func:`dedup.tfidf`) stays that of the full row."""
    n = counts.shape[0]
    lengths = np.diff(counts.indptr)
    if counts.nnz == 0 or int(lengths.max()) <= max_terms:
        return counts, np.zeros(n)
    if (
        counts.dtype == np.float32
        and counts.data.max() < 1 << 20
        and counts.has_sorted_indices
        and np.array_equal(counts.data, np.floor(counts.data))
    ):  # term counts (featurize's): compiled
        from ._kernels import prune_rows

        # the weight's two factors by table: the numpy expressions below, once per count and per column
        log_tf = np.ones(int(counts.data.max()) + 1)  # by term count (0 unused)
        log_tf[1:] = sublinear_tf(np.arange(1, len(log_tf), dtype=np.float64))
        codes, idf = _prior_idf_codes(prior_df, prior_docs)
        indptr, indices, data, dropped = prune_rows(
            counts.indptr.astype(np.int64, copy=False), counts.indices, counts.data, log_tf, codes, idf, int(max_terms)
        )
        return csr_of(data, indices, indptr.astype(counts.indptr.dtype), counts.shape), dropped
    w = sublinear_tf(counts.data.astype(np.float64)) * smoothed_idf(prior_df[counts.indices], prior_docs)
    thr = row_kth_largest(counts.indptr, w, max_terms)  # -inf for rows with <= max_terms terms
    rows = np.repeat(np.arange(n), lengths)
    t = thr[rows]
    keep = w > t
    tie = np.flatnonzero(w == t)  # at the threshold: the lowest columns (rows are column-sorted)
    if len(tie):
        tie_rows = rows[tie]
        room = max_terms - np.bincount(rows[keep], minlength=n)
        first = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(tie_rows, minlength=n), out=first[1:])
        rank = np.arange(len(tie)) - first[tie_rows]
        keep[tie[rank < room[tie_rows]]] = True
    indptr = np.zeros(n + 1, dtype=counts.indptr.dtype)
    np.cumsum(np.bincount(rows[keep], minlength=n), out=indptr[1:])
    dropped = np.bincount(rows[~keep], weights=w[~keep] ** 2, minlength=n)
    return sp.csr_matrix((counts.data[keep], counts.indices[keep], indptr), shape=counts.shape), dropped


def _prior_idf(prior_df: np.ndarray, prior_docs: float) -> np.ndarray:
    """``ln((1 + D) / (1 + prior_df)) + 1`` per column (pruning's idf, from the background alone)."""
    return smoothed_idf(prior_df, prior_docs)


_PRIOR_CODES: dict[tuple[int, float], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _prior_idf_codes(prior_df: np.ndarray, prior_docs: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_prior_idf` as ``(codes, values)`` with ``values[codes[c]]`` the
    idf of column ``c``: a prior holds few distinct document frequencies (a
    few hundred), so the codes fit in 16 bits -- a quarter of the float64
    table, which the pruning kernel reads at random for every term (the
    same values, read from a table that stays in cache). Cached for the
    library's priors (read-only themselves); a writeable one is coded anew."""
    key = (id(prior_df), float(prior_docs))
    hit = _PRIOR_CODES.get(key)
    if hit is not None and hit[0] is prior_df and not prior_df.flags.writeable:
        return hit[1], hit[2]
    values, codes = np.unique(_prior_idf(prior_df, prior_docs), return_inverse=True)
    codes = codes.astype(np.uint16 if len(values) <= 1 << 16 else np.uint32)
    if not prior_df.flags.writeable:
        _PRIOR_CODES[key] = (prior_df, codes, values)
    return codes, values


@dataclass(frozen=True)
class Features:
    """Everything the pair stages need about a batch of articles (rows in batch order)."""

    tfidf: sp.csr_matrix  # L2-normalised rows (row ``rows[k]`` is article k's, see ``rows``)
    term_signatures: np.ndarray  # (n, num_perm) uint32 over each article's top terms
    shingle_signatures: np.ndarray  # (n, num_perm) uint32 over word n-gram shingles
    timestamps: np.ndarray | None  # POSIX seconds, NaN where unknown; None if no article has one
    empty: np.ndarray  # bool: no usable text
    n_terms: np.ndarray  # distinct unigrams and bigrams per article (before pruning): the short-text rule
    # Row of ``tfidf`` of each article; None: row k is article k's. A large
    # batch keeps its TF-IDF rows in input order (reordering gigabytes of
    # rows would hold them twice) and maps its canonical order onto them.
    rows: np.ndarray | None = None
    # The TF-IDF rows when they wait in a file (a batch too large to hold
    # them: :func:`weigh` with ``counts_file``); ``tfidf`` then has no rows.
    tfidf_file: RowFile | None = None

    @property
    def n(self) -> int:
        return len(self.empty)

    def tfidf_rows(self, pairs: np.ndarray) -> np.ndarray:
        """``pairs`` of articles as pairs of :attr:`tfidf` rows."""
        return pairs if self.rows is None else self.rows[pairs]

    def ordered_tfidf(self) -> sp.csr_matrix:
        """:attr:`tfidf` with row k article k's (a copy when :attr:`rows` is set)."""
        return self.tfidf if self.rows is None else self.tfidf[self.rows]


def weigh(
    raw: RawFeatures,
    timestamps: Sequence[float | None],
    params: Params,
    *,
    document_frequency: tuple[np.ndarray, float] | None = None,
    copy: bool = True,
    order: np.ndarray | None = None,
    drop_unshared: bool = False,
    counts_file: RowFile | None = None,
) -> Features:
    """Apply corpus statistics: TF-IDF rows and the top-terms signatures.
    Document frequencies come from ``raw`` itself unless
    ``document_frequency=(df, n_docs)`` is given (the live index).
    ``copy=False`` weighs ``raw.counts`` in place (``raw`` is then spent):
    a large batch holds its rows once. With ``order`` (the canonical order
    of ``raw``'s rows; ``timestamps`` are then in that order), the features
    come in that order but the TF-IDF rows stay where they are
    (:attr:`Features.rows`). ``drop_unshared`` removes, once the top terms
    are taken, the terms no other row of ``raw`` has
    (:func:`dedup.drop_columns`: the same cosines in less memory);
    only for a batch compared within itself. ``counts_file`` holds
    ``raw``'s term counts when they wait in a file (a large batch;
    ``raw.counts`` then holds none): they are weighed a block of rows at a
    time into a new file (:attr:`Features.tfidf_file`), the same rows, and
    ``counts_file`` is closed."""
    if document_frequency is None:
        df, n_docs = raw.document_frequency(), float(raw.n)
    else:
        df, n_docs = document_frequency
    idf = idf_weights(df, n_docs, prior_of(params), params.background_docs if params.background else 0)
    unshared = df == 1 if drop_unshared else None
    x, x_file, terms, term_offsets = _rows_and_term_sets(raw, idf, unshared, params.n_terms, copy, counts_file)
    sh, empty, n_terms = raw.shingle_signatures, raw.empty, raw.terms_per_row()
    if order is not None:  # signatures made in the canonical order; no second copy of them
        from ..arrays import permute_rows, take_ragged

        order = np.asarray(order, dtype=np.int64)
        terms, term_offsets = take_ragged(terms, np.asarray(term_offsets, dtype=np.int64), order)
        empty, n_terms = empty[order], n_terms[order]
        if copy:
            sh = sh[order]
        else:
            permute_rows(sh, order)  # raw is spent
    term_sigs = signatures(terms, term_offsets, num_perm=params.num_perm, seed=params.random_state)
    del terms, term_offsets
    ts = np.array([np.nan if t is None else t for t in timestamps], dtype=np.float64)
    return Features(
        tfidf=x,
        term_signatures=term_sigs,
        shingle_signatures=sh,
        timestamps=None if np.isnan(ts).all() else ts,
        empty=empty,
        n_terms=n_terms,
        rows=None if order is None else np.asarray(order, dtype=np.int64),
        tfidf_file=x_file,
    )


def _rows_and_term_sets(
    raw: RawFeatures, idf: np.ndarray, unshared: np.ndarray | None, k: int, copy: bool, counts_file: RowFile | None
) -> tuple[sp.csr_matrix, RowFile | None, np.ndarray, np.ndarray]:
    """:func:`weigh`'s rows (in memory, or in a file with no rows in memory) and top-term sets."""
    if counts_file is None:
        x, terms, offsets = _weighed_rows(raw.counts, idf, raw.dropped, unshared, k, copy=copy)
        return x, None, terms, offsets
    x_file, terms, offsets = _weigh_file(counts_file, idf, raw.dropped, unshared, k)
    return sp.csr_matrix((0, counts_file.n_cols), dtype=np.float32), x_file, terms, offsets


def _weighed_rows(
    counts: sp.csr_matrix,
    idf: np.ndarray,
    dropped: np.ndarray | None,
    unshared: np.ndarray | None,
    k: int,
    *,
    copy: bool,
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """TF-IDF rows of ``counts``, their top-``k`` term sets, then (with
    ``unshared``) the rows without those columns: each row on its own."""
    x = tfidf(counts, idf, dropped, copy=copy)
    terms, term_offsets = top_term_sets(x.indptr, x.indices, x.data, k)
    if unshared is not None:
        x = drop_columns(x, unshared)
    return x, terms, term_offsets


WEIGH_BLOCK_NNZ = 1 << 25
"""Stored values of the block of rows weighed at a time from a file (256 MB of counts)."""


def _weigh_file(
    counts: RowFile, idf: np.ndarray, dropped: np.ndarray | None, unshared: np.ndarray | None, k: int
) -> tuple[RowFile, np.ndarray, np.ndarray]:
    """:func:`_weighed_rows` of rows in a file, a block at a time, into a new
    file; ``counts`` is closed. The rows are those of the whole matrix:
    every step is row by row."""
    out = RowFile(counts.n_cols, np.float32, dir=counts.dir)
    terms, offsets = [], [np.zeros(1, dtype=np.int64)]

    def weighed() -> Iterator[sp.csr_matrix]:
        for lo, hi in row_blocks(counts.indptr, WEIGH_BLOCK_NNZ):
            x, t, o = _weighed_rows(
                counts.read(lo, hi), idf, None if dropped is None else dropped[lo:hi], None, k, copy=False
            )
            terms.append(t)
            offsets.append(np.asarray(o[1:], dtype=np.int64) + offsets[-1][-1])
            yield x
            del x  # the finishing thread holds it now

    def finish(x: sp.csr_matrix) -> None:
        out.append(x if unshared is None else drop_columns(x, unshared))

    # A block's unshared columns are dropped and its rows written (one
    # thread: in order) while the next block is read and weighed; at most
    # one block waits, so one block more is in memory.
    with ThreadPoolExecutor(max_workers=1) as finisher:
        for _ in in_order(partial(finisher.submit, finish), weighed(), 1):
            pass
    counts.close()
    return out, np.concatenate(terms or [np.zeros(0, np.uint32)]), np.concatenate(offsets)
