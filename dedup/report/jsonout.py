"""JSON output of an alignment: the versioned schema in ``docs/diff-json-schema.md``
(``schema_version`` ``"2.0"``); this module only serialises
:meth:`dedup.diff.Alignment.to_dict`."""

from __future__ import annotations

import json

from dedup.diff.model import Alignment

__all__ = ["render_json"]


def render_json(a: Alignment, *, indent: int | None = 2) -> str:
    """``Alignment.to_dict()`` as JSON text (UTF-8 characters kept)."""
    return json.dumps(a.to_dict(), ensure_ascii=False, indent=indent) + "\n"
