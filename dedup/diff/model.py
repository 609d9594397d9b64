"""The alignment as data (like difflib's opcodes): what :func:`dedup.diff.diff_articles`
returns and what every renderer in :mod:`dedup.report` reads. This package
never imports :mod:`dedup.report`; ``dedup.diff_articles`` (from
:mod:`dedup.report`) returns the same data with ``to_html`` / ``to_markdown``
/ ``to_text`` added.

Everything is a frozen dataclass, and :meth:`Alignment.to_dict` is the
versioned JSON form documented in ``docs/diff-json-schema.md``. Paragraph and
sentence indices are 0-based here and in JSON; reports show them 1-based
("¶6" is index 5).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from dedup.text.normalise import split_sentences

SCHEMA_VERSION = "2.0"

#: Block kinds, in the order a legend lists them.
BLOCK_KINDS = ("identical", "reworded", "moved", "split", "merged", "added", "dropped")
#: Span marks a renderer has to style.
SPAN_MARKS = ("equal", "changed", "added", "dropped", "elsewhere", "dateline", "deleted", "inserted")


@dataclass(frozen=True)
class Span:
    """A run of a paragraph's text with one mark.

    ``equal``: carried over unchanged; ``changed``: a word-level change
    (deleted on the original side, inserted on the rewrite side); ``added`` /
    ``dropped``: a whole sentence with no counterpart; ``elsewhere``: a sentence
    whose counterpart is in a paragraph outside this block, or at another
    place in the block (sentences reordered in a pair, split or merge; ``ref``
    names the paragraph);
    ``dateline``: a leading dateline.
    """

    text: str
    mark: str = "equal"
    ref: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"text": self.text, "mark": self.mark}
        if self.ref is not None:
            d["ref"] = self.ref
        return d


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of either side. ``kind`` is a :class:`dedup.text.normalise.ParagraphKind`
    value (``body``, ``header``, ``dateline``, ``credit``); ``dateline`` is a
    leading dateline split off a body paragraph. ``breaks``: offsets in
    ``text`` where a sentence ends although the sentence splitter reads on
    (after "U.S.", "Dr.", an initial): the other version ends a paragraph there
    (see :func:`dedup.diff.parse.add_breaks`)."""

    index: int
    text: str
    kind: str
    dateline: str | None
    breaks: tuple[int, ...] = field(default=(), repr=False)

    @property
    def number(self) -> int:
        """1-based number, as reports show it."""
        return self.index + 1

    @cached_property
    def sentences(self) -> tuple[str, ...]:
        """Sentences of a body paragraph's text after the dateline, cut at
        :attr:`breaks` too (the sentence indices of :class:`SentenceDiff` count
        these); other kinds are one piece.
        Made on first use: most paragraphs of a long, lightly edited pair never need them."""
        if self.kind != "body":
            return (self.text,)
        start = len(self.dateline or "")
        found = split_sentences(self.text[start:].strip())
        return tuple(_cut_sentences(self.text, found, start, self.breaks)) if self.breaks else tuple(found)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "kind": self.kind,
            "dateline": self.dateline,
            "text": self.text,
            "sentences": list(self.sentences),
        }


def _cut_sentences(text: str, sentences: list[str], start: int, breaks: tuple[int, ...]) -> list[str]:
    """``sentences`` (stripped pieces of ``text`` from ``start`` on, in order)
    cut again at the offsets ``breaks``; a cut falls between words."""
    out: list[str] = []
    pos = start
    for s in sentences:
        at = text.find(s, pos)
        at = pos if at < 0 else at
        pos = at + len(s)
        for b in sorted(b for b in breaks if at < b < pos):
            head = text[at:b].strip()
            if head:
                out.append(head)
            at = b
        tail = text[at:pos].strip()
        if tail:
            out.append(tail)
    return out


@dataclass(frozen=True)
class WordOp:
    """One step of a word-level diff: ``equal``, ``delete``, ``insert`` or
    ``replace``, with the text on each side (original spacing kept)."""

    op: str
    original: str
    rewrite: str

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "original": self.original, "rewrite": self.rewrite}


@dataclass(frozen=True)
class SentenceDiff:
    """Sentences that correspond, or one with no counterpart.

    ``original`` and ``rewrite`` are ``(paragraph index, sentence index)``
    pairs; usually one on each side, several when a sentence was split or
    merged. ``kind`` is ``equal``, ``changed``, ``added`` or ``dropped``.
    ``words`` is the word-level diff of the joined sentences.
    """

    kind: str
    original: tuple[tuple[int, int], ...]
    rewrite: tuple[tuple[int, int], ...]
    similarity: float
    words: tuple[WordOp, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "original": [list(x) for x in self.original],
            "rewrite": [list(x) for x in self.rewrite],
            "similarity": round(self.similarity, 4),
            "words": [w.to_dict() for w in self.words],
        }


@dataclass(frozen=True)
class Block:
    """One row of the report: paragraphs of the original and of the rewrite
    that correspond, or one paragraph with no counterpart.

    ``kind``:
      * ``identical`` / ``reworded`` / ``moved``: a 1:1 pair (``moved`` when it
        is out of order against the original; ``changed`` says whether a moved
        pair was also reworded);
      * ``split``: one original paragraph spread over adjacent rewrite paragraphs;
      * ``merged``: adjacent original paragraphs combined into one rewrite paragraph;
      * ``added`` / ``dropped``: no counterpart.

    Every paragraph of both sides is in exactly one block. A sentence whose
    counterpart is in a paragraph of another block (a rewrite often moves one
    sentence to the neighbouring paragraph) is marked ``elsewhere`` in the
    spans of both blocks; so is a sentence whose counterpart is in the same
    block but out of order (swapped in a pair, reordered by a split or merge).
    ``role`` is the paragraph kind for added/dropped/furniture blocks
    (``header``, ``credit``, ``dateline``, ``body``). ``shares`` (split and
    merged blocks) is, per paragraph on the "many" side, the share of the
    "one" side's content found in it. ``inline`` (1:1 pairs whose text
    changed): the rewrite read with the original's words in place, as runs
    marked ``equal``, ``deleted`` / ``inserted`` (words), ``dropped`` /
    ``added`` (whole sentences), ``elsewhere`` and ``dateline``; runs join
    with the spaces they carry.
    """

    kind: str
    original: tuple[int, ...]
    rewrite: tuple[int, ...]
    similarity: float
    role: str = "body"
    moved: bool = False
    changed: bool = False
    shares: tuple[float, ...] = ()
    sentences: tuple[SentenceDiff, ...] = ()
    original_spans: tuple[tuple[Span, ...], ...] = ()
    rewrite_spans: tuple[tuple[Span, ...], ...] = ()
    inline: tuple[Span, ...] = ()

    @property
    def sentences_added(self) -> tuple[SentenceDiff, ...]:
        return tuple(s for s in self.sentences if s.kind == "added")

    @property
    def sentences_dropped(self) -> tuple[SentenceDiff, ...]:
        return tuple(s for s in self.sentences if s.kind == "dropped")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "role": self.role,
            "original": list(self.original),
            "rewrite": list(self.rewrite),
            "similarity": round(self.similarity, 4),
            "moved": self.moved,
            "changed": self.changed,
            "shares": [round(s, 4) for s in self.shares],
            "sentences": [s.to_dict() for s in self.sentences],
            "original_spans": [[s.to_dict() for s in p] for p in self.original_spans],
            "rewrite_spans": [[s.to_dict() for s in p] for p in self.rewrite_spans],
            "inline": [s.to_dict() for s in self.inline],
        }


@dataclass(frozen=True)
class Summary:
    """Counts over an alignment.

    ``carried_over``: share of the rewrite's body words that are in sentences
    with a counterpart in the original (paraphrase counts as carried over);
    ``verbatim``: share of the rewrite's body words that are unchanged words of
    the original. ``identical`` / ``reworded`` count 1:1 pairs whose text is
    unchanged / changed, moved or not; ``moved`` counts blocks out of order. ``added`` / ``dropped`` count
    paragraphs of every kind; ``*_by_role`` break them down (header, credit...).
    """

    original_paragraphs: int
    rewrite_paragraphs: int
    carried_over: float
    verbatim: float
    identical: int
    reworded: int
    moved: int
    split: int
    merged: int
    added: int
    dropped: int
    added_by_role: tuple[tuple[str, int], ...]
    dropped_by_role: tuple[tuple[str, int], ...]
    sentences_added: int
    sentences_dropped: int
    datelines_added: int
    datelines_dropped: int

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for k, v in self.__dict__.items():
            if k.endswith("_by_role"):
                d[k] = dict(v)
            elif isinstance(v, float):
                d[k] = round(v, 4)
            else:
                d[k] = v
        return d


def _blocks_of(*kinds: str, doc: str) -> property:
    """A read-only view of :class:`Alignment`: its blocks of these kinds, in display order."""
    return property(lambda self: tuple(b for b in self.blocks if b.kind in kinds), doc=doc)


@dataclass(frozen=True)
class Alignment:
    """How a rewrite relates to its original, paragraph by paragraph.

    ``blocks`` are in display order: the rewrite's order, with dropped
    original paragraphs placed after their preceding original neighbour.
    """

    original_id: str
    rewrite_id: str
    original: tuple[Paragraph, ...]
    rewrite: tuple[Paragraph, ...]
    blocks: tuple[Block, ...]
    summary: Summary
    original_title: str | None = None
    rewrite_title: str | None = None
    parameters: tuple[tuple[str, Any], ...] = ()

    # -- views ----------------------------------------------------------------
    pairs = _blocks_of("identical", "reworded", "moved", doc="1:1 pairs (identical, reworded or moved).")
    identical = _blocks_of("identical", doc="Paragraphs carried over word for word, in place.")

    @property
    def reworded(self) -> tuple[Block, ...]:
        """1:1 pairs whose text changed, moved or not."""
        return tuple(b for b in self.pairs if b.changed)

    @property
    def moved(self) -> tuple[Block, ...]:
        """Blocks whose paragraphs changed place, reworded or not."""
        return tuple(b for b in self.blocks if b.moved)

    splits = _blocks_of("split", doc="One original paragraph told as several in the rewrite.")
    merges = _blocks_of("merged", doc="Several original paragraphs told as one in the rewrite.")
    added = _blocks_of("added", doc="Paragraphs only the rewrite has.")
    dropped = _blocks_of("dropped", doc="Paragraphs of the original the rewrite left out.")

    # -- serialisation ----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The versioned JSON form (``docs/diff-json-schema.md``)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "original": {
                "id": self.original_id,
                "title": self.original_title,
                "paragraphs": [p.to_dict() for p in self.original],
            },
            "rewrite": {
                "id": self.rewrite_id,
                "title": self.rewrite_title,
                "paragraphs": [p.to_dict() for p in self.rewrite],
            },
            "summary": self.summary.to_dict(),
            "blocks": [b.to_dict() for b in self.blocks],
            "parameters": dict(self.parameters),
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)
