"""One side of a diff as flat lists: paragraphs, their kind, and body sentences.

Why flat lists and lazy work: a 2,000-paragraph pair must stay within a few
times difflib, and most paragraphs of a real rewrite are carried over
unchanged. So a paragraph is folded once (its identity key), sentences are
split and folded once (their identity keys), and the costlier parts --
content terms for similarity, word tokens with offsets for word diffs -- are
made only for the sentences that need them (:meth:`Side.terms`,
:meth:`Side.tokens`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dedup.normalize import ParagraphKind, classify_paragraph, fold, paragraphs, split_dateline, split_sentences, tokenize

from .features import content_terms
from .model import Paragraph
from .words import Token, word_tokens

__all__ = ["BODY", "Side", "parse_side"]

BODY = ParagraphKind.BODY.value


@dataclass
class Side:
    """Paragraphs of one document and its body sentences, numbered in reading order.

    ``first[p]``/``count[p]``: the flat sentence range of paragraph ``p``
    (empty for headers, datelines and credits). ``sent_*`` are per flat sentence.
    """

    paras: list[Paragraph]
    para_key: list[str]
    first: list[int]
    count: list[int]
    sent_para: list[int] = field(default_factory=list)
    sent_idx: list[int] = field(default_factory=list)
    sent_start: list[int] = field(default_factory=list)
    sent_text: list[str] = field(default_factory=list)
    sent_key: list[str] = field(default_factory=list)
    stem_length: int = 5
    _terms: dict[int, list[str]] = field(default_factory=dict)
    _tokens: dict[int, list[Token]] = field(default_factory=dict)

    @property
    def body(self) -> list[int]:
        """Indices of the body paragraphs."""
        return [p.index for p in self.paras if p.kind == BODY]

    def sentences_of(self, para: int) -> range:
        return range(self.first[para], self.first[para] + self.count[para])

    def terms(self, s: int) -> list[str]:
        """Content stems of flat sentence ``s`` (cached)."""
        t = self._terms.get(s)
        if t is None:
            t = self._terms[s] = content_terms(self.sent_text[s], stem_length=self.stem_length)
        return t

    def tokens(self, s: int) -> list[Token]:
        """Word tokens of flat sentence ``s`` with offsets in its paragraph (cached)."""
        t = self._tokens.get(s)
        if t is None:
            t = self._tokens[s] = word_tokens(self.sent_text[s], self.sent_para[s], self.sent_start[s])
        return t

    def words(self, s: int) -> int:
        """Number of word tokens (letters or digits) of flat sentence ``s``."""
        return len(tokenize(self.sent_key[s]))


def parse_side(text: str, *, stem_length: int = 5) -> Side:
    """Split ``text`` into paragraphs (kind, leading dateline) and body sentences."""
    paras: list[Paragraph] = []
    side = Side(paras=paras, para_key=[], first=[], count=[], stem_length=stem_length)
    for i, p in enumerate(paragraphs(text)):
        kind = classify_paragraph(p).value
        side.para_key.append(fold(p))
        side.first.append(len(side.sent_text))
        if kind != BODY:
            side.count.append(0)
            paras.append(Paragraph(i, p, kind, None, (p,)))
            continue
        dateline, rest = split_dateline(p)
        pos = len(p) - len(rest)
        pieces = split_sentences(rest)
        for j, s in enumerate(pieces):
            at = p.find(s, pos)
            at = pos if at < 0 else at  # split_sentences only strips, so find() succeeds
            side.sent_para.append(i)
            side.sent_idx.append(j)
            side.sent_start.append(at)
            side.sent_text.append(s)
            side.sent_key.append(fold(s))
            pos = at + len(s)
        side.count.append(len(pieces))
        paras.append(Paragraph(i, p, kind, dateline, tuple(pieces)))
    return side
