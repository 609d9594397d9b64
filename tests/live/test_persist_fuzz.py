"""Property tests of the index file loader (issue 18): arbitrary bytes,
truncations and mutations of a real file give a loaded index or
IndexFormatError, never another exception type.

Each property runs ``DEDUP_FUZZ_EXAMPLES`` inputs (default 150; e.g. 5000 for
a longer hunt). A file that loads must also work: it is restored into an index
that then takes one more article.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedup.live import IndexFormatError, StoryIndex
from dedup.live.persist import read_snapshot
from dedup.synth import generate_articles

EXAMPLES = int(os.environ.get("DEDUP_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
_FEED = list(generate_articles(12, seed=2))
_MORE = {"id": "fuzz-extra", "text": _FEED[0]["text"]}


def _valid_file() -> bytes:
    index = StoryIndex()
    for a in _FEED[:10]:
        index.add(a)
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "x.dedup")
        index.save(path)
        with open(path, "rb") as f:
            return f.read()


VALID = _valid_file()


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def _resealed(members: dict[str, bytes]) -> bytes:
    """A file of these members with valid checksums (the header rewritten)."""
    try:
        header = json.loads(members["header.json"])
    except ValueError:
        header = None
    if isinstance(header, dict) and isinstance(header.get("members"), dict):
        header["members"] = {
            k: {"sha256": hashlib.sha256(v).hexdigest(), "bytes": len(v)}
            for k, v in members.items()
            if k != "header.json"
        }
        members = {**members, "header.json": json.dumps(header).encode()}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k, v in members.items():
            z.writestr(k, v)
    return buf.getvalue()


def _load_or_refuse(data: bytes) -> None:
    """The property: IndexFormatError, or a snapshot that restores and works."""
    try:
        params, config, snap = read_snapshot(data, "fuzz.dedup")
    except IndexFormatError:
        return
    from dedup.live.memory import MemoryState

    state = MemoryState(params)
    state.restore(snap)
    index = StoryIndex(params, retention=config["retention_days"], max_live=config["max_live"], state=state)
    if "fuzz-extra" not in index:
        index.add(_MORE)
    list(index)


def test_the_valid_file_loads():
    params, _, snap = read_snapshot(VALID)
    assert len(snap.entries) == 10


@FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes(data):
    _load_or_refuse(data)


@FUZZ
@given(st.integers(0, len(VALID)))
def test_truncations(cut):
    _load_or_refuse(VALID[:cut])


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), min_size=1, max_size=8))
def test_byte_mutations(changes):
    data = bytearray(VALID)
    for pos, value in changes:
        data[pos] = value
    _load_or_refuse(bytes(data))


_NAMES = sorted(_members(VALID))


@FUZZ
@given(st.sampled_from(_NAMES), st.data())
def test_member_mutations_with_valid_checksums(name, data):
    """Mutate one member's bytes (flip, cut or extend), then reseal the checksums:
    the loader's own checks must catch whatever the checksums no longer do."""
    members = _members(VALID)
    raw = bytearray(members[name])
    how = data.draw(st.sampled_from(["flip", "cut", "extend"]))
    if how == "flip" and raw:
        for _ in range(data.draw(st.integers(1, 4))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    elif how == "cut":
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    else:
        raw += data.draw(st.binary(min_size=1, max_size=64))
    members[name] = bytes(raw)
    _load_or_refuse(_resealed(members))


@FUZZ
@given(
    st.sampled_from([n for n in _NAMES if n.endswith(".json")]),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=12,
    ),
)
def test_json_members_replaced_by_any_json(name, value):
    members = _members(VALID)
    if name == "header.json":
        header = json.loads(members[name])
        digest = hashlib.sha256(json.dumps(value, default=str).encode()).digest()
        key = sorted(header)[digest[0] % len(header)]
        if key in ("magic", "format_version", "members"):
            key = "state"
        header[key] = value
        members[name] = json.dumps(header).encode()
    else:
        members[name] = json.dumps(value).encode()
    _load_or_refuse(_resealed(members))


@pytest.mark.parametrize("name", [n for n in _NAMES if n.endswith(".npy")])
def test_each_array_emptied_or_retyped(name):
    import numpy as np

    for replacement in (np.zeros(0, np.int64), np.zeros((3, 3), np.float32), np.array([True]), np.arange(5.0)):
        buf = io.BytesIO()
        np.save(buf, replacement, allow_pickle=False)
        members = _members(VALID)
        members[name] = buf.getvalue()
        _load_or_refuse(_resealed(members))
