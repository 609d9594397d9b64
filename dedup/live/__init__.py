"""The live story index: :class:`StoryIndex` and its values.

See :mod:`dedup.live.index` for how it works and the modules it is made of.
"""

from .index import StoryIndex
from .records import DuplicateArticleError, IndexFormatError, IndexSaveError, IndexStorageError, Match, Story

__all__ = [
    "StoryIndex",
    "Match",
    "Story",
    "DuplicateArticleError",
    "IndexFormatError",
    "IndexSaveError",
    "IndexStorageError",
]
