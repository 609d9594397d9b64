"""``dedup cluster``: group articles into stories and print or write them."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ..article import Cluster, Clustering
from ..frames import clustering_rows
from ..io import writing
from ..io.jsontext import dumps
from .args import (
    EXIT_INPUT,
    EXIT_OK,
    EXIT_REJECTED,
    UsageError,
    add_command,
    add_param_arguments,
    add_paths_arguments,
    add_progress_argument,
    check_not_input,
    params_from_args,
    plural,
    safe,
    say,
)
from .reading import cluster_input, log_for

__all__ = ["register", "run", "check", "format_cluster", "OUTPUT_FORMATS"]

OUTPUT_FORMATS = ("text", "json", "jsonl", "parquet")
_EXT = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}

EPILOG = """\
examples:
  dedup cluster seeds/                                  a folder of .txt files
  dedup cluster feed.jsonl --format json -o stories.json
  dedup cluster export.csv --text-field body --title-field headline --delimiter ';'
  dedup cluster archive.parquet -o stories.parquet      one row per article
"""


def register(subparsers: Any) -> None:
    """Add ``dedup cluster``."""
    p = add_command(
        subparsers,
        "cluster",
        "group articles into stories and print them",
        "Group articles into stories: copies, syndicated copies and rewrites of one story end up together.",
        EPILOG,
    )
    add_paths_arguments(p)
    p.add_argument(
        "--format",
        choices=OUTPUT_FORMATS,
        default=None,
        help="text: readable stories; json: every cluster with its scores; jsonl: one line per article "
        "(id, cluster, version, representative, score); parquet: one row per article (id, story, version, "
        "representative, score: story is what jsonl calls cluster). Default: from the -o extension, else text",
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    p.add_argument("--all", action="store_true", help="text: also list stories told only once")
    add_progress_argument(p)
    add_param_arguments(p)
    p.set_defaults(func=run, check=check)


def check(args: argparse.Namespace) -> None:
    """The output options, before anything is read: --format parquet needs -o."""
    if output_format(args.format, args.output) == "parquet" and not args.output:
        raise UsageError("--format parquet needs a file: -o FILE.parquet")


def output_format(fmt: str | None, output: str | None) -> str:
    """The output format: as given, else from the -o extension, else text."""
    if fmt:
        return fmt
    if output:
        for ext, name in _EXT.items():
            if output.lower().endswith(ext):
                return name
    return "text"


def _snippet(text: str, width: int) -> str:
    one = " ".join(text.split())
    return one if len(one) <= width else one[: width - 1] + "\u2026"


def format_cluster(c: Cluster, number: int, width: int = 100) -> str:
    """A cluster as a few readable lines (terminal-safe: control characters from the data escaped)."""
    best = {}
    for s in c.scores:
        other = s.b if s.a == c.id else s.a if s.b == c.id else None
        if other is not None:
            best[other] = s
    head = f"story {number}: {plural(len(c), 'article')}, {plural(len(c.versions), 'version')}"
    if c.flags:
        head += f" [{', '.join(sorted(c.flags))}]"
    lines = [head]
    copy_of = {cp.id: v.representative.id for v in c.versions for cp in v.copies}
    for a in c.members:
        if a.id == c.id:
            tag = "representative"
        elif a.id in copy_of:
            tag = f"copy of {safe(copy_of[a.id], one_line=True)}"
        elif a.id in best:
            tag = f"score {best[a.id].score:.2f}"
        else:
            tag = "joined via others"
        label = safe(_snippet(a.title or a.text, max(20, width - 54)), one_line=True)
        lines.append(f"  {safe(a.id, one_line=True):<28} {tag:<22} {label}")
    return "\n".join(lines)


def _write_text(result: Clustering, out: Any, n_read: int, show_all: bool) -> None:
    multi = [c for c in result if len(c) > 1]
    out.write(
        f"{plural(n_read, 'article')}, {plural(len(result), 'story', 'stories')} "
        f"({len(multi):,} told more than once)\n\n"
    )
    for k, c in enumerate(result if show_all else multi, 1):
        out.write(format_cluster(c, k) + "\n\n")
    once = len(result) - len(multi)
    if not show_all and once:
        out.write(f"({plural(once, 'story', 'stories')} told once not shown; --all shows them)\n")


def _write(result: Clustering, args: argparse.Namespace, fmt: str, rejected: list[dict[str, str]], n_read: int) -> None:
    if fmt == "parquet":
        from ..io.parquet import RowWriter

        writer = RowWriter(args.output, schema=result.to_arrow().schema, batch_size=65536)
        rows = clustering_rows(result)
        for k in range(len(rows["id"])):
            writer.write({c: v[k] for c, v in rows.items()})
        writer.close()
        return
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    try:
        if fmt == "json":
            doc = {
                "clusters": [c.to_dict() for c in result],
                "rejected": rejected,
                "params": params_from_args(args).to_dict(),
            }
            out.write(dumps(doc, indent=2) + "\n")
        elif fmt == "jsonl":
            rows = clustering_rows(result)
            for k in range(len(rows["id"])):
                row = {
                    "id": rows["id"][k],
                    "cluster": rows["story"][k],
                    "version": rows["version"][k],
                    "representative": rows["representative"][k],
                    "score": rows["score"][k],
                }
                out.write(dumps(row) + "\n")
        else:
            _write_text(result, out, n_read, args.all)
    finally:
        if out is not sys.stdout:
            out.close()


def run(args: argparse.Namespace) -> int:
    """``dedup cluster``: read, cluster, write; the exit code."""
    start = time.monotonic()
    fmt = output_format(args.format, args.output)
    check_not_input("-o", args.output, args.paths)
    log = log_for(args)
    # JSON/Parquet output needs no texts, so they are not kept
    result = cluster_input(args, log, keep_text=fmt == "text")
    n_articles = sum(len(c) for c in result)
    if n_articles == 0:
        say(f"error: {log.why_nothing(args.paths)}")
        return EXIT_INPUT
    with writing(args.output):  # a full disk or a missing folder said with the file's name
        _write(result, args, fmt, log.entries, n_articles)
    multi = sum(1 for c in result if len(c) > 1)
    target = f" -> {args.output}" if args.output else ""
    say(
        f"{plural(n_articles, 'article')} in {plural(len(result), 'story', 'stories')} ({multi:,} told more "
        f"than once), {log.rejected:,} rejected, {time.monotonic() - start:.1f} s{target}"
    )
    return EXIT_REJECTED if log.rejected else EXIT_OK
