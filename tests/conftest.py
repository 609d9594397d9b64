"""Shared fixtures: the seed pair and the bundled labelled data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
ECBPLUS = ROOT / "benchmarks" / "data" / "ecbplus" / "ecbplus_docs.jsonl"


@pytest.fixture(scope="session")
def seed_texts() -> list[tuple[str, str]]:
    """``(id, text)`` of the two seed documents, original first."""
    return [(p.stem, p.read_text(encoding="utf-8")) for p in sorted(SEEDS.glob("*.txt"))]


@pytest.fixture(scope="session")
def ecbplus_docs() -> list[dict]:
    with ECBPLUS.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Spark tests start a JVM and run for minutes: they count as slow, so the
    default run (``-m 'not slow'`` in pyproject.toml) leaves them to
    ``pytest -m slow`` / ``pytest -m spark``, which CI runs too."""
    for item in items:
        if item.get_closest_marker("spark"):
            item.add_marker(pytest.mark.slow)
