"""Words every renderer shares: the one-line summary and the names of the two sides.

One direction everywhere: the first argument of ``diff_articles`` is the
original (left, "from"), the second the rewrite (right, "to").
"""

from __future__ import annotations

from dedup.diff import Alignment, Block, Summary

__all__ = ["plural", "summary_line", "figures", "shown_blocks", "side_name", "direction"]


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 paragraph``, ``3 paragraphs``."""
    return f"{n} {word if n == 1 else (words or word + 's')}"


def summary_line(s: Summary) -> str:
    """E.g. ``3 paragraphs added, 1 dropped, 2 moved, 4 reworded; 7 identical``."""
    counts = [
        (s.added, "added"),
        (s.dropped, "dropped"),
        (s.moved, "moved"),
        (s.reworded, "reworded"),
        (s.split, "split"),
        (s.merged, "merged"),
    ]
    changes = [(n, what) for n, what in counts if n]
    if not changes:
        if not s.original_paragraphs and not s.rewrite_paragraphs:
            return "Both documents are empty."
        return f"No change: {plural(s.identical, 'paragraph')} identical."
    first_n, first_what = changes[0]
    parts = [f"{plural(first_n, 'paragraph')} {first_what}"] + [f"{n} {what}" for n, what in changes[1:]]
    tail = f"; {s.identical} identical" if s.identical else ""
    return ", ".join(parts) + tail + "."


def figures(s: Summary) -> tuple[tuple[str, str], ...]:
    """The summary's figures as ``(name, value)``, in the order every renderer shows them."""
    counts = (s.identical, s.reworded, s.moved, s.split, s.merged, s.added, s.dropped)
    names = ("identical", "reworded", "moved", "split", "merged", "added", "dropped")
    shares = (("carried over", f"{s.carried_over:.0%}"), ("word for word", f"{s.verbatim:.0%}"))
    return shares + tuple((name, str(n)) for name, n in zip(names, counts, strict=True))


def shown_blocks(a: Alignment, show_identical: bool) -> tuple[Block, ...]:
    """The blocks a report lists: all, or all but the identical pairs."""
    return a.blocks if show_identical else tuple(b for b in a.blocks if b.kind != "identical")


def side_name(id_: str, title: str | None) -> str:
    """``Title (id)`` or the id alone."""
    return f"{title} ({id_})" if title else id_


def direction(a: Alignment) -> str:
    """``original → rewrite``, by name."""
    return f"{side_name(a.original_id, a.original_title)} → {side_name(a.rewrite_id, a.rewrite_title)}"
