"""The ``dedup`` command where its surroundings are hostile (the CLI audit):
closed standard streams, full disks and missing folders, an output that is
an input, an index path that is a device, a folder holding files that
cannot be read. Each is one line naming what failed, and a documented exit
code (README, "Errors and exit codes"); the good records still come through."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dedup.cli import main

ROOT = Path(__file__).resolve().parents[2]
TEXT = "Officials met in Geneva on Tuesday to discuss the ceasefire proposal for the northern region."
ROWS = [
    {"id": "a1", "text": TEXT},
    {"id": "a2", "text": TEXT + " Sources said."},
    {"id": "b1", "text": "The central bank raised interest rates by half a point to fight inflation."},
]
DEV_FULL = Path("/dev/full")
needs_sh = pytest.mark.skipif(shutil.which("sh") is None, reason="needs sh")
needs_dev_full = pytest.mark.skipif(not DEV_FULL.exists(), reason="needs /dev/full")


@pytest.fixture()
def feed(tmp_path) -> Path:
    p = tmp_path / "feed.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    return p


def _shell(redirect: str, *argv: str) -> subprocess.CompletedProcess:
    """``dedup ARGV`` with the shell's ``redirect`` (``>&-``: stdout closed, ``<&-``: stdin closed)."""
    cmd = ["sh", "-c", f'exec "$@" {redirect}', "sh", sys.executable, "-m", "dedup", *argv]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)


@needs_sh
def test_dedupe_to_a_closed_stdout_is_an_output_error_not_a_bug(feed):
    # before: "unexpected AttributeError: '_ClosedStdout' object has no attribute 'buffer'"
    res = _shell(">&-", "dedupe", str(feed), "--no-progress")
    assert res.returncode == 2
    assert "dedup: error: cannot write the output: standard output is closed (use -o FILE)" in res.stderr
    assert "unexpected" not in res.stderr and "Traceback" not in res.stderr


@needs_sh
@pytest.mark.parametrize("command", ["cluster", "dedupe"])
def test_reading_a_closed_stdin_is_an_input_error_not_a_bug(command):
    # before: "unexpected AttributeError: 'NoneType' object has no attribute 'buffer'"
    res = _shell("<&-", command, "-", "--no-progress")
    assert res.returncode == 2
    assert res.stderr.endswith(
        "dedup: error: cannot read standard input: it is closed (give a file, or pipe the records in)\n"
    )
    assert "unexpected" not in res.stderr


@needs_dev_full
@pytest.mark.parametrize(
    "argv",
    [
        ["cluster", "{feed}", "-o", "/dev/full"],
        ["cluster", "{feed}", "--format", "jsonl", "-o", "/dev/full"],
        ["report", "{feed}", "-o", "/dev/full"],
        ["dedupe", "{feed}", "-o", "/dev/full"],
        ["dedupe", "{feed}", "-o", "{tmp}/kept.jsonl", "--duplicates", "/dev/full"],
    ],
)
def test_a_full_disk_is_said_with_the_output_file_name(feed, tmp_path, capsys, argv):
    # before: "dedup: error: [Errno 28] No space left on device", no file named
    args = [a.format(feed=feed, tmp=tmp_path) for a in argv] + ["--no-progress"]
    assert main(args) == 2
    assert capsys.readouterr().err.endswith("dedup: error: cannot write /dev/full: No space left on device\n")


@pytest.mark.parametrize(
    "argv",
    [
        ["cluster", "{feed}", "-o", "{out}"],
        ["dedupe", "{feed}", "-o", "{out}"],
        ["diff", "{feed1}", "{feed1}", "-o", "{out}"],
    ],
)
def test_an_output_in_a_missing_folder_is_said_with_its_name(feed, tmp_path, capsys, argv):
    # before: "dedup: error: [Errno 2] No such file or directory: '...'"
    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps(ROWS[0]) + "\n", encoding="utf-8")
    out = tmp_path / "missing" / "out.json"
    assert main([a.format(feed=feed, feed1=one, out=out) for a in argv]) == 2
    assert capsys.readouterr().err.endswith(f"dedup: error: cannot write {out}: No such file or directory\n")


@pytest.mark.parametrize(
    "argv",
    [
        ["cluster", "{feed}", "-o", "{feed}", "--format", "jsonl"],
        ["cluster", "{folder}", "-o", "{feed}", "--format", "jsonl"],
        ["report", "{feed}", "-o", "{feed}"],
        ["diff", "{one}", "{feed}", "-o", "{feed}"],
    ],
)
def test_an_output_that_is_an_input_is_refused_and_the_input_kept(feed, tmp_path, capsys, argv):
    # before: cluster, report and diff wrote over their input (dedupe already refused)
    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps(ROWS[0]) + "\n", encoding="utf-8")
    before = feed.read_bytes()
    extra = [] if argv[0] == "diff" else ["--no-progress"]
    assert main([a.format(feed=feed, folder=tmp_path, one=one) for a in argv] + extra) == 2
    assert "is the input file" in capsys.readouterr().err
    assert feed.read_bytes() == before


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
@pytest.mark.parametrize(
    "argv", [["dedupe", "{feed}", "-o", "{tmp}/k.jsonl", "--index", "/dev/zero"], ["index", "stats", "/dev/zero"]]
)
def test_an_index_path_that_is_a_device_is_refused_not_read_without_end(feed, tmp_path, capsys, argv):
    # before: the loader read /dev/zero until the process was killed for its memory
    assert main([a.format(feed=feed, tmp=tmp_path) for a in argv]) == 2
    assert "/dev/zero is not a regular file" in capsys.readouterr().err


def test_a_folder_with_unreadable_files_still_gives_its_good_records(feed, tmp_path, capsys):
    # before: a broken link in the folder stopped the run, "[Errno 2] No such file or directory"
    folder = tmp_path / "feeds"
    folder.mkdir()
    shutil.copy(feed, folder / "a.jsonl")
    (folder / "b.jsonl").symlink_to(tmp_path / "gone.jsonl")
    out = tmp_path / "stories.jsonl"
    assert main(["cluster", str(folder), "-o", str(out), "--format", "jsonl", "--no-progress"]) == 3
    err = capsys.readouterr().err
    assert f"dedup: {folder / 'b.jsonl'}: cannot read this file: it is not there" in err
    assert sorted(json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines()) == ["a1", "a2", "b1"]
    assert "Traceback" not in err and "Errno" not in err


def test_a_utf16_feed_is_named_once_with_its_encoding(tmp_path, capsys):
    p = tmp_path / "excel.csv"
    p.write_bytes(("id,text\n" + "".join(f"{r['id']},{r['text']}\n" for r in ROWS)).encode("utf-16"))
    assert main(["cluster", str(p), "--no-progress"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        f"dedup: {p}:1: the file is UTF-16 (it starts with a UTF-16 byte order mark); dedup reads UTF-8: "
        "convert it first, e.g. iconv -f UTF-16 -t UTF-8"
    )
    assert err[1].startswith("dedup: error: every record of")


def test_bidi_marks_and_line_separators_in_ids_and_titles_are_shown_escaped(tmp_path, capsys):
    # before: U+200F, U+061C and U+2028 reached the terminal raw (the overrides were escaped):
    # a right-to-left mark reorders what is shown next to it, a line separator breaks the line
    p = tmp_path / "feed.jsonl"
    rows = [
        {"id": "x\u2028y\u200fz\u061cw", "title": "T\u2029U\u200e", "text": TEXT},
        {"id": "q", "text": TEXT + " More."},
    ]
    p.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main(["cluster", str(p), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "x\\u2028y\\u200fz\\u061cw" in out and "U\\u200e" in out  # the title: its separator a space
    assert not set(out) & set("\u2028\u2029\u200e\u200f\u061c")


def test_a_standard_output_that_cannot_take_the_data_is_said_so(tmp_path):
    # before: "dedup: error: 'ascii' codec can't encode character '\xfc' in position 35: ..."
    p = tmp_path / "feed.jsonl"
    p.write_text(json.dumps({"id": "z\u00fcrich", "text": TEXT}) + "\n", encoding="utf-8")
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    res = subprocess.run(
        [sys.executable, "-m", "dedup", "cluster", str(p), "--all", "--no-progress"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert res.returncode == 2
    assert res.stderr.splitlines()[-1] == (
        "dedup: error: cannot write standard output: its encoding, ascii, has no '\\xfc'; "
        "write to a file (-o FILE, always UTF-8) or set PYTHONIOENCODING=utf-8"
    )
