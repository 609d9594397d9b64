"""JSON text for every JSON output: ``json.dumps`` keeping non-ASCII text
readable (UTF-8, not ``\\u`` escapes), but with the characters that act on
a display instead of showing written as ``\\uXXXX`` escapes.

Why: JSON lets these characters stand raw inside a string, and
``json.dumps(..., ensure_ascii=False)`` leaves them so. Raw, a C1 control
(U+009B is CSI) can start an escape sequence when the file is shown in a
terminal (``cat``, ``tail -f``); a bidirectional override or mark (U+202E,
U+200F) makes an id or title in a viewer read differently from the data;
U+2028 and U+2029 break a JSON line in two in editors (and end a string in
JavaScript before ES2019). Escaped, the output is the same data --
``json.loads`` returns the very same strings -- and plain ASCII where those
characters stood. Every other character (accents, CJK, emoji) stays UTF-8;
``json.dumps`` itself already escapes the C0 controls.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["INVISIBLE", "escape_invisible", "dumps"]

#: what ``json.dumps`` leaves raw and is written escaped: DEL and the C1 controls,
#: the bidirectional marks, embeddings, overrides and isolates, the line and paragraph separators
INVISIBLE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match[str]) -> str:
    """The JSON escape of one character (``\\u202e``)."""
    return f"\\u{ord(m.group()):04x}"


def escape_invisible(text: str) -> str:
    """JSON text as ``json.dumps`` writes it, with each :data:`INVISIBLE`
    character as its ``\\uXXXX`` escape. Outside its strings JSON text is
    ASCII, so every such character is inside a string, where the escape
    stands for the same character: the value is unchanged."""
    return INVISIBLE.sub(_escape, text)


def dumps(obj: Any, **kwargs: Any) -> str:
    """``json.dumps(obj, ensure_ascii=False, **kwargs)``, :data:`INVISIBLE`
    characters escaped (:func:`escape_invisible`)."""
    return escape_invisible(json.dumps(obj, ensure_ascii=False, **kwargs))
