"""Where a new article belongs: its candidates, their scores, and the greedy
decision (copy, rewrite of the best story, or a new story) that
:mod:`dedup.live.recluster` then revisits.

Candidates come from the two LSH views (with the batch's bucket cap), minus
pairs further apart than ``time_window``, minus the term-view pairs that
agree in fewer than ``min_bands`` bands, minus those the batch's partner
rule drops.

The partner rule (``max_partners`` = K, :func:`dedup.sketch.lsh.top_partner_pairs`)
keeps a term-view pair when it is among the K best partners of *either*
article (ranked by bands in common, then nearness in row order, then row),
or when the two agree in ``KEEP_BANDS`` bands; shingle-view pairs are kept
whatever their rank. The older article's ranking depends on articles not yet
arrived, so the rule is applied from both sides with what is known now:
each live article keeps its *partner list* (``Entry.partners``: the K best of
the term-view partners offered to it so far, partner seq -> bands in common,
in seq order as the batch's rows), kept by the batch's own compiled
ranking (:func:`dedup.live.bands.partner_lists`). An add offers every
term-view candidate to the new article's list and the new article to every
candidate's list, as the batch offers a proposed pair to both its rows; the
pair is scored when the candidate is in the new list, or the new article
entered the candidate's list, or they agree in ``KEEP_BANDS`` bands, or the
shingle view proposed it. Lists only get better as articles arrive, so a
pair the batch keeps among the articles seen so far is never dropped
(applying the rule from the new side alone dropped such pairs: ECB+ shuffled
ARI 0.973 against 0.982), and a pair dropped now the batch drops too (given
the same row order and candidates); a pair scored now that a later article
pushes out of both lists is dropped by re-clustering, which reads the stored
lists (:func:`dedup.live.bands.colliding`). Fed in time order with buckets
uncapped, the lists are the batch's (the batch's rows are in canonical
order -- publication time, then text digest -- so for undated articles, or
articles fed out of order, a tie at the K-th place may fall differently:
ECB+, undated, agrees with the batch at ARI 0.9888 in file order and
0.9940-0.9948 shuffled; 0.9917 and 0.9946-0.9978 with ``min_bands=1``). An article leaving the live set loses
its list but keeps its place in the lists of others (so does a removed one:
lists are not refilled); an article without a list (loaded from a file
written before the lists were kept) keeps every pair from its side.
``query`` ranks the article just after its newest candidate and stores nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..features import weights as verify
from ..params import Params
from ..sketch import lsh as cand
from ..sketch.minhash import EMPTY, estimate_jaccard, signatures
from .bands import lsh_bands, partner_lists
from .records import Entry, Match, PartnerLists, Partners, Prepared, Profiles
from .scoring import Scorer
from .state import IndexState

__all__ = ["Decision", "PartnerPlan", "decide", "candidates", "plan_partners", "term_signature"]


@dataclass
class Decision:
    """A match with what an add stores beside it: the article's term
    signature, its neighbour profile (``top``, ``rev``), the other profiles it
    changes, and its best story score to each candidate story."""

    match: Match
    term_sig: np.ndarray
    top: dict[int, float] = field(default_factory=dict)
    rev: dict[int, float] = field(default_factory=dict)
    changed: Profiles = field(default_factory=dict)
    best: dict[str, float] = field(default_factory=dict)
    partners: Partners | None = None
    partner_changes: PartnerLists = field(default_factory=dict)


@dataclass
class PartnerPlan:
    """The partner rule at an add: which candidates are scored (``keep``), the
    new article's partner list (``own``; None where the rule cannot drop a
    pair: :func:`dedup.sketch.lsh.ranks_partners`) and the lists of older
    articles it enters (``changed``)."""

    keep: np.ndarray
    own: Partners | None = None
    changed: PartnerLists = field(default_factory=dict)


def _new(prep: Prepared, term_sig: np.ndarray, **kw: object) -> Decision:
    a = prep.article
    assert a is not None
    return Decision(Match(id=a.id, story=a.id, version=a.id, kind="new"), term_sig, **kw)  # type: ignore[arg-type]


def _with_first(n: int) -> np.ndarray:
    """The pairs ``(0, k)`` for ``k = 1..n``: row 0 (the new article) with each candidate."""
    pairs = np.zeros((n, 2), dtype=np.int64)
    pairs[:, 1] = np.arange(1, n + 1)
    return pairs


def term_signature(scorer: Scorer, pc: np.ndarray, pw: np.ndarray, pptr: np.ndarray) -> np.ndarray:
    """The top-terms signature of one weighed row (:func:`dedup.features.weights.weigh`'s)."""
    p = scorer.params
    # the terms top_terms picks in the one-row matrix, without building it (as scipy would: int32 columns)
    terms, offsets = verify.top_term_sets(pptr, pc.astype(np.int32), pw, p.n_terms)
    return signatures(terms, offsets, num_perm=p.num_perm, seed=p.random_state)[0]


def candidates(
    state: IndexState, params: Params, prep: Prepared, term_sig: np.ndarray, seq: int | None
) -> tuple[list[Entry], np.ndarray, np.ndarray]:
    """The live indexed articles sharing a band with this one in either view,
    within the time window, by seq; and which of them the term view and the
    shingle view proposed (bool arrays)."""
    t_seqs, s_seqs = state.lsh_query(term_sig, prep.shingle_sig)
    found = state.get_seqs(np.union1d(t_seqs, s_seqs).tolist() if len(s_seqs) else t_seqs.tolist())
    entries = [e for e in found if e is not None and e.live and e.seq != seq]
    window = None if params.time_window is None else params.time_window.total_seconds()
    if window is not None and not math.isnan(prep.ts):
        entries = [e for e in entries if math.isnan(e.ts) or abs(e.ts - prep.ts) <= window]
    by_term, by_shingle = set(t_seqs.tolist()), set(s_seqs.tolist())
    return (
        entries,
        np.array([e.seq in by_term for e in entries], dtype=bool),
        np.array([e.seq in by_shingle for e in entries], dtype=bool),
    )


def plan_partners(
    params: Params, me: int, term_sig: np.ndarray, entries: list[Entry], by_term: np.ndarray, by_shingle: np.ndarray
) -> PartnerPlan:
    """The partner rule for a new article at seq ``me`` and its candidates
    (see the module docstring); nothing is changed in place."""
    k = params.max_partners
    ranked = cand.ranks_partners(params)
    if not ranked and params.min_bands <= 1:
        return PartnerPlan(np.ones(len(entries), dtype=bool))
    offered = [e for e, t in zip(entries, by_term.tolist(), strict=True) if t]
    (bands, rows), _ = lsh_bands(params)
    sigs = np.array([term_sig] + [e.term_sig for e in offered])  # np.stack, without its checks
    pairs = _with_first(len(offered))
    common = cand.bands_in_common(sigs, pairs, bands, rows).tolist()
    # pairs agreeing in fewer than min_bands bands are never offered (the batch's rule)
    enough = [c >= params.min_bands for c in common]
    offered = [e for e, ok in zip(offered, enough, strict=True) if ok]
    common = [c for c, ok in zip(common, enough, strict=True) if ok]
    if not ranked:  # no list could drop a pair: none is kept
        kept_seqs = {e.seq for e in offered}
        return PartnerPlan(by_shingle | np.array([e.seq in kept_seqs for e in entries], dtype=bool))
    assert k is not None
    known = [(e, c) for e, c in zip(offered, common, strict=True) if e.partners is not None]
    lists = partner_lists(
        k,
        [me] + [e.seq for e, _ in known],
        [{}] + [e.partners or {} for e, _ in known],
        [(0, e.seq, c) for e, c in zip(offered, common, strict=True)]
        + [(r, me, c) for r, (e, c) in enumerate(known, start=1)],
    )
    own = lists[0]
    changed = {e.seq: held for (e, _), held in zip(known, lists[1:], strict=True) if me in held}
    kept = {
        e.seq
        for e, c in zip(offered, common, strict=True)
        if c >= cand.KEEP_BANDS or e.seq in own or e.seq in changed or e.partners is None
    }
    keep = by_shingle | np.array([e.seq in kept for e in entries], dtype=bool)
    return PartnerPlan(keep, own, changed)


def decide(state: IndexState, scorer: Scorer, prep: Prepared, seq: int | None) -> Decision:
    """The match of a prepared article against the current state (with its
    own document frequencies counted), and what an add stores beside it
    (nothing is written here: ``query`` uses it too)."""
    p = scorer.params
    n_docs = state.get_n_docs() + 1
    if prep.empty:
        return _new(prep, np.full(p.num_perm, EMPTY, np.uint32))
    pc, pw, pptr = scorer.weights([prep], state.df_of, n_docs, own_cols=prep.df_cols)  # the article's own row
    term_sig = term_signature(scorer, pc, pw, pptr)
    entries, by_term, by_shingle = candidates(state, p, prep, term_sig, seq)
    # the partner rule ranks in seq order; a query comes just after its newest candidate
    pos = seq if seq is not None else max((e.seq for e in entries), default=-1) + 1
    plan = plan_partners(p, pos, term_sig, entries, by_term, by_shingle)
    entries = [e for e, k in zip(entries, plan.keep.tolist(), strict=True) if k]
    kept = {"partners": plan.own, "partner_changes": plan.changed}
    if not entries:
        return _new(prep, term_sig, **kept)
    # candidates' weights under the same (current) document frequencies
    cos, shared = state.candidate_products(pc, pw, entries, n_docs, prep.df_cols)
    jac = estimate_jaccard(np.array([e.shingle_sig for e in entries]), prep.shingle_sig[None, :])
    s1 = scorer.short_scaled(
        cos,
        np.full(len(entries), prep.n_terms, dtype=np.float64),
        np.array([e.n_terms for e in entries], dtype=np.float64),
        shared,
    )
    me = -1 if seq is None else seq
    top, rev, changed = scorer.plan_profiles(me, entries, s1, state.get_seqs, prep.n_terms)
    profiles = [(me, top, rev)] + [(e.seq, *changed.get(e.seq, (e.top, e.rev))) for e in entries]
    pairs = _with_first(len(entries))
    score = scorer.blend(s1, profiles, pairs)
    d = Decision(_new(prep, term_sig).match, term_sig, top, rev, changed, **kept)  # type: ignore[arg-type]
    d.match = _choose(state, p, d.match, entries, cos, jac, score, d.best)
    return d


def _choose(
    state: IndexState,
    p: Params,
    new: Match,
    entries: list[Entry],
    cos: np.ndarray,
    jac: np.ndarray,
    score: np.ndarray,
    best: dict[str, float],
) -> Match:
    """Copy of the best-Jaccard candidate, else rewrite of the story with the
    best mean score over all its members (average linkage), else ``new``;
    fills ``best`` (story -> best score of the article to a member)."""
    best_copy = max(range(len(entries)), key=lambda k: (jac[k], cos[k], -entries[k].seq))
    if jac[best_copy] >= p.copy_threshold:
        e = entries[best_copy]
        for k, e2 in enumerate(entries):
            best[e2.story] = max(best.get(e2.story, 0.0), float(score[k]))
        return Match(
            id=new.id,
            story=e.story,
            version=e.version,
            kind="copy",
            matched=e.id,
            cosine=float(cos[best_copy]),
            jaccard=float(jac[best_copy]),
            score=float(jac[best_copy]),
        )
    sums: dict[str, float] = {}
    first_seq: dict[str, int] = {}
    best_member: dict[str, int] = {}
    for k, e in enumerate(entries):
        if score[k] <= 0:
            continue
        sums[e.story] = sums.get(e.story, 0.0) + score[k]
        best[e.story] = max(best.get(e.story, 0.0), float(score[k]))
        first_seq[e.story] = min(first_seq.get(e.story, e.seq), e.seq)
        b = best_member.get(e.story)
        if b is None or (score[k], -e.seq) > (score[b], -entries[b].seq):
            best_member[e.story] = k
    best_story, best_score = None, -1.0
    order = sorted(sums, key=lambda s: first_seq[s])
    for s, size in zip(order, state.story_sizes(order), strict=True):
        mean = sums[s] / max(1, size)
        if mean > best_score:
            best_story, best_score = s, mean
    if best_story is not None and best_score >= p.threshold:
        k = best_member[best_story]
        return Match(
            id=new.id,
            story=best_story,
            version=new.id,
            kind="rewrite",
            matched=entries[k].id,
            cosine=float(cos[k]),
            jaccard=float(jac[k]),
            score=float(best_score),
        )
    return new
