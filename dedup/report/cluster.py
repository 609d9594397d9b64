"""Cluster report: every version of a story against its representative, in one
HTML page with a table of contents.

A :class:`dedup.article.Cluster` groups near-identical copies into
``versions``; each version other than the representative's own gets one diff
(its copies are listed, diffing them again would repeat the same page). A
cluster without ``versions`` gets one diff per member.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from dedup.article import Article, Cluster
from dedup.diff import Alignment, diff_articles

from .html import esc, page, render_alignment_section

__all__ = ["cluster_diffs", "render_cluster_html", "render_clusters_html"]


def _label(a: Article) -> str:
    bits = [a.title or a.id]
    if a.title:
        bits.append(f"({a.id})")
    if a.source:
        bits.append(f"— {a.source}")
    if a.published:
        bits.append(f"· {a.published.isoformat()}")
    return " ".join(bits)


def cluster_diffs(cluster: Cluster, **diff_options: Any) -> list[tuple[Article, tuple[Article, ...], Alignment]]:
    """``(target, its copies, alignment against the representative)`` for each
    version (or member) other than the representative."""
    rep = cluster.representative
    out: list[tuple[Article, tuple[Article, ...], Alignment]] = []
    if cluster.versions:
        for v in cluster.versions:
            if v.representative.id == rep.id or any(c.id == rep.id for c in v.copies):
                continue
            out.append((v.representative, tuple(v.copies), diff_articles(rep, v.representative, **diff_options)))
    else:
        for m in cluster.members:
            if m.id != rep.id:
                out.append((m, (), diff_articles(rep, m, **diff_options)))
    return out


def _cluster_body(cluster: Cluster, prefix: str, level: int, diff_options: dict[str, Any]) -> tuple[str, list[str]]:
    rep = cluster.representative
    diffs = cluster_diffs(cluster, **diff_options)
    rep_copies: list[Article] = []
    for v in cluster.versions:
        if v.representative.id == rep.id:
            rep_copies = list(v.copies)
    toc: list[str] = []
    sections: list[str] = []
    for k, (target, copies, al) in enumerate(diffs, 1):
        anchor = f"{prefix}v{k}"
        s = al.summary
        toc.append(
            f'<li><a href="#{esc(anchor)}">{esc(_label(target))}</a> — {s.carried_over:.0%} carried over, '
            f"{s.added} added, {s.dropped} dropped, {s.moved} moved, {s.reworded} reworded"
            + (f", {len(copies)} identical cop{'y' if len(copies) == 1 else 'ies'}" if copies else "")
            + "</li>"
        )
        extra = ""
        if copies:
            extra = '<p class="meta">Near-identical copies of this version: ' + ", ".join(esc(_label(c)) for c in copies) + "</p>"
        section = render_alignment_section(al, heading=f"{k}. {_label(target)}", anchor=anchor, level=level)
        sections.append(section.replace("</h", extra + "</h", 0) if not extra else section.replace(f"</h{level}>", f"</h{level}>{extra}", 1))
    intro = (
        f'<p class="meta">Representative: <b>{esc(_label(rep))}</b> · {len(cluster.members)} member(s)'
        + (f" · copies of the representative: {', '.join(esc(_label(c)) for c in rep_copies)}" if rep_copies else "")
        + "</p>"
    )
    if not diffs:
        sections.append('<p class="meta">This cluster has a single version: nothing to compare.</p>')
    return intro + "\n".join(sections), toc


def render_cluster_html(cluster: Cluster, *, title: str | None = None, **diff_options: Any) -> str:
    """One cluster: representative, table of contents, one diff per version."""
    t = title if title is not None else f"dedup story report: {_label(cluster.representative)}"
    body, toc = _cluster_body(cluster, "", 2, diff_options)
    nav = f'<nav class="toc" aria-label="contents"><h2>Contents</h2><ol>{"".join(toc)}</ol></nav>' if toc else ""
    return page(t, f"<h1>{esc(t)}</h1>{nav}{body}")


def render_clusters_html(clusters: Iterable[Cluster], *, title: str = "dedup story report", min_size: int = 2, **diff_options: Any) -> str:
    """Several clusters in one page (clusters smaller than ``min_size`` left out),
    with a two-level table of contents."""
    if isinstance(min_size, bool) or not isinstance(min_size, int) or min_size < 1:
        raise ValueError(f"min_size must be an integer >= 1, got {min_size!r}")
    chosen: Sequence[Cluster] = [c for c in clusters if len(c.members) >= min_size]
    toc: list[str] = []
    parts: list[str] = []
    for n, c in enumerate(chosen, 1):
        anchor = f"c{n}"
        body, sub = _cluster_body(c, f"{anchor}-", 3, diff_options)
        toc.append(f'<li><a href="#{anchor}">{esc(_label(c.representative))}</a> ({len(c.members)} articles)<ol>{"".join(sub)}</ol></li>')
        parts.append(f'<section class="cluster" id="{anchor}"><h2>{n}. {esc(_label(c.representative))}</h2>{body}</section>')
    if not chosen:
        parts.append(f'<p class="meta">No story with {min_size} or more articles.</p>')
    nav = f'<nav class="toc" aria-label="contents"><h2>Contents</h2><ol>{"".join(toc)}</ol></nav>' if toc else ""
    return page(title, f"<h1>{esc(title)}</h1>{nav}{''.join(parts)}")
