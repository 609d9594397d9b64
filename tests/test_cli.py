"""The ``dedup`` command through its real entry points: version, help,
exit codes, field options, delimiters, Parquet, progress, terminal safety
(issues 18 and 19)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dedup.cli import EXIT_CODES, main
from dedup.synth import generate_articles

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
COMMANDS = ("cluster", "diff", "report", "dedupe", "index", "spark-cluster")
TEXT = "Officials met in Geneva on Tuesday to discuss the ceasefire proposal for the northern region."


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return list(generate_articles(40, seed=5))


@pytest.fixture()
def feed(tmp_path, rows) -> Path:
    p = tmp_path / "feed.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return p


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# --- entry points, version, help ----------------------------------------------------------------


def test_version_and_python_m_dedup():
    from dedup import __version__

    res = subprocess.run([sys.executable, "-m", "dedup", "--version"], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.strip() == f"dedup {__version__}"
    res = subprocess.run([sys.executable, "-m", "dedup", "cluster", str(SEEDS)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("2 articles, 1 story (1 told more than once)")
    assert "Traceback" not in res.stderr


def _help(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as e:
        main([*argv, "--help"])
    assert e.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_examples_every_option_explained_and_no_markup(command, capsys):
    text = _help([command], capsys)
    assert "examples:" in text
    assert not re.search(r"``|:func:|:class:|:mod:|:meth:", text)
    lines = text.splitlines()
    for k, line in enumerate(lines):
        m = re.match(r"^  (-[^ ].*?)(?:\s{2,}(\S.*))?$", line)
        if m and not m.group(2):  # the help text is on the next line then
            assert k + 1 < len(lines) and re.match(r"^\s{8,}\S", lines[k + 1]), f"{command}: {line!r} has no help"


def test_top_level_help_lists_commands_and_exit_codes(capsys):
    text = _help([], capsys)
    for command in COMMANDS:
        assert command in text
    assert "exit codes" in text
    assert [code for code, _ in EXIT_CODES] == [0, 1, 2, 3, 130]


def test_usage_error_exits_1(capsys):
    with pytest.raises(SystemExit) as e:
        main(["cluster", "--threshold", "high", str(SEEDS)])
    assert e.value.code == 1
    assert "invalid float value" in capsys.readouterr().err


# --- exit codes and messages --------------------------------------------------------------------


def test_empty_input_exits_2(tmp_path, capsys):  # issue 18 case 15
    p = tmp_path / "empty.jsonl"
    p.write_text("", encoding="utf-8")
    assert main(["cluster", str(p)]) == 2
    assert f"dedup: error: no records in {p}" in capsys.readouterr().err.splitlines()  # the documented form
    assert main(["report", str(p), "-o", str(tmp_path / "r.html")]) == 2
    assert f"dedup: error: no records in {p}" in capsys.readouterr().err.splitlines()


def test_every_record_rejected_exits_2(tmp_path, capsys):  # issue 18 case 15
    p = tmp_path / "bad.jsonl"
    p.write_text("{oops\n[1, 2]\n", encoding="utf-8")
    assert main(["cluster", str(p)]) == 2
    err = capsys.readouterr().err
    assert f"{p}:1: invalid JSON" in err and f"{p}:2:" in err
    assert "every record" in err and "2 records" in err


def test_wrong_text_field_lists_the_fields_the_records_have(feed, capsys):  # issue 18 case 15
    assert main(["cluster", str(feed), "--text-field", "body"]) == 2
    err = capsys.readouterr().err
    assert "no record has the text field 'body'" in err
    assert "id, text, published, story, kind" in err
    assert "... and 30 more rejected records" in err  # 40 rejected, 10 named


def test_wrong_id_field_warns_with_the_fields_present(feed, capsys):  # issue 18 case 16
    assert main(["cluster", str(feed), "--id-field", "doc_id", "--format", "jsonl"]) == 0
    out, err = capsys.readouterr()
    assert f"warning: {feed}:1 has no field 'doc_id' (--id-field)" in err
    assert "Its fields: id, text, published, story, kind" in err
    assert json.loads(out.splitlines()[0])["id"] == f"{feed}:1"  # FILE:LINE, the path as given


def test_some_rejected_exits_3_like_dedupe(tmp_path, rows, capsys):
    p = tmp_path / "mixed.jsonl"
    p.write_text(json.dumps(rows[0]) + "\n{oops\n" + json.dumps(rows[1]) + "\n", encoding="utf-8")
    assert main(["cluster", str(p)]) == 3
    err = capsys.readouterr().err
    assert f"{p}:2: invalid JSON" in err and "1 rejected" in err


def test_duplicate_id_is_named_with_its_file_and_line(tmp_path, capsys):
    p = tmp_path / "dup.jsonl"
    p.write_text(json.dumps({"id": "x", "text": TEXT}) + "\n" + json.dumps({"id": "x", "text": TEXT}) + "\n")
    assert main(["cluster", str(p)]) == 3
    err = capsys.readouterr().err
    assert f"{p}:2: article 'x': duplicate id" in err


def test_messages_are_singular_aware(tmp_path, capsys):
    p = tmp_path / "one.jsonl"
    p.write_text(json.dumps({"id": "only", "text": TEXT}) + "\n", encoding="utf-8")
    assert main(["cluster", str(p), "--all"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("1 article, 1 story (0 told more than once)")
    assert "story 1: 1 article, 1 version" in out
    assert "1 article in 1 story" in err
    assert not re.search(r"\b1 (articles|stories|versions|records)\b|\(s\)", out + err)


def test_a_warning_never_shows_an_internal_file_and_line(monkeypatch, tmp_path, capsys):
    import warnings

    from dedup.cli import reading

    monkeypatch.setattr(reading, "kernel_notice", lambda: warnings.warn("something odd", UserWarning, stacklevel=1))
    p = tmp_path / "one.jsonl"
    p.write_text(json.dumps({"id": "only", "text": TEXT}) + "\n", encoding="utf-8")
    assert main(["cluster", str(p)]) == 0
    err = capsys.readouterr().err
    assert "dedup: warning: something odd" in err
    assert ".py:" not in err


# --- terminal safety ------------------------------------------------------------------------------


def test_escape_sequences_from_the_data_never_reach_the_terminal(tmp_path, capsys):  # issue 18 case 3
    evil = "\x1b]0;pwned\x07\x1b[2J\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\"
    p = tmp_path / "evil.jsonl"
    p.write_text(
        json.dumps({"id": "a" + evil, "title": "T" + evil, "text": TEXT + evil})
        + "\n"
        + json.dumps({"id": "b" + evil, "text": TEXT + " Again" + evil})
        + "\n"
        + "{bad"
        + evil
        + "\n",
        encoding="utf-8",
    )
    assert main(["cluster", str(p)]) == 3
    out, err = capsys.readouterr()
    assert "\x1b" not in out and "\x07" not in out and "\x1b" not in err
    assert "a\\x1b]0;pwned\\x07" in out  # shown escaped


def test_no_color_is_honoured_on_a_terminal():
    pty = pytest.importorskip("pty")
    o, r = map(str, sorted(SEEDS.glob("*.txt"))[:2])

    def run(env: dict) -> bytes:
        master, slave = pty.openpty()
        proc = subprocess.Popen([sys.executable, "-m", "dedup", "diff", o, r], stdout=slave, stderr=slave, env=env)
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        proc.wait()
        os.close(master)
        return b"".join(chunks)

    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    assert b"\x1b[" in run({**env, "TERM": "xterm"})
    assert b"\x1b[" not in run({**env, "TERM": "xterm", "NO_COLOR": "1"})


# --- fields, delimiters, formats ------------------------------------------------------------------


def test_spreadsheet_csv_with_semicolons_and_field_options(tmp_path, rows, capsys):
    p = tmp_path / "export.csv"
    lines = ["headline;body;date;ref"]
    for k, r in enumerate(rows[:12]):
        lines.append(f'Headline {k};"{r["text"]}";{r["published"]};{r["id"]}')
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    argv = [
        "cluster",
        str(p),
        "--text-field",
        "body",
        "--title-field",
        "headline",
        "--published-field",
        "date",
        "--id-field",
        "ref",
        "--all",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("12 articles") and "Headline 0" in out and rows[0]["id"] in out
    assert main([*argv, "--delimiter", ","]) == 2  # forced wrong: one column, no 'body'


def test_cluster_parquet_in_and_out(tmp_path, rows, capsys):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    src, out = tmp_path / "in.parquet", tmp_path / "out.parquet"
    pq.write_table(pa.Table.from_pylist(rows), src, row_group_size=7)
    assert main(["cluster", str(src), "-o", str(out)]) == 0
    table = pq.read_table(out)
    assert table.column_names == ["id", "story", "version", "representative", "score"]
    assert sorted(table.column("id").to_pylist()) == sorted(r["id"] for r in rows)
    stories = {r["story"] for r in rows}
    assert len(set(table.column("story").to_pylist())) == len(stories)
    jsonl = tmp_path / "out.jsonl"
    assert main(["cluster", str(src), "-o", str(jsonl)]) == 0
    by_id = {r["id"]: r["cluster"] for r in _jsonl(jsonl)}
    assert by_id == dict(zip(table.column("id").to_pylist(), table.column("story").to_pylist(), strict=True))


def test_report_reads_parquet(tmp_path, rows):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    src, page = tmp_path / "in.parquet", tmp_path / "r.html"
    pq.write_table(pa.Table.from_pylist(rows), src)
    assert main(["report", str(src), "-o", str(page)]) == 0
    assert page.read_text(encoding="utf-8").count('<section class="cluster"') == len(
        {r["story"] for r in rows if sum(x["story"] == r["story"] for x in rows) > 1}
    )


def test_report_pages_one_file_per_story_linked_from_the_index(tmp_path, feed, rows):
    folder = tmp_path / "pages"
    assert main(["report", str(feed), "--pages", str(folder)]) == 0
    told_twice = {r["story"] for r in rows if sum(x["story"] == r["story"] for x in rows) > 1}
    pages = sorted(p.name for p in folder.glob("story-*.html"))
    assert len(pages) == len(told_twice)
    index = (folder / "index.html").read_text(encoding="utf-8")
    assert sorted(re.findall(r'href="(story-\d+\.html)"', index)) == pages  # every page linked, once
    one = (folder / pages[0]).read_text(encoding="utf-8")
    assert one.count('<section class="cluster"') == 0 and "Contents" in one  # one story, not the whole report
    with pytest.raises(SystemExit) as e:  # one or the other
        main(["report", str(feed), "--pages", str(folder), "-o", str(tmp_path / "x.html")])
    assert e.value.code == 1


# --- progress -----------------------------------------------------------------------------------------


def test_progress_bar_when_forced_and_summary_always(feed, capsys):
    assert main(["cluster", str(feed), "--format", "jsonl", "--progress"]) == 0
    err = capsys.readouterr().err
    assert "\r" in err and "reading" in err and "100%" in err
    assert main(["cluster", str(feed), "--format", "jsonl"]) == 0  # not a terminal: no bar
    err = capsys.readouterr().err
    assert "\r" not in err and "reading" not in err
    assert re.search(r"^dedup: 40 articles in \d+ stories", err, re.M)


def test_kernel_notice_only_before_the_first_compile(tmp_path, monkeypatch, capsys):
    from dedup.cli.progress import kernel_notice, kernels_compiled

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert not kernels_compiled()
    kernel_notice()
    assert "compiling the numba kernels" in capsys.readouterr().err
    _cache_entry(tmp_path, "dedup._kernels")
    kernel_notice()
    assert capsys.readouterr().err == ""


def _cache_entry(cache: Path, module: str) -> None:
    """An empty numba index file where numba would cache ``module``'s kernels."""
    import hashlib
    import importlib.util

    folder = Path(os.path.abspath(importlib.util.find_spec(module).origin)).parent
    sub = cache / f"{folder.name}_{hashlib.sha1(str(folder).encode()).hexdigest()}"
    sub.mkdir(parents=True, exist_ok=True)
    (sub / f"{module.rsplit('.', 1)[-1]}.kernel-10.py311.nbi").write_bytes(b"")


def test_kernel_notice_looks_at_the_kernels_of_the_command(tmp_path, monkeypatch):
    # a feed compiles the live kernels, never dedup._kernels: before, dedupe
    # said "first run: compiling" at every run
    from dedup.cli.progress import kernels_compiled

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    feed = ("dedup.live._kernels", "dedup.text._kernels")
    _cache_entry(tmp_path, "dedup.live._kernels")
    assert not kernels_compiled(*feed)  # the text kernels are not there yet
    _cache_entry(tmp_path, "dedup.text._kernels")
    assert kernels_compiled(*feed)
    assert not kernels_compiled()  # another module's "_kernels" entries are not dedup._kernels'


def test_kernel_notice_finds_what_numba_cached(tmp_path):
    # the folder numba really writes to, for a cached kernel of a module of ours
    (tmp_path / "mod").mkdir()
    (tmp_path / "mod" / "kern.py").write_text(
        "from numba import njit\n@njit(cache=True)\ndef one(x):\n    return x + 1\n", encoding="utf-8"
    )
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from dedup.cli.progress import kernels_compiled as k; "
        "before = k('kern'); import kern; kern.one(1); print(before, k('kern'))"
    )
    for env in ({"NUMBA_CACHE_DIR": str(tmp_path / "cache")}, {}):
        environ = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"} | env
        out = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / "mod")], env=environ, capture_output=True, text=True, check=True
        )
        assert out.stdout.split() == ["False", "True"]
        shutil.rmtree(tmp_path / "mod" / "__pycache__", ignore_errors=True)


def test_diff_reads_the_first_argument_as_the_original(tmp_path, capsys):
    o, r = sorted(SEEDS.glob("*.txt"))[:2]
    page = tmp_path / "d.html"
    assert main(["diff", str(o), str(r), "-o", str(page)]) == 0
    title = re.search(r"<title>(.*?)</title>", page.read_text(encoding="utf-8")).group(1)
    assert title == f"dedup diff: {o.stem} (original) vs {r.stem} (rewrite)"
    assert main(["diff", str(o), str(r), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    first = o.read_text(encoding="utf-8").split("\n\n")[0].strip()[:40]
    assert doc["original"]["paragraphs"][0]["text"].startswith(first[:20])


def test_json_output_lists_every_rejected_record(tmp_path, rows, capsys):
    p = tmp_path / "mixed.jsonl"
    p.write_text(
        json.dumps(rows[0]) + "\n{oops\n" + json.dumps(rows[1]) + "\n" + json.dumps(rows[1]) + "\n", encoding="utf-8"
    )
    out = tmp_path / "s.json"
    assert main(["cluster", str(p), "-o", str(out)]) == 3
    rejected = json.loads(out.read_text(encoding="utf-8"))["rejected"]
    assert [r["where"] for r in rejected] == [f"{p}:2", f"{p}:4"]
    assert "invalid JSON" in rejected[0]["reason"] and "duplicate id" in rejected[1]["reason"]


def test_an_unexpected_error_is_one_line_not_a_traceback(monkeypatch, tmp_path, capsys):
    from dedup import batch

    def broken(*args, **kwargs):
        raise KeyError("boom")

    monkeypatch.setattr(batch, "cluster_articles", broken)  # as the commands import it, when they cluster
    p = tmp_path / "one.jsonl"
    p.write_text(json.dumps({"id": "only", "text": TEXT}) + "\n", encoding="utf-8")
    assert main(["cluster", str(p)]) == 2
    err = capsys.readouterr().err
    assert "dedup: error: unexpected KeyError" in err and "Traceback" not in err


# --- option values checked before any work (exit 1), paths before Spark (exit 2) -----------------


@pytest.fixture()
def no_reading(monkeypatch):
    """Reading the input fails the test: the options must be refused first."""
    from dedup.cli import reading

    def read_paths(*args, **kwargs):
        raise AssertionError("the input was read before the options were checked")

    monkeypatch.setattr(reading, "read_paths", read_paths)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--threshold", "-1"], "--threshold must be a number in [0, 1], got -1.0"),
        (["--threshold", "nan"], "--threshold must be a number in [0, 1], got nan"),
        (["--threshold", "5"], "--threshold must be a number in [0, 1], got 5.0"),
        (["--copy-threshold", "2"], "--copy-threshold must be a number in (0, 1], got 2.0"),
        (["--jobs", "0"], "--jobs must be a positive integer or -1, got 0"),
        (["--time-window", "-1"], "--time-window takes a positive number of days up to 999,999,999 (0: no window)"),
        (["--time-window", "inf"], "--time-window takes a positive number of days"),
        (["--time-window", "nan"], "--time-window takes a positive number of days"),
        (["--time-window", "1e12"], "--time-window takes a positive number of days"),
        (["--delimiter", "ab"], "--delimiter takes one character, got 'ab'"),
        (["--format", "parquet"], "--format parquet needs a file: -o FILE.parquet"),
    ],
)
def test_a_wrong_option_value_exits_1_before_reading(argv, message, no_reading, capsys):
    assert main(["cluster", str(SEEDS), *argv]) == 1
    err = capsys.readouterr().err
    assert err == f"dedup: error: {err.removeprefix('dedup: error: ').strip()}\n"  # one line
    assert message in err and "bug" not in err


def test_report_checks_its_clustering_options_too(tmp_path, no_reading, capsys):
    assert main(["report", str(SEEDS), "-o", str(tmp_path / "r.html"), "--threshold", "5"]) == 1
    assert "--threshold must be" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--max-live", "0"], "--max-live takes a positive number of articles, got 0"),
        (["--redis", "bad"], "--redis takes HOST:PORT or a redis:// URL, got 'bad'"),
        (["--redis", "x:1", "--index", "f.dedup"], "--index and --redis are alternatives"),
        (["--jobs", "-3"], "--jobs must be a positive integer or -1, got -3"),
    ],
)
def test_dedupe_option_values_exit_1_before_any_output(tmp_path, feed, argv, message, capsys):
    out = tmp_path / "kept.jsonl"
    assert main(["dedupe", str(feed), "-o", str(out), *argv]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not out.exists()


def test_a_missing_input_is_still_an_input_error(tmp_path, capsys):
    assert main(["cluster", str(tmp_path / "missing.jsonl")]) == 2


def test_csv_id_field_in_another_case_is_found_without_a_warning(tmp_path, capsys):
    p = tmp_path / "case.csv"
    p.write_text(f"ident,Body\nA1,{TEXT}\nA2,{TEXT} Again.\n", encoding="utf-8")
    assert main(["cluster", str(p), "--id-field", "IDENT", "--text-field", "body", "--format", "jsonl"]) == 0
    out, err = capsys.readouterr()
    assert [r["id"] for r in map(json.loads, out.splitlines())] == ["A1", "A2"]
    assert "warning" not in err
    # JSONL keys are matched exactly: the warning stays where the ids are FILE:LINE
    j = tmp_path / "case.jsonl"
    j.write_text(json.dumps({"ident": "A1", "text": TEXT}) + "\n", encoding="utf-8")
    assert main(["cluster", str(j), "--id-field", "IDENT", "--format", "jsonl"]) == 0
    out, err = capsys.readouterr()
    assert f"warning: {j}:1 has no field 'IDENT'" in err and json.loads(out)["id"].endswith(":1")


def test_cluster_help_names_the_columns_each_format_writes(tmp_path, capsys):
    pq = pytest.importorskip("pyarrow.parquet")
    text = " ".join(_help(["cluster"], capsys).split())
    jsonl_columns = "id, cluster, version, representative, score"
    parquet_columns = "id, story, version, representative, score"
    assert f"jsonl: one line per article ({jsonl_columns})" in text
    assert f"parquet: one row per article ({parquet_columns}" in text
    assert main(["cluster", str(SEEDS), "-o", str(tmp_path / "s.parquet")]) == 0
    assert main(["cluster", str(SEEDS), "-o", str(tmp_path / "s.jsonl")]) == 0
    assert ", ".join(pq.read_table(tmp_path / "s.parquet").column_names) == parquet_columns
    assert ", ".join(_jsonl(tmp_path / "s.jsonl")[0]) == jsonl_columns


def _closed(redirect: str, *argv: str) -> subprocess.CompletedProcess:
    """``dedup ARGV`` with a standard stream closed by the shell (``>&-``, ``2>&-``)."""
    cmd = ["sh", "-c", f'exec "$@" {redirect}', "sh", sys.executable, "-m", "dedup", *argv]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs sh")
def test_closed_stdout_is_an_output_error_in_one_line():
    res = _closed(">&-", "cluster", str(SEEDS))
    assert res.returncode == 2
    assert res.stderr == "dedup: error: cannot write the output: standard output is closed (use -o FILE)\n"


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs sh")
def test_closed_stderr_drops_the_messages_never_into_the_output():
    res = _closed("2>&-", "cluster", str(SEEDS))
    assert res.returncode == 0 and res.stdout.startswith("2 articles, 1 story")
    assert "dedup:" not in res.stdout
    res = _closed("2>&-", "cluster", str(SEEDS), "--threshold", "5")
    assert res.returncode == 1 and res.stdout == ""


@pytest.fixture()
def no_spark(monkeypatch):
    """Starting Spark fails the test: the paths must be refused first."""
    pytest.importorskip("pyspark")
    from dedup.cli import spark

    def session(args):
        raise AssertionError("Spark was started before the paths were checked")

    monkeypatch.setattr(spark, "_session", session)


def test_spark_cluster_missing_input_is_one_line_before_spark_starts(tmp_path, no_spark, capsys):
    missing = tmp_path / "nonexist.jsonl"
    assert main(["spark-cluster", str(missing), "-o", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == f"dedup: error: no such file or folder: {missing}\n"
    assert main(["spark-cluster", str(tmp_path / "*.parquet"), "-o", str(tmp_path / "out")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_spark_cluster_existing_output_is_refused_before_spark_starts(tmp_path, feed, no_spark, capsys):
    out = tmp_path / "stories"
    out.mkdir()
    assert main(["spark-cluster", str(feed), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == f"dedup: error: the output {out} exists: give a new folder, or --overwrite to replace it\n"
    assert main(["spark-cluster", str(feed), "-o", f"file://{out}"]) == 2
    # with --overwrite the checks pass and Spark would start
    assert main(["spark-cluster", str(feed), "-o", str(out), "--overwrite"]) == 2
    assert "Spark was started before" in capsys.readouterr().err
    assert main(["spark-cluster", str(feed), "-o", str(out), "--shuffle-partitions", "0"]) == 1


def test_spark_cluster_remote_paths_are_left_to_spark():
    from dedup.cli.spark import _local

    assert _local("s3a://bucket/articles/") is None and _local("hdfs://nn/x") is None
    assert _local("file:///tmp/x") == "/tmp/x" and _local("/tmp/x") == "/tmp/x"
    assert _local("/tmp/{a,b}.jsonl") is None  # a Hadoop glob: Spark says whether it matches


# --- Ctrl-C from the very start: the one line and 130, never a traceback ------------------------------


def _entry(kind: str) -> list[str]:
    if kind == "script":
        script = Path(sys.executable).with_name("dedup")
        if not script.exists():
            pytest.skip("the dedup console script is not installed next to this interpreter")
        return [str(script)]
    return [sys.executable, "-m", kind]


def _mapped(pid: int, library: str) -> bool:
    """Whether the process has loaded a shared library (Linux: /proc/PID/maps)."""
    try:
        return library in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc (Linux)")
@pytest.mark.parametrize("kind", ["script", "dedup", "dedup.cli"])
@pytest.mark.parametrize("library", ["_multiarray_umath", "libllvmlite"])  # numpy's, then numba's, being imported
def test_ctrl_c_while_the_package_is_imported_is_one_line_and_130(kind, library):
    import signal
    import time

    proc = subprocess.Popen(
        [*_entry(kind), "cluster", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # even when started in the background
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None and not _mapped(proc.pid, library):
            time.sleep(0.001)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        err = proc.communicate(timeout=60)[1].decode()
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.endswith("dedup: interrupted\n"), err


def test_the_entry_point_imports_nothing_heavy():
    # what the console script imports before main() runs: Ctrl-C is handled only from main() on
    code = "import sys, dedup.cli.app; print(sorted({'numpy', 'scipy', 'numba', 'orjson'} & set(sys.modules)))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.strip() == "[]", res.stdout + res.stderr


def test_a_command_gets_ctrl_c_as_keyboard_interrupt_and_the_handler_is_restored(monkeypatch, capsys):
    import signal

    from dedup.cli import cluster

    seen = []

    def interrupted(*args, **kwargs):
        seen.append(signal.getsignal(signal.SIGINT))
        raise KeyboardInterrupt

    monkeypatch.setattr(cluster, "cluster_input", interrupted)
    before = signal.getsignal(signal.SIGINT)
    assert main(["cluster", str(SEEDS)]) == 130
    assert capsys.readouterr().err == "dedup: interrupted\n"
    assert seen == [signal.default_int_handler] and signal.getsignal(signal.SIGINT) is before
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a background job: Ctrl-C stays ignored
    try:
        assert main(["cluster", str(SEEDS)]) == 130
        assert seen[-1] == signal.SIG_IGN and signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_the_package_names_load_on_first_use():
    import dedup

    code = "from dedup import *; import dedup; print(sorted(set(dedup.__all__) - set(globals())))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.strip() == "[]", res.stdout + res.stderr
    assert all(getattr(dedup, name) is not None for name in dedup.__all__)
    assert set(dedup.__all__) <= set(dir(dedup)) and dedup.live.StoryIndex is dedup.StoryIndex
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        dedup.nothing_here  # noqa: B018


# --- JSON output: control and bidi characters of the data escaped, the same strings --------------------

_HIDDEN = "\x9b2J \x7f \u202egnp.exe\u202c \u200f \u2066x\u2069 \u2028"
_HIDDEN_CHARS = set("\x9b\x7f\u202e\u202c\u200f\u2066\u2069\u2028")


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_cluster_json_escapes_control_and_bidi_characters_and_keeps_the_strings(tmp_path, fmt, capsys):
    p = tmp_path / "odd.jsonl"
    ids = ["a" + _HIDDEN, "b-é中"]
    p.write_text(
        "".join(json.dumps({"id": i, "title": "T" + _HIDDEN, "text": TEXT}) + "\n" for i in ids), encoding="utf-8"
    )
    out = tmp_path / f"s.{fmt}"
    assert main(["cluster", str(p), "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert not _HIDDEN_CHARS & set(text) and "\\u202e" in text and "\\u009b" in text
    assert "b-é中" in text  # other non-ASCII stays readable
    docs = [json.loads(text)] if fmt == "json" else [json.loads(line) for line in text.splitlines()]
    found = {m for c in docs[0]["clusters"] for m in c["members"]} if fmt == "json" else {d["id"] for d in docs}
    assert found == set(ids)


def test_help_and_usage_errors_load_no_compiled_kernels():
    # `dedup --help` imported numba, scipy and scikit-learn through the command
    # modules (1.3 s); they load when a command reads articles or makes a diff
    code = (
        "import sys\n"
        "from dedup.cli.dispatch import build_parser\n"
        "build_parser().format_help()\n"
        "print(sorted(m for m in ('numba', 'scipy', 'sklearn') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
