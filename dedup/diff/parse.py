"""One side of a diff as flat lists: paragraphs, their kind, and body sentences.

Why flat lists and lazy work: a 2,000-paragraph pair must stay within a few
times difflib, and most paragraphs of a real rewrite are carried over
unchanged. So :func:`parse_side` only cuts paragraphs, tells their kind and
keys each once (its identity: :func:`exact_key`); sentences are split and keyed only for
the paragraphs that have no identical twin on the other side
(:meth:`Side.split`; where the other side ends a paragraph after an
abbreviation, there too: :func:`add_breaks`), and the costlier parts --
content terms for similarity, word tokens with offsets for word diffs -- only
for the sentences that need them (:meth:`Side.terms`, :meth:`Side.tokens`).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

from dedup.text.normalise import ParagraphKind, classify_paragraph, paragraphs, split_dateline

from .features import content_terms
from .model import Paragraph
from .words import Words, word_tokens

__all__ = ["BODY", "Side", "add_breaks", "diff_paragraphs", "exact_key", "parse_side"]

BODY = ParagraphKind.BODY.value


def exact_key(text: str) -> str:
    """The identity of a text in a diff: the text itself, whitespace collapsed
    and in Unicode's composed form (NFC: the same characters however they
    were encoded). Not :func:`~dedup.text.normalise.fold`: a change of case,
    of a possessive "'s" or of a quote mark is a change the diff must show;
    folding is for similarity (content terms), never for "unchanged"."""
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    return " ".join(text.split())


@dataclass
class Side:
    """Paragraphs of one document and the body sentences split so far.

    ``first[p]``/``count[p]``: the flat sentence range of paragraph ``p``
    (empty until :meth:`split`, and always for headers, datelines, credits).
    ``sent_*`` are per flat sentence; ``sent_words`` counts its words.
    """

    paras: list[Paragraph]
    para_key: list[str]
    stem_length: int = 5
    first: dict[int, int] = field(default_factory=dict)
    count: dict[int, int] = field(default_factory=dict)
    sent_para: list[int] = field(default_factory=list)
    sent_idx: list[int] = field(default_factory=list)
    sent_start: list[int] = field(default_factory=list)
    sent_text: list[str] = field(default_factory=list)
    sent_key: list[str] = field(default_factory=list)
    sent_words: list[int] = field(default_factory=list)
    _terms: dict[int, list[str]] = field(default_factory=dict)
    _tokens: dict[int, Words] = field(default_factory=dict)

    @property
    def body(self) -> list[int]:
        """Indices of the body paragraphs."""
        return [p.index for p in self.paras if p.kind == BODY]

    def split(self, paras: Iterable[int]) -> None:
        """Split the body paragraphs ``paras`` into flat sentences (in the given order)."""
        for i in paras:
            p = self.paras[i]
            if p.kind != BODY or i in self.first:
                continue
            self.first[i] = len(self.sent_text)
            pos = len(p.dateline or "")
            for j, s in enumerate(p.sentences):
                at = p.text.find(s, pos)
                at = pos if at < 0 else at  # split_sentences only strips, so find() succeeds
                key = exact_key(s)
                self.sent_para.append(i)
                self.sent_idx.append(j)
                self.sent_start.append(at)
                self.sent_text.append(s)
                self.sent_key.append(key)
                self.sent_words.append(len(key.split()))
                pos = at + len(s)
            self.count[i] = len(p.sentences)

    def sentences_of(self, para: int) -> range:
        """Flat indices of the split sentences of ``para`` (empty if not split)."""
        start = self.first.get(para, 0)
        return range(start, start + self.count.get(para, 0))

    def body_words(self, para: int) -> int:
        """Words of a body paragraph after its dateline (without splitting it)."""
        p = self.paras[para]
        n = len(self.para_key[para].split())
        return n - len(p.dateline.split()) if p.dateline else n

    def terms(self, s: int) -> list[str]:
        """Content stems of flat sentence ``s`` (cached)."""
        t = self._terms.get(s)
        if t is None:
            t = self._terms[s] = content_terms(self.sent_text[s], stem_length=self.stem_length)
        return t

    def tokens(self, s: int) -> Words:
        """Word tokens of flat sentence ``s`` with offsets in its paragraph (cached)."""
        t = self._tokens.get(s)
        if t is None:
            t = self._tokens[s] = word_tokens(self.sent_text[s], self.sent_start[s])
        return t

    def words(self, s: int) -> int:
        """Number of words of flat sentence ``s``."""
        return self.sent_words[s]


# Compatibility characters whose NFKC form reads as other text: "10²" is not "102",
# "CO₂" not "CO2", "½" not "1⁄2" (an ellipsis, a ligature or a full-width letter
# reads the same folded).
_AS_WRITTEN = ("<super>", "<sub>", "<fraction>")


@lru_cache(maxsize=4096)
def _as_written(ch: str) -> bool:
    return unicodedata.decomposition(ch).startswith(_AS_WRITTEN)


def diff_paragraphs(text: str) -> list[str]:
    """:func:`~dedup.text.normalise.paragraphs` of ``text`` (markup and
    controls removed, NFKC), but with superscript, subscript and fraction
    characters as written. NFKC turns "10²" into "102": a pair differing
    there would be reported identical, and the report would quote the
    original as saying "102". They go through as private-use characters
    absent from ``text``, which the cleaning leaves alone, and come back."""
    if text.isascii():
        return paragraphs(text)
    kept = sorted(ch for ch in set(text) if _as_written(ch))
    if not kept:
        return paragraphs(text)
    free = (chr(c) for c in range(0xE000, 0xF900) if chr(c) not in text)
    hide = {ord(ch): sub for ch, sub in zip(kept, free, strict=False)}  # free outlasts kept
    back = {ord(sub): ch for ch, sub in zip(kept, hide.values(), strict=True)}
    return [p.translate(back) for p in paragraphs(text.translate(hide))]


def parse_side(text: str, *, stem_length: int = 5, as_body: frozenset[int] = frozenset()) -> Side:
    """Cut ``text`` into paragraphs: kind, leading dateline, identity key
    (:func:`exact_key`); the paragraphs numbered in ``as_body`` are body text
    whatever they look like (see :func:`dedup.diff.align.diff_articles`)."""
    paras: list[Paragraph] = []
    keys: list[str] = []
    for i, p in enumerate(diff_paragraphs(text)):
        kind = BODY if i in as_body else classify_paragraph(p).value
        dateline = split_dateline(p)[0] if kind == BODY else None
        paras.append(Paragraph(i, p, kind, dateline))
        keys.append(exact_key(p))
    return Side(paras=paras, para_key=keys, stem_length=stem_length)


# Where a sentence may end inside what the splitter kept as one: sentence
# punctuation (and closing quotes) before a space and what may begin a sentence,
# as :func:`dedup.text.normalise.split_sentences` reads it ("the U.S. Officials",
# "Dr. Smith", "J. K. Rowling"): inside one of its sentences, only the places
# it passed over because of an abbreviation or an initial.
_STOP_RE = re.compile(r"[.!?]+[\"')\]\u201d\u2019]*(?=\s+[\"'(\[\u201c\u2018]*[A-Z0-9\u00c0-\u024f\u0400-\u04ff])")


@dataclass
class _Edges:
    """The sentences at the paragraph boundaries of one side: keys of the first
    and last sentences of its paragraphs, and the texts on either side of each
    boundary between two of them that follow each other."""

    firsts: set[str] = field(default_factory=set)
    lasts: set[str] = field(default_factory=set)
    around: list[tuple[str, str]] = field(default_factory=list)
    first_words: set[str] = field(default_factory=set)
    last_words: set[str] = field(default_factory=set)

    def ending_with(self) -> dict[str, list[int]]:
        """Boundaries of :attr:`around` by the last word before them."""
        out: dict[str, list[int]] = {}
        for j, (x, _) in enumerate(self.around):
            out.setdefault(x.rsplit(None, 1)[-1], []).append(j)
        return out


def add_breaks(a: Side, b: Side, paras_a: Sequence[int], paras_b: Sequence[int], *, threshold: float) -> None:
    """A paragraph boundary of the other version counts as a sentence boundary.

    The splitter reads on after an abbreviation or an initial ("sent by the
    U.S. Officials said..."), so when one version ends a paragraph right there
    and the other does not, the two halves were one sentence on one side and
    two on the other: text present on both sides would read as dropped and
    added instead of split or merged. So a sentence of ``paras_a`` (body
    paragraphs in order, not yet split) is cut after sentence punctuation
    where the text before the cut (from the sentence or the last cut) is the
    last sentence of a paragraph of ``paras_b``, or the text after it begins
    with the first sentence of one, word for word; failing that, where the
    two halves correspond (content cosine >= ``threshold``) to the sentences
    on either side of one boundary between paragraphs of ``paras_b``, the
    first of which ends with the same word (the abbreviation). The same for
    ``b``. Each piece keeps at least two words (see :attr:`Paragraph.breaks`)."""
    edges_a, edges_b = _edges(a, paras_a), _edges(b, paras_b)
    _add_breaks(a, paras_a, edges_b, threshold)
    _add_breaks(b, paras_b, edges_a, threshold)


def _edges(side: Side, paras: Sequence[int]) -> _Edges:
    out = _Edges()
    prev: Paragraph | None = None
    for i in paras:
        p = side.paras[i]
        if p.kind != BODY or not p.sentences:
            prev = None
            continue
        first, last = exact_key(p.sentences[0]), exact_key(p.sentences[-1])
        out.firsts.add(first)
        out.lasts.add(last)
        out.first_words.add(first.split(None, 1)[0])
        out.last_words.add(last.rsplit(None, 1)[-1])
        if prev is not None and prev.index + 1 == i:
            out.around.append((prev.sentences[-1], p.sentences[0]))
        prev = p
    return out


def _add_breaks(side: Side, paras: Sequence[int], edges: _Edges, threshold: float) -> None:
    breaks: dict[int, list[int]] = {}
    loose: list[tuple[int, int, str]] = []  # (paragraph, offset of the sentence, sentence) without exact cut
    for i in paras:
        p = side.paras[i]
        if p.kind != BODY or i in side.first or not any(_STOP_RE.search(s) for s in p.sentences):
            continue
        pos = len(p.dateline or "")
        for s in p.sentences:
            at = p.text.find(s, pos)
            at = pos if at < 0 else at
            pos = at + len(s)
            cuts = _cuts(s, edges)
            breaks.setdefault(i, []).extend(at + c for c in cuts)
            if not cuts and edges.around and _STOP_RE.search(s):
                loose.append((i, at, s))
    for i, offset in _similar_cuts(loose, edges, threshold, side.stem_length):
        breaks[i].append(offset)
    for i, offsets in breaks.items():
        if offsets:
            side.paras[i] = replace(side.paras[i], breaks=tuple(sorted(offsets)))


def _halves(sentence: str) -> list[int]:
    """Offsets after sentence punctuation inside ``sentence`` with two words or more on each side."""
    return [
        c
        for c in (m.end() for m in _STOP_RE.finditer(sentence))
        if len(sentence[:c].split()) >= 2 and len(sentence[c:].split()) >= 2
    ]


def _cuts(sentence: str, edges: _Edges) -> list[int]:
    """Offsets in ``sentence`` where the other version's paragraphs end or begin, word for word."""
    stops = _halves(sentence)
    ends = [*stops, len(sentence)]
    out: list[int] = []
    start = 0
    for k, c in enumerate(stops):
        head, tail = sentence[start:c], sentence[c:]
        if len(head.split()) < 2:
            continue
        if (head.rsplit(None, 1)[-1] in edges.last_words and exact_key(head) in edges.lasts) or (
            tail.split(None, 1)[0] in edges.first_words
            and any(exact_key(sentence[c:e]) in edges.firsts for e in ends[k + 1 :] if len(sentence[c:e].split()) >= 2)
        ):
            out.append(c)
            start = c
    return out


def _similar_cuts(
    loose: list[tuple[int, int, str]], edges: _Edges, threshold: float, stem_length: int
) -> list[tuple[int, int]]:
    """``(paragraph, offset)``: per sentence of ``loose``, the cut after the
    last word of a paragraph before a boundary of ``edges.around`` whose halves
    best correspond to the two sentences around it (cosine of content stems)."""
    if not loose:
        return []
    by_word = edges.ending_with()
    terms: dict[str, Counter[str]] = {}

    def bag(text: str) -> Counter[str]:
        got = terms.get(text)
        if got is None:
            got = terms[text] = Counter(content_terms(text, stem_length=stem_length))
        return got

    out: list[tuple[int, int]] = []
    for i, at, s in loose:
        best, cut = threshold, -1
        for c in _halves(s):
            for j in by_word.get(s[:c].rsplit(None, 1)[-1], ()):
                x, y = edges.around[j]
                score = min(_cosine(bag(s[:c]), bag(x)), _cosine(bag(s[c:]), bag(y)))
                if score >= best and (cut < 0 or score > best):
                    best, cut = score, c
        if cut >= 0:
            out.append((i, at + cut))
    return out


def _cosine(x: Counter[str], y: Counter[str]) -> float:
    """Cosine of two bags of terms."""
    dot = sum(v * y[k] for k, v in x.items() if k in y)
    if not dot:
        return 0.0
    return dot / math.sqrt(sum(v * v for v in x.values()) * sum(v * v for v in y.values()))
