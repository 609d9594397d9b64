"""Paragraph alignment of an original and its rewrite: :func:`diff_articles`.

How (each step vectorised or bounded, so 2,000-paragraph documents stay fast):

1. Paragraphs, their kind (body / header / dateline / credit) and sentences
   come from :mod:`dedup.normalize`; a leading dateline is split off.
2. Body sentences and paragraphs get TF-IDF vectors over content stems
   (:mod:`dedup.diff.features`) fitted on the two documents: paraphrase-robust,
   no shared exact phrase needed.
3. Candidate paragraph pairs: the ``candidates`` most similar paragraphs of
   each paragraph (one sparse product). Sentence similarities are computed only
   inside candidate pairs.
4. Sentence links: each sentence's best counterpart with cosine >=
   ``sentence_threshold``; linked sentences form sentence groups (1:1, or
   1:N / N:1 when a sentence was split or merged), each with a word diff.
5. 1:1 paragraph pairs: maximum-weight assignment
   (``scipy.optimize.linear_sum_assignment``, per connected component) over
   pairs with paragraph cosine >= ``paragraph_threshold`` or a sentence link.
6. Splits / merges: a paragraph whose sentences went, each for at least
   ``min_share`` of its content, to two or more *adjacent* paragraphs of the
   other side. A link that reads both as a split and as a merge is reported
   as the split (the original's point of view).
7. Moves: blocks not on the longest non-decreasing run of rewrite positions
   taken in original order.
8. Headers, datelines and credit lines are matched only with their own kind
   (same folded text or word overlap >= 0.5); otherwise they are added/dropped
   with that ``role``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import connected_components

from dedup.article import Article, coerce_article
from dedup.normalize import ParagraphKind, classify_paragraph, fold, paragraphs, split_dateline, split_sentences, tokenize

from .features import content_terms, tfidf_rows
from .model import Alignment, Block, Paragraph, SentenceDiff, Span, Summary, WordOp
from .words import Token, diff_tokens, word_tokens

__all__ = ["diff_articles"]

_BODY = ParagraphKind.BODY.value


# --- parsing -------------------------------------------------------------------


@dataclass
class _Sent:
    side: int  # 0 original, 1 rewrite
    para: int
    idx: int  # index inside the paragraph
    start: int  # char offsets in the paragraph text
    end: int
    text: str
    terms: list[str] = field(default_factory=list)
    tokens: list[Token] = field(default_factory=list)
    group: int = -1


def _parse(text: str, side: int, stem_length: int) -> tuple[list[Paragraph], list[list[_Sent]]]:
    paras: list[Paragraph] = []
    sents: list[list[_Sent]] = []
    for i, p in enumerate(paragraphs(text)):
        kind = classify_paragraph(p).value
        dateline, rest, offset = None, p, 0
        if kind == _BODY:
            dateline, rest = split_dateline(p)
            offset = len(p) - len(rest)
        pieces = split_sentences(rest) if kind == _BODY else [p]
        found: list[_Sent] = []
        pos = offset
        for j, s in enumerate(pieces):
            at = p.find(s, pos)
            if at < 0:  # cannot happen (split_sentences only strips); be safe
                at = pos
            found.append(_Sent(side, i, j, at, at + len(s), s))
            pos = at + len(s)
        for s in found:
            s.tokens = word_tokens(s.text, i, s.start)
            if kind == _BODY:
                s.terms = content_terms(s.text, stem_length=stem_length)
        paras.append(Paragraph(i, p, kind, dateline, tuple(s.text for s in found)))
        sents.append(found)
    return paras, sents


# --- helpers ---------------------------------------------------------------------


def _top_pairs(m: sp.csr_matrix, k: int, floor: float) -> set[tuple[int, int]]:
    """(row, col) of each row's ``k`` largest entries >= ``floor``."""
    out: set[tuple[int, int]] = set()
    m = m.tocsr()
    for i in range(m.shape[0]):
        lo, hi = m.indptr[i], m.indptr[i + 1]
        if lo == hi:
            continue
        vals = m.data[lo:hi]
        cols = m.indices[lo:hi]
        keep = vals >= floor
        vals, cols = vals[keep], cols[keep]
        if len(vals) > k:
            sel = np.argpartition(-vals, k - 1)[:k]
            vals, cols = vals[sel], cols[sel]
        out.update((i, int(c)) for c in cols)
    return out


def _lis_keep(seq: list[int]) -> set[int]:
    """Positions of a longest non-decreasing subsequence of ``seq``."""
    tails: list[int] = []
    tail_pos: list[int] = []
    prev = [-1] * len(seq)
    for i, v in enumerate(seq):
        j = bisect_right(tails, v)
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


def _runs(members: Iterable[int], order: list[int]) -> list[list[int]]:
    """Maximal runs of ``members`` that are adjacent in ``order`` (body paragraphs
    only, so a header between two paragraphs does not break adjacency)."""
    pos = {p: k for k, p in enumerate(order)}
    ks = sorted(pos[m] for m in members if m in pos)
    runs: list[list[int]] = []
    for k in ks:
        if runs and k == pos[runs[-1][-1]] + 1:
            runs[-1].append(order[k])
        else:
            runs.append([order[k]])
    return runs


def _jaccard(a: str, b: str) -> float:
    ta, tb = set(tokenize(fold(a))), set(tokenize(fold(b)))
    if not ta and not tb:
        return 1.0
    return len(ta & tb) / len(ta | tb)


def _words(sents: Iterable[_Sent]) -> int:
    return sum(1 for s in sents for t in s.tokens if t.key[:1].isalnum())


def _check_float(name: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise ValueError(f"{name} must be a number in [{lo}, {hi}], got {value!r}")
    return float(value)


def _check_int(name: str, value: Any, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")
    return value


# --- the diff -----------------------------------------------------------------------


def diff_articles(
    original: str | Article | dict,
    rewrite: str | Article | dict,
    *,
    sentence_threshold: float = 0.25,
    paragraph_threshold: float = 0.35,
    min_share: float = 0.15,
    candidates: int = 5,
    stem_length: int = 5,
    max_word_tokens: int = 5000,
) -> Alignment:
    """Align ``rewrite`` against ``original`` paragraph by paragraph.

    Parameters
    ----------
    original, rewrite:
        Text (``str``), :class:`dedup.article.Article`, or a dict with ``text``.
    sentence_threshold:
        Minimum cosine (content-stem TF-IDF) for two sentences to correspond
        (default 0.25: on news rewrites true paraphrases score 0.3-0.9,
        sentences that only share the topic below 0.2).
    paragraph_threshold:
        Minimum paragraph cosine for a 1:1 pair without any linked sentence
        (default 0.35). Pairs with a linked sentence are always allowed.
    min_share:
        Share of a paragraph's content a neighbour must receive for a split
        or merge (default 0.15).
    candidates:
        Paragraphs of the other side considered per paragraph (default 5).
    stem_length:
        Content words are cut to this many characters (default 5).
    max_word_tokens:
        Longest sentence group (in tokens, per side) that gets a word diff;
        longer ones are one change (default 5000).

    Returns
    -------
    Alignment
        Blocks (pairs, splits, merges, added, dropped), sentence diffs with
        word diffs, marked spans for renderers, and a summary.
    """
    a = coerce_article(original, "original")
    b = coerce_article(rewrite, "rewrite")
    sentence_threshold = _check_float("sentence_threshold", sentence_threshold, 0.0, 1.0)
    paragraph_threshold = _check_float("paragraph_threshold", paragraph_threshold, 0.0, 1.0)
    min_share = _check_float("min_share", min_share, 0.0, 1.0)
    candidates = _check_int("candidates", candidates, 1)
    stem_length = _check_int("stem_length", stem_length, 1)
    max_word_tokens = _check_int("max_word_tokens", max_word_tokens, 1)
    params = (
        ("sentence_threshold", sentence_threshold),
        ("paragraph_threshold", paragraph_threshold),
        ("min_share", min_share),
        ("candidates", candidates),
        ("stem_length", stem_length),
        ("max_word_tokens", max_word_tokens),
    )
    return _Aligner(a, b, sentence_threshold, paragraph_threshold, min_share, candidates, stem_length, max_word_tokens, params).run()


class _Aligner:
    """One alignment run; state shared by the steps of :func:`diff_articles`."""

    def __init__(self, a: Article, b: Article, ts: float, tp: float, min_share: float, k: int, stem: int, max_tok: int, params: tuple) -> None:
        self.a, self.b = a, b
        self.ts, self.tp, self.min_share, self.k, self.max_tok = ts, tp, min_share, k, max_tok
        self.params = params
        po, so = _parse(a.text, 0, stem)
        pr, sr = _parse(b.text, 1, stem)
        self.paras = (po, pr)
        self.sents = (so, sr)
        self.body = tuple([p.index for p in side if p.kind == _BODY] for side in self.paras)

    # 2-4: vectors, candidates, sentence links -----------------------------------
    def _link_sentences(self) -> None:
        flat = [[s for ps in side for s in ps if self.paras[si][s.para].kind == _BODY] for si, side in enumerate(self.sents)]
        self.flat = flat
        n0, n1 = len(flat[0]), len(flat[1])
        self.sim: dict[tuple[int, int], float] = {}  # (flat o, flat r) -> cosine
        self.cand: set[tuple[int, int]] = set()
        self.pcos: dict[tuple[int, int], float] = {}
        if not n0 or not n1:
            return
        sm, _ = tfidf_rows([s.terms for s in flat[0] + flat[1]])
        para_terms = [[t for s in self.sents[si][p] for t in s.terms] for si in (0, 1) for p in self.body[si]]
        pm, _ = tfidf_rows(para_terms)
        nb0 = len(self.body[0])
        P = (pm[:nb0] @ pm[nb0:].T).tocsr()
        cand = _top_pairs(P, self.k, 1e-9) | {(i, j) for j, i in _top_pairs(P.T.tocsr(), self.k, 1e-9)}
        # identical paragraphs are always candidates (a repeated paragraph must not crowd out its twin)
        ko = defaultdict(list)
        for i, p in enumerate(self.body[0]):
            ko[fold(self.paras[0][p].text)].append(i)
        for j, p in enumerate(self.body[1]):
            for i in ko.get(fold(self.paras[1][p].text), ()):
                cand.add((i, j))
        cand_list = sorted(cand)
        self.cand = {(self.body[0][i], self.body[1][j]) for i, j in cand_list}
        if cand_list:
            ci = np.array([i for i, _ in cand_list])
            cj = np.array([j for _, j in cand_list])
            pv = np.asarray(P[ci, cj]).ravel()
            for (i, j), v in zip(cand_list, pv.tolist()):
                self.pcos[(self.body[0][i], self.body[1][j])] = float(v)
        # sentence pairs inside candidate paragraph pairs, vectorised
        first = [dict(), dict()]
        count = [dict(), dict()]
        for si in (0, 1):
            for k, s in enumerate(flat[si]):
                first[si].setdefault(s.para, k)
                count[si][s.para] = count[si].get(s.para, 0) + 1
        co = np.array([first[0].get(self.body[0][i], 0) for i, _ in cand_list], dtype=np.int64)
        cr = np.array([first[1].get(self.body[1][j], 0) for _, j in cand_list], dtype=np.int64)
        no = np.array([count[0].get(self.body[0][i], 0) for i, _ in cand_list], dtype=np.int64)
        nr = np.array([count[1].get(self.body[1][j], 0) for _, j in cand_list], dtype=np.int64)
        rep = no * nr
        total = int(rep.sum())
        if total == 0:
            return
        pid = np.repeat(np.arange(len(cand_list)), rep)
        starts = np.repeat(np.cumsum(rep) - rep, rep)
        within = np.arange(total) - starts
        ia = co[pid] + within // nr[pid]
        ib = cr[pid] + within % nr[pid]
        A, B = sm[:n0], sm[n0:]
        vals = np.asarray(A[ia].multiply(B[ib]).sum(axis=1)).ravel()
        # identical sentences (also ones without content words) always link
        keys0 = [" ".join(t.key for t in s.tokens) for s in flat[0]]
        keys1 = [" ".join(t.key for t in s.tokens) for s in flat[1]]
        same = np.fromiter((bool(keys0[x]) and keys0[x] == keys1[y] for x, y in zip(ia.tolist(), ib.tolist())), dtype=bool, count=total)
        vals = np.where(same, 1.0, np.minimum(vals, 0.9999))
        keep = vals >= self.ts
        ia, ib, vals = ia[keep], ib[keep], vals[keep]
        self.sim = {(int(x), int(y)): float(v) for x, y, v in zip(ia, ib, vals)}
        # best counterpart of each sentence, both directions
        links: set[tuple[int, int]] = set()
        for side_idx, other_idx in ((ia, ib), (ib, ia)):
            if not len(vals):
                continue
            order = np.lexsort((other_idx, -vals, side_idx))
            s_sorted = side_idx[order]
            firsts = order[np.r_[True, s_sorted[1:] != s_sorted[:-1]]]
            links.update((int(ia[f]), int(ib[f])) for f in firsts)
        self.links = sorted(links)

    # sentence groups --------------------------------------------------------------
    def _group_sentences(self) -> None:
        flat = self.flat
        n0, n1 = len(flat[0]), len(flat[1])
        self.groups: list[dict[str, Any]] = []
        if not self.links:
            return
        rows = np.array([x for x, _ in self.links])
        cols = np.array([n0 + y for _, y in self.links])
        g = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n0 + n1, n0 + n1))
        _, labels = connected_components(g, directed=False)
        members: dict[int, tuple[list[int], list[int]]] = {}
        linked = set(rows.tolist()) | set(cols.tolist())
        for node in sorted(linked):
            lab = int(labels[node])
            o, r = members.setdefault(lab, ([], []))
            (o if node < n0 else r).append(node if node < n0 else node - n0)
        edge_sims = defaultdict(list)
        for x, y in self.links:
            edge_sims[int(labels[x])].append(self.sim[(x, y)])
        for lab in sorted(members, key=lambda l: (members[l][1][0], members[l][0][0])):
            o, r = members[lab]
            gid = len(self.groups)
            for x in o:
                flat[0][x].group = gid
            for y in r:
                flat[1][y].group = gid
            ta = [t for x in o for t in flat[0][x].tokens]
            tb = [t for y in r for t in flat[1][y].tokens]
            ops = diff_tokens(ta, tb, max_tokens=self.max_tok)
            self.groups.append(
                {
                    "o": [flat[0][x] for x in o],
                    "r": [flat[1][y] for y in r],
                    "sim": float(np.mean(edge_sims[lab])),
                    "ops": ops,
                    "ta": ta,
                    "tb": tb,
                    "changed_a": {id(ta[i]) for op in ops if op[0] == "change" for i in range(op[1], op[2])},
                    "changed_b": {id(tb[j]) for op in ops if op[0] == "change" for j in range(op[3], op[4])},
                    "equal": all(op[0] == "equal" for op in ops),
                }
            )

    # 5: 1:1 pairs -------------------------------------------------------------------
    def _pair_paragraphs(self) -> None:
        allowed: dict[tuple[int, int], float] = {}
        for (o, r), c in self.pcos.items():
            if c >= self.tp:
                allowed[(o, r)] = c
        for x, y in self.sim:
            key = (self.flat[0][x].para, self.flat[1][y].para)
            allowed[key] = max(allowed.get(key, 0.0), self.pcos.get(key, 0.0), 1e-6)
        self.pair_o: dict[int, int] = {}
        self.pair_r: dict[int, int] = {}
        if not allowed:
            return
        os_ = sorted({o for o, _ in allowed})
        rs_ = sorted({r for _, r in allowed})
        oi = {o: i for i, o in enumerate(os_)}
        ri = {r: i for i, r in enumerate(rs_)}
        keys = list(allowed)
        g = sp.coo_matrix(
            (np.ones(len(keys)), ([oi[o] for o, _ in keys], [len(os_) + ri[r] for _, r in keys])),
            shape=(len(os_) + len(rs_),) * 2,
        )
        ncomp, labels = connected_components(g, directed=False)
        comp_edges: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for o, r in keys:
            comp_edges[int(labels[oi[o]])].append((o, r))
        for edges in comp_edges.values():
            co = sorted({o for o, _ in edges})
            cr = sorted({r for _, r in edges})
            w = np.zeros((len(co), len(cr)))
            lo = {o: i for i, o in enumerate(co)}
            lr = {r: i for i, r in enumerate(cr)}
            for o, r in edges:
                w[lo[o], lr[r]] = allowed[(o, r)] + 1.0  # +1: any allowed pair beats none
            rows, cols = linear_sum_assignment(w, maximize=True)
            for i, j in zip(rows, cols):
                if w[i, j] > 0:
                    self.pair_o[co[i]] = cr[j]
                    self.pair_r[cr[j]] = co[i]

    # 6: splits and merges -------------------------------------------------------------
    def _shares(self) -> tuple[dict[int, dict[int, float]], dict[int, dict[int, float]]]:
        share: tuple[dict[int, dict[int, float]], dict[int, dict[int, float]]] = (defaultdict(dict), defaultdict(dict))
        for si in (0, 1):
            totals: dict[int, int] = defaultdict(int)
            for s in self.flat[si]:
                totals[s.para] += max(len(s.terms), 1)
            for s in self.flat[si]:
                if s.group < 0:
                    continue
                other = self.groups[s.group]["r" if si == 0 else "o"]
                targets = sorted({t.para for t in other})
                w = max(len(s.terms), 1) / totals[s.para] / len(targets)
                for t in targets:
                    share[si][s.para][t] = share[si][s.para].get(t, 0.0) + w
        return share

    def _splits_and_merges(self) -> None:
        share = self._shares()
        self.splits: dict[int, list[int]] = {}
        self.merges: dict[int, list[int]] = {}
        for o in self.body[0]:
            targets = {r for r, v in share[0].get(o, {}).items() if v >= self.min_share}
            p = self.pair_o.get(o)
            if p is not None:
                targets.add(p)
            if len(targets) < 2:
                continue
            runs = [run for run in _runs(targets, self.body[1]) if len(run) >= 2]
            if p is not None:
                runs = [run for run in runs if p in run]
            if runs:
                self.splits[o] = max(runs, key=lambda run: (sum(share[0][o].get(r, 0.0) for r in run), -run[0]))
        in_split = {(o, r) for o, run in self.splits.items() for r in run}
        for r in self.body[1]:
            p = self.pair_r.get(r)
            if p is not None and p in self.splits:
                continue
            targets = {o for o, v in share[1].get(r, {}).items() if v >= self.min_share}
            if p is not None:
                targets.add(p)
            if len(targets) < 2:
                continue
            runs = [run for run in _runs(targets, self.body[0]) if len(run) >= 2]
            if p is not None:
                runs = [run for run in runs if p in run]
            runs = [run for run in runs if not all((o, r) in in_split or o == p for o in run) and not any(o in self.splits for o in run)]
            if runs:
                self.merges[r] = max(runs, key=lambda run: (sum(share[1][r].get(o, 0.0) for o in run), -run[0]))
        self.share = share

    # 8: furniture (headers, datelines, credits) -------------------------------------------
    def _pair_furniture(self) -> None:
        by_kind: dict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
        for si in (0, 1):
            for p in self.paras[si]:
                if p.kind != _BODY:
                    by_kind[p.kind][si].append(p.index)
        for kind, (os_, rs_) in sorted(by_kind.items()):
            used: set[int] = set()
            exact: dict[str, list[int]] = defaultdict(list)
            for r in rs_:
                exact[fold(self.paras[1][r].text)].append(r)
            for o in os_:
                for r in exact.get(fold(self.paras[0][o].text), ()):
                    if r not in used:
                        used.add(r)
                        self.pair_o[o], self.pair_r[r] = r, o
                        break
            rest_o = [o for o in os_ if o not in self.pair_o]
            rest_r = [r for r in rs_ if r not in used]
            if rest_o and rest_r and len(rest_o) * len(rest_r) <= 40000:
                scored = sorted(
                    ((-_jaccard(self.paras[0][o].text, self.paras[1][r].text), o, r) for o in rest_o for r in rest_r),
                )
                for neg, o, r in scored:
                    if -neg < 0.5:
                        break
                    if o in self.pair_o or r in self.pair_r:
                        continue
                    self.pair_o[o], self.pair_r[r] = r, o

    # blocks, spans, summary -------------------------------------------------------------
    def _spans(self, si: int, para: int, other: set[int]) -> tuple[Span, ...]:
        p = self.paras[si][para]
        if p.kind != _BODY:
            return (Span(p.text, "equal"),)
        spans: list[tuple[int, int, str, str | None]] = []
        if p.dateline:
            spans.append((0, len(p.dateline), "dateline", None))
        side_name, other_name = ("o", "r") if si == 0 else ("r", "o")
        for s in self.sents[si][para]:
            if s.group < 0:
                spans.append((s.start, s.end, "dropped" if si == 0 else "added", None))
                continue
            grp = self.groups[s.group]
            targets = sorted({t.para for t in grp[other_name]})
            if not other.intersection(targets):
                label = "original" if si == 1 else "rewrite"
                spans.append((s.start, s.end, "elsewhere", f"{label} ¶" + ", ¶".join(str(t + 1) for t in targets)))
                continue
            changed = grp["changed_a" if si == 0 else "changed_b"]
            cur: list | None = None
            for t in s.tokens:
                mark = "changed" if id(t) in changed else "equal"
                if cur is not None and cur[2] == mark:
                    cur[1] = t.end
                else:
                    if cur is not None:
                        spans.append(tuple(cur))  # type: ignore[arg-type]
                    cur = [t.start, t.end, mark, None]
            if cur is not None:
                spans.append(tuple(cur))  # type: ignore[arg-type]
        # fill the gaps; a gap between two runs with the same mark takes that mark
        out: list[Span] = []
        pos = 0
        text = p.text
        merged: list[list] = []
        for start, end, mark, ref in spans:
            if merged and merged[-1][2] == mark == "changed" and not text[merged[-1][1] : start].strip():
                merged[-1][1] = end
            elif merged and merged[-1][2] == mark and ref == merged[-1][3] and mark in ("added", "dropped", "elsewhere") and not text[merged[-1][1] : start].strip():
                merged[-1][1] = end
            else:
                merged.append([start, end, mark, ref])
        for start, end, mark, ref in merged:
            if start > pos:
                out.append(Span(text[pos:start], "equal"))
            out.append(Span(text[start:end], mark, ref))
            pos = end
        if pos < len(text):
            out.append(Span(text[pos:], "equal"))
        # join neighbouring equal spans
        joined: list[Span] = []
        for s in out:
            if joined and joined[-1].mark == s.mark == "equal":
                joined[-1] = Span(joined[-1].text + s.text, "equal")
            else:
                joined.append(s)
        return tuple(joined)

    def _sentence_diffs(self, os_: tuple[int, ...], rs_: tuple[int, ...]) -> tuple[SentenceDiff, ...]:
        oset, rset = set(os_), set(rs_)
        seen: set[int] = set()
        items: list[tuple[tuple, SentenceDiff]] = []
        for r in rs_:
            for s in self.sents[1][r]:
                if self.paras[1][r].kind != _BODY:
                    continue
                if s.group < 0:
                    items.append(((r, s.idx, 0), SentenceDiff("added", (), ((r, s.idx),), 0.0)))
                elif s.group not in seen and any(t.para in oset for t in self.groups[s.group]["o"]):
                    seen.add(s.group)
                    items.append(((r, s.idx, 0), self._group_diff(s.group)))
        # dropped sentences go right after the item holding the previous original sentence
        last_key: tuple = (-1, -1, 0)
        for o in os_:
            if self.paras[0][o].kind != _BODY:
                continue
            for s in self.sents[0][o]:
                if s.group >= 0 and s.group in seen:
                    g = self.groups[s.group]
                    last_key = (g["r"][0].para, g["r"][0].idx, 0)
                elif s.group < 0:
                    last_key = (last_key[0], last_key[1], last_key[2] + 1)
                    items.append((last_key, SentenceDiff("dropped", ((o, s.idx),), (), 0.0)))
        items.sort(key=lambda kv: kv[0])
        return tuple(d for _, d in items)

    def _group_diff(self, gid: int) -> SentenceDiff:
        g = self.groups[gid]
        words: list[WordOp] = []
        ta, tb = g["ta"], g["tb"]
        for tag, i1, i2, j1, j2 in g["ops"]:
            ta_text = self._text(0, ta[i1:i2])
            tb_text = self._text(1, tb[j1:j2])
            op = "equal" if tag == "equal" else ("insert" if i1 == i2 else "delete" if j1 == j2 else "replace")
            words.append(WordOp(op, ta_text, tb_text))
        return SentenceDiff(
            "equal" if g["equal"] else "changed",
            tuple((s.para, s.idx) for s in g["o"]),
            tuple((s.para, s.idx) for s in g["r"]),
            1.0 if g["equal"] else g["sim"],
            tuple(words),
        )

    def _text(self, si: int, toks: list[Token]) -> str:
        parts: list[str] = []
        k = 0
        while k < len(toks):
            m = k
            while m + 1 < len(toks) and toks[m + 1].para == toks[k].para:
                m += 1
            parts.append(self.paras[si][toks[k].para].text[toks[k].start : toks[m].end])
            k = m + 1
        return " ".join(parts)

    def _block_similarity(self, os_: tuple[int, ...], rs_: tuple[int, ...]) -> float:
        if len(os_) == 1 and len(rs_) == 1 and (os_[0], rs_[0]) in self.pcos:
            return self.pcos[(os_[0], rs_[0])]
        ta = [t for o in os_ for s in self.sents[0][o] for t in s.terms]
        tb = [t for r in rs_ for s in self.sents[1][r] for t in s.terms]
        if not ta or not tb:
            pa = " ".join(self.paras[0][o].text for o in os_)
            pb = " ".join(self.paras[1][r].text for r in rs_)
            return _jaccard(pa, pb)
        m, _ = tfidf_rows([ta, tb])
        return float((m[0] @ m[1].T).toarray()[0, 0])

    def _make_block(self, kind: str, os_: tuple[int, ...], rs_: tuple[int, ...], role: str = _BODY) -> Block:
        sim = 0.0
        changed = kind != "identical"
        if os_ and rs_:
            sim = self._block_similarity(os_, rs_)
            if kind in ("pair",):
                # compare the words after any dateline (dateline changes are counted apart)
                same = [t.key for st in self.sents[0][os_[0]] for t in st.tokens] == [
                    t.key for st in self.sents[1][rs_[0]] for t in st.tokens
                ]
                changed = not same
                kind = "reworded" if changed else "identical"
                if not changed:
                    sim = 1.0
        shares: tuple[float, ...] = ()
        if kind == "split":
            shares = tuple(self.share[0].get(os_[0], {}).get(r, 0.0) for r in rs_)
        elif kind == "merged":
            shares = tuple(self.share[1].get(rs_[0], {}).get(o, 0.0) for o in os_)
        oset, rset = set(os_), set(rs_)
        return Block(
            kind=kind,
            original=os_,
            rewrite=rs_,
            similarity=sim,
            role=role,
            changed=changed,
            shares=shares,
            sentences=self._sentence_diffs(os_, rs_),
            original_spans=tuple(self._spans(0, o, rset) for o in os_),
            rewrite_spans=tuple(self._spans(1, r, oset) for r in rs_),
        )

    def _furniture_pair(self, o: int, r: int) -> Block:
        po, pr = self.paras[0][o], self.paras[1][r]
        same = fold(po.text) == fold(pr.text)
        mark = "equal" if same else "changed"
        return Block(
            kind="identical" if same else "reworded",
            original=(o,),
            rewrite=(r,),
            similarity=1.0 if same else _jaccard(po.text, pr.text),
            role=po.kind,
            changed=not same,
            original_spans=((Span(po.text, mark),),),
            rewrite_spans=((Span(pr.text, mark),),),
        )

    def _lone(self, si: int, p: int) -> Block:
        para = self.paras[si][p]
        kind = "dropped" if si == 0 else "added"
        spans = self._spans(si, p, set())
        if para.kind != _BODY:
            spans = (Span(para.text, kind),)
        sents = tuple(
            SentenceDiff(kind, ((p, s.idx),) if si == 0 else (), () if si == 0 else ((p, s.idx),), 0.0)
            for s in self.sents[si][p]
            if para.kind == _BODY and s.group < 0
        )
        return Block(
            kind=kind,
            original=(p,) if si == 0 else (),
            rewrite=(p,) if si == 1 else (),
            similarity=0.0,
            role=para.kind,
            changed=True,
            sentences=sents,
            original_spans=(spans,) if si == 0 else (),
            rewrite_spans=(spans,) if si == 1 else (),
        )

    def _blocks(self) -> list[Block]:
        blocks: list[Block] = []
        used_o: set[int] = set()
        used_r: set[int] = set()
        for o, run in sorted(self.splits.items()):
            blocks.append(self._make_block("split", (o,), tuple(run)))
            used_o.add(o)
            p = self.pair_o.get(o)
            if p is not None:
                used_r.add(p)
        for r, run in sorted(self.merges.items()):
            blocks.append(self._make_block("merged", tuple(run), (r,)))
            used_r.add(r)
            p = self.pair_r.get(r)
            if p is not None:
                used_o.add(p)
        # rewrite paragraphs inside a split are covered; their own 1:1 pair still shows
        covered_r = {r for run in self.splits.values() for r in run}
        covered_o = {o for run in self.merges.values() for o in run}
        for o, r in sorted(self.pair_o.items()):
            if o in used_o or r in used_r:
                continue
            used_o.add(o)
            used_r.add(r)
            if self.paras[0][o].kind == _BODY:
                blocks.append(self._make_block("pair", (o,), (r,)))
            else:
                blocks.append(self._furniture_pair(o, r))
        for p in self.paras[0]:
            if p.index not in used_o and p.index not in covered_o:
                blocks.append(self._lone(0, p.index))
        for p in self.paras[1]:
            if p.index not in used_r and p.index not in covered_r:
                blocks.append(self._lone(1, p.index))
        return blocks

    @staticmethod
    def _mark_moves(blocks: list[Block]) -> list[Block]:
        anchored = [(min(b.original), min(b.rewrite), k) for k, b in enumerate(blocks) if b.original and b.rewrite]
        anchored.sort()
        keep = _lis_keep([r for _, r, _ in anchored])
        out = list(blocks)
        for pos, (_, _, k) in enumerate(anchored):
            if pos not in keep:
                b = out[k]
                kind = "moved" if b.kind in ("identical", "reworded") else b.kind
                out[k] = Block(**{**b.__dict__, "kind": kind, "moved": True})
        return out

    @staticmethod
    def _order(blocks: list[Block]) -> list[Block]:
        """Rewrite order; a dropped paragraph goes after the block holding the
        nearest preceding original paragraph."""
        key_of_o: dict[int, tuple] = {}
        keyed: list[tuple[tuple, Block]] = []
        for b in blocks:
            if b.rewrite:
                key = (min(b.rewrite), 0, min(b.original) if b.original else -1)
                keyed.append((key, b))
                for o in b.original:
                    key_of_o[o] = max(key_of_o.get(o, key), key)
        for b in sorted((b for b in blocks if not b.rewrite), key=lambda b: b.original[0]):
            o = b.original[0]
            prev = [key_of_o[x] for x in key_of_o if x < o]
            base = max(prev) if prev else (-1, 0, -1)
            key = (base[0], 1, o)
            key_of_o[o] = key
            keyed.append((key, b))
        keyed.sort(key=lambda kv: kv[0])
        return [b for _, b in keyed]

    def _summary(self, blocks: list[Block]) -> Summary:
        rewrite_body = [s for s in self.flat[1]] if hasattr(self, "flat") else []
        total = _words(rewrite_body)
        carried = _words(s for s in rewrite_body if s.group >= 0)
        verbatim = 0
        for g in self.groups:
            verbatim += sum(1 for t in g["tb"] if id(t) not in g["changed_b"] and t.key[:1].isalnum())
        added_by: dict[str, int] = defaultdict(int)
        dropped_by: dict[str, int] = defaultdict(int)
        for b in blocks:
            if b.kind == "added":
                added_by[b.role] += 1
            elif b.kind == "dropped":
                dropped_by[b.role] += 1
        dl0 = {fold(p.dateline) for p in self.paras[0] if p.dateline}
        dl1 = {fold(p.dateline) for p in self.paras[1] if p.dateline}
        pairs = [b for b in blocks if b.kind in ("identical", "reworded", "moved")]
        return Summary(
            original_paragraphs=len(self.paras[0]),
            rewrite_paragraphs=len(self.paras[1]),
            carried_over=carried / total if total else 0.0,
            verbatim=verbatim / total if total else 0.0,
            identical=sum(1 for b in pairs if not b.changed),
            reworded=sum(1 for b in pairs if b.changed),
            moved=sum(1 for b in blocks if b.moved),
            split=sum(1 for b in blocks if b.kind == "split"),
            merged=sum(1 for b in blocks if b.kind == "merged"),
            added=sum(added_by.values()),
            dropped=sum(dropped_by.values()),
            added_by_role=tuple(sorted(added_by.items())),
            dropped_by_role=tuple(sorted(dropped_by.items())),
            sentences_added=sum(1 for s in self.flat[1] if s.group < 0) if hasattr(self, "flat") else 0,
            sentences_dropped=sum(1 for s in self.flat[0] if s.group < 0) if hasattr(self, "flat") else 0,
            datelines_added=len(dl1 - dl0),
            datelines_dropped=len(dl0 - dl1),
        )

    def run(self) -> Alignment:
        self.links: list[tuple[int, int]] = []
        self._link_sentences()
        self._group_sentences()
        self._pair_paragraphs()
        self._splits_and_merges()
        self._pair_furniture()
        blocks = self._order(self._mark_moves(self._blocks()))
        return Alignment(
            original_id=self.a.id,
            rewrite_id=self.b.id,
            original=tuple(self.paras[0]),
            rewrite=tuple(self.paras[1]),
            blocks=tuple(blocks),
            summary=self._summary(blocks),
            original_title=self.a.title,
            rewrite_title=self.b.title,
            parameters=self.params,
        )
