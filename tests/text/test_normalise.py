"""The comparison text: credit lines and datelines left out, but never all of a text."""

from __future__ import annotations

import pytest

from dedup.text.normalise import clean, similarity_text
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


@pytest.mark.parametrize(
    "text, want",
    [
        # "<" then a space or a digit is text, also beside markup: the whole span
        # up to the next ">" was cut out as a tag
        ("<p>Growth was < 2% in March and > 1% in April.</p>", "Growth was < 2% in March and > 1% in April."),
        ("<b>Rates</b> rose where x<5 and y>3 held.", "Rates rose where x<5 and y>3 held."),
        # a text with no other markup: bare words in angle brackets are not a tag
        ("The rule says if a<b and c>d then stop.", "The rule says if a<b and c>d then stop."),
        # markup is still taken out, with its block breaks and character references
        (
            '<p>AT&amp;T bought <a href="x">it</a> today.</p><p>Shares fell.</p>',
            "AT&T bought it today.\n\nShares fell.",
        ),
        ("<!DOCTYPE html><html><body><p>Hi</p></body></html>", "Hi"),
        # phrasing tags go without a space, as a browser shows them ("announced ." before)
        ('The deal was <a href="/x">announced</a>. Shares <b>rose</b>.', "The deal was announced. Shares rose."),
        ("<td>Paris</td><td>London</td>", "Paris London"),
        ("Done.<br/>Next<!-- note --> step", "Done.\nNext step"),
    ],
)
def test_markup_is_removed_and_angle_brackets_in_text_are_kept(text, want):
    assert clean(text) == want
