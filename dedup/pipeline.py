"""Moved (temporary re-exports while branches merge; see the new layout)."""

from .article import DedupWarning, _iter_articles, iter_articles, prepare_articles  # noqa: F401
from .batch import PairStages, SPILL_BYTES, _chain_one, _featurize_job, canonical_order, compute_features, featurize_many, featurize_parts, find_candidates, weigh_batch  # noqa: F401
from .features.counts import RawFeatures  # noqa: F401
from .features.featurize import featurize_texts, featurize  # noqa: F401
from .features.weights import Features, _PRIOR_IDF, prior_of, _prior_idf, prune_counts, weigh  # noqa: F401
from .scoring import ScoredPairs, score_pairs, story_scores  # noqa: F401
from .sketch.lsh import lsh_views  # noqa: F401
from .text.tokens import comparison_item, comparison_source, article_tokens, comparison_tokens  # noqa: F401
