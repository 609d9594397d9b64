"""``dedup.Params``: every parameter validated when the parameters are made,
with a ValueError naming it -- before any article is read."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dedup import cluster_articles, params
from dedup.params import Params

MAX_WINDOW_DAYS = 999_999_999  # what a timedelta holds


@pytest.mark.parametrize("days", [float("nan"), float("inf"), -float("inf"), 1e12, MAX_WINDOW_DAYS + 1, 0, -1])
def test_time_window_nan_infinite_or_out_of_range_is_named(days):
    with pytest.raises(ValueError, match="time_window must be a positive timedelta or number of days"):
        Params(time_window=days)


@pytest.mark.parametrize("value", ["7", True, timedelta(0), timedelta(days=-1)])
def test_time_window_of_the_wrong_kind_is_named(value):
    with pytest.raises(ValueError, match="time_window"):
        Params(time_window=value)


def test_time_window_in_range_is_a_timedelta():
    assert Params(time_window=1.5).time_window == timedelta(days=1.5)
    assert Params(time_window=MAX_WINDOW_DAYS).time_window == timedelta(days=MAX_WINDOW_DAYS)
    assert Params(time_window=timedelta(hours=2)).time_window == timedelta(hours=2)
    assert Params(time_window=None).time_window is None
    assert params.window("retention", 2) == timedelta(days=2)
    with pytest.raises(ValueError, match="^retention must be"):
        params.window("retention", float("nan"))


@pytest.mark.parametrize("value", [True, False, 0, -2, 1.0])
def test_n_jobs_rejects_bools_like_every_integer_parameter(value):
    with pytest.raises(ValueError, match="n_jobs must be a positive integer or -1"):
        Params(n_jobs=value)


@pytest.mark.parametrize("value", [2**25, 2**31, 2**40, True, 1000, 1])
def test_n_features_is_a_power_of_two_up_to_the_documented_bound(value):
    with pytest.raises(ValueError, match=r"n_features must be a power of two from 2 to 2\*\*24"):
        Params(n_features=value)


def test_n_features_bound_is_documented_and_accepted():
    assert params.MAX_WINDOW_DAYS == MAX_WINDOW_DAYS
    assert params.MAX_FEATURES == 2**24
    assert Params(n_features=params.MAX_FEATURES).n_features == params.MAX_FEATURES
    assert "at most\n        2**24" in (Params.__doc__ or "")


@pytest.mark.parametrize("language", ["xx", "english", "", 3])
def test_unknown_background_language_is_refused_when_the_parameters_are_made(language):
    with pytest.raises(ValueError, match="background must be a language code"):
        Params(background=language)


@pytest.mark.parametrize("language", ["en", "EN", "de", "pt-BR", None])
def test_known_background_languages_pass(language):
    assert Params(background=language).background == language


def test_background_is_checked_before_any_article_is_read():
    read = []

    def articles():
        for k in range(4000):
            read.append(k)
            yield f"article number {k} about the weather"

    with pytest.raises(ValueError, match="background must be a language code"):
        cluster_articles(articles(), background="xx")
    assert read == []
