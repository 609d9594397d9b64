"""Tokens: the comparison text of an article, tokenised and hashed once.

Each distinct token string of a batch is hashed once (BLAKE2b, 8 bytes: stable
across processes and Python versions, unlike ``hash()``); an ASCII text is
scanned in compiled code (:mod:`dedup.text._kernels`) without a Python string
per token. The same token hashes feed the shingles (copy view) and the
TF-IDF terms (:mod:`dedup.features.counts`), so a text is tokenised once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import chain

import numpy as np

from ..article import Article
from ..hashing import hash_bytes, hash_str, joined_bytes
from .normalise import (
    ParagraphKind,
    classify_paragraph,
    comparison_terms,
    fold,
    similarity_text,
    split_dateline,
    tokenize,
)

__all__ = [
    "comparison_tokens",
    "article_tokens",
    "TokenBatch",
    "hash_tokens",
    "hash_texts",
    "key_tokens",
    "key_token_hashes",
]


def comparison_source(article: Article) -> str:
    return article.title + "\n" + article.text if article.title else article.text


def comparison_tokens(text: str) -> list[str]:
    """The tokens an article's text is compared by (:func:`dedup.text.normalise.comparison_terms`
    of its comparison text)."""
    return comparison_terms(similarity_text(text))


def article_tokens(article: Article) -> list[str]:
    """The comparison tokens of one article (title, then body without
    datelines and credit lines)."""
    return comparison_tokens(comparison_source(article))


# Key facts: a capitalised word that does not open a sentence (a name, a place,
# an organisation) or a number. Sentence openers are skipped because every
# sentence starts with a capital; a name there is usually repeated later.
# (written to start with its first character, so the scanner skips other
# positions quickly; the look-behinds then check the character before it)
_KEY_RE = re.compile(
    r"[A-Z\d](?<![\w.!?:;\n\"\u201c(][A-Z\d])(?<![.!?:;\n\"\u201c]\s[A-Z\d])"
    r"(?:(?<=[A-Z])(?:[\w'.-]*\w)?|(?<=\d)(?:[\d,.]*\d)?)"
)


_KEY_SPAN = 20000  # characters of a text searched for key facts


def key_tokens(text: str) -> list[str]:
    """The comparison tokens of the key facts of ``text`` (raw, with case):
    names, places and numbers -- capitalised words that do not open a
    sentence, and digit groups -- folded as :func:`comparison_tokens` folds
    them, each once. Two reports of one event agree on these; two events of
    one kind share the topic words around them."""
    found = _KEY_RE.findall(". " + text[:_KEY_SPAN])  # the text opens a sentence too
    if not found:
        return []
    return list(dict.fromkeys(comparison_terms(fold(" ".join(found)))))


def key_token_hashes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The token hashes of every text's key facts (:func:`key_tokens`) as
    ``(docs, hashes)``, one entry per key token (a repeated token may
    repeat). ASCII texts are scanned in compiled code, the rest by
    :func:`key_tokens`; the hashes are those :func:`hash_texts` gives."""
    from . import _kernels

    is_ascii = [t.isascii() for t in texts]
    ascii_ = [i for i, a in enumerate(is_ascii) if a]
    docs, hashes = _kernels.key_token_hashes(
        *joined_bytes([b". " + texts[i][:_KEY_SPAN].encode("ascii") for i in ascii_])
    )
    docs = np.asarray(ascii_, dtype=np.int64)[docs]
    if len(ascii_) == len(texts):
        return docs, hashes
    other = [i for i, a in enumerate(is_ascii) if not a]
    keys = [key_tokens(texts[i]) for i in other]
    more = np.repeat(np.asarray(other, dtype=np.int64), np.fromiter(map(len, keys), dtype=np.int64, count=len(keys)))
    extra = np.fromiter((hash_str(k) for ks in keys for k in ks), dtype=np.uint64, count=len(more))
    return np.concatenate([docs, more]), np.concatenate([hashes, extra])


def comparison_item(text: str) -> str | list[str]:
    """What :func:`dedup.text.tokens.hash_texts` takes for one text: the folded
    comparison text when it is ASCII (its tokens are then exactly
    :func:`comparison_tokens`: no CJK), else the comparison tokens."""
    folded = similarity_text(text)
    return folded if folded.isascii() else comparison_terms(folded)


def comparison_items(texts: Sequence[str]) -> list[str | list[str] | bytes]:
    """:func:`comparison_item` of every text, for :func:`hash_texts`. Plain
    ASCII texts (no markup, no character references) are prepared in
    compiled code (:mod:`dedup.text._prepare`) and come as the bytes of
    their comparison text; only their paragraphs that could be a dateline,
    credit, date or header meet the regexes."""
    from . import _prepare as K

    plain = [t.isascii() and "<" not in t and "&" not in t for t in texts]
    items: list[str | list[str] | bytes] = [b"" if p else comparison_item(t) for t, p in zip(texts, plain, strict=True)]
    fast = [i for i, p in enumerate(plain) if p]
    if not fast:
        return items
    buf, offsets = joined_bytes([texts[i].encode("ascii") for i in fast])
    text, starts, ends, doc_paragraphs, special = K.paragraph_spans(buf, offsets, K.OPENING_BYTES, K.OPENING_OFFSETS)
    kept_from = np.zeros(len(special), dtype=np.int64)
    for k in np.flatnonzero(special).tolist():
        kept_from[k] = _kept_from(text[starts[k] : ends[k]].tobytes().decode("ascii"))
    _keep_all_if_none(kept_from, doc_paragraphs)
    folded, doc_offsets = K.fold_kept(text, starts, ends, doc_paragraphs, kept_from)
    out, o = folded.tobytes(), doc_offsets.tolist()
    for j, i in enumerate(fast):
        items[i] = out[o[j] : o[j + 1]]
    return items


def _keep_all_if_none(kept_from: np.ndarray, doc_paragraphs: np.ndarray) -> None:
    """A document none of whose paragraphs is kept keeps them all, whole (as
    :func:`dedup.text.normalise.similarity_text`); in place."""
    lengths = np.diff(doc_paragraphs)
    doc_of = np.repeat(np.arange(len(lengths)), lengths)  # each paragraph's document
    none_kept = (lengths > 0) & (np.bincount(doc_of[kept_from >= 0], minlength=len(lengths)) == 0)
    kept_from[none_kept[doc_of]] = 0


def _kept_from(paragraph: str) -> int:
    """Where the comparison text of a paragraph starts (past its dateline), or
    -1 when it is left out (a credit line or a date)."""
    if classify_paragraph(paragraph) in (ParagraphKind.CREDIT, ParagraphKind.DATELINE):
        return -1
    return len(paragraph) - len(split_dateline(paragraph)[1])


@dataclass(frozen=True)
class TokenBatch:
    """The tokens of many documents as arrays, document after document.

    ``hashes[offsets[i]:offsets[i+1]]`` are document ``i``'s token hashes in
    text order; ``vocab`` and ``ids`` give each token's string (``vocab[ids[k]]``).
    The strings are decoded only when ``vocab`` is first read (few callers
    need them): ``spelled`` holds their UTF-8 bytes, ``bounds`` where each
    one ends.
    """

    hashes: np.ndarray  # uint64, one per token
    ids: np.ndarray  # int64, index into vocab
    offsets: np.ndarray  # int64, n_docs + 1
    spelled: bytes  # the distinct token strings, UTF-8, back to back
    bounds: np.ndarray  # int64, n_distinct + 1: string v is spelled[bounds[v]:bounds[v+1]]

    @property
    def n_docs(self) -> int:
        return len(self.offsets) - 1

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @cached_property
    def vocab(self) -> tuple[str, ...]:
        b, raw = self.bounds.tolist(), self.spelled
        return tuple(raw[b[v] : b[v + 1]].decode("utf-8", "surrogatepass") for v in range(len(b) - 1))


def hash_tokens(token_lists: Sequence[Sequence[str]]) -> TokenBatch:
    """Hash every document's tokens; each distinct string is hashed once.

    The tokens are joined into one byte buffer and given ids in order of
    first occurrence by a compiled hash table (:mod:`dedup._kernels`); only
    the distinct strings are hashed in Python (see :func:`hash_texts`).
    """
    return hash_texts(token_lists)[0]


def hash_texts(items: Sequence[str | bytes | Sequence[str]]) -> tuple[TokenBatch, list[bytes]]:
    """Tokenise and hash many documents at once, with each document's digest.

    An item is either folded text (a ``str``, see :func:`dedup.text.normalise.fold`,
    or the ``bytes`` of folded ASCII text),
    tokenised exactly as :func:`dedup.text.normalise.tokenize` does, or the list
    of its tokens. The result equals ``hash_tokens`` of the token lists, but
    an ASCII text (most feeds) never becomes a Python string per token: a
    compiled scanner equal to ``tokenize``'s pattern finds its tokens in the
    bytes. The digest of a document is BLAKE2b (8 bytes) of its tokens
    joined by ``\x1f`` (UTF-8) -- the content part of the pipeline's
    canonical order. Token lists the byte buffer cannot hold (an empty
    token, or one containing ``\x1f``) take a dict path with the same result.
    """

    pretok = np.ones(len(items), dtype=np.bool_)
    encoded: list[bytes] = []
    for i, item in enumerate(items):
        if isinstance(item, bytes):  # folded ASCII text, as comparison_items gives it
            pretok[i] = False
            encoded.append(item)
            continue
        if isinstance(item, str):
            if item.isascii():
                pretok[i] = False
                encoded.append(item.encode("ascii"))
                continue
            item = tokenize(item)
        joined = "\x1f".join(item)
        if len(item) and joined.count("\x1f") != len(item) - 1:
            return _hash_items_dict(items)
        encoded.append(joined.encode("utf-8", "surrogatepass"))
    batch, digests = _batch_from_buffer(encoded, pretok)
    given = np.flatnonzero(pretok)
    if len(given):
        lengths = batch.lengths()[given]
        want = np.fromiter(
            (len(items[i]) if not isinstance(items[i], str) else lengths[k] for k, i in enumerate(given.tolist())),
            dtype=np.int64,
            count=len(given),
        )
        if not np.array_equal(lengths, want):  # an empty token in a list
            return _hash_items_dict(items)
    return batch, digests


def _hash_items_dict(items: Sequence[str | bytes | Sequence[str]]) -> tuple[TokenBatch, list[bytes]]:

    lists = [
        tokenize(i.decode("ascii") if isinstance(i, bytes) else i) if isinstance(i, (str, bytes)) else list(i)
        for i in items
    ]
    digests = [hashlib.blake2b("\x1f".join(t).encode("utf-8", "surrogatepass"), digest_size=8).digest() for t in lists]
    return _hash_tokens_dict(lists), digests


def _batch_from_buffer(encoded: list[bytes], pretokenized: np.ndarray) -> tuple[TokenBatch, list[bytes]]:
    from . import _kernels

    buf, doc_offsets = joined_bytes(encoded)
    joined, joined_offsets, tok_offsets, starts, ends, keys = _kernels.token_spans(buf, doc_offsets, pretokenized)
    ids, first, table = _kernels.distinct_hashes(joined, starts, ends, keys)
    first_starts, first_ends = starts[first], ends[first]
    bounds = np.zeros(len(first) + 1, np.int64)
    np.cumsum(first_ends - first_starts, out=bounds[1:])
    spelled = np.empty(int(bounds[-1]), np.uint8)
    _kernels.gather_spans(joined, first_starts, first_ends, spelled)
    jo, raw = joined_offsets.tolist(), memoryview(joined)  # hashed in place, not copied
    digests = [hashlib.blake2b(raw[jo[d] : jo[d + 1]], digest_size=8).digest() for d in range(len(encoded))]
    batch = TokenBatch(
        hashes=table[ids] if len(ids) else np.zeros(0, np.uint64),
        ids=ids,
        offsets=tok_offsets,
        spelled=spelled.tobytes(),
        bounds=bounds,
    )
    return batch, digests


def _hash_tokens_dict(token_lists: Sequence[Sequence[str]]) -> TokenBatch:
    """:func:`hash_tokens` with a dict: the reference the compiled path equals."""
    lengths = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=len(token_lists))
    offsets = np.zeros(len(token_lists) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = list(chain.from_iterable(token_lists))
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(flat))}
    ids = np.fromiter(map(vocab.__getitem__, flat), dtype=np.int64, count=len(flat))
    del flat
    strings = [s.encode("utf-8", "surrogatepass") for s in vocab]
    bounds = np.zeros(len(strings) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, strings), dtype=np.int64, count=len(strings)), out=bounds[1:])
    table = np.fromiter((hash_bytes(s) for s in strings), dtype=np.uint64, count=len(strings))
    return TokenBatch(
        hashes=table[ids] if len(ids) else np.zeros(0, np.uint64),
        ids=ids,
        offsets=offsets,
        spelled=b"".join(strings),
        bounds=bounds,
    )
