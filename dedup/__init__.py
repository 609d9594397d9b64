"""dedup: find the same news story published more than once, group the copies
into stories, and show what each rewrite added or dropped.

>>> from dedup import cluster_articles
>>> clusters = cluster_articles(["text one ...", "text two ..."])
"""

from .article import Article, ArticleError, Cluster, Clustering, DedupWarning, PairScore, Rejected, Version
from .batch import cluster_articles
from .diff import Alignment
from .frames import frame_records
from .live import DuplicateArticleError, IndexFormatError, IndexSaveError, IndexStorageError, Match, Story, StoryIndex
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
