"""Moved (temporary re-exports while branches merge; see the new layout)."""

from .features.counts import _ngram_hashes_numpy, ngram_hashes, unique_per_doc  # noqa: F401
from .hashing import COMBINE, fmix64, fold32, hash_bytes, hash_str  # noqa: F401
from .text.tokens import TokenBatch, _batch_from_buffer, _hash_items_dict, _hash_tokens_dict, hash_texts, hash_tokens  # noqa: F401
