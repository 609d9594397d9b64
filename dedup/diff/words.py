"""Word-level diff with a semantic clean-up.

``difflib.SequenceMatcher`` on word tokens (as written: a change of case is
a change) finds the longest common runs, which on a rewrite leaves "character confetti": a lone ``the`` or ``,``
kept between two changes. The clean-up merges such small equalities into the
surrounding change, following diff-match-patch's ``cleanupSemantic`` rule (an
equality no longer than the edits on both sides of it goes, unless it holds
two content words or more: a shared "security guarantees" stays visible inside
a reworded sentence) plus one of our own (an equality of at most three stop
words or punctuation marks goes), so changes read as whole words and phrases.

Tokens are parallel lists (:class:`Words`), not one object per word: a
2,000-paragraph pair has hundreds of thousands of words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

from dedup.text.normalise import fold

from .features import stop_words

__all__ = ["Words", "word_tokens", "diff_tokens"]

_WORD_RE = re.compile(r"\w+(?:['\u2019.\-]\w+)*|[^\w\s]")


@dataclass(frozen=True)
class Words:
    """Words and punctuation marks of one text: comparison keys (the words) and
    character offsets ``[start, end)`` in the paragraph the text belongs to."""

    keys: list[str]
    starts: list[int]
    ends: list[int]

    def __len__(self) -> int:
        return len(self.keys)

    def glued(self, k: int) -> bool:
        """Whether token ``k`` follows the token before it with no space between."""
        return 0 < k < len(self.keys) and self.starts[k] == self.ends[k - 1]


def _key(word: str) -> str:
    """A word's comparison key: the word itself (NFC), so a change of case or
    of a possessive is a change."""
    return word if word.isascii() else unicodedata.normalize("NFC", word)


@lru_cache(maxsize=200_000)
def _folded(word: str) -> str:
    # words repeat: folding each distinct word once (for the stop-word test)
    return fold(word)


def word_tokens(text: str, offset: int = 0) -> Words:
    """Tokens of ``text``, which starts at character ``offset`` of its paragraph."""
    found = list(_WORD_RE.finditer(text))
    return Words(
        [_key(m.group()) for m in found], [offset + m.start() for m in found], [offset + m.end() for m in found]
    )


def _weak(keys: Sequence[str]) -> bool:
    return len(keys) <= 3 and all(_folded(k) in stop_words() or not k[:1].isalnum() for k in keys)


def _content(keys: Sequence[str]) -> int:
    return sum(1 for k in keys if k[:1].isalnum() and _folded(k) not in stop_words())


def _chars(keys: Sequence[str]) -> int:
    return sum(map(len, keys)) + max(len(keys) - 1, 0)


# An op is [tag, i1, i2, j1, j2] with tag "equal" or "change".
Op = list


def diff_tokens(a: Words | Sequence[str], b: Words | Sequence[str], *, max_tokens: int = 5000) -> list[Op]:
    """Opcodes ``[tag, i1, i2, j1, j2]`` (tag ``equal`` or ``change``) turning
    ``a`` into ``b`` (:class:`Words` or lists of keys) after the semantic
    clean-up. Beyond ``max_tokens`` tokens a side, the pair is one change
    (bounded time on pathological input)."""
    ka = a.keys if isinstance(a, Words) else list(a)
    kb = b.keys if isinstance(b, Words) else list(b)
    spaced = isinstance(a, Words) and isinstance(b, Words)
    if ka == kb and not (spaced and any(a.glued(k) != b.glued(k) for k in range(1, len(ka)))):  # type: ignore[union-attr]
        return [["equal", 0, len(ka), 0, len(kb)]] if ka else []
    if not ka or not kb or len(ka) > max_tokens or len(kb) > max_tokens:
        return [["change", 0, len(ka), 0, len(kb)]]
    sm = SequenceMatcher(None, ka, kb, autojunk=len(kb) > 400)
    ops: list[Op] = []
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        tag = "equal" if tag == "equal" else "change"
        if ops and ops[-1][0] == tag == "change":
            ops[-1][2], ops[-1][4] = i2, j2
        else:
            ops.append([tag, i1, i2, j1, j2])
    if spaced:
        ops = _respaced(ops, a, b)  # type: ignore[arg-type]
    return _cleanup(ops, ka, kb)


def _respaced(ops: list[Op], a: Words, b: Words) -> list[Op]:
    """``ops`` with a kept token that is spaced otherwise from the kept token
    before it ("Lt." / "Lt .", "3:33" / "3 : 33", a quote mark moved across a
    space) made a change. The keys are the same but the texts are not, and
    "unchanged" must mean the same text, whitespace aside, as for whole
    paragraphs and sentences (:func:`dedup.diff.parse.exact_key`)."""
    out: list[Op] = []
    for op in ops:
        if op[0] != "equal":
            _push(out, op)
            continue
        _, i1, i2, j1, j2 = op
        start = i1
        for k in range(1, i2 - i1):
            i, j = i1 + k, j1 + k
            if a.glued(i) != b.glued(j):
                if i > start:
                    _push(out, ["equal", start, i, j1 + start - i1, j])
                _push(out, ["change", i, i + 1, j, j + 1])
                start = i + 1
        if start < i2:
            _push(out, ["equal", start, i2, j1 + start - i1, j2])
    return out


def _push(ops: list[Op], op: Op) -> None:
    """Append ``op`` to ``ops``, joined to a change before it when it is a change too."""
    if ops and ops[-1][0] == op[0] == "change":
        ops[-1][2], ops[-1][4] = op[2], op[4]
    else:
        ops.append(op)


def _cleanup(ops: list[Op], a: Sequence[str], b: Sequence[str]) -> list[Op]:
    k = 1
    while k < len(ops) - 1:
        eq, before, after = ops[k], ops[k - 1], ops[k + 1]
        if eq[0] == "equal" and before[0] == "change" and after[0] == "change":
            eq_keys = a[eq[1] : eq[2]]
            eq_len = _chars(eq_keys)
            len_before = max(_chars(a[before[1] : before[2]]), _chars(b[before[3] : before[4]]))
            len_after = max(_chars(a[after[1] : after[2]]), _chars(b[after[3] : after[4]]))
            if _weak(eq_keys) or (eq_len <= len_before and eq_len <= len_after and _content(eq_keys) < 2):
                ops[k - 1 : k + 2] = [["change", before[1], after[2], before[3], after[4]]]
                k = max(k - 2, 1)  # the grown change may now swallow the equality before it
                continue
        k += 1
    return ops
