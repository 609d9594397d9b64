"""The ``dedup`` command.

``dedup cluster PATH...`` lives here; other subcommands (``diff``, ``report``,
``dedupe``, ``index``) are registered by the modules that implement them,
each exposing ``register(subparsers)``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import textwrap
import warnings
from typing import Sequence

from .article import Cluster
from .cluster import cluster_articles
from .io import read_paths
from .params import LINKAGES, Params

__all__ = ["main", "build_parser", "add_param_arguments", "params_from_args"]

_COMMAND_MODULES = ("dedup.report.commands", "dedup.dedupe", "dedup.spark.commands")


def add_param_arguments(p: argparse.ArgumentParser) -> None:
    """The pipeline parameters most often changed, as options (defaults: :class:`dedup.Params`)."""
    d = Params()
    g = p.add_argument_group("clustering parameters")
    g.add_argument("--threshold", type=float, default=d.threshold, help=f"TF-IDF cosine for 'same story' (default {d.threshold})")
    g.add_argument("--linkage", choices=LINKAGES, default=d.linkage, help=f"how pairs become stories (default {d.linkage})")
    g.add_argument("--copy-threshold", type=float, default=d.copy_threshold, help=f"shingle Jaccard for 'copy' (default {d.copy_threshold})")
    g.add_argument("--time-window", type=float, default=None, metavar="DAYS",
                   help="compare only articles published within DAYS of each other (default 7; 0 = no window)")
    g.add_argument("--jobs", type=int, default=d.n_jobs, help="worker processes (-1: all cores)")
    g.add_argument("--text-field", default="text", help="JSONL/CSV field holding the text (default text)")
    g.add_argument("--id-field", default="id", help="JSONL/CSV field holding the id (default id)")


def params_from_args(args: argparse.Namespace) -> Params:
    kw = dict(threshold=args.threshold, linkage=args.linkage, copy_threshold=args.copy_threshold, n_jobs=args.jobs)
    if args.time_window is not None:
        kw["time_window"] = None if args.time_window == 0 else args.time_window
    return Params(**kw)


def _snippet(text: str, width: int) -> str:
    one = " ".join(text.split())
    return one if len(one) <= width else one[: width - 1] + "\u2026"


def format_cluster(c: Cluster, number: int, width: int = 100) -> str:
    """A cluster as a few readable lines."""
    best = {}
    for s in c.scores:
        other = s.b if s.a == c.id else s.a if s.b == c.id else None
        if other is not None:
            best[other] = s
    head = f"story {number}: {len(c)} article{'s' if len(c) != 1 else ''}, {len(c.versions)} version{'s' if len(c.versions) != 1 else ''}"
    if c.flags:
        head += f" [{', '.join(sorted(c.flags))}]"
    lines = [head]
    copy_of = {cp.id: v.representative.id for v in c.versions for cp in v.copies}
    for a in c.members:
        if a.id == c.id:
            tag = "representative"
        elif a.id in copy_of:
            tag = f"copy of {copy_of[a.id]}"
        elif a.id in best:
            tag = f"score {best[a.id].score:.2f}"
        else:
            tag = "joined via others"
        label = a.title or a.text
        lines.append(f"  {a.id:<28} {tag:<22} {_snippet(label, max(20, width - 54))}")
    return "\n".join(lines)


def _cmd_cluster(args: argparse.Namespace) -> int:
    params = params_from_args(args)
    bad = []
    records = read_paths(args.paths, text_field=args.text_field, id_field=args.id_field,
                         on_error=lambda r: (bad.append(r), print(f"dedup: {r.where()}: {r.error}", file=sys.stderr)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # read as a stream; JSON output needs no texts, so they are not kept
        result = cluster_articles(records, params=params, keep_text=args.format == "text")
    for w in caught:
        print(f"dedup: {w.message}", file=sys.stderr)
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    try:
        if args.format == "json":
            json.dump({"clusters": [c.to_dict() for c in result], "rejected": [r.__dict__ for r in result.rejected],
                       "params": params.to_dict()}, out, indent=2, ensure_ascii=False)
            out.write("\n")
        elif args.format == "jsonl":
            for c in result:
                for a in c.members:
                    out.write(json.dumps({"id": a.id, "cluster": c.id, "representative": a.id == c.id}, ensure_ascii=False) + "\n")
        else:
            multi = [c for c in result if len(c) > 1]
            n_read = sum(len(c) for c in result) + len(result.rejected)
            out.write(f"{n_read} articles, {len(result)} stories ({len(multi)} told more than once)\n\n")
            shown = result if args.all else multi
            for k, c in enumerate(shown, 1):
                out.write(format_cluster(c, k) + "\n\n")
            if not args.all and len(result) > len(multi):
                out.write(f"({len(result) - len(multi)} stories told once not shown; --all shows them)\n")
    finally:
        if out is not sys.stdout:
            out.close()
    rejected = len(bad) + len(result.rejected)
    if rejected:
        print(f"dedup: {rejected} record(s) rejected", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dedup",
        description="Find news stories published more than once, group them, and show what rewrites changed.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=textwrap.dedent("""\
            examples:
              dedup cluster seeds/
              dedup cluster feed.jsonl --format json -o clusters.json
            """),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    p = sub.add_parser("cluster", help="group articles into stories and print them")
    p.add_argument("paths", nargs="+", metavar="PATH", help=".txt files, folders of them, .jsonl or .csv (optionally .gz); - for stdin JSONL")
    p.add_argument("--format", choices=("text", "json", "jsonl"), default="text")
    p.add_argument("-o", "--output", help="write here instead of stdout")
    p.add_argument("--all", action="store_true", help="also list stories told only once")
    add_param_arguments(p)
    p.set_defaults(func=_cmd_cluster)
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue  # that command is not installed in this build
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, ValueError, TypeError) as exc:
        print(f"dedup: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into head & co.: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:  # pragma: no cover
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
