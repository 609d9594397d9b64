"""Word-level diff with a semantic clean-up.

``difflib.SequenceMatcher`` on folded word tokens finds the longest common
runs, which on a rewrite leaves "character confetti": a lone ``the`` or ``,``
kept between two changes. The clean-up merges such small equalities into the
surrounding change, following diff-match-patch's ``cleanupSemantic`` rule (an
equality no longer than the edits on both sides of it goes) plus one of our
own (an equality of at most three stop words or punctuation marks goes), so
changes read as whole words and phrases.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from functools import lru_cache
from typing import NamedTuple, Sequence

from dedup.normalize import fold

from .features import STOP_WORDS

__all__ = ["Token", "word_tokens", "diff_tokens"]

_WORD_RE = re.compile(r"\w+(?:['\u2019.\-]\w+)*|[^\w\s]")


class Token(NamedTuple):
    """A word or punctuation mark: where it is (paragraph, char offsets in the
    paragraph text) and its comparison key (folded). A NamedTuple: millions
    are made for long documents, a frozen dataclass is several times slower."""

    para: int
    start: int
    end: int
    key: str


@lru_cache(maxsize=200_000)
def _key(word: str) -> str:
    # words repeat: folding each distinct word once is most of the speed of tokenising
    return fold(word)


def word_tokens(text: str, para: int, offset: int = 0) -> list[Token]:
    """Tokens of ``text``, which starts at ``offset`` in paragraph ``para``."""
    return [Token(para, offset + m.start(), offset + m.end(), _key(m.group())) for m in _WORD_RE.finditer(text)]


def _weak(tokens: Sequence[Token]) -> bool:
    return len(tokens) <= 3 and all(t.key in STOP_WORDS or not t.key[:1].isalnum() for t in tokens)


def _chars(tokens: Sequence[Token]) -> int:
    return sum(t.end - t.start for t in tokens) + max(len(tokens) - 1, 0)


# An op is [tag, i1, i2, j1, j2] with tag "equal" or "change".
Op = list


def diff_tokens(a: Sequence[Token], b: Sequence[Token], *, max_tokens: int = 5000) -> list[Op]:
    """Opcodes ``[tag, i1, i2, j1, j2]`` (tag ``equal`` or ``change``) turning
    ``a`` into ``b`` after the semantic clean-up. Beyond ``max_tokens`` tokens a
    side, the pair is one change (bounded time on pathological input)."""
    ka = [t.key for t in a]
    kb = [t.key for t in b]
    if ka == kb:
        return [["equal", 0, len(a), 0, len(b)]] if a else []
    if not a or not b or len(a) > max_tokens or len(b) > max_tokens:
        return [["change", 0, len(a), 0, len(b)]]
    sm = SequenceMatcher(None, ka, kb, autojunk=len(kb) > 400)
    ops: list[Op] = []
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        tag = "equal" if tag == "equal" else "change"
        if ops and ops[-1][0] == tag == "change":
            ops[-1][2], ops[-1][4] = i2, j2
        else:
            ops.append([tag, i1, i2, j1, j2])
    return _cleanup(ops, a, b)


def _cleanup(ops: list[Op], a: Sequence[Token], b: Sequence[Token]) -> list[Op]:
    k = 1
    while k < len(ops) - 1:
        eq, before, after = ops[k], ops[k - 1], ops[k + 1]
        if eq[0] == "equal" and before[0] == "change" and after[0] == "change":
            eq_tokens = a[eq[1] : eq[2]]
            eq_len = _chars(eq_tokens)
            len_before = max(_chars(a[before[1] : before[2]]), _chars(b[before[3] : before[4]]))
            len_after = max(_chars(a[after[1] : after[2]]), _chars(b[after[3] : after[4]]))
            if _weak(eq_tokens) or (eq_len <= len_before and eq_len <= len_after):
                ops[k - 1 : k + 2] = [["change", before[1], after[2], before[3], after[4]]]
                k = max(k - 2, 1)  # the grown change may now swallow the equality before it
                continue
        k += 1
    return ops
