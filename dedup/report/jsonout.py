"""JSON output of an alignment: the versioned schema in ``docs/diff-json-schema.md``
(``schema_version`` ``"2.0"``); this module only serialises
:meth:`dedup.diff.Alignment.to_dict`.

Text is UTF-8 as it is (accents, CJK, emoji), except the characters that act
on a display rather than show: DEL and the C1 controls, the bidirectional
marks, embeddings, overrides and isolates (U+200E, U+202E, U+2066 ...), and
U+2028/U+2029 are written as ``\\uXXXX`` escapes, as ``json.dumps`` writes
the C0 controls (:mod:`dedup.io.jsontext`). The JSON holds the same strings
(``json.loads`` gives them back exactly), but a report shown in a terminal or
viewer cannot be made to read differently from its data.
"""

from __future__ import annotations

from dedup.diff.model import Alignment
from dedup.io.jsontext import dumps

__all__ = ["render_json"]


def render_json(a: Alignment, *, indent: int | None = 2) -> str:
    """``Alignment.to_dict()`` as JSON text (UTF-8 characters kept, controls and bidi characters escaped)."""
    return dumps(a.to_dict(), indent=indent) + "\n"
