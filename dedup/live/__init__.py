"""The live story index: :class:`StoryIndex` and its values.

See :mod:`dedup.live.index` for how it works and the modules it is made of.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .records import DuplicateArticleError, IndexFormatError, IndexSaveError, IndexStorageError, Match, Story

if TYPE_CHECKING:
    from .index import StoryIndex

__all__ = [
    "StoryIndex",
    "Match",
    "Story",
    "DuplicateArticleError",
    "IndexFormatError",
    "IndexSaveError",
    "IndexStorageError",
]


def __getattr__(name: str) -> Any:
    """:class:`StoryIndex` loaded on first use (PEP 562): its compiled kernels
    import numba and scipy, which the errors and values above do not need
    (``dedup --help`` and a command's own errors are said without them)."""
    if name == "StoryIndex":
        from .index import StoryIndex

        return StoryIndex
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
