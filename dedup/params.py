"""Every tunable of the pipeline, with its default, in one place.

:class:`Params` is shared by :func:`dedup.cluster_articles`, :class:`dedup.StoryIndex`
and the Spark path, so the same settings mean the same thing everywhere.
Defaults are chosen by the quality benchmark (``benchmarks/quality.py``),
by cross-validation over topics; see the README for the figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from functools import lru_cache
from typing import Any

__all__ = ["Params", "LINKAGES", "MAX_FEATURES", "MAX_WINDOW_DAYS", "window"]

LINKAGES = ("average", "single", "complete")
#: the largest ``n_features``: the per-feature arrays of 2**24 take about 1 GB
MAX_FEATURES = 1 << 24
#: the longest ``time_window`` (and live-index retention), in days: what a timedelta holds
MAX_WINDOW_DAYS = timedelta.max.days


@dataclass(frozen=True, kw_only=True)
class Params:
    """Pipeline parameters (keyword arguments of :func:`dedup.cluster_articles`).

    Parameters
    ----------
    threshold : float, default 0.15
        Linkage score at or above which two articles (or, with average
        linkage, two groups on average) count as the same story. The score is
        the TF-IDF cosine, put on one scale for short texts and blended with
        the shared-neighbour similarity (``short_text_terms``,
        ``neighbourhood``). Low on purpose: reports of one event written
        independently share few words (ECB+ same-story pairs have a median
        cosine near 0.1); average linkage and the neighbourhood signal keep
        such a low threshold from chaining stories together. Chosen by the
        quality benchmark (``benchmarks/quality.py``), by grouped
        cross-validation over the development split of ECB+ topics and UCI
        stories (the locked final split never looked at), with the key-fact
        weight and stems below (they raise same-event scores; before them
        0.1 was chosen).
    linkage : {"average", "single", "complete"}, default "average"
        How confirmed pairs become clusters. ``"single"`` joins every
        confirmed pair transitively (A~B, B~C puts A, B, C together);
        ``"average"`` merges two groups only while their mean pairwise
        similarity (unconfirmed pairs count 0) stays above ``threshold``,
        which resists chaining; ``"complete"`` needs every pair confirmed.
    time_window : timedelta or None, default 7 days
        When both articles carry ``published``, they are compared only if
        published within this window. None compares regardless of time. A
        number is days; it must be positive and finite and at most
        999,999,999 days (what a ``timedelta`` holds).
    n_jobs : int, default 1
        Worker processes for the per-article stages (-1: all cores). With
        more than one, articles go to the workers in chunks of 2,000; the
        result is the same as with one.
    max_terms : int or None, default 512
        Each article's TF-IDF row keeps its ``max_terms`` heaviest unigrams
        and bigrams, ranked by sublinear tf times the background prior's idf
        (known from the article alone, so the kept terms do not depend on
        the other articles or their order); document frequencies are counted
        before pruning, and the dropped terms still count in the row's norm,
        so cosines can only fall (never a false join from pruning). This
        bounds memory and pair-scoring time (a 600-word article has about
        950 distinct unigrams and bigrams). At 512 the quality benchmark is
        unchanged (ECB+ ARI 0.916 with the defaults against 0.922 unpruned;
        held-out 0.928 against 0.903); at 256 it drops (0.864). None keeps
        every term.
    key_term_weight : float, default 8.0
        Key facts -- capitalised words that do not open a sentence (names,
        places, organisations) and numbers -- count this many times in an
        article's term counts (:func:`dedup.text.tokens.key_tokens`), so
        their TF-IDF weight rises by ``ln(key_term_weight)`` in sublinear tf
        and pruning keeps them first: two reports of one event agree on
        them, two events of one kind share only the topic words. 1 turns it
        off. Chosen by the grouped cross-validation of the quality benchmark
        (development split only): held-out ARI ECB+ 0.902 -> 0.938 at 8.
    stem_length : int, default 5
        Short texts (at most 64 tokens: headlines, alerts) also count each
        word longer than this by its first ``stem_length`` letters, a
        separate term (:func:`dedup.features.counts.stem_counts`), so
        "kills" and "killed" agree. 0 turns it off. Grouped CV
        (development split): UCI headlines held-out ARI +0.05 with the key
        facts; full articles are unchanged.
    short_text_terms : int, default 100
        Short-text rule: a pair of articles with fewer distinct terms
        (unigrams plus bigrams) than this has its cosine scaled up by
        ``short_text_terms / sqrt(n_i * n_j)`` (capped at 1) before linkage,
        when the two share at least two terms, so headlines (or title plus
        lead) are judged on the scale of full articles; see
        :func:`dedup.scoring.story_similarity`. 0 turns it off.
    n_features : int, default 2**21
        Hashed feature space of the TF-IDF vectors. A power of two, at most
        2**24 (``MAX_FEATURES``): each feature costs memory whatever the articles (dense
        per-feature arrays: document frequencies, the background prior and
        its disk cache, idf; about 60 bytes a feature at peak, 0.3 GB for two
        articles at 2**21 and 1.2 GB at 2**24), and collisions are already
        rare at 2**21.
    background : str or None, default "en"
        Language of the background word frequencies (``wordfreq``) blended into
        the document frequencies, so that scores mean the same for two
        articles as for two million. None uses the corpus alone. A language
        ``wordfreq`` has no word list for is refused when the parameters are
        made, before any article is read.
    background_docs : int, default 2000
        Weight of the background, in documents.
    n_terms : int, default 60
        Size of each article's set of most distinctive terms, the candidate
        view that finds rewrites. With 60 terms and 256 one-row bands the
        candidate stage proposes 98% of the ECB+ pairs that all-pairs
        verification confirms at the default threshold (20 terms: 92%).
    num_perm : int, default 256
        MinHash permutations per signature (and, for the term view, one-row
        LSH bands).
    random_state : int, default 1
        Seed of the MinHash permutations.
    lsh_threshold : float, default 0.1
        Jaccard threshold of the term view's LSH; bands and rows are derived
        from it (datasketch's optimiser, weighted towards recall).
    max_partners : int or None, default 80
        Each article keeps at most this many term-view candidates: the
        articles it shares the most LSH bands with (ties: nearer in
        publication order). A pair is compared when either article keeps
        it. Chance collisions (two articles sharing one rare term) grow with
        the number of articles in the time window; this keeps the
        candidates per article bounded (ECB+ candidate recall 0.980 at 80,
        as without the bound; 0.979 at 50).
        None proposes every banded pair. A pair agreeing in 4 bands or more
        is kept whatever its rank, so with ``min_bands`` at 4 (the default)
        or above the bound has nothing left to drop.
    min_bands : int, default 4
        A term-view pair is a candidate only when the two signatures agree
        in at least this many of the term view's bands (of 256 one-row
        bands: 4 estimate a Jaccard of 0.016 between the top-term sets,
        about two terms of 60). Two articles that share one rare term agree
        in a band or two by chance, and such pairs were 99% of the
        candidates on generated news and 25% on ECB+, all rejected; reports
        of one story agree in many more (ECB+ candidate recall 0.993
        against 0.999 at 1; headlines unchanged). 1 is plain banding.
    shingle_size : int, default 5
        Word n-gram length of the copy view (near-identical text).
    copy_threshold : float, default 0.6
        Estimated shingle Jaccard at or above which two articles are copies of
        one version; also the copy view's LSH threshold.
    max_bucket_size : int, default 100
        An LSH bucket larger than this is not expanded to all its pairs: each
        member is paired only with its ``bucket_neighbours`` nearest members
        in (publication time, content) order -- passim's maximum document
        frequency, without losing large groups of copies.
    bucket_neighbours : int, default 8
        How many following members each member of an oversized bucket is
        paired with.
    neighbourhood : int, default 8
        Size of each article's neighbour profile (its most similar scored
        partners) for the second-order, shared-neighbour similarity that
        tells two stories of the same kind apart. 0 links on the
        (short-text-scaled) cosine alone.
    neighbourhood_weight : float, default 0.5
        Weight of the shared-neighbour similarity in the linkage score,
        ``(1 - w) * cosine + w * neighbour similarity``.
    headline_terms : int, default 30
        An article with fewer distinct terms than this (a headline, an
        alert) keeps ``headline_neighbourhood`` partners in its neighbour
        profile instead of ``neighbourhood``. 0 turns it off.
    headline_neighbourhood : int, default 32
        Neighbour-profile size of a headline: its ranking of its partners is
        mostly ties of the capped short-text score, and a story told in
        dozens of headlines spreads each one's few nearest over many equals,
        so two headlines of one story share neighbours only in a larger
        profile; see :func:`dedup.scoring.profile_sizes`.
    """

    threshold: float = 0.15
    linkage: str = "average"
    time_window: timedelta | None = timedelta(days=7)
    n_jobs: int = 1
    max_terms: int | None = 512
    key_term_weight: float = 8.0
    stem_length: int = 5
    short_text_terms: int = 100
    n_features: int = 1 << 21
    background: str | None = "en"
    background_docs: int = 2000
    n_terms: int = 60
    num_perm: int = 256
    random_state: int = 1
    lsh_threshold: float = 0.1
    max_partners: int | None = 80
    min_bands: int = 4
    shingle_size: int = 5
    copy_threshold: float = 0.6
    max_bucket_size: int = 100
    bucket_neighbours: int = 8
    neighbourhood: int = 8
    neighbourhood_weight: float = 0.5
    headline_terms: int = 30
    headline_neighbourhood: int = 32

    def __post_init__(self) -> None:
        _check_unit("threshold", self.threshold)
        _check_unit("lsh_threshold", self.lsh_threshold, closed_low=False)
        _check_unit("copy_threshold", self.copy_threshold, closed_low=False)
        _check_unit("neighbourhood_weight", self.neighbourhood_weight)
        if self.linkage not in LINKAGES:
            raise ValueError(f"linkage must be one of {LINKAGES}, got {self.linkage!r}")
        for name, low in (
            ("n_terms", 1),
            ("num_perm", 2),
            ("shingle_size", 1),
            ("max_bucket_size", 2),
            ("bucket_neighbours", 1),
            ("min_bands", 1),
            ("background_docs", 0),
            ("short_text_terms", 0),
            ("neighbourhood", 0),
            ("headline_terms", 0),
            ("headline_neighbourhood", 0),
            ("stem_length", 0),
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        n = self.n_features
        if not isinstance(n, int) or isinstance(n, bool) or n < 2 or n & (n - 1) or n > MAX_FEATURES:
            raise ValueError(f"n_features must be a power of two from 2 to 2**24, got {n!r}")
        if self.time_window is not None:
            object.__setattr__(self, "time_window", window("time_window", self.time_window))
        if not isinstance(self.random_state, int) or isinstance(self.random_state, bool) or self.random_state < 0:
            raise ValueError(f"random_state must be a non-negative integer, got {self.random_state!r}")
        if not isinstance(self.n_jobs, int) or isinstance(self.n_jobs, bool) or self.n_jobs == 0 or self.n_jobs < -1:
            raise ValueError(f"n_jobs must be a positive integer or -1, got {self.n_jobs!r}")
        if self.max_partners is not None and (
            not isinstance(self.max_partners, int) or isinstance(self.max_partners, bool) or self.max_partners < 1
        ):
            raise ValueError(f"max_partners must be a positive integer or None, got {self.max_partners!r}")
        if self.max_terms is not None and (
            not isinstance(self.max_terms, int) or isinstance(self.max_terms, bool) or self.max_terms < 1
        ):
            raise ValueError(f"max_terms must be a positive integer or None, got {self.max_terms!r}")
        if (
            not isinstance(self.key_term_weight, (int, float))
            or isinstance(self.key_term_weight, bool)
            or not 1.0 <= self.key_term_weight <= 100.0
        ):
            raise ValueError(f"key_term_weight must be a number in [1, 100], got {self.key_term_weight!r}")
        if self.background is not None:
            why = _no_word_list(self.background) if isinstance(self.background, str) else "not a string"
            if why:
                raise ValueError(
                    f"background must be a language code wordfreq knows, or None, got {self.background!r}: {why}"
                )

    @property
    def blends_neighbourhood(self) -> bool:
        """Whether the story score blends in the shared-neighbour similarity."""
        return bool(self.neighbourhood) and self.neighbourhood_weight > 0

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> Params:
        """Build from keyword arguments, naming any that is unknown."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise TypeError(f"unknown parameter(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**kwargs)

    def with_(self, **changes: Any) -> Params:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["time_window"] = None if self.time_window is None else self.time_window.total_seconds() / 86400.0
        return d


def window(name: str, value: Any) -> timedelta:
    """``value`` (a timedelta, or days) as a positive timedelta of at most
    :data:`MAX_WINDOW_DAYS` days; a ValueError naming ``name`` otherwise
    (NaN, infinity, zero, negative, too large, not a number)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        days = float(value)
        if math.isfinite(days) and 0 < days <= MAX_WINDOW_DAYS:
            return timedelta(days=days)
    elif isinstance(value, timedelta) and value > timedelta(0):
        return value
    raise ValueError(
        f"{name} must be a positive timedelta or number of days (at most {MAX_WINDOW_DAYS:,}) or None, got {value!r}"
    )


@lru_cache(maxsize=32)
def _no_word_list(language: str) -> str | None:
    """Why ``wordfreq`` has no word list for ``language`` (None: it has one,
    found as :mod:`dedup.features.weights` will find it)."""
    if language == "en":  # always there; spares the import for the default
        return None
    try:
        import langcodes
        import wordfreq
    except ImportError:  # pragma: no cover - dependencies; the features stage says so
        return None
    available = wordfreq.available_languages("best")
    try:
        best, _ = langcodes.closest_match(language, list(available), max_distance=60)
    except ValueError as exc:  # not a language tag
        return str(exc)
    return None if best != "und" else f"no word list (there are: {', '.join(sorted(available))})"


def _check_unit(name: str, value: Any, closed_low: bool = True) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (0 <= value <= 1)
    if ok and not closed_low and value == 0:
        ok = False
    if not ok:
        raise ValueError(f"{name} must be a number in {'[' if closed_low else '('}0, 1], got {value!r}")


def params_table() -> str:
    """The README's parameter table (Markdown), from the docstring of :class:`Params`,
    so the documented defaults cannot drift from the code (a test compares them)."""
    import re

    doc = Params.__doc__ or ""
    shown = {"n_features": "2**21", "time_window": "7 days"}
    rows = ["| parameter | default | meaning |", "| --- | --- | --- |"]
    for f in fields(Params):
        m = re.search(rf"\n    {f.name} : [^\n]*\n((?:        [^\n]*\n)*)", doc)
        desc = " ".join(m.group(1).split()).split(". ")[0].rstrip(".") if m else ""
        rows.append(f"| `{f.name}` | `{shown.get(f.name, f.default)}` | {desc} |")
    return "\n".join(rows)


if __name__ == "__main__":  # python -m dedup.params: rewrite the README's table
    from pathlib import Path

    readme = Path(__file__).resolve().parent.parent / "README.md"
    text = readme.read_text(encoding="utf-8")
    a, b = text.index("<!-- params -->"), text.index("<!-- /params -->")
    readme.write_text(text[:a] + "<!-- params -->\n" + params_table() + "\n" + text[b:], encoding="utf-8")
