"""The synthetic feed generator."""

from __future__ import annotations

import numpy as np

from dedup.synth import generate_articles


def test_generator_is_seeded_and_plants_copies():
    a = list(generate_articles(500, seed=4))
    b = list(generate_articles(500, seed=4))
    assert a == b
    kinds = {d["kind"] for d in a}
    assert kinds == {"original", "copy", "rewrite"}
    words = [len(d["text"].split()) for d in a]
    assert 450 <= np.median(words) <= 750
