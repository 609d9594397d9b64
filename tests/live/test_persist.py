"""StoryIndex.save / load: versioned, checksummed, atomic, never pickle."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import zipfile

import pytest

from dedup import Params
from dedup.live import IndexFormatError, StoryIndex
from dedup.live.memory import MemoryState
from dedup.live.persist import FORMAT_VERSION, MAGIC, load_index
from dedup.synth import generate_articles


@pytest.fixture(scope="module")
def feed() -> list[dict]:
    return list(generate_articles(240, seed=11))


def _signature(index: StoryIndex):
    return sorted((s.id, s.members, s.versions, s.representative) for s in index)


def test_save_load_continue_equals_never_stopping(feed, tmp_path):
    path = str(tmp_path / "feed.dedup")
    straight = StoryIndex()
    expected = [straight.add(a) for a in feed]

    first = StoryIndex()
    got = [first.add(a) for a in feed[:130]]
    first.save(path)
    resumed = StoryIndex.load(path)
    assert resumed.n_articles == 130 and len(resumed) == len(first)
    assert _signature(resumed) == _signature(first)
    got += [resumed.add(a) for a in feed[130:]]
    assert got == expected
    assert _signature(resumed) == _signature(straight)


def test_retention_and_params_survive(feed, tmp_path):
    path = str(tmp_path / "x.dedup")
    index = StoryIndex(threshold=0.2, max_live=40, retention=None)
    for a in feed[:60]:
        index.add(a)
    index.save(path)
    back = StoryIndex.load(path)
    assert back.params == index.params and back.max_live == 40 and back.retention is None
    assert back.n_live == 40


@pytest.fixture()
def saved(feed, tmp_path):
    """A small index saved to a file: ``(path, its state)``."""
    path = tmp_path / "x.dedup"
    state = MemoryState(Params())
    index = StoryIndex(state=state)
    for a in feed[:30]:
        index.add(a)
    index.save(str(path))
    return path, state


def test_file_is_zip_of_json_and_npy_only(saved):
    path, _ = saved
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        header = json.loads(z.read("header.json"))
    assert header["magic"] == MAGIC and header["format_version"] == FORMAT_VERSION
    assert all(n.endswith((".json", ".npy")) for n in names)
    assert set(header["members"]) == set(names) - {"header.json"}
    assert {"top_seq.npy", "rev_seq.npy", "n_terms.npy"} <= set(names) and "prior.npy" not in names


def test_neighbour_profiles_survive(saved):
    path, state = saved
    _, _, back = load_index(str(path))
    live = {e.seq: (e.top, e.rev, e.n_terms, e.dropped) for e in state.entries.values() if e.live}
    assert live and any(t for t, _, _, _ in live.values())
    assert {e.seq: (e.top, e.rev, e.n_terms, e.dropped) for e in back.entries if e.live} == live


def test_truncated_file_gives_clear_error(saved):
    path, _ = saved
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 30, 10):
        path.write_bytes(data[:cut])
        with pytest.raises(IndexFormatError, match="cannot load index"):
            StoryIndex.load(str(path))


def test_corrupted_member_fails_checksum(saved):
    path, _ = saved
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("counts.npy")
    pos = info.header_offset + 30 + len(info.filename) + len(info.extra) + 200
    data[pos] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IndexFormatError, match="checksum|corrupted"):
        StoryIndex.load(str(path))


def _index_file_of_version(path, version: int):
    """A zip holding only an index header of ``version``."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("header.json", json.dumps({"magic": MAGIC, "format_version": version, "members": {}}))
    return path


def test_format_1_file_says_rebuild(tmp_path):
    p = _index_file_of_version(tmp_path / "old.dedup", 1)
    with pytest.raises(IndexFormatError, match="version 1; this dedup reads version 2.*rebuild"):
        StoryIndex.load(str(p))


def test_wrong_version_and_not_an_index(tmp_path):
    p = _index_file_of_version(tmp_path / "v.dedup", 99)
    with pytest.raises(IndexFormatError, match="version 99"):
        StoryIndex.load(str(p))
    q = tmp_path / "other.dedup"
    q.write_text("hello")
    with pytest.raises(IndexFormatError, match="not a dedup index"):
        StoryIndex.load(str(q))
    with pytest.raises(FileNotFoundError):
        StoryIndex.load(str(tmp_path / "missing"))


def test_pickle_in_file_is_not_executed(tmp_path):
    """A .npy member holding a pickled object is refused, not unpickled."""
    import io
    import hashlib
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.array([object()], dtype=object), allow_pickle=True)
    payload = buf.getvalue()
    p = tmp_path / "evil.dedup"
    members = {"seq.npy": payload}
    header = {"magic": MAGIC, "format_version": FORMAT_VERSION, "params": {}, "config": {}, "state": {},
              "members": {k: {"sha256": hashlib.sha256(v).hexdigest(), "bytes": len(v)} for k, v in members.items()}}
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("header.json", json.dumps(header))
        for k, v in members.items():
            z.writestr(k, v)
    with pytest.raises(IndexFormatError):
        StoryIndex.load(str(p))


_SAVER = r"""
import sys
from dedup.live import StoryIndex
from dedup.synth import generate_articles
index = StoryIndex()
for a in generate_articles(150, seed=5):
    index.add(a)
print("ready", flush=True)
while True:
    index.save(sys.argv[1])
"""


@pytest.mark.slow
def test_kill_during_save_keeps_previous_file(feed, tmp_path):
    path = tmp_path / "live.dedup"
    index = StoryIndex()
    for a in feed[:25]:
        index.add(a)
    index.save(str(path))
    before = path.read_bytes()
    proc = subprocess.Popen([sys.executable, "-c", _SAVER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        # let it overwrite the file a few times, then kill it in the middle of a save
        import time

        deadline = time.monotonic() + 60
        while path.read_bytes() == before and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    loaded = StoryIndex.load(str(path))  # whole and loadable: either the old or a complete new file
    assert loaded.n_articles in (25, 150)
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp") and os.path.getsize(tmp_path / n) > 10**9]
