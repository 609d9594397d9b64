"""Self-contained HTML report of an :class:`~dedup.diff.Alignment`.

One file: inline CSS, no scripts, no external resources (a Content-Security-
Policy meta tag forbids them, as a second line of defence), readable when
printed. Two aligned columns, one table row per block. Every piece of
article text -- and ids and titles, which come from input too -- goes through
``html.escape(..., quote=True)``, in element text and in attributes alike.

Characters that act on the display instead of showing never reach the page
raw: the C0 controls but tab and newline, DEL, the C1 controls, and the
bidirectional marks, embeddings, overrides and isolates (U+061C, U+200E,
U+200F, U+202A-U+202E, U+2066-U+2069) are shown as visible escapes
(``\\x1b``, ``\\u202e``), as the terminal and Markdown reports show
control characters. A right-to-left override in an id, title or text would
otherwise make the page read differently from the data (``a\\u202efdp.exe``
displayed as ``aexe.pdf``; the figures or words of a diff displayed in
another order than they have). A carriage return is
written as the newline the HTML parser reads it as. Ids and titles set in a
sentence are isolated (``<bdi>``), so that a right-to-left title does not
reorder the words around it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from dedup.diff import Alignment, Block, Paragraph, Span
from dedup.diff.blocks import consecutive_runs

from .summary import direction, side_name, summary_line

__all__ = [
    "CSS",
    "INLINE_MIN_SIMILARITY",
    "render_html",
    "render_alignment_section",
    "legend_html",
    "page",
    "esc",
    "esc_text",
    "visible",
]


#: shown as escapes, never raw: C0 controls but tab and newline (a carriage return
#: is a newline to HTML), DEL, C1 controls, and the bidirectional formatting characters
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible_escape(m: re.Match[str]) -> str:
    """``\\x1b`` for a character below U+0100, ``\\u202e`` above (as :func:`dedup.cli.args.safe` writes them)."""
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def visible(value: str) -> str:
    """``value`` with the characters that act on the display shown as escapes
    (``\\x1b``, ``\\u202e``), carriage returns as the newlines HTML reads them as."""
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _INVISIBLE.sub(_visible_escape, value)


def esc(value: object) -> str:
    """Escape for element text and attribute values alike (controls and bidi characters shown, :func:`visible`)."""
    return html.escape(visible(str(value)), quote=True)


def esc_text(value: str) -> str:
    """Escape article text for element content (``<``, ``>``, ``&``; quotes need
    no escape outside attributes, and news text is full of them; controls and
    bidi characters shown, :func:`visible`)."""
    return html.escape(visible(value), quote=False)


CSS = """
:root { --add: #d8f5dd; --add-ink: #0b5d1e; --del: #fde2e1; --del-ink: #8a1c13;
  --chg-add: #a6e9b4; --chg-del: #f7b9b4; --move: #fff1c2; --move-ink: #7a5900;
  --else: #e4ecfb; --else-ink: #1e3f8a; --ink: #1d1d1f; --muted: #5f6368; --rule: #d5d7db; }
* { box-sizing: border-box; }
body { font: 15px/1.5 Georgia, "Times New Roman", serif; color: var(--ink); margin: 0 auto;
  padding: 1.2rem 1.5rem 3rem; max-width: 1280px; background: #fff; }
h1, h2, h3, .meta, .legend, .summary, th, .badge, .num, .toc { font-family: system-ui, -apple-system, "Segoe UI",
  Roboto, Arial, sans-serif; }
h1 { font-size: 1.45rem; margin: 0 0 .3rem; } h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; }
.meta { color: var(--muted); font-size: .85rem; margin-bottom: .8rem; }
.summary { display: flex; flex-wrap: wrap; gap: .5rem; margin: .6rem 0; padding: 0; list-style: none; }
.summary li { border: 1px solid var(--rule); border-radius: 6px; padding: .3rem .6rem; font-size: .85rem; }
.summary b { font-size: 1.05rem; }
.legend { display: flex; flex-wrap: wrap; gap: .4rem 1rem; font-size: .8rem; color: var(--muted);
  margin: .4rem 0 1rem; padding: 0; list-style: none; }
.legend li { display: flex; align-items: center; gap: .35rem; }
table.diff { width: 100%; border-collapse: collapse; table-layout: fixed; }
table.diff th { text-align: left; font-size: .85rem; color: var(--muted); border-bottom: 2px solid var(--rule);
  padding: .3rem .5rem; }
table.diff th.kind, table.diff td.kind { width: 7.5rem; }
table.diff td { vertical-align: top; padding: .45rem .6rem; border-bottom: 1px solid var(--rule); }
tr.block { break-inside: avoid; page-break-inside: avoid; }
td.side p { margin: 0 0 .5rem; } td.side p:last-child { margin-bottom: 0; }
td.empty { color: var(--muted); text-align: center; font-style: italic;
  background: repeating-linear-gradient(135deg, #fafafa, #fafafa 6px, #f1f1f1 6px, #f1f1f1 12px); }
.num, b.n { display: inline-block; min-width: 2.2em; color: var(--muted); font-size: .75rem; font-weight: 600; }
.role { font-family: system-ui, Arial, sans-serif; font-size: .7rem; text-transform: uppercase;
  letter-spacing: .04em; color: var(--muted); border: 1px solid var(--rule); border-radius: 3px; padding: 0 .25rem;
  margin-right: .3rem; }
.badge { display: inline-block; font-size: .75rem; font-weight: 600; border-radius: 4px; padding: .05rem .4rem;
  border: 1px solid transparent; }
.sim { display: block; font-family: system-ui, Arial, sans-serif; font-size: .72rem; color: var(--muted);
  margin-top: .2rem; }
.k-identical .badge { background: #eef0f2; color: #3c4043; }
.k-reworded .badge { background: #eef0f2; color: #3c4043; border-color: #9aa0a6; }
.k-moved .badge { background: var(--move); color: var(--move-ink); border-color: #e0b300; }
.k-split .badge, .k-merged .badge { background: var(--else); color: var(--else-ink); border-color: #7d9bdc; }
.badge.moved { background: var(--move); color: var(--move-ink); border-color: #e0b300; margin-left: .25rem; }
.k-added .badge { background: var(--add); color: var(--add-ink); border-color: #56b46c; }
.k-dropped .badge { background: var(--del); color: var(--del-ink); border-color: #e0746b; }
tr.k-added td.side.rewrite { background: #f3fbf4; border-left: 4px solid #56b46c; }
tr.k-dropped td.side.original { background: #fdf3f2; border-left: 4px solid #e0746b; }
tr.k-moved td.kind { border-left: 4px solid #e0b300; }
tr.k-split td.kind, tr.k-merged td.kind { border-left: 4px solid #7d9bdc; }
ins, del { text-decoration: none; border-radius: 2px; padding: 0 .05em; }
ins { background: var(--chg-add); text-decoration: underline; text-decoration-color: #2e8b47; }
del { background: var(--chg-del); text-decoration: line-through; text-decoration-color: #b3261e; }
ins.s { background: var(--add); color: var(--add-ink); border-bottom: 2px solid #56b46c; }
del.s { background: var(--del); color: var(--del-ink); text-decoration: line-through; }
.elsewhere { background: var(--else); color: var(--else-ink); border-bottom: 1px dashed #7d9bdc; }
.dateline { font-variant: small-caps; font-weight: 600; border: 1px solid var(--rule); border-radius: 3px;
  padding: 0 .2rem; }
.ref { font-family: system-ui, Arial, sans-serif; font-size: .7rem; color: var(--else-ink); }
.swatch { display: inline-block; min-width: 2.2em; text-align: center; font-size: .75rem; }
nav.toc ol { padding-left: 1.4rem; } nav.toc { border: 1px solid var(--rule); border-radius: 6px;
  padding: .5rem 1rem; margin: 1rem 0; }
section.pair { margin-top: 2rem; }
p.headline { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; font-size: 1.05rem;
  font-weight: 600; margin: .4rem 0; }
tr.k-same td { color: var(--muted); font-size: .85rem; font-family: system-ui, Arial, sans-serif;
  padding: .2rem .6rem; }
.excerpt { color: var(--muted); } a.pref { color: var(--del-ink); }
details.text { border: 1px solid var(--rule); border-radius: 6px; padding: .3rem .8rem; margin: .6rem 0; }
details.text summary { font-family: system-ui, Arial, sans-serif; font-size: .9rem; cursor: pointer; }
details.text p { margin: .3rem 0; }
@media print {
  body { font-size: 10.5pt; max-width: none; padding: 0; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  table.diff th.kind, table.diff td.kind { width: 5.5rem; }
  section.pair { break-before: page; } section.pair:first-of-type { break-before: auto; }
  thead { display: table-header-group; }
  a { color: inherit; text-decoration: none; }
}
"""

#: On a page that shows the original once, a pair less similar than this shows the
#: rewrite with its new words marked instead of every deletion in place (a loose
#: retelling would repeat most of the original's words, struck through).
INLINE_MIN_SIMILARITY = 0.5

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

_LEGEND = (
    ('<ins class="swatch">word</ins>', "words inserted"),
    ('<del class="swatch">word</del>', "words deleted (shown in place in the rewrite column)"),
    ('<ins class="s swatch">sentence</ins>', "sentence added"),
    ('<del class="s swatch">sentence</del>', "sentence dropped"),
    ('<span class="elsewhere swatch">sentence</span>', "counterpart in another row or place"),
    (
        '<span class="badge k-moved" style="background:#fff1c2;color:#7a5900;border-color:#e0b300">moved</span>',
        "out of the original's order",
    ),
    (
        '<span class="badge" style="background:#e4ecfb;color:#1e3f8a;border-color:#7d9bdc">split / merged</span>',
        "one paragraph ↔ adjacent paragraphs",
    ),
    ('<span class="dateline swatch">dateline</span>', "dateline"),
)


def _span_html(span: Span, side: str) -> str:
    text = esc_text(span.text)
    m = span.mark
    if m == "equal":
        return text
    if m == "deleted":
        return f"<del>{text}</del>"
    if m == "inserted":
        return f"<ins>{text}</ins>"
    if m == "changed":
        return f"<del>{text}</del>" if side == "original" else f"<ins>{text}</ins>"
    if m == "dropped":
        return f'<del class="s">{text}</del>'
    if m == "added":
        return f'<ins class="s">{text}</ins>'
    if m == "elsewhere":
        return f'<span class="elsewhere">{text}</span> <span class="ref">→ {esc(span.ref or "")}</span>'
    if m == "dateline":
        return f'<span class="dateline">{text}</span>'
    return text


def _para_html(p: Paragraph, spans: Sequence[Span], side: str, block: Block, anchor: str = "") -> str:
    role = f'<span class="role">{esc(p.kind)}</span>' if p.kind != "body" else ""
    if p.kind != "body" and block.kind in ("added", "dropped"):
        body = (
            f'<ins class="s">{esc_text(p.text)}</ins>'
            if side == "rewrite"
            else f'<del class="s">{esc_text(p.text)}</del>'
        )
    elif p.kind != "body" and block.changed:
        body = f"<ins>{esc_text(p.text)}</ins>" if side == "rewrite" else f"<del>{esc_text(p.text)}</del>"
    else:
        body = "".join(_span_html(s, side) for s in spans)
    num = (
        f'<a class="num" href="#{esc(anchor)}{p.number}">¶{p.number}</a>'
        if anchor
        else f'<span class="num">¶{p.number}</span>'
    )
    return f"<p>{num}{role}{body}</p>"


def _side_html(a: Alignment, block: Block, side: str, anchor: str = "", compact: bool = False) -> str:
    idx = block.original if side == "original" else block.rewrite
    if not idx:
        label = "not in the original" if side == "original" else "not in the rewrite"
        return f'<td class="side {side} empty">{label}</td>'
    paras = a.original if side == "original" else a.rewrite
    if side == "rewrite" and block.inline and (not compact or block.similarity >= INLINE_MIN_SIMILARITY):
        # a reworded pair: the rewrite with the changes in place
        return f'<td class="side {side} inline">{_para_html(paras[idx[0]], block.inline, side, block)}</td>'
    if side == "original" and block.inline and anchor:  # the text is on the page already
        return f'<td class="side original">¶<a href="#{esc(anchor)}{idx[0] + 1}">{idx[0] + 1}</a></td>'
    spans = block.original_spans if side == "original" else block.rewrite_spans
    link = anchor if side == "original" else ""
    inner = "".join(
        _para_html(paras[i], spans[k] if k < len(spans) else (), side, block, link) for k, i in enumerate(idx)
    )
    return f'<td class="side {side}">{inner}</td>'


def _kind_label(block: Block) -> str:
    if block.kind == "moved":
        return "moved" + (" · reworded" if block.changed else "")
    if block.kind == "split":
        return f"split in {len(block.rewrite)}"
    if block.kind == "merged":
        return f"{len(block.original)} merged"
    return block.kind


def _row(a: Alignment, block: Block, anchor: str = "") -> str:
    sim = (
        f'<span class="sim">similarity {block.similarity:.2f}</span>'
        if block.original and block.rewrite and block.changed
        else ""
    )
    role = f'<span class="sim">{esc(block.role)}</span>' if block.role != "body" else ""
    # every block counted as moved has the class; a split or merge out of order also a "moved" badge
    attrs = f'class="block k-{esc(block.kind)}{" moved" if block.moved else ""}"'
    moved = '<span class="badge moved">moved</span>' if block.moved and block.kind != "moved" else ""
    if not anchor:  # a page with the original once keeps rows lean
        attrs += (
            f' data-kind="{esc(block.kind)}" data-original="{esc(" ".join(str(i + 1) for i in block.original))}"'
            f' data-rewrite="{esc(" ".join(str(i + 1) for i in block.rewrite))}"'
        )
    return (
        f"<tr {attrs}>"
        f'<td class="kind"><span class="badge">{esc(_kind_label(block))}</span>{moved}{sim}{role}</td>'
        f"{_side_html(a, block, 'original', anchor)}{_side_html(a, block, 'rewrite', compact=bool(anchor))}</tr>"
    )


def _compact_rows(a: Alignment, anchor: str) -> str:
    """Rows for a page that shows the original's text once: a run of identical
    pairs or of dropped paragraphs is one line of linked numbers, a run of
    added paragraphs one row of plain paragraphs (the row says they are new)."""
    rows: list[str] = []
    k = 0
    blocks = a.blocks
    while k < len(blocks):
        kind = blocks[k].kind
        end = k
        while end + 1 < len(blocks) and kind in ("identical", "dropped", "added") and blocks[end + 1].kind == kind:
            end += 1
        run = blocks[k : end + 1]
        if kind == "identical":
            o = _ranges([b.original[0] + 1 for b in run], anchor)
            r = _ranges([b.rewrite[0] + 1 for b in run], "")
            rows.append(f'<tr class="block k-same"><td class="kind">identical</td><td>¶{o}</td><td>¶{r}</td></tr>')
        elif kind == "dropped":
            o = _ranges([b.original[0] + 1 for b in run], anchor)
            rows.append(
                f'<tr class="block k-dropped"><td class="kind"><span class="badge">dropped</span></td>'
                f'<td class="side original">¶{o}</td><td class="side rewrite empty">not in the rewrite</td></tr>'
            )
        elif kind == "added":
            ps = "".join(
                f"<p><b class=n>¶{b.rewrite[0] + 1}</b>{esc_text(a.rewrite[b.rewrite[0]].text)}</p>" for b in run
            )
            rows.append(
                f'<tr class="block k-added"><td class="kind"><span class="badge">added</span></td>'
                f'<td class="side original empty">not in the original</td><td class="side rewrite">{ps}</td></tr>'
            )
        else:
            rows.append(_row(a, blocks[k], anchor))
        k = end + 1
    return "".join(rows)


def _ranges(numbers: list[int], anchor: str) -> str:
    """``2–5, 7, 9–12`` (ascending runs in one piece), each linked to its first paragraph when ``anchor`` is given."""
    out = []
    for p in consecutive_runs(numbers):
        label = f"{p[0]}–{p[-1]}" if len(p) > 1 else str(p[0])
        out.append(f'<a href="#{esc(anchor)}{p[0]}">{label}</a>' if anchor else label)
    return ", ".join(out)


def _summary_html(a: Alignment, chips: bool = True) -> str:
    s = a.summary
    if not chips:
        return f'<p class="headline">{esc(summary_line(s))}</p>'
    items = [
        (f"{s.carried_over:.0%}", "of the rewrite carried over"),
        (f"{s.verbatim:.0%}", "word for word"),
        (str(s.identical), "identical"),
        (str(s.reworded), "reworded"),
        (str(s.moved), "moved"),
        (str(s.split), "split"),
        (str(s.merged), "merged"),
        (str(s.added), "added" + _roles(s.added_by_role)),
        (str(s.dropped), "dropped" + _roles(s.dropped_by_role)),
        (f"+{s.sentences_added} / −{s.sentences_dropped}", "sentences"),
    ]
    lis = "".join(f"<li><b>{esc(v)}</b> {esc(k)}</li>" for v, k in items)
    return f'<p class="headline">{esc(summary_line(s))}</p><ul class="summary" aria-label="summary">{lis}</ul>'


def _roles(by_role: tuple[tuple[str, int], ...]) -> str:
    extra = [f"{n} {r}" for r, n in by_role if r != "body"]
    return f" ({', '.join(extra)})" if extra else ""


def legend_html() -> str:
    """The key to the marks (once per page)."""
    return '<ul class="legend" aria-label="legend">' + "".join(f"<li>{sw} {esc(t)}</li>" for sw, t in _LEGEND) + "</ul>"


def render_alignment_section(
    a: Alignment,
    *,
    heading: str | None = None,
    anchor: str | None = None,
    level: int = 2,
    legend: bool = True,
    original_anchor: str | None = None,
) -> str:
    """One alignment as an HTML fragment (headline, summary, legend, table);
    the cluster report puts several in one page. With ``original_anchor`` the
    page shows the original's text elsewhere, its paragraphs with ids
    ``original_anchor`` + number: identical pairs are then one line per run
    and dropped paragraphs a linked excerpt, so the page grows with the new
    text only."""
    if level not in (1, 2, 3):
        raise ValueError(f"level must be 1, 2 or 3, got {level!r}")
    head = heading if heading is not None else direction(a)
    id_attr = f' id="{esc(anchor)}"' if anchor else ""
    meta = (
        f'<p class="meta">Original (left): <b><bdi>{esc(side_name(a.original_id, a.original_title))}</bdi></b> · '
        f"{len(a.original)} paragraphs — "
        f"rewrite (right): <b><bdi>{esc(side_name(a.rewrite_id, a.rewrite_title))}</bdi></b> · "
        f"{len(a.rewrite)} paragraphs."
        + (
            ""
            if original_anchor is not None
            else " Rows follow the rewrite; ¶ numbers count each side's paragraphs from 1."
        )
        + "</p>"
    )
    if not a.blocks:
        rows = (
            '<tr class="block k-empty"><td class="kind"></td>'
            '<td class="side empty" colspan="2">Both documents are empty.</td></tr>'
        )
    elif original_anchor is not None:
        rows = _compact_rows(a, original_anchor)
    else:
        rows = "".join(_row(a, b) for b in a.blocks)
    table = (
        '<table class="diff"><thead><tr><th class="kind">Change</th><th>Original</th><th>Rewrite</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )
    head_html = f"<h{level}>{esc(head)}</h{level}>" if head else ""
    top = f"{head_html}{meta}{_summary_html(a, original_anchor is None)}{legend_html() if legend else ''}"
    return f'<section class="pair"{id_attr}>{top}{table}</section>'


def page(title: str, body: str) -> str:
    """A complete, self-contained HTML document around ``body``."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="generator" content="dedup">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def render_html(a: Alignment, *, title: str | None = None) -> str:
    """The whole report as one self-contained HTML page (original left, rewrite right)."""
    t = title if title is not None else f"dedup diff: {direction(a)}"
    return page(t, f"<h1>{esc(t)}</h1>" + render_alignment_section(a, heading=""))
