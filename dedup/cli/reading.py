"""Reading articles for a command: every rejected record named on stderr
(``file:line: reason``, capped), the fields the records have (for a wrong
``--text-field`` or ``--id-field``), and where each article came from."""

from __future__ import annotations

import argparse
import warnings
from array import array
from collections.abc import Iterator, Mapping

from ..article import Article, Clustering, Rejected
from ..io import FieldMap, Record, input_size, read_paths
from .args import fields_from_args, params_from_args, plural, say
from .progress import Bar, Ticker, kernel_notice, progress_wanted

__all__ = ["InputLog", "read_articles", "log_for", "counted", "cluster_input", "SHOWN"]

#: rejected records named one by one on stderr before "... and N more"
SHOWN = 10
_SAMPLED = 1000  # records whose field names are collected


class InputLog:
    """Counts and names what was read: records, rejections, field names."""

    def __init__(self, fields: FieldMap, *, shown: int = SHOWN):
        self.fields = fields
        self.shown = shown
        self.records = 0
        self.rejected = 0
        self.seen_fields: dict[str, None] = {}
        self.with_id = 0
        self.objects = 0
        self._sources: list[str] = []
        self._source_of: array = array("l")
        self._line_of: array = array("q")
        self._warned_id = False
        self.entries: list[dict[str, str]] = []  # every rejection: where, reason

    def on_record(self, rec: Record) -> None:
        self.records += 1
        if isinstance(rec.raw, Mapping):
            self.objects += 1
            if self.objects <= _SAMPLED:
                self.seen_fields.update(dict.fromkeys(map(str, rec.raw)))
            if self._has_id(rec):
                self.with_id += 1
            elif self.fields.id != FieldMap().id and not self._warned_id:
                self._warned_id = True
                say(
                    f"warning: {rec.where()} has no field {self.fields.id!r} (--id-field); such records get "
                    f"FILE:LINE ids. Its fields: {', '.join(map(str, rec.raw))}"
                )
        if rec.ok:
            if not self._sources or self._sources[-1] != rec.source:
                self._sources.append(rec.source)
            self._source_of.append(len(self._sources) - 1)
            self._line_of.append(rec.line)

    def _has_id(self, rec: Record) -> bool:
        """Whether the record holds the id field, under the name the reader
        matched (a CSV header's own spelling)."""
        return (rec.id_field or self.fields.id) in rec.raw

    def on_error(self, rec: Record) -> None:
        self.reject(rec.where(), rec.error or "unreadable")

    def reject(self, where: str, reason: str) -> None:
        self.rejected += 1
        self.entries.append({"where": where, "reason": reason})
        if self.rejected <= self.shown:
            say(f"{where}: {reason}")

    def where(self, position: int) -> str:
        """``file:line`` of the article at ``position`` among the good ones."""
        line = self._line_of[position]
        src = self._sources[self._source_of[position]]
        return f"{src}:{line}" if line else src

    def reject_after(self, rejected: tuple[Rejected, ...]) -> list[dict[str, str]]:
        """Report the articles the clustering left out (e.g. a duplicate id); every rejection so far."""
        for r in rejected:
            self.reject(self.where(r.position), f"article {r.ref}: {r.reason}")
        return self.entries

    def close(self) -> None:
        """The line that ends a capped list of rejections."""
        if self.rejected > self.shown:
            say(f"... and {plural(self.rejected - self.shown, 'more rejected record')}")

    def why_nothing(self, paths: list[str]) -> str:
        """Why no article was read, naming the fields the records do have."""
        where = ", ".join(paths)
        if self.records == 0:
            return f"no records in {where}"
        msg = f"every record of {where} was rejected ({plural(self.records, 'record')})"
        if self.objects and self.fields.text not in self.seen_fields:
            msg += (
                f"; no record has the text field {self.fields.text!r}. The records have: "
                f"{', '.join(self.seen_fields)} (choose one with --text-field)"
            )
        return msg


def read_articles(args: argparse.Namespace, log: InputLog, *, desc: str = "reading") -> tuple[Iterator[Article], Bar]:
    """The good articles of ``args.paths`` as a stream, reported to ``log``, with a progress bar over the bytes."""
    bar = Bar(progress_wanted(getattr(args, "progress", None)), input_size(args.paths), desc)
    fmt = getattr(args, "input_format", None)
    articles = read_paths(
        args.paths,
        **fields_from_args(args),
        fmt=fmt,
        on_error=log.on_error,
        on_record=log.on_record,
        on_bytes=bar.update,
    )
    return articles, bar


def log_for(args: argparse.Namespace) -> InputLog:
    """An :class:`InputLog` for the field options of ``args``."""
    f = fields_from_args(args)
    return InputLog(
        FieldMap(id=f["id_field"], text=f["text_field"], title=f["title_field"], published=f["published_field"])
    )


class Counted:
    """The article stream, updating the bar's note with the counts as it goes.
    When the input ends the bar closes and a :class:`Ticker` shows the time the
    remaining stages take, until :meth:`close`."""

    def __init__(self, articles: Iterator[Article], bar: Bar, log: InputLog):
        self._articles = articles
        self._bar = bar
        self._log = log
        self._ticker: Ticker | None = None

    def __iter__(self) -> Iterator[Article]:
        n = 0
        for a in self._articles:
            n += 1
            if n % 512 == 0:
                self._bar.note(f"{n:,} articles, {self._log.rejected:,} rejected")
            yield a
        self._bar.note(f"{n:,} articles, {self._log.rejected:,} rejected")
        enabled = self._bar.enabled
        self._bar.close()
        self._ticker = Ticker(enabled, f"finding stories among {n:,} articles")

    def close(self) -> None:
        self._bar.close()
        if self._ticker is not None:
            self._ticker.close()


def counted(articles: Iterator[Article], bar: Bar, log: InputLog) -> Counted:
    """:class:`Counted` over ``articles``."""
    return Counted(articles, bar, log)


def cluster_input(args: argparse.Namespace, log: InputLog, *, keep_text: bool = True) -> Clustering:
    """The articles of ``args.paths`` read as a stream and clustered (progress
    on stderr); every rejected record, at reading or clustering, reported to ``log``."""
    from ..batch import cluster_articles  # numba and scipy: loaded for the commands that cluster, not for --help

    articles, bar = read_articles(args, log)
    kernel_notice()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rejections reach the user through log, with file:line
        stream = counted(articles, bar, log)
        try:
            result = cluster_articles(stream, params=params_from_args(args), errors="ignore", keep_text=keep_text)
        finally:
            stream.close()
    log.reject_after(result.rejected)
    log.close()
    return result
