"""Transitional alias of :mod:`dedup.live` for ``dedup/dedupe.py`` until it imports
``dedup.live`` (the CLI helper's move); remove at the merge."""

from .live import (
    DuplicateArticleError,
    IndexFormatError,
    IndexSaveError,
    IndexStorageError,
    Match,
    Story,
    StoryIndex,
)

__all__ = [
    "StoryIndex",
    "Match",
    "Story",
    "DuplicateArticleError",
    "IndexFormatError",
    "IndexSaveError",
    "IndexStorageError",
]
