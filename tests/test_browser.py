"""The HTML report in a real browser (Debian's /usr/bin/chromium via Python playwright).

Skipped only when /usr/bin/chromium is absent. Never downloads a browser.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dedup.article import Article
from dedup.diff import diff_articles
from dedup.report import render_html
from dedup.report.screenshot import CHROMIUM, CHROMIUM_ARGS, cluster_html, seed_html

pytestmark = pytest.mark.browser

SEEDS = sorted((Path(__file__).resolve().parent.parent / "seeds").glob("*.txt"))


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def _open(browser, tmp_path: Path, page_html: str, name: str, *, js: bool = True):
    f = tmp_path / name
    f.write_text(page_html, encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 900}, java_script_enabled=js)
    events: list[str] = []
    page.on("dialog", lambda d: (events.append(f"dialog:{d.message}"), d.dismiss()))
    page.on("request", lambda r: events.append(f"request:{r.url}") if not r.url.startswith("file:") else None)
    page.goto(f.as_uri())
    return page, events


def test_seed_report_dom_and_screenshot(browser, tmp_path):
    a, b = (Article(id=f.stem, text=f.read_text(encoding="utf-8")) for f in SEEDS[:2])
    al = diff_articles(a, b)
    page, events = _open(browser, tmp_path, seed_html(), "seed.html")
    try:
        rows = page.locator("table.diff tbody tr.block")
        assert rows.count() == len(al.blocks)
        # every row is aligned: a change cell and one cell per side
        assert page.evaluate("[...document.querySelectorAll('tbody tr.block')].every(r => r.cells.length === 3)")
        # original ¶6 regrouped: its pair is rewrite ¶5, its first sentence is in rewrite ¶4 (marked elsewhere)
        split = page.locator('tr[data-kind="reworded"][data-original="6"]')
        assert split.count() == 1 and split.get_attribute("data-rewrite") == "5"
        r4 = page.locator('tr[data-kind="reworded"][data-rewrite="4"]')
        assert "Zelenskiy has repeatedly insisted" in r4.locator("td.rewrite .elsewhere").inner_text()
        # the summary line on top
        assert page.locator("p.headline").first.inner_text() == "1 paragraph added, 3 dropped, 9 reworded."
        added = page.locator('tr[data-kind="added"] td.rewrite ins.s')
        assert added.first.inner_text().startswith("Context in the report")
        dropped = page.locator('tr[data-kind="dropped"] td.original').all_inner_texts()
        assert any("Security Guaranteed?" in t for t in dropped) and any(
            "With inputs from Reuters" in t for t in dropped
        )
        assert any("two-day talks" in t for t in page.locator('tr[data-original="5"] del.s').all_inner_texts())
        # word changes are inline in the rewrite column, visibly styled
        assert page.locator("td.rewrite.inline del").count() > 0 and page.locator("td.rewrite.inline ins").count() > 0
        bg_ins = page.evaluate("getComputedStyle(document.querySelector('td.inline ins:not(.s)')).backgroundColor")
        bg_del = page.evaluate("getComputedStyle(document.querySelector('td.inline del:not(.s)')).backgroundColor")
        assert bg_ins not in ("rgba(0, 0, 0, 0)", "transparent") and bg_ins != bg_del
        # columns are side by side: the rewrite cell starts right of the original cell in the same row
        box_o = split.locator("td.original").bounding_box()
        box_r = split.locator("td.rewrite").bounding_box()
        assert box_r["x"] >= box_o["x"] + box_o["width"] - 1 and abs(box_r["y"] - box_o["y"]) < 1
        assert page.locator("ul.legend li").count() >= 6 and "carried over" in page.locator("ul.summary").inner_text()
        shot = tmp_path / "seed-report.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
        # print layout keeps rows whole
        page.emulate_media(media="print")
        assert page.evaluate("getComputedStyle(document.querySelector('tr.block')).breakInside") == "avoid"
        assert events == []  # no dialogs, no network requests
    finally:
        page.close()


HOSTILE_ORIG = (
    "Ministers met in <b>Oslo</b> on Monday <script>window.__pwned=5</script> to discuss "
    "&lt;script&gt;window.__pwned=1;alert(1)&lt;/script&gt; fishing quotas.\n\n"
    "The talks ended &lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;h1 id=injected&gt;broken&lt;/h1&gt; "
    "without agreement."
)
HOSTILE_REW = (
    "Ministers met in <i>Oslo</i> on Monday to discuss fishing quotas "
    '&lt;img src=x onerror="window.__pwned=2"&gt;.\n\n'
    "A new round is planned for June &lt;script&gt;document.title='pwned'&lt;/script&gt;.\n\n"
    'Officials said "&lt;/p&gt;&lt;/td&gt;&lt;td&gt;extra cell" in a statement '
    "&lt;style&gt;body{display:none}&lt;/style&gt;."
)
HOSTILE_ID = '<script>window.__pwned=3</script>"><img src=x onerror=window.__pwned=4>'


@pytest.mark.parametrize("keep_csp", [True, False], ids=["with-csp", "escaping-alone"])
def test_hostile_text_neither_executes_nor_alters_structure(browser, tmp_path, keep_csp):
    al = diff_articles(
        Article(id=HOSTILE_ID, text=HOSTILE_ORIG, title=HOSTILE_ID), Article(id="rewrite", text=HOSTILE_REW)
    )
    page_html = render_html(al)
    if not keep_csp:  # prove the escaping alone is enough, without the CSP's second line of defence
        page_html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page_html)
        assert "Content-Security-Policy" not in page_html
    page, events = _open(browser, tmp_path, page_html, f"hostile-{keep_csp}.html", js=True)
    try:
        assert page.evaluate("window.__pwned") is None
        assert page.title() != "pwned" and page.title().startswith("dedup diff:")
        assert HOSTILE_ID in page.title()  # the id shows as text
        assert page.locator("script").count() == 0
        assert page.locator("img").count() == 0
        assert page.locator("#injected").count() == 0
        assert page.locator("body style").count() == 0 and page.locator("body").is_visible()
        assert page.locator("table.diff").count() == 1
        assert page.locator("table.diff tbody tr.block").count() == len(al.blocks)
        assert page.evaluate("[...document.querySelectorAll('tbody tr')].every(r => r.cells.length === 3)")
        text = page.locator("table.diff").inner_text()
        assert "<script>" in text and "onerror" in text  # shown as text, not run
        assert events == []
    finally:
        page.close()


def test_ecb_cluster_report_links_resolve_and_reads_compactly(browser, tmp_path):
    page_html = cluster_html("1_ecbplus")
    page, events = _open(browser, tmp_path, page_html, "cluster.html", js=False)
    try:
        toc = page.locator("nav.toc li a")
        assert toc.count() == 20  # 21 articles, the representative's own diff left out
        assert all(not t.strip().startswith("1_") for t in toc.all_inner_texts())  # headlines, not bare ids
        # every in-page link points at an element that exists
        links = "[...document.querySelectorAll('a[href^=\"#\"]')]"
        hrefs = page.evaluate(links + ".map(a => a.getAttribute('href').slice(1))")
        assert hrefs and page.evaluate("ids => ids.every(i => document.getElementById(i) !== null)", hrefs)
        # the representative's text is there once, folded away; the rows are three cells wide
        assert page.locator("details.text").count() == 1 and not page.locator("details.text").get_attribute("open")
        assert page.evaluate("[...document.querySelectorAll('tbody tr')].every(r => r.cells.length === 3)")
        assert page.locator("p.headline").count() == 20
        assert events == []
    finally:
        page.close()
