"""The ``dedup diff`` and ``dedup report`` subcommands.

``dedup diff ORIGINAL REWRITE [--format html|md|term|json] [-o FILE]``:
one pair. Without ``--format`` the format follows the ``-o`` extension
(.html/.htm, .md, .json), else terminal text (colour only on a terminal
without ``NO_COLOR``).

``dedup report PATH... [-o FILE]``: cluster the input (files, folders of
.txt, JSONL/CSV, as ``dedup cluster``) and write one HTML page with every
story told more than once, each version against its representative.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from dedup.article import Article

__all__ = ["register"]

FORMATS = ("html", "md", "term", "json")
_EXT = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md", ".json": "json"}


def _read_one(path: str, args: argparse.Namespace) -> Article:
    from dedup.io import read_paths

    errors: list[str] = []
    found = list(
        read_paths([path], text_field=args.text_field, id_field=args.id_field, on_error=lambda r: errors.append(f"{r.where()}: {r.error}"))
    )
    if errors:
        raise ValueError("; ".join(errors))
    if len(found) != 1:
        raise ValueError(f"{path}: expected one article, found {len(found)}")
    return found[0]


def _write(text: str, output: str | None) -> None:
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def _cmd_diff(args: argparse.Namespace) -> int:
    from dedup.diff import diff_articles
    from dedup.report import render_html, render_json, render_markdown, render_terminal, use_color

    fmt = args.format
    if fmt is None:
        fmt = _EXT.get(Path(args.output).suffix.lower(), "term") if args.output else "term"
    original = _read_one(args.original, args)
    rewrite = _read_one(args.rewrite, args)
    al = diff_articles(original, rewrite)
    if fmt == "html":
        text = render_html(al)
    elif fmt == "md":
        text = render_markdown(al, show_identical=args.all)
    elif fmt == "json":
        text = render_json(al)
    else:
        color = False if args.output else use_color(sys.stdout)
        text = render_terminal(al, color=color, show_identical=args.all)
    _write(text, args.output)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    import warnings

    from dedup.cli import params_from_args
    from dedup.cluster import cluster_articles
    from dedup.io import read_paths
    from dedup.report import render_clusters_html

    bad: list[Any] = []
    articles = list(
        read_paths(
            args.paths,
            text_field=args.text_field,
            id_field=args.id_field,
            on_error=lambda r: (bad.append(r), print(f"dedup: {r.where()}: {r.error}", file=sys.stderr)),
        )
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = cluster_articles(articles, params=params_from_args(args))
    for w in caught:
        print(f"dedup: {w.message}", file=sys.stderr)
    page = render_clusters_html(result, title=args.title, min_size=1 if args.all else 2)
    _write(page, args.output)
    if args.output:
        multi = sum(1 for c in result if len(c) > 1)
        print(f"dedup: {len(articles)} articles, {multi} stories told more than once -> {args.output}", file=sys.stderr)
    return 0


def register(subparsers: Any) -> None:
    """Add the ``diff`` and ``report`` subcommands to ``dedup``'s argparse subparsers."""
    from dedup.cli import add_param_arguments

    p = subparsers.add_parser(
        "diff",
        help="show what a rewrite added, dropped, moved or reworded",
        description="Align REWRITE against ORIGINAL paragraph by paragraph and show the changes.",
    )
    p.add_argument("original", metavar="ORIGINAL", help="the original article (.txt, or a .jsonl/.csv holding one record)")
    p.add_argument("rewrite", metavar="REWRITE", help="the rewrite")
    p.add_argument("--format", choices=FORMATS, default=None, help="html, md, term or json (default: from the -o extension, else term)")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    p.add_argument("--all", action="store_true", help="md/term: also list identical paragraphs")
    p.add_argument("--text-field", default="text", help="JSONL/CSV field holding the text (default text)")
    p.add_argument("--id-field", default="id", help="JSONL/CSV field holding the id (default id)")
    p.set_defaults(func=_cmd_diff)

    r = subparsers.add_parser(
        "report",
        help="HTML page: every story told more than once, each version against its representative",
        description="Cluster the input like 'dedup cluster', then write one HTML page with a table of contents.",
    )
    r.add_argument("paths", nargs="+", metavar="PATH", help=".txt files, folders of them, .jsonl or .csv (optionally .gz)")
    r.add_argument("-o", "--output", metavar="FILE", help="write the HTML here instead of stdout")
    r.add_argument("--title", default="dedup story report", help="page title")
    r.add_argument("--all", action="store_true", help="also list stories told only once")
    add_param_arguments(r)
    r.set_defaults(func=_cmd_report)

