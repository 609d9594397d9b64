"""`dedup dedupe`: streaming feed deduplication from the command line."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dedup.cli import main
from dedup.synth import generate_articles


@pytest.fixture(scope="module")
def feed_rows() -> list[dict]:
    return list(generate_articles(80, seed=21))


@pytest.fixture()
def feed_file(tmp_path, feed_rows) -> Path:
    p = tmp_path / "feed.jsonl"
    with p.open("w", encoding="utf-8") as f:
        for r in feed_rows:
            f.write(json.dumps(r) + "\n")
    return p


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_drops_copies_keeps_first(feed_file, feed_rows, tmp_path, capsys):
    out, dups = tmp_path / "kept.jsonl", tmp_path / "dups.jsonl"
    rc = main(["dedupe", str(feed_file), "-o", str(out), "--duplicates", str(dups)])
    assert rc == 0
    kept, dropped = _jsonl(out), _jsonl(dups)
    copies = {r["id"] for r in feed_rows if r["kind"] == "copy"}
    assert copies and {d["id"] for d in dropped} == copies
    assert len(kept) + len(dropped) == len(feed_rows)
    assert [r["id"] for r in kept] == [r["id"] for r in feed_rows if r["id"] not in copies]  # input order, as read
    assert kept[0] == feed_rows[0]
    by_id = {r["id"]: r for r in feed_rows}
    for d in dropped:
        assert by_id[d["duplicate_of"]]["story"] == by_id[d["id"]]["story"]
        assert d["kind"] == "copy" and d["jaccard"] >= 0.5
    err = capsys.readouterr().err
    assert "kept" in err and "0 rejected" in err
    assert "\r" not in err  # not a terminal: no progress line


def test_story_level_drops_rewrites_too(feed_file, feed_rows, tmp_path):
    out, dups = tmp_path / "kept.jsonl", tmp_path / "dups.jsonl"
    assert main(["dedupe", str(feed_file), "-o", str(out), "--duplicates", str(dups), "--level", "story"]) == 0
    dropped = {d["id"] for d in _jsonl(dups)}
    rewrites = {r["id"] for r in feed_rows if r["kind"] == "rewrite"}
    assert rewrites and len(rewrites & dropped) >= 0.8 * len(rewrites)
    originals = {r["id"] for r in feed_rows if r["kind"] == "original"}
    assert not originals & dropped


@pytest.mark.parametrize("keep", ["longest", "earliest"])
def test_keep_choice(feed_file, feed_rows, tmp_path, keep):
    out, dups = tmp_path / "kept.jsonl", tmp_path / "dups.jsonl"
    assert main(["dedupe", str(feed_file), "-o", str(out), "--duplicates", str(dups), "--keep", keep]) == 0
    kept = {r["id"]: r for r in _jsonl(out)}
    dropped = _jsonl(dups)
    assert len(kept) + len(dropped) == len(feed_rows)
    by_id = {r["id"]: r for r in feed_rows}
    for d in dropped:
        winner, loser = by_id[d["duplicate_of"]], by_id[d["id"]]
        assert winner["id"] in kept
        if keep == "longest":
            assert len(winner["text"]) >= len(loser["text"])
        else:
            assert winner["published"] <= loser["published"]


def test_bad_records_go_to_errors_file(tmp_path, feed_rows):
    p = tmp_path / "mixed.jsonl"
    good = feed_rows[:20]
    with p.open("wb") as f:
        for r in good[:10]:
            f.write((json.dumps(r) + "\n").encode())
        f.write(b"{not json\n")  # line 11
        f.write(json.dumps({"id": "nt"}).encode() + b"\n")  # 12: missing text
        f.write(json.dumps({"id": "wt", "text": 3}).encode() + b"\n")  # 13: wrong type
        f.write(b'{"id": "ub", "text": "caf\xe9 \xff"}\n')  # 14: undecodable bytes
        for r in good[10:]:
            f.write((json.dumps(r) + "\n").encode())
    out, errs = tmp_path / "kept.jsonl", tmp_path / "errors.jsonl"
    rc = main(["dedupe", str(p), "-o", str(out), "--errors", str(errs)])
    assert rc == 3
    e = _jsonl(errs)
    assert [x["line"] for x in e] == [11, 12, 13, 14]
    assert "invalid JSON" in e[0]["error"] and "missing text" in e[1]["error"]
    assert "must be a string" in e[2]["error"] and "UTF-8" in e[3]["error"]
    kept_ids = {r["id"] for r in _jsonl(out)}
    assert {r["id"] for r in good if r["kind"] != "copy"} <= kept_ids


def test_csv_gzip_in_and_stdout(tmp_path, feed_rows):
    p = tmp_path / "feed.csv.gz"
    with gzip.open(p, "wt", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["id", "text", "published", "story", "kind"])
        w.writeheader()
        for r in feed_rows[:60]:
            w.writerow(r)
    res = subprocess.run([sys.executable, "-m", "dedup", "dedupe", str(p)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(res.stdout.splitlines()))
    copies = {r["id"] for r in feed_rows[:60] if r["kind"] == "copy"}
    assert {r["id"] for r in rows} == {r["id"] for r in feed_rows[:60]} - copies
    assert "records read" in res.stderr


def test_stdin_to_stdout(feed_rows):
    data = "".join(json.dumps(r) + "\n" for r in feed_rows[:40])
    res = subprocess.run(
        [sys.executable, "-m", "dedup", "dedupe", "-", "-o", "-"], input=data, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    assert len(res.stdout.splitlines()) == 40 - sum(r["kind"] == "copy" for r in feed_rows[:40])


def test_resume_with_index(feed_rows, tmp_path):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text("".join(json.dumps(r) + "\n" for r in feed_rows[:45]))
    second.write_text("".join(json.dumps(r) + "\n" for r in feed_rows[45:]))
    both = tmp_path / "all.jsonl"
    both.write_text(first.read_text() + second.read_text())
    idx = tmp_path / "night.dedup"
    k1, k2, kall = (tmp_path / n for n in ("k1.jsonl", "k2.jsonl", "kall.jsonl"))
    assert main(["dedupe", str(first), "-o", str(k1), "--index", str(idx)]) == 0
    assert idx.exists()
    assert main(["dedupe", str(second), "-o", str(k2), "--index", str(idx)]) == 0
    assert main(["dedupe", str(both), "-o", str(kall)]) == 0
    assert _jsonl(k1) + _jsonl(k2) == _jsonl(kall)
    # running the same input again against the index drops everything as already indexed
    k3, d3 = tmp_path / "k3.jsonl", tmp_path / "d3.jsonl"
    assert main(["dedupe", str(second), "-o", str(k3), "--index", str(idx), "--duplicates", str(d3)]) == 0
    assert _jsonl(k3) == [] and all(d["kind"] == "already indexed" for d in _jsonl(d3))
    res = subprocess.run([sys.executable, "-m", "dedup", "index", "stats", str(idx)], capture_output=True, text=True)
    assert json.loads(res.stdout)["articles"] == len(feed_rows)


def test_progress_when_asked(feed_file, tmp_path, capsys):
    assert main(["dedupe", str(feed_file), "-o", str(tmp_path / "k.jsonl"), "--progress"]) == 0
    assert "\r" in capsys.readouterr().err


def test_missing_input_is_a_clear_error(tmp_path, capsys):
    assert main(["dedupe", str(tmp_path / "nope.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err


# --- hostile input (issue 18) -------------------------------------------------------------------------


def test_out_of_range_epoch_is_rejected_and_the_index_still_saved(tmp_path, feed_rows, capsys):  # case 1
    p = tmp_path / "epoch.jsonl"
    bad = dict(feed_rows[0], id="far-future", published=1e17)
    p.write_text("".join(json.dumps(r) + "\n" for r in [bad, *feed_rows[:30]]), encoding="utf-8")
    out, idx = tmp_path / "kept.jsonl", tmp_path / "i.dedup"
    assert main(["dedupe", str(p), "-o", str(out), "--index", str(idx)]) == 3
    assert f"{p}:1: article 'far-future': 'published' 1e+17 is out of range" in capsys.readouterr().err
    assert idx.exists()
    assert {r["id"] for r in _jsonl(out)} >= {r["id"] for r in feed_rows[:30] if r["kind"] == "original"}


def test_kept_records_are_written_exactly_as_read(tmp_path, feed_rows):  # case 12
    p = tmp_path / "odd.jsonl"
    lines = [
        b'{"id":"n1",  "text": ' + json.dumps(feed_rows[0]["text"]).encode() + b', "big": 1e400, "f": 1.50}',
        b'{"text": ' + json.dumps(feed_rows[1]["text"]).encode() + b', "id": "n2", "u": "caf\\u00e9"}',
    ]
    p.write_bytes(b"\n".join(lines))  # no final newline either
    out = tmp_path / "kept.jsonl"
    assert main(["dedupe", str(p), "-o", str(out)]) == 0
    data = out.read_bytes()
    assert data == lines[0] + b"\n" + lines[1] + b"\n"
    assert b"Infinity" not in data


def test_rejected_records_are_named_on_stderr_capped(tmp_path, feed_rows, capsys):  # case 14
    p = tmp_path / "bad.jsonl"
    body = [json.dumps(feed_rows[0])] + ["{oops"] * 15 + [json.dumps(feed_rows[1])]
    p.write_text("\n".join(body) + "\n", encoding="utf-8")
    assert main(["dedupe", str(p), "-o", str(tmp_path / "k.jsonl")]) == 3
    err = capsys.readouterr().err
    named = re.findall(rf"^dedup: {re.escape(str(p))}:(\d+): invalid JSON", err, re.M)
    assert named == [str(n) for n in range(2, 12)]
    assert "... and 5 more rejected records" in err and "15 rejected" in err


def test_bad_unicode_id_rejected_others_written(tmp_path, feed_rows):  # case 4
    p = tmp_path / "ids.jsonl"
    with p.open("wb") as f:
        f.write((json.dumps(feed_rows[0]) + "\n").encode())
        f.write(b'{"id": "x\\ud800", "text": "some text here"}\n')
        f.write(b'{"id": "y\xff", "text": "some text here"}\n')
        f.write((json.dumps(feed_rows[1]) + "\n").encode())
    out, errs = tmp_path / "k.jsonl", tmp_path / "e.jsonl"
    assert main(["dedupe", str(p), "-o", str(out), "--errors", str(errs)]) == 3
    assert [r["id"] for r in _jsonl(out)] == [feed_rows[0]["id"], feed_rows[1]["id"]]
    assert [(e["line"], "UTF-8" in e["error"]) for e in _jsonl(errs)] == [(2, True), (3, True)]


def test_truncated_gzip_feed_keeps_what_was_read(tmp_path, feed_rows, capsys):  # case 5
    data = gzip.compress("".join(json.dumps(r) + "\n" for r in feed_rows).encode())
    p = tmp_path / "feed.jsonl.gz"
    p.write_bytes(data[: len(data) * 3 // 4])
    out = tmp_path / "k.jsonl"
    assert main(["dedupe", str(p), "-o", str(out)]) == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err and re.search(rf"{re.escape(str(p))}:\d+: the file is truncated", err)
    assert len(_jsonl(out)) > 10


def test_index_that_cannot_be_saved_is_a_one_line_error(tmp_path, feed_rows, capsys):
    p = tmp_path / "f.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in feed_rows[:10]), encoding="utf-8")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["dedupe", str(p), "-o", str(tmp_path / "k.jsonl"), "--index", str(blocker / "i.dedup")]) == 2
    err = capsys.readouterr().err
    assert "the index could not be saved" in err and "Traceback" not in err


def test_parquet_feed_in_and_out(tmp_path, feed_rows):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    src, out = tmp_path / "feed.parquet", tmp_path / "kept.parquet"
    table = pa.Table.from_pylist(feed_rows)
    pq.write_table(table, src, row_group_size=16)
    assert main(["dedupe", str(src), "-o", str(out)]) == 0
    kept = pq.read_table(out)
    assert kept.schema == table.schema
    copies = {r["id"] for r in feed_rows if r["kind"] == "copy"}
    assert kept.column("id").to_pylist() == [r["id"] for r in feed_rows if r["id"] not in copies]
    assert kept.to_pylist()[0] == feed_rows[0]


def test_a_live_pipe_is_answered_as_its_records_arrive(feed_rows, tmp_path):
    # three records, then the writer waits: their lines are out before the input ends
    out, dups = tmp_path / "out.jsonl", tmp_path / "dups.jsonl"
    rows = [feed_rows[0], feed_rows[1], {**feed_rows[0], "id": "again"}]
    proc = subprocess.Popen(
        [sys.executable, "-m", "dedup", "dedupe", "-", "-o", str(out), "--duplicates", str(dups)],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        proc.stdin.write("".join(json.dumps(r) + "\n" for r in rows).encode())
        proc.stdin.flush()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (
            out.exists() and len(_jsonl(out)) == 2 and dups.exists() and _jsonl(dups)
        ):
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.2)
        assert [r["id"] for r in _jsonl(out)] == [rows[0]["id"], rows[1]["id"]]
        assert [d["id"] for d in _jsonl(dups)] == ["again"]  # an exact copy of the first, written as it came
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
    assert proc.returncode == 0


def test_ctrl_c_saves_the_index_and_exits_130(feed_file, tmp_path, monkeypatch, capsys):
    import dedup.cli.dedupe as dedupe_cli

    real = dedupe_cli._stream

    def interrupted(*stream_args):
        real(*stream_args)  # the feed indexed, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(dedupe_cli, "_stream", interrupted)
    idx = tmp_path / "feed.dedup"
    assert main(["dedupe", str(feed_file), "-o", str(tmp_path / "out.jsonl"), "--index", str(idx)]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err
    assert idx.exists()  # what was indexed before the interrupt is kept


def test_ctrl_c_on_a_live_pipe_exits_130_without_a_crash(feed_rows, tmp_path):
    # the reading thread is blocked on the pipe when Ctrl-C comes: the run
    # still ends with its one-line message and 130 (no fatal error at exit)
    import signal

    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dedup", "dedupe", "-", "-o", str(out), "--index", str(tmp_path / "i.dedup")],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        proc.stdin.write((json.dumps(feed_rows[0]) + "\n").encode())
        proc.stdin.flush()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (out.exists() and _jsonl(out)):
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        err = proc.communicate(timeout=60)[1].decode()
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Fatal" not in err and "Traceback" not in err
    assert (tmp_path / "i.dedup").exists()


# --- outputs that would overwrite the input or each other ----------------------------------------------


@pytest.mark.parametrize("option", ["-o", "--duplicates", "--errors", "--index"])
@pytest.mark.parametrize("how", ["same", "relative", "symlink"])
def test_an_output_that_is_the_input_is_refused(feed_file, tmp_path, monkeypatch, capsys, option, how):
    before = feed_file.read_bytes()
    target = str(feed_file)
    if how == "relative":
        monkeypatch.chdir(tmp_path)
        target = f"./sub/../{feed_file.name}"
        (tmp_path / "sub").mkdir()
    elif how == "symlink":
        (tmp_path / "link.jsonl").symlink_to(feed_file)
        target = str(tmp_path / "link.jsonl")
    args = ["dedupe", str(feed_file), option, target]
    if option != "-o":
        args += ["-o", str(tmp_path / "kept.jsonl")]
    assert main(args) == 2
    err = capsys.readouterr().err
    named = "" if target == str(feed_file) else f" {feed_file}"  # the input named when spelled otherwise
    assert err.splitlines() == [
        f"dedup: error: {option} {target} is the input file{named}: refusing to overwrite the input; write elsewhere"
    ]
    assert feed_file.read_bytes() == before  # not truncated
    assert not (tmp_path / "kept.jsonl").exists()  # refused before anything was opened


def test_two_outputs_that_are_one_file_are_refused(feed_file, tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    out.write_text("previous\n")
    (tmp_path / "alias.jsonl").symlink_to(out)
    assert main(["dedupe", str(feed_file), "-o", str(out), "--duplicates", str(tmp_path / "alias.jsonl")]) == 2
    assert (
        main(
            ["dedupe", str(feed_file), "--errors", str(tmp_path / "e.jsonl"), "--duplicates", str(tmp_path / "e.jsonl")]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "are the same file" in err and "Traceback" not in err
    assert out.read_text() == "previous\n" and not (tmp_path / "e.jsonl").exists()
    # a device may be named twice
    assert main(["dedupe", str(feed_file), "-o", os.devnull, "--duplicates", os.devnull, "--errors", os.devnull]) == 0


# --- Ctrl-C: the saved index and the outputs agree ----------------------------------------------------------


def _written_ids(*paths: Path) -> list[str]:
    return [r["id"] for p in paths if p.exists() for r in _jsonl(p)]


def _indexed_ids(path: Path) -> set[str]:
    from dedup import StoryIndex

    index = StoryIndex.load(str(path))
    try:
        return {m for s in index for m in s.members}
    finally:
        index.close()


@pytest.fixture()
def many_file(tmp_path) -> Path:
    p = tmp_path / "many.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in generate_articles(300, seed=1)), encoding="utf-8")
    return p


@pytest.mark.parametrize("where", ["after the index took it", "while writing it"])
def test_ctrl_c_between_index_and_output_keeps_them_in_agreement(many_file, tmp_path, monkeypatch, capsys, where):
    # a real SIGINT at a chosen point: after the index added the 70th article
    # (its match not yet handed back), or as the 50th kept record is written
    import signal

    from dedup.io.writers import RecordWriter
    from dedup.live import StoryIndex

    calls = {"n": 0}
    if where == "after the index took it":
        real_add = StoryIndex._add_prepared

        def add_then_ctrl_c(self, prep):
            m = real_add(self, prep)
            calls["n"] += 1
            if calls["n"] == 70:
                signal.raise_signal(signal.SIGINT)
            return m

        monkeypatch.setattr(StoryIndex, "_add_prepared", add_then_ctrl_c)
    else:
        real_write = RecordWriter.write

        def ctrl_c_then_write(self, rec):
            calls["n"] += 1
            if calls["n"] == 50:
                signal.raise_signal(signal.SIGINT)
            real_write(self, rec)

        monkeypatch.setattr(RecordWriter, "write", ctrl_c_then_write)
    kept, dups, idx = tmp_path / "k.jsonl", tmp_path / "d.jsonl", tmp_path / "i.dedup"
    argv = ["dedupe", str(many_file), "-o", str(kept), "--duplicates", str(dups), "--index", str(idx)]
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err
    written = _written_ids(kept, dups)
    assert 0 < len(written) < 300
    assert _indexed_ids(idx) == set(written)  # every indexed article written, every written one indexed
    assert f"stopped after {len(written)} records" in err
    # the re-run finishes the feed: nothing lost, the kept records those of one uninterrupted run
    monkeypatch.undo()
    kept2, dups2, whole = tmp_path / "k2.jsonl", tmp_path / "d2.jsonl", tmp_path / "whole.jsonl"
    assert main(["dedupe", str(many_file), "-o", str(kept2), "--duplicates", str(dups2), "--index", str(idx)]) == 0
    assert len(_indexed_ids(idx)) == 300
    assert main(["dedupe", str(many_file), "-o", str(whole)]) == 0
    assert _written_ids(kept, kept2) == _written_ids(whole)


def test_a_real_ctrl_c_leaves_the_index_and_the_outputs_in_agreement(tmp_path):
    import signal

    src = tmp_path / "many.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in generate_articles(2000, seed=1)), encoding="utf-8")
    kept, dups, idx = tmp_path / "k.jsonl", tmp_path / "d.jsonl", tmp_path / "i.dedup"
    argv = ["dedupe", str(src), "-o", str(kept), "--duplicates", str(dups), "--index", str(idx), "--no-progress"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "dedup", *argv],
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # even when started in the background
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and not (kept.exists() and kept.stat().st_size):
            time.sleep(0.05)
        time.sleep(0.3)  # into the feed
        proc.send_signal(signal.SIGINT)
        err = proc.communicate(timeout=60)[1].decode()
    finally:
        proc.kill()
    assert proc.returncode in (0, 130), err
    assert "Traceback" not in err and "unexpected" not in err
    assert _indexed_ids(idx) == set(_written_ids(kept, dups))


# --- CSV output: the input's columns and delimiter ---------------------------------------------------------


def test_csv_output_keeps_every_column_of_the_header(tmp_path):
    src, out = tmp_path / "short.csv", tmp_path / "kept.csv"
    src.write_text(
        "id,text,title,source\n"
        'a,"Officials met on Monday to discuss the budget for next year."\n'
        'b,"The central bank raised rates on Thursday by a quarter point.",Rates up,Reuters\n',
        encoding="utf-8",
    )
    assert main(["dedupe", str(src), "-o", str(out)]) == 0
    assert out.read_bytes() == (
        b"id,text,title,source\n"
        b"a,Officials met on Monday to discuss the budget for next year.,,\n"
        b"b,The central bank raised rates on Thursday by a quarter point.,Rates up,Reuters\n"
    )


@pytest.mark.parametrize(
    ("name", "delim", "end", "extra"),
    [("f.tsv", "\t", "\n", []), ("f.csv", ";", "\r\n", []), ("f.csv", "|", "\n", ["--delimiter", "|"])],
)
def test_csv_output_keeps_the_delimiter_and_line_ends(tmp_path, feed_rows, name, delim, end, extra):
    src, out = tmp_path / name, tmp_path / ("kept" + Path(name).suffix)
    cols = ["id", "text", "published", "story", "kind"]
    with src.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, delimiter=delim, lineterminator=end)
        w.writeheader()
        for r in feed_rows[:20]:
            w.writerow(r)
    assert main(["dedupe", str(src), "-o", str(out), *extra]) == 0
    copies = {r["id"] for r in feed_rows[:20] if r["kind"] == "copy"}
    assert copies
    expected = io.StringIO(newline="")
    w = csv.DictWriter(expected, fieldnames=cols, delimiter=delim, lineterminator=end, extrasaction="ignore")
    w.writeheader()
    w.writerows(r for r in feed_rows[:20] if r["id"] not in copies)
    assert out.read_bytes().decode() == expected.getvalue()


@pytest.mark.parametrize(
    ("delim", "end", "extra"),
    [("\t", "\n", []), (";", "\r\n", []), ("|", "\n", ["--delimiter", "|"]), (",", "\n", [])],
)
@pytest.mark.parametrize("keep", ["first", "longest"])
def test_csv_from_stdin_keeps_the_header_delimiter_and_line_ends_as_a_file_does(
    tmp_path, feed_rows, monkeypatch, delim, end, extra, keep
):
    cols = ["id", "text", "published", "story", "kind"]
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=cols, delimiter=delim, lineterminator=end)
    w.writeheader()
    buf.write(f"short{delim}The harbour authority closed the northern pier after a storm damaged it.{end}")
    w.writerows(feed_rows[:20])
    src, from_file, from_stdin = tmp_path / "in.csv", tmp_path / "file.csv", tmp_path / "stdin.csv"
    src.write_bytes(buf.getvalue().encode())
    argv = ["--keep", keep, "--no-progress", *extra]
    assert main(["dedupe", str(src), "-o", str(from_file), *argv]) == 0
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(src.read_bytes())))
    assert main(["dedupe", "-", "--input-format", "csv", "-o", str(from_stdin), *argv]) == 0
    written = from_stdin.read_bytes().decode()
    assert written == from_file.read_bytes().decode()
    header, first = written.split(end)[:2]
    assert header == delim.join(cols) and first.startswith(f"short{delim}") and first.endswith(delim * 3)


def test_duplicates_and_errors_escape_control_and_bidi_characters_keeping_the_strings(tmp_path, feed_rows):
    hidden = "\u202e\x9b\u200f\u2028"
    rows = [{**r, "id": f"{r['id']}{hidden}"} for r in feed_rows[:20]]
    src, dups, errs = tmp_path / "odd.jsonl", tmp_path / "d.jsonl", tmp_path / "e.jsonl"
    bad = json.dumps({"id": "bad" + hidden, "text": 5})
    src.write_text("".join(json.dumps(r) + "\n" for r in rows) + bad + "\n", encoding="utf-8")
    argv = ["dedupe", str(src), "-o", str(tmp_path / "k.jsonl"), "--duplicates", str(dups), "--errors", str(errs)]
    assert main(argv) == 3
    for path in (dups, errs):
        text = path.read_text(encoding="utf-8")
        assert not set(hidden) & set(text) and "\\u202e" in text, text
        assert len(text.splitlines()) == len(_jsonl(path)) > 0  # U+2028 no longer splits a line for an editor
    copies = {r["id"] for r in rows if r["kind"] == "copy"}
    assert {d["id"] for d in _jsonl(dups)} == copies  # the same strings back
    assert _jsonl(errs)[0]["line"] == 21 and "bad" in _jsonl(errs)[0]["error"]


# --- clustering options against a saved index ---------------------------------------------------------------


def test_an_option_that_differs_from_the_saved_index_is_refused(feed_file, tmp_path, capsys):
    idx, out = tmp_path / "i.dedup", tmp_path / "k.jsonl"
    assert main(["dedupe", str(feed_file), "-o", str(out), "--index", str(idx)]) == 0
    saved = idx.read_bytes()
    capsys.readouterr()
    assert (
        main(
            [
                "dedupe",
                str(feed_file),
                "-o",
                str(tmp_path / "k2.jsonl"),
                "--index",
                str(idx),
                "--copy-threshold",
                "0.99",
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"dedup: error: --copy-threshold 0.99 differs from the value saved in the index {idx} (0.6): an index keeps "
        "the parameters it was built with; leave --copy-threshold out, or give another --index file"
    ]
    assert idx.read_bytes() == saved and not (tmp_path / "k2.jsonl").exists()
    assert main(["dedupe", str(feed_file), "--index", str(idx), "--time-window", "0", "-o", os.devnull]) == 1
    assert "--time-window 0 differs from the value saved in the index" in capsys.readouterr().err
    assert main(["dedupe", str(feed_file), "--index", str(idx), "--linkage", "single", "-o", os.devnull]) == 1
    assert "--linkage single differs" in capsys.readouterr().err
    # defaults, and options given with the index's own values, are fine
    assert main(["dedupe", str(feed_file), "--index", str(idx), "-o", os.devnull]) == 0
    same = ["--threshold", "0.15", "--copy-threshold", "0.6", "--time-window", "7", "--linkage", "average"]
    assert main(["dedupe", str(feed_file), "--index", str(idx), "-o", os.devnull, *same]) == 0


def test_an_index_built_with_other_parameters_is_used_when_no_option_is_given(feed_file, tmp_path):
    idx = tmp_path / "i.dedup"
    assert main(["dedupe", str(feed_file), "-o", os.devnull, "--index", str(idx), "--copy-threshold", "0.9"]) == 0
    assert main(["dedupe", str(feed_file), "-o", os.devnull, "--index", str(idx)]) == 0  # the saved 0.9 applies
    assert main(["dedupe", str(feed_file), "-o", os.devnull, "--index", str(idx), "--copy-threshold", "0.9"]) == 0


# --- nothing usable read ------------------------------------------------------------------------------------


def test_a_text_field_no_record_has_lists_the_fields_and_exits_2(feed_file, tmp_path, capsys):
    assert main(["dedupe", str(feed_file), "--text-field", "body", "-o", str(tmp_path / "k.jsonl")]) == 2
    err = capsys.readouterr().err
    assert (
        f"dedup: error: every record of {feed_file} was rejected (80 records); no record has the text field "
        "'body'. The records have: id, text, published, story, kind (choose one with --text-field)"
    ) in err.splitlines()
    assert "Traceback" not in err


def test_an_empty_feed_exits_2_as_nothing_usable_was_read(tmp_path, capsys):
    p = tmp_path / "empty.jsonl"
    p.write_text("")
    assert main(["dedupe", str(p), "-o", str(tmp_path / "k.jsonl")]) == 2
    assert f"dedup: error: no records in {p}" in capsys.readouterr().err.splitlines()


def test_a_second_ctrl_c_stops_at_once_and_leaves_the_index_as_it_was(many_file, tmp_path, monkeypatch, capsys):
    import signal

    from dedup.live import StoryIndex

    idx = tmp_path / "i.dedup"
    real_add = StoryIndex._add_prepared
    calls = {"n": 0}

    def add_then_ctrl_c_twice(self, prep):
        calls["n"] += 1
        if calls["n"] == 70:
            signal.raise_signal(signal.SIGINT)  # held back until the article is written
            signal.raise_signal(signal.SIGINT)  # stops here, the article maybe half added
        return real_add(self, prep)

    monkeypatch.setattr(StoryIndex, "_add_prepared", add_then_ctrl_c_twice)
    assert main(["dedupe", str(many_file), "-o", str(tmp_path / "k.jsonl"), "--index", str(idx)]) == 130
    err = capsys.readouterr().err
    assert "interrupted twice, at once: the index was not saved" in err and "Traceback" not in err
    assert not idx.exists()
