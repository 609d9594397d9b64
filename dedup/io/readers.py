"""Readers of JSONL, CSV, Parquet and ``.txt`` inputs: one :class:`Record`
per line, row or file, good or bad, never an exception for one bad record.

What a reader does with hostile input (each is a rejected record naming its
line, and the reader goes on):

* invalid JSON, JSON nested too deeply, a record that is not an object;
* a missing text field, values of the wrong type, an out-of-range date;
* bytes that are not UTF-8 (or escaped lone surrogates) in id, text, title,
  source or url;
* a CSV row with more fields than the header;
* a truncated or corrupt ``.gz`` file: the records before the break come
  through, then one record says the file is truncated and the reader stops.

A UTF-8 byte order mark at the start of a file is ignored.
"""

from __future__ import annotations

import csv
import json
import re
import sys
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path
from typing import IO, Any, BinaryIO

import orjson

from ..article import Article, ArticleError
from .files import FORMATS, TRUNCATION_ERRORS, detect_format, expand_inputs, open_binary
from .records import FieldMap, InputError, Record, record_from_mapping

__all__ = [
    "iter_records",
    "read_paths",
    "sniff_delimiter",
    "parse_json_line",
    "id_prefix",
    "csv_text",
    "jsonl_record",
    "BOM",
    "DELIMITERS",
    "CsvLayout",
    "line_ending",
]

BOM = b"\xef\xbb\xbf"
DELIMITERS = (",", ";", "\t", "|")
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def _stem(path: str) -> str:
    """A ``.txt`` file's article id: its name without folder and extension."""
    return "stdin" if path == "-" else Path(path[:-3] if path.endswith(".gz") else path).stem


def id_prefix(path: str) -> str:
    """What the id of a record without one starts with: the path as given or
    found in a folder (``stdin`` for ``-``), bytes of the name that are not
    UTF-8 shown as ``\\xe9``, so that the id can be written out."""
    if path == "-":
        return "stdin"
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        try:
            raw = path.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a lone surrogate that is no escaped byte
            raw = path.encode("utf-8", "surrogatepass")
        return raw.decode("utf-8", "backslashreplace")
    return path


def _record(label: str, n: int, obj: Any, default_id: str, fields: FieldMap, data: bytes | None = None) -> Record:
    try:
        article = record_from_mapping(obj, default_id, fields)
    except ArticleError as exc:
        return Record(label, n, error=str(exc), raw=obj, data=data, id_field=fields.id)
    return Record(label, n, article=article, raw=obj, data=data, id_field=fields.id)


def parse_json_line(line: bytes) -> tuple[Any, str | None]:
    """The parsed line, or None and why it is not JSON.

    orjson parses a line three to four times faster than json, and gives the
    same objects for every line it accepts, except that it reads an integer
    beyond 64 bits as a float; json (the reference) parses the lines orjson
    rejects (bytes that are not UTF-8, escaped lone surrogates, NaN, numbers
    out of range, nesting past 1,024), those with such a float, and words
    the errors."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        pass
    else:
        if not _has_wide_float(obj):
            return obj, None
    try:
        # without its line end: json would put a break at the end on a line of its own (column 1)
        return json.loads(line.rstrip(b"\r\n").decode("utf-8", "surrogateescape")), None
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON: {exc.msg} (column {exc.colno})"
    except RecursionError:
        return None, "invalid JSON: nested too deeply"
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        return None, f"invalid JSON: {_value_error(exc)}"


def _value_error(exc: ValueError) -> str:
    """Why json refused a line, in the words of the data: Python's message
    for a number beyond its digit limit tells a programmer to call
    ``sys.set_int_max_str_digits()``, which a user of the command cannot."""
    m = re.match(r"Exceeds the limit \((\d+) digits\)", str(exc))
    return f"a number longer than {int(m.group(1)):,} digits" if m else str(exc)


def _has_wide_float(obj: Any) -> bool:
    """Whether a parsed value holds a float of magnitude 2**63 or more (where
    json might have read an integer), walked without recursion (orjson's
    values are of the exact built-in types)."""
    stack = [obj]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is str:
            continue
        if t is dict:
            stack.extend(v.values())
        elif t is list:
            stack.extend(v)
        elif t is float and not abs(v) < _WIDE:
            return True
    return False


_WIDE = 2.0**63


def _iter_jsonl(f: BinaryIO, label: str, ref: str, fields: FieldMap) -> Iterator[Record]:
    for n, line in enumerate(f, 1):
        rec = jsonl_record(line, n, label, ref, fields)
        if rec is not None:
            yield rec


def jsonl_record(line: bytes, n: int, label: str, ref: str, fields: FieldMap) -> Record | None:
    """Line ``n`` of a JSONL input as a record (None for a blank line): a BOM
    dropped on line 1, the JSON parsed, the article checked, its id
    ``f"{ref}:{n}"`` when it has none (``ref``: :func:`id_prefix` of the path)."""
    if n == 1 and line.startswith(BOM):
        line = line[len(BOM) :]
    if not line.strip():
        return None
    obj, error = parse_json_line(line)
    if error is not None:
        return Record(label, n, error=error, data=line)
    return _record(label, n, obj, f"{ref}:{n}", fields, data=line)


def sniff_delimiter(header: str, default: str = ",") -> str:
    """The delimiter a CSV header line uses: the most frequent of ``,;<tab>|`` (``default`` when none)."""
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else default


@dataclass(frozen=True)
class CsvLayout:
    """How a CSV input is laid out: its header (every column, in order), its
    delimiter and its line ending, for writing its rows back the same way."""

    header: list[str]
    delimiter: str = ","
    lineterminator: str = "\r\n"


def line_ending(line: str) -> str:
    """The line end ``line`` has (``\\r\\n``, ``\\r``, else ``\\n``)."""
    return "\r\n" if line.endswith("\r\n") else "\r" if line.endswith("\r") else "\n"


def _resolve_fields(header: list[str], fields: FieldMap) -> FieldMap:
    """``fields`` with each name matched to the header, ignoring case when not exact."""
    lower = {h.lower(): h for h in header}

    def find(name: str) -> str:
        return name if name in header else lower.get(name.lower(), name)

    return FieldMap(
        id=find(fields.id), text=find(fields.text), title=find(fields.title), published=find(fields.published)
    )


def csv_text(f: BinaryIO) -> IO[str]:
    """A CSV input's bytes as the reader decodes them (a BOM dropped, line ends kept)."""
    import io

    return io.TextIOWrapper(f, encoding="utf-8-sig", errors="surrogateescape", newline="")


def _iter_csv(
    f: BinaryIO,
    label: str,
    ref: str,
    fields: FieldMap,
    delimiter: str | None,
    tsv: bool,
    on_layout: Callable[[CsvLayout], None] | None = None,
) -> Iterator[Record]:
    text = csv_text(f)
    head = list(islice(text, 1))
    if not head:
        return
    delim = delimiter or sniff_delimiter(head[0], "\t" if tsv else ",")
    lines = _Lines(chain(head, text))
    reader = csv.reader(lines, delimiter=delim)
    try:
        header = [h.strip() for h in next(reader)]
    except csv.Error as exc:
        yield Record(label, 1, error=f"unreadable CSV header: {exc}")
        return
    if on_layout is not None:  # before the first row: stdin is read once, its header with it
        on_layout(CsvLayout(header, delim, line_ending(head[0])))
    names = _resolve_fields(header, fields)
    offset = 0
    while True:  # again after an unclosed quote, from the line after it
        again = yield from _csv_rows(reader, lines, label, ref, header, names, offset)
        if again is None:
            return
        offset, rest = again
        lines = _Lines(iter(rest))
        reader = csv.reader(lines, delimiter=delim)


class _Lines:
    """The lines a ``csv.reader`` reads, those of the current row kept
    (``taken``), so that a row can be looked at again as written."""

    def __init__(self, lines: Iterator[str]):
        self._lines = lines
        self.taken: list[str] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.taken.append(line)
        return line


def _csv_rows(
    reader: Any, lines: _Lines, label: str, ref: str, header: list[str], names: FieldMap, offset: int
) -> Generator[Record, None, tuple[int, list[str]] | None]:
    """The records of the rows ``reader`` reads (line numbers past ``offset``).

    A quote opened and never closed makes the csv module read every line up
    to the end of the file as one field: that row is rejected, naming its
    line, and the lines after it are returned (with their offset) to be read
    again, so that the rows they hold are not lost."""
    while True:
        lines.taken = []
        try:
            row = next(reader)
        except StopIteration:
            return None
        except csv.Error as exc:
            yield Record(label, offset + reader.line_num, error=f"unreadable CSV row: {exc}")
            continue
        n = offset + reader.line_num
        taken = lines.taken
        if len(taken) > 1 and _unclosed_quote(taken, reader.dialect.delimiter):
            start = n - len(taken) + 1
            yield Record(
                label, start, error="a quote opened on this line is never closed; the lines after it are read again"
            )
            return start, taken[1:]
        if not row or row == [""]:
            continue
        if len(row) > len(header):
            yield Record(label, n, error=f"row has {len(row)} fields, header has {len(header)}")
            continue
        yield _record(label, n, dict(zip(header, row, strict=False)), f"{ref}:{n}", names)


def _unclosed_quote(row_lines: list[str], delimiter: str) -> bool:
    """Whether the lines of one row end inside a quoted field (the csv
    module, not strict, takes the end of the file as the closing quote)."""
    try:
        for _ in csv.reader(row_lines, delimiter=delimiter, strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


#: byte order marks of the Unicode encodings other than UTF-8 (UTF-32's
#: first: its little-endian mark starts with UTF-16's)
_FOREIGN_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


def _foreign_encoding(f: BinaryIO) -> str | None:
    """``UTF-16`` or ``UTF-32`` when the input starts with that encoding's
    byte order mark (a file saved by Excel or PowerShell), else None; looked
    at without consuming a byte. Every line of such a file would be rejected
    as invalid JSON or CSV without a word on why: it is said once instead."""
    peek = getattr(f, "peek", None)
    if peek is None:
        return None
    head = peek(4)[:4]
    return next((name for bom, name in _FOREIGN_BOMS if head.startswith(bom)), None)


def _foreign_message(encoding: str) -> str:
    """The rejection of a whole file in ``encoding``, saying how to convert it."""
    return (
        f"the file is {encoding} (it starts with a {encoding} byte order mark); dedup reads UTF-8: "
        f"convert it first, e.g. iconv -f {encoding} -t UTF-8"
    )


def _iter_txt(f: BinaryIO, label: str, stem: str) -> Iterator[Record]:
    data = f.read()
    if data.startswith(BOM):
        data = data[len(BOM) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield Record(label, 0, error=f"article {stem!r}: bytes that are not valid UTF-8 (at byte {exc.start})")
        return
    try:
        article = Article(id=stem, text=text)
    except ArticleError as exc:  # e.g. a file name that is not UTF-8
        yield Record(label, 0, error=str(exc))
        return
    yield Record(label, 0, article=article)


def _iter_parquet(
    path: str, label: str, fields: FieldMap, on_bytes: Callable[[int], None] | None, batch_size: int
) -> Iterator[Record]:
    from .parquet import Unreadable, iter_rows

    ref = id_prefix(path)
    for n, row in iter_rows(path, batch_size=batch_size, on_bytes=on_bytes):
        if isinstance(row, Unreadable):
            yield Record(label, n, error=row.reason)
        else:
            yield _record(label, n, row, f"{ref}:{n}", fields)


def iter_records(
    path: str,
    *,
    fmt: str | None = None,
    text_field: str = "text",
    id_field: str = "id",
    title_field: str = "title",
    published_field: str = "published",
    delimiter: str | None = None,
    on_bytes: Callable[[int], None] | None = None,
    batch_size: int = 1024,
    on_layout: Callable[[CsvLayout], None] | None = None,
) -> Iterator[Record]:
    """Every record of one input, good or bad, with its line number.

    ``fmt`` is ``jsonl``, ``csv``, ``parquet`` or ``txt`` (default: from the
    file name; stdin is JSONL). Missing ids become ``"<path>:<line>"`` (the
    path as given, ``stdin:<line>`` for stdin); a ``.txt`` file's id is its
    stem. CSV: the header names the fields (matched ignoring case), the
    delimiter is sniffed from it unless given. Parquet is read ``batch_size``
    rows at a time, row group by row group (a group that cannot be decoded
    is one rejected record). ``on_bytes`` hears the input bytes consumed (for
    progress). ``on_layout`` hears a CSV input's :class:`CsvLayout` once its
    header is read, before its first record (how ``dedup dedupe`` writes the
    kept rows as they came, stdin too, which is read only once). Raises
    :class:`InputError` or :class:`FileNotFoundError` only when the file
    cannot be opened at all.
    """
    fmt = fmt or ("jsonl" if path == "-" else detect_format(path))
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    fields = FieldMap(id=id_field, text=text_field, title=title_field, published=published_field)
    label = "<stdin>" if path == "-" else path
    if fmt == "parquet":
        if path == "-":
            raise InputError("Parquet cannot be read from stdin; give a file")
        yield from _iter_parquet(path, label, fields, on_bytes, batch_size)
        return
    f = open_binary(path, on_bytes)
    last = 0
    try:
        for rec in _text_records(f, fmt, path, label, fields, delimiter, on_layout):
            last = rec.line
            yield rec
    except (*TRUNCATION_ERRORS, zlib.error) as exc:
        yield Record(
            label,
            last + 1,
            error=f"the file is truncated or corrupt ({exc}); reading stopped here, the records before were read",
        )
    finally:
        if f is not sys.stdin.buffer:
            f.close()


def _text_records(
    f: BinaryIO,
    fmt: str,
    path: str,
    label: str,
    fields: FieldMap,
    delimiter: str | None,
    on_layout: Callable[[CsvLayout], None] | None,
) -> Iterator[Record]:
    """The records of an opened ``.txt``, JSONL or CSV input; one rejection
    instead when it is in another Unicode encoding than UTF-8."""
    foreign = _foreign_encoding(f)
    if foreign is not None:
        yield Record(label, 0 if fmt == "txt" else 1, error=_foreign_message(foreign))
    elif fmt == "txt":
        yield from _iter_txt(f, label, _stem(path))
    elif fmt == "jsonl":
        yield from _iter_jsonl(f, label, id_prefix(path), fields)
    else:
        tsv = path.endswith((".tsv", ".tsv.gz"))
        yield from _iter_csv(f, label, id_prefix(path), fields, delimiter, tsv, on_layout)


def _unopened_as_record(records: Iterator[Record], path: str) -> Iterator[Record]:
    """The records of a file found in a folder; when the file cannot be
    opened or read at all (a broken link, a file that is not Parquet), one
    rejected record naming it instead, so that the other files of the folder
    are still read. (A file named on the command line that cannot be read
    stops the command: :class:`InputError`, exit code 2.)"""
    try:
        yield from records
    except (InputError, OSError) as exc:
        yield Record(path, 0, error=f"cannot read this file: {_unreadable_reason(exc, path)}")


def _unreadable_reason(exc: Exception, path: str) -> str:
    """Why ``path`` could not be read, without repeating its name."""
    if isinstance(exc, FileNotFoundError):
        return "it is not there (a broken link, or removed while it was read)"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc).removeprefix(f"{path}: ")


def read_paths(
    paths: Iterable[str],
    *,
    text_field: str = "text",
    id_field: str = "id",
    title_field: str = "title",
    published_field: str = "published",
    delimiter: str | None = None,
    fmt: str | None = None,
    on_error: Callable[[Record], None] | None = None,
    on_record: Callable[[Record], None] | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> Iterator[Article]:
    """Articles from files and folders (``.txt``, ``.jsonl``, ``.csv``, ``.parquet``; ``.gz`` looked through).

    Bad records go to ``on_error`` (default: a line on stderr naming file,
    line and reason) and are skipped; the good ones still come through.
    ``on_record`` sees every record, good or bad, before that.
    """
    report = on_error or (lambda r: print(f"dedup: {r.where()}: {r.error}", file=sys.stderr))
    for path, in_folder in expand_inputs(paths):
        records = iter_records(
            path,
            fmt=fmt,
            text_field=text_field,
            id_field=id_field,
            title_field=title_field,
            published_field=published_field,
            delimiter=delimiter,
            on_bytes=on_bytes,
        )
        for rec in _unopened_as_record(records, path) if in_folder else records:
            if on_record is not None:
                on_record(rec)
            if rec.ok:
                yield rec.article  # type: ignore[misc]
            else:
                report(rec)
