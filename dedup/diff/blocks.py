"""Paragraph blocks from sentence correspondences: every paragraph of both
sides lands in exactly one block.

The formulation: a block is a 1:1 pair, a split (one original paragraph
over adjacent rewrite paragraphs), a merge (the converse), or a lone added /
dropped paragraph. The link weight ``W[o, r]`` is the number of words in
sentences of ``o`` and ``r`` that correspond, times their similarity. The
blocks are chosen to cover as much link weight as possible:

1. 1:1 pairs: maximum-weight assignment over ``W``;
2. a split or merge replaces the pairs it overlaps when it covers more weight
   than they did (its gain), each part holding at least ``min_share`` of the
   "one" side's words; the best gains are taken first, without overlap;
3. the paragraphs the splits and merges did not take are assigned again;
   paragraphs still without partner pair up by whole-paragraph cosine
   (>= ``paragraph_threshold``) when no sentence carried over;
4. headers, datelines and credit lines pair only with their own kind;
5. moves: blocks off the longest increasing run of rewrite positions taken in
   original order.

Identical paragraphs are paired before any of this (:mod:`dedup.diff.match`).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate

import numpy as np

from dedup.text.normalise import fold, tokenize

from .features import cosine_pairs
from .match import assign
from .parse import BODY, Side

__all__ = ["Part", "consecutive_runs", "partition", "longest_run", "order_parts"]

Links = dict[tuple[int, int], float]


@dataclass(frozen=True)
class Part:
    """A block before its spans are made: ``kind`` is ``identical``, ``pair``,
    ``split``, ``merged``, ``added`` or ``dropped``."""

    kind: str
    original: tuple[int, ...]
    rewrite: tuple[int, ...]
    role: str = BODY
    moved: bool = False


def partition(
    a: Side,
    b: Side,
    identical: Sequence[tuple[int, int]],
    links: Iterable[tuple[int, int, float]],
    *,
    min_share: float,
    paragraph_threshold: float,
) -> list[Part]:
    """Blocks covering every paragraph of ``a`` and ``b`` once (see the module doc)."""
    parts = [Part("identical", (o,), (r,), a.paras[o].kind) for o, r in identical]
    taken_o = {o for o, _ in identical}
    taken_r = {r for _, r in identical}
    free_o = [o for o in a.body if o not in taken_o]
    free_r = [r for r in b.body if r not in taken_r]
    weight: Links = defaultdict(float)
    for x, y, sim in links:
        weight[(a.sent_para[x], b.sent_para[y])] += sim * (a.words(x) + b.words(y)) / 2
    size_o = {o: sum(a.words(s) for s in a.sentences_of(o)) for o in free_o}
    size_r = {r: sum(b.words(s) for s in b.sentences_of(r)) for r in free_r}
    pair_o = _pairs(weight, free_o, free_r)
    groups = _groups(weight, pair_o, size_o, size_r, a.body, b.body, min_share)
    for kind, os_, rs_ in groups:
        parts.append(Part(kind, os_, rs_))
        taken_o.update(os_)
        taken_r.update(rs_)
    free_o = [o for o in free_o if o not in taken_o]
    free_r = [r for r in free_r if r not in taken_r]
    pair_o = _pairs(weight, free_o, free_r)
    pair_o.update(
        _pairs_by_cosine(
            a,
            b,
            [o for o in free_o if o not in pair_o],
            [r for r in free_r if r not in pair_o.values()],
            paragraph_threshold,
        )
    )
    pair_o.update(_pair_furniture(a, b, taken_o, taken_r))
    for o, r in pair_o.items():
        parts.append(Part("pair", (o,), (r,), a.paras[o].kind))
        taken_o.add(o)
        taken_r.add(r)
    parts += [Part("dropped", (p.index,), (), p.kind) for p in a.paras if p.index not in taken_o]
    parts += [Part("added", (), (p.index,), p.kind) for p in b.paras if p.index not in taken_r]
    return _mark_moves(parts)


def _pairs(weight: Links, free_o: Sequence[int], free_r: Sequence[int]) -> dict[int, int]:
    """Maximum-weight 1:1 assignment among the free paragraphs."""
    io = {o: i for i, o in enumerate(free_o)}
    ir = {r: j for j, r in enumerate(free_r)}
    edges = [(io[o], ir[r], w) for (o, r), w in weight.items() if o in io and r in ir and w > 0]
    if not edges:
        return {}
    rows, cols, vals = (np.array(x) for x in zip(*edges, strict=True))
    return {free_o[i]: free_r[j] for i, j, _ in assign(rows, cols, vals, len(free_o), len(free_r))}


def _groups(
    weight: Links,
    pair_o: dict[int, int],
    size_o: dict[int, int],
    size_r: dict[int, int],
    body_o: list[int],
    body_r: list[int],
    min_share: float,
) -> list[tuple[str, tuple[int, ...], tuple[int, ...]]]:
    """Splits and merges whose gain over the 1:1 pairs is positive, best first, disjoint."""
    pair_r = {r: o for o, r in pair_o.items()}
    flipped: Links = {(r, o): w for (o, r), w in weight.items()}
    cands = [
        (g, "split", p, run)
        for g, p, run in _group_candidates(weight, pair_o, pair_r, size_o, size_r, body_r, min_share)
    ]
    cands += [
        (g, "merged", p, run)
        for g, p, run in _group_candidates(flipped, pair_r, pair_o, size_r, size_o, body_o, min_share)
    ]
    cands.sort(key=lambda c: (-c[0], c[1], c[2], c[3]))
    used_o: set[int] = set()
    used_r: set[int] = set()
    out: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = []
    for gain, kind, p, run in cands:
        os_, rs_ = ((p,), run) if kind == "split" else (run, (p,))
        if gain <= 0 or used_o.intersection(os_) or used_r.intersection(rs_):
            continue
        used_o.update(os_)
        used_r.update(rs_)
        out.append((kind, os_, rs_))
    return out


def _group_candidates(
    weight: Links,
    pair_one: dict[int, int],
    pair_many: dict[int, int],
    size_one: dict[int, int],
    size_many: dict[int, int],
    order_many: list[int],
    min_share: float,
) -> list[tuple[float, int, tuple[int, ...]]]:
    """``(gain, p, run)``: paragraph ``p`` of the "one" side spread over the
    adjacent paragraphs ``run`` of the other side. A part qualifies when it
    holds ``min_share`` of ``p``'s words, or when most of its own words are
    ``p``'s (a short paragraph merged into a long one)."""
    by_one: dict[int, dict[int, float]] = defaultdict(dict)
    for (p, q), w in weight.items():
        if p in size_one:
            by_one[p][q] = w
    pos = {q: k for k, q in enumerate(order_many)}
    out: list[tuple[float, int, tuple[int, ...]]] = []
    for p, targets in by_one.items():
        keep = sorted(
            pos[q]
            for q, w in targets.items()
            if q in pos and (w >= min_share * size_one[p] or w >= 0.5 * size_many.get(q, 0) > 0)
        )
        for run in (r for r in consecutive_runs(keep) if len(r) >= 2):
            qs = [order_many[k] for k in run]
            for i in range(len(qs) - 1):
                for j in range(i + 2, len(qs) + 1):
                    sub = tuple(qs[i:j])
                    lost = weight.get((p, pair_one[p]), 0.0) if p in pair_one else 0.0
                    lost += sum(weight.get((pair_many[q], q), 0.0) for q in sub if q in pair_many and pair_many[q] != p)
                    out.append((sum(targets[q] for q in sub) - lost, p, sub))
    return out


def consecutive_runs(values: Iterable[int]) -> list[list[int]]:
    """``[1, 2, 3, 7, 9, 10]`` -> ``[[1, 2, 3], [7], [9, 10]]``: maximal runs of consecutive integers, in order."""
    runs: list[list[int]] = []
    for k in values:
        if runs and k == runs[-1][-1] + 1:
            runs[-1].append(k)
        else:
            runs.append([k])
    return runs


def _pairs_by_cosine(a: Side, b: Side, rest_o: list[int], rest_r: list[int], threshold: float) -> dict[int, int]:
    """Pairs of paragraphs without any corresponding sentence, by whole-paragraph cosine."""
    if not rest_o or not rest_r:
        return {}
    terms = [
        [t for s in side.sentences_of(p) for t in side.terms(s)] for side, ps in ((a, rest_o), (b, rest_r)) for p in ps
    ]
    rows, cols, vals = cosine_pairs(terms[: len(rest_o)], terms[len(rest_o) :], threshold)
    chosen = assign(rows, cols, vals, len(rest_o), len(rest_r))
    return {rest_o[i]: rest_r[j] for i, j, _ in chosen}


def jaccard(x: str, y: str) -> float:
    """Word-set Jaccard of two texts (folded)."""
    tx, ty = set(tokenize(fold(x))), set(tokenize(fold(y)))
    return len(tx & ty) / len(tx | ty) if tx or ty else 1.0


def _pair_furniture(a: Side, b: Side, taken_o: set[int], taken_r: set[int]) -> dict[int, int]:
    """Headers, datelines and credits: pair within their kind when their words overlap >= 0.5."""
    by_kind: dict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    for si, side, taken in ((0, a, taken_o), (1, b, taken_r)):
        for p in side.paras:
            if p.kind != BODY and p.index not in taken:
                by_kind[p.kind][si].append(p.index)
    out: dict[int, int] = {}
    for os_, rs_ in by_kind.values():
        if not os_ or not rs_ or len(os_) * len(rs_) > 40_000:
            continue
        scored = sorted((-jaccard(a.paras[o].text, b.paras[r].text), o, r) for o in os_ for r in rs_)
        used: set[int] = set()
        for neg, o, r in scored:
            if -neg < 0.5:
                break
            if o not in out and r not in used:
                out[o] = r
                used.add(r)
    return out


def longest_run(seq: Sequence[int]) -> set[int]:
    """Positions of a longest strictly increasing subsequence of ``seq``."""
    tails: list[int] = []
    tail_pos: list[int] = []
    prev = [-1] * len(seq)
    for i, v in enumerate(seq):
        j = bisect_left(tails, v)
        if j == len(tails):
            tails.append(v)
            tail_pos.append(i)
        else:
            tails[j] = v
            tail_pos[j] = i
        prev[i] = tail_pos[j - 1] if j > 0 else -1
    keep: set[int] = set()
    i = tail_pos[-1] if tail_pos else -1
    while i >= 0:
        keep.add(i)
        i = prev[i]
    return keep


def _mark_moves(parts: list[Part]) -> list[Part]:
    anchored = sorted((min(p.original), min(p.rewrite), k) for k, p in enumerate(parts) if p.original and p.rewrite)
    keep = longest_run([r for _, r, _ in anchored])
    out = list(parts)
    for pos, (_, _, k) in enumerate(anchored):
        if pos not in keep:
            p = out[k]
            out[k] = Part(p.kind, p.original, p.rewrite, p.role, moved=True)
    return out


def order_parts(parts: Sequence[Part]) -> list[Part]:
    """Display order: the rewrite's; a dropped paragraph goes right after the
    block holding the nearest preceding original paragraph."""
    key_of_o: dict[int, tuple[int, int, int]] = {}
    keyed: list[tuple[tuple[int, int, int], Part]] = []
    for p in parts:
        if p.rewrite:
            key = (min(p.rewrite), 0, min(p.original) if p.original else -1)
            keyed.append((key, p))
            for o in p.original:
                key_of_o[o] = key
    placed = sorted(key_of_o.items())
    known = [o for o, _ in placed]
    running = list(accumulate((key for _, key in placed), max))
    for p in sorted((p for p in parts if not p.rewrite), key=lambda p: p.original[0]):
        o = p.original[0]
        k = bisect_left(known, o)
        base = running[k - 1] if k else (-1, 0, -1)
        keyed.append(((base[0], 1, o), p))
    keyed.sort(key=lambda kv: kv[0])
    return [p for _, p in keyed]
