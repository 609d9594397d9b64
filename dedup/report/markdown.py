"""Markdown report of an alignment, for pasting into tickets and chat.

Word changes use ``~~deleted~~`` and ``**inserted**``; article text is
escaped so that its own ``*``, ``_``, ``[``, ``|``, ``<`` ... never turn into
markup (``<`` and ``>`` become entities, so no raw HTML reaches a renderer
that allows it), and its control characters (ESC, C1 controls, bidi
overrides) are shown escaped (``\\x1b``), so none reaches a terminal.
"""

from __future__ import annotations

import re

from dedup.diff import Alignment, Block, Span

from .summary import direction, figures, shown_blocks, summary_line

__all__ = ["render_markdown", "md_escape"]

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
# C0 and C1 controls, DEL and the bidirectional overrides left once whitespace is one space:
# shown escaped (\x1b), so that no escape sequence from the data reaches a terminal
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _visible(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def _plain(text: str) -> str:
    """Runs of whitespace (CR, form feed and newline too) as one space, other controls shown escaped."""
    return _CONTROL.sub(_visible, re.sub(r"\s+", " ", text))


def md_escape(text: str) -> str:
    """Escape Markdown syntax and HTML in article text; newlines become spaces and
    control characters (ESC, C1, bidi overrides) are shown escaped (``\\x1b``)."""
    text = _plain(text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _spans_md(spans: tuple[Span, ...], side: str, whole: bool = False) -> str:
    out: list[str] = []
    for s in spans:
        t = md_escape(s.text)
        if not t.strip() or s.mark == "equal":
            out.append(t)
            continue
        lead = " " if s.text[:1].isspace() else ""
        trail = " " if s.text[-1:].isspace() else ""
        t = t.strip()
        if s.mark == "changed":
            t = f"~~{t}~~" if side == "original" else f"**{t}**"
        elif s.mark == "dropped":
            t = f"~~{t}~~" + ("" if whole else " *(sentence dropped)*")
        elif s.mark == "added":
            t = f"**{t}**" + ("" if whole else " *(sentence added)*")
        elif s.mark == "elsewhere":
            t = f"{t} *(→ {md_escape(s.ref or '')})*"
        elif s.mark == "dateline":
            t = f"`{_plain(s.text).strip().replace('`', '')}`"
        elif s.mark == "deleted":
            t = f"~~{t}~~"
        elif s.mark == "inserted":
            t = f"**{t}**"
        out.append(lead + t + trail)
    return "".join(out)


def _title(b: Block) -> str:
    o = ", ".join(f"¶{i + 1}" for i in b.original) or "—"
    r = ", ".join(f"¶{i + 1}" for i in b.rewrite) or "—"
    label = b.kind + (" · reworded" if b.kind == "moved" and b.changed else "")
    if b.moved and b.kind != "moved":  # a split or merge out of order: counted as moved too
        label += " · moved"
    role = f" ({b.role})" if b.role != "body" else ""
    sim = f", similarity {b.similarity:.2f}" if b.original and b.rewrite else ""
    return f"**{label}**{role} — original {o} → rewrite {r}{sim}"


def render_markdown(a: Alignment, *, title: str | None = None, show_identical: bool = False) -> str:
    """Summary table, then one entry per changed block (``show_identical`` to list
    unchanged pairs too)."""
    s = a.summary
    head = title if title is not None else f"Diff: {direction(a)}"
    names, values = zip(*figures(s), strict=True)
    lines = [
        f"### {md_escape(head)}",
        "",
        f"**{md_escape(summary_line(s))}**",
        "",
        "| " + " | ".join(names) + " |",
        "|" + "---|" * len(names),
        "| " + " | ".join(values) + " |",
        "",
        "Legend: ~~deleted~~ · **inserted** · *(sentence added/dropped)* · *(→ counterpart elsewhere)*; "
        "original ¶ → rewrite ¶, numbers counting paragraphs from 1; "
        "a reworded pair reads as the rewrite with the changes in place.",
        "",
    ]
    if not a.blocks:
        lines.append("_Both documents are empty._")
    for b in shown_blocks(a, show_identical):
        lines.append(f"- {_title(b)}")
        if b.inline:  # a reworded pair: one line, the changes in place
            lines.append(f"  - {_spans_md(b.inline, 'rewrite')}")
            continue
        for k, i in enumerate(b.original):
            spans = b.original_spans[k] if k < len(b.original_spans) else ()
            lines.append(f"  - original ¶{i + 1}: {_spans_md(spans, 'original', not b.rewrite)}")
        for k, i in enumerate(b.rewrite):
            spans = b.rewrite_spans[k] if k < len(b.rewrite_spans) else ()
            lines.append(f"  - rewrite ¶{i + 1}: {_spans_md(spans, 'rewrite', not b.original)}")
    hidden = sum(1 for b in a.blocks if b.kind == "identical")
    if hidden and not show_identical:
        lines += ["", f"_{hidden} identical paragraph pair(s) not shown._"]
    return "\n".join(lines) + "\n"
