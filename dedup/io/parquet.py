"""Parquet in and out, a batch of rows at a time (``pip install "dedup[arrow]"``).

Reading never loads the whole file: :func:`iter_rows` walks
``pyarrow.parquet.ParquetFile.iter_batches``. Writing appends batches to one
file through :class:`RowWriter`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

from ..frames import require
from .records import InputError

__all__ = ["iter_rows", "RowWriter", "input_schema"]


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


def iter_rows(
    path: str, *, batch_size: int = 1024, on_bytes: Callable[[int], None] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(row number from 1, row as a dict)`` for each row, ``batch_size`` rows read at a time.

    ``on_bytes`` hears the file's bytes in proportion to the rows read.
    Raises :class:`InputError` naming the file when it is not Parquet or a
    batch cannot be decoded."""
    pf = _open(path)
    total_rows = max(1, pf.metadata.num_rows)
    size = os.path.getsize(path)
    n = 0
    done_bytes = 0
    batches = pf.iter_batches(batch_size=batch_size)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except Exception as exc:  # a corrupt page: the rows before came through
            raise InputError(f"{path}:{n + 1}: unreadable Parquet data ({exc})") from None
        for row in batch.to_pylist():
            n += 1
            yield n, row
        if on_bytes is not None:
            now = size * n // total_rows
            on_bytes(now - done_bytes)
            done_bytes = now


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
