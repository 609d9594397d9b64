"""``dedup dedupe``: stream a feed through a :class:`~dedup.index.StoryIndex`,
write the articles to keep; and ``dedup index stats``.

::

    dedup dedupe feed.jsonl.gz -o kept.jsonl --duplicates dups.jsonl --errors bad.jsonl \\
        --index nightly.dedup --keep first --level copy

* Input: JSONL or CSV (optionally ``.gz``), ``-`` for stdin (JSONL unless
  ``--input-format csv``). Output: the kept records exactly as read, in
  input order, in the input's format (``-`` or no ``-o``: stdout).
* ``--level copy`` drops copies of a version already seen (near-identical
  text); ``--level story`` drops every later version (rewrites too).
* ``--keep first`` streams (an article is written as soon as it is known to
  be new); ``earliest`` (publication time) and ``longest`` (text length)
  choose per group once the whole input is read (records are spooled to a
  temporary file, not held in memory). A group already in a resumed index
  was written by an earlier run, so none of its new members is kept.
* ``--index PATH``: load the index if the file exists, save it (atomically)
  at the end -- tonight's run deduplicates against everything before. An
  article whose id is already indexed is dropped as ``already indexed``, so
  re-running on the same input is harmless. ``--redis HOST:PORT`` uses a
  shared index on Redis instead (several workers at once).
* ``--duplicates FILE``: one JSON line per dropped article: its id, what it
  duplicated (``duplicate_of``), the story, the kind and the scores.
* ``--errors FILE``: one JSON line per rejected record (invalid JSON, missing
  text field, wrong types, undecodable bytes) with source, line and reason.
  Good records always go through.

Exit status: 0 when every record was used, 3 when some were rejected (the
final summary on stderr says how many), 2 on an error that stopped the run
(e.g. the Redis server went away: everything written before it is complete
and consistent with the index). A progress line goes to stderr when it is a
terminal (``--progress``/``--no-progress`` to force).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from typing import IO, Any

from .article import Article
from .io import detect_format, iter_records, open_text

__all__ = ["register", "run_dedupe"]

EXIT_REJECTED = 3


def register(subparsers: Any) -> None:
    from .cli import add_param_arguments

    p = subparsers.add_parser("dedupe", help="drop copies and rewrites from a feed, keep one of each",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", metavar="INPUT", help="JSONL or CSV file (optionally .gz); - for stdin")
    p.add_argument("-o", "--output", default="-", help="kept records (default stdout); .gz to compress")
    p.add_argument("--duplicates", metavar="FILE", help="JSONL of dropped articles and what they duplicated")
    p.add_argument("--errors", metavar="FILE", help="JSONL of rejected records with line numbers and reasons")
    p.add_argument("--keep", choices=("first", "earliest", "longest"), default="first",
                   help="which article of a group to keep (default first seen)")
    p.add_argument("--level", choices=("copy", "story"), default="copy",
                   help="drop only copies (default), or every later version of a known story")
    p.add_argument("--index", metavar="PATH", help="resume against this saved index and save it at the end")
    p.add_argument("--redis", metavar="HOST:PORT", help="use a shared index on this Redis server")
    p.add_argument("--redis-prefix", default="dedup", help="key namespace of the shared index (default dedup)")
    p.add_argument("--max-live", type=int, default=None, metavar="N",
                   help="keep at most N recent articles matchable (bounds memory for feeds without dates)")
    p.add_argument("--input-format", choices=("jsonl", "csv"), help="default: from the file name")
    prog = p.add_mutually_exclusive_group()
    prog.add_argument("--progress", dest="progress", action="store_true", default=None)
    prog.add_argument("--no-progress", dest="progress", action="store_false")
    add_param_arguments(p)
    p.set_defaults(func=run_dedupe)

    q = subparsers.add_parser("index", help="inspect a saved story index")
    q.add_argument("action", choices=("stats",))
    q.add_argument("path", metavar="PATH")
    q.set_defaults(func=_cmd_index)


def _cmd_index(args: argparse.Namespace) -> int:
    from .index import StoryIndex

    index = StoryIndex.load(args.path)
    json.dump(index.stats(), sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
    return 0


class _Writer:
    """Kept records in the input's format."""

    def __init__(self, path: str, fmt: str):
        self.f: IO[str] = open_text(path, "w")
        self.fmt = fmt
        self.csv: Any = None

    def write(self, raw: dict) -> None:
        if self.fmt == "csv":
            if self.csv is None:
                self.csv = csv.DictWriter(self.f, fieldnames=list(raw), extrasaction="ignore")
                self.csv.writeheader()
            self.csv.writerow(raw)
        else:
            self.f.write(json.dumps(raw, ensure_ascii=False) + "\n")

    def close(self) -> None:
        self.f.flush()
        if self.f is not sys.stdout:
            self.f.close()


class _Progress:
    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.start = self.last = time.monotonic()

    def update(self, counts: dict[str, int], final: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not final and now - self.last < 0.5:
            return
        self.last = now
        rate = counts["read"] / max(1e-9, now - self.start)
        sys.stderr.write(f"\rdedup: {counts['read']:,} read, {counts['kept']:,} kept, {counts['duplicates']:,} "
                         f"duplicates, {counts['rejected']:,} rejected, {rate:,.0f}/s   ")
        if final:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _make_index(args: argparse.Namespace):
    from .cli import params_from_args
    from .index import StoryIndex

    params = params_from_args(args)
    if args.redis:
        host, _, port = args.redis.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"--redis takes HOST:PORT, got {args.redis!r}")
        return StoryIndex(params, redis={"host": host, "port": int(port)}, redis_prefix=args.redis_prefix,
                          max_live=args.max_live)
    if args.index and os.path.exists(args.index):
        index = StoryIndex.load(args.index)
        if args.max_live is not None:
            index.max_live = args.max_live
        return index
    return StoryIndex(params, max_live=args.max_live)


def run_dedupe(args: argparse.Namespace) -> int:
    from .index import IndexStorageError

    if args.index and args.redis:
        raise ValueError("--index and --redis are alternatives: a Redis index is stored on the server")
    fmt = args.input_format or ("jsonl" if args.input == "-" else detect_format(args.input))
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"dedupe reads JSONL or CSV, not {fmt!r} ({args.input})")
    if args.input != "-" and not os.path.exists(args.input):
        raise FileNotFoundError(f"no such file: {args.input}")
    index = _make_index(args)
    known_before = index.n_articles
    out = _Writer(args.output, fmt)
    dups = open_text(args.duplicates, "w") if args.duplicates else None
    errs = open_text(args.errors, "w") if args.errors else None
    counts = {"read": 0, "kept": 0, "duplicates": 0, "rejected": 0}
    progress = _Progress(sys.stderr.isatty() if args.progress is None else args.progress)
    streaming = args.keep == "first"
    spool = None if streaming else tempfile.TemporaryFile("w+", encoding="utf-8", errors="surrogateescape")
    groups: list[tuple[str, str, float, int]] = []  # (id, version, time, length) when not streaming
    failure: str | None = None
    seen_in_run: set[str] = set()

    def drop(article_id: str, **info: Any) -> None:
        counts["duplicates"] += 1
        if dups is not None:
            dups.write(json.dumps({"id": article_id, **info}, ensure_ascii=False) + "\n")

    try:
        for rec, m in _matches(index, iter_records(args.input, fmt=fmt, text_field=args.text_field,
                                                   id_field=args.id_field), args.jobs):
            counts["read"] += 1
            if isinstance(m, IndexStorageError):
                failure = str(m)
                break
            if not rec.ok:
                counts["rejected"] += 1
                if errs is not None:
                    errs.write(json.dumps({"source": rec.source, "line": rec.line, "error": rec.error},
                                          ensure_ascii=False) + "\n")
                progress.update(counts)
                continue
            a: Article = rec.article  # type: ignore[assignment]
            if m is None:
                drop(a.id, duplicate_of=a.id, kind="already indexed", line=rec.line)
                progress.update(counts)
                continue
            if streaming:
                duplicate = m.kind == "copy" or (args.level == "story" and m.kind == "rewrite")
                if duplicate:
                    drop(a.id, duplicate_of=m.matched, story=m.story, version=m.version, kind=m.kind,
                         cosine=round(m.cosine, 4), jaccard=round(m.jaccard, 4), score=round(m.score, 4),
                         line=rec.line)
                else:
                    out.write(rec.raw)
                    counts["kept"] += 1
            else:
                spool.write(json.dumps(rec.raw, ensure_ascii=False) + "\n")  # type: ignore[union-attr]
                ts = a.timestamp
                groups.append((a.id, m.version, float("inf") if ts is None else ts, len(a.text)))
                seen_in_run.add(a.id)
            progress.update(counts)
        if not streaming and failure is None:
            _choose_and_write(index, args, groups, spool, out, drop, counts, known_before)
    except KeyboardInterrupt:
        failure = "interrupted"
    finally:
        out.close()
        for f in (dups, errs):
            if f is not None:
                f.close()
        if spool is not None:
            spool.close()
        progress.update(counts, final=True)
    if args.index and (failure is None or streaming):
        index.save(args.index)
    summary = (f"dedup: {counts['read']:,} records read, {counts['kept']:,} kept, {counts['duplicates']:,} "
               f"duplicates dropped, {counts['rejected']:,} rejected")
    if counts["rejected"] and args.errors:
        summary += f" (see {args.errors})"
    print(summary, file=sys.stderr)
    index.close()
    if failure is not None:
        print(f"dedup: error: stopped after {counts['read']:,} records: {failure}. Everything written so far is "
              "complete; re-running on the same input skips the articles already indexed.", file=sys.stderr)
        return 2
    return EXIT_REJECTED if counts["rejected"] else 0


def _matches(index, records, jobs: int):
    """``(record, match)`` for each record: match None for a bad record or an
    id already indexed, an IndexStorageError (then stop) if the storage failed.
    With ``jobs > 1`` features are computed ahead in worker processes."""
    from .index import DuplicateArticleError, IndexStorageError

    pending: list = []
    seen: set[str] = set()

    def articles():
        for rec in records:
            if rec.ok and rec.article.id not in index and rec.article.id not in seen:
                seen.add(rec.article.id)
                pending.append(rec)
                yield rec.article
            else:
                pending.append(rec)

    stream = index.add_stream(articles(), n_jobs=jobs)
    while True:
        try:
            m = next(stream)
        except StopIteration:
            break
        except IndexStorageError as exc:
            while pending:
                rec = pending.pop(0)
                if rec.ok and rec.article.id in seen:
                    yield rec, exc
                    return
                yield rec, None
            return
        # records before the matched article: bad ones or already indexed
        while pending:
            rec = pending.pop(0)
            if rec.ok and rec.article.id == m.id:
                yield rec, m
                break
            yield rec, None
    for rec in pending:
        yield rec, None


def _choose_and_write(index, args, groups, spool, out, drop, counts, known_before) -> None:
    """Keep one article per group (version, or story at ``--level story``),
    by publication time or length; write the kept records in input order."""
    key_of = {}
    for aid, version, ts, length in groups:
        group = index.story_of(aid).id if args.level == "story" else version
        key = (ts, len(key_of)) if args.keep == "earliest" else (-length, len(key_of))
        key_of[aid] = (group, key)
    run_ids = {g[0] for g in groups}
    best: dict[str, str] = {}
    old_groups: dict[str, str] = {}
    if known_before:
        # groups that already had a member before this run were written then
        for aid, (group, _) in key_of.items():
            if group in old_groups or group in best:
                continue
            members = index.story(group).members if args.level == "story" else None
            if members is None:
                story = index.story_of(aid)
                members = next((v for v in story.versions if v[0] == group or aid in v), ())
            earlier = [m for m in members if m not in run_ids]
            if earlier:
                old_groups[group] = earlier[0]
    for aid, (group, key) in key_of.items():
        if group in old_groups:
            continue
        b = best.get(group)
        if b is None or key < key_of[b][1]:
            best[group] = aid
    spool.seek(0)
    for (aid, version, _, _), line in zip(groups, spool):
        group = key_of[aid][0]
        keeper = old_groups.get(group) or best[group]
        if keeper == aid:
            out.write(json.loads(line))
            counts["kept"] += 1
        else:
            kept_entry = index._state.get(keeper)
            same_version = kept_entry is not None and kept_entry.version == version
            drop(aid, duplicate_of=keeper, story=index.story_of(aid).id, version=version,
                 kind="copy" if same_version else "rewrite")
