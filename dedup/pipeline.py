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
import hashlib
import math
import os
import warnings
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Iterable, Sequence

import numpy as np
import scipy.sparse as sp

from . import candidates as cand
from . import verify
from .article import Article, ArticleError, Rejected, coerce_article
from .minhash import oph_signatures, signatures
from .normalize import similarity_text, tokenize
from .params import Params
from .shingle import hash_tokens, ngram_hashes

__all__ = [
    "DedupWarning",
    "Features",
    "ScoredPairs",
    "RawFeatures",
    "article_tokens",
    "prepare_articles",
    "featurize",
    "featurize_many",
    "weigh",
    "compute_features",
    "find_candidates",
    "score_pairs",
    "canonical_order",
]


class DedupWarning(UserWarning):
    """A record was rejected or flagged; the message names it."""


def _comparison_source(article: Article) -> str:
    return article.title + "\n" + article.text if article.title else article.text


def article_tokens(article: Article) -> list[str]:
    """The comparison tokens of one article (title, then body without
    datelines and credit lines)."""
    return tokenize(similarity_text(_comparison_source(article)))


def prepare_articles(items: Iterable[Any], errors: str = "warn") -> tuple[list[Article], list[Rejected]]:
    """Coerce inputs to :class:`Article` and check ids are unique.

    ``errors="raise"`` raises :class:`ArticleError` at the first bad record;
    ``"warn"`` rejects it with a :class:`DedupWarning` and goes on;
    ``"ignore"`` rejects it silently. Rejected records are returned.
    """
    if errors not in ("raise", "warn", "ignore"):
        raise ValueError(f"errors must be 'raise', 'warn' or 'ignore', got {errors!r}")
    if isinstance(items, (str, bytes, dict, Article)):
        raise TypeError("cluster_articles() takes an iterable of articles, not a single article")
    good: list[Article] = []
    rejected: list[Rejected] = []
    seen: dict[str, int] = {}
    for pos, item in enumerate(items):
        try:
            art = coerce_article(item, default_id=str(pos))
            if art.id in seen:
                raise ArticleError(repr(art.id), f"duplicate id: input positions {seen[art.id]} and {pos} both use it")
            seen[art.id] = pos
            good.append(art)
        except ArticleError as exc:
            if errors == "raise":
                raise
            rejected.append(Rejected(ref=exc.ref, position=pos, reason=exc.reason))
            if errors == "warn":
                warnings.warn(f"{exc} (input position {pos}); left out", DedupWarning, stacklevel=3)
    return good, rejected


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
    prior_cols: np.ndarray  # background document frequency, sparse: columns ...
    prior_vals: np.ndarray  # ... and values
    empty: np.ndarray  # bool: no usable text
    # Document frequency of every column, counted before the rows were pruned
    # to Params.max_terms (sparse: columns, then counts); None when ``counts``
    # is complete, and then :meth:`document_frequency` counts it from ``counts``.
    df_cols: np.ndarray | None = None
    df_vals: np.ndarray | None = None

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
                           self.prior_cols, self.prior_vals, self.empty[order], self.df_cols, self.df_vals)

    @staticmethod
    def concat(parts: Sequence["RawFeatures"]) -> "RawFeatures":
        if len(parts) == 1:
            return parts[0]
        cols = np.concatenate([p.prior_cols for p in parts])
        vals = np.concatenate([p.prior_vals for p in parts])
        if len(cols):
            order = np.lexsort((-vals, cols))
            cols, vals = cols[order], vals[order]
            first = np.concatenate([[True], cols[1:] != cols[:-1]])
            cols, vals = cols[first], vals[first]
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
            prior_cols=cols,
            prior_vals=vals,
            empty=np.concatenate([p.empty for p in parts]),
            df_cols=df_cols,
            df_vals=df_vals,
        )


def featurize(articles: Sequence[Article], params: Params) -> RawFeatures:
    """The per-article stages for a run of articles: normalise, tokenise, hash,
    count terms, sign shingles. Each article's result depends on it alone."""
    return _featurize_texts([_comparison_source(a) for a in articles], params)


def _featurize_texts(texts: Sequence[str], params: Params) -> RawFeatures:
    token_lists = [tokenize(similarity_text(t)) for t in texts]
    tokens = hash_tokens(token_lists)
    digests = [hashlib.blake2b("\x1f".join(t).encode("utf-8", "surrogatepass"), digest_size=8).digest()
               for t in token_lists]
    del token_lists
    counts = verify.feature_counts(tokens, params.n_features)
    prior = verify.background_df(tokens, params.n_features, params.background, params.background_docs)
    df_cols, df_vals = np.unique(counts.indices, return_counts=True)  # before pruning: exact df
    df_cols = df_cols.astype(np.int64)
    if counts.nnz > params.n_features // 16:  # a big run: one linear scan of the prior is cheaper
        prior_cols = np.flatnonzero(prior).astype(np.int64)
    else:
        prior_cols = df_cols[prior[df_cols] > 0]
    if params.max_terms is not None:
        counts = prune_counts(counts, prior, params.background_docs if params.background else 0, params.max_terms)
    sh, sh_offsets = ngram_hashes(tokens.hashes, tokens.offsets, params.shingle_size)
    shingle_sigs = oph_signatures(sh, sh_offsets, num_perm=params.num_perm, seed=params.random_state)
    return RawFeatures(counts, shingle_sigs, digests, prior_cols, prior[prior_cols], tokens.lengths() == 0,
                       df_cols=df_cols, df_vals=df_vals.astype(np.float64))


def prune_counts(counts: sp.csr_matrix, prior_df: np.ndarray, prior_docs: float, max_terms: int) -> sp.csr_matrix:
    """Keep each row's ``max_terms`` heaviest terms (``Params.max_terms``).

    The weight that ranks a row's terms is known from the article alone:
    sublinear tf times the idf of the background prior only
    (:func:`dedup.verify.idf_weights` with no corpus documents), ties broken
    by column -- so a row's kept terms do not depend on the other articles
    or their order, and the same article is pruned alike in a batch, a live
    index or on Spark. The terms dropped are an article's most common
    words and word pairs, which weigh least in the TF-IDF cosine; the
    document frequencies used for the final weights are counted before
    pruning (:attr:`RawFeatures.df_cols`)."""
    n = counts.shape[0]
    lengths = np.diff(counts.indptr)
    if counts.nnz == 0 or int(lengths.max()) <= max_terms:
        return counts
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
    return sp.csr_matrix((counts.data[keep], counts.indices[keep], indptr), shape=counts.shape)


def _featurize_job(job: tuple[list[str], Params]) -> RawFeatures:
    return _featurize_texts(*job)


def featurize_many(articles: Sequence[Article], params: Params, chunk_size: int = 2000) -> RawFeatures:
    """:func:`featurize` over chunks (so token lists never pile up), in
    ``params.n_jobs`` worker processes when there is enough work. Workers
    are sent only the comparison texts (plain strings: cheap to pickle) and
    return compact arrays."""
    chunks = [articles[i : i + chunk_size] for i in range(0, len(articles), chunk_size)] or [[]]
    workers = (os.cpu_count() or 1) if params.n_jobs == -1 else params.n_jobs
    # Document frequencies and the prior are folded into two dense arrays as
    # chunks arrive (a chunk's sparse copies would add up to gigabytes).
    df = np.zeros(params.n_features, dtype=np.float64)
    prior = np.zeros(params.n_features, dtype=np.float64)
    none_i, none_f = np.zeros(0, np.int64), np.zeros(0, np.float64)

    def fold(part: RawFeatures) -> RawFeatures:
        if part.df_cols is None:
            df[:] += verify.document_frequency(part.counts)
        else:  # columns are unique within a part
            df[part.df_cols] += part.df_vals
        prior[part.prior_cols] = np.maximum(prior[part.prior_cols], part.prior_vals)
        return replace(part, df_cols=none_i, df_vals=none_f, prior_cols=none_i, prior_vals=none_f)

    if workers > 1 and len(chunks) > 1:
        workers = min(workers, len(chunks))
        parts = []
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
                pending.append(pool.submit(_featurize_job, ([_comparison_source(a) for a in chunks[0]], params)))
            finally:
                gc.unfreeze()
            for c in chunks[1:]:
                if len(pending) >= 2 * workers:
                    parts.append(fold(pending.popleft().result()))
                pending.append(pool.submit(_featurize_job, ([_comparison_source(a) for a in c], params)))
            while pending:
                parts.append(fold(pending.popleft().result()))
    else:
        parts = [fold(featurize(c, params)) for c in chunks]
    raw = RawFeatures.concat(parts)
    df_cols, prior_cols = np.flatnonzero(df), np.flatnonzero(prior)
    return replace(raw, df_cols=df_cols, df_vals=df[df_cols], prior_cols=prior_cols, prior_vals=prior[prior_cols])


@dataclass(frozen=True)
class Features:
    """Everything the pair stages need about a batch of articles (rows in batch order)."""

    tfidf: sp.csr_matrix  # L2-normalised rows
    term_signatures: np.ndarray  # (n, num_perm) uint32 over each article's top terms
    shingle_signatures: np.ndarray  # (n, num_perm) uint32 over word n-gram shingles
    timestamps: np.ndarray | None  # POSIX seconds, NaN where unknown; None if no article has one
    empty: np.ndarray  # bool: no usable text

    @property
    def n(self) -> int:
        return len(self.empty)


def weigh(
    raw: RawFeatures,
    timestamps: Sequence[float | None],
    params: Params,
    *,
    document_frequency: tuple[np.ndarray, float] | None = None,
) -> Features:
    """Apply corpus statistics: TF-IDF rows and the top-terms signatures.
    Document frequencies come from ``raw`` itself unless
    ``document_frequency=(df, n_docs)`` is given (the live index)."""
    if document_frequency is None:
        df, n_docs = raw.document_frequency(), float(raw.n)
    else:
        df, n_docs = document_frequency
    prior = np.zeros(params.n_features, dtype=np.float64)
    prior[raw.prior_cols] = raw.prior_vals
    idf = verify.idf_weights(df, n_docs, prior, params.background_docs if params.background else 0)
    x = verify.tfidf(raw.counts, idf)
    terms, term_offsets = verify.top_terms(x, params.n_terms)
    term_sigs = signatures(terms, term_offsets, num_perm=params.num_perm, seed=params.random_state)
    ts = np.array([np.nan if t is None else t for t in timestamps], dtype=np.float64)
    return Features(
        tfidf=x,
        term_signatures=term_sigs,
        shingle_signatures=raw.shingle_signatures,
        timestamps=None if np.isnan(ts).all() else ts,
        empty=raw.empty,
    )


def compute_features(articles: Sequence[Article], params: Params) -> tuple[list[Article], Features]:
    """Features of a batch, with the articles put in canonical order."""
    raw = featurize_many(articles, params)
    order = canonical_order(articles, raw.digests)
    ordered = [articles[i] for i in order]
    raw = raw.take(order)  # the unordered copy is freed here
    return ordered, weigh(raw, [a.timestamp for a in ordered], params)


def find_candidates(features: Features, params: Params) -> np.ndarray:
    """Candidate pairs from the term view (rewrites) and the shingle view (copies)."""
    valid = ~features.empty
    tb, tr = cand.lsh_params(params.lsh_threshold, params.num_perm)
    sb, sr = cand.lsh_params(params.copy_threshold, params.num_perm, recall_weight=0.5)
    window = None if params.time_window is None else params.time_window.total_seconds()
    kw = dict(valid=valid, max_bucket_size=params.max_bucket_size, neighbours=params.bucket_neighbours,
              timestamps=features.timestamps, window_seconds=window)
    pairs = np.concatenate([
        cand.candidate_pairs(features.term_signatures, tb, tr, **kw),
        cand.candidate_pairs(features.shingle_signatures, sb, sr, **kw),
    ])
    return cand.unique_pairs(pairs, features.n)


@dataclass(frozen=True)
class ScoredPairs:
    """Candidate pairs with their TF-IDF cosine and estimated shingle Jaccard."""

    pairs: np.ndarray  # (m, 2) int64, i < j
    cosine: np.ndarray  # float64
    jaccard: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.pairs)


def score_pairs(features: Features, pairs: np.ndarray) -> ScoredPairs:
    """Verify candidate pairs: cosine of TF-IDF rows, MinHash Jaccard of shingles."""
    from .minhash import estimate_jaccard

    cos = verify.pair_cosine(features.tfidf, pairs)
    sig = features.shingle_signatures
    jac = estimate_jaccard(sig[pairs[:, 0]], sig[pairs[:, 1]]) if len(pairs) else np.zeros(0)
    return ScoredPairs(pairs=pairs, cosine=cos, jaccard=np.asarray(jac, dtype=np.float64))
