"""The checks and defaults of a ``cluster_spark`` call (:mod:`dedup.spark.arguments`)."""

from __future__ import annotations

import pytest

pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'dedup[spark]')")

from dedup.spark.arguments import MAX_BLOCK, MIN_BLOCK, block_rows, check_arguments  # noqa: E402


@pytest.mark.parametrize(
    "n,cores,want",
    [
        (40_000, 2, 10_000),  # two blocks a core
        (60_000, 2, 15_000),
        (1_000_000, 2, MAX_BLOCK),  # bounded: a task's memory
        (1_000, 2, MIN_BLOCK),  # small corpora: one block
        (100_000_000, 400, MAX_BLOCK),
        (160_000, 8, MIN_BLOCK),
        (60_001, 2, 15_001),  # rounded up: never a third, tiny block
        (5, 0, MIN_BLOCK),  # no parallelism reported
    ],
)
def test_default_block_size_is_two_blocks_a_core_within_bounds(n, cores, want):
    assert block_rows(n, cores) == want


@pytest.mark.parametrize("bad", [0, -5, 2.5, True, "10000"])
def test_block_size_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match="block_size"):
        check_arguments(None, block_size=bad)
