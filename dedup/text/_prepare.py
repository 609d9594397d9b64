"""Compiled text preparation (numba): the comparison text of plain ASCII
articles from their bytes, equal to :func:`dedup.text.normalise.similarity_text`.

Two passes around one Python step. :func:`paragraph_spans` cleans each text
(line ends, control characters, runs of spaces) and cuts it into paragraphs
as :func:`~dedup.text.normalise.paragraphs` does, and flags every paragraph
that *could* be a dateline, a credit line, a date or a header (short, or
opening with a capital pair, a bracket, a digit, a month or day name or a
credit word); only those are read by the regexes in Python. :func:`fold_kept`
then folds the kept paragraphs (from the dateline's end) as
:func:`~dedup.text.normalise.fold` does. Texts with markup or character
references (``<``, ``&``) take the Python path.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..arrays import KERNEL_OPTIONS
from ._kernels import drops_possessive

# Lower-case openings that may start a credit line (``_CREDIT_RE``) or a date
# (``_DATE_ONLY_RE``, ``_DATELINE_RE``): a paragraph whose first word starts
# with none of them is neither.
_OPENINGS = (
    ("with", "additional", "input", "reporting", "writing", "editing", "contribution", "compiled", "edited")
    + ("written", "reported", "produced", "source", "image", "photo", "video", "credit", "copyright")
    + ("all", "this", "by")
    + ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    + ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
)


def _opening_table() -> tuple[np.ndarray, np.ndarray]:
    words = [w.encode("ascii") for w in _OPENINGS]
    ends = np.cumsum([len(w) for w in words]).astype(np.int64)
    return np.frombuffer(b"".join(words), np.uint8).copy(), np.concatenate([[0], ends]).astype(np.int64)


OPENING_BYTES, OPENING_OFFSETS = _opening_table()

# A header is at most this long, an agency tail ('Reuters') shorter; longer
# credit and date lines open with one of _OPENINGS.
SHORT = 80


@njit(inline="always")
def _is_control(c):
    return c <= 8 or c == 11 or c == 12 or (14 <= c <= 31) or c == 127


@njit(inline="always")
def _clean_into(buf, lo, hi, out):
    """``normalise.clean`` of plain ASCII ``buf[lo:hi]`` (no markup) into
    ``out``: line ends unified, controls deleted, runs of spaces and tabs
    made one space, every line stripped, the whole stripped. Returns its length."""
    o = 0
    last = 10  # out[o - 1], or a line end when o == 0: no space opens the text or a line
    for i in range(lo, hi):
        c = buf[i]
        if 32 <= c <= 126:  # most bytes: printable or a space
            out[o] = c  # a space after a space or a line end is not kept: no branch on it (a word's length)
            keep = (c != 32) | ((last != 32) & (last != 10))
            o += np.int64(keep)
            last = c if keep else last
            continue
        if c == 13:
            if i + 1 < hi and buf[i + 1] == 10:
                continue
            c = 10
        if _is_control(c):
            continue
        if c == 9:
            if last == 32 or last == 10:
                continue  # a run goes to one space; no space opens a line
            c = 32
        elif c == 10:
            if o > 0 and out[o - 1] == 32:
                o -= 1  # no space closes a line
            if o == 0:
                last = 10
                continue  # the whole is stripped: no newline opens it
        out[o] = c
        o += 1
        last = c
    while o > 0 and (out[o - 1] == 32 or out[o - 1] == 10):
        o -= 1
    return o


@njit(inline="always")
def _opens_with(p, lo, hi, words, offsets):
    """Whether the letters opening ``p[lo:hi]`` (lower-cased) start with one of ``words``."""
    for w in range(len(offsets) - 1):
        a, b = offsets[w], offsets[w + 1]
        if hi - lo < b - a:
            continue
        same = True
        for q in range(b - a):
            c = p[lo + q]
            if 65 <= c <= 90:
                c += 32
            if c != words[a + q]:
                same = False
                break
        if same:
            return True
    return False


@njit(inline="always")
def _may_be_special(p, lo, hi, words, offsets):
    """Whether paragraph ``p[lo:hi]`` could be anything but plain body text
    without a dateline; ``False`` proves it is that."""
    if hi - lo <= SHORT:
        return True
    c = p[lo]
    if c == 40 or c == 91 or 48 <= c <= 57:  # ( [ or a digit
        return True
    d = p[lo + 1]
    if 65 <= c <= 90 and ((65 <= d <= 90) or d == 46 or d == 39 or d == 45):  # a place in capitals
        return True
    return _opens_with(p, lo, hi, words, offsets)


@njit(**KERNEL_OPTIONS)
def paragraph_spans(buf, doc_offsets, words, offsets):
    """Paragraphs of plain ASCII documents as ``normalise.paragraphs`` gives
    them: ``(text, starts, ends, doc_paragraphs, special)``, paragraph ``k``
    is ``text[starts[k]:ends[k]]``, document ``d``'s are
    ``doc_paragraphs[d]:doc_paragraphs[d+1]``, and ``special[k]`` says it
    must be classified (see :func:`_may_be_special`). One pass cleans a
    document into ``text``; the paragraphs then come from its line ends."""
    n_docs = len(doc_offsets) - 1
    width = 1
    for d in range(n_docs):
        width = max(width, doc_offsets[d + 1] - doc_offsets[d])
    lines = np.empty(width, np.int64)
    text = np.empty(len(buf), np.uint8)
    starts = np.empty(len(buf) + 1, np.int64)  # a paragraph has a character at least
    ends = np.empty(len(buf) + 1, np.int64)
    doc_paragraphs = np.zeros(n_docs + 1, np.int64)
    o, k = 0, 0
    for d in range(n_docs):
        n = _clean_into(buf, doc_offsets[d], doc_offsets[d + 1], text[o:])
        m = 0
        for i in range(o, o + n):
            if text[i] == 10:
                lines[m] = i
                m += 1
        k = _cut_paragraphs(text, o, o + n, lines, m, starts, ends, k)
        doc_paragraphs[d + 1] = k
        o += n
    special = np.zeros(k, np.bool_)
    for q in range(k):
        special[q] = _may_be_special(text, starts[q], ends[q], words, offsets)
    return text[:o], starts[:k], ends[:k], doc_paragraphs, special


@njit(inline="always")
def _cut_paragraphs(text, lo, hi, lines, m, starts, ends, k):
    """The paragraphs of cleaned ``text[lo:hi]`` whose line ends are
    ``lines[:m]``: blank lines separate them when there are any (a single
    line end then joins two lines with a space), else every line end does.
    Returns the new number of paragraphs."""
    blank = False
    for t in range(1, m):
        if lines[t] == lines[t - 1] + 1:
            blank = True
            break
    start = lo
    t = 0
    while t < m:
        pos = lines[t]
        run = 1
        while t + run < m and lines[t + run] == pos + run:
            run += 1
        if blank and run == 1:
            text[pos] = 32
        else:
            starts[k], ends[k] = start, pos
            k += 1
            start = pos + run
        t += run
    if hi > lo:
        starts[k], ends[k] = start, hi
        k += 1
    return k


# What folding makes of each byte: upper case to lower, a backquote a quote.
_FOLDED = np.arange(256, dtype=np.uint8)
_FOLDED[65:91] += 32
_FOLDED[96] = 39


@njit(inline="always")
def _fold_into(p, lo, hi, out, first, o):
    """``normalise.fold`` of one kept paragraph ``p[lo:hi]`` appended to the
    document at ``out[first:o]`` (after a space unless it is empty):
    backquotes as quotes, possessive ``'s`` after a word character
    dropped, runs of spaces as one, lower case. Returns the new end."""
    if o > first and out[o - 1] != 32:
        out[o] = 32  # paragraphs are joined by whitespace
        o += 1
    last = out[o - 1] if o > first else np.uint8(32)  # a space after it is not kept
    q = lo
    while q < hi:
        c = p[q]
        if (c == 39 or c == 96) and drops_possessive(p, q, lo, hi):
            q += 2
            continue
        f = _FOLDED[c]
        out[o] = f  # kept unless a space after a space: no branch on it (a word's length)
        keep = (f != 32) | (last != 32)
        o += np.int64(keep)
        last = f if keep else last
        q += 1
    return o


@njit(**KERNEL_OPTIONS)
def fold_kept(text, starts, ends, doc_paragraphs, kept_from):
    """Each document's comparison text: its paragraphs with ``kept_from[k] >= 0``,
    from that offset on (past a dateline), folded and joined by spaces --
    ``normalise.similarity_text``. Returns ``(folded, doc_offsets)``."""
    n_docs = len(doc_paragraphs) - 1
    out = np.empty(len(text) + len(starts) + 1, np.uint8)
    doc_offsets = np.zeros(n_docs + 1, np.int64)
    o = 0
    for d in range(n_docs):
        first = o
        for k in range(doc_paragraphs[d], doc_paragraphs[d + 1]):
            if kept_from[k] >= 0:
                o = _fold_into(text, starts[k] + kept_from[k], ends[k], out, first, o)
        if o > first and out[o - 1] == 32:
            o -= 1
        doc_offsets[d + 1] = o
    return out[:o], doc_offsets
