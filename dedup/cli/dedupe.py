"""``dedup dedupe``: stream a feed through a :class:`~dedup.StoryIndex` and
write the articles to keep, exactly as they were read.

The index is driven through its public API only: ``add_stream``,
``story_of``, ``story``, ``version_of``, ``in``, ``n_articles``,
``max_live``, ``save``/``load``/``close``.
"""

from __future__ import annotations

import argparse
import os
import pickle
import signal
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from typing import IO, TYPE_CHECKING, Any

from ..article import Article
from ..io import ReadAhead, Record, detect_format, iter_records, open_text, writing
from ..io.jsontext import dumps
from ..io.writers import RecordWriter
from ..live import DuplicateArticleError, IndexSaveError, IndexStorageError
from .args import (
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    add_command,
    add_param_arguments,
    add_progress_argument,
    check_index_path,
    check_not_input,
    fields_from_args,
    option,
    params_from_args,
    plural,
    redis_address,
    same_file,
    say,
)
from .progress import Bar, kernel_notice, progress_wanted
from .reading import InputLog, log_for

if TYPE_CHECKING:
    from ..live import StoryIndex

__all__ = ["register", "run"]

DESCRIPTION = """\
Stream a feed through a live story index and write the articles to keep,
exactly as they were read (the same bytes for JSONL), in input order, in the
input's format (JSONL, CSV or Parquet; .gz looked through; - for stdin JSONL).

--level copy drops copies of a version already seen (near-identical text);
--level story drops every later version of a known story, rewrites too.
--keep first streams (an article is written as soon as it is known to be new);
earliest (publication time) and longest (text length) choose one article per
group once the whole input is read (records wait in a temporary file).

With --index PATH the index is loaded if the file exists and saved at the end,
so tonight's run deduplicates against everything before. An article whose id
is already indexed is dropped as 'already indexed': re-running is harmless.
--redis HOST:PORT (or a redis:// URL) shares one index between several workers.

Each rejected record is named on stderr (file:line: reason, the first 10);
--errors FILE lists them all as JSON lines. Good records always go through.
"""

EPILOG = """\
examples:
  dedup dedupe feed.jsonl -o kept.jsonl --duplicates dropped.jsonl
  dedup dedupe today.jsonl.gz -o kept.jsonl --errors rejected.jsonl --index feed.dedup
  cat feed.jsonl | dedup dedupe - --level story > kept.jsonl
  dedup dedupe archive.parquet -o kept.parquet --keep earliest

exit codes: 0 done; 1 bad command line (also: a clustering option that differs
from the --index file's saved parameters); 2 input, output, index or Redis
error, or nothing usable read (what was written before is complete); 3 done but
some records rejected; 130 interrupted (the index saved agrees with the outputs).
"""

#: the clustering options an index keeps: (option, Params field)
_INDEX_OPTIONS = (
    ("--threshold", "threshold"),
    ("--linkage", "linkage"),
    ("--copy-threshold", "copy_threshold"),
    ("--time-window", "time_window"),
)
_SAMPLED = 1000  # records whose field names are collected (for a wrong --text-field)


class _DefaultFloat(float):
    """An option's default, told apart from the same value given on the command line."""


class _DefaultStr(str):
    """An option's default, told apart from the same value given on the command line."""


def _mark_defaults(p: argparse.ArgumentParser) -> None:
    """The defaults of the clustering options marked, so that :func:`_given_options` knows which were given."""
    marked: dict[str, Any] = {}
    for _, dest in _INDEX_OPTIONS:
        d = p.get_default(dest)
        if isinstance(d, str):
            marked[dest] = _DefaultStr(d)
        elif isinstance(d, float):
            marked[dest] = _DefaultFloat(d)
    p.set_defaults(**marked)


def _given_options(args: argparse.Namespace) -> list[tuple[str, str]]:
    """The clustering options given on the command line, ``(option, field)``;
    the marked defaults become plain values again."""
    given = []
    for flag, dest in _INDEX_OPTIONS:
        value = getattr(args, dest, None)
        if isinstance(value, _DefaultFloat):
            setattr(args, dest, float(value))
        elif isinstance(value, _DefaultStr):
            setattr(args, dest, str(value))
        elif value is not None:
            given.append((flag, dest))
    return given


def register(subparsers: Any) -> None:
    """Add ``dedup dedupe``."""
    p = add_command(subparsers, "dedupe", "drop copies and rewrites from a feed, keep one of each", DESCRIPTION, EPILOG)
    p.add_argument("input", metavar="INPUT", help="JSONL, CSV or Parquet file (.gz looked through); - for stdin")
    p.add_argument(
        "-o",
        "--output",
        default="-",
        help="where the kept records go, in the input's format (- is stdout; .gz compresses)",
    )
    p.add_argument(
        "--duplicates",
        metavar="FILE",
        help="JSON lines of the dropped articles: id, duplicate_of, story, version, kind, scores, line",
    )
    p.add_argument("--errors", metavar="FILE", help="JSON lines of the rejected records: source, line, error")
    option(
        p, "--keep", choices=("first", "earliest", "longest"), default="first", help="which article of a group to keep"
    )
    option(
        p,
        "--level",
        choices=("copy", "story"),
        default="copy",
        help="drop only copies, or every later version of a known story",
    )
    p.add_argument("--index", metavar="PATH", help="resume against this saved index and save it at the end")
    p.add_argument(
        "--redis", metavar="ADDRESS", help="use a shared index on this Redis server: HOST:PORT or a redis:// URL"
    )
    option(p, "--redis-prefix", default="dedup", help="key namespace of the shared index")
    p.add_argument(
        "--max-live",
        type=int,
        default=None,
        metavar="N",
        help="keep at most N recent articles matchable (bounds memory for feeds without dates)",
    )
    p.add_argument(
        "--input-format",
        choices=("jsonl", "csv", "parquet"),
        help="the input's format (default: from the file name; stdin is JSONL)",
    )
    add_progress_argument(p)
    add_param_arguments(p)
    _mark_defaults(p)
    p.set_defaults(func=run)


def _make_index(args: argparse.Namespace) -> StoryIndex:
    from ..live import StoryIndex  # numba and scipy: loaded when a feed is read, not for --help

    params = params_from_args(args)
    if args.redis:
        return StoryIndex(
            params, redis=redis_address(args.redis), redis_prefix=args.redis_prefix, max_live=args.max_live
        )
    if args.index and os.path.exists(args.index):
        index = StoryIndex.load(args.index)
        if args.max_live is not None:
            index.max_live = args.max_live
        return index
    return StoryIndex(params, max_live=args.max_live)


def _shown(value: Any) -> str:
    return "0" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _index_conflict(index: StoryIndex, args: argparse.Namespace, given: list[tuple[str, str]]) -> str | None:
    """Why a clustering option given on the command line cannot apply to the
    loaded index (it keeps the parameters it was built with), if it cannot."""
    saved, wanted = index.params.to_dict(), params_from_args(args).to_dict()
    for flag, dest in given:
        if wanted[dest] != saved[dest]:
            return (
                f"{flag} {_shown(wanted[dest])} differs from the value saved in the index {args.index} "
                f"({_shown(saved[dest])}): an index keeps the parameters it was built with; leave "
                f"{flag} out, or give another --index file"
            )
    return None


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse, before anything is opened, an output that is the input or another output."""
    named = (("-o", args.output), ("--duplicates", args.duplicates), ("--errors", args.errors), ("--index", args.index))
    outputs = [(flag, path) for flag, path in named if path and path != "-"]
    if args.index:
        check_index_path("--index", args.index)
    for k, (flag, path) in enumerate(outputs):
        check_not_input(flag, path, [args.input])
        for other, other_path in outputs[k + 1 :]:
            if same_file(path, other_path):
                raise ValueError(f"{flag} {path} and {other} {other_path} are the same file; give each its own")


class _Hold:
    """Ctrl-C held back while an article is between the index and the
    outputs (being matched, or matched and not yet written), and raised as
    KeyboardInterrupt once it is written: the index saved after an interrupt
    then holds exactly the articles written. A second Ctrl-C while one is
    held back stops at once (``forced``: the index is then not saved). Set up
    only where a handler may be (the main thread, SIGINT not ignored);
    elsewhere Ctrl-C is as usual."""

    def __init__(self) -> None:
        self.holding = False
        self.pending = False
        self.forced = False
        self._previous: Any = None
        self._pid = os.getpid()

    def __enter__(self) -> _Hold:
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)
        self.holding = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.holding = False
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if self.holding and not self.pending and os.getpid() == self._pid:  # a forked worker stops as usual
            self.pending = True
            return
        self.forced = self.holding and os.getpid() == self._pid
        raise KeyboardInterrupt

    def release(self) -> None:
        """Nothing is between the index and the outputs: a Ctrl-C held back is raised now, one coming is at once."""
        self.holding = False
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt

    def checkpoint(self) -> None:
        """Raise a Ctrl-C held back (nothing is between the index and the outputs); hold on otherwise."""
        self.release()
        self.holding = True


class _Run:
    """The state of one run: outputs, counts, the spool, the progress bar."""

    def __init__(self, args: argparse.Namespace, fmt: str, log: InputLog):
        schema = None
        if fmt == "parquet":
            from ..io.parquet import input_schema

            schema = input_schema(args.input)
        # a CSV input's layout comes from the reader as it reads the header (stdin is read once)
        self.paths = {"out": args.output, "dups": args.duplicates, "errs": args.errors}
        with writing(args.output):  # each output's errors name it (a full disk, a missing folder)
            self.out = RecordWriter(args.output, fmt, schema=schema)
        with writing(args.duplicates):
            self.dups: IO[str] | None = open_text(args.duplicates, "w") if args.duplicates else None
        with writing(args.errors):
            self.errs: IO[str] | None = open_text(args.errors, "w") if args.errors else None
        self.counts = {"read": 0, "kept": 0, "duplicates": 0, "rejected": 0}
        self.forced = False  # stopped by a second Ctrl-C, maybe between the index and the outputs
        self.log = log
        self.spool: IO[bytes] | None = None if args.keep == "first" else tempfile.TemporaryFile()  # noqa: SIM115
        self.groups: list[tuple[str, str, float, int]] = []  # (id, version, time, length) when not streaming
        size = None if args.input == "-" else os.path.getsize(args.input)
        self.bar = Bar(progress_wanted(args.progress), size, "dedupe")

    def keep(self, rec: Record) -> None:
        with writing(self.paths["out"]):
            self.out.write(rec)
        self.counts["kept"] += 1

    def drop(self, article_id: str, **info: Any) -> None:
        self.counts["duplicates"] += 1
        if self.dups is not None:
            with writing(self.paths["dups"]):
                self.dups.write(dumps({"id": article_id, **info}) + "\n")

    def sample_fields(self, rec: Record) -> None:
        """Collect the field names of the first records (named when no record has the text field)."""
        log = self.log
        if log.objects < _SAMPLED and isinstance(rec.raw, Mapping):
            log.objects += 1
            log.seen_fields.update(dict.fromkeys(map(str, rec.raw)))

    def reject(self, rec: Record) -> None:
        self.counts["rejected"] += 1
        self.log.on_error(rec)
        if self.errs is not None:
            with writing(self.paths["errs"]):
                self.errs.write(dumps({"source": rec.source, "line": rec.line, "error": rec.error}) + "\n")

    def spool_record(self, rec: Record, version: str) -> None:
        a: Article = rec.article  # type: ignore[assignment]
        row = (rec.source, rec.line, rec.raw if rec.data is None else None, rec.data)
        pickle.dump(row, self.spool, protocol=pickle.HIGHEST_PROTOCOL)  # type: ignore[arg-type]
        ts = a.timestamp
        self.groups.append((a.id, version, float("inf") if ts is None else ts, len(a.text)))

    def spooled(self) -> Iterator[Record]:
        self.spool.seek(0)  # type: ignore[union-attr]
        for _ in self.groups:
            source, line, raw, data = pickle.load(self.spool)  # type: ignore[arg-type]
            yield Record(source, line, raw=raw, data=data)

    def flush(self) -> None:
        """Everything written so far out to the files (the input has nothing more yet)."""
        with writing(self.paths["out"]):
            self.out.flush()
        for key, f in (("dups", self.dups), ("errs", self.errs)):
            if f is not None:
                with writing(self.paths[key]):
                    f.flush()

    def note(self) -> None:
        c = self.counts
        self.bar.note(
            f"{c['read']:,} read, {c['kept']:,} kept, {c['duplicates']:,} dropped, {c['rejected']:,} rejected"
        )

    def close(self) -> None:
        with writing(self.paths["out"]):
            self.out.close()
        for key, f in (("dups", self.dups), ("errs", self.errs), ("spool", self.spool)):
            if f is not None:
                with writing(self.paths.get(key, "a temporary file")):
                    f.close()
        self.note()
        self.bar.close()
        self.log.close()


def run(args: argparse.Namespace) -> int:
    """``dedup dedupe``: the exit code."""
    given = _given_options(args)
    if args.index and args.redis:
        raise ValueError("--index and --redis are alternatives: a Redis index is stored on the server")
    fmt = args.input_format or ("jsonl" if args.input == "-" else detect_format(args.input))
    if fmt not in ("jsonl", "csv", "parquet"):
        raise ValueError(f"dedupe reads JSONL, CSV or Parquet, not {fmt!r} ({args.input}); see --input-format")
    if args.input != "-" and not os.path.exists(args.input):
        raise FileNotFoundError(f"no such file: {args.input}")
    _check_outputs(args)
    start = time.monotonic()
    index = _make_index(args)
    conflict = _index_conflict(index, args, given) if args.index and os.path.exists(args.index) else None
    if conflict is not None:
        index.close()
        say(f"error: {conflict}")
        return EXIT_USAGE
    known_before = index.n_articles
    kernel_notice("dedup.live._kernels", "dedup.text._kernels")  # the kernels a feed compiles
    state = _Run(args, fmt, log_for(args))
    failure, interrupted = _process(index, args, fmt, state, known_before)
    if args.index and (failure is None or state.spool is None) and not state.forced:
        failure = _save(index, args.index) or failure
    index.close()
    return _finish(args, state, failure, interrupted, time.monotonic() - start)


def _process(
    index: StoryIndex, args: argparse.Namespace, fmt: str, state: _Run, known_before: int
) -> tuple[str | None, bool]:
    """Stream the input through the index and write the outputs: the failure
    that stopped it, if any, and whether that was Ctrl-C."""
    # read in a thread: on a live pipe each record is handled as it arrives
    records = ReadAhead(
        iter_records(
            args.input, fmt=fmt, on_bytes=state.bar.update, on_layout=state.out.use_layout, **fields_from_args(args)
        )
    )
    failure: str | None = None
    interrupted = False
    hold = _Hold()
    try:
        with hold:
            failure = _stream(index, records, args, state, hold)
            hold.release()
        if state.spool is not None and failure is None:
            _choose_and_write(index, args, state, known_before)
    except (KeyboardInterrupt, SystemError) as exc:
        if not _from_ctrl_c(exc):
            raise  # a bug, said as one
        failure, interrupted, state.forced = "interrupted", True, hold.forced or isinstance(exc, SystemError)
        if state.forced and args.index:
            failure = f"interrupted twice, at once: the index was not saved ({args.index} is as it was)"
    finally:
        records.close()
        state.close()
    return failure, interrupted


def _from_ctrl_c(exc: BaseException | None) -> bool:
    """Whether an exception is Ctrl-C, or (a Ctrl-C inside a numba kernel) a SystemError raised from one."""
    while exc is not None:
        if isinstance(exc, KeyboardInterrupt):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _finish(args: argparse.Namespace, state: _Run, failure: str | None, interrupted: bool, seconds: float) -> int:
    """The summary line, the line saying why the run stopped (if it did), and the exit code."""
    c = state.counts
    summary = (
        f"{plural(c['read'], 'record')} read, {c['kept']:,} kept, {c['duplicates']:,} dropped as "
        f"duplicates, {c['rejected']:,} rejected, {seconds:.1f} s"
    )
    say(summary + (f" (see {args.errors})" if c["rejected"] and args.errors else ""))
    if failure is not None:
        again = (
            "the index was not saved, so a re-run reads the whole input again"
            if failure.startswith(_NOT_SAVED)
            else "re-running on the same input skips the articles already indexed"
        )
        say(
            f"error: stopped after {plural(c['read'], 'record')}: {failure}. "
            f"Everything written so far is complete; {again}."
        )
        return EXIT_INTERRUPTED if interrupted else EXIT_INPUT
    if c["read"] == c["rejected"]:  # nothing usable was read: an empty input, or every record rejected
        state.log.records = c["read"]
        say(f"error: {state.log.why_nothing([args.input])}")
        return EXIT_INPUT
    return EXIT_REJECTED if c["rejected"] else EXIT_OK


def _save(index: StoryIndex, path: str) -> str | None:
    """Save the index; the reason when it could not be (the previous file is then left as it was)."""
    try:
        index.save(path)
    except IndexSaveError as exc:  # its message names the file and says the previous one is unchanged
        return f"{_NOT_SAVED}: {exc.strerror}"
    except (OSError, IndexStorageError) as exc:
        return f"{_NOT_SAVED} to {path} ({exc}); the previous file is unchanged"
    return None


_NOT_SAVED = "the index could not be saved"


def _stream(
    index: StoryIndex, records: ReadAhead[Record], args: argparse.Namespace, state: _Run, hold: _Hold
) -> str | None:
    """Feed every record through the index; the failure that stopped it, if
    any. The outputs are flushed whenever the input has nothing more yet.
    A Ctrl-C is raised only once the articles the index took are written."""
    streaming = state.spool is None
    for rec, m in _matches(index, records, args.jobs, hold):
        state.counts["read"] += 1
        state.sample_fields(rec)
        if isinstance(m, IndexStorageError):
            return str(m)
        if not rec.ok:
            state.reject(rec)
        elif m is None or m.existing:  # indexed before, or by another worker first
            state.drop(
                rec.article.id,
                duplicate_of=rec.article.id,
                kind="already indexed",  # type: ignore[union-attr]
                line=rec.line,
            )
        elif not streaming:
            state.spool_record(rec, m.version)
        elif m.kind == "copy" or (args.level == "story" and m.kind == "rewrite"):
            state.drop(
                m.id,
                duplicate_of=m.matched,
                story=m.story,
                version=m.version,
                kind=m.kind,
                cosine=round(m.cosine, 4),
                jaccard=round(m.jaccard, 4),
                score=round(m.score, 4),
                line=rec.line,
            )
        else:
            state.keep(rec)
        if state.counts["read"] % 256 == 0:
            state.note()
        if streaming and not records.ready():
            state.flush()
    return None


def _matches(index: StoryIndex, records: ReadAhead[Record], jobs: int, hold: _Hold) -> Iterator[tuple[Record, Any]]:
    """``(record, match)`` for each record: match None for a bad record or an
    id already indexed, an IndexStorageError (then stop) if the storage failed.
    With ``jobs > 1`` features are computed ahead in worker processes.

    A Ctrl-C is held back (see :class:`_Hold`) but where every match the
    index gave is written: before asking the index for the next match, and
    while the index waits for the next record (it asks for more articles
    only once every match it gave was taken, hence written)."""
    pending: list[Record] = []
    seen: set[str] = set()

    def arrivals() -> Iterator[Record]:
        while True:
            hold.release()
            try:
                rec = next(records)
            except StopIteration:
                return
            finally:
                hold.holding = True
            yield rec

    def articles() -> Iterator[Article]:
        for rec in arrivals():
            if rec.ok and rec.article.id not in index and rec.article.id not in seen:  # type: ignore[union-attr]
                seen.add(rec.article.id)  # type: ignore[union-attr]
                pending.append(rec)
                yield rec.article  # type: ignore[misc]
            else:
                pending.append(rec)

    stream = index.add_stream(articles(), n_jobs=jobs, ready=records.ready)
    while True:
        hold.checkpoint()  # every match the index gave is written (the caller wrote it before asking for more)
        try:
            m = next(stream)
        except StopIteration:
            break
        except (IndexStorageError, DuplicateArticleError) as exc:
            failure = exc if isinstance(exc, IndexStorageError) else IndexStorageError(str(exc))
            yield from _flush_until_failure(pending, seen, failure)
            return
        while pending:  # records before the matched article: bad ones or already indexed
            rec = pending.pop(0)
            if rec.ok and rec.article.id == m.id:  # type: ignore[union-attr]
                yield rec, m
                break
            yield rec, None
    for rec in pending:
        yield rec, None


def _flush_until_failure(pending: list[Record], seen: set[str], failure: Exception) -> Iterator[tuple[Record, Any]]:
    while pending:
        rec = pending.pop(0)
        if rec.ok and rec.article.id in seen:  # type: ignore[union-attr]
            yield rec, failure
            return
        yield rec, None


def _group_keys(index: StoryIndex, args: argparse.Namespace, groups: list) -> dict[str, tuple[str, tuple]]:
    key_of: dict[str, tuple[str, tuple]] = {}
    for aid, version, ts, length in groups:
        group = index.story_of(aid).id if args.level == "story" else version
        key = (ts, len(key_of)) if args.keep == "earliest" else (-length, len(key_of))
        key_of[aid] = (group, key)
    return key_of


def _written_before(index: StoryIndex, args: argparse.Namespace, key_of: dict, run_ids: set[str]) -> dict[str, str]:
    """Groups that already had a member before this run (written then): group -> that member."""
    old: dict[str, str] = {}
    for aid, (group, _) in key_of.items():
        if group in old:
            continue
        members = index.story(group).members if args.level == "story" else None
        if members is None:
            story = index.story_of(aid)
            members = next((v for v in story.versions if v[0] == group or aid in v), ())
        earlier = [m for m in members if m not in run_ids]
        if earlier:
            old[group] = earlier[0]
    return old


def _choose_and_write(index: StoryIndex, args: argparse.Namespace, state: _Run, known_before: int) -> None:
    """Keep one article per group (version, or story at ``--level story``),
    by publication time or length; write the kept records in input order."""
    key_of = _group_keys(index, args, state.groups)
    run_ids = {g[0] for g in state.groups}
    old_groups = _written_before(index, args, key_of, run_ids) if known_before else {}
    best: dict[str, str] = {}
    for aid, (group, key) in key_of.items():
        if group in old_groups:
            continue
        b = best.get(group)
        if b is None or key < key_of[b][1]:
            best[group] = aid
    for (aid, version, _, _), rec in zip(state.groups, state.spooled(), strict=True):
        group = key_of[aid][0]
        keeper = old_groups.get(group) or best[group]
        if keeper == aid:
            state.keep(rec)
        else:
            same_version = keeper in index and index.version_of(keeper) == version
            state.drop(
                aid,
                duplicate_of=keeper,
                story=index.story_of(aid).id,
                version=version,
                kind="copy" if same_version else "rewrite",
            )
