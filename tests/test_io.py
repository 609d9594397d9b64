"""Readers (dedup.io): line-numbered rejections, BOMs, truncated gzip,
hostile JSON, CSV delimiters and field names, Parquet in batches."""

from __future__ import annotations

import gzip
import io
import json
import os

import pytest

from dedup.io import FieldMap, InputError, iter_records, read_paths, sniff_delimiter

TEXT = "Officials met in Geneva on Tuesday to discuss the ceasefire proposal."


def _lines(*rows: object) -> bytes:
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in rows)


def test_jsonl_bom_is_ignored(tmp_path):  # issue 18 case 9
    p = tmp_path / "bom.jsonl"
    p.write_bytes(b"\xef\xbb\xbf" + _lines({"id": "a", "text": TEXT}, {"id": "b", "text": TEXT + " Again."}))
    recs = list(iter_records(str(p)))
    assert [r.ok for r in recs] == [True, True]
    assert recs[0].article.id == "a"


def test_csv_bom_is_ignored_and_the_id_column_found(tmp_path):  # issue 18 case 9
    p = tmp_path / "bom.csv"
    p.write_bytes(b"\xef\xbb\xbfid,text\r\nx1," + TEXT.encode() + b"\r\n")
    (rec,) = iter_records(str(p))
    assert rec.ok and rec.article.id == "x1"


def test_truncated_gzip_keeps_the_records_before_and_names_the_file(tmp_path):  # issue 18 case 5
    rows = [{"id": f"r{i}", "text": f"{TEXT} Number {i} of many. " * 30} for i in range(400)]
    whole = gzip.compress(_lines(*rows))
    p = tmp_path / "feed.jsonl.gz"
    p.write_bytes(whole[: len(whole) // 2])
    recs = list(iter_records(str(p)))
    good = [r for r in recs if r.ok]
    assert 0 < len(good) < 400
    assert [r.article.id for r in good] == [f"r{i}" for i in range(len(good))]
    last = recs[-1]
    assert not last.ok and "truncated" in last.error and last.source == str(p)
    assert last.line == len(good) + 1


def test_deeply_nested_json_is_one_rejected_line(tmp_path):  # issue 18 case 6
    p = tmp_path / "nested.jsonl"
    p.write_bytes(_lines({"id": "a", "text": TEXT}, b"[" * 100_000, {"id": "c", "text": TEXT}))
    recs = list(iter_records(str(p)))
    assert [r.ok for r in recs] == [True, False, True]
    assert recs[1].line == 2 and "nested too deeply" in recs[1].error


def test_huge_integer_is_a_rejected_line_not_a_crash(tmp_path):
    p = tmp_path / "int.jsonl"
    p.write_bytes(b'{"id": 1' + b"9" * 6000 + b', "text": "x"}\n')
    (rec,) = iter_records(str(p))
    assert not rec.ok and rec.error.startswith("invalid JSON")


@pytest.mark.parametrize(
    "line",
    [b'{"id": "caf\xe9\xff", "text": "fine text"}', b'{"id": "bad\\ud800", "text": "fine text"}'],
    ids=["undecodable-bytes", "lone-surrogate"],
)
def test_bad_unicode_in_an_id_rejects_that_record(tmp_path, line):  # issue 18 case 4
    p = tmp_path / "ids.jsonl"
    p.write_bytes(_lines({"id": "a", "text": TEXT}, line, {"id": "c", "text": TEXT}))
    recs = list(iter_records(str(p)))
    assert [r.ok for r in recs] == [True, False, True]
    assert recs[1].line == 2 and "UTF-8" in recs[1].error


def test_out_of_range_epoch_rejects_that_record(tmp_path):  # issue 18 case 1
    p = tmp_path / "epoch.jsonl"
    p.write_bytes(_lines({"id": "a", "text": TEXT, "published": 1e17}, {"id": "b", "text": TEXT, "published": 1e9}))
    bad, good = iter_records(str(p))
    assert not bad.ok and "out of range" in bad.error and bad.line == 1
    assert good.ok and good.article.published.year == 2001


def test_jsonl_record_keeps_its_exact_bytes(tmp_path):  # issue 18 case 12 (reader side)
    line = b'{"id": "a", "text": "' + TEXT.encode() + b'", "n": 1e400, "z": 1.50}'
    p = tmp_path / "exact.jsonl"
    p.write_bytes(line + b"\n")
    (rec,) = iter_records(str(p))
    assert rec.data == line + b"\n"


@pytest.mark.parametrize("delim", [",", ";", "\t", "|"])
def test_csv_delimiter_is_sniffed(tmp_path, delim):
    p = tmp_path / "export.csv"
    p.write_text(f"headline{delim}body{delim}date\nA title{delim}{TEXT}{delim}2024-01-02\n", encoding="utf-8")
    (rec,) = iter_records(str(p), text_field="body", title_field="headline", published_field="date")
    assert rec.ok, rec.error
    assert rec.article.text == TEXT and rec.article.title == "A title" and rec.article.published.day == 2


def test_csv_delimiter_can_be_forced(tmp_path):
    p = tmp_path / "odd.csv"
    p.write_text("id;text,with,commas\n1;a,b,c\n", encoding="utf-8")
    assert sniff_delimiter("id;text,with,commas\n") == ","  # the most frequent
    (rec,) = iter_records(str(p), delimiter=";", text_field="text,with,commas")
    assert rec.ok and rec.article.text == "a,b,c"


def test_field_options_rename_fields_and_keep_others_as_metadata(tmp_path):
    p = tmp_path / "f.jsonl"
    p.write_bytes(_lines({"doc": 7, "body": TEXT, "head": "H", "when": "2024-05-01", "text": "not this"}))
    (rec,) = iter_records(str(p), id_field="doc", text_field="body", title_field="head", published_field="when")
    a = rec.article
    assert (a.id, a.text, a.title, a.published.month) == ("7", TEXT, "H", 5)


def test_csv_row_with_too_many_fields_is_rejected_with_its_line(tmp_path):
    p = tmp_path / "rows.csv"
    p.write_text(f"id,text\na,{TEXT}\nb,x,y\nc,{TEXT}\n", encoding="utf-8")
    recs = list(iter_records(str(p)))
    assert [r.ok for r in recs] == [True, False, True]
    assert recs[1].line == 3 and "3 fields" in recs[1].error


def test_parquet_is_read_in_batches(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    n = 2500
    table = pa.table({"id": [f"p{i}" for i in range(n)], "body": [f"{TEXT} {i}" for i in range(n)]})
    p = tmp_path / "a.parquet"
    pq.write_table(table, p, row_group_size=1000)
    seen = []
    recs = list(iter_records(str(p), text_field="body", batch_size=300, on_bytes=seen.append))
    assert [r.article.id for r in recs] == [f"p{i}" for i in range(n)]
    assert recs[-1].line == n and len(seen) >= n // 300  # progress heard once per batch
    assert sum(seen) == p.stat().st_size


def test_not_parquet_is_an_input_error(tmp_path):
    pytest.importorskip("pyarrow")
    p = tmp_path / "fake.parquet"
    p.write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="fake.parquet"):
        list(iter_records(str(p)))


def test_read_paths_reports_bad_records_and_walks_folders(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "one.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "d" / ".hidden.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "d" / "feed.jsonl").write_bytes(_lines({"id": "j", "text": TEXT}, b"{oops"))
    bad = []
    got = list(read_paths([str(tmp_path / "d")], on_error=bad.append))
    assert sorted(a.id for a in got) == ["j", "one"]
    assert [r.where() for r in bad] == [f"{tmp_path / 'd' / 'feed.jsonl'}:2"]
    with pytest.raises(FileNotFoundError, match="nope"):
        list(read_paths([str(tmp_path / "nope")]))


def test_a_record_without_id_gets_its_path_and_line(tmp_path, monkeypatch):
    # FILE:LINE, the path as found: two feed.jsonl in two folders do not collide
    for day in ("day1", "day2"):
        (tmp_path / day).mkdir()
        (tmp_path / day / "feed.jsonl").write_bytes(_lines({"text": f"{TEXT} {day}"}))
    (tmp_path / "day2" / "feed.csv").write_text(f"text\n{TEXT}\n", encoding="utf-8")
    (tmp_path / "day2" / "note.txt.gz").write_bytes(gzip.compress(TEXT.encode()))
    bad = []
    got = [a.id for a in read_paths([str(tmp_path)], on_error=bad.append)]
    d1, d2 = tmp_path / "day1", tmp_path / "day2"
    assert got == [f"{d1 / 'feed.jsonl'}:1", f"{d2 / 'feed.csv'}:2", f"{d2 / 'feed.jsonl'}:1", "note"] and not bad
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(_lines({"text": TEXT}))))
    assert [r.article.id for r in iter_records("-")] == ["stdin:1"]


def test_a_txt_file_name_that_is_not_utf8_costs_that_file_only(tmp_path):
    folder = os.fsencode(tmp_path / "nb")
    try:
        os.mkdir(folder)
        with open(os.path.join(folder, b"caf\xe9.txt"), "wb") as f:
            f.write(TEXT.encode())
    except (OSError, UnicodeError):
        pytest.skip("the file system refuses names that are not UTF-8")
    with open(os.path.join(folder, b"good.txt"), "wb") as f:
        f.write(TEXT.encode())
    bad = []
    got = [a.id for a in read_paths([os.fsdecode(folder)], on_error=bad.append)]
    assert got == ["good"]
    assert [r.where() for r in bad] == [os.fsdecode(os.path.join(folder, b"caf\xe9.txt"))]
    assert "not valid UTF-8" in bad[0].error


def test_the_fallback_id_of_a_file_name_that_is_not_utf8_is_utf8(tmp_path):
    path = os.path.join(os.fsencode(tmp_path), b"f\xe9.jsonl")
    try:
        with open(path, "wb") as f:
            f.write(_lines({"text": TEXT}))
    except (OSError, UnicodeError):
        pytest.skip("the file system refuses names that are not UTF-8")
    (rec,) = iter_records(os.fsdecode(path))
    assert rec.ok and rec.article.id == f"{tmp_path}/f\\xe9.jsonl:1"
    rec.article.id.encode("utf-8")  # can be written out (JSON, Parquet)


def _corrupt_parquet(path, groups: int = 4, rows: int = 50, bad: int = 2) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    n = groups * rows
    table = pa.table({"id": [f"p{i}" for i in range(n)], "text": [f"{TEXT} {i}" for i in range(n)]})
    pq.write_table(table, path, row_group_size=rows, compression="none")
    column = pq.ParquetFile(path).metadata.row_group(bad).column(1)
    data = bytearray(path.read_bytes())
    data[column.data_page_offset : column.data_page_offset + 40] = b"\xff" * 40
    path.write_bytes(bytes(data))


def test_corrupt_parquet_page_costs_its_row_group_only(tmp_path):
    p = tmp_path / "corrupt.parquet"
    _corrupt_parquet(p)
    seen = []
    recs = list(iter_records(str(p), on_bytes=seen.append))
    good = [r.article.id for r in recs if r.ok]
    assert good == [f"p{i}" for i in range(100)] + [f"p{i}" for i in range(150, 200)]
    (bad,) = [r for r in recs if not r.ok]
    assert bad.where() == f"{p}:101" and "unreadable Parquet data" in bad.error and "rows 101-150" in bad.error
    assert [r.line for r in recs if r.ok][-1] == 200 and sum(seen) == p.stat().st_size


@pytest.mark.parametrize("end", [b"", b"\n", b"\r\n"])
def test_json_error_column_ignores_the_line_end(tmp_path, end):
    p = tmp_path / "cut.jsonl"
    p.write_bytes(_lines({"id": "g1", "text": TEXT}) + b'{"id":"g2", "text": ' + end)
    ok, bad = iter_records(str(p))
    assert ok.ok and bad.line == 2 and bad.error == "invalid JSON: Expecting value (column 21)"


def test_fieldmap_defaults():
    assert FieldMap().pairs() == (("id", "id"), ("text", "text"), ("title", "title"), ("published", "published"))


def _json_reference(line: bytes) -> object:
    try:
        return json.loads(line.decode("utf-8", "surrogateescape"))
    except (ValueError, RecursionError) as exc:
        return type(exc)


def _parsed(line: bytes) -> object:
    from dedup.io.readers import parse_json_line

    obj, error = parse_json_line(line)
    return obj if error is None else (json.JSONDecodeError if "nested" not in error else RecursionError)


@pytest.mark.parametrize(
    "line",
    [
        b'{"id": 123456789012345678901234567890, "text": "x"}',  # orjson: a float
        b'{"id": -9223372036854775809, "n": [1, {"m": 18446744073709551616}]}',
        b'{"id": 18446744073709551615, "n": 9223372036854775807}',  # still 64-bit integers
        b'{"id": "a", "n": 1e19, "m": -0.0, "k": 5e-324}',
        b'{"id": "a", "n": NaN, "m": -Infinity}',
        b'{"id": "a", "n": 1e400}',
        b'{"id": "bad\\ud800", "text": "x"}',
        b'{"id": "caf\xe9\xff", "text": "x"}',
        b'{"id": "a", "id": "b", "text": "x"}',
        b'{"id": "a", "text": "x"} trailing',
        b"[" * 2000 + b"]" * 2000,
    ],
)
def test_jsonl_lines_parse_as_json_parses_them(line):
    # the fast parser, and json where it differs: the same objects (ints stay
    # ints, -0.0 stays -0.0), the same lines rejected
    want, got = _json_reference(line), _parsed(line)
    assert repr(got) == repr(want) and type(got) is type(want)


def test_generated_json_values_parse_as_json_parses_them():
    import random

    rng = random.Random(5)

    def value(depth: int) -> object:
        kind = rng.randrange(7 if depth < 4 else 4)
        if kind == 0:
            return rng.choice([0, -1, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**30])
        if kind == 1:
            return rng.choice([0.1, -0.0, 1e308, 1e-320, 2.0**63, -(2.0**63), 1e19, float(rng.random()), 123.456e7])
        if kind == 2:
            return "".join(rng.choice('ab\u00e9\u4e2d\U0001f600\\"\n\x00\x1f\u2028') for _ in range(rng.randrange(6)))
        if kind == 3:
            return rng.choice([True, False, None])
        if kind == 4:
            return [value(depth + 1) for _ in range(rng.randrange(4))]
        return {f"k{rng.randrange(4)}": value(depth + 1) for _ in range(rng.randrange(4))}

    for _ in range(2000):
        line = json.dumps(value(0), ensure_ascii=rng.random() < 0.5).encode()
        want, got = _json_reference(line), _parsed(line)
        assert repr(got) == repr(want), line


def test_read_ahead_gives_the_items_in_order_and_says_when_the_end_is_there():
    import time

    from dedup.io import ReadAhead

    with ReadAhead(iter(range(1000)), size=7) as ahead:
        assert list(ahead) == list(range(1000))
        assert ahead.ready()  # the end: next() answers at once
        with pytest.raises(StopIteration):
            next(ahead)

    def slow():
        yield 1
        time.sleep(0.5)
        yield 2

    ahead = ReadAhead(slow())
    assert next(ahead) == 1 and not ahead.ready()  # the second is not there yet
    assert next(ahead) == 2


def test_read_ahead_raises_the_sources_error_after_the_items_before_it():
    from dedup.io import ReadAhead

    def broken():
        yield from "ab"
        raise OSError("disk gone")

    ahead = ReadAhead(broken())
    assert next(ahead) == "a" and next(ahead) == "b"
    with pytest.raises(OSError, match="disk gone"):
        next(ahead)
    assert list(ahead) == []


def test_read_ahead_stops_reading_when_closed():
    import itertools
    import threading
    import time

    from dedup.io import ReadAhead

    before = threading.active_count()
    ahead = ReadAhead(itertools.count(), size=2)  # an endless source, the queue full
    assert threading.active_count() == before  # no thread before the first read (worker forks come first)
    assert next(ahead) == 0
    assert threading.active_count() == before + 1
    ahead.close()
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before
    with pytest.raises(ValueError, match="size"):
        ReadAhead([], size=0)


# --- a CSV input's layout as the reader reads it (stdin read once) ----------------------------------------


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_the_reader_gives_the_csv_layout_before_the_first_record(tmp_path, monkeypatch, source):
    from dedup.io.writers import CsvLayout

    data = f"ID;Text;Extra\r\nshort;{TEXT}\r\nfull;{TEXT} Again.;x\r\n".encode()
    path = tmp_path / "in.csv"
    path.write_bytes(data)
    if source == "stdin":
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    seen: list[object] = []
    recs = iter_records(str(path) if source == "file" else "-", fmt="csv", on_layout=seen.append)
    first = next(recs)
    assert seen == [CsvLayout(["ID", "Text", "Extra"], ";", "\r\n")]  # before the first record came
    assert first.raw == {"ID": "short", "Text": TEXT} and [r.line for r in recs] == [3]
    assert seen == [CsvLayout(["ID", "Text", "Extra"], ";", "\r\n")]  # once


def test_record_writer_writes_under_the_layout_the_reader_gave(tmp_path):
    from dedup.io import Record
    from dedup.io.writers import CsvLayout, RecordWriter

    w = RecordWriter(str(tmp_path / "out.csv"), "csv")
    w.use_layout(CsvLayout(["id", "text", "extra"], "\t", "\n"))
    w.write(Record("-", 2, raw={"id": "a", "text": "t"}))
    w.use_layout(CsvLayout(["other"], ",", "\r\n"))  # too late: the header is written
    w.write(Record("-", 3, raw={"id": "b", "text": "u", "extra": "x"}))
    w.close()
    assert (tmp_path / "out.csv").read_bytes() == b"id\ttext\textra\na\tt\t\nb\tu\tx\n"


# --- JSON text: control and bidi characters escaped, the same strings ------------------------------------


def test_json_text_escapes_what_acts_on_a_display_and_nothing_else():
    import random

    from dedup.io.jsontext import INVISIBLE, dumps

    assert (
        dumps({"id": "a\u202eb\x9b\u2028é中\U0001f600\x1b"}) == '{"id": "a\\u202eb\\u009b\\u2028é中\U0001f600\\u001b"}'
    )
    rng = random.Random(7)
    alphabet = 'ab é中\U0001f600"\\\n\x00\x1b\x7f\x85\x9b\u061c\u200e\u200f\u2028\u2029\u202a\u202e\u2066\u2069'
    for _ in range(2000):
        value = {"".join(rng.choices(alphabet, k=3)): ["".join(rng.choices(alphabet, k=rng.randrange(12)))]}
        text = dumps(value, indent=rng.choice([None, 2]))
        assert json.loads(text) == value and not INVISIBLE.search(text)
        assert all(ch in text for ch in "é中\U0001f600" if ch in json.dumps(value, ensure_ascii=False))


def test_write_jsonl_escapes_control_and_bidi_characters():
    from dedup.io import write_jsonl

    out = io.StringIO()
    assert write_jsonl([{"id": "x\u202egnp.exe", "n": 1}, {"t": "\x85\u2029"}], out) == 2
    assert out.getvalue() == '{"id": "x\\u202egnp.exe", "n": 1}\n{"t": "\\u0085\\u2029"}\n'
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [
        {"id": "x\u202egnp.exe", "n": 1},
        {"t": "\x85\u2029"},
    ]
