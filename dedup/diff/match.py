"""Which paragraphs and sentences of two documents correspond.

Three passes, each on what the previous left over, so that an exact answer is
never overridden by a guess:

1. identical paragraphs (the same text, whitespace aside:
   :func:`~dedup.diff.parse.exact_key`) are paired, in order where they
   are in order (difflib's matching blocks over the paragraph keys), then the
   remaining ones with the same text in reading order;
2. verbatim sentences of the other paragraphs are paired with their twins the
   same way;
3. the sentences still unpaired are paired by content-stem TF-IDF cosine
   (>= ``threshold``) with a maximum-weight one-to-one assignment
   (``scipy.optimize.linear_sum_assignment``, per connected component of the
   candidate graph). A sentence whose twin exists is never in this pool, so a
   dropped sentence cannot be glued onto a similar sentence that is still
   there word for word;
4. sentences still unpaired between the same two paired neighbours are
   paired in order by word-sequence ratio (:func:`pair_in_gaps`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from difflib import SequenceMatcher

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from .features import cosine_pairs
from .parse import Side

__all__ = ["assign", "pair_equal", "pair_in_gaps", "pair_similar"]

# Largest component (rows x columns) solved exactly; beyond it, greedy by weight.
_MAX_DENSE = 4_000_000
# Largest gap (original x rewrite sentences) aligned by word-sequence ratio.
_MAX_GAP = 400
# Below this many cells the whole problem is one dense assignment (no component split).
_SMALL = 40_000


def pair_equal(keys_a: Sequence[str], keys_b: Sequence[str]) -> list[tuple[int, int]]:
    """Pairs of positions with equal keys, each position used once: every key
    gets ``min(count in a, count in b)`` pairs, in order where possible."""
    common = set(keys_a).intersection(keys_b)
    if not common:
        return []
    ia = [i for i, k in enumerate(keys_a) if k in common]
    ib = [j for j, k in enumerate(keys_b) if k in common]
    ka = [keys_a[i] for i in ia]
    kb = [keys_b[j] for j in ib]
    pairs: list[tuple[int, int]] = []
    used_a: set[int] = set()
    used_b: set[int] = set()
    for blk in SequenceMatcher(None, ka, kb, autojunk=False).get_matching_blocks():
        for k in range(blk.size):
            pairs.append((ia[blk.a + k], ib[blk.b + k]))
            used_a.add(blk.a + k)
            used_b.add(blk.b + k)
    left: dict[str, list[int]] = defaultdict(list)
    for n in range(len(kb) - 1, -1, -1):
        if n not in used_b:
            left[kb[n]].append(ib[n])
    for n, k in enumerate(ka):
        if n not in used_a and left.get(k):
            pairs.append((ia[n], left[k].pop()))
    return sorted(pairs)


def pair_similar(
    a: Side, b: Side, sa: Sequence[int], sb: Sequence[int], *, threshold: float
) -> list[tuple[int, int, float]]:
    """Maximum-weight one-to-one pairs ``(sentence of a, sentence of b, cosine)``
    among flat sentences ``sa`` and ``sb`` with cosine >= ``threshold``."""
    if not sa or not sb:
        return []
    rows, cols, vals = cosine_pairs([a.terms(s) for s in sa], [b.terms(s) for s in sb], threshold)
    if not len(vals):
        return []
    chosen = assign(rows, cols, np.minimum(vals, 0.9999), len(sa), len(sb))
    return [(sa[i], sb[j], float(v)) for i, j, v in chosen]


def assign(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n_a: int, n_b: int) -> list[tuple[int, int, float]]:
    """Maximum-weight one-to-one matching over a sparse bipartite graph given as
    ``(rows, cols, vals)`` (rows < ``n_a``, cols < ``n_b``, vals > 0), per connected component."""
    if not len(rows):
        return []
    # imported here: scipy.optimize takes 0.15 s to import, and a process that never diffs never needs it
    from scipy.optimize import linear_sum_assignment

    if n_a * n_b <= _SMALL:
        w = np.zeros((n_a, n_b))
        w[rows, cols] = vals
        x, y = linear_sum_assignment(w, maximize=True)
        return [(int(i), int(j), float(w[i, j])) for i, j in zip(x, y, strict=True) if w[i, j] > 0]
    graph = sp.coo_matrix((np.ones(len(rows)), (rows, cols + n_a)), shape=(n_a + n_b, n_a + n_b))
    _, label = connected_components(graph, directed=False)
    comp = label[rows]
    order = np.argsort(comp, kind="stable")
    bounds = np.flatnonzero(np.diff(comp[order])) + 1
    out: list[tuple[int, int, float]] = []
    for part in np.split(order, bounds):
        r, c, v = rows[part], cols[part], vals[part]
        ur, ri = np.unique(r, return_inverse=True)
        uc, ci = np.unique(c, return_inverse=True)
        if len(part) == 1:
            out.append((int(r[0]), int(c[0]), float(v[0])))
        elif len(ur) * len(uc) <= _MAX_DENSE:
            w = np.zeros((len(ur), len(uc)))
            w[ri, ci] = v
            x, y = linear_sum_assignment(w, maximize=True)
            out.extend((int(ur[i]), int(uc[j]), float(w[i, j])) for i, j in zip(x, y, strict=True) if w[i, j] > 0)
        else:
            out.extend(_greedy(r, c, v))
    return out


def _greedy(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray) -> list[tuple[int, int, float]]:
    used_r: set[int] = set()
    used_c: set[int] = set()
    out: list[tuple[int, int, float]] = []
    for k in np.lexsort((cols, rows, -vals)):
        i, j = int(rows[k]), int(cols[k])
        if i not in used_r and j not in used_c:
            used_r.add(i)
            used_c.add(j)
            out.append((i, j, float(vals[k])))
    return out


def pair_in_gaps(a: Side, b: Side, o2r: dict[int, int], *, min_ratio: float = 0.5) -> list[tuple[int, int, float]]:
    """Unpaired sentences between the same two paired neighbours: the DP over
    the order that difflib does, for what content words missed (a short quote
    with two of its three content words changed shares mostly short words).

    For each run of unpaired original sentences of a paragraph, the rewrite
    sentences between the partners of the run's paired neighbours are its
    candidates; pairs are kept when the word-sequence ratio is >= ``min_ratio``,
    in order (longest common subsequence of the ratio-matched pairs)."""
    taken = set(o2r.values())
    out: list[tuple[int, int, float]] = []
    for o in a.first:
        xs = list(a.sentences_of(o))
        k = 0
        while k < len(xs):
            if xs[k] in o2r:
                k += 1
                continue
            end = k
            while end < len(xs) and xs[end] not in o2r:
                end += 1
            ys = _gap(b, o2r.get(xs[k - 1]) if k else None, o2r.get(xs[end]) if end < len(xs) else None)
            got = _order_pairs(a, b, xs[k:end], [y for y in ys if y not in taken], min_ratio)
            taken.update(y for _, y, _ in got)  # gaps of merged paragraphs overlap: a sentence pairs once
            out += got
            k = end
    return out


def _gap(b: Side, before: int | None, after: int | None) -> range:
    """Flat rewrite sentences after ``before``'s partner and before ``after``'s,
    within the paragraph of the one given when only one is."""
    if before is None and after is None:
        return range(0)
    if before is None:
        start = b.first[b.sent_para[after]]  # type: ignore[index]
        return range(start, after)  # type: ignore[arg-type]
    if after is None:
        p = b.sent_para[before]
        return range(before + 1, b.first[p] + b.count[p])
    return range(before + 1, after) if after > before else range(0)


def _order_pairs(
    a: Side, b: Side, xs: Sequence[int], ys: Sequence[int], min_ratio: float
) -> list[tuple[int, int, float]]:
    if not xs or not ys or len(xs) * len(ys) > _MAX_GAP:
        return []
    ratio = {
        (x, y): SequenceMatcher(None, a.sent_key[x].split(), b.sent_key[y].split(), autojunk=False).ratio()
        for x in xs
        for y in ys
    }
    # longest chain of in-order pairs, heaviest first: a small DP over the gap
    best: dict[tuple[int, int], tuple[float, list[tuple[int, int, float]]]] = {}
    for i in range(len(xs) - 1, -1, -1):
        for j in range(len(ys) - 1, -1, -1):
            skip = max(best.get((i + 1, j), (0.0, []))[0], best.get((i, j + 1), (0.0, []))[0])
            r = ratio[(xs[i], ys[j])]
            take = (r + best.get((i + 1, j + 1), (0.0, []))[0]) if r >= min_ratio else -1.0
            if take > skip:
                best[(i, j)] = (take, [(xs[i], ys[j], r)] + best.get((i + 1, j + 1), (0.0, []))[1])
            else:
                best[(i, j)] = max(best.get((i + 1, j), (0.0, [])), best.get((i, j + 1), (0.0, [])), key=lambda v: v[0])
    return best[(0, 0)][1]
