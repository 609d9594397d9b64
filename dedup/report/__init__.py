"""Renderers of a :class:`dedup.diff.Alignment`: self-contained HTML, Markdown,
terminal text and versioned JSON; and the cluster report (every version of a
story against its representative, one HTML page).

Rendering only: the alignment is computed by :func:`dedup.diff.diff_articles`.
"""

from .cluster import cluster_diffs, render_cluster_html, render_clusters_html, render_story_pages
from .document import DiffReport, diff_articles
from .html import render_html
from .jsonout import render_json
from .markdown import render_markdown
from .terminal import render_terminal, use_color

__all__ = [
    "DiffReport",
    "diff_articles",
    "cluster_diffs",
    "render_cluster_html",
    "render_clusters_html",
    "render_story_pages",
    "render_html",
    "render_json",
    "render_markdown",
    "render_terminal",
    "use_color",
]
