"""Readers against hostile files (the CLI audit): inputs in another Unicode
encoding, files in a folder that cannot be read, special files, numbers
beyond Python's digit limit, a closed standard input."""

from __future__ import annotations

import gzip
import json
import os
import sys

import pytest

from dedup.io import InputError, input_size, iter_records, open_binary, read_paths
from dedup.io.files import expand_paths

TEXT = "Officials met in Geneva on Tuesday to discuss the ceasefire proposal."
ROWS = [{"id": "a", "text": TEXT}, {"id": "b", "text": TEXT + " Again."}]


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


@pytest.mark.parametrize(
    ("name", "data", "encoding", "where"),
    [
        ("feed.jsonl", _jsonl(ROWS).encode("utf-16"), "UTF-16", 1),
        ("feed.jsonl", _jsonl(ROWS).encode("utf-16-be").join([b"\xfe\xff", b""]), "UTF-16", 1),
        ("feed.jsonl", _jsonl(ROWS).encode("utf-32"), "UTF-32", 1),
        ("feed.csv", ("id,text\na," + TEXT + "\n").encode("utf-16"), "UTF-16", 1),
        ("story.txt", TEXT.encode("utf-16"), "UTF-16", 0),
        ("feed.jsonl.gz", gzip.compress(_jsonl(ROWS).encode("utf-16")), "UTF-16", 1),
    ],
)
def test_a_file_in_another_unicode_encoding_is_one_rejection_saying_so(tmp_path, name, data, encoding, where):
    # before: every line rejected as "invalid JSON: Expecting value (column 1)", the CSV
    # header's fields listed as "\udcff\udcfei\x00d\x00", never a word on the encoding
    p = tmp_path / name
    p.write_bytes(data)
    (rec,) = iter_records(str(p))
    assert not rec.ok and rec.line == where
    assert f"the file is {encoding}" in rec.error and "reads UTF-8" in rec.error
    assert f"iconv -f {encoding} -t UTF-8" in rec.error


def test_utf8_files_are_not_taken_for_another_encoding(tmp_path):
    p = tmp_path / "feed.jsonl"
    p.write_bytes(b"\xef\xbb\xbf" + _jsonl(ROWS).encode())
    assert [r.article.id for r in iter_records(str(p))] == ["a", "b"]


def _folder(tmp_path):
    d = tmp_path / "feeds"
    d.mkdir()
    (d / "a.jsonl").write_text(_jsonl(ROWS[:1]), encoding="utf-8")
    (d / "b.jsonl").symlink_to(tmp_path / "gone.jsonl")  # a broken link
    (d / "c.parquet").write_text("not parquet", encoding="utf-8")
    (d / "d.jsonl").write_text(_jsonl(ROWS[1:]), encoding="utf-8")
    return d


def test_an_unreadable_file_in_a_folder_is_one_rejection_and_the_others_are_read(tmp_path):
    # before: the broken link stopped the whole run with "[Errno 2] No such file or directory",
    # the file that is not Parquet with "not a readable Parquet file": no record of the folder used
    pytest.importorskip("pyarrow")
    d = _folder(tmp_path)
    bad = []
    got = [a.id for a in read_paths([str(d)], on_error=bad.append)]
    assert got == ["a", "b"]
    assert [(r.source, r.line) for r in bad] == [(str(d / "b.jsonl"), 0), (str(d / "c.parquet"), 0)]
    assert bad[0].error == "cannot read this file: it is not there (a broken link, or removed while it was read)"
    assert bad[1].error.startswith("cannot read this file: not a readable Parquet file (")
    assert input_size([str(d)]) == os.path.getsize(d / "a.jsonl") + os.path.getsize(d / "d.jsonl") + 11


def test_a_file_named_on_the_command_line_that_cannot_be_read_still_stops(tmp_path):
    pytest.importorskip("pyarrow")
    d = _folder(tmp_path)
    with pytest.raises(InputError, match="not a readable Parquet file"):
        list(read_paths([str(d / "c.parquet")]))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_in_a_folder_is_skipped_not_read_for_ever(tmp_path):
    d = tmp_path / "feeds"
    d.mkdir()
    (d / "a.jsonl").write_text(_jsonl(ROWS), encoding="utf-8")
    os.mkfifo(d / "b.jsonl")  # before: reading it waited for a writer for ever
    assert list(expand_paths([str(d)])) == [str(d / "a.jsonl")]
    assert [a.id for a in read_paths([str(d)])] == ["a", "b"]


def test_a_number_beyond_the_digit_limit_is_said_without_python_advice(tmp_path):
    p = tmp_path / "feed.jsonl"
    p.write_text('{"id": 1' + "0" * 5000 + ', "text": "x"}\n' + _jsonl(ROWS), encoding="utf-8")
    bad, *good = iter_records(str(p))
    assert [r.article.id for r in good] == ["a", "b"]
    assert bad.line == 1 and bad.error.startswith("invalid JSON: a number longer than ")
    assert "sys.set_int_max_str_digits" not in bad.error


def test_a_closed_standard_input_is_an_input_error(monkeypatch):
    # before: AttributeError: 'NoneType' object has no attribute 'buffer'
    monkeypatch.setattr(sys, "stdin", None)
    with pytest.raises(InputError, match="standard input is closed|cannot read standard input"):
        open_binary("-")
    with pytest.raises(InputError, match="cannot read standard input"):
        list(iter_records("-"))


def test_an_unclosed_csv_quote_is_rejected_and_the_rows_after_it_still_read(tmp_path):
    # before: the csv module read every line to the end of the file as one field of
    # row a1: b1 and c1 were lost without a word, and the run said "0 rejected"
    p = tmp_path / "feed.csv"
    p.write_text('id,text\na1,"An unclosed quote\nb1,Second article.\nc1,Third article.\n', encoding="utf-8")
    recs = list(iter_records(str(p)))
    assert [(r.line, r.ok) for r in recs] == [(2, False), (3, True), (4, True)]
    assert recs[0].error == "a quote opened on this line is never closed; the lines after it are read again"
    assert [r.article.id for r in recs[1:]] == ["b1", "c1"]


def test_the_rows_read_again_after_an_unclosed_quote_keep_their_line_numbers(tmp_path):
    p = tmp_path / "feed.csv"
    p.write_text('id,text\na1,"one\nb1,two\n\nc1,three\n', encoding="utf-8")
    got = [(r.line, r.ok and r.article.id) for r in iter_records(str(p))]
    assert got == [(2, False), (3, "b1"), (5, "c1")]


def test_quoted_csv_fields_over_lines_and_doubled_quotes_read_as_before(tmp_path):
    p = tmp_path / "feed.csv"
    p.write_text('id,text\na,"x\ny"\nb,"p ""q"" r"\nc,5" screen\n', encoding="utf-8")
    assert [(r.line, r.article.text) for r in iter_records(str(p))] == [(3, "x\ny"), (4, 'p "q" r'), (5, '5" screen')]
