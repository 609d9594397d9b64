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

from .blocks import Part, order_parts, partition
from .build import Builder, Matches
from .match import pair_equal, pair_in_gaps, pair_similar
from .model import Alignment
from .parse import Side, add_breaks, parse_side

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
    thresholds = (float(sentence_threshold), float(paragraph_threshold), float(min_share))
    sa, sb, parts, matches = _aligned(a.text, b.text, thresholds, stem_length)
    builder = Builder(sa, sb, matches, max_tokens=max_word_tokens)
    blocks = [builder.block(p) for p in order_parts(parts)]
    ids = {"original_id": a.id, "rewrite_id": b.id, "original_title": a.title, "rewrite_title": b.title}
    sides = {"original": tuple(sa.paras), "rewrite": tuple(sb.paras)}
    return Alignment(**ids, **sides, blocks=tuple(blocks), summary=builder.summary(blocks), parameters=params)


_DEMOTABLE = ("header", "credit")


def _aligned(
    original: str, rewrite: str, thresholds: tuple[float, float, float], stem_length: int
) -> tuple[Side, Side, list[Part], Matches]:
    """Both sides parsed and aligned. Headers and credit lines are told by
    their look (a short line without a full stop; "By ..."), which a short body
    paragraph can have too ("Who will replace her?"); such a paragraph left
    without a partner of its kind is aligned again as body text, and stays
    body text when that gives it a partner: text present on both sides is
    never reported as dropped and added because one side looked like a header."""
    demoted = (frozenset[int](), frozenset[int]())
    sa, sb, parts, matches = _align_once(original, rewrite, thresholds, stem_length, demoted)
    stray = _stray(parts, sa, sb)
    while any(stray):
        demoted = (demoted[0] | stray[0], demoted[1] | stray[1])
        ta, tb, tparts, tmatches = _align_once(original, rewrite, thresholds, stem_length, demoted)
        alone = _alone(tparts, stray)
        if alone == stray:  # none of them found a partner as body text either
            break
        demoted = (demoted[0] - alone[0], demoted[1] - alone[1])
        if not alone[0] and not alone[1]:
            return ta, tb, tparts, tmatches
        sa, sb, parts, matches = _align_once(original, rewrite, thresholds, stem_length, demoted)
        stray = (frozenset[int](), frozenset[int]())
    return sa, sb, parts, matches


def _align_once(
    original: str,
    rewrite: str,
    thresholds: tuple[float, float, float],
    stem_length: int,
    as_body: tuple[frozenset[int], frozenset[int]],
) -> tuple[Side, Side, list[Part], Matches]:
    sentence_threshold, paragraph_threshold, min_share = thresholds
    sa = parse_side(original, stem_length=stem_length, as_body=as_body[0])
    sb = parse_side(rewrite, stem_length=stem_length, as_body=as_body[1])
    identical, matches = correspond(sa, sb, sentence_threshold=sentence_threshold)
    links = ((x, y, sim) for x, (y, sim) in matches.o2r.items())
    parts = partition(sa, sb, identical, links, min_share=min_share, paragraph_threshold=paragraph_threshold)
    return sa, sb, parts, matches


def _stray(parts: list[Part], a: Side, b: Side) -> tuple[frozenset[int], frozenset[int]]:
    """Headers and credit lines of each side that were left dropped or added."""
    return (
        frozenset(p.original[0] for p in parts if p.kind == "dropped" and a.paras[p.original[0]].kind in _DEMOTABLE),
        frozenset(p.rewrite[0] for p in parts if p.kind == "added" and b.paras[p.rewrite[0]].kind in _DEMOTABLE),
    )


def _alone(parts: list[Part], among: tuple[frozenset[int], frozenset[int]]) -> tuple[frozenset[int], frozenset[int]]:
    """The paragraphs of ``among`` that are still dropped or added in ``parts``."""
    dropped = {p.original[0] for p in parts if p.kind == "dropped"}
    added = {p.rewrite[0] for p in parts if p.kind == "added"}
    return among[0] & dropped, among[1] & added


def correspond(a: Side, b: Side, *, sentence_threshold: float) -> tuple[list[tuple[int, int]], Matches]:
    """Identical paragraph pairs, and the sentence correspondences of the other
    paragraphs (see :mod:`dedup.diff.match`); those get split into sentences
    here, a paragraph boundary of the other side counting as a sentence
    boundary (:func:`~dedup.diff.parse.add_breaks`)."""
    identical = pair_equal(a.para_key, b.para_key)
    taken_o = {o for o, _ in identical}
    taken_r = {r for _, r in identical}
    free_a = [p for p in a.body if p not in taken_o]
    free_b = [p for p in b.body if p not in taken_r]
    add_breaks(a, b, free_a, free_b, threshold=sentence_threshold)
    a.split(free_a)
    b.split(free_b)
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
