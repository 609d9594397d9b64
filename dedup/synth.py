"""A seeded generator of synthetic news feeds, for tests and benchmarks.

One generator serves the scaling tests, the speed benchmark and the feed
benchmark, so their figures are about the same kind of text. Articles are
500-700 words drawn from English word frequencies (``wordfreq``'s list, the
``vocab_size`` most frequent alphabetic words, renormalised), so term and
document frequencies look like news; each story has its own rare names and
numbers, repeated through it. A share of articles (``dup_rate``, default 10%)
are later versions of an earlier story: exact or near-exact copies (a
dateline or credit line added, a few words changed) and rewrites (most words
paraphrased, sentences reordered, names and numbers kept). The ground-truth
story is in each record.

Speed: words are drawn as integer ids with numpy, a whole article at a time,
and rendered with one ``str.join`` per sentence -- about 50 microseconds an
article, so a million articles take about a minute.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache

import numpy as np

__all__ = ["generate_articles", "SynthConfig"]

_SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] + ["th", "sh", "ch", "st", "tr", "pl"]
_AGENCIES = ["Reuters", "AP", "AFP", "Bloomberg"]
_PLACES = ["LONDON", "WASHINGTON", "KYIV", "PARIS", "TOKYO", "NEW YORK", "BERLIN", "MADRID"]


@dataclass(frozen=True)
class SynthConfig:
    """Shape of the generated feed."""

    vocab_size: int = 30_000
    min_words: int = 500
    max_words: int = 700
    dup_rate: float = 0.10
    copy_share: float = 0.5  # of the duplicates: copies; the rest are rewrites
    rewrite_change: float = 0.5  # share of words a rewrite replaces
    story_terms: int = 12  # rare names/numbers per story
    start: datetime = datetime(2024, 1, 1, tzinfo=timezone.utc)
    seconds_between: float = 30.0  # mean gap between articles


@lru_cache(maxsize=4)
def _english(vocab_size: int) -> tuple[tuple[str, ...], tuple[str, ...], np.ndarray]:
    """The most frequent alphabetic English words, their capitalised forms and
    the cumulative distribution of their frequencies."""
    import wordfreq

    freq = wordfreq.get_frequency_dict("en", wordlist="best")
    words = [w for w in wordfreq.top_n_list("en", int(vocab_size * 1.4) + 100) if _ALPHA.fullmatch(w)]
    words = words[:vocab_size]
    freqs = np.array([freq.get(w, 0.0) for w in words], dtype=np.float64)
    cdf = np.cumsum(freqs / freqs.sum())
    cdf[-1] = 1.0
    # Inverse-cdf lookup table: a uniform draw of _TABLE_BITS bits -> word id
    # (words rarer than 2**-_TABLE_BITS are drawn at that rate or not at all).
    table = np.searchsorted(cdf, (np.arange(1 << _TABLE_BITS) + 0.5) / (1 << _TABLE_BITS)).astype(np.int32)
    return tuple(words), tuple(w[:1].upper() + w[1:] for w in words), np.minimum(table, len(words) - 1)


_ALPHA = re.compile(r"[a-z]+")
_TABLE_BITS = 22


class _Vocab:
    def __init__(self, cfg: SynthConfig):
        words, caps, self.table = _english(cfg.vocab_size)
        # Story terms are appended per story; ids >= len(words) index them.
        self.lower = np.array(words, dtype=object)
        self.upper = list(caps)
        self.size = len(words)

    def sample(self, rng: np.random.Generator, k: int) -> np.ndarray:
        return self.table[rng.integers(0, 1 << _TABLE_BITS, k)].astype(np.int64)


def _story_terms(rng: np.random.Generator, k: int) -> list[str]:
    syl = rng.integers(0, len(_SYLLABLES), (k, 3))
    lens = rng.integers(2, 4, k)
    names = ["".join(_SYLLABLES[s] for s in syl[i, : lens[i]]).capitalize() for i in range(k - 3)]
    numbers = [str(int(x)) for x in rng.integers(10, 100_000, 3)]
    return names + numbers


def _render(ids: np.ndarray, terms: list[str], vocab: _Vocab, rng: np.random.Generator) -> str:
    """Word ids into sentences (8-25 words) and paragraphs (2-4 sentences).
    Ids ``>= vocab.size`` are the story's terms."""
    n = len(ids)
    lengths = rng.integers(8, 26, n // 8 + 2)
    ends = np.cumsum(lengths)
    ends = ends[: int(np.searchsorted(ends, n)) + 1]
    ends[-1] = n
    per_par = rng.integers(2, 5, len(ends))
    lower, upper, size = vocab.lower, vocab.upper, vocab.size
    words = lower[np.minimum(ids, size - 1)].tolist()
    for k in np.flatnonzero(ids >= size).tolist():
        words[k] = terms[int(ids[k]) - size]
    starts = [0, *ends[:-1].tolist()]
    for s, i in zip(starts, ids[starts].tolist(), strict=True):
        if i < size:
            words[s] = upper[i]
    sentences = [" ".join(words[a:b]) + "." for a, b in zip(starts, ends.tolist(), strict=True)]
    out, k = [], 0
    for p in per_par.tolist():
        if k >= len(sentences):
            break
        out.append(" ".join(sentences[k : k + p]))
        k += p
    return "\n\n".join(out)


def generate_articles(n: int, *, seed: int = 0, config: SynthConfig | None = None) -> Iterator[dict]:
    """Yield ``n`` article dicts: ``id``, ``text``, ``published`` (ISO 8601),
    ``story`` (ground truth) and ``kind`` (``original``, ``copy`` or ``rewrite``).

    Deterministic for a given ``seed`` and config; memory stays bounded
    (only a window of recent stories is kept to be copied or rewritten)."""
    cfg, rng = config or SynthConfig(), np.random.default_rng(seed)
    vocab = _Vocab(cfg)
    recent: list[tuple[int, np.ndarray, list[str]]] = []  # story, word ids, terms
    window, start, t, stories, size = 2000, cfg.start, 0.0, 0, vocab.size
    for i in range(n):
        t += float(rng.exponential(cfg.seconds_between))
        if recent and rng.random() < cfg.dup_rate:
            story, ids, terms = recent[int(rng.integers(len(recent)))]
            if rng.random() < cfg.copy_share:
                kind = "copy"
                w = ids.copy()
                k = int(rng.integers(0, 4))
                if k:
                    w[rng.integers(0, len(w), k)] = vocab.sample(rng, k)
                text = _render(w, terms, vocab, np.random.default_rng(story))
                if rng.random() < 0.5:
                    text = (
                        f"{_PLACES[int(rng.integers(len(_PLACES)))]} "
                        f"({_AGENCIES[int(rng.integers(len(_AGENCIES)))]}) - " + text
                    )
                if rng.random() < 0.5:
                    text += f"\n\n(Reporting by {terms[0]} {terms[1]}; Editing by {terms[2]})"
            else:
                kind = "rewrite"
                w = ids.copy()
                change = (rng.random(len(w)) < cfg.rewrite_change) & (w < size)
                w[change] = vocab.sample(rng, int(change.sum()))
                # reorder: rotate blocks of the text
                cut = int(rng.integers(len(w) // 4, 3 * len(w) // 4))
                w = np.concatenate([w[cut:], w[:cut]])
                text = _render(w, terms, vocab, rng)
        else:
            kind = "original"
            story = stories
            stories += 1
            length = int(rng.integers(cfg.min_words, cfg.max_words + 1))
            ids = vocab.sample(rng, length)
            terms = _story_terms(rng, cfg.story_terms)
            pos = rng.integers(0, length, max(1, length // 20))
            ids[pos] = size + rng.integers(0, len(terms), len(pos))
            recent.append((story, ids, terms))
            if len(recent) > window:
                recent.pop(0)
            text = _render(ids, terms, vocab, np.random.default_rng(story))
        yield {
            "id": f"a{i:07d}",
            "text": text,
            "published": (start + timedelta(seconds=t)).isoformat(),
            "story": f"s{story:07d}",
            "kind": kind,
        }
