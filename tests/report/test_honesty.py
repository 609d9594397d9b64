"""Reports tell no lie: what the alignment marks, every report shows, and
quotes the texts as written (each test failed before its fix)."""

from __future__ import annotations

from dedup.article import Article, Cluster
from dedup.diff import diff_articles
from dedup.report import render_cluster_html, render_html, render_json, render_markdown, render_terminal


def test_reports_quote_superscripts_and_fractions_as_written():
    # NFKC made "10²" read "102": the diff called the pair identical and every
    # report, the cluster page's text of the representative too, misquoted it
    a = Article(id="a", text="The flat measures 10\u00b2 metres and costs \u00bd more.\n\nNothing else changed.")
    b = Article(id="b", text="The flat measures 102 metres and costs 1/2 more.\n\nNothing else changed.")
    d = diff_articles(a, b)
    assert d.summary.reworded == 1
    for out in (render_html(d), render_markdown(d), render_terminal(d, color=False), render_json(d)):
        assert "10\u00b2" in out and "\u00bd" in out
    page = render_cluster_html(Cluster(id=a.id, representative=a, members=(a, b)))
    assert "10\u00b2 metres" in page and "102 metres" in page


def test_terminal_pointer_to_a_sentence_elsewhere_keeps_the_space_after_it():
    # "Tuesday.  (-> original ¶1)The budget": the sentence's own space went before the pointer
    d = diff_articles(
        "The council voted on Tuesday. Members argued for hours. The budget passed.",
        "Members argued for hours. The council voted on Tuesday. The budget passed.",
    )
    text = render_terminal(d, color=False)
    assert "Tuesday. (-> original ¶1) The budget passed." in text
