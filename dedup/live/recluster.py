"""Local re-clustering after an add: the incremental form of average linkage.

Arrival order matters to a greedy rule, so after each add the article's
neighbourhood (its story and every story with a member within
``neighbourhood`` times the threshold of it) is clustered again with the
batch's own :func:`dedup.linkage.link` over the pairs the batch would score
(sharing an LSH band, within the time window, kept by the articles' stored
partner lists: :mod:`dedup.live.decide`), scored with
the story score: a later article can merge two stories it bridges, or move a
member to a story it fits better, as the batch would. Stories with members
that are no longer live, or neighbourhoods above ``max_local`` articles,
are left as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..arrays import upper_pairs
from ..linkage import link
from ..scoring import ScoredPairs
from ..sketch.minhash import estimate_jaccard
from ._kernels import row_gram
from .bands import colliding
from .records import Entry, Match
from .scoring import Scorer
from .state import IndexState

__all__ = ["Neighbourhood", "settle", "recluster", "story_matrix"]


@dataclass(frozen=True)
class Neighbourhood:
    """How far re-clustering reaches: stories with a member whose story score
    with the new article reaches ``share`` of the threshold, at most ``max_local`` articles."""

    share: float = (
        0.25  # 0.5 before: ECB+ agreement with the batch 0.9874 / 0.982 (file order / one shuffle) -> 0.9895 / 0.9831
    )
    max_local: int = 300


def story_matrix(state: IndexState, scorer: Scorer, members: Sequence[Entry]) -> tuple[np.ndarray, np.ndarray]:
    """TF-IDF cosines and story scores of every pair of live ``members``
    that the batch would score (0 elsewhere), under the current frequencies:
    the short-text factor, then the blend with the stored neighbour profiles
    -- the two steps of :func:`dedup.scoring.story_similarity`."""
    p = scorer.params
    n = len(members)
    cols, w, indptr = scorer.weights(members, state.df_of, state.get_n_docs())
    dots, shared = row_gram(cols, w, indptr)
    cos = np.clip(dots, 0.0, 1.0)
    mask = colliding(
        p,
        np.stack([e.term_sig for e in members]),
        np.stack([e.shingle_sig for e in members]),
        [e.seq for e in members],
        [e.partners for e in members],
    )
    if p.time_window is not None:
        t = np.array([e.ts for e in members])
        with np.errstate(invalid="ignore"):
            mask &= ~(np.abs(t[:, None] - t[None, :]) > p.time_window.total_seconds())
    iu, ju = np.nonzero(np.triu(mask, 1))
    nt = np.array([e.n_terms for e in members], dtype=np.float64)
    s1 = scorer.short_scaled(cos[iu, ju], nt[iu], nt[ju], shared[iu, ju])
    sc = scorer.blend(s1, [(e.seq, e.top, e.rev) for e in members], np.stack([iu, ju], axis=1).astype(np.int64))
    c_out = np.zeros((n, n))
    s_out = np.zeros((n, n))
    c_out[iu, ju] = c_out[ju, iu] = cos[iu, ju]
    s_out[iu, ju] = s_out[ju, iu] = sc
    return c_out, s_out


def settle(
    state: IndexState, scorer: Scorer, reach: Neighbourhood, match: Match, entry: Entry, best: dict[str, float]
) -> Match:
    """Re-cluster the neighbourhood of a just-added article, then describe where it ended up."""
    touched = [t for t, b in best.items() if b >= reach.share * scorer.params.threshold]
    before = dict(zip(touched, state.story_sizes(touched), strict=True))
    recluster(state, scorer, reach, entry, touched)
    now = state.get_seqs([entry.seq])[0]
    story = entry.story if now is None else now.story
    gone = [t for t in touched if t != story and t != match.story and before[t]]
    merged = tuple(t for t, n in zip(gone, state.story_sizes(gone), strict=True) if n == 0)
    if story == match.story and not merged:
        return match
    if match.kind == "copy":
        return replace(match, story=story, merged=merged)
    others = [e for e in state.story_members(story) if e.seq != entry.seq]
    if not others:
        return Match(id=entry.id, story=story, version=entry.version, kind="new")
    live = [e for e in others if e.live]
    if not live:
        return Match(
            id=entry.id, story=story, version=entry.version, kind="rewrite", matched=others[0].id, merged=merged
        )
    cos, score = story_matrix(state, scorer, [entry] + live)
    k = int(np.argmax(score[0, 1:]))
    best_e = live[k]
    jac = float(estimate_jaccard(best_e.shingle_sig, entry.shingle_sig))
    return Match(
        id=entry.id,
        story=story,
        version=entry.version,
        kind="rewrite",
        matched=best_e.id,
        cosine=float(cos[0, k + 1]),
        jaccard=jac,
        score=float(score[0, 1:].sum() / len(others)),
        merged=merged,
    )


def recluster(state: IndexState, scorer: Scorer, reach: Neighbourhood, entry: Entry, touched: Sequence[str]) -> None:
    """Average linkage again over the new article's neighbourhood (see the module docstring)."""
    stories = [entry.story] + [t for t in touched if t != entry.story]
    groups = {t: state.story_members(t) for t in stories}
    free = [t for t in stories if groups[t] and all(e.live for e in groups[t])]
    if entry.story not in free or len(free) == 1 and len(groups[entry.story]) <= 2:
        return
    members = sorted((e for t in free for e in groups[t]), key=lambda e: e.seq)
    if len(members) > reach.max_local:
        return
    cos, score = story_matrix(state, scorer, members)
    iu, ju = upper_pairs(len(members))
    # the members of a version (copies filed under its first article) stay
    # together: split, a version would span two stories
    version = np.array([e.version for e in members], dtype=object)
    same = version[iu] == version[ju]
    keep = (score[iu, ju] > 0) | same
    pairs = np.stack([iu[keep], ju[keep]], axis=1).astype(np.int64)
    scored = ScoredPairs(
        pairs=pairs, cosine=cos[iu, ju][keep], jaccard=np.zeros(len(pairs)), similarity=score[iu, ju][keep]
    )
    labels = link(len(members), scored, scorer.params, together=same[keep])
    changes = _renames(state, members, labels, {t: groups[t][0].seq for t in free})
    if changes:
        state.reassign(changes)


def _sizes_of(state: IndexState, stories: list[str]) -> dict[str, int]:
    """The sizes of ``stories`` (one round trip on a server)."""
    return dict(zip(stories, state.story_sizes(stories), strict=True))


def _renames(state: IndexState, members: list[Entry], labels: np.ndarray, first_of: dict[str, int]) -> dict[int, str]:
    """Name each new group -- an old story id whose first member it holds,
    else its first member's id -- and list the members whose story changes."""
    by_label: dict[int, list[Entry]] = {}
    for e, lab in zip(members, labels.tolist(), strict=False):
        by_label.setdefault(lab, []).append(e)
    changes: dict[int, str] = {}
    taken: set[str] = set()
    sizes: dict[str, int] | None = None  # of the stories a group's first member's id names, asked once
    for lab in sorted(by_label, key=lambda label: by_label[label][0].seq):
        group = by_label[lab]
        seqs = {e.seq for e in group}
        name = next((t for t in first_of if first_of[t] in seqs and t not in taken), None)
        if name is None:
            name = group[0].id
            if sizes is None and name not in taken and name not in first_of:
                sizes = _sizes_of(state, [g[0].id for g in by_label.values() if g[0].id not in first_of])
            if name in taken or (name not in first_of and sizes and sizes[name]):
                name = f"{group[0].id}~{group[0].seq}"
        taken.add(name)
        for e in group:
            if e.story != name:
                changes[e.seq] = name
    return changes
