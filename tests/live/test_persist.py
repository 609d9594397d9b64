"""StoryIndex.save / load: versioned, checksummed, atomic, never pickle."""

from __future__ import annotations

import json
import os
import random
import signal
import stat
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
    params = Params(min_bands=1)  # partner lists kept: some cases corrupt them
    state = MemoryState(params)
    index = StoryIndex(params, state=state)
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
    with pytest.raises(IndexFormatError, match="version 1; this dedup reads versions 2 and 3.*rebuild"):
        StoryIndex.load(str(p))


def test_format_2_file_loads_without_partner_lists(feed, tmp_path):
    """A file written before the partner lists (format 2) loads: its live
    articles have no list (every pair with them is kept from their side),
    later articles get theirs, and the next save writes the current format.
    Parameters added since (``min_bands``, the headline profiles) take the
    values that do what the code did then."""
    import hashlib

    from dedup.live import persist

    first = StoryIndex()
    for a in feed[:100]:
        first.add(a)
    members = persist.encode(first.params, first.config(), first._state.snapshot())
    header = json.loads(members.pop("header.json"))
    for name in ("part_known", "part_offsets", "part_seq", "part_bands"):
        del members[f"{name}.npy"], header["members"][f"{name}.npy"]
    header["format_version"] = 2
    for name in ("min_bands", "headline_terms", "headline_neighbourhood"):
        del header["params"][name]
    assert all(hashlib.sha256(v).hexdigest() == header["members"][k]["sha256"] for k, v in members.items())
    old = tmp_path / "v2.dedup"
    with zipfile.ZipFile(old, "w") as z:
        z.writestr("header.json", json.dumps(header))
        for k, v in members.items():
            z.writestr(k, v)
    resumed = StoryIndex.load(str(old))
    assert (resumed.params.min_bands, resumed.params.headline_terms) == (1, 0)
    assert _signature(resumed) == _signature(first)
    state = resumed._state
    assert all(e.partners is None for e in state.entries.values())
    for a in feed[100:140]:
        resumed.add(a)
    assert all(e.partners is not None for e in state.entries.values() if e.live and e.seq >= 100)
    new = str(tmp_path / "v3.dedup")
    resumed.save(new)
    with zipfile.ZipFile(new) as z:
        assert json.loads(z.read("header.json"))["format_version"] == FORMAT_VERSION == 3
    again = StoryIndex.load(new)
    assert [e.partners for e in again._state.snapshot().entries] == [e.partners for e in state.snapshot().entries]


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
    import hashlib
    import io

    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.array([object()], dtype=object), allow_pickle=True)
    payload = buf.getvalue()
    p = tmp_path / "evil.dedup"
    members = {"seq.npy": payload}
    header = {
        "magic": MAGIC,
        "format_version": FORMAT_VERSION,
        "params": {},
        "config": {},
        "state": {},
        "members": {k: {"sha256": hashlib.sha256(v).hexdigest(), "bytes": len(v)} for k, v in members.items()},
    }
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


# --- issue 18: hostile files and failing saves ---------------------------------------


def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _rewrite(path, members: dict[str, bytes], header_edit=None) -> None:
    """Write ``members`` back with their checksums recomputed (a file whose
    checksums are valid, whatever its contents)."""
    import hashlib

    header = json.loads(members["header.json"])
    header["members"] = {
        k: {"sha256": hashlib.sha256(v).hexdigest(), "bytes": len(v)} for k, v in members.items() if k != "header.json"
    }
    if header_edit is not None:
        header_edit(header)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("header.json", json.dumps(header))
        for k, v in members.items():
            if k != "header.json":
                z.writestr(k, v)


def _npy(a) -> bytes:
    import io

    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.asarray(a), allow_pickle=False)
    return buf.getvalue()


def _arr(members, name):
    import io

    import numpy as np

    return np.load(io.BytesIO(members[f"{name}.npy"]), allow_pickle=False)


def test_zip_bomb_is_refused_from_sizes_before_inflating(saved, tmp_path):
    """Case 7: a member that deflates to 1 GiB is refused from the directory,
    in well under a second and without allocating it."""
    import hashlib
    import time
    import tracemalloc
    import zlib

    path, _ = saved
    members = _members(path)
    header = json.loads(members["header.json"])
    bomb = tmp_path / "bomb.dedup"
    size = 1 << 30
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        with z.open("cols.npy", "w", force_zip64=True) as f:
            block = bytes(1 << 22)
            for _ in range(size // len(block)):
                f.write(block)
        header["members"]["cols.npy"] = {"sha256": hashlib.sha256(b"").hexdigest(), "bytes": size}
        z.writestr("header.json", json.dumps(header), compress_type=zipfile.ZIP_STORED)
        for k, v in members.items():
            if k not in ("header.json", "cols.npy"):
                z.writestr(k, v, compress_type=zipfile.ZIP_STORED)
    assert bomb.stat().st_size < 2 << 20 and zlib  # a small file
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(IndexFormatError, match="cols.npy"):
        StoryIndex.load(str(bomb))
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 1.0 and peak < 64 << 20, (elapsed, peak)


def test_member_larger_than_the_file_is_refused(saved):
    """A stored member whose directory entry claims more bytes than the file holds."""
    path, _ = saved
    members = _members(path)

    def claim(header):
        header["members"]["counts.npy"]["bytes"] = 1 << 40

    _rewrite(path, members, claim)
    with pytest.raises(IndexFormatError, match="counts.npy.*size"):
        StoryIndex.load(str(path))


@pytest.mark.parametrize(
    "case,pattern",
    [
        ("short_strings", "string table 'id'"),
        ("offsets_out_of_range", "array offsets does not index cols"),
        ("no_state", "no params, config or state"),
        ("wrong_member_type", "array seq has type"),
        ("bad_columns", "columns outside"),
        ("profile_seq", "top_seq names sequence numbers"),
        ("signature_shape", "array term_sig has shape"),
        ("strings_not_json", "strings.json is not valid JSON"),
        ("missing_array", "missing arrays"),
        ("bad_params", "bad parameters"),
        ("partner_bands", "part_bands: no such band count"),
    ],
)
def test_inconsistent_contents_with_valid_checksums(saved, case, pattern):
    """Case 10: checksums valid, contents not: IndexFormatError naming what is wrong."""
    import numpy as np

    path, _ = saved
    m = _members(path)
    edit = None
    if case == "short_strings":
        s = json.loads(m["strings.json"])
        s["id"] = s["id"][:-3]
        m["strings.json"] = json.dumps(s).encode()
    elif case == "offsets_out_of_range":
        off = _arr(m, "offsets").copy()
        off[-1] += 10**6
        m["offsets.npy"] = _npy(off)
    elif case == "no_state":

        def edit(h):
            del h["state"]
    elif case == "wrong_member_type":
        m["seq.npy"] = _npy(np.array(["a"] * len(_arr(m, "seq"))))
    elif case == "bad_columns":
        m["cols.npy"] = _npy(_arr(m, "cols") + (1 << 30))
    elif case == "profile_seq":
        m["top_seq.npy"] = _npy(_arr(m, "top_seq") + 10**6)
    elif case == "signature_shape":
        m["term_sig.npy"] = _npy(_arr(m, "term_sig")[:, :7])
    elif case == "strings_not_json":
        m["strings.json"] = b"{not json"
    elif case == "missing_array":
        del m["dropped.npy"]
    elif case == "partner_bands":
        bands = _arr(m, "part_bands").copy()
        assert len(bands), "the saved index has partner lists"
        bands[0] = 1 << 32  # overflowed the int32 ranking arrays before it was checked
        m["part_bands.npy"] = _npy(bands)
    elif case == "bad_params":

        def edit(h):
            h["params"]["threshold"] = "high"

    _rewrite(path, m, edit)
    with pytest.raises(IndexFormatError, match=pattern):
        StoryIndex.load(str(path))


def _temp_files(folder) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.endswith(".tmp"))


def test_disk_full_during_save_keeps_previous_file(saved, monkeypatch):
    """Case 8: the disk fills up while saving: IndexSaveError naming the file,
    the previous file intact, no temporary file left."""
    import errno

    from dedup import IndexSaveError
    from dedup.live import persist

    path, state = saved
    before = path.read_bytes()
    index = StoryIndex(state=state)
    index.add({"id": "one-more", "text": "a brand new article about something else entirely, with words"})

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(persist.os, "fsync", full)
    with pytest.raises(IndexSaveError, match=f"cannot save index {path}: No space left on device") as info:
        index.save(str(path))
    assert info.value.errno == errno.ENOSPC
    assert path.read_bytes() == before and not _temp_files(path.parent)
    monkeypatch.undo()
    index.save(str(path))  # once there is room again
    assert StoryIndex.load(str(path)).n_articles == 31


def test_read_only_target_is_a_clear_error(saved, monkeypatch):
    """Case 8: a folder the process may not write to: IndexSaveError, previous file intact."""
    import errno

    from dedup import IndexSaveError
    from dedup.live import persist

    path, state = saved
    before = path.read_bytes()
    if os.geteuid() != 0:
        os.chmod(path.parent, 0o555)
    else:  # root writes anywhere: a read-only file system, then

        def refuse(*args, **kwargs):
            raise OSError(errno.EROFS, "Read-only file system")

        monkeypatch.setattr(persist.tempfile, "mkstemp", refuse)
    try:
        with pytest.raises(IndexSaveError, match=f"cannot save index {path}"):
            StoryIndex(state=state).save(str(path))
    finally:
        os.chmod(path.parent, 0o755)
    assert path.read_bytes() == before and not _temp_files(path.parent)


def test_save_keeps_the_mode_of_an_existing_file(saved):
    """Case 13: an existing file's mode survives a save."""
    path, state = saved
    os.chmod(path, 0o640)
    StoryIndex(state=state).save(str(path))
    assert os.stat(path).st_mode & 0o777 == 0o640


def test_new_file_gets_the_umask_mode(feed, tmp_path):
    """Case 13: a new index file gets the umask's mode (not mkstemp's 0600)."""
    index = StoryIndex()
    index.add(feed[0])
    old = os.umask(0o022)
    try:
        index.save(str(tmp_path / "new.dedup"))
        os.umask(0o027)
        index.save(str(tmp_path / "other.dedup"))
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "new.dedup").st_mode & 0o777 == 0o644
    assert os.stat(tmp_path / "other.dedup").st_mode & 0o777 == 0o640


def test_stale_temp_files_are_cleaned_on_the_next_save(saved):
    """Case 13: temporary files of a killed saver go on the next save; a live
    saver's and other files' stay."""
    import time

    path, state = saved
    folder = path.parent
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        stale = [f".{path.name}.{dead.pid}.abc123.tmp", f".{path.name}.k2j3h4.tmp"]  # new and old naming
        keep = [f".{path.name}.{sleeper.pid}.zzz999.tmp", ".other.dedup.1.abc.tmp", "notes.tmp"]
        for n in stale + keep:
            (folder / n).write_bytes(b"x" * 1000)
        old = time.time() - 7200
        os.utime(folder / stale[1], (old, old))
        StoryIndex(state=state).save(str(path))
        assert _temp_files(folder) == sorted(keep)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_stories_come_in_the_same_order_after_a_load(tmp_path, ecbplus_docs):
    # re-clustering renames stories; a loaded index rebuilds them from their
    # members: both list a story at its first member (the order changed on load)
    docs = [{"id": d["doc_id"], "text": d["text"]} for d in ecbplus_docs]
    random.Random(4).shuffle(docs)
    index = StoryIndex()
    index.add_many(docs[:200])
    index.save(tmp_path / "o.dedup")
    loaded = StoryIndex.load(tmp_path / "o.dedup")
    assert [s.id for s in loaded] == [s.id for s in index]
    assert [s.members for s in loaded] == [s.members for s in index]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_save_refuses_what_is_not_a_regular_file_and_keeps_a_link(tmp_path):
    # an index is saved by renaming a new file over the path: over /dev/null
    # (or a pipe, a folder) that put the index in the device's place
    index = StoryIndex()
    index.add("Storm closes the harbour")
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    for target in (pipe, tmp_path):
        with pytest.raises(OSError, match="not a regular file"):
            index.save(target)
    assert stat.S_ISFIFO(os.stat(pipe).st_mode)
    index.save(tmp_path / "real.dedup")
    (tmp_path / "link.dedup").symlink_to(tmp_path / "real.dedup")
    index.add("Bank raises rates")
    index.save(tmp_path / "link.dedup")  # the link stays; its target is the new index
    assert (tmp_path / "link.dedup").is_symlink()
    assert StoryIndex.load(tmp_path / "real.dedup").n_articles == 2
