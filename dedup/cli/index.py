"""``dedup index stats``: what a saved story index holds."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .args import EXIT_OK, add_command, check_index_path

__all__ = ["register", "run"]

EPILOG = """\
examples:
  dedup index stats feed.dedup
"""


def register(subparsers: Any) -> None:
    """Add ``dedup index``."""
    q = add_command(
        subparsers,
        "index",
        "inspect a saved story index",
        "Print what a story index saved by 'dedup dedupe --index' holds, as JSON.",
        EPILOG,
    )
    q.add_argument("action", choices=("stats",), help="stats: counts of articles, stories and live articles")
    q.add_argument("path", metavar="PATH", help="the index file")
    q.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the index's stats as JSON."""
    from ..live import StoryIndex  # numba and scipy: loaded to read an index, not for --help

    check_index_path("index", args.path)
    index = StoryIndex.load(args.path)
    json.dump(index.stats(), sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
    return EXIT_OK
