"""Fixtures of the live-index tests."""

from __future__ import annotations

import itertools
import time

import pytest

_counter = itertools.count()


@pytest.fixture()
def prefix(redis_server):
    """A key prefix of its own on the session's Redis server, dropped afterwards."""
    name = f"t{next(_counter)}-{time.monotonic_ns()}"
    yield name
    from dedup.live.redis import drop_index

    drop_index(redis_server, name)
