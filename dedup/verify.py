"""Moved (temporary re-exports while branches merge; see the new layout)."""

from .arrays import shrunk, csr_of  # noqa: F401
from .features.counts import feature_columns, document_frequency, feature_counts  # noqa: F401
from .features.weights import _DOC_LENGTH, _background_prior, _word_frequencies, background_prior, drop_columns, idf_weights, row_kth_largest, tfidf, top_terms  # noqa: F401
from .scoring import _max_duplicates, blend_neighbourhood, neighbour_similarity, pair_cosine, shared_terms, story_similarity  # noqa: F401
