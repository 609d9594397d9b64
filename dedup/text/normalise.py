"""Normalisation: from raw article text to paragraphs, sentences and tokens.

Two kinds of output, kept apart on purpose:

* *display* text (:func:`clean`, :func:`paragraphs`, :func:`split_sentences`):
  markup and control characters removed, whitespace tidied, otherwise the
  article's own words -- what the diff report shows;
* *comparison* text (:func:`fold`, :func:`similarity_text`, :func:`tokenize`):
  Unicode NFKC, typographic quotes and dashes folded, case folded, datelines
  and credit lines left out -- what similarity is computed on.

Datelines ("LONDON (Reuters) -", "Jan 27 -") and credit lines ("(With inputs
from Reuters)", "Reporting by ...") are recognised by :func:`split_dateline`
and :func:`classify_paragraph`: they are kept in the article (the diff shows
them) but say nothing about which story it is.
"""

from __future__ import annotations

import html
import re
import unicodedata
from enum import Enum

__all__ = [
    "ParagraphKind",
    "strip_html",
    "clean",
    "fold",
    "paragraphs",
    "split_sentences",
    "split_dateline",
    "classify_paragraph",
    "similarity_text",
    "tokenize",
    "comparison_terms",
]


class ParagraphKind(str, Enum):
    """What a paragraph is, for similarity and for the diff report."""

    BODY = "body"
    HEADER = "header"  # a section header or headline: short, no closing period
    DATELINE = "dateline"  # a line that is only a dateline / date
    CREDIT = "credit"  # "(With inputs from Reuters)", "Reporting by ...", bylines


_QUOTES = {ord(c): "'" for c in "\u2018\u2019\u201a\u201b\u2032\u0060\u00b4\u02bc"} | {
    ord(c): '"' for c in "\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb\u2039\u203a"
}


_DASHES = {ord(c): "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"}


_FOLD_TABLE = {**_QUOTES, **_DASHES, ord("\u2026"): "...", ord("\u00a0"): " "}


_NAME = r"[a-zA-Z][a-zA-Z0-9-]*"  # a tag's name
_NOT_START = rf"/{_NAME}\s*|!--.*?--|![a-zA-Z][^<>]*"  # an end tag, a comment, a doctype


# A tag as HTML reads one: "<" then a letter, "/" and a letter, or "!" (a
# comment or doctype). "< 2%" and "<5" are text, also beside markup.
_TAG_RE = re.compile(rf"<(?:{_NAME}\b[^<>]*|{_NOT_START})>", re.S)


# Markup beyond doubt: an end tag, a comment or doctype, a start tag without
# attributes ("<p>", "<br/>") or whose first attribute has a value ('<a href="x">').
# "if a<b and c>d" is a start tag to a browser, but in a text with no other
# markup it is text: bare words as attributes do not make a text markup.
_MARKUP_RE = re.compile(rf"<(?:{_NOT_START}|{_NAME}\s*/?|{_NAME}\s+[^\s<>=/]+\s*=[^<>]*)>", re.S)


# Phrasing tags, which a browser shows with no break of their own: taken out
# without a space ("bought <a>it</a>." reads "bought it.", not "bought it .").
_INLINE_TAG_RE = re.compile(
    r"</?(?:a|abbr|b|bdi|bdo|cite|code|data|dfn|em|font|i|kbd|mark|q|s|samp|small|span|strong|sub|sup|time|u|var)"
    r"\b[^<>]*>",
    re.I,
)


_DROP_BLOCK_RE = re.compile(r"<(script|style|noscript|template)\b[^>]*>.*?</\1\s*>", re.S | re.I)


_BLOCK_TAG_RE = re.compile(
    r"</?(?:p|div|br|h[1-6]|li|ul|ol|tr|table|blockquote|section|article|header|footer)\b[^>]*>", re.I
)


# C0/C1 controls except tab and newline, and invisible format characters.
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff\u00ad]")


_SPACES_RE = re.compile(r"[ \t\f\v\u2000-\u200a\u3000\u202f\u205f]+")


_ASCII_CONTROLS = bytes(range(0x00, 0x09)) + b"\x0b\x0c" + bytes(range(0x0E, 0x20)) + b"\x7f"


def strip_html(text: str) -> str:
    """Remove HTML markup, keeping block breaks as newlines, and decode
    character references (``&amp;``), which scraped text carries with or
    without tags."""
    if not _MARKUP_RE.search(text):
        return html.unescape(text) if "&" in text else text
    text = _DROP_BLOCK_RE.sub(" ", text)
    text = _BLOCK_TAG_RE.sub("\n", text)
    text = _INLINE_TAG_RE.sub("", text)
    text = _TAG_RE.sub(" ", text)
    return html.unescape(text)


def clean(text: str) -> str:
    """Display-ready text: markup, control and invisible characters removed,
    line ends unified, runs of spaces collapsed. Case and punctuation kept."""
    if not text:
        return ""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "<" in text or "&" in text:
        text = strip_html(text)
    if text.isascii():
        # Fast path for plain ASCII (most feeds): NFKC is the identity and
        # bytes.translate deletes control characters in C.
        raw = text.encode("ascii")
        kept = raw.translate(None, _ASCII_CONTROLS)
        if len(kept) != len(raw):
            text = kept.decode("ascii")
        if "\t" in text or "  " in text or "\f" in text or "\v" in text:
            text = _SPACES_RE.sub(" ", text)
    else:
        text = _CONTROL_RE.sub("", text)
        text = unicodedata.normalize("NFKC", text)
        text = _SPACES_RE.sub(" ", text)
    return "\n".join(line.strip() for line in text.split("\n")).strip()


def fold(text: str) -> str:
    """Comparison form: NFKC, quotes and dashes folded, possessive 's dropped,
    whitespace collapsed, case folded."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).translate(_FOLD_TABLE)
    elif "`" in text:
        text = text.replace("`", "'")
    if "'s" in text:
        text = _POSSESSIVE_RE.sub(_drop_possessive, text)
    return " ".join(text.split()).casefold()


# "'s" as a literal prefix lets the regex engine skip ahead; the word
# character before it is checked in the callback (a lookbehind would not).
_POSSESSIVE_RE = re.compile(r"'s\b")


def _drop_possessive(m: re.Match[str]) -> str:
    i = m.start()
    return "" if i > 0 and (m.string[i - 1].isalnum() or m.string[i - 1] == "_") else m.group(0)


def paragraphs(text: str) -> list[str]:
    """Split cleaned text into paragraphs.

    Blank lines separate paragraphs when the text has any (hard-wrapped lines
    inside a paragraph are joined); otherwise each line is a paragraph.
    """
    text = clean(text)
    if not text:
        return []
    if "\n\n" in text:
        blocks = re.split(r"\n\s*\n", text)
        return [" ".join(b.split()) for b in blocks if b.strip()]
    return [line for line in text.split("\n") if line.strip()]


_ABBREVIATIONS = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sen",
        "rep",
        "gov",
        "gen",
        "col",
        "lt",
        "sgt",
        "capt",
        "cmdr",
        "adm",
        "maj",
        "st",
        "jr",
        "sr",
        "rev",
        "hon",
        "pres",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "mon",
        "tue",
        "tues",
        "wed",
        "thu",
        "thur",
        "thurs",
        "fri",
        "sat",
        "sun",
        "no",
        "nos",
        "vs",
        "etc",
        "inc",
        "corp",
        "ltd",
        "co",
        "bros",
        "dept",
        "est",
        "approx",
        "fig",
        "al",
        "op",
        "cit",
        "ft",
        "mt",
        "ave",
        "blvd",
        "rd",
        "e.g",
        "i.e",
        "u.s",
        "u.k",
        "u.n",
        "u.s.a",
        "e.u",
        "a.m",
        "p.m",
        "d.c",
    }
)


_BOUNDARY_RE = re.compile(
    r"""([.!?]+)(["')\]\u201d\u2019]*)\s+(?=["'(\[\u201c\u2018]*[A-Z0-9\u00c0-\u024f\u0400-\u04ff])"""
)


_CJK_BOUNDARY_RE = re.compile(r"(?<=[\u3002\uff01\uff1f])")


def split_sentences(paragraph: str) -> list[str]:
    """Split a paragraph into sentences, not after common abbreviations
    (Mr., U.S., Jan.) or initials."""
    out: list[str] = []
    start = 0
    for m in _BOUNDARY_RE.finditer(paragraph):
        if m.group(1) == ".":
            before = paragraph[start : m.start()].rsplit(None, 1)
            word = before[-1].lstrip("\"'(\u201c").casefold() if before else ""
            if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
                continue
        end = m.end(2)
        sentence = paragraph[start:end].strip()
        if sentence:
            out.append(sentence)
        start = m.end()
    tail = paragraph[start:].strip()
    if tail:
        out.append(tail)
    if len(out) == 1 and _CJK_BOUNDARY_RE.search(paragraph):
        out = [s for s in (p.strip() for p in _CJK_BOUNDARY_RE.split(paragraph)) if s]
    return out


_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?"
    r"|July?|Aug(?:ust)?|Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)


_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*\.?,?"


_DATE = rf"(?:{_DAY}\s+)?{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"


_PLACE = r"[A-Z][A-Z.'\u2019\-]+(?:\s+[A-Z][A-Z.'\u2019\-]+){0,3}(?:,\s+[A-Z][A-Za-z.]+(?:\s+[A-Z][A-Za-z.]+){0,2})?"


_AGENCY = r"\((?:[A-Z][\w.&' ]{0,30}|[A-Z]{2,})\)"


_DASH = r"\s*(?:-{1,3}|[\u2013\u2014])\s+"


_DATELINE_RE = re.compile(
    rf"^(?:(?:{_PLACE})(?:,?\s+{_DATE})?(?:\s*{_AGENCY})?|{_DATE}(?:\s*{_AGENCY})?|{_AGENCY}){_DASH}"
)


_DATE_ONLY_RE = re.compile(
    rf"^(?:{_DATE}|\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}\s+{_MONTH}\s+\d{{4}})"
    r"(?:,?\s+(?:at\s+)?\d{1,2}[:.]\d{2}\s*(?:[ap]\.?m\.?)?(?:\s+[A-Z]{2,4})?)?\.?$",
    re.I,
)


_CREDIT_RE = re.compile(
    r"""^[(\[]?\s*(?:
        (?:with\s+)?(?:additional\s+)?(?:inputs?|reporting|writing|editing|contributions?)\s+(?:from|by)\b
      | (?:compiled|edited|written|reported|produced)\s+by\b
      | (?:source|sources|image|photo|photograph|video|credit)s?\s*:
      | (?:\u00a9|\(c\)|copyright)\s
      | all\s+rights\s+reserved
      | (?:this\s+(?:story|article)\s+(?:has\s+been|was)\s+(?:published|updated|corrected))
      | by\s+[A-Z][\w.'\-]+(?:\s+[A-Z][\w.'\-]+){0,3}\s*$
    )""",
    re.I | re.X,
)


_CREDIT_TAIL_RE = re.compile(r"^[(\[]?\s*(?:reuters|ap|afp|ani|pti|ians|bloomberg|upi)\s*[)\]]?\s*$", re.I)


_HEADER_END_RE = re.compile(r"""[.,;:"'\u201d\u2019)\]]$""")


def split_dateline(paragraph: str) -> tuple[str | None, str]:
    """Split a leading dateline off a paragraph: ``("Jan 27 -", "U.S. officials ...")``.

    Returns ``(None, paragraph)`` when there is none.
    """
    m = _DATELINE_RE.match(paragraph)
    if not m or m.end() >= len(paragraph):
        return None, paragraph
    return paragraph[: m.end()].strip(), paragraph[m.end() :]


def classify_paragraph(paragraph: str) -> ParagraphKind:
    """Tell body text from headers, date-only lines and credit lines."""
    p = paragraph.strip()
    if not p:
        return ParagraphKind.BODY
    if (_CREDIT_RE.match(p) and len(p) < 200) or _CREDIT_TAIL_RE.match(p):
        return ParagraphKind.CREDIT
    if _DATE_ONLY_RE.match(p):
        return ParagraphKind.DATELINE
    if len(p) <= 80 and len(p.split()) <= 10 and not _HEADER_END_RE.search(p) and p[0].isupper():
        return ParagraphKind.HEADER
    return ParagraphKind.BODY


def similarity_text(text: str) -> str:
    """The folded text that similarity is computed on: body and header
    paragraphs, with datelines and credit lines left out -- unless that
    leaves nothing: a text made only of such lines keeps them all, whole (a
    headline "VIDEO: Justin Bieber's deposition" looks like a credit line,
    but it is all the text there is)."""
    paras = paragraphs(text)
    kept: list[str] = []
    for p in paras:
        kind = classify_paragraph(p)
        if kind in (ParagraphKind.CREDIT, ParagraphKind.DATELINE):
            continue
        kept.append(split_dateline(p)[1])
    return fold("\n".join(kept if kept else paras))


# Han, kana and Hangul syllables are written without spaces: each character
# is a token (word bigrams then act as character bigrams). Everything else
# is split into words of letters and digits, keeping inner ' . - (u.s,
# peace-making) and digit groups (1,000).
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u31f0-\u31ff"


_TOKEN_RE = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+(?:(?:['.\-]|(?<=\d),(?=\d))[^\W_{_CJK}]+)*")


_ASCII_TOKEN_RE = re.compile(r"[a-z0-9]+(?:(?:['.\-]|(?<=\d),(?=\d))[a-z0-9]+)*")


def tokenize(folded: str) -> list[str]:
    """Word tokens of folded text (see :func:`fold`); CJK characters one by one."""
    if folded.isascii():  # the same tokens, from a simpler pattern
        return _ASCII_TOKEN_RE.findall(folded)
    return _TOKEN_RE.findall(folded)


_CJK_RE = re.compile(f"[{_CJK}]")


def comparison_terms(folded: str) -> list[str]:
    """The tokens texts are compared by (:func:`tokenize` of folded text),
    with each run of CJK characters as its overlapping character bigrams (as
    in Lucene's CJK analyser): single characters are mostly particles and
    word parts, shared by unrelated texts; bigrams are close to words."""
    tokens = tokenize(folded)
    if folded.isascii() or not _CJK_RE.search(folded):
        return tokens
    out: list[str] = []
    run: list[str] = []
    for t in tokens + [""]:
        if len(t) == 1 and _CJK_RE.match(t):
            run.append(t)
            continue
        if len(run) == 1:
            out.append(run[0])
        elif run:
            out.extend(a + b for a, b in zip(run, run[1:], strict=False))
        run = []
        if t:
            out.append(t)
    return out
