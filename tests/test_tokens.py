"""Key facts of a text (dedup.text.tokens.key_tokens)."""

from __future__ import annotations

from dedup.text.tokens import comparison_tokens, key_tokens


def test_key_tokens_are_names_places_numbers_not_sentence_openers():
    text = ("Police said the fire started on Tuesday. The blaze in Glendale killed 3 people, "
            "Chief Ann Lee told reporters. It spread to 1,200 acres.")
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
