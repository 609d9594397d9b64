"""The tokeniser: compiled ASCII scan and factorisation against the dict-based reference."""

from __future__ import annotations

import hashlib

import numpy as np

from dedup.hashing import hash_str
from dedup.text import _kernels as K
from dedup.text.normalise import tokenize
from dedup.text.tokens import (
    _hash_tokens_dict,
    comparison_item,
    comparison_items,
    comparison_tokens,
    hash_texts,
    hash_tokens,
    key_token_hashes,
    key_tokens,
)
from tests._data import random_texts, same_batch


def test_hash_texts_equals_tokenize_then_hash_tokens():
    texts = random_texts(0)
    lists = [tokenize(t) for t in texts]
    batch, digests = hash_texts(texts)
    same_batch(batch, _hash_tokens_dict(lists))
    want = [hashlib.blake2b("\x1f".join(t).encode("utf-8", "surrogatepass"), digest_size=8).digest() for t in lists]
    assert digests == want
    assert sum(map(len, lists)) > 500


def test_factorize_compares_bytes_when_keys_collide():
    texts = random_texts(9)
    buf = np.frombuffer("".join(texts).encode("utf-8", "surrogatepass"), np.uint8)
    enc = [t.encode("utf-8", "surrogatepass") for t in texts]
    off = np.concatenate([[0], np.cumsum([len(e) for e in enc])]).astype(np.int64)
    pretok = np.array([not t.isascii() for t in texts])
    joined, _, _, starts, ends, keys = K.token_spans(buf, off, pretok)
    want = K.factorize_spans(joined, starts, ends, keys)
    for bad in (np.zeros_like(keys), keys & np.uint64(7), keys | np.uint64(0xFFFFFFFF << 32)):
        got = K.factorize_spans(joined, starts, ends, bad)  # every key alike, or few distinct
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    assert len(want[1]) > 100


def test_factorize_gives_first_occurrence_ids_while_its_arrays_grow():
    # more distinct strings and bytes than the first table, id and byte arrays hold
    rng = np.random.default_rng(7)
    distinct = [f"t{i}" * int(rng.integers(1, 12)) for i in range(6000)]
    spans = [distinct[i].encode("ascii") for i in rng.integers(0, len(distinct), 30000)]
    buf = np.frombuffer(b"".join(spans), np.uint8)
    ends = np.cumsum([len(t) for t in spans]).astype(np.int64)
    starts = ends - np.array([len(t) for t in spans], dtype=np.int64)
    keys = np.array([hash(t) & 0xFFFFFFFFFFFF for t in spans], dtype=np.uint64)
    ids, first = K.factorize_spans(buf, starts, ends, keys)
    first_seen = {t: i for i, t in enumerate(dict.fromkeys(spans))}
    assert ids.tolist() == [first_seen[t] for t in spans]
    assert [spans[t] for t in first.tolist()] == list(first_seen)
    assert len(first) > 4096 and sum(map(len, first_seen)) > 1 << 16


def test_hash_texts_of_many_one_token_texts():
    # documents lie back to back in one buffer: "1", "2", "3" are three tokens in
    # three bytes, more than the "two bytes a token" the arrays were sized by
    # (it wrote past them: an IndexError later, or a crash of the process)
    for texts in (["1", "2", "3"], ["Q&A"] * 3, ["1 2 3"] * 1000, [c for c in "abcdefgh" * 300]):
        lists = [tokenize(t) for t in texts]
        batch, _ = hash_texts(texts)
        same_batch(batch, _hash_tokens_dict(lists))
        buf = np.frombuffer("".join(texts).encode(), np.uint8)
        off = np.concatenate([[0], np.cumsum([len(t) for t in texts])]).astype(np.int64)
        _, _, tok_offsets, starts, _, _ = K.token_spans(buf, off, np.zeros(len(texts), np.bool_))
        assert np.diff(tok_offsets).tolist() == [len(t) for t in lists] and len(starts) == sum(map(len, lists))


def test_hash_texts_on_no_texts_and_only_empty_texts():
    batch, digests = hash_texts([])
    assert batch.n_docs == 0 and len(batch.hashes) == 0 and digests == []
    batch, digests = hash_texts(["", "..."])
    same_batch(batch, _hash_tokens_dict([[], []]))
    assert len(digests) == 2


def test_hash_tokens_equals_the_dict_path_including_awkward_tokens():
    lists = [tokenize(t) for t in random_texts(1)]
    same_batch(hash_tokens(lists), _hash_tokens_dict(lists))
    for odd in ([["a", "", "b"], []], [["a\x1fb"], ["a", "b"]], [["a\x1fb", ""]], [[]], []):
        same_batch(hash_tokens(odd), _hash_tokens_dict(odd))


def test_hash_texts_takes_texts_and_token_lists_mixed():
    texts = random_texts(2)
    items = [t if i % 3 else tokenize(t) for i, t in enumerate(texts)]
    lists = [tokenize(t) for t in texts]
    batch, digests = hash_texts(items)
    same_batch(batch, _hash_tokens_dict(lists))
    assert digests == hash_texts(texts)[1]
    items[7] = ["x", ""]  # an empty token: the dict path, same result
    lists[7] = ["x", ""]
    batch, digests = hash_texts(items)
    same_batch(batch, _hash_tokens_dict(lists))
    assert digests[7] == hashlib.blake2b(b"x\x1f", digest_size=8).digest()


def test_key_tokens_are_names_places_numbers_not_sentence_openers():
    text = (
        "Police said the fire started on Tuesday. The blaze in Glendale killed 3 people, "
        "Chief Ann Lee told reporters. It spread to 1,200 acres."
    )
    keys = key_tokens(text)
    for word in ("tuesday", "glendale", "3", "chief", "ann", "lee", "1,200"):
        assert word in keys
    for word in ("the", "it", "fire", "blaze", "people", "reporters"):  # openers and topic words
        assert word not in keys
    assert len(keys) == len(set(keys))


def test_key_tokens_fold_as_the_comparison_tokens_do():
    text = "Talks in Zürich ended. Officials from the U.S. and Iran met."
    toks = set(comparison_tokens(text))
    keys = key_tokens(text)
    assert keys and set(keys) <= toks
    assert key_tokens("no capitals and no digits here.") == []


def _key_pairs_reference(texts: list[str]) -> set[tuple[int, int]]:
    return {(d, hash_str(k)) for d, t in enumerate(texts) for k in key_tokens(t)}


def test_compiled_key_facts_equal_the_regex_reference():
    rng = np.random.default_rng(11)
    alphabet = np.array(list("AaBbZz09_ .!?:;\n\"(),'-s`\t\x1c\x1f\x0b\rS"))
    texts = ["".join(rng.choice(alphabet, int(rng.integers(0, 60)))) for _ in range(5000)]
    texts += [
        "Obama's deal. A's's U.S. 1,000.5 X'sa O'Neil's talks with Mr. Smith",
        'He said: "Paris" (Berlin) and\n\nLondon -- 3.5,2 at 10:30.',
        "Z" * 30000,  # only the first 20,000 characters are searched
        "Caf\u00e9 owners in Z\u00fcrich and Paris",  # not ASCII: the regex path
        "",
        "A",
    ]
    docs, hashes = key_token_hashes(texts)
    assert set(zip(docs.tolist(), hashes.tolist(), strict=True)) == _key_pairs_reference(texts)
    assert len(docs) >= len(_key_pairs_reference(texts)) > 1000


_PIECES = [
    "WASHINGTON (Reuters) - ",
    "Jan 27 - ",
    "LONDON, Jan. 5 (AP) -- ",
    "(Reuters) - ",
    "Reporting by Ann Lee; Editing by Bob",
    "(With inputs from Reuters)",
    "By John Smith",
    "Photo: AP",
    "Sources: x",
    "Copyright 2020 Reuters",
    "All rights reserved.",
    "This story has been corrected.",
    "Monday, Jan. 5, 2020",
    "2020-01-05",
    "5 January 2020 at 10:30 GMT",
    "Headline Here",
    "The quick brown fox's tail",
    "John`s car",
    "It's",
    "U.S. officials said 1,000 people",
    "MR. SMITH went",
    "(c) 2020",
    "[AP] ",
    "'s",
    "s's",
    "A's's",
    "(Reuters)",
    "Reuters",
    "Bloomberg",
    "With additional reporting by Jane Doe in Paris, John Roe in Berlin and Max Moe in Rome; Editing by Bob Smith",
    "Mar",
    "mayor said",
    "x" * 90,
    "Tuesday" + "x" * 90 + " January 5",
    "AT&T bought <b>it</b> &amp; more",
    "Z\u00fcrich",
    "\n",
    "\n\n",
    "\r\n",
    "\r",
    "\t",
    "  ",
    " ",
    "\x01",
    "\x0b",
    "\x1c",
    "\x7f",
]


def test_comparison_items_equal_similarity_text(ecbplus_docs):
    # compiled preparation of plain ASCII texts; the rest by the regexes
    rng = np.random.default_rng(4)
    texts = ["".join(rng.choice(_PIECES, int(rng.integers(0, 25)))) for _ in range(3000)]
    texts += [d["text"] for d in ecbplus_docs] + ["", " \n ", "a"]
    got = comparison_items(texts)
    want = [comparison_item(t) for t in texts]
    assert [g.decode("ascii") if isinstance(g, bytes) else g for g in got] == want
    alone = [comparison_items([t])[0] for t in texts[:300]]  # one text: the regex path or the compiled one
    assert [g.decode("ascii") if isinstance(g, bytes) else g for g in alone] == want[:300]
    assert sum(isinstance(g, bytes) for g in got) > 2000  # most took the compiled path
    batch, digests = hash_texts(got)
    same_batch(batch, hash_texts(want)[0])
    assert digests == hash_texts(want)[1]


def test_key_token_hashes_keep_text_order_and_repeats_across_documents():
    texts = ["We saw Paris and Paris met Berlin", "so Berlin won 3,5 to 2", "plain words only"]
    docs, hashes = key_token_hashes(texts * 2)  # the same names again in later documents: hashed alike
    want = ["paris", "paris", "berlin", "berlin", "3,5", "2"]
    want_docs = [0, 0, 0, 1, 1, 1]
    assert docs.tolist() == want_docs + [d + 3 for d in want_docs]
    assert hashes.tolist() == [hash_str(k) for k in want] * 2
