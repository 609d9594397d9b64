"""What every command shares: the exit codes, the options that read articles
and set the pipeline's parameters, and the wording helpers (plurals,
terminal-safe text, one-line messages on stderr).

Command modules import this module; nothing here imports a command, so the
commands and :mod:`dedup.cli.app` form no circle.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

from ..io import FieldMap, expand_paths, special_file
from ..params import LINKAGES, MAX_WINDOW_DAYS, Params
from .interrupt import EXIT_INTERRUPTED

__all__ = [
    "EXIT_OK",
    "EXIT_USAGE",
    "EXIT_INPUT",
    "EXIT_REJECTED",
    "EXIT_INTERRUPTED",
    "EXIT_CODES",
    "exit_codes_table",
    "UsageError",
    "check_args",
    "redis_address",
    "Parser",
    "Formatter",
    "add_command",
    "option",
    "add_input_arguments",
    "add_paths_arguments",
    "add_param_arguments",
    "add_progress_argument",
    "params_from_args",
    "fields_from_args",
    "plural",
    "safe",
    "say",
    "same_file",
    "check_not_input",
    "check_index_path",
]

EXIT_OK = 0
EXIT_USAGE = 1
EXIT_INPUT = 2
EXIT_REJECTED = 3

#: the one table of exit codes every command uses (the README prints it)
EXIT_CODES = (
    (EXIT_OK, "done; every record was used"),
    (EXIT_USAGE, "bad command line (unknown option, wrong value): see --help"),
    (
        EXIT_INPUT,
        "input or output error: a file is missing or unreadable, nothing usable was read, "
        "an index or Redis failed; the message says which",
    ),
    (
        EXIT_REJECTED,
        "done, but some records were rejected: each is named on stderr as file:line: reason "
        "(--errors FILE for dedupe lists them all)",
    ),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C)"),
)


def exit_codes_table() -> str:
    """:data:`EXIT_CODES` as the Markdown table the README shows."""
    rows = [f"| `{code}` | {meaning} |" for code, meaning in EXIT_CODES]
    return "\n".join(["| code | meaning |", "| --- | --- |", *rows])


class UsageError(ValueError):
    """A wrong option value or combination: the command exits with
    :data:`EXIT_USAGE` (1), the message naming the option."""


# C0 and C1 controls (but tab and newline), DEL, the bidirectional marks, overrides and
# isolates (what JSON outputs escape too, dedup.io.jsontext.INVISIBLE); on one line also
# the line and paragraph separators, which would break it
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROL_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def safe(text: str, *, one_line: bool = False) -> str:
    """``text`` with control characters from the data shown escaped (``\\x1b``),
    so that no escape sequence in an id, title or text reaches a terminal;
    ``one_line`` escapes newlines and tabs too."""
    return (_CONTROL_LINE if one_line else _CONTROL).sub(_escape, text)


def say(message: str) -> None:
    """One line on stderr, prefixed ``dedup:``, control characters escaped."""
    print(f"dedup: {safe(message, one_line=True)}", file=sys.stderr, flush=True)


def plural(n: int, word: str, many: str | None = None) -> str:
    """``"1 story"``, ``"2 stories"``, ``"1,024 articles"``."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs as written (examples keep their lines)."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors exit with :data:`EXIT_USAGE`."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def add_command(subparsers: Any, name: str, help: str, description: str, epilog: str) -> argparse.ArgumentParser:
    """A subcommand whose help shows its description and examples as written."""
    return subparsers.add_parser(name, help=help, description=description, epilog=epilog, formatter_class=Formatter)


def option(p: Any, *flags: str, help: str, **kwargs: Any) -> None:
    """``p.add_argument`` with the default named at the end of the help text
    (``(default: first)``), as every option with a default shows it."""
    p.add_argument(*flags, help=f"{help} (default: %(default)s)", **kwargs)


def add_input_arguments(p: argparse.ArgumentParser, *, delimiter: bool = True) -> None:
    """--text-field, --id-field, --title-field, --published-field (and --delimiter)."""
    d = FieldMap()
    g = p.add_argument_group("input fields (JSONL keys, CSV header names, Parquet columns)")
    for name, default, what in (
        ("text", d.text, "the article text"),
        ("id", d.id, "the article id (a record without one gets FILE:LINE)"),
        ("title", d.title, "the headline"),
        ("published", d.published, "the publication time (ISO 8601, or epoch seconds or milliseconds)"),
    ):
        option(g, f"--{name}-field", default=default, metavar="NAME", help=f"field holding {what}")
    if delimiter:
        g.add_argument(
            "--delimiter",
            default=None,
            metavar="CHAR",
            help=r"CSV delimiter (default: sniffed from the header line among , ; | and tab; "
            r"'\t' for tab)",
        )


def add_param_arguments(p: argparse.ArgumentParser, *, delimiter: bool = True) -> None:
    """The pipeline parameters most often changed, as options (defaults: ``dedup.Params``),
    and the input field options."""
    d = Params()
    g = p.add_argument_group("clustering parameters")
    option(
        g,
        "--threshold",
        type=float,
        default=d.threshold,
        help="score at or above which two articles are the same story",
    )
    option(g, "--linkage", choices=LINKAGES, default=d.linkage, help="how scored pairs become stories")
    option(
        g,
        "--copy-threshold",
        type=float,
        default=d.copy_threshold,
        help="estimated shingle Jaccard at or above which two articles are copies",
    )
    g.add_argument(
        "--time-window",
        type=float,
        default=None,
        metavar="DAYS",
        help="compare only articles published within DAYS of each other (default 7; 0: no window)",
    )
    option(g, "--jobs", type=int, default=d.n_jobs, help="worker processes (-1: all cores)")
    add_input_arguments(p, delimiter=delimiter)


def add_paths_arguments(p: argparse.ArgumentParser) -> None:
    """PATH... and --input-format: the articles a command reads."""
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help=".txt files, folders, .jsonl, .csv or .parquet files (.gz looked through); - for JSONL on stdin",
    )
    p.add_argument(
        "--input-format",
        choices=("jsonl", "csv", "parquet", "txt"),
        default=None,
        help="read every input file as this format (default: from each file name)",
    )


def add_progress_argument(p: argparse.ArgumentParser) -> None:
    """--progress / --no-progress (default: a bar only when stderr is a terminal)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="show a progress bar on stderr even when it is not a terminal",
    )
    g.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="no progress bar, even on a terminal (the summary line stays)",
    )


#: the option of each parameter ``params_from_args`` sets
_OPTION_OF = {
    "threshold": "--threshold",
    "linkage": "--linkage",
    "copy_threshold": "--copy-threshold",
    "n_jobs": "--jobs",
}


def _time_window(days: float) -> float | None:
    """``--time-window``: days, or None for 0 (no window)."""
    if days == 0:
        return None
    if not (math.isfinite(days) and 0 < days <= MAX_WINDOW_DAYS):
        raise UsageError(
            f"--time-window takes a positive number of days up to {MAX_WINDOW_DAYS:,} (0: no window), got {days:g}"
        )
    return days


def params_from_args(args: argparse.Namespace) -> Params:
    """The :class:`dedup.Params` of the clustering options; a :class:`UsageError`
    naming the option whose value is wrong."""
    kw: dict[str, Any] = dict(
        threshold=args.threshold, linkage=args.linkage, copy_threshold=args.copy_threshold, n_jobs=args.jobs
    )
    if args.time_window is not None:
        kw["time_window"] = _time_window(args.time_window)
    try:
        return Params(**kw)
    except ValueError as exc:  # "threshold must be ...": name the option instead
        name, _, rest = str(exc).partition(" ")
        raise UsageError(f"{_OPTION_OF.get(name, name)} {rest}") from None


def fields_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The reader keywords of the input options (``text_field=...``, ``delimiter=...``)."""
    delim = getattr(args, "delimiter", None)
    if delim is not None:
        delim = {"\\t": "\t", "tab": "\t"}.get(delim, delim)
        if len(delim) != 1:
            raise UsageError(f"--delimiter takes one character, got {delim!r}")
    return dict(
        text_field=args.text_field,
        id_field=args.id_field,
        title_field=args.title_field,
        published_field=args.published_field,
        delimiter=delim,
    )


def redis_address(value: str) -> dict[str, Any] | str:
    """``--redis``: a URL as it stands, or HOST:PORT as connection arguments."""
    if "://" in value:
        return value
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--redis takes HOST:PORT or a redis:// URL, got {value!r}")
    return {"host": host, "port": int(port)}


def _check_index_options(args: argparse.Namespace) -> None:
    """--max-live, --redis and --index (``dedup dedupe``)."""
    max_live = getattr(args, "max_live", None)
    if max_live is not None and max_live < 1:
        raise UsageError(f"--max-live takes a positive number of articles, got {max_live}")
    if getattr(args, "redis", None):
        if getattr(args, "index", None):
            raise UsageError("--index and --redis are alternatives: a Redis index is stored on the server")
        redis_address(args.redis)


def check_args(args: argparse.Namespace) -> None:
    """Every option value of the command, checked before any work is done: a
    :class:`UsageError` (exit 1) naming the option. The shared options are
    checked where the command has them, then the command's own ``check``
    (``parser.set_defaults(check=...)``), which may also raise an OSError for
    a path that cannot be used (exit 2)."""
    if hasattr(args, "threshold"):
        params_from_args(args)
    if hasattr(args, "text_field"):
        fields_from_args(args)
    _check_index_options(args)
    check: Callable[[argparse.Namespace], None] | None = getattr(args, "check", None)
    if check is not None:
        check(args)


def same_file(a: str, b: str) -> bool:
    """Whether two paths name one regular file (through links and relative
    paths; a device such as /dev/null may be named twice)."""
    if special_file(a) or special_file(b):
        return False
    try:
        if os.path.exists(a) and os.path.exists(b):
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)


def check_not_input(flag: str, output: str | None, inputs: Iterable[str]) -> None:
    """Refuse, before anything is read, an output file that is one of the
    input files (named, or found in a folder given): writing it would
    replace the articles with the result. Raises ValueError (exit code 2),
    as ``dedup dedupe`` does for its outputs."""
    if not output or output == "-":
        return
    for path in expand_paths(inputs):
        if path != "-" and same_file(output, path):
            which = "" if path == output else f" {path}"
            raise ValueError(
                f"{flag} {output} is the input file{which}: refusing to overwrite the input; write elsewhere"
            )


def check_index_path(what: str, path: str) -> None:
    """Refuse an index path that is there but is no regular file: a device
    such as /dev/zero would be read without end (the loader reads the whole
    file), a folder cannot be read at all. Raises ValueError naming it (exit code 2)."""
    if special_file(path):
        raise ValueError(f"{what} {path} is not a regular file: give the file an index is saved in")
