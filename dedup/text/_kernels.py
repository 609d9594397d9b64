"""Compiled tokeniser (numba): the comparison tokens of ASCII texts found in
their bytes, equal to :func:`dedup.text.normalise.tokenize`'s pattern, and
token spans factorised into ids. Tested against the dict-based reference.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..arrays import KERNEL_OPTIONS, grown
from ..hashing import FNV_OFFSET, FNV_PRIME, blake2b64_spans, fmix64_scalar


@njit(inline="always")
def _alnum(c):
    return (97 <= c <= 122) or (48 <= c <= 57)


@njit(inline="always")
def _digit(c):
    return 48 <= c <= 57


@njit(inline="always")
def _key_step(h, c):
    """FNV-1a of a token's bytes, one byte ``c`` more: the byte key (after
    ``fmix64``) that :func:`factorize_spans` finds a token's slot by."""
    return (h ^ np.uint64(c)) * FNV_PRIME


@njit(inline="always")
def _emit_token(buf, lo, hi, out, o, sep, starts, ends, keys, t):
    """Append token ``buf[lo:hi]`` to ``out`` at ``o`` (after a ``\x1f`` when
    ``sep``: not the document's first) as token ``t``: its span and its byte
    hash. Returns the new end of ``out``."""
    if sep:
        out[o] = 31
        o += 1
    starts[t] = o
    h = FNV_OFFSET
    for q in range(lo, hi):
        out[o] = buf[q]
        h = _key_step(h, buf[q])
        o += 1
    ends[t] = o
    keys[t] = fmix64_scalar(h)
    return o


@njit(inline="always")
def _token_end(buf, i, hi):
    """End of the token running on from ``i``: alphanumerics, joined by ``' . -``
    between two of them or by a comma between two digits."""
    while True:
        while i < hi and _alnum(buf[i]):
            i += 1
        if i + 1 < hi and _alnum(buf[i + 1]):
            c = buf[i]
            if c == 39 or c == 46 or c == 45 or (c == 44 and _digit(buf[i - 1]) and _digit(buf[i + 1])):
                i += 1
                continue
        return i


@njit(inline="always")
def _next_token(buf, i, hi, joined):
    """``(start, end, next)`` of the next token from ``i`` (``start == end``:
    an empty one, skipped): up to the next ``\x1f`` in joined tokens, else
    the next run :func:`_token_end` allows in folded ASCII text."""
    if joined:
        j = i
        while j < hi and buf[j] != 31:
            j += 1
        return i, j, j + 1
    while i < hi and not _alnum(buf[i]):
        i += 1
    if i >= hi:
        return hi, hi, hi
    e = _token_end(buf, i + 1, hi)
    return i, e, e


@njit(inline="always")
def _scan_document(buf, lo, hi, joined, out, o, starts, ends, keys, t):
    """One document's tokens emitted; ``(o, t)`` after."""
    t0 = t
    i = lo
    while i < hi:
        s, e, i = _next_token(buf, i, hi, joined)
        if e > s:
            o = _emit_token(buf, s, e, out, o, t > t0, starts, ends, keys, t)
            t += 1
    return o, t


@njit(inline="always")
def _scan_folded(buf, lo, hi, out, o, starts, ends, keys, t):
    """:func:`_scan_document` of folded ASCII text in one loop: each token
    copied and hashed as it is read (the tokens of ``_token_end``)."""
    t0 = t
    i = lo
    while i < hi:
        if not _alnum(buf[i]):
            i += 1
            continue
        if t > t0:
            out[o] = 31
            o += 1
        starts[t] = o
        h = FNV_OFFSET
        while True:
            c = buf[i]
            out[o] = c
            o += 1
            h = _key_step(h, c)
            i += 1
            if i >= hi:
                break
            c = buf[i]
            if _alnum(c):
                continue
            joins = (
                c == 39 or c == 46 or c == 45 or (c == 44 and _digit(buf[i - 1]) and i + 1 < hi and _digit(buf[i + 1]))
            )
            if not (joins and i + 1 < hi and _alnum(buf[i + 1])):
                break
        ends[t] = o
        keys[t] = fmix64_scalar(h)
        t += 1
    return o, t


@njit(**KERNEL_OPTIONS)
def token_spans(buf, doc_offsets, pretokenized):
    """Tokens of many documents, and each document's tokens joined by ``\\x1f``.

    ``buf[doc_offsets[d]:doc_offsets[d+1]]`` is document ``d``: folded ASCII
    text, tokenised here exactly as ``normalize._ASCII_TOKEN_RE.findall``
    (runs of ``[a-z0-9]``, joined by ``' . -`` between two of them or by a
    comma between two digits); or, where ``pretokenized[d]``, tokens
    already joined by ``\\x1f`` (texts the regex tokenised). Returns
    ``(joined, joined_offsets, tok_offsets, starts, ends, keys)``: token
    ``t`` is ``joined[starts[t]:ends[t]]``, document ``d``'s tokens are
    ``tok_offsets[d]:tok_offsets[d+1]``, and ``keys[t]`` is a 64-bit hash of
    the token's bytes for :func:`factorize_spans` (not the token hash the
    pipeline uses, which is BLAKE2b).
    """
    n_docs = len(doc_offsets) - 1
    out = np.empty(len(buf) + 1, np.uint8)
    joined_offsets = np.zeros(n_docs + 1, np.int64)
    tok_offsets = np.zeros(n_docs + 1, np.int64)
    # a token and its separator take two bytes at least, but a document's last
    # token has no separator (documents lie back to back): (L + 1) // 2 each
    cap = (len(buf) + n_docs) // 2 + 1
    starts = np.empty(cap, np.int64)
    ends = np.empty(cap, np.int64)
    keys = np.empty(cap, np.uint64)
    o = 0
    t = 0
    for d in range(n_docs):
        lo, hi = doc_offsets[d], doc_offsets[d + 1]
        if pretokenized[d]:
            o, t = _scan_document(buf, lo, hi, True, out, o, starts, ends, keys, t)
        else:
            o, t = _scan_folded(buf, lo, hi, out, o, starts, ends, keys, t)
        joined_offsets[d + 1] = o
        tok_offsets[d + 1] = t
    return out[:o], joined_offsets, tok_offsets, starts[:t], ends[:t], keys[:t]


@njit(**KERNEL_OPTIONS)
def distinct_hashes(buf, starts, ends, keys):
    """The token hash (BLAKE2b) of every span ``buf[starts[t]:ends[t]]``,
    each distinct string hashed once: ``(ids, first, table)`` with
    ``table[ids[t]]`` span ``t``'s hash (:func:`factorize_spans`' ids and firsts)."""
    ids, first = factorize_spans(buf, starts, ends, keys)
    return ids, first, blake2b64_spans(buf, starts[first], ends[first])


@njit(**KERNEL_OPTIONS)
def factorize_spans(buf, starts, ends, keys):
    """Ids of byte strings ``buf[starts[t]:ends[t]]`` in order of first
    occurrence (as ``dict.fromkeys``), by an open-addressing table keyed by
    ``keys`` (hashes of the strings) that doubles with the number of
    distinct strings. Equal keys are confirmed by comparing the bytes with
    a compact copy of each distinct string, so ids are exact. Returns
    ``(ids, first)``: ``first[v]`` is the first token with id ``v``.

    The tokens are read by :func:`_factorize_run`, which stops where an
    array is full; the arrays grow here, between runs (an array variable
    assigned inside the token loop costs reference counting on every
    token: 2.5x the time)."""
    n = len(starts)
    cap = 1 << 12
    table = np.full(cap, -1, np.int64)  # per slot: high 32 bits of the key, then the id
    store = np.empty(1 << 16, np.uint8)  # the distinct strings, back to back
    s_off = np.zeros(1025, np.int64)
    first = np.empty(1024, np.int64)
    ids = np.empty(n, np.int64)
    t, n_ids, used = 0, 0, 0
    while True:
        t, n_ids, used = _factorize_run(buf, starts, ends, keys, t, ids, table, store, s_off, first, n_ids)
        if t >= n:
            return ids, first[:n_ids].copy()
        if 2 * (n_ids + 1) > cap:  # keep the load under one half
            cap *= 2
            table = _rehash_spans(keys, first, n_ids, cap)
        if n_ids + 1 >= len(first):
            first = grown(first, n_ids)
            s_off = grown(s_off, n_ids + 1)
        if used + (ends[t] - starts[t]) > len(store):
            store = grown(store, used, ends[t] - starts[t])


@njit(**KERNEL_OPTIONS)
def _factorize_run(buf, starts, ends, keys, t, ids, table, store, s_off, first, n_ids):
    """:func:`factorize_spans` from token ``t`` on, until a new string finds
    the table half full or no room in ``store``, ``s_off`` or ``first``;
    returns ``(t, n_ids, used)``: the token to go on from, the strings and
    the bytes of ``store`` so far."""
    mask = len(table) - 1
    used = s_off[n_ids]
    while t < len(starts):
        s, e = starts[t], ends[t]
        h = keys[t]
        tag = np.int64(h >> np.uint64(32)) << np.int64(32)
        found, slot = _find_span(table, mask, h, tag, store, s_off, buf, s, e)
        if found < 0:
            if 2 * (n_ids + 1) > len(table) or n_ids + 1 >= len(first) or used + (e - s) > len(store):
                return t, n_ids, used
            for q in range(e - s):
                store[used + q] = buf[s + q]
            used += e - s
            s_off[n_ids + 1] = used
            first[n_ids] = t
            table[slot] = tag | n_ids
            found = n_ids
            n_ids += 1
        ids[t] = found
        t += 1
    return t, n_ids, used


@njit(inline="always")
def _find_span(table, mask, h, tag, store, s_off, buf, s, e):
    """``(id, slot)`` of ``buf[s:e]`` in the table (id -1 and the free slot
    where it is new); equal tags are confirmed byte by byte."""
    hi_mask = np.int64(-1) << np.int64(32)
    slot = np.int64(h & np.uint64(mask))
    while True:
        entry = table[slot]
        if entry == -1:
            return -1, slot
        if (entry & hi_mask) == tag:
            v = entry & np.int64(0xFFFFFFFF)
            lo, hi2 = s_off[v], s_off[v + 1]
            if hi2 - lo == e - s:
                same = True
                for q in range(e - s):
                    if store[lo + q] != buf[s + q]:
                        same = False
                        break
                if same:
                    return v, slot
        slot = (slot + 1) & mask


@njit(inline="always")
def _rehash_spans(keys, first, n_ids, cap):
    """A table of ``cap`` slots holding the ``n_ids`` strings so far."""
    mask = cap - 1
    table = np.full(cap, -1, np.int64)
    for v in range(n_ids):
        slot = np.int64(keys[first[v]] & np.uint64(mask))
        while table[slot] != -1:
            slot = (slot + 1) & mask
        table[slot] = (np.int64(keys[first[v]] >> np.uint64(32)) << np.int64(32)) | v
    return table


@njit(**KERNEL_OPTIONS)
def gather_spans(buf, starts, ends, out):
    """``buf[starts[k]:ends[k]]`` for every ``k``, back to back into ``out``."""
    o = 0
    for k in range(len(starts)):
        for q in range(starts[k], ends[k]):
            out[o] = buf[q]
            o += 1


@njit(inline="always")
def word_byte(c):
    """``\\w`` of an ASCII byte: a letter, a digit or ``_``."""
    return (65 <= c <= 90) or (97 <= c <= 122) or (48 <= c <= 57) or c == 95


@njit(inline="always")
def _space(c):
    return c == 32 or (9 <= c <= 13) or (28 <= c <= 31)  # str.isspace of ASCII


@njit(inline="always")
def _closes(c):
    """``. ! ? : ;``, newline or ``"``: what may stand before a sentence's opening word."""
    return c == 46 or c == 33 or c == 63 or c == 58 or c == 59 or c == 10 or c == 34


@njit(inline="always")
def _key_end(buf, i, hi):
    """End of the key fact at ``i`` (``_KEY_RE``), or -1 when none starts there:
    a capital or digit not inside a word nor opening a sentence; a name runs
    on over ``[\\w'.-]`` to its last word character, a number over digits
    joined by ``, .``."""
    c = buf[i]
    upper = 65 <= c <= 90
    if not (upper or _digit(c)):
        return -1
    b = buf[i - 1]
    if word_byte(b) or _closes(b) or b == 40 or (_space(b) and _closes(buf[i - 2])):
        return -1
    end = i + 1
    j = i + 1
    while j < hi:
        c = buf[j]
        if upper and (word_byte(c) or c == 39 or c == 46 or c == 45):
            end = j + 1 if word_byte(c) else end
        elif not upper and (_digit(c) or c == 44 or c == 46):
            end = j + 1 if _digit(c) else end
        else:
            break
        j += 1
    return end


@njit(inline="always")
def drops_possessive(buf, q, lo, hi):
    """Whether ``normalise.fold`` drops the two bytes at ``q`` of ``buf[lo:hi]``:
    a possessive ``'s`` (the quote may be a backquote) after a word
    character and before none."""
    c = buf[q]
    if not ((c == 39 or c == 96) and q > lo and q + 1 < hi and buf[q + 1] == 115 and word_byte(buf[q - 1])):
        return False
    return q + 2 >= hi or not word_byte(buf[q + 2])


@njit(inline="always")
def _fold_key(buf, s, e, out, o):
    """``buf[s:e]`` folded into ``out`` at ``o`` as ``normalise.fold`` folds
    it (lower case, possessive ``'s`` after a word character dropped) and a
    space after; returns the new end."""
    q = s
    while q < e:
        c = buf[q]
        if drops_possessive(buf, q, s, e):
            q += 2
            continue
        out[o] = c + 32 if 65 <= c <= 90 else c
        o += 1
        q += 1
    out[o] = 32
    return o + 1


@njit(**KERNEL_OPTIONS)
def key_token_hashes(buf, doc_offsets):
    """The key facts of ASCII documents (each ``". "`` and then its text), as
    :func:`dedup.text.tokens.key_tokens` finds and folds them, tokenised and
    hashed (BLAKE2b, as every token): ``(docs, hashes)``, one entry per key
    token (a token repeated in a document may repeat). Every document's keys
    are folded into one buffer (:func:`_fold_keys`) and tokenised
    (:func:`_key_spans`); each distinct token is hashed once
    (:func:`distinct_hashes`: a name recurs across a batch's articles)."""
    folded, fold_offsets = _fold_keys(buf, doc_offsets)
    docs, starts, ends, keys = _key_spans(folded, fold_offsets)
    ids, _, table = distinct_hashes(folded, starts, ends, keys)
    return docs, table[ids]


@njit(**KERNEL_OPTIONS)
def _fold_keys(buf, doc_offsets):
    """Each document's key facts folded, a space after each, back to back:
    ``(folded, fold_offsets)``, document ``d``'s in ``fold_offsets[d]:fold_offsets[d+1]``."""
    n_docs = len(doc_offsets) - 1
    folded = np.empty(2 * len(buf) + 2, np.uint8)  # a key's bytes and a space after each
    fold_offsets = np.zeros(n_docs + 1, np.int64)
    o = 0
    for d in range(n_docs):
        i, hi = doc_offsets[d] + 2, doc_offsets[d + 1]
        while i < hi:
            c = buf[i]
            e = _key_end(buf, i, hi) if (65 <= c <= 90) or _digit(c) else -1
            if e < 0:
                i += 1
                continue
            o = _fold_key(buf, i, e, folded, o)
            i = e
        fold_offsets[d + 1] = o
    return folded[:o], fold_offsets


@njit(**KERNEL_OPTIONS)
def _key_spans(folded, fold_offsets):
    """The tokens of each document's folded keys: ``(docs, starts, ends,
    keys)``, with a byte hash of each for :func:`factorize_spans`."""
    cap = len(folded) // 2 + 1  # a token and the byte after it take two at least
    docs = np.empty(cap, np.int64)
    starts = np.empty(cap, np.int64)
    ends = np.empty(cap, np.int64)
    keys = np.empty(cap, np.uint64)
    n = 0
    for d in range(len(fold_offsets) - 1):
        i, hi = fold_offsets[d], fold_offsets[d + 1]
        while i < hi:
            s, e, i = _next_token(folded, i, hi, False)
            if e > s:
                h = FNV_OFFSET
                for q in range(s, e):
                    h = _key_step(h, folded[q])
                docs[n], starts[n], ends[n], keys[n] = d, s, e, fmix64_scalar(h)
                n += 1
    return docs[:n], starts[:n], ends[:n], keys[:n]
