"""Regenerate ``docs/seed-report.png`` and ``docs/cluster-report.png``: the seed
pair's HTML report and an ECB+ story's cluster report, rendered headless in
the system Chromium and saved as screenshots.

    python -m dedup.report.screenshot [-o docs/seed-report.png] [--viewport-only]
    python -m dedup.report.screenshot --cluster [-o docs/cluster-report.png]

Needs Python ``playwright`` and ``/usr/bin/chromium`` (Debian's ``chromium``
package); never downloads a browser.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]


def seed_html() -> str:
    """The seed pair's report (original 000_*, rewrite 001_*)."""
    from dedup.article import Article
    from dedup.diff import diff_articles
    from dedup.report.html import render_html

    files = sorted((ROOT / "seeds").glob("*.txt"))
    if len(files) < 2:
        raise FileNotFoundError(f"need two seed files in {ROOT / 'seeds'}")
    a, b = (Article(id=f.stem, text=f.read_text(encoding="utf-8")) for f in files[:2])
    return render_html(
        diff_articles(a, b),
        title="Seed pair: what the rewrite (right) added, dropped, moved and reworded from the original (left)",
    )


def cluster_html(story: str = "1_ecbplus") -> str:
    """The cluster report of one ECB+ gold story (its first document as the representative)."""
    import json

    from dedup.article import Article, Cluster
    from dedup.report.cluster import render_cluster_html

    data = ROOT / "benchmarks" / "data" / "ecbplus" / "ecbplus_docs.jsonl"
    rows = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines()]
    docs = [Article(id=r["doc_id"], text=r["text"]) for r in rows if r["cluster_id"] == story]
    if not docs:
        raise ValueError(f"no ECB+ story {story!r} in {data}")
    return render_cluster_html(
        Cluster(id=story, representative=docs[0], members=tuple(docs)),
        title=f"ECB+ story {story}: every version against the first",
    )


def screenshot(html_text: str, out: Path, *, width: int = 1280, height: int = 900, full_page: bool = False) -> Path:
    """Render ``html_text`` in headless Chromium and write a PNG to ``out``."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        page_file = Path(tmp) / "report.html"
        page_file.write_text(html_text, encoding="utf-8")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": width, "height": height}, java_script_enabled=False)
                page.goto(page_file.as_uri())
                out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(out), full_page=full_page)
            finally:
                browser.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dedup.report.screenshot", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="default docs/seed-report.png (docs/cluster-report.png with --cluster)",
    )
    ap.add_argument(
        "--cluster",
        metavar="STORY",
        nargs="?",
        const="1_ecbplus",
        default=None,
        help="an ECB+ story's cluster report (default story 1_ecbplus)",
    )
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=900)
    ap.add_argument("--viewport-only", action="store_true", help="only the first screen, not the whole page")
    args = ap.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"error: {CHROMIUM} not found (apt-get install -y chromium)", file=sys.stderr)
        return 2
    if args.cluster:
        html_text, default = cluster_html(args.cluster), ROOT / "docs" / "cluster-report.png"
    else:
        html_text, default = seed_html(), ROOT / "docs" / "seed-report.png"
    out = screenshot(
        html_text, args.output or default, width=args.width, height=args.height, full_page=not args.viewport_only
    )
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
