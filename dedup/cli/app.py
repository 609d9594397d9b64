"""The ``dedup`` command's entry point (``dedup = "dedup.cli.app:main"``,
``python -m dedup``).

Importing this module is cheap (the standard library only: ``dedup`` and
``dedup.cli`` load their names lazily), so :func:`main` has Ctrl-C handled
before the heavy modules are imported: an interrupt during that import, or
while the command line is parsed, prints the one line ``dedup: interrupted``
and exits 130, as an interrupted command does -- never a traceback.
"""

from __future__ import annotations

from .interrupt import exit_on_interrupt

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Sequence

    from .args import Parser

__all__ = ["main", "build_parser"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``dedup`` with ``argv`` (default: the command line); the exit code."""
    with exit_on_interrupt():
        from . import dispatch  # numpy, scipy, numba...: about half a second

        return dispatch.main(argv)


def build_parser() -> Parser:
    """The argument parser of ``dedup`` and all its subcommands (:func:`dedup.cli.dispatch.build_parser`)."""
    from .dispatch import build_parser as build

    return build()
