"""Diff of two versions of one story: paragraph alignment (pairs, moves,
splits, merges, added, dropped) with sentence and word-level changes.

Computing only; rendering is in :mod:`dedup.report` (which this package never imports).
"""

from .align import diff_articles
from .model import SCHEMA_VERSION, Alignment, Block, Paragraph, SentenceDiff, Span, Summary, WordOp

__all__ = [
    "SCHEMA_VERSION",
    "Alignment",
    "Block",
    "Paragraph",
    "SentenceDiff",
    "Span",
    "Summary",
    "WordOp",
    "diff_articles",
]
