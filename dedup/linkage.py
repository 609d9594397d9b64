"""Story graph to clusters: linkage, representatives, versions and copies.

:func:`cluster_articles` is the library's front door; :func:`link` turns
scored pairs into cluster labels with the chosen linkage, and
:func:`build_clusters` dresses the labels as :class:`~dedup.article.Cluster`
values. The index and the Spark path reuse both.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ._sysmem import collector_paused
from .article import Article, Cluster, PairScore, Version
from .params import Params
from .scoring import ScoredPairs

__all__ = [
    "link",
    "choose_representative",
    "build_clusters",
    "components",
    "joining_pairs",
]


def link(n: int, scored: ScoredPairs, params: Params, *, together: np.ndarray | None = None) -> np.ndarray:
    """Cluster label (a row index of the cluster's first member) for each row.

    A group of copies (joined by pairs whose shingle Jaccard reaches
    ``copy_threshold``) that was not scored pair by pair is one group before
    anything else (:func:`unscored_copies`), as the live index files a copy
    under its original's story; so are the pairs flagged in ``together``
    (the live index's re-clustering: the members of one version)."""
    score = scored.score
    forced = unscored_copies(n, scored, params)
    if together is not None:
        forced |= together
    strong = (score >= params.threshold) | forced
    comp = components(n, scored.pairs[strong])
    if params.linkage == "single":
        return _first_member_labels(comp)
    # Two groups can only merge if some pair between them reaches the
    # threshold (a mean or a minimum below it otherwise), so clusters lie
    # inside the components of the strong pairs: weaker pairs that cross
    # components cannot matter and are dropped before the agglomeration.
    inside = comp[scored.pairs[:, 0]] == comp[scored.pairs[:, 1]]
    return _agglomerate(n, scored.pairs[inside], score[inside], params.threshold, params.linkage, copies=forced[inside])


def unscored_copies(n: int, scored: ScoredPairs, params: Params) -> np.ndarray:
    """The copy pairs (Jaccard >= ``copy_threshold``) of the groups of copies
    in which some pair was never scored.

    Why: a story syndicated many times over fills LSH buckets past
    ``max_bucket_size``, where each copy is paired with its
    ``bucket_neighbours`` nearest only; average linkage counts the unscored
    pairs 0 and split it (101 copies of one wire story gave 5 stories, 1,000
    gave 60). A group scored pair by pair (two copies, or a few) is left to
    the linkage, which weighs it with its neighbours as any other."""
    copies = scored.jaccard >= params.copy_threshold
    if not copies.any():
        return copies
    pairs = scored.pairs[copies]
    comp = components(n, pairs)
    members = np.bincount(comp, minlength=n)
    scored_pairs = np.bincount(comp[pairs[:, 0]], minlength=n)
    incomplete = scored_pairs < members * (members - 1) // 2
    out = np.zeros(len(copies), dtype=bool)
    out[np.flatnonzero(copies)] = incomplete[comp[pairs[:, 0]]]
    return out


def joining_pairs(n: int, scored: ScoredPairs, params: Params) -> np.ndarray:
    """The scored pairs that join two articles for :func:`link`: a story
    score at or above the threshold, or a copy pair merged first
    (:func:`unscored_copies`).

    Why: a cluster's scores and versions are read from these, so they show
    every pair that put a member in its story -- copies joined below the
    threshold too, which were otherwise listed without a score and each as
    a version of its own."""
    return (scored.score >= params.threshold) | unscored_copies(n, scored, params)


def components(n: int, pairs: np.ndarray) -> np.ndarray:
    """A label per row, equal for rows joined through ``pairs`` (connected
    components; only which rows share a label means anything). A small
    graph -- a live index's neighbourhood -- by union-find in Python, where
    scipy's checks and conversions cost more than the work; a large one by
    scipy's ``connected_components``."""
    if n > 2000:
        graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
        return connected_components(graph, directed=False)[1]
    roots = _roots(range(n), pairs.tolist())
    return np.fromiter((roots[x] for x in range(n)), dtype=np.int64, count=n)


def _roots(items: Iterable[int], pairs: Iterable[Sequence[int]]) -> dict[int, int]:
    """Union-find: each item's group named by its smallest member."""
    parent = {x: x for x in items}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j in pairs:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    return {x: find(x) for x in parent}


def _first_member_labels(labels: np.ndarray) -> np.ndarray:
    """Relabel so each cluster is named by its smallest row index."""
    first: dict[int, int] = {}
    out = np.empty(len(labels), dtype=np.int64)
    for i, lab in enumerate(labels.tolist()):
        out[i] = first.setdefault(lab, i)
    return out


def _agglomerate(
    n: int, pairs: np.ndarray, sims: np.ndarray, threshold: float, linkage: str, *, copies: np.ndarray | None = None
) -> np.ndarray:
    """Agglomerative clustering over a sparse similarity graph.

    Pairs that were never scored count as similarity 0. ``"average"`` merges
    the two groups with the highest mean pairwise similarity while it is at
    least ``threshold``; ``"complete"`` merges only groups all of whose pairs
    are scored at least ``threshold``. The pairs flagged in ``copies`` are
    merged first, whatever the mean (their groups' edges summed as in any
    merge). Ties go to the smaller row indices, so the result depends only
    on the (canonically ordered) input.
    """
    groups = _Groups(n, pairs, sims, threshold, linkage)
    if copies is not None:
        for i, j in pairs[copies].tolist():
            a, b = groups.root(i), groups.root(j)
            if a != b:
                groups.merge(a, b)
    heap = groups.edges()
    heapq.heapify(heap)
    while heap:
        _, _, _, a, b = heapq.heappop(heap)
        if groups.edges_of[a] is None or groups.edges_of[b] is None:
            continue  # one side was merged since this entry was pushed
        for entry in groups.merge(a, b):
            heapq.heappush(heap, entry)
    return _leaf_roots(n, groups.parent, groups.name)


class _Groups:
    """The groups of an agglomeration: a merge tree (``parent``, ``name``:
    smallest row of each group, ``size``) and each live group's edges to the
    others, ``edges_of[c][d] = [sum of similarities, scored pairs, minimum]``
    (None once merged)."""

    def __init__(self, n: int, pairs: np.ndarray, sims: np.ndarray, threshold: float, linkage: str):
        self.edges_of: list[dict[int, list[float]] | None] = [{} for _ in range(n)]
        for (i, j), s in zip(pairs.tolist(), sims.tolist(), strict=True):
            if s > 0:
                self.edges_of[i][j] = [s, 1, s]  # type: ignore[index]
                self.edges_of[j][i] = [s, 1, s]  # type: ignore[index]
        self.size = [1] * n
        self.parent = list(range(n))
        self.name = list(range(n))
        self.threshold, self.linkage = threshold, linkage

    def score(self, e: list[float], na: int, nb: int) -> float:
        if self.linkage == "average":
            return e[0] / (na * nb)
        return e[2] if e[1] == na * nb else -1.0

    def root(self, i: int) -> int:
        while self.parent[i] != i:
            i = self.parent[i]
        return i

    def merge(self, a: int, b: int) -> list[tuple]:
        """Join groups ``a`` and ``b`` into a new one; the heap entries of its
        edges that reach the threshold."""
        na, nb = self.edges_of[a], self.edges_of[b]
        c = len(self.size)
        self.size.append(self.size[a] + self.size[b])
        self.parent.append(c)
        self.parent[a] = self.parent[b] = c
        self.name.append(min(self.name[a], self.name[b]))
        merged = _merge_edges(na or {}, b, nb or {}, a)
        self.edges_of[a] = self.edges_of[b] = None
        self.edges_of.append(merged)
        out = []
        for x, e in merged.items():
            nx = self.edges_of[x]
            nx.pop(a, None)  # type: ignore[union-attr]
            nx.pop(b, None)  # type: ignore[union-attr]
            nx[c] = e  # type: ignore[index]
            s = self.score(e, self.size[c], self.size[x])
            if s >= self.threshold:
                lo, hi = sorted((self.name[c], self.name[x]))
                out.append((-s, lo, hi, c, x))
        return out

    def edges(self) -> list[tuple]:
        """Heap entries of every edge between live groups that reaches the threshold."""
        out = []
        for c, es in enumerate(self.edges_of):
            for x, e in (es or {}).items():
                if c < x and (s := self.score(e, self.size[c], self.size[x])) >= self.threshold:
                    lo, hi = sorted((self.name[c], self.name[x]))
                    out.append((-s, lo, hi, c, x))
        return out


def _merge_edges(na: dict[int, list[float]], b: int, nb: dict[int, list[float]], a: int) -> dict[int, list[float]]:
    """The edges of the union of groups a and b (``na``, ``nb``: their
    edges): per neighbour, summed similarities, summed pair counts and the
    minimum; the a-b edge itself left out."""
    merged: dict[int, list[float]] = {}
    for src, other in ((na, b), (nb, a)):
        for x, e in src.items():
            if x == other:
                continue
            m = merged.get(x)
            if m is None:
                merged[x] = list(e)
            else:
                m[0] += e[0]
                m[1] += e[1]
                m[2] = min(m[2], e[2])
    return merged


def _leaf_roots(n: int, parent: list[int], name: list[int]) -> np.ndarray:
    """Each leaf resolved to its root group's smallest member."""
    roots = np.empty(n, dtype=np.int64)
    for i in range(n):
        r = i
        while parent[r] != r:
            r = parent[r]
        roots[i] = name[r]
    return roots


def choose_representative(members: Sequence[int], articles: Sequence[Article], centrality: dict[int, float]) -> int:
    """The earliest published member; without times, the most central one
    (highest summed similarity to the others); then the first in canonical order."""
    dated = [i for i in members if articles[i].timestamp is not None]
    if dated:
        return min(dated, key=lambda i: (articles[i].timestamp, i))
    return min(members, key=lambda i: (-centrality.get(i, 0.0), i))


def build_clusters(
    articles: Sequence[Article],
    labels: np.ndarray,
    scored: ScoredPairs,
    params: Params,
    *,
    empty: np.ndarray | None = None,
) -> list[Cluster]:
    """:class:`Cluster` values from labels: representative, scores, versions."""
    with collector_paused():  # an object or more per article, no cycle among them
        return _build_clusters(articles, labels, scored, params, empty)


def _build_clusters(
    articles: Sequence[Article], labels: np.ndarray, scored: ScoredPairs, params: Params, empty: np.ndarray | None
) -> list[Cluster]:
    groups: dict[int, list[int]] = {}
    for i, lab in enumerate(labels.tolist()):
        groups.setdefault(lab, []).append(i)
    same = labels[scored.pairs[:, 0]] == labels[scored.pairs[:, 1]] if len(scored) else np.zeros(0, bool)
    confirmed = same & joining_pairs(len(articles), scored, params)
    by_cluster: dict[int, list[int]] = {}
    for k in np.flatnonzero(confirmed).tolist():
        by_cluster.setdefault(int(labels[scored.pairs[k, 0]]), []).append(k)

    clusters = []
    for lab, members in groups.items():
        if len(members) > 1:
            clusters.append(_cluster(members, by_cluster.get(lab, []), articles, scored, params))
            continue
        # one article (most clusters of a large batch): no pair, one version; "empty" when it had no words
        a = articles[members[0]]
        flags = frozenset({"empty"}) if empty is not None and empty[members[0]] else frozenset()
        clusters.append(Cluster(id=a.id, representative=a, members=(a,), versions=(Version(a),), flags=flags))
    clusters.sort(key=lambda c: (-len(c.members), c.id))
    return clusters


def _cluster(
    members: list[int], ks: list[int], articles: Sequence[Article], scored: ScoredPairs, params: Params
) -> Cluster:
    """The cluster of several ``members`` with its confirmed pairs ``ks``
    (rows of ``scored``): scores, representative, versions of copies."""
    centrality: dict[int, float] = {}
    copy_edges: list[tuple[int, int]] = []
    scores = []
    for k in ks:
        i, j = scored.pairs[k].tolist()
        cos, jac, sc = float(scored.cosine[k]), float(scored.jaccard[k]), float(scored.score[k])
        centrality[i] = centrality.get(i, 0.0) + sc
        centrality[j] = centrality.get(j, 0.0) + sc
        a, b = sorted((articles[i].id, articles[j].id))
        scores.append(PairScore(a=a, b=b, cosine=cos, jaccard=jac, score=sc))
        if jac >= params.copy_threshold:
            copy_edges.append((i, j))
    rep = choose_representative(members, articles, centrality)
    versions = _versions(members, copy_edges, articles, centrality)
    versions.sort(key=lambda v: (v[0] != rep, _order_key(articles[v[0]], v[0])))
    ordered = [rep] + sorted((m for m in members if m != rep), key=lambda m: _order_key(articles[m], m))
    return Cluster(
        id=articles[rep].id,
        representative=articles[rep],
        members=tuple(articles[m] for m in ordered),
        scores=tuple(sorted(scores, key=lambda s: (s.a, s.b))),
        versions=tuple(
            Version(representative=articles[v[0]], copies=tuple(articles[m] for m in v[1:])) for v in versions
        ),
    )


def _order_key(article: Article, row: int) -> tuple[float, int]:
    ts = article.timestamp
    return (float("inf") if ts is None else ts, row)


def _versions(
    members: list[int], copy_edges: list[tuple[int, int]], articles: Sequence[Article], centrality: dict[int, float]
) -> list[list[int]]:
    """Group members joined by copy edges; each group as [representative, *copies]."""
    roots = _roots(members, copy_edges)
    groups: dict[int, list[int]] = {}
    for m in members:
        groups.setdefault(roots[m], []).append(m)
    out = []
    for g in groups.values():
        rep = choose_representative(g, articles, centrality)
        out.append([rep] + sorted((m for m in g if m != rep), key=lambda m: _order_key(articles[m], m)))
    return out
