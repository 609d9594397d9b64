"""`dedup dedupe`: streaming feed deduplication from the command line."""

from __future__ import annotations

import csv
import gzip
import json
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

    def interrupted(index, records, args, state):
        real(index, records, args, state)  # the feed indexed, then Ctrl-C
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
