"""Blocks, marked spans, sentence diffs and the summary, from the paragraph
partition and the sentence correspondences (the data renderers read)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from .blocks import Part, jaccard, longest_run
from .model import Block, SentenceDiff, Span, Summary, WordOp
from .parse import BODY, Side, exact_key
from .words import Words, diff_tokens

__all__ = ["Matches", "Builder"]


@dataclass
class Matches:
    """Sentence correspondences, both directions: flat index -> (partner, similarity)."""

    o2r: dict[int, tuple[int, float]] = field(default_factory=dict)
    r2o: dict[int, tuple[int, float]] = field(default_factory=dict)

    def add(self, x: int, y: int, sim: float) -> None:
        self.o2r[x] = (y, sim)
        self.r2o[y] = (x, sim)


@dataclass
class _Pair:
    """The word diff of one pair of corresponding sentences."""

    equal: bool
    sim: float
    ops: list[list]
    ta: Words | None
    tb: Words | None
    changed_a: set[int]
    changed_b: set[int]


class Builder:
    """Turns parts and matches into :class:`Block` values (word diffs made once per sentence pair)."""

    def __init__(self, a: Side, b: Side, matches: Matches, *, max_tokens: int) -> None:
        self.a, self.b, self.m, self.max_tokens = a, b, matches, max_tokens
        self._pairs: dict[int, _Pair] = {}
        self._out_of_order: set[tuple[int, int]] = set()  # (side, flat sentence): see reorders()

    def pair(self, x: int) -> _Pair:
        """Word diff of original sentence ``x`` and its counterpart (cached)."""
        got = self._pairs.get(x)
        if got is not None:
            return got
        y, sim = self.m.o2r[x]
        if self.a.sent_key[x] == self.b.sent_key[y]:
            got = _Pair(True, 1.0, [], None, None, set(), set())  # twins: no word diff needed
        else:
            ta, tb = self.a.tokens(x), self.b.tokens(y)
            ops = diff_tokens(ta, tb, max_tokens=self.max_tokens)
            ca = {i for op in ops if op[0] == "change" for i in range(op[1], op[2])}
            cb = {j for op in ops if op[0] == "change" for j in range(op[3], op[4])}
            got = _Pair(not ca and not cb, sim, ops, ta, tb, ca, cb)
        self._pairs[x] = got
        return got

    # -- spans ---------------------------------------------------------------------------
    def spans(self, si: int, para: int, other: set[int], identical: bool = False) -> tuple[Span, ...]:
        """Marked runs of one paragraph; ``other``: the other side's paragraphs in its block."""
        side = self.a if si == 0 else self.b
        p = side.paras[para]
        if p.kind != BODY:
            return (Span(p.text, "equal"),)
        if identical:
            head = (Span(p.text[: len(p.dateline)], "dateline"),) if p.dateline else ()
            return head + (Span(p.text[len(p.dateline or "") :], "equal"),)
        runs: list[list] = []
        if p.dateline:
            runs.append([0, len(p.dateline), self._dateline_mark(si, p.dateline, other), None])
        for s in side.sentences_of(para):
            runs.extend(self._sentence_runs(si, s, other))
        return _fill(p.text, runs)

    def _dateline_mark(self, si: int, dateline: str, other: set[int]) -> str:
        """``dateline`` when a paragraph of the block's other side (``other``)
        has the same dateline; else the change it is: ``added`` / ``dropped``
        in a paragraph without counterpart, ``changed`` in a split, merge or pair."""
        partner = self.b if si == 0 else self.a
        key = exact_key(dateline)
        if any(exact_key(partner.paras[q].dateline or "") == key for q in other):
            return "dateline"
        if not other:
            return "dropped" if si == 0 else "added"
        return "changed"

    def _sentence_runs(self, si: int, s: int, other: set[int]) -> list[list]:
        side, partner_side = (self.a, self.b) if si == 0 else (self.b, self.a)
        start, end = side.sent_start[s], side.sent_start[s] + len(side.sent_text[s])
        hit = (self.m.o2r if si == 0 else self.m.r2o).get(s)
        if hit is None:
            return [[start, end, "dropped" if si == 0 else "added", None]]
        t = hit[0]
        if partner_side.sent_para[t] not in other or (si, s) in self._out_of_order:
            ref = f"{'rewrite' if si == 0 else 'original'} ¶{partner_side.sent_para[t] + 1}"
            return [[start, end, "elsewhere", ref]]
        pr = self.pair(s if si == 0 else t)
        if pr.equal:
            return [[start, end, "equal", None]]
        toks, changed = (pr.ta, pr.changed_a) if si == 0 else (pr.tb, pr.changed_b)
        runs: list[list] = []
        for k, (t0, t1) in enumerate(zip(toks.starts, toks.ends, strict=True)):  # type: ignore[union-attr]
            mark = "changed" if k in changed else "equal"
            if runs and runs[-1][2] == mark:
                runs[-1][1] = t1
            else:
                runs.append([t0, t1, mark, None])
        return runs

    # -- sentence diffs ------------------------------------------------------------------------
    def sentence_diff(self, x: int) -> SentenceDiff:
        """The correspondence of original sentence ``x`` and its counterpart."""
        y, _ = self.m.o2r[x]
        pr = self.pair(x)
        words = [WordOp("equal", self.a.sent_text[x], self.b.sent_text[y])] if pr.equal and not pr.ops else []
        for tag, i1, i2, j1, j2 in pr.ops:
            op = "equal" if tag == "equal" else ("insert" if i1 == i2 else "delete" if j1 == j2 else "replace")
            words.append(WordOp(op, _text(self.a, x, pr.ta, i1, i2), _text(self.b, y, pr.tb, j1, j2)))
        return SentenceDiff(
            "equal" if pr.equal else "changed",
            ((self.a.sent_para[x], self.a.sent_idx[x]),),
            ((self.b.sent_para[y], self.b.sent_idx[y]),),
            1.0 if pr.equal else pr.sim,
            tuple(words),
        )

    def sentence_diffs(self, os_: tuple[int, ...], rs_: tuple[int, ...]) -> tuple[SentenceDiff, ...]:
        """Correspondences touching a block, in the rewrite's order; a dropped
        sentence (or one gone elsewhere) right after the previous original sentence's item."""
        a, b = self.a, self.b
        items: list[tuple[tuple[int, int, int], SentenceDiff]] = []
        seen: set[int] = set()
        for r in rs_:
            for y in b.sentences_of(r):
                hit = self.m.r2o.get(y)
                key = (r, b.sent_idx[y], 0)
                if hit is None:
                    items.append((key, SentenceDiff("added", (), ((r, b.sent_idx[y]),), 0.0)))
                else:
                    seen.add(hit[0])
                    items.append((key, self.sentence_diff(hit[0])))
        last = (-1, -1, 0)
        for o in os_:
            for x in a.sentences_of(o):
                hit = self.m.o2r.get(x)
                if x in seen:
                    last = (b.sent_para[hit[0]], b.sent_idx[hit[0]], 0)  # type: ignore[index]
                    continue
                last = (last[0], last[1], last[2] + 1)
                d = SentenceDiff("dropped", ((o, a.sent_idx[x]),), (), 0.0) if hit is None else self.sentence_diff(x)
                items.append((last, d))
        items.sort(key=lambda kv: kv[0])
        return tuple(d for _, d in items)

    # -- blocks ---------------------------------------------------------------------------------
    def block(self, part: Part) -> Block:
        """The :class:`Block` of one part, with similarity, spans and sentence diffs."""
        a, b = self.a, self.b
        os_, rs_ = part.original, part.rewrite
        if part.role != BODY:
            return self._furniture(part)
        kind, changed = part.kind, part.kind != "identical"
        if kind == "pair":
            changed = a.para_key[os_[0]] != b.para_key[rs_[0]] and not self._same_sentences(os_[0], rs_[0])
            kind = "reworded" if changed else "identical"
        if changed:
            self.reorders(os_, rs_)
        if part.moved and kind in ("identical", "reworded"):
            kind = "moved"
        oset, rset = set(os_), set(rs_)
        if not changed:  # an identical pair: every sentence equals the one at its index
            return Block(
                kind=kind,
                original=os_,
                rewrite=rs_,
                similarity=1.0,
                role=part.role,
                moved=part.moved,
                changed=False,
                original_spans=(self.spans(0, os_[0], rset, True),),
                rewrite_spans=(self.spans(1, rs_[0], oset, True),),
            )
        sentences = self.sentence_diffs(os_, rs_)
        return Block(
            kind=kind,
            original=os_,
            rewrite=rs_,
            similarity=self._similarity(os_, rs_, changed),
            role=part.role,
            moved=part.moved,
            changed=changed,
            shares=self._shares(part),
            sentences=sentences,
            inline=self.inline(os_[0], rs_[0], sentences) if len(os_) == len(rs_) == 1 else (),
            original_spans=tuple(self.spans(0, o, rset) for o in os_),
            rewrite_spans=tuple(self.spans(1, r, oset) for r in rs_),
        )

    def _same_sentences(self, o: int, r: int) -> bool:
        """Whether body paragraphs ``o`` and ``r`` hold the same dateline and
        the same sentences in the same order (:func:`exact_key`): then their
        texts differ only in the space between two sentences, which Chinese or
        Japanese text may have or not ("。 " / "。"), and no word changed."""
        po, pr = self.a.paras[o], self.b.paras[r]
        if exact_key(po.dateline or "") != exact_key(pr.dateline or "") or len(po.sentences) != len(pr.sentences):
            return False
        return all(exact_key(x) == exact_key(y) for x, y in zip(po.sentences, pr.sentences, strict=True))

    def reorders(self, os_: tuple[int, ...], rs_: tuple[int, ...]) -> None:
        """Note the sentences of a changed block (a pair, split or merge of
        paragraphs ``os_`` and ``rs_``) whose counterparts are in the block
        but in another order (off the longest run in order): their spans and
        inline runs are marked ``elsewhere``, naming the partner paragraph.
        Without this, sentences swapped inside a paragraph, or put in another
        order by a merge, read as unchanged text on both sides."""
        rset = set(rs_)
        xs = [
            x
            for o in sorted(os_)
            for x in self.a.sentences_of(o)
            if x in self.m.o2r and self.b.sent_para[self.m.o2r[x][0]] in rset
        ]
        ys = [self.m.o2r[x][0] for x in xs]
        keep = longest_run(ys)
        for k, (x, y) in enumerate(zip(xs, ys, strict=True)):
            if k not in keep:
                self._out_of_order.update(((0, x), (1, y)))

    def inline(self, o: int, r: int, sentences: Sequence[SentenceDiff]) -> tuple[Span, ...]:
        """The rewrite paragraph ``r`` with the changes from original ``o`` in place."""
        a, b = self.a, self.b
        runs = self._inline_dateline(a.paras[o].dateline, b.paras[r].dateline)
        for d in sentences:
            if d.kind == "dropped":
                x = a.first[o] + d.original[0][1]
                runs.append(Span(a.paras[o].sentences[d.original[0][1]] + _gap(a, x), "dropped"))
                continue
            if d.kind != "added" and d.rewrite[0][0] != r:
                continue  # gone to another block: shown there
            y = b.first[r] + d.rewrite[0][1]
            text, gap = b.paras[r].sentences[d.rewrite[0][1]], _gap(b, y)
            if d.kind == "added":
                runs.append(Span(text + gap, "added"))
            elif d.original[0][0] != o or (1, y) in self._out_of_order:
                runs.append(Span(text + gap, "elsewhere", f"original ¶{d.original[0][0] + 1}"))
            else:
                runs.extend([Span(text, "equal")] if d.kind == "equal" else self._inline_words(self.m.r2o[y][0]))
                _add_gap(runs, _gap(a, a.first[o] + d.original[0][1]), gap)
        while runs and not runs[-1].text.strip():
            runs.pop()
        if runs:
            last = runs[-1]
            runs[-1] = Span(last.text.rstrip(), last.mark, last.ref)
        return tuple(runs)

    @staticmethod
    def _inline_dateline(old: str | None, new: str | None) -> list[Span]:
        """The rewrite's dateline, or the change of dateline, as inline runs."""
        if old is not None and new is not None and exact_key(old) == exact_key(new):
            return [Span(new, "dateline"), Span(" ", "equal")]
        runs = [Span(old + " ", "deleted")] if old else []
        return runs + ([Span(new, "inserted"), Span(" ", "equal")] if new else [])

    def _inline_words(self, x: int) -> list[Span]:
        """Original sentence ``x`` and its changed counterpart as inline runs:
        each run keeps the spaces after it in its own text; a replace is its
        deleted then its inserted words. Read without the inserted runs, they
        are the original, spaces included; without the deleted ones, the rewrite."""
        y, _ = self.m.o2r[x]
        pr = self.pair(x)
        ta, tb = pr.ta, pr.tb
        text_a = self.a.paras[self.a.sent_para[x]].text
        text_b = self.b.paras[self.b.sent_para[y]].text
        out: list[Span] = []
        for tag, i1, i2, j1, j2 in pr.ops:
            if tag == "equal":
                out.append(Span(text_b[tb.starts[j1] : _run_end(tb, j2)], "equal"))  # type: ignore[union-attr,arg-type]
                continue
            ends_space = bool(out) and out[-1].text[-1:].isspace()
            # the rewrite's space before a change where the original has none: it goes into the
            # change ("reserve[-, the-] list", "Davis{+ in the end zone+}."), not "reserve , the"
            space = _trailing_space(out) if ends_space and ta.glued(i1) else ""  # type: ignore[arg-type]
            if i2 > i1:
                start = ta.starts[i1]  # type: ignore[union-attr]
                if i1 and out and not ends_space:  # "week[-or next-]!": the space goes along
                    start = ta.ends[i1 - 1]  # type: ignore[union-attr]
                out.append(Span(text_a[start : _run_end(ta, i2)], "deleted"))  # type: ignore[arg-type]
            if j2 > j1:
                text = space + text_b[tb.starts[j1] : _run_end(tb, j2)]  # type: ignore[union-attr,arg-type]
                kept = i1 == i2 and bool(out) and not ends_space and _spaced(ta, i1)  # type: ignore[arg-type]
                out.extend(_inserted(text, kept))
                if kept and not text[-1:].isspace():  # 'scientists{+-+}who': the original's space is its alone
                    out.append(Span(text_a[ta.ends[i1 - 1] : ta.starts[i1]], "deleted"))  # type: ignore[union-attr]
            elif space:  # the rewrite's space; the original's too unless its next word is glued on ('said, "and')
                out.append(Span(space, "inserted" if ta.glued(i2) else "equal"))  # type: ignore[union-attr]
        return out

    def _similarity(self, os_: tuple[int, ...], rs_: tuple[int, ...], changed: bool) -> float:
        """Share of the block's words in corresponding sentences, weighted by their similarity."""
        if not os_ or not rs_:
            return 0.0
        if not changed:
            return 1.0
        a, b = self.a, self.b
        total = covered = 0.0
        for side, ps, own, other_paras in ((a, os_, self.m.o2r, rs_), (b, rs_, self.m.r2o, os_)):
            partner = b if side is a else a
            for p in ps:
                for s in side.sentences_of(p):
                    n = side.words(s)
                    total += n
                    hit = own.get(s)
                    if hit is not None and partner.sent_para[hit[0]] in other_paras:
                        covered += n * hit[1]
        return covered / total if total else 0.0

    def _shares(self, part: Part) -> tuple[float, ...]:
        if part.kind not in ("split", "merged"):
            return ()
        one, many, own, one_side, many_side = (
            (part.original[0], part.rewrite, self.m.o2r, self.a, self.b)
            if part.kind == "split"
            else (part.rewrite[0], part.original, self.m.r2o, self.b, self.a)
        )
        got: dict[int, float] = defaultdict(float)
        total = 0
        for s in one_side.sentences_of(one):
            n = one_side.words(s)
            total += n
            hit = own.get(s)
            if hit is not None:
                got[many_side.sent_para[hit[0]]] += n
        return tuple(got[q] / total if total else 0.0 for q in many)

    def _furniture(self, part: Part) -> Block:
        a, b = self.a, self.b
        if part.original and part.rewrite:
            po, pr = a.paras[part.original[0]], b.paras[part.rewrite[0]]
            same = exact_key(po.text) == exact_key(pr.text)
            mark = "equal" if same else "changed"
            kind = ("identical" if same else "reworded") if not part.moved else "moved"
            return Block(
                kind=kind,
                original=part.original,
                rewrite=part.rewrite,
                similarity=1.0 if same else jaccard(po.text, pr.text),
                role=part.role,
                moved=part.moved,
                changed=not same,
                original_spans=((Span(po.text, mark),),),
                rewrite_spans=((Span(pr.text, mark),),),
            )
        side, idx = (a, part.original) if part.original else (b, part.rewrite)
        text = side.paras[idx[0]].text
        spans = ((Span(text, part.kind),),)
        return Block(
            kind=part.kind,
            original=part.original,
            rewrite=part.rewrite,
            similarity=0.0,
            role=part.role,
            changed=True,
            original_spans=spans if part.original else (),
            rewrite_spans=spans if part.rewrite else (),
        )

    def _kept_share(self, x: int) -> float:
        """Share of the rewrite sentence paired with original ``x`` whose words
        the word diff keeps unchanged (words: tokens that hold a letter or digit;
        a sentence's words are counted in these units on both sides of the share)."""
        pr = self.pair(x)
        if pr.equal or pr.tb is None:
            return 1.0 if pr.equal else 0.0
        words = [j for j, k in enumerate(pr.tb.keys) if any(c.isalnum() for c in k)]
        return sum(1 for j in words if j not in pr.changed_b) / len(words) if words else 0.0

    # -- summary --------------------------------------------------------------------------------
    def summary(self, blocks: Sequence[Block]) -> Summary:
        a, b = self.a, self.b
        total = carried = verbatim = 0
        for r in b.body:
            if r not in b.first:  # not split: the twin of an identical paragraph
                n = b.body_words(r)
                total, carried, verbatim = total + n, carried + n, verbatim + n
        for y in range(len(b.sent_key)):
            n = b.words(y)
            total += n
            hit = self.m.r2o.get(y)
            if hit is None:
                continue
            carried += n
            verbatim += n * self._kept_share(hit[0])
        added_by: dict[str, int] = defaultdict(int)
        dropped_by: dict[str, int] = defaultdict(int)
        for blk in blocks:
            if blk.kind == "added":
                added_by[blk.role] += 1
            elif blk.kind == "dropped":
                dropped_by[blk.role] += 1
        dl0 = {exact_key(p.dateline) for p in a.paras if p.dateline}
        dl1 = {exact_key(p.dateline) for p in b.paras if p.dateline}
        pairs = [blk for blk in blocks if blk.kind in ("identical", "reworded", "moved")]
        return Summary(
            original_paragraphs=len(a.paras),
            rewrite_paragraphs=len(b.paras),
            carried_over=carried / total if total else 0.0,
            verbatim=min(verbatim / total, 1.0) if total else 0.0,
            identical=sum(1 for blk in pairs if not blk.changed),
            reworded=sum(1 for blk in pairs if blk.changed),
            moved=sum(1 for blk in blocks if blk.moved),
            split=sum(1 for blk in blocks if blk.kind == "split"),
            merged=sum(1 for blk in blocks if blk.kind == "merged"),
            added=sum(added_by.values()),
            dropped=sum(dropped_by.values()),
            added_by_role=tuple(sorted(added_by.items())),
            dropped_by_role=tuple(sorted(dropped_by.items())),
            sentences_added=len(b.sent_key) - len(self.m.r2o),
            sentences_dropped=len(a.sent_key) - len(self.m.o2r),
            datelines_added=len(dl1 - dl0),
            datelines_dropped=len(dl0 - dl1),
        )


def _run_end(toks: Words, k: int) -> int:
    """Where a run of tokens ending before token ``k`` ends, with the spaces after it."""
    return toks.starts[k] if k < len(toks) else toks.ends[-1]


def _spaced(toks: Words, k: int) -> bool:
    """Whether a space separates token ``k`` from the token before it."""
    return 0 < k < len(toks) and toks.starts[k] > toks.ends[k - 1]


def _trailing_space(out: list[Span]) -> str:
    """The spaces that end the last run, taken off it."""
    kept = out[-1].text.rstrip()
    space = out[-1].text[len(kept) :]
    out[-1] = Span(kept, out[-1].mark, out[-1].ref)
    return space


def _inserted(text: str, space_kept: bool) -> list[Span]:
    """An inserted run; when ``space_kept`` (words inserted right after a word,
    where the original has a space: "Butler{+, who+} returned"), the spaces
    after it are the original's too and stay out of it."""
    body = text.rstrip() if space_kept else text
    return [Span(body, "inserted")] + ([Span(text[len(body) :], "equal")] if len(body) < len(text) else [])


def _text(side: Side, s: int, toks: Words | None, i1: int, i2: int) -> str:
    """The text tokens ``i1:i2`` of flat sentence ``s`` cover, as in its paragraph."""
    if toks is None or i1 >= i2:
        return ""
    return side.paras[side.sent_para[s]].text[toks.starts[i1] : toks.ends[i2 - 1]]


def _fill(text: str, runs: list[list]) -> tuple[Span, ...]:
    """Spans covering ``text`` exactly: the marked runs, gaps as ``equal``; a
    gap of spaces between two runs with the same mark takes that mark."""
    merged: list[list] = []
    for run in runs:
        if (
            merged
            and merged[-1][2] == run[2] != "equal"
            and merged[-1][3] == run[3]
            and not text[merged[-1][1] : run[0]].strip()
        ):
            merged[-1][1] = run[1]
        else:
            merged.append(list(run))
    out: list[Span] = []
    pos = 0
    for start, end, mark, ref in merged:
        if start > pos:
            out.append(Span(text[pos:start], "equal"))
        out.append(Span(text[start:end], mark, ref))
        pos = end
    if pos < len(text):
        out.append(Span(text[pos:], "equal"))
    joined: list[Span] = []
    for s in out:
        if joined and joined[-1].mark == s.mark == "equal":
            joined[-1] = Span(joined[-1].text + s.text, "equal")
        else:
            joined.append(s)
    return tuple(joined)


def _add_gap(runs: list[Span], original: str, rewrite: str) -> None:
    """The gap after a sentence of the pair: both sides' when both have a
    space or neither has, kept out of a deleted or inserted run; else the one
    side's, marked as its alone (Chinese "。" against "。 ")."""
    if bool(original) != bool(rewrite):
        runs.append(Span(original, "deleted") if original else Span(rewrite, "inserted"))
    elif rewrite:
        last = runs[-1]
        runs[-1:] = [Span(last.text + rewrite, "equal")] if last.mark == "equal" else [last, Span(rewrite, "equal")]


def _gap(side: Side, s: int) -> str:
    """What the inline view puts after flat sentence ``s``: a space where its
    paragraph has one before the next sentence (or none follows), nothing
    where the next starts at once (Chinese and Japanese write no space)."""
    nxt = s + 1
    if nxt >= len(side.sent_para) or side.sent_para[nxt] != side.sent_para[s]:
        return " "
    text = side.paras[side.sent_para[s]].text
    return " " if text[side.sent_start[s] + len(side.sent_text[s]) : side.sent_start[nxt]] else ""
