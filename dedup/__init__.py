"""dedup: find the same news story published more than once, group the copies
into stories, and show what each rewrite added or dropped.

>>> from dedup import cluster_articles
>>> clusters = cluster_articles(["text one ...", "text two ..."])

The names below are loaded on first use (PEP 562): ``import dedup`` itself
imports nothing heavy, so that the ``dedup`` command (whose entry point,
``dedup.cli.app``, is inside this package) is handling Ctrl-C before numpy,
scipy and numba are imported -- about half a second.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (milliseconds before Ctrl-C is handled)
if TYPE_CHECKING:  # the same names, for type checkers and readers
    from typing import Any

    from .article import Article, ArticleError, Cluster, Clustering, DedupWarning, PairScore, Rejected, Version
    from .batch import cluster_articles
    from .diff import Alignment
    from .frames import frame_records
    from .live import (
        DuplicateArticleError,
        IndexFormatError,
        IndexSaveError,
        IndexStorageError,
        Match,
        Story,
        StoryIndex,
    )
    from .params import Params
    from .report import diff_articles

__all__ = [
    "Alignment",
    "Article",
    "ArticleError",
    "Cluster",
    "Clustering",
    "DedupWarning",
    "PairScore",
    "Params",
    "Rejected",
    "Version",
    "DuplicateArticleError",
    "IndexFormatError",
    "IndexSaveError",
    "IndexStorageError",
    "Match",
    "Story",
    "StoryIndex",
    "cluster_articles",
    "diff_articles",
    "frame_records",
]

__version__ = "0.1.0"

#: the submodule each public name comes from
_HOME = {
    **dict.fromkeys(
        ("Article", "ArticleError", "Cluster", "Clustering", "DedupWarning", "PairScore", "Rejected", "Version"),
        "article",
    ),
    "cluster_articles": "batch",
    "Alignment": "diff",
    "frame_records": "frames",
    **dict.fromkeys(
        (
            "DuplicateArticleError",
            "IndexFormatError",
            "IndexSaveError",
            "IndexStorageError",
            "Match",
            "Story",
            "StoryIndex",
        ),
        "live",
    ),
    "Params": "params",
    "diff_articles": "report",
}


#: the submodules ``import dedup`` imported when it imported every name at once: still attributes
_SUBMODULES = frozenset(
    [
        "_cache",
        "_kernels",
        "_sysmem",
        "arrays",
        "article",
        "batch",
        "diff",
        "features",
        "frames",
        "hashing",
        "io",
        "linkage",
        "live",
        "params",
        "report",
        "scoring",
        "sketch",
        "text",
    ]
)


def __getattr__(name: str) -> Any:
    """A public name, imported from its submodule on first use (then kept);
    a submodule this package used to import (``dedup.live``), imported as it
    is asked for."""
    home = _HOME.get(name)
    if home is not None:
        value = getattr(importlib.import_module(f".{home}", __name__), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The names loaded and those loaded on first use (for completion and ``help``)."""
    return sorted({*globals(), *__all__})
