"""Cluster report: every version of a story against its representative, in one
HTML page with a table of contents.

A :class:`dedup.article.Cluster` groups near-identical copies into
``versions``; each version other than the representative's own gets one diff
(its copies are listed, diffing them again would repeat the same page). A
cluster without ``versions`` gets one diff per member.

Size: the representative's text is on the page once (folded away in a
``<details>``), and each diff against it shows only what is new -- runs of
identical paragraphs in one line, dropped paragraphs as a linked excerpt --
so a story's page grows with its versions' own text, not with versions x
the representative's length. The contents name each article by its title
(or its headline, or its first words).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from dedup.article import Article, Cluster
from dedup.diff import Alignment, diff_articles
from dedup.diff.parse import diff_paragraphs
from dedup.text.normalise import ParagraphKind, classify_paragraph, paragraphs

from .html import INLINE_MIN_SIMILARITY, esc, esc_text, legend_html, page, render_alignment_section

__all__ = ["cluster_diffs", "headline", "render_cluster_html", "render_clusters_html", "render_story_pages"]


def headline(a: Article, *, width: int = 90) -> str:
    """The article's title, else its first paragraph when that reads as a
    headline, else its first ``width`` characters."""
    if a.title:
        return a.title
    paras = paragraphs(a.text)
    if not paras:
        return "(empty)"
    first = paras[0]
    if classify_paragraph(first) == ParagraphKind.HEADER or len(first) <= width:
        return first
    cut = first[:width].rsplit(" ", 1)[0]
    return cut + " …"


def _label(a: Article) -> str:
    bits = [headline(a), f"({a.id})"]
    if a.source:
        bits.append(f"— {a.source}")
    if a.published:
        bits.append(f"· {a.published.isoformat()}")
    return " ".join(bits)


def cluster_diffs(cluster: Cluster, **diff_options: Any) -> list[tuple[Article, tuple[Article, ...], Alignment]]:
    """``(target, its copies, alignment representative -> target)`` for each
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


def _original_text(rep: Article, anchor: str) -> str:
    """The representative's paragraphs, numbered, each with an id the diffs
    link to: cut as the diffs cut them (:func:`dedup.diff.parse.diff_paragraphs`)."""
    ps = "".join(
        f'<p id="{esc(anchor)}{k}"><b class=n>¶{k}</b>{esc_text(p)}</p>'
        for k, p in enumerate(diff_paragraphs(rep.text), 1)
    )
    head = "<summary>The representative's text (the original of every diff below)</summary>"
    return f'<details class="text">{head}{ps}</details>'


def _toc_entry(anchor: str, target: Article, copies: Sequence[Article], al: Alignment) -> str:
    s = al.summary
    copies_note = f", {len(copies)} identical cop{'y' if len(copies) == 1 else 'ies'}" if copies else ""
    return (
        f'<li><a href="#{esc(anchor)}">{esc(headline(target))}</a> <span class="meta">({esc(target.id)}) — '
        f"{s.carried_over:.0%} carried over, {s.added} added, {s.dropped} dropped, {s.moved} moved, "
        f"{s.reworded} reworded{esc(copies_note)}</span></li>"
    )


def _cluster_body(cluster: Cluster, prefix: str, level: int, diff_options: dict[str, Any]) -> tuple[str, list[str]]:
    rep = cluster.representative
    diffs = cluster_diffs(cluster, **diff_options)
    rep_copies = next((list(v.copies) for v in cluster.versions if v.representative.id == rep.id), [])
    text_anchor = f"{prefix}o"
    toc: list[str] = []
    sections: list[str] = []
    for k, (target, copies, al) in enumerate(diffs, 1):
        anchor = f"{prefix}v{k}"
        toc.append(_toc_entry(anchor, target, copies, al))
        section = render_alignment_section(
            al, heading=f"{k}. {_label(target)}", anchor=anchor, level=level, legend=False, original_anchor=text_anchor
        )
        if copies:
            extra = (
                '<p class="meta">Near-identical copies of this version: '
                + ", ".join(esc(_label(c)) for c in copies)
                + "</p>"
            )
            section = section.replace(f"</h{level}>", f"</h{level}>{extra}", 1)
        sections.append(section)
    intro = (
        '<p class="meta">Representative (the original of every diff): '
        f"<b>{esc(_label(rep))}</b> · {len(cluster.members)} member(s)"
        + (f" · copies of the representative: {', '.join(esc(_label(c)) for c in rep_copies)}" if rep_copies else "")
        + "</p>"
        + _original_text(rep, text_anchor)
    )
    if not diffs:
        sections.append('<p class="meta">This cluster has a single version: nothing to compare.</p>')
    return intro + "\n".join(sections), toc


_HOW_TO_READ = (
    '<p class="meta">Each story shows its representative\'s text once; every other version is compared with it '
    "(representative left, version right; rows follow the version, ¶ numbers count each side's paragraphs from 1). "
    "Paragraph numbers on the left link to the representative's text. A reworded paragraph shows the deleted and "
    f"inserted words in place; one retold loosely (similarity under {INLINE_MIN_SIMILARITY}) "
    "shows its new words marked.</p>"
)


def render_cluster_html(cluster: Cluster, *, title: str | None = None, **diff_options: Any) -> str:
    """One cluster: representative, table of contents, one diff per version."""
    t = title if title is not None else f"dedup story report: {_label(cluster.representative)}"
    body, toc = _cluster_body(cluster, "", 2, diff_options)
    nav = f'<nav class="toc" aria-label="contents"><h2>Contents</h2><ol>{"".join(toc)}</ol></nav>' if toc else ""
    return page(t, f"<h1>{esc(t)}</h1>{_HOW_TO_READ}{legend_html()}{nav}{body}")


def render_clusters_html(
    clusters: Iterable[Cluster], *, title: str = "dedup story report", min_size: int = 2, **diff_options: Any
) -> str:
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
        toc.append(
            f'<li><a href="#{anchor}">{esc(headline(c.representative))}</a> '
            f'<span class="meta">({esc(c.representative.id)}, '
            f"{len(c.members)} articles)</span><ol>{''.join(sub)}</ol></li>"
        )
        parts.append(
            f'<section class="cluster" id="{anchor}"><h2>{n}. {esc(_label(c.representative))}</h2>{body}</section>'
        )
    if not chosen:
        parts.append(f'<p class="meta">No story with {min_size} or more articles.</p>')
    nav = f'<nav class="toc" aria-label="contents"><h2>Contents</h2><ol>{"".join(toc)}</ol></nav>' if toc else ""
    return page(title, f"<h1>{esc(title)}</h1>{_HOW_TO_READ}{legend_html()}{nav}{''.join(parts)}")


def render_story_pages(
    clusters: Iterable[Cluster], *, title: str = "dedup story report", min_size: int = 2, **diff_options: Any
) -> dict[str, str]:
    """One page per story and an index page linking them, as ``{file name: HTML}``
    (``index.html``, ``story-1.html``, ...): each page's size is its story's,
    whatever the size of the corpus. Clusters smaller than ``min_size`` are left out."""
    if isinstance(min_size, bool) or not isinstance(min_size, int) or min_size < 1:
        raise ValueError(f"min_size must be an integer >= 1, got {min_size!r}")
    pages: dict[str, str] = {}
    items: list[str] = []
    for n, c in enumerate((c for c in clusters if len(c.members) >= min_size), 1):
        name = f"story-{n}.html"
        pages[name] = render_cluster_html(c, **diff_options)
        items.append(
            f'<li><a href="{name}">{esc(headline(c.representative))}</a> '
            f'<span class="meta">({esc(c.representative.id)}, {len(c.members)} articles)</span></li>'
        )
    listing = (
        f"<ol>{''.join(items)}</ol>" if items else f'<p class="meta">No story with {min_size} or more articles.</p>'
    )
    nav = f'<nav class="toc" aria-label="contents"><h2>Stories</h2>{listing}</nav>'
    return {"index.html": page(title, f"<h1>{esc(title)}</h1>{nav}"), **pages}
