"""Soak test of saving under kill -9 (issue 18): a saver process rewrites the
index file in a loop and is killed at a random moment, ``DEDUP_SOAK_KILLS``
times (default 5, under a minute on an idle machine; e.g. 200 for a longer soak). After each
kill the file loads and is the old or the new index, never a broken one; the
next save leaves no temporary file behind."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from dedup.live import StoryIndex
from dedup.synth import generate_articles

KILLS = int(os.environ.get("DEDUP_SOAK_KILLS", "5"))

# loads the small and the big index once, then saves them in turn to the target forever
_SAVER = r"""
import sys
from dedup.live import StoryIndex
small, big = StoryIndex.load(sys.argv[2]), StoryIndex.load(sys.argv[3])
print("ready", flush=True)
while True:
    small.save(sys.argv[1])
    big.save(sys.argv[1])
"""


@pytest.mark.slow
def test_kill_during_save_soak(tmp_path):
    feed = list(generate_articles(160, seed=5))
    small, big = StoryIndex(), StoryIndex()
    for a in feed[:20]:
        small.add(a)
    for a in feed:
        big.add(a)
    paths = {n: str(tmp_path / f"{n}.src") for n in ("small", "big")}
    small.save(paths["small"])
    big.save(paths["big"])
    target = tmp_path / "live.dedup"
    small.save(str(target))
    rng = random.Random(1)
    seen = set()
    for _ in range(KILLS):
        proc = subprocess.Popen(
            [sys.executable, "-c", _SAVER, str(target), paths["small"], paths["big"]], stdout=subprocess.PIPE, text=True
        )
        try:
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.0, 1.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        n = StoryIndex.load(str(target)).n_articles  # whole: the old or a complete new file
        assert n in (20, 160)
        seen.add(n)
    leftovers = [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    StoryIndex.load(str(target)).save(str(target))  # the next save cleans what the kills left
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")], leftovers
    assert StoryIndex.load(str(target)).n_articles in (20, 160)
    print(f"{KILLS} kills: files of {sorted(seen)} articles after them, {len(leftovers)} temp files left by kills")
