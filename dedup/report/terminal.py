"""Terminal report: colour on a terminal, plain when piped or ``NO_COLOR`` is set.

Plain mode marks changes the way ``git diff --word-diff=plain`` does:
``[-deleted-]`` and ``{+inserted+}``, so a piped report still shows them.
"""

from __future__ import annotations

import os
import sys
import textwrap
import unicodedata
from typing import TextIO

from dedup.diff import Alignment, Block, Span

from .summary import direction, figures, shown_blocks, summary_line

__all__ = ["render_terminal", "use_color"]

_RESET = "\x1b[0m"
_STYLE = {
    "del": "\x1b[31;9m",  # red, struck
    "ins": "\x1b[32;1m",  # green, bold
    "dropped": "\x1b[41;97m",
    "added": "\x1b[42;30m",
    "elsewhere": "\x1b[36m",
    "dateline": "\x1b[2m",
    "head": "\x1b[1m",
    "moved": "\x1b[33;1m",
}


def use_color(stream: TextIO | None = None) -> bool:
    """Colour only when writing to a terminal and ``NO_COLOR`` is unset (any value disables)."""
    if "NO_COLOR" in os.environ:
        return False
    stream = stream if stream is not None else sys.stdout
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _safe(ch: str) -> bool:
    # C0 and C1 controls (ESC, CSI U+009B ...) and format characters (bidi overrides U+202E ...)
    return unicodedata.category(ch) not in ("Cc", "Cf")


def _clean(text: str) -> str:
    """Article text must not be able to drive the terminal: every control and
    format character (ESC, C1 controls, bidi overrides) becomes a space."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(ch if _safe(ch) else " " for ch in text)


def _mark(text: str, style: str, color: bool, plain: tuple[str, str]) -> str:
    if color:
        return f"{_STYLE[style]}{text}{_RESET}"
    return f"{plain[0]}{text}{plain[1]}"


def _spans(spans: tuple[Span, ...], side: str, color: bool) -> str:
    out: list[str] = []
    for s in spans:
        t = _clean(s.text)
        if s.mark == "equal":
            out.append(t)
        elif s.mark == "changed":
            out.append(
                _mark(t, "del", color, ("[-", "-]")) if side == "original" else _mark(t, "ins", color, ("{+", "+}"))
            )
        elif s.mark == "dropped":
            out.append(_mark(t, "dropped", color, ("[-", "-]")))
        elif s.mark == "added":
            out.append(_mark(t, "added", color, ("{+", "+}")))
        elif s.mark == "elsewhere":
            out.append(_mark(t, "elsewhere", color, ("", "")) + f" (-> {_clean(s.ref or '')})")
        elif s.mark == "dateline":
            out.append(_mark(t, "dateline", color, ("", "")))
        elif s.mark == "deleted":
            out.append(_mark(t, "del", color, ("[-", "-]")))
        elif s.mark == "inserted":
            out.append(_mark(t, "ins", color, ("{+", "+}")))
    return "".join(out)


def _heading(b: Block, color: bool) -> str:
    o = ",".join(str(i + 1) for i in b.original) or "-"
    r = ",".join(str(i + 1) for i in b.rewrite) or "-"
    label = b.kind.upper() + (" + REWORDED" if b.kind == "moved" and b.changed else "")
    if b.moved and b.kind != "moved":  # a split or merge out of order: counted as moved too
        label += " + MOVED"
    role = f" [{b.role}]" if b.role != "body" else ""
    sim = f"  sim {b.similarity:.2f}" if b.original and b.rewrite else ""
    text = f"{label}{role}  original ¶{o} -> rewrite ¶{r}{sim}"
    return _mark(text, "moved" if b.moved else "head", color, ("", ""))


def render_terminal(
    a: Alignment, *, color: bool | None = None, width: int | None = None, show_identical: bool = False
) -> str:
    """The alignment as terminal text. ``color=None`` decides with :func:`use_color`;
    ``width`` wraps plain output (colour output is not wrapped, escapes would
    break it)."""
    if color is None:
        color = use_color()
    s = a.summary
    lines = [
        _mark(_clean(direction(a)), "head", color, ("", "")),
        _clean(summary_line(s)),
        " | ".join(f"{name} {value}" for name, value in figures(s)),
        "",
    ]
    if not a.blocks:
        lines.append("(both documents are empty)")
    for b in shown_blocks(a, show_identical):
        lines.append(_heading(b, color))
        parts = (
            (("rewrite", b.rewrite, (b.inline,)),)
            if b.inline
            else (("original", b.original, b.original_spans), ("rewrite", b.rewrite, b.rewrite_spans))
        )
        for side, idx, spans in parts:
            for k, i in enumerate(idx):
                prefix = (
                    f"  {'-' if side == 'original' else '+'} ¶{i + 1}: "
                    if not b.inline
                    else f"  ¶{b.original[0] + 1} -> ¶{i + 1}: "
                )
                body = _spans(spans[k] if k < len(spans) else (), side, color)
                if width and not color:
                    lines.extend(
                        textwrap.wrap(prefix + body, width=width, subsequent_indent=" " * len(prefix)) or [prefix]
                    )
                else:
                    lines.append(prefix + body)
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
