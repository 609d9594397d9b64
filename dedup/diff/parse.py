"""One side of a diff as flat lists: paragraphs, their kind, and body sentences.

Why flat lists and lazy work: a 2,000-paragraph pair must stay within a few
times difflib, and most paragraphs of a real rewrite are carried over
unchanged. So :func:`parse_side` only cuts paragraphs, tells their kind and
keys each once (its identity: :func:`exact_key`); sentences are split and keyed only for
the paragraphs that have no identical twin on the other side
(:meth:`Side.split`), and the costlier parts -- content terms for similarity,
word tokens with offsets for word diffs -- only for the sentences that need
them (:meth:`Side.terms`, :meth:`Side.tokens`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from dedup.text.normalise import ParagraphKind, classify_paragraph, paragraphs, split_dateline

from .features import content_terms
from .model import Paragraph
from .words import Words, word_tokens

__all__ = ["BODY", "Side", "exact_key", "parse_side"]

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


def parse_side(text: str, *, stem_length: int = 5, as_body: frozenset[int] = frozenset()) -> Side:
    """Cut ``text`` into paragraphs: kind, leading dateline, identity key
    (:func:`exact_key`); the paragraphs numbered in ``as_body`` are body text
    whatever they look like (see :func:`dedup.diff.align.diff_articles`)."""
    paras: list[Paragraph] = []
    keys: list[str] = []
    for i, p in enumerate(paragraphs(text)):
        kind = BODY if i in as_body else classify_paragraph(p).value
        dateline = split_dateline(p)[0] if kind == BODY else None
        paras.append(Paragraph(i, p, kind, dateline))
        keys.append(exact_key(p))
    return Side(paras=paras, para_key=keys, stem_length=stem_length)
