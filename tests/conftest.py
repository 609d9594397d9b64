"""Shared fixtures: the seed pair, the bundled labelled data and a throwaway
Redis server; Hypothesis runs derandomized, so that a run's outcome depends on
the code alone (``HYPOTHESIS_PROFILE=hunt`` draws fresh examples each run, for
a longer search together with ``DEDUP_FUZZ_EXAMPLES``)."""

from __future__ import annotations

import atexit
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("hunt", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# A run started in the background without job control (``cmd &``, nohup) has
# Ctrl-C ignored, and the commands it starts inherit that: the Ctrl-C tests
# need it delivered as in a terminal (their children get the default again).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# the run's own disk cache (dedup._cache), shared with the CLI subprocesses it starts and removed after
if "DEDUP_CACHE_DIR" not in os.environ:
    os.environ["DEDUP_CACHE_DIR"] = tempfile.mkdtemp(prefix="dedup-test-cache-")
    atexit.register(shutil.rmtree, os.environ["DEDUP_CACHE_DIR"], ignore_errors=True)

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
ECBPLUS = ROOT / "benchmarks" / "data" / "ecbplus" / "ecbplus_docs.jsonl"
UCI = ROOT / "benchmarks" / "data" / "uci-news-aggregator-subset" / "uci_news_aggregator_subset.csv"
REDIS = shutil.which("redis-server")
NO_REDIS = "redis-server is not installed (Debian package redis-server)"


@pytest.fixture(scope="session")
def seed_texts() -> list[tuple[str, str]]:
    """``(id, text)`` of the two seed documents, original first."""
    return [(p.stem, p.read_text(encoding="utf-8")) for p in sorted(SEEDS.glob("*.txt"))]


@pytest.fixture(scope="session")
def ecbplus_docs() -> list[dict]:
    with ECBPLUS.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="session")
def uci_headlines() -> list[dict]:
    """The bundled UCI headlines: ``{"id", "text", "story"}`` in file order."""
    with UCI.open(encoding="utf-8", newline="") as f:
        return [{"id": r["ID"], "text": r["TITLE"], "story": r["STORY"]} for r in csv.DictReader(f)]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Spark tests start a JVM and run for minutes: they count as slow, so the
    default run (``-m 'not slow'`` in pyproject.toml) leaves them to
    ``pytest -m slow`` / ``pytest -m spark``, which CI runs too."""
    for item in items:
        if item.get_closest_marker("spark"):
            item.add_marker(pytest.mark.slow)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(port: int, *extra: str, cwd: str | None = None) -> subprocess.Popen:
    """A ``redis-server`` on ``127.0.0.1:port``, once it answers a ping."""
    proc = subprocess.Popen(
        [REDIS, "--port", str(port), "--bind", "127.0.0.1", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=cwd,
    )
    import redis

    r = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 20
    while True:
        try:
            if r.ping():
                return proc
        except redis.exceptions.ConnectionError as exc:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"redis-server did not start on port {port}") from exc
            time.sleep(0.05)


def stop_redis(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def redis_server():
    """A throwaway Redis server (no persistence) for the session: its
    ``redis.Redis`` connection arguments."""
    if REDIS is None:
        pytest.skip(NO_REDIS)
    port = free_port()
    proc = start_redis(port, "--save", "", "--appendonly", "no")
    yield {"host": "127.0.0.1", "port": port}
    stop_redis(proc)
