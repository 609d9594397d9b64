"""A seeded generator of synthetic news feeds, for tests and benchmarks.

One generator serves the scaling tests, the speed benchmark and the feed
benchmark, so their figures are about the same kind of text. Articles are
500-700 words drawn from a Zipf-distributed vocabulary (so term and document
frequencies look like news), each story with its own rare names and numbers.
A share of articles (``dup_rate``, default 10%) are later versions of an
earlier story: exact or near-exact copies (a dateline or credit line added, a
few words changed) and rewrites (most words paraphrased, sentences reordered,
names and numbers kept). The ground-truth story is in each record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator

import numpy as np

__all__ = ["generate_articles", "SynthConfig"]

_SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] + ["th", "sh", "ch", "st", "tr", "pl"]
_AGENCIES = ["Reuters", "AP", "AFP", "Bloomberg"]
_PLACES = ["LONDON", "WASHINGTON", "KYIV", "PARIS", "TOKYO", "NEW YORK", "BERLIN", "MADRID"]


@dataclass(frozen=True)
class SynthConfig:
    """Shape of the generated feed."""

    vocab_size: int = 50_000
    zipf_exponent: float = 1.1
    min_words: int = 500
    max_words: int = 700
    dup_rate: float = 0.10
    copy_share: float = 0.5  # of the duplicates: copies; the rest are rewrites
    rewrite_change: float = 0.5  # share of words a rewrite replaces
    story_terms: int = 12  # rare names/numbers per story
    start: datetime = datetime(2024, 1, 1, tzinfo=timezone.utc)
    seconds_between: float = 30.0  # mean gap between articles


class _Vocab:
    def __init__(self, cfg: SynthConfig, rng: np.random.Generator):
        n = cfg.vocab_size
        syl = np.array(_SYLLABLES)
        lengths = np.clip(rng.poisson(1.6, n) + 1, 1, 5)
        parts = rng.integers(0, len(syl), (n, 5))
        words = {"".join(syl[parts[i, : lengths[i]]]) for i in range(n)}
        self.words = np.array(sorted(words))
        rng.shuffle(self.words)
        ranks = np.arange(1, len(self.words) + 1, dtype=np.float64)
        p = ranks ** -cfg.zipf_exponent
        self.cdf = np.cumsum(p / p.sum())

    def sample(self, rng: np.random.Generator, k: int) -> np.ndarray:
        return self.words[np.minimum(np.searchsorted(self.cdf, rng.random(k)), len(self.words) - 1)]


def _story_terms(rng: np.random.Generator, k: int) -> list[str]:
    names = ["".join(rng.choice(_SYLLABLES, rng.integers(2, 4))).capitalize() for _ in range(k - 3)]
    numbers = [str(int(x)) for x in rng.integers(10, 100_000, 3)]
    return names + numbers


def _render(words: np.ndarray, rng: np.random.Generator) -> str:
    """Words into sentences (8-25 words) and paragraphs (2-4 sentences)."""
    out, paragraph, sentence_count = [], [], 0
    i = 0
    while i < len(words):
        n = int(rng.integers(8, 26))
        sent = list(words[i : i + n])
        i += n
        sent[0] = sent[0][:1].upper() + sent[0][1:]
        paragraph.append(" ".join(sent) + ".")
        sentence_count += 1
        if sentence_count >= rng.integers(2, 5):
            out.append(" ".join(paragraph))
            paragraph, sentence_count = [], 0
    if paragraph:
        out.append(" ".join(paragraph))
    return "\n\n".join(out)


def generate_articles(n: int, *, seed: int = 0, config: SynthConfig | None = None) -> Iterator[dict]:
    """Yield ``n`` article dicts: ``id``, ``text``, ``published`` (ISO 8601),
    ``story`` (ground truth) and ``kind`` (``original``, ``copy`` or ``rewrite``).

    Deterministic for a given ``seed`` and config; memory stays bounded
    (only a window of recent stories is kept to be copied or rewritten).
    """
    cfg = config or SynthConfig()
    rng = np.random.default_rng(seed)
    vocab = _Vocab(cfg, rng)
    recent: list[tuple[int, np.ndarray, list[str], float]] = []  # story, words, terms, time
    window = 2000
    t = cfg.start.timestamp()
    stories = 0
    for i in range(n):
        t += float(rng.exponential(cfg.seconds_between))
        if recent and rng.random() < cfg.dup_rate:
            story, words, terms, _ = recent[int(rng.integers(len(recent)))]
            if rng.random() < cfg.copy_share:
                kind = "copy"
                w = words.copy()
                k = int(rng.integers(0, 4))
                if k:
                    w[rng.integers(0, len(w), k)] = vocab.sample(rng, k)
                text = _render(w, np.random.default_rng(int(story)))
                if rng.random() < 0.5:
                    text = f"{rng.choice(_PLACES)} ({rng.choice(_AGENCIES)}) - " + text
                if rng.random() < 0.5:
                    text += f"\n\n(Reporting by {terms[0]} {terms[1]}; Editing by {terms[2]})"
            else:
                kind = "rewrite"
                w = words.copy()
                change = rng.random(len(w)) < cfg.rewrite_change
                is_term = np.isin(w, terms)
                change &= ~is_term
                w[change] = vocab.sample(rng, int(change.sum()))
                # reorder: rotate blocks of the text
                cut = int(rng.integers(len(w) // 4, 3 * len(w) // 4))
                w = np.concatenate([w[cut:], w[:cut]])
                text = _render(w, rng)
        else:
            kind = "original"
            story = stories
            stories += 1
            length = int(rng.integers(cfg.min_words, cfg.max_words + 1))
            words = vocab.sample(rng, length)
            terms = _story_terms(rng, cfg.story_terms)
            pos = rng.integers(0, length, max(1, length // 20))
            words[pos] = rng.choice(terms, len(pos))
            recent.append((story, words, terms, t))
            if len(recent) > window:
                recent.pop(0)
            text = _render(words, np.random.default_rng(int(story)))
        yield {
            "id": f"a{i:07d}",
            "text": text,
            "published": datetime.fromtimestamp(t, tz=timezone.utc).isoformat(),
            "story": f"s{story:07d}",
            "kind": kind,
        }
