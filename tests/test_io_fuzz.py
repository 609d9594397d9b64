"""Property-based tests of the readers (issue 18): arbitrary bytes,
truncations and mutations of JSONL, CSV, gzip, folders, stdin and Parquet
give the good records, or rejected records with a line and a reason, or
(for a file that cannot be opened as its format at all) InputError -- never
another exception type.

Each test tries ``max_examples`` inputs (see the settings below): about
1,100 inputs in all per run.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import sys
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedup.io import InputError, Record, iter_records, read_paths

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

ARTICLES = [
    {"id": f"a{i}", "text": f"Article number {i} about the harbour strike and the mayor's reply.", "published": i}
    for i in range(6)
]
JSONL = b"".join(json.dumps(a).encode() + b"\n" for a in ARTICLES)
CSV = b"id,text,published\n" + b"".join(f'{a["id"]},"{a["text"]}",{a["published"]}\n'.encode() for a in ARTICLES)


def _read(data: bytes, suffix: str, **kw) -> list[Record]:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "input" + suffix)
        with open(path, "wb") as f:
            f.write(data)
        return list(iter_records(path, **kw))


def _well_formed(records: list[Record]) -> None:
    last = 0
    for r in records:
        assert r.ok != (r.error is not None)
        assert r.error is None or (isinstance(r.error, str) and r.error)
        assert r.line >= last  # in file order
        last = r.line


@FUZZ
@given(st.binary(max_size=2000))
def test_jsonl_arbitrary_bytes(data):
    _well_formed(_read(data, ".jsonl"))


@FUZZ
@given(st.binary(max_size=2000))
def test_csv_arbitrary_bytes(data):
    _well_formed(_read(data, ".csv"))


@FUZZ
@given(st.binary(max_size=600))
def test_gzip_arbitrary_bytes(data):
    _well_formed(_read(data, ".jsonl.gz"))


def _mutate(data: bytes, where: int, kind: str, payload: bytes) -> bytes:
    where = where % (len(data) + 1)
    if kind == "truncate":
        return data[:where]
    if kind == "insert":
        return data[:where] + payload + data[where:]
    if kind == "delete":
        return data[:where] + data[where + len(payload) :]
    return data[:where] + payload + data[where + len(payload) :]  # overwrite


MUTATION = st.tuples(
    st.integers(0, 10_000),
    st.sampled_from(["truncate", "insert", "delete", "overwrite"]),
    st.binary(min_size=1, max_size=20),
)


@FUZZ
@given(MUTATION, st.sampled_from([(".jsonl", JSONL), (".csv", CSV)]))
def test_mutated_file_keeps_every_record_before_the_damage(mutation, fmt):
    suffix, data = fmt
    where, kind, payload = mutation
    where %= len(data) + 1
    records = _read(_mutate(data, where, kind, payload), suffix)
    _well_formed(records)
    intact = data[:where].count(b"\n") - (1 if suffix == ".csv" else 0)  # whole records before the damage
    good = [r.article.id for r in records if r.ok]
    assert good[: max(0, intact - 1)] == [a["id"] for a in ARTICLES[: max(0, intact - 1)]]


@FUZZ
@given(MUTATION)
def test_damaged_gzip_gives_a_prefix_then_one_error(mutation):
    where, kind, payload = mutation
    records = _read(_mutate(gzip.compress(JSONL, mtime=0), where, kind, payload), ".jsonl.gz")
    _well_formed(records)
    for r in records[:-1]:
        assert r.ok or "truncated" not in r.error  # the truncation error, if any, is the last record
    good = [r.article.id for r in records if r.ok and r.article.id.startswith("a")]
    assert all(i in {a["id"] for a in ARTICLES} for i in good)


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.from_regex(r"[a-z]{1,8}(\.txt|\.jsonl|\.csv|\.gz|\.jsonl\.gz|\.md|)", fullmatch=True),
        st.binary(max_size=300),
        max_size=6,
    )
)
def test_folder_of_arbitrary_files(files):
    with tempfile.TemporaryDirectory() as d:
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        bad: list[Record] = []
        got = list(read_paths([d], on_error=bad.append))
        assert all(isinstance(a.id, str) for a in got)
        for source in {r.source for r in bad}:
            _well_formed([r for r in bad if r.source == source])


@FUZZ
@given(st.binary(max_size=1500))
def test_stdin_arbitrary_bytes(monkeypatch, data):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    _well_formed(list(iter_records("-")))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=800))
def test_parquet_arbitrary_bytes_is_input_error_or_records(data):
    pytest.importorskip("pyarrow")
    try:
        records = _read(data, ".parquet")
    except InputError as exc:
        assert "input.parquet" in str(exc)
    else:
        _well_formed(records)
