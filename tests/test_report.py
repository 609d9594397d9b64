"""Renderers (HTML, Markdown, terminal, JSON), the cluster report and the CLI."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from dedup.article import Article, Cluster, Version
from dedup.diff import SCHEMA_VERSION, diff_articles
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
    # entities survive dedup.text.normalise.clean as literal "<script>" text; the id and title are raw
    orig = (
        "Ministers met in Oslo on Monday to discuss &lt;script&gt;alert(1)&lt;/script&gt; fishing "
        "quotas for <b>cod</b>.\n\nThe talks ended without agreement."
    )
    rew = (
        "Ministers met in Oslo on Monday to discuss fishing quotas for cod "
        "&lt;/td&gt;&lt;/tr&gt;&lt;img src=x onerror=alert(2)&gt;.\n\nA new round is planned for "
        "June &lt;script&gt;document.title='pwned'&lt;/script&gt;."
    )
    return diff_articles(Article(id=HOSTILE, text=orig, title=HOSTILE), Article(id='b"><script>', text=rew))


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
    # every paragraph in exactly one row: no split shown twice
    assert page.count('data-kind="added"') == 1 and page.count('data-kind="dropped"') == 3
    assert page.count('data-kind="reworded"') == 9


def test_html_marks_changes(seed_alignment):
    page = render_html(seed_alignment)
    assert '<ins class="s">Context in the report' in page
    assert re.search(r'<del class="s">Representatives from Russia, Ukraine, and the U\.S\. met for two-day talks', page)
    assert "<ins>Jan 27 -</ins>" in page  # the rewrite's dateline, which the original has not: added
    assert "carried over" in page and "legend" in page
    # the summary line on top, singular-aware
    assert '<p class="headline">1 paragraph added, 3 dropped, 9 reworded.</p>' in page


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
    assert "**1 paragraph added, 3 dropped, 9 reworded.**" in md
    # a reworded pair is one line, the changes in place, with their spaces kept
    assert "**reworded** — original ¶1 → rewrite ¶1" in md
    assert "a report ~~by the Financial Times (FT)~~**that cited eight people familiar with the discussions**." in md
    # the sentence moved to rewrite ¶4 points back to original ¶6
    assert re.search(r"repeatedly insisted [^\n]*\*\(→ original ¶6\)\*", md)


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
    assert data["schema_version"] == SCHEMA_VERSION == "2.0"
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
    b = Article(
        id='"><img onerror=alert(1)>',
        text="Ministers met in Oslo on Monday to discuss cod quotas.",
        source="<b>src</b>",
    )
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
    assert json.loads((tmp_path / "d.json").read_text())["schema_version"] == SCHEMA_VERSION == "2.0"
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


# --- issue #15: reading at a glance, one direction, safe output --------------------------


def test_summary_line_is_singular_aware():
    from dedup.report.summary import summary_line

    one = diff_articles("Alpha beta gamma delta.\n\nEpsilon zeta eta theta.", "Alpha beta gamma delta.")
    assert summary_line(one.summary) == "1 paragraph dropped; 1 identical."
    many = diff_articles(
        "Alpha beta gamma delta.", "Alpha beta gamma delta.\n\nKappa lambda mu nu.\n\nXi omicron pi rho."
    )
    assert summary_line(many.summary) == "2 paragraphs added; 1 identical."
    same = diff_articles("Alpha beta gamma delta.", "Alpha beta gamma delta.")
    assert summary_line(same.summary) == "No change: 1 paragraph identical."


def test_one_direction_original_first_everywhere(seed_alignment):
    a = seed_alignment
    assert a.original_id == SEEDS[0].stem and a.rewrite_id == SEEDS[1].stem
    arrow = f"{a.original_id} → {a.rewrite_id}"
    assert f"<title>dedup diff: {arrow}</title>" in render_html(a)
    assert render_markdown(a).startswith(f"### Diff: {arrow}".replace("_", "\\_"))
    assert render_terminal(a, color=False).startswith(arrow)
    # the original is the left column
    assert re.search(r"<th>Original</th><th>Rewrite</th>", render_html(a))


def test_reworded_pair_is_inline_not_solid_blocks(seed_alignment):
    (first,) = [b for b in seed_alignment.blocks if b.original == (0,)]
    marks = [s.mark for s in first.inline]
    assert "deleted" in marks and "inserted" in marks and "equal" in marks
    # unchanged words stay plain between the changes: no sentence-long red then green
    kept = " ".join(s.text for s in first.inline if s.mark == "equal")
    assert "security guarantees" in kept and "Donbas region to Russia" in kept
    page = render_html(seed_alignment)
    assert re.search(r"<del>[^<]*</del><ins>[^<]*</ins>security guarantees", page.replace("\u2019", "'"))


# --- article text cannot imitate the plain marks ---------------------------------------------

FAKE_MARKS = "The minister said [-not deleted-] and {+not inserted+} (-> rewrite ¶9) on DAY. He left."


def test_plain_terminal_text_cannot_imitate_a_change():
    # "[-not deleted-]" in the article read as a deletion: a reader could not
    # tell the text's own marks from the renderer's
    d = diff_articles(
        Article(id="a[-b-]", text=FAKE_MARKS.replace("DAY", "Monday")),
        Article(id="r", text=FAKE_MARKS.replace("DAY", "Tuesday")),
    )
    plain = render_terminal(d, color=False)
    (line,) = [ln for ln in plain.splitlines() if ln.startswith("  ¶1 -> ¶1: ")]
    assert line == (
        "  ¶1 -> ¶1: The minister said [\\-not deleted-\\] and {\\+not inserted+\\} (-\\> rewrite ¶9) "
        "on [-Monday-]{+Tuesday+}. He left."
    )
    assert plain.startswith("a[\\-b-\\] → r\n")
    assert [plain.count(m) for m in ("[-", "-]", "{+", "+}", "(->")] == [1, 1, 1, 1, 0]  # the change, once
    # colour marks changes by colour: only the note mark "(->" is the text's own there
    coloured = render_terminal(d, color=True)
    assert "said [-not deleted-] and {+not inserted+} (-\\> rewrite ¶9) on \x1b[31;9mMonday" in coloured
    # the plain report says what the backslashes are
    from dedup.report.terminal import ESCAPE_NOTE

    assert plain.splitlines()[3] == ESCAPE_NOTE and ESCAPE_NOTE not in coloured
    # a report with nothing to escape has no note
    assert ESCAPE_NOTE not in render_terminal(diff_articles("Alpha beta.", "Alpha gamma."), color=False)


_PLAIN_MARK = re.compile(r"\[-|-\]|\{\+|\+\}|\(->")
_OPEN_CLOSE = {"deleted": ("[-", "-]"), "dropped": ("[-", "-]"), "inserted": ("{+", "+}"), "added": ("{+", "+}")}


def test_plain_terminal_every_mark_is_the_renderers():
    # any text, next to any mark: the marks a reader finds, left to right, are the
    # renderer's, and the text is all there (with backslashes added)
    import dataclasses
    import random

    from dedup.diff import Block, Span

    rng = random.Random(7)
    base = diff_articles("Alpha beta gamma.", "Alpha beta delta.")
    marks = ["equal", "deleted", "inserted", "dropped", "added", "elsewhere", "dateline"]
    for _ in range(400):
        spans = tuple(
            Span("".join(rng.choice("[]{}-+(>\\ a") for _ in range(rng.randint(1, 6))), m, "original ¶2")
            for m in rng.choices(marks, k=rng.randint(1, 5))
        )
        block = Block("reworded", (0,), (0,), 0.5, changed=True, inline=spans)
        out = render_terminal(dataclasses.replace(base, blocks=(block,)), color=False)
        (line,) = [ln[len("  ¶1 -> ¶1: ") :] for ln in out.splitlines() if ln.startswith("  ¶1 -> ¶1: ")]
        want: list[str] = []
        plain = ""
        for sp in spans:
            opener, closer = _OPEN_CLOSE.get(sp.mark, ("", ""))
            want += [m for m in (opener, closer) if m] + (["(->"] if sp.mark == "elsewhere" else [])
            if sp.mark == "elsewhere":  # the pointer goes before the sentence's trailing space
                text = sp.text.rstrip()
                plain += text + " (-> original ¶2)" + sp.text[len(text) :]
            else:
                plain += opener + sp.text + closer
        assert [m.group() for m in _PLAIN_MARK.finditer(line)] == want, (spans, line)
        assert line.replace("\\", "") == plain.replace("\\", ""), (spans, line)


def test_markdown_text_cannot_imitate_a_change():
    # Markdown marks changes with ~~ and **, which md_escape escapes in the text
    d = diff_articles(
        "The minister said ~~not deleted~~ and **not inserted** on Monday. He left.",
        "The minister said ~~not deleted~~ and **not inserted** on Tuesday. He left.",
    )
    md = render_markdown(d)
    assert "said \\~\\~not deleted\\~\\~ and \\*\\*not inserted\\*\\* on ~~Monday~~**Tuesday**." in md


def test_terminal_drops_c1_and_bidi_controls():
    evil = "Ministers met in Oslo \x1b[31mred\x1b[0m and \x9b31m csi \u202egnitirw\u202c on cod\u2028quotas\u2029."
    d = diff_articles("Ministers met in Oslo to discuss cod quotas.", evil)
    for color in (False, True):
        out = render_terminal(d, color=color)
        assert not any(c in out for c in "\x9b\u202e\u202c\u2028\u2029")
        assert all(ch in "\n" or (ch >= " " and ch != "\x7f") or ch == "\x1b" for ch in out)
        assert out.count("\x1b") == (0 if not color else out.count("\x1b["))
    assert "\x1b" not in render_terminal(d, color=False)


def test_diff_articles_from_dedup_renders_and_diff_never_imports_report():
    import ast

    import dedup
    from dedup.diff import Alignment

    d = dedup.diff_articles("Alpha beta gamma delta.", "Alpha beta gamma delta epsilon.")
    assert isinstance(d, Alignment) and d.to_html().startswith("<!DOCTYPE html>")
    assert d.to_markdown().startswith("### ") and "\x1b" not in d.to_text()
    assert json.loads(d.to_json())["schema_version"] == SCHEMA_VERSION == "2.0"
    for f in (Path(dedup.__file__).parent / "diff").glob("*.py"):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [n.name for n in node.names]
                assert not any("report" in n for n in names), f"{f.name} imports {names}"


def _story(n_versions: int) -> Cluster:
    rep_paras = [
        f"Paragraph {k} of the original report on the Oslo fishing talks, with quotas for cod and haddock item{k}."
        for k in range(30)
    ]
    rep = Article(id="rep", text="\n\n".join(rep_paras))
    versions = [
        Article(
            id=f"v{k}",
            text="\n\n".join(rep_paras[: 25 + k % 5] + [f"A new closing paragraph number {k} on the talks in Oslo."]),
        )
        for k in range(n_versions)
    ]
    return Cluster(id="rep", representative=rep, members=(rep, *versions))


def test_cluster_page_grows_with_new_text_not_with_the_original():
    small, big = render_cluster_html(_story(2)), render_cluster_html(_story(12))
    per_version = (len(big) - len(small)) / 10
    rep_len = len(_story(1).representative.text)
    assert per_version < rep_len / 2  # each version adds its own few lines, not the representative again
    assert big.count("Paragraph 7 of the original report") == 1  # the representative's text once
    # the contents name articles by their text, not bare ids
    assert "A new closing paragraph" not in big.split("<nav", 1)[1].split("</nav>", 1)[0]
    assert "Paragraph 0 of the original report" in big.split("<nav", 1)[1].split("</nav>", 1)[0]


def test_cluster_contents_use_titles_and_headlines():
    a = Article(id="a1", text="Fishing Talks End\n\nMinisters met in Oslo to discuss cod quotas on Monday.")
    b = Article(id="b2", text="Ministers met in Oslo on Monday to discuss cod quotas.", title="Oslo talks: no deal")
    page = render_cluster_html(Cluster(id="a1", representative=a, members=(a, b)))
    toc = page.split("<nav", 1)[1].split("</nav>", 1)[0]
    assert "Oslo talks: no deal" in toc and "(b2)" in toc
    assert "Fishing Talks End" in page.split("<h1>", 1)[1].split("</h1>", 1)[0]


# --- a split or merge out of order is shown as moved ------------------------------------------

_P1 = "The central bank raised interest rates by half a point on Thursday."
_P2 = "Markets fell sharply after the announcement in early trading."
_P3A = "Inflation reached its highest level in four decades last month."
_P3B = "Economists expect further increases before the end of the year."
_P4 = "The government said it would publish a new budget plan next week."
_P5 = "Opposition leaders called for an emergency debate in parliament."


def _moved_split():
    """A split moved to the top, and a plain moved pair: two moves counted."""
    original = "\n\n".join([_P1, _P2, f"{_P3A} {_P3B}", _P4, _P5])
    return diff_articles(original, "\n\n".join([_P3A, _P3B, _P1, _P2, _P5, _P4]))


def test_moved_split_and_merge_are_labelled_moved_in_every_format():
    d = _moved_split()
    assert d.summary.moved == 2 and d.summary.split == 1
    assert [(b.kind, b.moved) for b in d.moved] == [("split", True), ("moved", True)]
    text = render_terminal(d, color=False)
    assert "SPLIT + MOVED  original ¶3 -> rewrite ¶1,2" in text
    assert "\x1b[33;1mSPLIT + MOVED  original ¶3" in render_terminal(d, color=True)
    assert "- **split · moved** — original ¶3 → rewrite ¶1, ¶2" in render_markdown(d)
    page = render_html(d)
    assert '<tr class="block k-split moved"' in page
    assert '<span class="badge">split in 2</span><span class="badge moved">moved</span>' in page
    merge = diff_articles("\n\n".join([_P3A, _P3B, _P1, _P2]), "\n\n".join([_P1, _P2, f"{_P3A} {_P3B}"]))
    assert [(b.kind, b.moved) for b in merge.moved] == [("merged", True)] and merge.summary.moved == 1
    assert "MERGED + MOVED  original ¶1,2 -> rewrite ¶3" in render_terminal(merge, color=False)
    assert "- **merged · moved** — original ¶1, ¶2 → rewrite ¶3" in render_markdown(merge)
    assert '<span class="badge">2 merged</span><span class="badge moved">moved</span>' in render_html(merge)


def test_every_counted_move_is_visible_in_every_format():
    from dedup.report.html import render_alignment_section

    for d in (_moved_split(), diff_articles("\n\n".join([_P1, _P2, f"{_P3A} {_P3B}"]), f"{_P3A}\n\n{_P3B}\n\n{_P1}")):
        n = d.summary.moved
        assert n == len(d.moved) > 0
        heads = [ln for ln in render_terminal(d, color=False).splitlines() if "original ¶" in ln]
        assert sum("MOVED" in h for h in heads) == n
        titles = [ln for ln in render_markdown(d).splitlines() if ln.startswith("- **")]
        assert sum("moved" in t.split("**")[1] for t in titles) == n
        for page in (render_html(d), render_alignment_section(d, original_anchor="o")):
            rows = re.findall(r'<tr class="block [^"]*"[^>]*><td class="kind">.*?</td>', page)
            assert sum(">moved" in r for r in rows) == n  # a badge that says so
            assert sum(' moved"' in r for r in rows) == n  # and the row's class


# --- dedup diff: the same diff in every format; terminal-safe output --------------------------


def _cli_out(argv, capsys) -> str:
    assert _run(argv) == 0
    return capsys.readouterr().out


def test_cli_diff_crlf_and_cr_files_are_the_same_diff_in_every_format(tmp_path, capsys):
    lf = "The minister announced the budget today.\n\nTeachers welcomed the increase in funding.\n"
    r = tmp_path / "lf.txt"
    r.write_bytes(lf.encode())
    for ending in ("\r\n", "\r"):
        o = tmp_path / "other.txt"
        o.write_bytes(lf.replace("\n", ending).encode())
        args = ["diff", str(o), str(r)]
        want = "No change: 2 paragraphs identical."
        assert _cli_out(args, capsys).splitlines()[1] == want
        assert f"**{want}**" in _cli_out([*args, "--format", "md"], capsys)
        assert f'<p class="headline">{want}</p>' in _cli_out([*args, "--format", "html"], capsys)
        s = json.loads(_cli_out([*args, "--format", "json"], capsys))["summary"]
        assert (s["identical"], s["added"], s["dropped"]) == (2, 0, 0)


_EVIL = "\x1b[31m \x1b]0;x\x07 \r \x9b2J \u202egnitirw\u202c"


def _evil_pair(tmp_path):
    body = "The minister announced the budget today.\r\n\r\nTeachers welcomed the increase in funding."
    o, r = tmp_path / "o.jsonl", tmp_path / "r.jsonl"
    o.write_text(json.dumps({"id": "a" + _EVIL, "title": "T" + _EVIL, "text": body}) + "\n", encoding="utf-8")
    rew = body.replace("today.", f"today. Unions {_EVIL} were pleased.") + "\r\n\r\nA new closing line" + _EVIL
    r.write_text(json.dumps({"id": "b" + _EVIL, "text": rew}) + "\n", encoding="utf-8")
    return str(o), str(r)


def _controls(text: str) -> set[str]:
    import unicodedata

    return {ch for ch in text if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf")}


def test_cli_diff_output_has_no_control_characters_from_the_data(tmp_path, capsys, monkeypatch):
    from dedup.report.terminal import _RESET, _STYLE

    o, r = _evil_pair(tmp_path)
    plain = _cli_out(["diff", o, r], capsys)
    assert not _controls(plain)
    md = _cli_out(["diff", o, r, "--format", "md"], capsys)
    assert not _controls(md) and "T\\\\x1b\\[31m \\\\x1b\\]0;x\\\\x07" in md  # shown escaped
    monkeypatch.setattr("dedup.report.use_color", lambda stream: True)  # as the diff command imports it
    coloured = _cli_out(["diff", o, r], capsys)
    for seq in (*_STYLE.values(), _RESET):  # the renderer's own styles, nothing else
        coloured = coloured.replace(seq, "")
    assert not _controls(coloured)
    # and one diff whatever the format: the texts are not escaped before diffing
    s = json.loads(_cli_out(["diff", o, r, "--format", "json"], capsys))["summary"]
    assert (s["identical"], s["reworded"], s["added"]) == (1, 1, 1)
    assert "1 paragraph added, 1 reworded; 1 identical." in plain
    assert "**1 paragraph added, 1 reworded; 1 identical.**" in md


def test_markdown_shows_control_characters_of_ids_and_titles_escaped():
    d = diff_articles(
        Article(id="a" + _EVIL, title="T" + _EVIL, text="Ministers met in Oslo to discuss cod quotas."),
        Article(id="b\x1b[2J", text="Ministers met in Oslo on Monday to discuss cod quotas."),
    )
    md = render_markdown(d)
    assert not _controls(md)
    assert "b\\\\x1b\\[2J" in md and "\\\\u202egnitirw\\\\u202c" in md


# ==========================================================================================================
# Control and bidi characters of the data in HTML and JSON (ids, titles, texts): shown as visible escapes
# in HTML, written as \u escapes in JSON (the same strings back). Added with the CLI/io safety fixes.
# ==========================================================================================================

_SPOOF = "\x1b[31m \x9b2J \x7f \x00 \u202efdp.exe\u202c \u200f1\u200e \u2066x\u2069 \u061c"
_SPOOF_CHARS = set("\x1b\x9b\x7f\x00\u202e\u202c\u200f\u200e\u2066\u2069\u061c")


def _spoof_pair():
    body = "Ministers met in Oslo to discuss cod quotas.\r\n\r\nThe talks ended without agreement."
    a = Article(id="a" + _SPOOF, title="T" + _SPOOF, text=body)
    b = Article(id="b" + _SPOOF, text=body.replace("quotas.", f"quotas {_SPOOF} today.") + "\n\nNew line" + _SPOOF)
    return a, b


def _raw_controls(page: str) -> set[str]:
    return {ch for ch in page if ch in _SPOOF_CHARS or (ord(ch) < 0x20 and ch not in "\n\t")}


def test_html_shows_control_and_bidi_characters_of_the_data_as_escapes():
    a, b = _spoof_pair()
    for page in (
        render_html(diff_articles(a, b)),
        render_cluster_html(Cluster(id=a.id, representative=a, members=(a, b))),
    ):
        assert not _raw_controls(page), _raw_controls(page)
        text = html.unescape(re.sub("<[^>]+>", "", page))
        assert "a\\x1b[31m \\x9b2J \\x7f \\x00 \\u202efdp.exe\\u202c \\u200f1\\u200e \\u2066x\\u2069 \\u061c" in text
        assert "T\\x1b[31m" in text and "New line" in text  # (the diff's paragraphs drop C0/C1 controls themselves)
        assert re.search(r"quotas [^.]*\\u202efdp\.exe\\u202c \\u200f1\\u200e \\u2066x\\u2069 \\u061c today", text)
        assert "\r" not in page  # a carriage return is the newline HTML reads it as


def test_html_isolates_the_ids_and_titles_set_in_a_sentence():
    a, b = _spoof_pair()
    page = render_html(diff_articles(a, b))
    assert re.search(r"Original \(left\): <b><bdi>T\\x1b\[31m[^<]*</bdi></b>", page)
    assert re.search(r"rewrite \(right\): <b><bdi>b\\x1b\[31m[^<]*</bdi></b>", page)


def test_json_report_escapes_control_and_bidi_characters_and_round_trips():
    a, b = _spoof_pair()
    al = diff_articles(a, b)
    text = render_json(al)
    assert not _raw_controls(text) and "\\u202e" in text and "\\u009b" in text
    assert json.loads(text) == json.loads(json.dumps(al.to_dict()))  # the very same data
    assert "é" in render_json(diff_articles("Café au lait served.", "Café au lait served again."))
