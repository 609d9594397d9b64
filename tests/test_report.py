"""Renderers (HTML, Markdown, terminal, JSON), the cluster report and the CLI."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from dedup.article import Article, Cluster, Version
from dedup.diff import diff_articles
from dedup.report import (
    render_cluster_html,
    render_clusters_html,
    render_html,
    render_json,
    render_markdown,
    render_terminal,
    use_color,
)

SEEDS = sorted((Path(__file__).resolve().parent.parent / "seeds").glob("*.txt"))

HOSTILE = '<script>alert("x")</script> </td></tr></table><img src=x onerror="alert(1)"> "quoted" & \'single\''


@pytest.fixture(scope="module")
def seed_alignment():
    a, b = (Article(id=f.stem, text=f.read_text(encoding="utf-8")) for f in SEEDS[:2])
    return diff_articles(a, b)


def hostile_alignment():
    # entities survive dedup.normalize.clean as literal "<script>" text; the id and title are raw
    orig = "Ministers met in Oslo on Monday to discuss &lt;script&gt;alert(1)&lt;/script&gt; fishing quotas for <b>cod</b>.\n\nThe talks ended without agreement."
    rew = "Ministers met in Oslo on Monday to discuss fishing quotas for cod &lt;/td&gt;&lt;/tr&gt;&lt;img src=x onerror=alert(2)&gt;.\n\nA new round is planned for June &lt;script&gt;document.title='pwned'&lt;/script&gt;."
    return diff_articles(Article(id=HOSTILE, text=orig, title=HOSTILE), Article(id="b\"><script>", text=rew))


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)


def _tags(page: str) -> _Tags:
    p = _Tags()
    p.feed(page)
    return p


# --- HTML ---------------------------------------------------------------------------


def test_html_is_self_contained(seed_alignment):
    page = render_html(seed_alignment)
    assert page.startswith("<!DOCTYPE html>")
    t = _tags(page)
    assert "script" not in t.tags and "link" not in t.tags and "img" not in t.tags
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page)
    assert "@media print" in page and "Content-Security-Policy" in page
    # one row per block, with the kind on it
    assert t.tags.count("tr") == len(seed_alignment.blocks) + 1
    assert page.count('data-kind="split"') == 2 and page.count('data-kind="added"') == 1


def test_html_marks_changes(seed_alignment):
    page = render_html(seed_alignment)
    assert '<ins class="s" title="sentence added">Context in the report' in page
    assert re.search(r'<del class="s" title="sentence dropped">Representatives from Russia, Ukraine, and the U\.S\. met for two-day talks', page)
    assert '<span class="dateline" title="dateline">Jan 27 -</span>' in page
    assert "carried over" in page and "legend" in page


def test_html_escapes_hostile_text_ids_and_titles():
    page = render_html(hostile_alignment())
    t = _tags(page)
    assert "script" not in t.tags and "img" not in t.tags
    assert all(not name.startswith("on") for name, _ in t.attrs)
    assert "&lt;script&gt;" in page and "<script>" not in page
    assert html.escape(HOSTILE, quote=True) in page  # the id/title, escaped (also in <title>)
    # table structure intact: every row has its three cells
    assert page.count("<tr ") == page.count('<td class="kind">')


# --- Markdown / terminal / JSON ------------------------------------------------------


def test_markdown(seed_alignment):
    md = render_markdown(seed_alignment)
    assert md.startswith("### ")
    assert "| 86% |" in md or re.search(r"\| \d+% \|", md)
    assert "**Context in the report highlights" in md
    assert "~~Security Guaranteed?~~" in md
    assert re.search(r"\*\*split\*\* — original ¶6 → rewrite ¶4, ¶5", md)
    # word changes keep their spaces
    assert "~~by the Financial Times (FT)~~." in md and "report ~~by" in md


def test_markdown_escapes_markup():
    md = render_markdown(hostile_alignment())
    assert "<script>" not in md and "<img" not in md and "&lt;script&gt;" in md


def test_terminal_plain_and_colour(seed_alignment, monkeypatch):
    plain = render_terminal(seed_alignment, color=False)
    assert "\x1b[" not in plain
    assert "{+Context in the report" in plain and "[-Security Guaranteed?-]" in plain
    coloured = render_terminal(seed_alignment, color=True)
    assert "\x1b[42;30mContext in the report" in coloured
    assert render_terminal(hostile_alignment(), color=False).count("\x1b") == 0


def test_use_color_follows_tty_and_no_color(monkeypatch):
    class Tty:
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(Tty()) is True
    import io

    assert use_color(io.StringIO()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_color(Tty()) is False


def test_json_schema(seed_alignment):
    data = json.loads(render_json(seed_alignment))
    assert data["schema_version"] == "1.0"
    assert set(data) == {"schema_version", "original", "rewrite", "summary", "blocks", "parameters"}
    for b in data["blocks"]:
        assert b["kind"] in ("identical", "reworded", "moved", "split", "merged", "added", "dropped")
        for side in ("original", "rewrite"):
            texts = ["".join(s["text"] for s in spans) for spans in b[f"{side}_spans"]]
            # spans reassemble each paragraph exactly
            assert texts == [data[side]["paragraphs"][i]["text"] for i in b[side]]
    doc = (Path(__file__).resolve().parent.parent / "docs" / "diff-json-schema.md").read_text(encoding="utf-8")
    for key in ("schema_version", "original_spans", "carried_over", "shares", "elsewhere"):
        assert key in doc


# --- cluster report --------------------------------------------------------------------


def _seed_cluster() -> Cluster:
    a, b = (Article(id=f.stem, text=f.read_text(encoding="utf-8")) for f in SEEDS[:2])
    copy = Article(id="copy-of-b", text=b.text)
    return Cluster(id=a.id, representative=a, members=(a, b, copy), versions=(Version(a), Version(b, (copy,))))


def test_cluster_report_by_hand():
    page = render_cluster_html(_seed_cluster())
    t = _tags(page)
    assert "nav" in t.tags and 'href="#v1"' in page and 'id="v1"' in page
    assert page.count('<section class="pair"') == 1  # one version besides the representative's
    assert "copy-of-b" in page  # its copy is listed
    assert "script" not in t.tags


def test_cluster_report_from_cluster_articles():
    cluster_articles = pytest.importorskip("dedup").cluster_articles
    texts = [f.read_text(encoding="utf-8") for f in SEEDS[:2]]
    result = cluster_articles([{"id": "orig", "text": texts[0]}, {"id": "rew", "text": texts[1]}])
    page = render_clusters_html(result)
    assert page.count('<section class="cluster"') == 1
    assert page.count('<section class="pair"') == 1
    assert 'href="#c1-v1"' in page and 'id="c1-v1"' in page


def test_cluster_report_escapes_hostile_ids():
    a = Article(id="<script>x</script>", text="Ministers met in Oslo to discuss cod quotas.")
    b = Article(id='"><img onerror=alert(1)>', text="Ministers met in Oslo on Monday to discuss cod quotas.", source="<b>src</b>")
    page = render_cluster_html(Cluster(id=a.id, representative=a, members=(a, b)))
    t = _tags(page)
    assert "script" not in t.tags and "img" not in t.tags
    assert "&lt;b&gt;src&lt;/b&gt;" in page and "<b>src</b>" not in page


# --- CLI -------------------------------------------------------------------------------


def _run(argv):
    from dedup.cli import main

    return main(argv)


def test_cli_diff_formats(tmp_path, capsys):
    o, r = map(str, SEEDS[:2])
    assert _run(["diff", o, r, "-o", str(tmp_path / "d.json")]) == 0
    assert json.loads((tmp_path / "d.json").read_text())["schema_version"] == "1.0"
    assert _run(["diff", o, r, "-o", str(tmp_path / "d.html")]) == 0
    assert (tmp_path / "d.html").read_text().startswith("<!DOCTYPE html>")
    assert _run(["diff", o, r, "--format", "md"]) == 0
    assert capsys.readouterr().out.startswith("### ")
    assert _run(["diff", o, r]) == 0
    out = capsys.readouterr().out
    assert "carried over" in out and "\x1b[" not in out  # captured stdout is not a terminal


def test_cli_diff_errors(tmp_path, capsys):
    assert _run(["diff", str(tmp_path / "missing.txt"), str(SEEDS[0])]) == 2
    assert "missing.txt" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert _run(["diff", str(empty), str(empty), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["blocks"] == []


def test_cli_report(tmp_path):
    out = tmp_path / "report.html"
    assert _run(["report", str(SEEDS[0].parent), "-o", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert page.count('<section class="cluster"') == 1 and "Contents" in page
