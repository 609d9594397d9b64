"""The per-article stage of every path: an article's comparison text to its
raw features -- term counts (pruned to ``max_terms``), shingle signatures and
a content digest. Each article's result depends on it alone, so the batch,
the live index and Spark run it wherever the article is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from ..article import Article
from ..params import Params
from ..sketch.minhash import oph_signatures
from ..text.tokens import TokenBatch, comparison_items, comparison_source, hash_texts, key_token_hashes
from ._kernels import column_runs, sorted_runs
from .counts import RawFeatures, boost_terms, feature_columns, feature_counts, ngram_hashes, stem_counts
from .weights import prior_of, prune_counts

__all__ = ["featurize", "featurize_texts", "featurize_rows"]


def featurize(articles: Sequence[Article], params: Params) -> RawFeatures:
    """The per-article stages for a run of articles: normalise, tokenise, hash,
    count terms, sign shingles. Each article's result depends on it alone."""
    return featurize_texts([comparison_source(a) for a in articles], params)


def featurize_texts(texts: Sequence[str], params: Params) -> RawFeatures:
    """:func:`featurize` of comparison texts (:func:`~dedup.text.tokens.comparison_source`)."""
    return _features(*_term_counts(texts, params), params)


def featurize_rows(articles: Sequence[Article], params: Params) -> tuple[RawFeatures, sp.csr_matrix]:
    """:func:`featurize` of the articles together -- row for row what each
    gives alone (the live index's batches) -- and the term counts before
    pruning, whose columns are each article's share of the document
    frequencies (``featurize([a]).df_cols``)."""
    tokens, digests, counts = _term_counts([comparison_source(a) for a in articles], params)
    return _features(tokens, digests, counts, params), counts  # pruning makes new rows: counts stay whole


def _term_counts(texts: Sequence[str], params: Params) -> tuple[TokenBatch, list[bytes], sp.csr_matrix]:
    """Tokens, digests and term counts (key facts boosted, stems of short
    texts added; not pruned), column-sorted."""
    tokens, digests = hash_texts(comparison_items(texts))
    counts = feature_counts(tokens, params.n_features)
    if params.key_term_weight != 1.0:  # names, places, numbers above topic words
        docs, hashes = key_token_hashes(texts)
        counts = boost_terms(counts, docs, feature_columns(hashes, params.n_features), params.key_term_weight)
    stems = stem_counts(tokens, params.n_features, params.stem_length)  # none without short texts or stem_length
    if stems.nnz:  # short texts: inflected forms of one word agree
        counts = (counts + stems).tocsr()
        counts.sort_indices()
    return tokens, digests, counts


def _features(tokens: TokenBatch, digests: list[bytes], counts: sp.csr_matrix, params: Params) -> RawFeatures:
    """Document frequencies (before pruning), pruned counts, shingle signatures."""
    df_cols, df_vals = _column_frequencies(counts)  # before pruning: exact df
    dropped = n_terms = None
    if params.max_terms is not None:
        n_terms = np.diff(counts.indptr).astype(np.int64)
        counts, dropped = prune_counts(
            counts, prior_of(params), params.background_docs if params.background else 0, params.max_terms
        )
    sh, sh_offsets = ngram_hashes(tokens.hashes, tokens.offsets, params.shingle_size)
    shingle_sigs = oph_signatures(sh, sh_offsets, num_perm=params.num_perm, seed=params.random_state)
    return RawFeatures(
        counts,
        shingle_sigs,
        digests,
        tokens.lengths() == 0,
        df_cols=df_cols,
        df_vals=df_vals.astype(np.float64),
        dropped=dropped,
        n_terms=n_terms,
    )


def _column_frequencies(counts: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """The columns with an entry, ascending, and the rows each is in (the
    rows' columns are distinct): counted in one slot a column when the
    entries are many (a batch's chunk), sorted when they are few (an
    article of the live index: the slots would cost more than the sort)."""
    idx, n = counts.indices, counts.shape[1]
    return column_runs(idx, n) if len(idx) * 32 >= n else sorted_runs(np.sort(idx))
