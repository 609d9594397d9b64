"""Transitional alias of :mod:`dedup.live` for ``dedup/dedupe.py`` until it imports
``dedup.live`` (the CLI helper's move); remove at the merge."""

from . import live as _live
from .live import *  # noqa: F403

__all__ = _live.__all__
