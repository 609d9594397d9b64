"""The ``dedup`` command: the parser of every subcommand and the one place
errors become exit codes and one-line messages (never a traceback).

:mod:`dedup.cli.app`, the entry point, imports this module once Ctrl-C is
handled (:mod:`dedup.cli.interrupt`); while a command runs, Ctrl-C is a
KeyboardInterrupt again, said here as one line and exit code 130."""

from __future__ import annotations

import argparse
import codecs
import io
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from .. import __version__
from ..io import InputError, OutputError
from . import cluster, dedupe, index, report, spark
from .args import EXIT_INPUT, EXIT_INTERRUPTED, EXIT_USAGE, Formatter, Parser, UsageError, check_args, say
from .interrupt import interruptible

__all__ = ["main", "build_parser"]

_COMMANDS = (cluster, report, dedupe, index, spark)

EPILOG = """\
examples:
  dedup cluster seeds/
  dedup cluster feed.jsonl --format json -o stories.json
  dedup diff original.txt rewrite.txt -o diff.html
  dedup report feed.jsonl -o report.html
  dedup dedupe feed.jsonl.gz -o kept.jsonl --index feed.dedup

exit codes: 0 done; 1 bad command line; 2 input or output error;
3 done but some records rejected; 130 interrupted.
"""


def build_parser() -> Parser:
    """The argument parser of ``dedup`` and all its subcommands."""
    parser = Parser(
        prog="dedup",
        formatter_class=Formatter,
        epilog=EPILOG,
        description="Find news stories published more than once, group them, and show what rewrites changed.",
    )
    parser.add_argument(
        "--version", action="version", version=f"dedup {__version__}", help="print the version and exit"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for module in _COMMANDS:
        module.register(sub)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    say(f"warning: {message}")  # the message only: never an internal file:line


def _quiet_broken_pipe() -> int:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_INPUT


_CLOSED_STDOUT = "cannot write the output: standard output is closed (use -o FILE)"


class _ClosedBinary(io.RawIOBase):
    """The bytes side of :class:`_ClosedStdout` (``sys.stdout.buffer``, where
    ``dedup dedupe`` writes the records it keeps): writing is the same error."""

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        raise OutputError(_CLOSED_STDOUT)


class _ClosedStdout(io.TextIOBase):
    """Stands for a standard output the shell closed (``>&-``): writing to
    it, as text or through ``buffer`` as bytes, is an output error (exit 2),
    said on stderr."""

    def __init__(self) -> None:
        super().__init__()
        self._buffer = _ClosedBinary()

    @property
    def buffer(self) -> io.RawIOBase:
        """Bytes written here fail as text does."""
        return self._buffer

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        raise OutputError(_CLOSED_STDOUT)


@contextmanager
def _standard_streams() -> Iterator[None]:
    """A closed stdout stands in for by :class:`_ClosedStdout`; a closed
    stderr by the null device, so messages are dropped (``print`` to a None
    stderr would write them to stdout, among the output)."""
    saved = sys.stdout, sys.stderr
    null = None
    if sys.stdout is None:
        sys.stdout = _ClosedStdout()
    if sys.stderr is None:
        sys.stderr = null = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
        if null is not None:
            null.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``dedup`` with ``argv`` (default: the command line); the exit code."""
    with _standard_streams():
        parser = build_parser()
        args = parser.parse_args(argv)
        previous = warnings.showwarning
        warnings.showwarning = _show_warning
        try:
            return _run(args)
        finally:
            warnings.showwarning = previous


def _stdout_encoding_error(exc: Exception) -> str | None:
    """What to say when standard output cannot take a character of the
    data (``PYTHONIOENCODING=ascii``, a Latin-1 console): Python's own
    message names a codec and a position, not the output or the remedy."""
    if not isinstance(exc, UnicodeEncodeError):
        return None
    encoding = getattr(sys.stdout, "encoding", None) or ""
    if codecs.lookup(exc.encoding).name != _codec(encoding):
        return None
    char = exc.object[exc.start : exc.start + 1]
    return (
        f"cannot write standard output: its encoding, {encoding}, has no {char!r}; "
        "write to a file (-o FILE, always UTF-8) or set PYTHONIOENCODING=utf-8"
    )


def _codec(name: str) -> str | None:
    """The codec's canonical name, None for an unknown one."""
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _run(args: argparse.Namespace) -> int:
    """The command of ``args``, its options checked first; every error as one line and its exit code."""
    try:
        with interruptible():  # Ctrl-C a KeyboardInterrupt while the command runs (caught below)
            check_args(args)  # wrong option values exit 1 before any work
            return int(args.func(args) or 0)
    except UsageError as exc:
        say(f"error: {exc}")
        return EXIT_USAGE
    except FileNotFoundError as exc:
        say(f"error: {exc.args[0] if exc.args and isinstance(exc.args[0], str) else exc}")
        return EXIT_INPUT
    except (InputError, OSError, ValueError, TypeError, ImportError, RuntimeError) as exc:
        if isinstance(exc, BrokenPipeError):  # output piped into head & co.: stop quietly
            return _quiet_broken_pipe()
        say(f"error: {_stdout_encoding_error(exc) or exc}")
        return EXIT_INPUT
    except KeyboardInterrupt:
        say("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug: still one line, never a traceback
        say(f"error: unexpected {type(exc).__name__}: {exc} (a bug in dedup: please report it with the command line)")
        return EXIT_INPUT
