"""Pair scoring: TF-IDF cosine of candidate pairs, shared terms, the short-text
rule and the shared-neighbour blend that make the story score.

No n x n matrix is ever formed: only candidate pairs are scored. The batch,
the live index and Spark all score with these functions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from ._kernels import symmetric_profiles, top_neighbours, top_partners
from ._sysmem import MappedRows, release_freed_memory
from .arrays import csr_of, normalize_rows, row_blocks
from .features.weights import Features
from .params import Params
from .sketch.minhash import pair_jaccard

__all__ = [
    "pair_cosine",
    "shared_terms",
    "neighbour_similarity",
    "story_similarity",
    "blend_neighbourhood",
    "profile_size",
    "profile_sizes",
    "ScoredPairs",
    "score_pairs",
    "pair_blocks",
    "story_scores",
]


def pair_cosine(x: sp.csr_matrix, pairs: np.ndarray, max_nnz: int = 4_000_000) -> np.ndarray:
    """Cosine of each row pair ``(i, j)`` of L2-normalised ``x``, in chunks of
    about ``max_nnz`` stored values so memory stays bounded.

    Rows with sorted, duplicate-free columns (as :func:`tfidf` makes them)
    go through a compiled kernel (:func:`dedup._kernels.pair_dot`, in two
    threads for many pairs): each first row laid out once as a bitmap of its
    columns, the second row's entries tested against it. It adds the
    products in the same order as the scipy expression below and so gives
    the same values, bit for bit, without copying any row."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if len(pairs) and x.has_canonical_format and x.dtype in (np.float32, np.float64):
        from ._kernels import pair_dot
        from .arrays import run_split

        indptr, indices, width = x.indptr.astype(np.int64, copy=False), x.indices, x.shape[1]

        def dots(p: np.ndarray) -> np.ndarray:
            return pair_dot(indptr, indices, x.data, p, np.argsort(p[:, 0], kind="stable"), width)

        return np.clip(run_split(dots, np.ascontiguousarray(pairs)).astype(np.float64), 0.0, 1.0)
    out = np.empty(len(pairs), dtype=np.float64)
    row_nnz = np.diff(x.indptr)
    lo = 0
    while lo < len(pairs):
        cost = np.cumsum(row_nnz[pairs[lo : lo + 1_000_000, 0]] + row_nnz[pairs[lo : lo + 1_000_000, 1]])
        hi = lo + max(1, int(np.searchsorted(cost, max_nnz)))
        p = pairs[lo:hi]
        out[lo:hi] = np.asarray(x[p[:, 0]].multiply(x[p[:, 1]]).sum(axis=1)).ravel()
        lo = hi
    return np.clip(out, 0.0, 1.0)


def shared_terms(x: sp.csr_matrix, pairs: np.ndarray, max_rows: int = 1 << 16) -> np.ndarray:
    """How many columns (terms) each row pair ``(i, j)`` of ``x`` has in common."""
    out = np.zeros(len(pairs), dtype=np.int64)
    for lo in range(0, len(pairs), max_rows):
        p = pairs[lo : lo + max_rows]
        out[lo : lo + len(p)] = x[p[:, 0]].multiply(x[p[:, 1]]).getnnz(axis=1)
    return out


def neighbour_similarity(pairs: np.ndarray, sims: np.ndarray, n: int, k: int | np.ndarray) -> np.ndarray:
    """Second-order similarity of each scored pair: the cosine of the two
    articles' neighbour profiles (shared-nearest-neighbour similarity).

    Each article's profile is its similarity to itself (1) and to its ``k``
    most similar scored partners (``k`` one size, or one per row: see
    :func:`profile_sizes`); a profile row is L2-normalised and a pair's score
    is the dot product of the two rows. Two reports of one story tend to have
    the same nearest neighbours (the other reports of that story); an article
    about another story of the same kind shares vocabulary with them but not
    their neighbourhood. Only scored pairs are read and scored, so no n x n
    matrix is formed.
    """

    if len(pairs) == 0:
        return np.zeros(0, dtype=np.float64)
    rows, cols, vals = _top_lists(np.ascontiguousarray(pairs, dtype=np.int64), np.ascontiguousarray(sims), n, k)
    # symmetric profiles: j is in i's profile when either is in the other's top k
    indptr, indices, data = symmetric_profiles(rows, cols, vals, n)
    del rows, cols, vals
    small = np.int32 if n < np.iinfo(np.int32).max else np.int64
    w = csr_of(data, indices.astype(small), indptr.astype(small), (n, n))
    return pair_cosine(normalize_rows(w), pairs)


def _top_lists(
    pairs: np.ndarray, sims: np.ndarray, n: int, k: int | np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(row, partner, similarity)`` of each row's top-``k`` list (compiled:
    O(n * k) memory, not O(pairs)). Rows with a larger size than the
    smallest get their lists from a second pass over their own pairs only, so
    a few headlines in a large batch cost memory for themselves alone."""
    sizes = np.full(n, int(k), dtype=np.int64) if np.ndim(k) == 0 else np.asarray(k, dtype=np.int64)
    small = int(sizes.min()) if n else 0
    best_v, best_c, fill = top_neighbours(pairs, sims, int(n), small)
    top = np.arange(best_v.shape[1]) < fill[:, None]
    big = np.flatnonzero(sizes > small)
    top[big] = False
    rows = np.repeat(np.arange(n, dtype=np.int64), top.sum(axis=1))
    cols, vals = best_c[top], best_v[top]
    if len(big) == 0:
        return rows, cols, vals
    # the larger rows: every pair offered to its endpoint(s) among them, rows renumbered 0..len(big)-1
    slot = np.full(n, -1, dtype=np.int64)
    slot[big] = np.arange(len(big))
    a, b = slot[pairs[:, 0]] >= 0, slot[pairs[:, 1]] >= 0
    x = np.concatenate([slot[pairs[a, 0]], slot[pairs[b, 1]]])
    y = np.concatenate([pairs[a, 1], pairs[b, 0]])
    v = np.concatenate([sims[a], sims[b]])
    # a row's list is the first k by (-similarity, partner): a strict order, whatever the offers' order
    bv, bc, bf = top_partners(x, y, v, len(big), int(sizes[big].max()), False)
    btop = np.arange(bv.shape[1]) < np.minimum(bf, sizes[big])[:, None]
    rows = np.concatenate([rows, np.repeat(big, btop.sum(axis=1))])
    return rows, np.concatenate([cols, bc[btop]]), np.concatenate([vals, bv[btop]])


def profile_size(n_terms: int, neighbourhood: int, headline_terms: int, headline_neighbourhood: int) -> int:
    """One article's :func:`profile_sizes` (the live index asks per article)."""
    if headline_terms and headline_neighbourhood and n_terms < headline_terms:
        return headline_neighbourhood
    return neighbourhood


def profile_sizes(
    n_terms: np.ndarray, neighbourhood: int, headline_terms: int, headline_neighbourhood: int
) -> np.ndarray:
    """Each article's neighbour-profile size: ``headline_neighbourhood`` for
    an article with fewer than ``headline_terms`` distinct terms (a headline,
    an alert), else ``neighbourhood`` (``Params``)."""
    t = np.asarray(n_terms)
    if not headline_terms or not headline_neighbourhood:  # as profile_size, for arrays
        return np.full(len(t), neighbourhood, dtype=np.int64)
    return np.where(t < headline_terms, headline_neighbourhood, neighbourhood).astype(np.int64)


def story_similarity(
    pairs: np.ndarray,
    cosine: np.ndarray,
    n_terms: np.ndarray,
    n: int,
    *,
    short_text_terms: int = 0,
    neighbourhood: int = 0,
    neighbourhood_weight: float = 0.5,
    shared: np.ndarray | None = None,
    min_shared: int = 2,
    headline_terms: int = 0,
    headline_neighbourhood: int = 0,
) -> np.ndarray:
    """The score that linkage compares with ``Params.threshold``.

    Two steps on the scored candidate pairs, each off when its parameter is 0:

    1. **Short texts** (``short_text_terms`` = L): a pair of articles with
       ``n_i`` and ``n_j`` distinct terms (unigrams and bigrams) has its cosine
       multiplied by ``max(1, L / sqrt(n_i * n_j))`` (capped at 1). Sharing a
       fixed number of distinctive words gives a cosine of about that number
       over ``sqrt(n_i * n_j)``, so two headlines that share a name and a verb
       score low although that is strong evidence; the factor puts short texts
       on the scale of long ones. Articles with at least L terms are
       unchanged, and so is a pair with fewer than ``min_shared`` terms in
       common (``shared``, from :func:`shared_terms`, needed only where the
       factor would apply): one shared word is not evidence, however short
       the texts.
    2. **Neighbourhood** (``neighbourhood`` = k, ``neighbourhood_weight`` = w):
       the score becomes ``(1 - w) * s + w * neighbour_similarity(s, k)``
       (see :func:`neighbour_similarity`): reports of one story share their
       nearest neighbours; another story of the same kind shares words, not
       neighbours. An article with fewer than ``headline_terms`` distinct
       terms keeps ``headline_neighbourhood`` partners in its profile
       (:func:`profile_sizes`): a headline's ranking of its partners is mostly
       ties of the capped short-text score, and a story told in dozens of
       headlines spreads each one's few nearest over many equals, so two
       headlines of one story share neighbours only in a larger profile.

    ``n_terms`` is per row (e.g. the number of stored values of each TF-IDF
    row); ``n`` the number of rows.
    """
    s = np.asarray(cosine, dtype=np.float64)
    if len(pairs) == 0:
        return s.copy()
    if short_text_terms:
        t = np.maximum(np.asarray(n_terms, dtype=np.float64), 1.0)
        factor = np.maximum(1.0, short_text_terms / np.sqrt(t[pairs[:, 0]] * t[pairs[:, 1]]))
        if shared is not None:
            factor[np.asarray(shared) < min_shared] = 1.0
        s = np.minimum(1.0, s * factor)
    if neighbourhood and neighbourhood_weight > 0:
        k = profile_sizes(n_terms, neighbourhood, headline_terms, headline_neighbourhood)
        return blend_neighbourhood(s, neighbour_similarity(pairs, s, n, k), neighbourhood_weight)
    return np.clip(s, 0.0, 1.0)


def blend_neighbourhood(s: np.ndarray, neighbour: np.ndarray, weight: float) -> np.ndarray:
    """Step 2 of :func:`story_similarity`: ``(1 - w) * s + w * neighbour``, in [0, 1]
    (one definition for the batch, the live index and Spark)."""
    return np.clip((1.0 - weight) * s + weight * neighbour, 0.0, 1.0)


@dataclass(frozen=True)
class ScoredPairs:
    """Candidate pairs with their TF-IDF cosine, estimated shingle Jaccard and
    (after :func:`story_scores`) the linkage score."""

    pairs: np.ndarray  # (m, 2) int64, i < j
    cosine: np.ndarray  # float64
    jaccard: np.ndarray  # float64
    similarity: np.ndarray | None = None  # float64: what linkage compares with the threshold
    shared: np.ndarray | None = None  # int64: terms in common, where a short-text pair needs it (else -1)

    def __len__(self) -> int:
        return len(self.pairs)

    @property
    def score(self) -> np.ndarray:
        """The linkage score: ``similarity`` when computed, else the cosine."""
        return self.cosine if self.similarity is None else self.similarity


def score_pairs(
    features: Features, pairs: np.ndarray, params: Params | None = None, *, jaccard: np.ndarray | None = None
) -> ScoredPairs:
    """Verify candidate pairs: cosine of TF-IDF rows, MinHash Jaccard of
    shingles (unless given as ``jaccard``), and (with ``params`` and its
    short-text rule on) the number of terms a pair of short texts has in
    common. Rows in a file (:attr:`Features.tfidf_file`) are read a few
    blocks at a time (:func:`pair_blocks`); the scores are the same."""

    cos = np.empty(len(pairs), dtype=np.float64)
    short, shared = np.zeros(0, dtype=bool), None
    if params is not None and params.short_text_terms:
        t = features.n_terms
        short = t[pairs[:, 0]] * t[pairs[:, 1]] < params.short_text_terms**2
        shared = np.full(len(pairs), -1, dtype=np.int64)
    rows = MappedRows(features.tfidf, []) if features.tfidf_file is None else features.tfidf_file.mapped()
    with rows:
        x = rows.matrix
        assert x is not None
        for piece in pair_blocks(features, pairs):
            p = features.tfidf_rows(pairs[piece])  # a copy when rows are mapped
            cos[piece] = pair_cosine(x, p)
            if shared is not None and short[piece].any():
                s = short[piece]
                shared[piece[s]] = shared_terms(x, p[s])
            del p
            rows.release()
    jac = pair_jaccard(features.shingle_signatures, pairs) if jaccard is None else jaccard
    release_freed_memory()
    return ScoredPairs(pairs=pairs, cosine=cos, jaccard=jac, shared=shared)


PAIR_BLOCK = 1 << 22
"""Pairs scored at a time (their row pairs are a copy when rows are mapped)."""

TILE_NNZ = 1 << 24
"""Stored values of a block of rows read from a file while its pairs are scored (128 MB)."""

TILE_BLOCKS = 4
"""Blocks of rows (:data:`TILE_NNZ` each) scored from at a time: at most about 512 MB of a file's rows resident."""


def pair_blocks(features: Features, pairs: np.ndarray) -> list[np.ndarray]:
    """The pairs' positions, cut into the blocks :func:`score_pairs` scores at a time.

    Rows in memory: runs of :data:`PAIR_BLOCK`. Rows in a file: the rows
    cut in blocks of :data:`TILE_NNZ` stored values, each pair goes with
    the two blocks of its rows; tiles sharing blocks come together, and a
    block of pairs ends when its tiles would span more than
    :data:`TILE_BLOCKS` blocks of rows -- the pages resident while it is
    scored."""
    if features.tfidf_file is None:
        return [np.arange(lo, min(lo + PAIR_BLOCK, len(pairs))) for lo in range(0, len(pairs), PAIR_BLOCK)]
    starts = np.array([lo for lo, _ in row_blocks(features.tfidf_file.indptr, TILE_NNZ)], dtype=np.int64)
    width = max(1, len(starts))
    key = np.empty(len(pairs), dtype=np.int64)
    for lo in range(0, len(pairs), PAIR_BLOCK):
        b = np.searchsorted(starts, features.tfidf_rows(pairs[lo : lo + PAIR_BLOCK]), side="right") - 1
        key[lo : lo + len(b)] = b.min(axis=1) * width + b.max(axis=1)
    order = np.argsort(key, kind="stable")
    tiles, first = np.unique(key[order], return_index=True)
    del key
    out, held, lo = [], set(), 0
    for t, at in zip(tiles.tolist(), first.tolist(), strict=True):
        blocks = {t // width, t % width}
        if len(held | blocks) > TILE_BLOCKS and at > lo:
            out.append(order[lo:at])
            held, lo = set(), at
        held |= blocks
    if lo < len(order):
        out.append(order[lo:])
    return out


def story_scores(scored: ScoredPairs, n_terms: np.ndarray, params: Params) -> ScoredPairs:
    """The linkage score of every scored pair (:func:`dedup.story_similarity`):
    the cosine on one scale for short texts, blended with the shared-neighbour
    similarity. ``n_terms`` is each row's number of distinct terms
    (:attr:`Features.n_terms`). Needs every scored pair of the rows at once:
    an article's neighbour profile is its top partners among them."""
    sim = story_similarity(
        scored.pairs,
        scored.cosine,
        n_terms,
        len(n_terms),
        short_text_terms=params.short_text_terms,
        neighbourhood=params.neighbourhood,
        neighbourhood_weight=params.neighbourhood_weight,
        shared=scored.shared,
        headline_terms=params.headline_terms,
        headline_neighbourhood=params.headline_neighbourhood,
    )
    release_freed_memory()
    return replace(scored, similarity=sim)
