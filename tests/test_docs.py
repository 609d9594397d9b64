"""The README documents what the code does: its tables match the code, and
every code block runs here.

How blocks run: a ``python`` block is executed as it stands, in a fresh
namespace (so it must import and define what it uses). A ``sh``/``bash``
block made only of ``dedup`` commands runs them through the real entry point,
in this process; any other block runs in ``bash -e``, with this checkout's
``dedup`` and this interpreter as ``python`` first on ``PATH``, and a
background job (``cmd &``) must succeed too. Every command must succeed.
Set-up steps (``python3 -m venv``, activating it, ``pip install``,
``python -m pytest``) are the environment these tests run in and are not
repeated. A block marked ``<!-- readme: output -->`` must be what the
command before it printed.

A ``<!-- readme: ... -->`` line before a block says what its test needs,
comma-separated: ``slow`` (run by ``pytest -m slow``), ``needs redis`` (a
throwaway ``redis-server``, its address in ``REDIS_URL``), ``needs chromium``
(``/usr/bin/chromium`` and playwright), ``needs spark`` (pyspark and Java;
slow; a python block then runs in its own interpreter, so its JVM ends with
it). The test is skipped, saying why, only when the thing needed is not
installed. There is no way to skip a block: ``not run: REASON`` (how a block
once said why it could not run) is refused, and the last test keeps it so.

Blocks run in a folder holding copies of ``seeds/`` and ``benchmarks/`` (its
data linked) and the small files the examples name (``feed.jsonl``,
``export.csv``, ``part-1.jsonl``, ``archive/articles.parquet``, ...), so a
benchmark writes its results there, never into the checkout.
"""

from __future__ import annotations

import contextlib
import gzip
import importlib.util
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dedup.cli.args import exit_codes_table
from dedup.params import params_table
from dedup.report.screenshot import CHROMIUM
from dedup.synth import generate_articles

README = Path(__file__).resolve().parent.parent / "README.md"
ROOT = README.parent
SEEDS = ROOT / "seeds"
SETUP = ("python3 -m venv", ". .venv/bin/activate", "pip install", "python -m pytest")
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
_DIRECTIVE = re.compile(r"<!-- readme: (.*?) -->\s*$")


def _section(text: str, name: str) -> str:
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    return text[text.index(start) + len(start) : text.index(end)].strip()


def test_readme_parameter_table_matches_the_defaults():
    table = _section(README.read_text(encoding="utf-8"), "params")
    assert table == params_table(), "README parameter table is stale: run python -m dedup.params"


def test_readme_exit_code_table_matches_the_code():
    assert _section(README.read_text(encoding="utf-8"), "exit-codes") == exit_codes_table()


def _blocks() -> list[tuple[int, str, str, str]]:
    """``(line, language, body, directive)`` of every fenced block."""
    text = README.read_text(encoding="utf-8")
    out = []
    for m in _BLOCK.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        d = _DIRECTIVE.search(before)
        out.append((line, m.group(1), m.group(2), d.group(1) if d else ""))
    return out


def _flags(directive: str) -> set[str]:
    """The needs of a block: ``{"slow", "needs redis", ...}``."""
    if directive.startswith("not run:"):
        return {"not run"}
    return {f.strip() for f in directive.split(",") if f.strip()}


KNOWN_FLAGS = {"output", "slow", "needs redis", "needs chromium", "needs spark"}
FLAG_MARKS = {
    "slow": [pytest.mark.slow],
    "needs redis": [pytest.mark.redis],
    "needs chromium": [pytest.mark.browser],
    "needs spark": [pytest.mark.spark, pytest.mark.slow],
}


def _param(block: tuple[int, str, str, str]):
    marks = [m for flag in sorted(_flags(block[3])) for m in FLAG_MARKS.get(flag, [])]
    return pytest.param(block, marks=marks, id=f"README.md:{block[0]}")


BLOCKS = _blocks()
RUNNABLE = [b for b in BLOCKS if b[1] in ("python", "sh", "bash")]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A folder with the files the README's examples name."""
    d = tmp_path_factory.mktemp("readme")
    shutil.copytree(SEEDS, d / "seeds")
    rows = list(generate_articles(60, seed=3))
    feed = "".join(json.dumps(r) + "\n" for r in rows)
    (d / "feed.jsonl").write_text(feed, encoding="utf-8")
    (d / "today.jsonl.gz").write_bytes(gzip.compress(feed.encode()))
    lines = ["headline;body;date"] + [f'Headline {k};"{r["text"]}";{r["published"]}' for k, r in enumerate(rows)]
    (d / "export.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    original, rewrite = sorted(SEEDS.glob("*.txt"))[:2]
    shutil.copy(original, d / "ORIGINAL.txt")
    shutil.copy(rewrite, d / "REWRITE.txt")
    (d / "articles").mkdir()
    shutil.copy(original, d / "articles" / "one.txt")
    # two workers' parts of one feed, overlapping: the second sees the first's articles again
    (d / "part-1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:40]), encoding="utf-8")
    (d / "part-2.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[20:]), encoding="utf-8")
    _archive(d / "archive", rows)
    (d / "benchmarks").mkdir()
    for script in (ROOT / "benchmarks").glob("*.py"):
        shutil.copy(script, d / "benchmarks" / script.name)  # a copy: results land beside it, in d
    (d / "benchmarks" / "data").symlink_to(ROOT / "benchmarks" / "data")
    _shims(d / ".bin")
    return d


def _archive(folder: Path, rows: list[dict]) -> None:
    """``articles.parquet`` with the column names of the Spark examples (if pyarrow is installed)."""
    if importlib.util.find_spec("pyarrow") is None:
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir()
    cols = {
        "doc_id": [r["id"] for r in rows],
        "body": [r["text"] for r in rows],
        "headline": [f"Headline {k}" for k in range(len(rows))],
        "published": [r["published"] for r in rows],
    }
    pq.write_table(pa.table(cols), folder / "articles.parquet")


def _shims(folder: Path) -> None:
    """``dedup``, ``python`` and ``python3`` for shell blocks: this interpreter, this checkout."""
    folder.mkdir()
    for name, call in (("dedup", "-m dedup "), ("python", ""), ("python3", "")):
        (folder / name).write_text(f'#!/bin/sh\nexec "{sys.executable}" {call}"$@"\n')
        (folder / name).chmod(0o755)


def _commands(body: str) -> list[str]:
    """The commands of a shell block: continuation lines joined, comments and set-up steps dropped."""
    joined = re.sub(r"\\\n\s*", " ", body)
    out = []
    for line in joined.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        for part in filter(None, (p.strip() for p in line.split("&&"))):
            if not part.startswith(SETUP):
                out.append(part)
    return out


def _run_dedup(command: str) -> tuple[int, str]:
    from dedup.cli import main

    argv = shlex.split(command)
    argv = argv[3:] if argv[:3] == ["python", "-m", "dedup"] else argv[1:]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            rc = main(argv)
        except SystemExit as exc:  # --version, --help
            rc = exc.code or 0
    return rc, out.getvalue()


def _output_after(line: int) -> str | None:
    later = [b for b in BLOCKS if b[0] > line]
    if later and later[0][1] == "" and later[0][3] == "output":
        return later[0][2]
    return None


def _in_process(command: str) -> bool:
    """A plain ``dedup`` command (no shell syntax): run through ``main`` here."""
    unquoted = re.sub(r"'[^']*'", "", command)
    return command.startswith(("dedup ", "python -m dedup ")) and not set("$&|<>`;") & set(unquoted)


def _shell_env(workspace: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(workspace / ".bin"), str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    return env


WAIT_ALL = 'for job in $_readme_jobs; do wait "$job"; done'  # under bash -e: a failed background job fails


def _shell_script(commands: list[str]) -> str:
    """The block for ``bash -e``: background jobs remembered, ``wait`` (and the end) waits for each."""
    lines = [c + ' _readme_jobs="$_readme_jobs $!"' if c.endswith("&") else c for c in commands]
    return "\n".join(WAIT_ALL if c == "wait" else c for c in lines) + "\n" + WAIT_ALL + "\n"


def _run_shell(line: int, argv: list[str], workspace: Path) -> str:
    res = subprocess.run(argv, cwd=workspace, env=_shell_env(workspace), capture_output=True, text=True, timeout=1800)
    assert res.returncode == 0, f"README.md:{line}: exited {res.returncode}\n{res.stdout[-2000:]}{res.stderr[-4000:]}"
    return res.stdout


def _skip_unless_available(flags: set[str], request, monkeypatch) -> None:
    """Skip, saying why, when what the block needs is not installed; start what it needs."""
    if "needs redis" in flags:
        server = request.getfixturevalue("redis_server")  # skips without redis-server
        monkeypatch.setenv("REDIS_URL", f"redis://{server['host']}:{server['port']}")
    if "needs chromium" in flags:
        if not Path(CHROMIUM).exists():
            pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium)")
        pytest.importorskip("playwright.sync_api")
    if "needs spark" in flags:
        pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'dedup[spark]')")
        pytest.importorskip("pyarrow", reason="pyarrow is not installed (pip install 'dedup[spark]')")
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            pytest.skip("no Java runtime (java not on PATH, JAVA_HOME unset)")


def _run_python(line: int, body: str, flags: set[str], workspace: Path) -> None:
    if "needs spark" in flags:  # in its own interpreter: the JVM ends with it
        script = workspace / f".readme-{line}.py"
        script.write_text(body, encoding="utf-8")
        _run_shell(line, [sys.executable, script.name], workspace)
        return
    exec(compile(body, f"README.md:{line}", "exec"), {"__name__": "readme"})  # noqa: S102


@pytest.mark.parametrize("block", [_param(b) for b in RUNNABLE])
def test_readme_block_runs(block, workspace, monkeypatch, request):
    line, lang, body, directive = block
    flags = _flags(directive)
    assert flags <= KNOWN_FLAGS, f"README.md:{line}: unknown directive {directive!r}"
    _skip_unless_available(flags, request, monkeypatch)
    monkeypatch.chdir(workspace)
    if lang == "python":
        _run_python(line, body, flags, workspace)
        return
    commands = _commands(body)
    if not all(map(_in_process, commands)):
        printed = _run_shell(line, ["bash", "-e", "-c", _shell_script(commands)], workspace)
    else:
        printed = None
        for command in commands:
            rc, printed = _run_dedup(command)
            assert rc == 0, f"README.md:{line}: {command!r} exited {rc}"
    expected = _output_after(line)
    if expected is not None:
        assert printed.rstrip("\n") == expected.rstrip("\n"), (
            f"README.md:{line}: the output block after it is not what the command prints"
        )


def test_a_failed_background_job_fails_the_block(tmp_path):
    script = _shell_script(["false &", "true &", "wait", "echo after"])
    res = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode != 0 and "after" not in res.stdout


def test_every_block_runs():
    kinds = {b[1] for b in BLOCKS}
    assert kinds <= {"python", "sh", "bash", ""}, kinds
    not_run = [f"README.md:{b[0]}" for b in BLOCKS if b[3].startswith("not run:")]
    assert not_run == [], "every README code block runs in the tests (issue 19)"
    for line, _lang, _body, directive in BLOCKS:
        assert _flags(directive) <= KNOWN_FLAGS, f"README.md:{line}: unknown directive {directive!r}"
