"""Speed of :func:`dedup.diff.diff_articles`.

    python benchmarks/diff_speed.py [--repeat 20] [--sizes 35 2000]

Texts are generated deterministically (``random.Random(seed)``): a pseudo-news
original of N paragraphs from a Zipf-like vocabulary, and a rewrite of it
with reworded sentences, a dropped and an added paragraph, a moved paragraph
and a split. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from dedup.diff import diff_articles


def _vocab(rng: random.Random, n: int) -> list[str]:
    letters = "abcdefghiklmnoprstuvy"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(3, 10))) for _ in range(n)]


def make_pair(n_paragraphs: int, seed: int = 0) -> tuple[str, str]:
    """An original of ``n_paragraphs`` paragraphs (2-4 sentences each) and a rewrite."""
    rng = random.Random(seed)
    vocab = _vocab(rng, 8000)
    weights = [1.0 / (k + 1) for k in range(len(vocab))]
    stop = ["the", "a", "of", "to", "in", "and", "that", "on", "for", "with"]

    def sentence() -> str:
        words = rng.choices(vocab, weights, k=rng.randint(12, 26))
        for _ in range(len(words) // 3):
            words.insert(rng.randrange(len(words)), rng.choice(stop))
        return words[0].capitalize() + " " + " ".join(words[1:]) + "."

    orig = [[sentence() for _ in range(rng.randint(2, 4))] for _ in range(n_paragraphs)]
    rew: list[list[str]] = []
    for para in orig:
        new = []
        for s in para:
            words = s[:-1].split()
            if rng.random() < 0.5:  # reword: replace ~20% of the words, drop a few
                words = [rng.choice(vocab) if rng.random() < 0.2 else w for w in words if rng.random() > 0.05]
            new.append(" ".join(words) + ".")
        rew.append(new)
    k = n_paragraphs
    del rew[k // 3]  # dropped
    rew.insert(k // 2, [sentence(), sentence()])  # added
    rew.insert(1, rew.pop(k - 3))  # moved
    s = rew[k // 4]
    if len(s) >= 2:  # split
        rew[k // 4 : k // 4 + 1] = [s[:1], s[1:]]
    as_text = lambda ps: "\n\n".join(" ".join(p) for p in ps)  # noqa: E731
    return as_text(orig), as_text(rew)


def bench(n: int, repeat: int) -> tuple[float, float, dict]:
    a, b = make_pair(n, seed=n)
    diff_articles(a, b)  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        al = diff_articles(a, b)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times), al.summary.to_dict()


def main() -> None:
    ap = argparse.ArgumentParser(description="Time dedup.diff.diff_articles")
    ap.add_argument(
        "--repeat", type=int, default=20, help="runs of each pair up to 100 paragraphs (default 20; 3 for longer ones)"
    )
    ap.add_argument(
        "--sizes", type=int, nargs="+", default=[35, 2000], help="paragraphs of each pair (default: 35 2000)"
    )
    args = ap.parse_args()
    for n in args.sizes:
        rep = args.repeat if n <= 100 else 3
        med, best, s = bench(n, rep)
        print(
            f"{n:>5} paragraphs: median {med * 1000:8.1f} ms  best {best * 1000:8.1f} ms  "
            f"(pairs {s['identical'] + s['reworded']}, moved {s['moved']}, split {s['split']}, merged {s['merged']}, "
            f"added {s['added']}, dropped {s['dropped']})"
        )


if __name__ == "__main__":
    main()
