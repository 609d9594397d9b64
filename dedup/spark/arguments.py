"""The checks of a :func:`dedup.cluster_spark` call, made before any Spark job.

Apart from :mod:`dedup.spark.run` so that the package's front door and the
run both use them without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..params import Params

__all__ = ["SparkOptions", "block_rows", "check_arguments"]


@dataclass(frozen=True)
class SparkOptions:
    """A checked :func:`dedup.cluster_spark` call: its columns, error policy,
    block size and pipeline parameters."""

    id_col: str
    text_col: str
    title_col: str | None
    published_col: str | None
    errors: str
    block_size: int | None
    params: Params


MIN_BLOCK, MAX_BLOCK = 10_000, 25_000


def block_rows(n: int, parallelism: int) -> int:
    """The default block size for ``n`` articles on ``parallelism`` cores:
    two blocks a core, between 10,000 and 25,000 rows. Larger blocks borrow
    fewer rows from others (at 1M generated articles, 762,313 borrowed rows
    with blocks of 25,000 against 1,925,936 with 10,000: the shuffles of the
    partner rule and the verification shrink by as much); smaller ones keep
    every core busy and bound a task's memory (about 6 KB a row, and the
    block's pairs: with 50,000, and each block's arrays then in one cell, a
    1M run ran out of a 6 GB driver's heap)."""
    return int(min(MAX_BLOCK, max(MIN_BLOCK, -(-n // (2 * max(1, parallelism))))))


def check_arguments(
    df: Any,
    *,
    id_col: str = "id",
    text_col: str = "text",
    title_col: str | None = None,
    published_col: str | None = None,
    errors: str = "warn",
    params: Params | None = None,
    block_size: int | None = None,
    **kwargs: Any,
) -> SparkOptions:
    """The options of a :func:`dedup.cluster_spark` call (the one place their
    defaults live), after checking them and that the named columns exist --
    before any Spark job, so a typo fails at once with the name in the
    message. ``kwargs`` are pipeline parameters by name, over ``params``."""
    from pyspark.sql import DataFrame

    if errors not in ("raise", "warn", "ignore"):
        raise ValueError(f"errors must be 'raise', 'warn' or 'ignore', got {errors!r}")
    if params is not None and not isinstance(params, Params):
        raise TypeError(f"params must be a dedup.Params, got {type(params).__name__}")
    p = Params.from_kwargs(**kwargs) if params is None else (params.with_(**kwargs) if kwargs else params)
    if block_size is not None and (not isinstance(block_size, int) or isinstance(block_size, bool) or block_size < 1):
        raise ValueError(f"block_size must be a positive integer or None, got {block_size!r}")
    if not isinstance(df, DataFrame):
        raise TypeError(f"cluster_spark() takes a Spark DataFrame, got {type(df).__name__}")
    names = df.columns
    for name in (id_col, text_col, title_col, published_col):
        if name is not None and name not in names:
            raise ValueError(f"no column {name!r} in the DataFrame (columns: {', '.join(names)})")
    return SparkOptions(id_col, text_col, title_col, published_col, errors, block_size, p)
