"""Paragraph alignment of an original and its rewrite: :func:`diff_articles`.

The steps, each in its own module:

1. :mod:`~dedup.diff.parse`: paragraphs, their kind (body / header / dateline /
   credit), a leading dateline, body sentences;
2. :mod:`~dedup.diff.match`: identical paragraphs paired, then verbatim
   sentences with their twins, then the rest by content-stem cosine with a
   maximum-weight assignment;
3. :mod:`~dedup.diff.blocks`: the paragraph partition (pairs, splits, merges,
   added, dropped) covering the most corresponding words, and moves;
4. :mod:`~dedup.diff.build`: word diffs, marked spans, summary.

So a sentence present word for word on both sides is always matched to its
twin, every paragraph of both sides is in exactly one block, and a paragraph
present unchanged on both sides is always an identical pair.
"""

from __future__ import annotations

from typing import Any

from dedup.article import Article, coerce_article

from .blocks import order_parts, partition
from .build import Builder, Matches
from .match import pair_equal, pair_in_gaps, pair_similar
from .model import Alignment
from .parse import Side, parse_side

__all__ = ["diff_articles"]


def _check_float(name: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise ValueError(f"{name} must be a number in [{lo}, {hi}], got {value!r}")
    return float(value)


def _check_int(name: str, value: Any, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")
    return value


def _checked(
    sentence_threshold: Any, paragraph_threshold: Any, min_share: Any, stem_length: Any, max_word_tokens: Any
) -> tuple[tuple[str, Any], ...]:
    """The parameters, validated (a clear ``ValueError`` naming the first bad one)."""
    return (
        ("sentence_threshold", _check_float("sentence_threshold", sentence_threshold, 0.0, 1.0)),
        ("paragraph_threshold", _check_float("paragraph_threshold", paragraph_threshold, 0.0, 1.0)),
        ("min_share", _check_float("min_share", min_share, 0.0, 1.0)),
        ("stem_length", _check_int("stem_length", stem_length, 1)),
        ("max_word_tokens", _check_int("max_word_tokens", max_word_tokens, 1)),
    )


def diff_articles(
    original: str | Article | dict,
    rewrite: str | Article | dict,
    *,
    sentence_threshold: float = 0.25,
    paragraph_threshold: float = 0.35,
    min_share: float = 0.15,
    stem_length: int = 5,
    max_word_tokens: int = 5000,
) -> Alignment:
    """Align ``rewrite`` against ``original`` paragraph by paragraph.

    Parameters
    ----------
    original, rewrite:
        Text (``str``), :class:`dedup.article.Article`, or a dict with ``text``.
        The first is the original (left in reports), the second the rewrite.
    sentence_threshold:
        Minimum cosine (content-stem TF-IDF) for two sentences that are not
        word for word the same to correspond (default 0.25: on news rewrites
        true paraphrases score 0.3-0.9, sentences sharing only the topic below 0.2).
    paragraph_threshold:
        Minimum whole-paragraph cosine for a 1:1 pair of paragraphs with no
        corresponding sentence (default 0.35).
    min_share:
        Share of a paragraph's words each part of a split or merge must hold
        (default 0.15).
    stem_length:
        Content words are cut to this many characters (default 5).
    max_word_tokens:
        Longest sentence (in tokens) that gets a word diff; longer pairs are
        one change (default 5000).

    Returns
    -------
    Alignment
        Blocks (pairs, splits, merges, added, dropped), sentence diffs with
        word diffs, marked spans for renderers, and a summary.
    """
    a = coerce_article(original, "original")
    b = coerce_article(rewrite, "rewrite")
    params = _checked(sentence_threshold, paragraph_threshold, min_share, stem_length, max_word_tokens)
    sa, sb = parse_side(a.text, stem_length=stem_length), parse_side(b.text, stem_length=stem_length)
    identical, matches = correspond(sa, sb, sentence_threshold=float(sentence_threshold))
    parts = partition(
        sa,
        sb,
        identical,
        ((x, y, sim) for x, (y, sim) in matches.o2r.items()),
        min_share=float(min_share),
        paragraph_threshold=float(paragraph_threshold),
    )
    builder = Builder(sa, sb, matches, max_tokens=max_word_tokens)
    blocks = [builder.block(p) for p in order_parts(parts)]
    ids = {"original_id": a.id, "rewrite_id": b.id, "original_title": a.title, "rewrite_title": b.title}
    sides = {"original": tuple(sa.paras), "rewrite": tuple(sb.paras)}
    return Alignment(**ids, **sides, blocks=tuple(blocks), summary=builder.summary(blocks), parameters=params)


def correspond(a: Side, b: Side, *, sentence_threshold: float) -> tuple[list[tuple[int, int]], Matches]:
    """Identical paragraph pairs, and the sentence correspondences of the other
    paragraphs (see :mod:`dedup.diff.match`); those get split into sentences here."""
    identical = pair_equal(a.para_key, b.para_key)
    taken_o = {o for o, _ in identical}
    taken_r = {r for _, r in identical}
    a.split(p for p in a.body if p not in taken_o)
    b.split(p for p in b.body if p not in taken_r)
    matches = Matches()
    rest_a = list(range(len(a.sent_key)))
    rest_b = list(range(len(b.sent_key)))
    for i, j in pair_equal([a.sent_key[x] for x in rest_a], [b.sent_key[y] for y in rest_b]):
        matches.add(rest_a[i], rest_b[j], 1.0)
    rest_a = [x for x in rest_a if x not in matches.o2r]
    rest_b = [y for y in rest_b if y not in matches.r2o]
    for x, y, sim in pair_similar(a, b, rest_a, rest_b, threshold=sentence_threshold):
        matches.add(x, y, sim)
    for x, y, ratio in pair_in_gaps(a, b, {x: y for x, (y, _) in matches.o2r.items()}):
        matches.add(x, y, ratio)
    return identical, matches
