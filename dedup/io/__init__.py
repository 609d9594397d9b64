"""Reading and writing articles: folders of ``.txt``, JSONL, CSV and Parquet
(``.gz`` looked through), ``-`` for stdin.

Readers never stop at a bad record: :func:`iter_records` yields one
:class:`Record` per line/row/file, holding either an
:class:`~dedup.Article` or the reason it was rejected, with its file and
line number. :func:`read_paths` is the convenience for the command line:
good articles out, bad ones reported. :mod:`dedup.io.parquet` reads and
writes Parquet a batch at a time.
"""

from .ahead import ReadAhead
from .files import (
    FORMATS,
    OutputError,
    detect_format,
    expand_paths,
    input_size,
    open_binary,
    open_output,
    open_text,
    special_file,
    writing,
)
from .readers import DELIMITERS, iter_records, read_paths, sniff_delimiter
from .records import FieldMap, InputError, Record
from .writers import write_jsonl

__all__ = [
    "DELIMITERS",
    "FORMATS",
    "FieldMap",
    "InputError",
    "OutputError",
    "ReadAhead",
    "Record",
    "detect_format",
    "expand_paths",
    "input_size",
    "iter_records",
    "open_binary",
    "open_output",
    "open_text",
    "read_paths",
    "sniff_delimiter",
    "special_file",
    "write_jsonl",
    "writing",
]
