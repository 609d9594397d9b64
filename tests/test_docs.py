"""The README documents what the code does: its tables match the code, and
every code block runs here.

How blocks run: a ``python`` block is executed as it stands, in a fresh
namespace (so it must import and define what it uses); each command of a
``sh``/``bash`` block that calls ``dedup`` runs through the real entry
point and must succeed; set-up steps (``python3 -m venv``, activating it,
``pip install``, ``python -m pytest``) are the environment these tests run
in and are not repeated. A block marked ``<!-- readme: output -->`` must be
what the command before it printed. A block that cannot run on a test
machine (a Redis server, a Spark cluster, a browser, an hours-long
benchmark) says so in a ``<!-- readme: not run: REASON -->`` line; any other
command in a block fails the test. Blocks run in a folder holding copies of
``seeds/`` and the small files the examples name (``feed.jsonl``,
``export.csv``, ...).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import re
import shlex
import shutil
from pathlib import Path

import pytest

from dedup.cli.args import exit_codes_table
from dedup.params import params_table
from dedup.synth import generate_articles

README = Path(__file__).resolve().parent.parent / "README.md"
SEEDS = README.parent / "seeds"
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
    return d


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


@pytest.mark.parametrize("block", RUNNABLE, ids=[f"README.md:{b[0]}" for b in RUNNABLE])
def test_readme_block_runs(block, workspace, monkeypatch):
    line, lang, body, directive = block
    if directive.startswith("not run:"):
        assert len(directive) > len("not run: ") + 10, f"README.md:{line}: say why the block cannot run"
        pytest.skip(f"README.md:{line}: {directive}")
    monkeypatch.chdir(workspace)
    if lang == "python":
        exec(compile(body, f"README.md:{line}", "exec"), {"__name__": "readme"})  # noqa: S102
        return
    printed = None
    for command in _commands(body):
        assert command.startswith(("dedup", "python -m dedup ")), (
            f"README.md:{line}: {command!r} is neither a dedup command nor set-up; mark the block "
            "'<!-- readme: not run: REASON -->' if it cannot run in a test"
        )
        rc, printed = _run_dedup(command)
        assert rc == 0, f"README.md:{line}: {command!r} exited {rc}"
    expected = _output_after(line)
    if expected is not None:
        assert printed.rstrip("\n") == expected.rstrip("\n"), (
            f"README.md:{line}: the output block after it is not what the command prints"
        )


def test_every_block_is_run_or_says_why_not():
    kinds = {b[1] for b in BLOCKS}
    assert kinds <= {"python", "sh", "bash", ""}, kinds
    not_run = [b for b in BLOCKS if b[3].startswith("not run:")]
    assert len(not_run) <= 8  # the exceptions stay few
