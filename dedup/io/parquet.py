"""Parquet in and out, a batch of rows at a time (``pip install "dedup[arrow]"``).

Reading never loads the whole file: :func:`iter_rows` walks
``pyarrow.parquet.ParquetFile.iter_batches``, one row group at a time.
Writing appends batches to one file through :class:`RowWriter`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..frames import require
from .records import InputError

__all__ = ["iter_rows", "Unreadable", "RowWriter", "input_schema"]


def _open(path: str) -> Any:
    pq = require("pyarrow.parquet", "arrow")
    try:
        return pq.ParquetFile(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"no such file: {path}") from None
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... for a file that is not Parquet
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from None


def input_schema(path: str) -> Any:
    """The Arrow schema of a Parquet file."""
    return _open(path).schema_arrow


@dataclass(frozen=True)
class Unreadable:
    """In place of a row: the rows of a row group that could not be decoded
    (``rows`` of them, from the row it stands at), and why."""

    rows: int
    reason: str


def iter_rows(
    path: str, *, batch_size: int = 1024, on_bytes: Callable[[int], None] | None = None
) -> Iterator[tuple[int, dict[str, Any] | Unreadable]]:
    """``(row number from 1, row as a dict)`` for each row, ``batch_size`` rows read at a time.

    The file is read row group by row group: a group that cannot be decoded
    (a corrupt page) gives one :class:`Unreadable` at the first row it could
    not give, and reading goes on with the next group, so the rows before and
    after it come through. ``on_bytes`` hears the file's bytes in proportion
    to the rows read. Raises :class:`InputError` naming the file when it is
    not Parquet."""
    pf = _open(path)
    meta = pf.metadata
    total_rows = max(1, meta.num_rows)
    size = os.path.getsize(path)
    n = 0
    done_bytes = 0
    for group in range(meta.num_row_groups):
        end = n + meta.row_group(group).num_rows
        try:
            for batch in pf.iter_batches(batch_size=batch_size, row_groups=[group]):
                for row in batch.to_pylist():
                    n += 1
                    yield n, row
                if on_bytes is not None:
                    now = size * n // total_rows
                    on_bytes(now - done_bytes)
                    done_bytes = now
        except Exception as exc:  # pyarrow raises OSError, ArrowInvalid, ... for a corrupt page
            why = " ".join(str(exc).split())
            left = f"rows {n + 1}-{end}" if end > n + 1 else f"row {n + 1}"
            where = f"row group {group + 1} of {meta.num_row_groups}"
            yield n + 1, Unreadable(end - n, f"unreadable Parquet data ({why}); {left} ({where}) left out")
            n = max(n, end)
    if on_bytes is not None and done_bytes < size:
        on_bytes(size - done_bytes)


class RowWriter:
    """Rows (dicts) appended to one Parquet file in batches of ``batch_size``.

    ``schema`` fixes the columns and types (e.g. the input file's, so that a
    kept row is written as it was read); without it the first batch's is used.
    """

    def __init__(self, path: str, schema: Any = None, batch_size: int = 1024):
        self._pa = require("pyarrow", "arrow")
        self._pq = require("pyarrow.parquet", "arrow")
        self.path = path
        self.schema = schema
        self.batch_size = batch_size
        self._rows: list[dict[str, Any]] = []
        self._writer: Any = None
        self.count = 0

    def write(self, row: dict[str, Any]) -> None:
        self._rows.append(row)
        if len(self._rows) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self._rows and self._writer is not None:
            return
        table = self._pa.Table.from_pylist(self._rows, schema=self.schema)
        if self._writer is None:
            self.schema = table.schema
            self._writer = self._pq.ParquetWriter(self.path, table.schema)
        self._writer.write_table(table)
        self.count += len(self._rows)
        self._rows = []

    def close(self) -> None:
        self.flush()
        self._writer.close()
