r"""Terminal report: colour on a terminal, plain when piped or ``NO_COLOR`` is set.

Plain mode marks changes the way ``git diff --word-diff=plain`` does:
``[-deleted-]`` and ``{+inserted+}``, so a piped report still shows them; a
sentence whose counterpart is in another block is followed by
``(-> rewrite ¶N)`` in both modes.

Article text cannot imitate these marks. Where the text itself holds ``[-``,
``-]``, ``{+``, ``+}`` (plain mode) or ``(->`` (both modes), or makes one with
a mark next to it, a backslash is added before the mark's last character
(after any backslashes already there): the text ``[-not deleted-]`` reads
``[\-not deleted-\]``, ``{+1+}`` reads ``{\+1+\}``, ``(->`` reads ``(-\>``, and
``-\]`` reads ``-\\]``. So every ``[-``, ``-]``, ``{+``, ``+}`` and ``(->`` of
the output is a mark the renderer wrote, and one backslash fewer gives the
text back. A plain report in which this happened says so under its figures
(:data:`ESCAPE_NOTE`).

Article text cannot drive the terminal either: control and format characters
(ESC, C1 controls, bidi overrides) become spaces (:func:`_clean`).
"""

from __future__ import annotations

import os
import re
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
    # C0 and C1 controls (ESC, CSI U+009B ...), format characters (bidi overrides
    # U+202E ...) and the line and paragraph separators U+2028/U+2029 (a line
    # break in some terminals, in none of the report's layout)
    return unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp")


def _clean(text: str) -> str:
    """Article text must not be able to drive the terminal: every control and
    format character (ESC, C1 controls, bidi overrides) and line or paragraph
    separator becomes a space."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(ch if _safe(ch) else " " for ch in text)


# The text's own marks: the first character(s) of a mark and the backslashes
# after them, where its last character follows; a backslash goes in there.
_PLAIN_MARKS = re.compile(r"\[\\*(?=-)|-\\*(?=\])|\{\\*(?=\+)|\+\\*(?=\})|\(-\\*(?=>)")
_NOTE_MARK = re.compile(r"\(-\\*(?=>)")
# A mark with a backslash in it: the plain report's note says what it is.
_ESCAPED = re.compile(r"\[\\+-|-\\+\]|\{\\+\+|\+\\+\}|\(-\\+>")
ESCAPE_NOTE = 'Not changes: "[\\-", "-\\]", "{\\+", "+\\}", "(-\\>" are the article\'s own text (one backslash added).'

# colour style, plain opening and closing mark per span mark ("changed": deleted or inserted by side)
_MARKS = {
    "deleted": ("del", "[-", "-]"),
    "inserted": ("ins", "{+", "+}"),
    "dropped": ("dropped", "[-", "-]"),
    "added": ("added", "{+", "+}"),
    "elsewhere": ("elsewhere", "", ""),
    "dateline": ("dateline", "", ""),
}


def _escape(text: str, before: str, after: str, color: bool) -> str:
    """``text`` with a backslash added in each mark it holds or makes with
    ``before`` (what ends the output before it) or ``after`` (its closing mark)."""
    full = before + text + after
    lo, hi = len(before), len(before) + len(text)
    pattern = _NOTE_MARK if color else _PLAIN_MARKS
    cuts = [m.end() for m in pattern.finditer(full) if lo <= m.end() <= hi]
    if not cuts:
        return text
    return "\\".join(full[i:j] for i, j in zip([lo, *cuts], [*cuts, hi], strict=True))


def _tail(text: str) -> str:
    """The end of ``text`` that can begin a mark with what follows it."""
    core = text.rstrip("\\")
    head = "(-" if core.endswith("(-") else core[-1:] if core[-1:] in ("-", "+", "[", "{", "(") else ""
    return head + text[len(core) :] if head else ""


def _mark(text: str, style: str, color: bool, plain: tuple[str, str]) -> str:
    if color:
        return f"{_STYLE[style]}{text}{_RESET}"
    return f"{plain[0]}{text}{plain[1]}"


def _spans(spans: tuple[Span, ...], side: str, color: bool) -> str:
    out: list[str] = []
    tail = ""  # the end of the visible text so far (marks included, colour codes not)
    for s in spans:
        mark = ("deleted" if side == "original" else "inserted") if s.mark == "changed" else s.mark
        style, opener, closer = _MARKS.get(mark, ("", "", ""))
        opener, closer = ("", "") if color else (opener, closer)
        text = s.text.rstrip() if mark == "elsewhere" else s.text  # the pointer before the space after it
        t = _escape(_clean(text), _tail(tail + opener), closer, color)
        out.append(_mark(t, style, color, (opener, closer)) if style else t)
        tail = _tail(tail + opener + t + closer)
        if mark == "elsewhere":
            out.append(f" (-> {_clean(s.ref or '')}){_clean(s.text[len(text) :])}")
            tail = ""
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
        _mark(_escape(_clean(direction(a)), "", "", color), "head", color, ("", "")),
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
    if not color and any(_ESCAPED.search(line) for line in lines):
        lines.insert(3, ESCAPE_NOTE)
    return "\n".join(lines).rstrip("\n") + "\n"
