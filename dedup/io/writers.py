"""Writers: JSON lines of dicts (control and bidi characters escaped, see
:mod:`dedup.io.jsontext`), and kept input records written back unchanged."""

from __future__ import annotations

import csv
import io
import json
import zlib
from collections.abc import Iterable
from itertools import islice
from typing import IO, Any

from .files import open_binary, open_output
from .jsontext import dumps
from .readers import CsvLayout, csv_text, line_ending, sniff_delimiter
from .records import InputError, Record

__all__ = ["write_jsonl", "RecordWriter", "CsvLayout", "csv_layout"]


def write_jsonl(rows: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """Write dicts as JSON lines (strict JSON: no NaN or Infinity; controls and
    bidi characters escaped, :mod:`dedup.io.jsontext`); returns how many."""
    n = 0
    for row in rows:
        out.write(dumps(row, default=str, allow_nan=False) + "\n")
        n += 1
    return n


def csv_layout(path: str, delimiter: str | None = None) -> CsvLayout | None:
    """The layout of the CSV file ``path`` as the reader sees it (the header
    names stripped, the delimiter given or sniffed from the header line, a
    ``.tsv`` defaulting to tab); None for stdin (read once: the reader gives
    its layout as it reads the header, ``iter_records(on_layout=...)``), an
    empty file or an unreadable header."""
    if path == "-":
        return None
    try:
        with open_binary(path) as f:
            head = list(islice(csv_text(f), 1))
    except (OSError, EOFError, zlib.error, InputError):  # unreadable: the reader says why
        return None
    if not head:
        return None
    tsv = path.endswith((".tsv", ".tsv.gz"))
    delim = delimiter or sniff_delimiter(head[0], "\t" if tsv else ",")
    try:
        header = [h.strip() for h in next(csv.reader(head, delimiter=delim))]
    except (csv.Error, StopIteration):
        return None
    return CsvLayout(header, delim, line_ending(head[0]))


class RecordWriter:
    """Input records written back in their own format: a JSONL record as its
    exact input bytes, a CSV row under the input's header (``layout``: every
    column of the input, its delimiter and line ending; a short row's
    missing fields empty; given when the writer is made, or by
    :meth:`use_layout` before the first row), a Parquet row under the
    input's schema."""

    def __init__(self, path: str, fmt: str, *, schema: Any = None, layout: CsvLayout | None = None):
        self.fmt = fmt
        self.path = path
        self.layout = layout
        self._csv: Any = None
        self._text: IO[str] | None = None
        self._parquet: Any = None
        if fmt == "parquet":
            if path == "-":
                raise ValueError("Parquet output needs a file name (-o FILE.parquet), not stdout")
            from .parquet import RowWriter

            self._parquet = RowWriter(path, schema=schema)
            self._out = None
        else:
            self._out = open_output(path)

    def use_layout(self, layout: CsvLayout) -> None:
        """Write CSV rows under ``layout`` (``iter_records(on_layout=...)``:
        the input's header as the reader read it); once rows are written, the
        header they went under stays."""
        if self._csv is None:
            self.layout = layout

    def write(self, rec: Record) -> None:
        if self.fmt == "jsonl":
            data = rec.data if rec.data is not None else json.dumps(rec.raw, ensure_ascii=False).encode()
            self._out.write(data if data.endswith(b"\n") else data + b"\n")  # type: ignore[union-attr]
        elif self.fmt == "csv":
            if self._csv is None:
                self._text = io.TextIOWrapper(
                    self._out,
                    encoding="utf-8",
                    errors="surrogateescape",  # type: ignore[arg-type]
                    newline="",
                    write_through=True,
                )
                lay = self.layout or CsvLayout(list(rec.raw))
                self._csv = csv.DictWriter(
                    self._text,
                    fieldnames=lay.header,
                    delimiter=lay.delimiter,
                    lineterminator=lay.lineterminator,
                    restval="",
                    extrasaction="ignore",
                )
                self._csv.writeheader()
            self._csv.writerow(rec.raw)
        else:
            self._parquet.write(rec.raw)

    def flush(self) -> None:
        """Hand what was written to the file (a reader of a live feed's output
        sees it); Parquet rows wait for their row group."""
        if self._text is not None:
            self._text.flush()
        if self._out is not None:
            self._out.flush()

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
            return
        if self._text is not None:
            self._text.flush()
            self._text.detach()
        self._out.flush()  # type: ignore[union-attr]
        if self.path != "-":
            self._out.close()  # type: ignore[union-attr]
