"""Random inputs the kernel and stage tests share."""

from __future__ import annotations

import numpy as np


def ragged(seed: int, n: int = 60, max_len: int = 300, dtype=np.uint64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, max_len, n)
    lengths[:6] = [0, 1, 2, 3, 4, 0]  # empty and short sets, two empties
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    hi = 2**64 if dtype == np.uint64 else 2**32
    values = rng.integers(0, hi, offsets[-1], dtype=np.uint64).astype(dtype)
    return values, offsets


def same_batch(a, b) -> None:
    assert np.array_equal(a.hashes, b.hashes) and a.hashes.dtype == b.hashes.dtype
    assert np.array_equal(a.ids, b.ids) and np.array_equal(a.offsets, b.offsets)
    assert a.vocab == b.vocab


WORDS = [
    "u.s",
    "peace-making",
    "1,000",
    "john's",
    "it's",
    "a",
    "z9",
    "x",
    "-",
    "'",
    ".",
    ",",
    "1,a",
    "a,1",
    "e.g.",
    "--",
    "...",
    "3.5",
    "o'neil",
    "don't",
    "x-",
    "-y",
    "'q'",
    "a.b.c",
    "9,9,9",
    "9,",
    ",9",
    "rock'n'roll",
]


def random_texts(seed: int, n: int = 80) -> list[str]:
    rng = np.random.default_rng(seed)
    seps = [" ", "  ", "\n", "\t", ", ", ". ", "; ", "! ", "(", ")", '"', "_", "/", "\x1f", "\x00", "A"]
    out = []
    for _ in range(n):
        k = int(rng.integers(0, 60))
        parts = []
        for _ in range(k):
            parts.append(
                WORDS[rng.integers(len(WORDS))]
                if rng.random() < 0.5
                else "".join(rng.choice(list("abcxyz019'.-,"), rng.integers(1, 6)))
            )
            parts.append(seps[rng.integers(len(seps))])
        out.append("".join(parts))
    out[0] = ""
    out[1] = "   "
    out[2] = "münchen straße 東京 tokyo's ü-x 1,000"  # not ASCII: the regex tokenises it
    out[3] = "kyiv\ud800 x"  # a lone surrogate
    out[4] = ",,,'''"  # no token
    return out


def sets(seed=0, n=40):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 300, n)
    lengths[3] = 0
    lengths[5] = 1
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    values = rng.integers(0, 2**32, offsets[-1], dtype=np.uint64)
    return values, offsets
