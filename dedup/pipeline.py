"""The stages wired together, up to scored pairs.

Not a stage of its own: it calls normalize -> shingle -> minhash ->
candidates -> verify in that order and hands the scored pairs to
:mod:`dedup.cluster`. :class:`dedup.StoryIndex` and the Spark path call the
same functions, so each stage has one implementation.

Articles are first put in a canonical order -- publication time, then a
digest of the comparison text, then id -- so that everything downstream
(bucket neighbours, tie-breaks) is independent of the input order.
"""

from __future__ import annotations

import gc
import math
import os
import warnings
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import scipy.sparse as sp

from . import candidates as cand
from . import frames, verify
from ._sysmem import SpilledArray, SpilledRows, release_freed_memory
from .article import Article, ArticleError, Rejected, coerce_article
from .minhash import oph_signatures, signatures
from .normalize import comparison_terms, similarity_text
from .params import Params
from .shingle import hash_texts, ngram_hashes

__all__ = [
    "DedupWarning",
    "Features",
    "ScoredPairs",
    "RawFeatures",
    "article_tokens",
    "prepare_articles",
    "iter_articles",
    "featurize",
    "featurize_many",
    "featurize_parts",
    "weigh",
    "compute_features",
    "weigh_batch",
    "find_candidates",
    "lsh_views",
    "score_pairs",
    "story_scores",
    "PairStages",
    "canonical_order",
]


class DedupWarning(UserWarning):
    """A record was rejected or flagged; the message names it."""


def _comparison_source(article: Article) -> str:
    return article.title + "\n" + article.text if article.title else article.text


def comparison_tokens(text: str) -> list[str]:
    """The tokens an article's text is compared by (:func:`dedup.normalize.comparison_terms`
    of its comparison text)."""
    return comparison_terms(similarity_text(text))


def article_tokens(article: Article) -> list[str]:
    """The comparison tokens of one article (title, then body without
    datelines and credit lines)."""
    return comparison_tokens(_comparison_source(article))


def prepare_articles(items: Iterable[Any], errors: str = "warn") -> tuple[list[Article], list[Rejected]]:
    """Coerce inputs to :class:`Article` and check ids are unique.

    ``errors="raise"`` raises :class:`ArticleError` at the first bad record;
    ``"warn"`` rejects it with a :class:`DedupWarning` and goes on;
    ``"ignore"`` rejects it silently. Rejected records are returned.
    """
    rejected: list[Rejected] = []
    good = list(iter_articles(items, errors, rejected))
    return good, rejected


def iter_articles(items: Iterable[Any], errors: str, rejected: list[Rejected]) -> Iterator[Article]:
    """:func:`prepare_articles` as a generator: each good record as an
    :class:`Article` as soon as it is read (so a caller streaming a large
    input never holds it whole); rejected records are appended to ``rejected``."""
    if errors not in ("raise", "warn", "ignore"):
        raise ValueError(f"errors must be 'raise', 'warn' or 'ignore', got {errors!r}")
    if frames.is_frame(items):  # a pandas DataFrame or Arrow table: its rows as dicts
        items = frames.frame_records(items)
    if isinstance(items, (str, bytes, dict, Article)):
        raise TypeError("cluster_articles() takes an iterable of articles, not a single article")
    return _iter_articles(items, errors, rejected)


def _iter_articles(items: Iterable[Any], errors: str, rejected: list[Rejected]) -> Iterator[Article]:
    seen: dict[str, int] = {}
    for pos, item in enumerate(items):
        try:
            art = coerce_article(item, default_id=str(pos))
            if art.id in seen:
                raise ArticleError(repr(art.id), f"duplicate id: input positions {seen[art.id]} and {pos} both use it")
            seen[art.id] = pos
        except ArticleError as exc:
            if errors == "raise":
                raise
            rejected.append(Rejected(ref=exc.ref, position=pos, reason=exc.reason))
            if errors == "warn":
                warnings.warn(f"{exc} (input position {pos}); left out", DedupWarning, stacklevel=4)
            continue
        yield art


def canonical_order(articles: Sequence[Article], digests: Sequence[bytes]) -> np.ndarray:
    """Indices that sort articles by (publication time, text digest, id)."""
    def key(i: int) -> tuple[float, bytes, str]:
        ts = articles[i].timestamp
        return (math.inf if ts is None else ts, digests[i], articles[i].id)

    return np.array(sorted(range(len(articles)), key=key), dtype=np.int64)


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
            return verify.document_frequency(self.counts)
        df = np.zeros(self.counts.shape[1], dtype=np.float64)
        df[self.df_cols] = self.df_vals
        return df

    def take(self, order: np.ndarray) -> "RawFeatures":
        return RawFeatures(self.counts[order], self.shingle_signatures[order], [self.digests[i] for i in order],
                           self.empty[order], self.df_cols, self.df_vals,
                           None if self.dropped is None else self.dropped[order],
                           None if self.n_terms is None else self.n_terms[order])

    @staticmethod
    def concat(parts: Sequence["RawFeatures"]) -> "RawFeatures":
        if len(parts) == 1:
            return parts[0]
        df_cols = df_vals = None
        if any(p.df_cols is not None for p in parts):
            n_features = parts[0].counts.shape[1]
            df = np.zeros(n_features, dtype=np.float64)
            for p in parts:
                if p.df_cols is None:
                    df += verify.document_frequency(p.counts)
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
            dropped=None if all(p.dropped is None for p in parts) else np.concatenate(
                [np.zeros(p.n) if p.dropped is None else p.dropped for p in parts]),
            n_terms=None if all(p.n_terms is None for p in parts) else np.concatenate(
                [p.terms_per_row() for p in parts]),
        )


    @staticmethod
    def stack(parts: list["RawFeatures"]) -> "RawFeatures":
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
        counts = verify.csr_of(data, indices, indptr, (n, n_features))
        return RawFeatures(counts, sigs, digests, empty, df_cols, df_vals, dropped, n_terms)


def featurize(articles: Sequence[Article], params: Params) -> RawFeatures:
    """The per-article stages for a run of articles: normalise, tokenise, hash,
    count terms, sign shingles. Each article's result depends on it alone."""
    return _featurize_texts([_comparison_source(a) for a in articles], params)


def _featurize_texts(texts: Sequence[str], params: Params) -> RawFeatures:
    tokens, digests = hash_texts([_comparison_item(t) for t in texts])
    counts = verify.feature_counts(tokens, params.n_features)
    df_cols, df_vals = np.unique(counts.indices, return_counts=True)  # before pruning: exact df
    df_cols = df_cols.astype(np.int64)
    dropped = n_terms = None
    if params.max_terms is not None:
        n_terms = np.diff(counts.indptr).astype(np.int64)
        counts, dropped = prune_counts(counts, _prior(params), params.background_docs if params.background else 0,
                                       params.max_terms)
    sh, sh_offsets = ngram_hashes(tokens.hashes, tokens.offsets, params.shingle_size)
    shingle_sigs = oph_signatures(sh, sh_offsets, num_perm=params.num_perm, seed=params.random_state)
    return RawFeatures(counts, shingle_sigs, digests, tokens.lengths() == 0,
                       df_cols=df_cols, df_vals=df_vals.astype(np.float64), dropped=dropped,
                       n_terms=n_terms)


def _comparison_item(text: str) -> str | list[str]:
    """What :func:`dedup.shingle.hash_texts` takes for one text: the folded
    comparison text when it is ASCII (its tokens are then exactly
    :func:`comparison_tokens`: no CJK), else the comparison tokens."""
    folded = similarity_text(text)
    return folded if folded.isascii() else comparison_terms(folded)


def _prior(params: Params) -> np.ndarray:
    return verify.background_prior(params.background, params.n_features, params.background_docs)


def prune_counts(
    counts: sp.csr_matrix, prior_df: np.ndarray, prior_docs: float, max_terms: int
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Keep each row's ``max_terms`` heaviest terms (``Params.max_terms``).

    The weight that ranks a row's terms is known from the article alone:
    sublinear tf times the idf of the background prior only
    (:func:`dedup.verify.idf_weights` with no corpus documents), ties broken
    by column -- so a row's kept terms do not depend on the other articles
    or their order, and the same article is pruned alike in a batch, a live
    index or on Spark. The terms dropped are an article's most common
    words and word pairs, which weigh least in the TF-IDF cosine; the
    document frequencies used for the final weights are counted before
    pruning (:attr:`RawFeatures.df_cols`), and each row's dropped squared
    weight is returned beside the pruned counts, so that the row's norm
    (:func:`dedup.verify.tfidf`) stays that of the full row."""
    n = counts.shape[0]
    lengths = np.diff(counts.indptr)
    if counts.nnz == 0 or int(lengths.max()) <= max_terms:
        return counts, np.zeros(n)
    if (counts.dtype == np.float32 and counts.data.max() < 1 << 20 and counts.has_sorted_indices
            and np.array_equal(counts.data, np.floor(counts.data))):  # term counts (featurize's): compiled
        from ._kernels import prune_rows

        # the weight's two factors by table: the numpy expressions below, once per count and per column
        log_tf = np.ones(int(counts.data.max()) + 1)  # by term count (0 unused)
        log_tf[1:] = 1.0 + np.log(np.arange(1, len(log_tf), dtype=np.float64))
        indptr, indices, data, dropped = prune_rows(
            counts.indptr.astype(np.int64, copy=False), counts.indices, counts.data, log_tf,
            _prior_idf(prior_df, prior_docs), int(max_terms))
        return verify.csr_of(data, indices, indptr.astype(counts.indptr.dtype), counts.shape), dropped
    idf = np.log((1.0 + prior_docs) / (1.0 + prior_df[counts.indices])) + 1.0
    w = (1.0 + np.log(counts.data.astype(np.float64))) * idf
    thr = verify.row_kth_largest(counts.indptr, w, max_terms)  # -inf for rows with <= max_terms terms
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


_PRIOR_IDF: dict[tuple[int, float], tuple[np.ndarray, np.ndarray]] = {}


def _prior_idf(prior_df: np.ndarray, prior_docs: float) -> np.ndarray:
    """``ln((1 + D) / (1 + prior_df)) + 1`` per column, cached for the
    library's priors (cached and read-only themselves)."""
    if prior_df.flags.writeable:
        return np.log((1.0 + prior_docs) / (1.0 + prior_df)) + 1.0
    key = (id(prior_df), float(prior_docs))
    hit = _PRIOR_IDF.get(key)
    if hit is None or hit[0] is not prior_df:
        hit = _PRIOR_IDF[key] = (prior_df, np.log((1.0 + prior_docs) / (1.0 + prior_df)) + 1.0)
    return hit[1]


def _featurize_job(job: tuple[list[str], Params]) -> RawFeatures:
    return _featurize_texts(*job)


def featurize_many(articles: Sequence[Article], params: Params, chunk_size: int = 2000) -> RawFeatures:
    """:func:`featurize` over chunks (so token lists never pile up), in
    ``params.n_jobs`` worker processes when there is enough work."""
    _, parts = featurize_parts(articles, params, chunk_size=chunk_size)
    return RawFeatures.concat(parts)


def featurize_parts(
    articles: Iterable[Article], params: Params, *, chunk_size: int = 2000, keep_text: bool = True
) -> tuple[list[Article], list[RawFeatures]]:
    """The per-article stages over ``articles`` (any iterable: it is read a
    chunk at a time), in ``params.n_jobs`` worker processes when there is
    more than one chunk. Returns the articles as read and one
    :class:`RawFeatures` per chunk; the first part carries the document
    frequencies of all (``df_cols``/``df_vals``), the others none.

    Workers are sent only the comparison texts (plain strings: cheap to
    pickle) and return compact arrays. With ``keep_text=False`` each article
    is kept without its text once the text is on its way to featurisation
    (:func:`cluster_articles`'s ``keep_text``)."""
    workers = (os.cpu_count() or 1) if params.n_jobs == -1 else params.n_jobs
    source = iter(articles)
    kept: list[Article] = []
    # Document frequencies are folded into one dense array as chunks arrive
    # (a chunk's sparse copies would add up to gigabytes).
    df = np.zeros(params.n_features, dtype=np.float64)
    none_i, none_f = np.zeros(0, np.int64), np.zeros(0, np.float64)

    def fold(part: RawFeatures) -> RawFeatures:
        df[part.df_cols] += part.df_vals  # columns are unique within a part
        return replace(part, df_cols=none_i, df_vals=none_f)

    def texts() -> Iterator[list[str]]:
        while chunk := list(islice(source, chunk_size)):
            yield [_comparison_source(a) for a in chunk]
            kept.extend(chunk if keep_text else (replace(a, text="") for a in chunk))

    chunks = texts()
    first = next(chunks, None)
    second = next(chunks, None) if first is not None else None
    parts: list[RawFeatures] = []
    if first is None:
        parts.append(fold(_featurize_texts([], params)))
    elif workers > 1 and second is not None:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            # At most two chunks per worker in flight: texts are copied for a
            # worker only shortly before it needs them, and results are
            # collected in order as they come.
            pending: deque = deque()
            # The workers are forked at the first submit: with the parent's
            # objects frozen out of the garbage collector, a worker's
            # collections do not touch (and copy) the pages of the articles.
            gc.freeze()
            try:
                pending.append(pool.submit(_featurize_job, (first, params)))
            finally:
                gc.unfreeze()
            for texts_ in _chain_one(second, chunks):
                if len(pending) >= 2 * workers:
                    parts.append(fold(pending.popleft().result()))
                pending.append(pool.submit(_featurize_job, (texts_, params)))
            while pending:
                parts.append(fold(pending.popleft().result()))
    else:
        for texts_ in _chain_one(first, _chain_one(second, chunks) if second is not None else iter(())):
            parts.append(fold(_featurize_texts(texts_, params)))
    df_cols = np.flatnonzero(df)
    parts[0] = replace(parts[0], df_cols=df_cols, df_vals=df[df_cols])
    return kept, parts


def _chain_one(head: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield head
    yield from rest


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
    (:func:`dedup.verify.drop_columns`: the same cosines in less memory);
    only for a batch compared within itself."""
    if document_frequency is None:
        df, n_docs = raw.document_frequency(), float(raw.n)
    else:
        df, n_docs = document_frequency
    idf = verify.idf_weights(df, n_docs, _prior(params), params.background_docs if params.background else 0)
    x = verify.tfidf(raw.counts, idf, raw.dropped, copy=copy)
    terms, term_offsets = verify.top_terms(x, params.n_terms)
    if drop_unshared:
        x = verify.drop_columns(x, df == 1)
    sh, empty, n_terms = raw.shingle_signatures, raw.empty, raw.terms_per_row()
    if order is not None:  # signatures made in the canonical order; no second copy of them
        from ._kernels import permute_rows, take_ragged

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
    )


def compute_features(
    articles: Iterable[Article], params: Params, *, keep_text: bool = True
) -> tuple[list[Article], Features]:
    """Features of a batch, with the articles put in canonical order.
    ``articles`` is read once, a chunk at a time (:func:`featurize_parts`)."""
    arts, parts = featurize_parts(articles, params, keep_text=keep_text)
    return weigh_batch(arts, parts, params)


def weigh_batch(arts: list[Article], parts: list[RawFeatures], params: Params) -> tuple[list[Article], Features]:
    """The second half of :func:`compute_features`: the parts stacked
    (``parts`` ends empty) and weighed in place, the articles in canonical
    order; terms only one article has are dropped from the TF-IDF rows."""
    order = canonical_order(arts, [d for p in parts for d in p.digests])
    ordered = [arts[i] for i in order]
    raw = RawFeatures.stack(parts)
    # a large batch's shingle signatures wait in a temporary file while the
    # term signatures are made: the rows, both matrices and the articles
    # would otherwise meet in memory here
    sh = raw.shingle_signatures
    parked = SpilledArray(sh) if sh.nbytes > SPILL_BYTES // 2 else None
    if parked is not None:
        raw = replace(raw, shingle_signatures=np.zeros((raw.n, 0), dtype=sh.dtype))
    del sh
    features = weigh(raw, [a.timestamp for a in ordered], params, copy=False, order=order, drop_unshared=True)
    del raw
    release_freed_memory()
    if parked is not None:
        from ._kernels import permute_rows

        sh = parked.load()
        permute_rows(sh, np.asarray(order, dtype=np.int64))
        features = replace(features, shingle_signatures=sh)
    return ordered, features


def lsh_views(params: Params) -> list[tuple[str, int, int]]:
    """``(signature, bands, rows)`` of the two candidate views: the term view
    (rewrites: each article's top terms) and the copy view (word shingles).
    The batch and the Spark path both band by these."""
    tb, tr = cand.lsh_params(params.lsh_threshold, params.num_perm)
    sb, sr = cand.lsh_params(params.copy_threshold, params.num_perm, recall_weight=0.5)
    return [("term", tb, tr), ("shingle", sb, sr)]


def find_candidates(features: Features, params: Params) -> np.ndarray:
    """Candidate pairs from the term view (rewrites) and the shingle view (copies)."""
    valid = ~features.empty
    (_, tb, tr), (_, sb, sr) = lsh_views(params)
    window = None if params.time_window is None else params.time_window.total_seconds()
    kw = dict(valid=valid, max_bucket_size=params.max_bucket_size, neighbours=params.bucket_neighbours,
              timestamps=features.timestamps, window_seconds=window)
    n = features.n
    codes = []  # each view's pairs as codes i * n + j, so only one (m, 2) array is ever built
    for sig, b, r, limit in ((features.term_signatures, tb, tr, params.max_partners),
                             (features.shingle_signatures, sb, sr, None)):
        p = cand.candidate_pairs(sig, b, r, max_partners=limit, **kw)
        codes.append(p[:, 0] * n + p[:, 1])
        del p
        release_freed_memory()
    pairs = cand.code_pairs(cand.unique_codes(np.concatenate(codes)), n)
    del codes
    release_freed_memory()
    return pairs


@dataclass(frozen=True)
class ScoredPairs:
    """Candidate pairs with their TF-IDF cosine, estimated shingle Jaccard and
    (after :func:`story_scores`) the linkage score."""

    pairs: np.ndarray  # (m, 2) int64, i < j
    cosine: np.ndarray  # float64
    jaccard: np.ndarray  # float64
    similarity: np.ndarray | None = None  # float64: what linkage compares with the threshold
    shared: np.ndarray | None = None  # int64: terms in common, where a short-text pair needs it (else -1)

    def __len__(self) -> int:
        return len(self.pairs)

    @property
    def score(self) -> np.ndarray:
        """The linkage score: ``similarity`` when computed, else the cosine."""
        return self.cosine if self.similarity is None else self.similarity


def score_pairs(
    features: Features, pairs: np.ndarray, params: Params | None = None, *, jaccard: np.ndarray | None = None
) -> ScoredPairs:
    """Verify candidate pairs: cosine of TF-IDF rows, MinHash Jaccard of
    shingles (unless given as ``jaccard``), and (with ``params`` and its
    short-text rule on) the number of terms a pair of short texts has in
    common."""
    from .minhash import pair_jaccard

    cos = np.empty(len(pairs), dtype=np.float64)
    for lo in range(0, len(pairs), 1 << 22):  # blocks: the row pairs are a copy when rows are mapped
        cos[lo : lo + (1 << 22)] = verify.pair_cosine(features.tfidf, features.tfidf_rows(pairs[lo : lo + (1 << 22)]))
    shared = None
    if params is not None and params.short_text_terms:
        t = features.n_terms
        short = np.flatnonzero(t[pairs[:, 0]] * t[pairs[:, 1]] < params.short_text_terms ** 2)
        shared = np.full(len(pairs), -1, dtype=np.int64)
        shared[short] = verify.shared_terms(features.tfidf, features.tfidf_rows(pairs[short]))
    jac = pair_jaccard(features.shingle_signatures, pairs) if jaccard is None else jaccard
    release_freed_memory()
    return ScoredPairs(pairs=pairs, cosine=cos, jaccard=jac, shared=shared)


def story_scores(scored: ScoredPairs, n_terms: np.ndarray, params: Params) -> ScoredPairs:
    """The linkage score of every scored pair (:func:`dedup.verify.story_similarity`):
    the cosine on one scale for short texts, blended with the shared-neighbour
    similarity. ``n_terms`` is each row's number of distinct terms
    (:attr:`Features.n_terms`). Needs every scored pair of the rows at once:
    an article's neighbour profile is its top partners among them."""
    sim = verify.story_similarity(
        scored.pairs, scored.cosine, n_terms, len(n_terms),
        short_text_terms=params.short_text_terms, neighbourhood=params.neighbourhood,
        neighbourhood_weight=params.neighbourhood_weight, shared=scored.shared,
    )
    release_freed_memory()
    return replace(scored, similarity=sim)


SPILL_BYTES = 1 << 30


class PairStages:
    """The pair stages of a batch -- candidates, verification, story score --
    each feature held only while a stage needs it.

    At a million articles the features are most of the memory: TF-IDF rows
    (about 4 GB), term and shingle signatures (1 GB each). Here the term
    signatures go once the candidates are found, the shingle signatures
    once their Jaccard is taken, the rows once their cosines are; and rows
    larger than ``spill_bytes`` wait in a temporary file (in ``spill_dir``,
    default the system's temporary folder: :class:`dedup._sysmem.SpilledRows`)
    while the candidates are found. The scores are the same either way.

    Give it the only reference to the features (``del`` yours), then call
    :meth:`candidates`, :meth:`verify` and :meth:`story` in turn."""

    def __init__(
        self, features: Features, params: Params, *, spill_bytes: int | None = SPILL_BYTES, spill_dir: str | None = None
    ) -> None:
        self.params = params
        self.n = features.n
        self.n_terms, self.empty = features.n_terms, features.empty
        self._features: Features | None = features
        self._spill_bytes, self._spill_dir = spill_bytes, spill_dir
        self._spilled: SpilledRows | None = None
        self._pairs: np.ndarray | None = None

    def _take(self) -> Features:
        if self._features is None:
            raise RuntimeError("PairStages: call candidates(), verify() and story() once each, in that order")
        return self._features

    def candidates(self) -> np.ndarray:
        """:func:`find_candidates`; the term signatures are dropped after."""
        f = self._take()
        if self._pairs is not None:
            raise RuntimeError("PairStages: candidates() was called already")
        x = f.tfidf
        if self._spill_bytes is not None and x.data.nbytes + x.indices.nbytes > self._spill_bytes:
            spilled = SpilledRows(x, self._spill_dir)
            if spilled.spilled:
                self._spilled = spilled
                f = self._features = replace(f, tfidf=sp.csr_matrix((0, 0), dtype=x.dtype))
        del x
        release_freed_memory()
        pairs = find_candidates(f, self.params)
        self._features = replace(f, term_signatures=np.zeros((self.n, 0), dtype=np.uint32))
        del f
        release_freed_memory()
        self._pairs = pairs
        return pairs

    def verify(self) -> ScoredPairs:
        """:func:`score_pairs` of the candidates; the features are let go."""
        from .minhash import pair_jaccard

        f = self._take()
        if self._pairs is None:
            raise RuntimeError("PairStages: call candidates() before verify()")
        pairs, self._pairs = self._pairs, None
        jac = pair_jaccard(f.shingle_signatures, pairs)
        f = self._features = replace(f, shingle_signatures=np.zeros((self.n, 0), dtype=np.uint32))
        release_freed_memory()
        if self._spilled is not None:  # the rows back in, in the room the signatures left
            f = replace(f, tfidf=self._spilled.load())
            self._spilled = None
        self._features = None
        return score_pairs(f, pairs, self.params, jaccard=jac)

    def story(self, scored: ScoredPairs) -> ScoredPairs:
        """:func:`story_scores`."""
        return story_scores(scored, self.n_terms, self.params)
