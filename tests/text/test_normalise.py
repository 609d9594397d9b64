"""The comparison text: credit lines and datelines left out, but never all of a text."""

from __future__ import annotations

import pytest

from dedup.text.normalise import similarity_text
from dedup.text.tokens import comparison_items


@pytest.mark.parametrize(
    "text, want",
    [
        # a credit line or a date beside body text is left out
        (
            "Photo: Reuters\n\nThe minister resigned on Tuesday after the vote.",
            "the minister resigned on tuesday after the vote.",
        ),
        ("March 11, 2014\n\nThe minister resigned.", "the minister resigned."),
        # a text made only of such lines keeps them all, whole: a labelled headline is all there is
        ("VIDEO: Justin Bieber rolls his eyes at deposition", "video: justin bieber rolls his eyes at deposition"),
        ("Video: Secrets rule Westeros\n\nBy John Smith", "video: secrets rule westeros by john smith"),
        ("March 11, 2014, 8:57 pm", "march 11, 2014, 8:57 pm"),
        ("", ""),
    ],
)
def test_similarity_text_leaves_out_credits_but_never_everything(text, want):
    assert similarity_text(text) == want
    assert comparison_items([text])[0] == want.encode("ascii")  # the compiled path agrees
