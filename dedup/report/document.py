"""``dedup.diff_articles``: the alignment with its renderers attached.

:mod:`dedup.diff` computes an :class:`~dedup.diff.Alignment` and knows nothing
of rendering; this module gives users the one-call form
``diff_articles(a, b).to_html()`` without an import from ``diff`` back to
``report``: :class:`DiffReport` is the same frozen data (a subclass, so
``isinstance(d, Alignment)`` holds) plus ``to_html``, ``to_markdown`` and
``to_text``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from dedup.article import Article
from dedup.diff import Alignment
from dedup.diff import diff_articles as align

from .html import render_html
from .markdown import render_markdown
from .terminal import render_terminal

__all__ = ["DiffReport", "diff_articles"]


@dataclasses.dataclass(frozen=True)
class DiffReport(Alignment):
    """An :class:`~dedup.diff.Alignment` that renders itself."""

    @classmethod
    def of(cls, alignment: Alignment) -> DiffReport:
        """Wrap an alignment (no copy of its blocks)."""
        return cls(**{f.name: getattr(alignment, f.name) for f in dataclasses.fields(Alignment)})

    def to_html(self, **kwargs: Any) -> str:
        """Self-contained HTML page (:func:`dedup.report.render_html`)."""
        return render_html(self, **kwargs)

    def to_markdown(self, **kwargs: Any) -> str:
        """Markdown (:func:`dedup.report.render_markdown`)."""
        return render_markdown(self, **kwargs)

    def to_text(self, **kwargs: Any) -> str:
        """Terminal text (:func:`dedup.report.render_terminal`; plain unless ``color=True``)."""
        kwargs.setdefault("color", False)
        return render_terminal(self, **kwargs)


def diff_articles(original: str | Article | dict, rewrite: str | Article | dict, **options: Any) -> DiffReport:
    """:func:`dedup.diff.diff_articles` (same arguments: original first, rewrite
    second), returned as a :class:`DiffReport`."""
    return DiffReport.of(align(original, rewrite, **options))
