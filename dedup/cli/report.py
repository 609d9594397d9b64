"""``dedup diff`` and ``dedup report``.

``dedup diff ORIGINAL REWRITE``: one pair, the first argument the original
and the second the rewrite, everywhere (terminal, Markdown, HTML, JSON).
``dedup report PATH...``: cluster the input as ``dedup cluster`` does and
write one HTML page with every story told more than once, each version
against its representative. Rendering is :mod:`dedup.report`'s.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from ..article import Article
from ..io import iter_records, writing
from .args import (
    EXIT_INPUT,
    EXIT_OK,
    EXIT_REJECTED,
    add_command,
    add_input_arguments,
    add_param_arguments,
    add_paths_arguments,
    add_progress_argument,
    check_not_input,
    fields_from_args,
    option,
    plural,
    say,
)
from .reading import cluster_input, log_for

__all__ = ["register", "FORMATS"]

FORMATS = ("html", "md", "term", "json")
_EXT = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md", ".json": "json"}

DIFF_EPILOG = """\
examples:
  dedup diff original.txt rewrite.txt                 coloured on a terminal (not with NO_COLOR)
  dedup diff original.txt rewrite.txt -o diff.html    one self-contained page
  dedup diff a.jsonl b.jsonl --format md              each file holding one record
"""

REPORT_EPILOG = """\
examples:
  dedup report feed.jsonl -o report.html
  dedup report articles/ archive.parquet -o report.html --all
  dedup report archive.jsonl --pages report/          one page per story, report/index.html
"""


def _read_one(path: str, args: argparse.Namespace) -> Article:
    found: list[Article] = []
    for rec in iter_records(path, **fields_from_args(args)):
        if not rec.ok:
            raise ValueError(f"{rec.where()}: {rec.error}")
        found.append(rec.article)  # type: ignore[arg-type]
    if len(found) != 1:
        raise ValueError(f"{path}: expected one article, found {len(found)}")
    return found[0]


def _write(text: str, output: str | None) -> None:
    """``text`` into ``output`` (None: stdout); an error names the file."""
    with writing(output):
        if output:
            Path(output).write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
            sys.stdout.flush()


def _cmd_diff(args: argparse.Namespace) -> int:
    # the diff and its renderers (scipy): loaded when a diff is made, not for --help
    from ..diff import diff_articles
    from ..report import render_html, render_json, render_markdown, render_terminal, use_color

    fmt = args.format
    if fmt is None:
        fmt = _EXT.get(Path(args.output).suffix.lower(), "term") if args.output else "term"
    check_not_input("-o", args.output, [args.original, args.rewrite])
    original = _read_one(args.original, args)
    rewrite = _read_one(args.rewrite, args)
    # the texts as read, whatever the format (a CRLF file is ordinary text): each renderer
    # makes the data safe for its output (terminal: no control characters; md, html: escaped)
    al = diff_articles(original, rewrite)
    if fmt == "html":  # the original first, as in the arguments and the columns
        text = render_html(al, title=f"dedup diff: {original.id} (original) vs {rewrite.id} (rewrite)")
    elif fmt == "md":
        text = render_markdown(al, show_identical=args.all)
    elif fmt == "json":
        text = render_json(al)
    else:
        color = False if args.output else use_color(sys.stdout)
        text = render_terminal(al, color=color, show_identical=args.all)
    _write(text, args.output)
    return EXIT_OK


def _write_pages(pages: dict[str, str], folder: str) -> None:
    """The index and story pages into ``folder`` (made if missing)."""
    out = Path(folder)
    with writing(folder):  # an error names the folder, or the page it failed on
        out.mkdir(parents=True, exist_ok=True)
        for name, html in pages.items():
            (out / name).write_text(html, encoding="utf-8")


def _cmd_report(args: argparse.Namespace) -> int:
    from ..report import render_clusters_html, render_story_pages  # loaded when a report is made

    start = time.monotonic()
    check_not_input("-o", args.output, args.paths)
    log = log_for(args)
    result = cluster_input(args, log)
    n = sum(len(c) for c in result)
    if n == 0:
        say(f"error: {log.why_nothing(args.paths)}")
        return EXIT_INPUT
    min_size = 1 if args.all else 2
    if args.pages:
        _write_pages(render_story_pages(result, title=args.title, min_size=min_size), args.pages)
    else:
        _write(render_clusters_html(result, title=args.title, min_size=min_size), args.output)
    multi = sum(1 for c in result if len(c) > 1)
    where = args.pages and str(Path(args.pages) / "index.html")
    target = f" -> {where or args.output}" if where or args.output else ""
    say(
        f"{plural(n, 'article')}, {plural(multi, 'story', 'stories')} told more than once, "
        f"{log.rejected:,} rejected, {time.monotonic() - start:.1f} s{target}"
    )
    return EXIT_REJECTED if log.rejected else EXIT_OK


def register(subparsers: Any) -> None:
    """Add ``dedup diff`` and ``dedup report``."""
    p = add_command(
        subparsers,
        "diff",
        "show what a rewrite added, dropped, moved or reworded",
        "Align REWRITE against ORIGINAL paragraph by paragraph and show the changes: the original "
        "on the left, the rewrite on the right.",
        DIFF_EPILOG,
    )
    p.add_argument(
        "original",
        metavar="ORIGINAL",
        help="the original article (.txt, or a .jsonl/.csv/.parquet file holding one record)",
    )
    p.add_argument("rewrite", metavar="REWRITE", help="the rewrite, in the same forms")
    p.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="html, md, term or json (default: from the -o extension, else term)",
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    p.add_argument("--all", action="store_true", help="md and term: also list identical paragraphs")
    add_input_arguments(p)
    p.set_defaults(func=_cmd_diff)

    r = add_command(
        subparsers,
        "report",
        "HTML page: every story told more than once, each version against its representative",
        "Cluster the input as 'dedup cluster' does, then write one HTML page with a table of contents.",
        REPORT_EPILOG,
    )
    add_paths_arguments(r)
    where = r.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", metavar="FILE", help="write the HTML here instead of stdout")
    where.add_argument(
        "--pages",
        metavar="DIR",
        help="one page per story in DIR, with DIR/index.html linking them (each page as large as its story)",
    )
    option(r, "--title", default="dedup story report", help="page title")
    r.add_argument("--all", action="store_true", help="also list stories told only once")
    add_progress_argument(r)
    add_param_arguments(r)
    r.set_defaults(func=_cmd_report)
