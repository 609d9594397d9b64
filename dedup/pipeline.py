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

import hashlib
import math
import os
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
import scipy.sparse as sp

from . import candidates as cand
from . import verify
from .article import Article, ArticleError, Rejected, coerce_article
from .minhash import signatures
from .normalize import similarity_text, tokenize
from .params import Params
from .shingle import TokenBatch, fold32, hash_tokens, ngram_hashes

__all__ = [
    "DedupWarning",
    "Features",
    "ScoredPairs",
    "article_tokens",
    "prepare_articles",
    "compute_features",
    "find_candidates",
    "score_pairs",
    "canonical_order",
]


class DedupWarning(UserWarning):
    """A record was rejected or flagged; the message names it."""


def article_tokens(article: Article) -> list[str]:
    """The comparison tokens of one article (title, then body without
    datelines and credit lines)."""
    text = article.text
    if article.title:
        text = article.title + "\n" + text
    return tokenize(similarity_text(text))


def _tokens_chunk(texts: list[str]) -> list[list[str]]:
    return [tokenize(similarity_text(t)) for t in texts]


def _all_tokens(articles: Sequence[Article], n_jobs: int) -> list[list[str]]:
    texts = [(a.title + "\n" + a.text) if a.title else a.text for a in articles]
    workers = os.cpu_count() or 1 if n_jobs == -1 else n_jobs
    if workers <= 1 or len(texts) < 2000:
        return _tokens_chunk(texts)
    size = max(500, math.ceil(len(texts) / (workers * 8)))
    chunks = [texts[i : i + size] for i in range(0, len(texts), size)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return [toks for part in pool.map(_tokens_chunk, chunks) for toks in part]


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


def canonical_order(articles: Sequence[Article], tokens: Sequence[Sequence[str]]) -> np.ndarray:
    """Indices that sort articles by (publication time, text digest, id)."""
    def key(i: int) -> tuple[float, bytes, str]:
        ts = articles[i].timestamp
        digest = hashlib.blake2b("\x1f".join(tokens[i]).encode("utf-8", "surrogatepass"), digest_size=8).digest()
        return (math.inf if ts is None else ts, digest, articles[i].id)

    return np.array(sorted(range(len(articles)), key=key), dtype=np.int64)


@dataclass(frozen=True)
class Features:
    """Everything the pair stages need about a batch of articles (rows in batch order)."""

    tokens: TokenBatch
    tfidf: sp.csr_matrix  # L2-normalised rows
    term_signatures: np.ndarray  # (n, num_perm) uint32 over each article's top terms
    shingle_signatures: np.ndarray  # (n, num_perm) uint32 over word n-gram shingles
    timestamps: np.ndarray | None  # POSIX seconds, NaN where unknown; None if no article has one
    empty: np.ndarray  # bool: no usable text

    @property
    def n(self) -> int:
        return len(self.empty)


def compute_features(
    token_lists: Sequence[Sequence[str]],
    timestamps: Sequence[float | None],
    params: Params,
    *,
    document_frequency: tuple[np.ndarray, float] | None = None,
) -> Features:
    """Features of a batch. Document frequencies come from the batch itself
    unless ``document_frequency=(df, n_docs)`` is given (the live index)."""
    tokens = hash_tokens(token_lists)
    counts = verify.feature_counts(tokens, params.n_features)
    if document_frequency is None:
        df, n_docs = verify.document_frequency(counts), float(tokens.n_docs)
    else:
        df, n_docs = document_frequency
    prior = verify.background_df(tokens, params.n_features, params.background, params.background_docs)
    idf = verify.idf_weights(df, n_docs, prior, params.background_docs if params.background else 0)
    x = verify.tfidf(counts, idf)
    terms, term_offsets = verify.top_terms(x, params.n_terms)
    term_sigs = signatures(terms, term_offsets, num_perm=params.num_perm, seed=params.random_state)
    sh, sh_offsets = ngram_hashes(tokens.hashes, tokens.offsets, params.shingle_size)
    shingle_sigs = signatures(fold32(sh), sh_offsets, num_perm=params.num_perm, seed=params.random_state)
    ts = np.array([np.nan if t is None else t for t in timestamps], dtype=np.float64)
    return Features(
        tokens=tokens,
        tfidf=x,
        term_signatures=term_sigs,
        shingle_signatures=shingle_sigs,
        timestamps=None if np.isnan(ts).all() else ts,
        empty=tokens.lengths() == 0,
    )


def find_candidates(features: Features, params: Params) -> np.ndarray:
    """Candidate pairs from the term view (rewrites) and the shingle view (copies)."""
    valid = ~features.empty
    tb, tr = cand.lsh_params(params.lsh_threshold, params.num_perm)
    sb, sr = cand.lsh_params(params.copy_threshold, params.num_perm, recall_weight=0.5)
    kw = dict(valid=valid, max_bucket_size=params.max_bucket_size, neighbours=params.bucket_neighbours)
    pairs = np.concatenate([
        cand.candidate_pairs(features.term_signatures, tb, tr, **kw),
        cand.candidate_pairs(features.shingle_signatures, sb, sr, **kw),
    ])
    pairs = cand.unique_pairs(pairs, features.n)
    window = None if params.time_window is None else params.time_window.total_seconds()
    return cand.within_window(pairs, features.timestamps, window)


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


def tokens_for(articles: Sequence[Article], n_jobs: int = 1) -> list[list[str]]:
    """Comparison tokens of many articles, in worker processes when ``n_jobs`` > 1."""
    return _all_tokens(articles, n_jobs)
