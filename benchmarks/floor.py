"""The floor of the features stage: what a compiled byte tokeniser costs on the same texts, against dedup's own.

    python benchmarks/floor.py                                  # n = 20,000, best of 3 runs
    python benchmarks/floor.py --n 2000 --runs 1 --out /tmp/floor-smoke        # a smoke test

Articles come from :func:`dedup.synth.generate_articles` (seeded, news-length,
ASCII). On the same articles, each step timed on one core (every thread of
the process pinned to one CPU, ``os.sched_setaffinity``), best of ``--runs``,
after the compiled kernels are warmed up (numba compiles them, or loads
dedup's from its cache, first):

* **JSON parse**: ``json.loads`` of each article's JSON line (the lines built
  untimed) -- what reading a JSON-lines feed costs before any text work;
* **bytes**: the texts encoded and joined into one ``uint8`` buffer with
  document offsets;
* **tokenise + hash** (the floor kernel, numba, in this file): one pass over
  the whole buffer -- ASCII letters (lowercased) and digits form tokens,
  everything else separates -- with FNV-1a 64 of each token's bytes;
* **5-gram hashes**: word 5-gram hashes within each document
  (``h = h * 0x100000001B3 ^ t`` over the window's token hashes; a document
  shorter than 5 tokens gives one of all its tokens, as dedup does);
* **dedup's features stage**: ``featurize(articles[k:k+2000], Params())`` over
  consecutive chunks of 2,000 (as the batch path calls it), summed; and for
  context its first two steps apart -- text preparation (``comparison_items``:
  paragraphs, datelines, folding; compiled for plain ASCII texts) and
  ``hash_texts`` (compiled tokeniser, BLAKE2b token hashes, digests) -- the
  rest (term counts, key facts, pruning, shingles, signatures) by
  difference; and the regex text preparation it replaced
  (``comparison_item`` per article), which gives the same texts.

The floor is tokenise + hash plus 5-gram hashes ("a compiled byte tokeniser
with FNV hashing over the whole buffer plus word 5-gram hashing"); the aim is
dedup's features stage within 3x of it. Writes ``benchmarks/results/floor.json``
and ``floor.md`` (``--out`` for another folder).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines import pinned, run_meta, write_results  # noqa: E402  (beside this file)

from dedup import Article  # noqa: E402
from dedup.features.featurize import featurize  # noqa: E402
from dedup.params import Params  # noqa: E402
from dedup.synth import generate_articles  # noqa: E402
from dedup.text.tokens import comparison_item, comparison_items, comparison_source, hash_texts  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
CHUNK = 2000  # dedup.batch.FEATURIZE_CHUNK
SHINGLE = 5
FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)


# --- the floor kernels ----------------------------------------------------------


@njit(nogil=True)
def tokenise_hash(buf: np.ndarray, doc_offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One pass over the buffer: the FNV-1a 64 hash of every token (a run of
    ASCII letters, lowercased, and digits) and where each document's tokens start."""
    n_docs = len(doc_offsets) - 1
    out = np.empty(len(buf) // 2 + n_docs + 1, np.uint64)  # a token takes a byte and a separator
    tok_offsets = np.zeros(n_docs + 1, np.int64)
    k = 0
    for d in range(n_docs):
        h = FNV_OFFSET
        inside = False
        for p in range(doc_offsets[d], doc_offsets[d + 1]):
            c = np.int64(buf[p])
            if 65 <= c <= 90:
                c |= 32
            if (97 <= c <= 122) or (48 <= c <= 57):
                h = (h ^ np.uint64(c)) * FNV_PRIME
                inside = True
            elif inside:
                out[k] = h
                k += 1
                h = FNV_OFFSET
                inside = False
        if inside:
            out[k] = h
            k += 1
        tok_offsets[d + 1] = k
    return out[:k], tok_offsets


@njit(nogil=True)
def ngram_hashes(hashes: np.ndarray, tok_offsets: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of the word n-grams inside each document (``h = h * P ^ t``
    over the window); a non-empty document shorter than ``n`` gives one."""
    n_docs = len(tok_offsets) - 1
    offsets = np.zeros(n_docs + 1, np.int64)
    for d in range(n_docs):
        length = tok_offsets[d + 1] - tok_offsets[d]
        offsets[d + 1] = offsets[d] + (length - n + 1 if length >= n else min(length, 1))
    out = np.empty(offsets[-1], np.uint64)
    for d in range(n_docs):
        lo, length = tok_offsets[d], tok_offsets[d + 1] - tok_offsets[d]
        width = min(n, length)
        for i in range(offsets[d + 1] - offsets[d]):
            h = np.uint64(0)
            for j in range(width):
                h = (h * FNV_PRIME) ^ hashes[lo + i + j]
            out[offsets[d] + i] = h
    return out, offsets


def join_bytes(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The texts as one ``uint8`` buffer (UTF-8) and each one's start (n + 1 offsets)."""
    encoded = [t.encode("utf-8") for t in texts]
    offsets = np.zeros(len(encoded) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)), out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


# --- measuring ------------------------------------------------------------------


def best_of(runs: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """The shortest wall time of ``runs`` calls, and the last call's result."""
    best, out = float("inf"), None
    for _ in range(runs):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def dedup_stage(articles: list[Article], params: Params) -> dict[str, float]:
    """One run of dedup's features stage over chunks of 2,000: featurize, and
    its text preparation and ``hash_texts`` apart; seconds summed over chunks."""
    spent = {"featurize": 0.0, "prepare": 0.0, "hash_texts": 0.0, "regex_prepare": 0.0, "tokens": 0}
    for k in range(0, len(articles), CHUNK):
        chunk = articles[k : k + CHUNK]
        t0 = time.perf_counter()
        featurize(chunk, params)
        t1 = time.perf_counter()
        items = comparison_items([comparison_source(a) for a in chunk])
        t2 = time.perf_counter()
        batch, _ = hash_texts(items)
        t3 = time.perf_counter()
        [comparison_item(comparison_source(a)) for a in chunk]  # the regex path, for comparison
        t4 = time.perf_counter()
        spent["featurize"] += t1 - t0
        spent["prepare"] += t2 - t1
        spent["hash_texts"] += t3 - t2
        spent["regex_prepare"] += t4 - t3
        spent["tokens"] += int(batch.offsets[-1])
    return spent


def measure(docs: list[dict], runs: int, cpu: int) -> dict[str, Any]:
    """Seconds (best of ``runs``) of every step on the same articles, pinned to ``cpu``."""
    lines = [json.dumps(d, ensure_ascii=False) for d in docs]
    texts = [d["text"] for d in docs]
    articles = [Article(id=d["id"], text=d["text"]) for d in docs]
    params = Params()
    buf, offsets = join_bytes(texts)
    toks, tok_offsets = tokenise_hash(buf, offsets)
    out: dict[str, Any] = {}
    with pinned(cpu) as how:
        out["json"], _ = best_of(runs, lambda: [json.loads(line) for line in lines])
        out["bytes"], _ = best_of(runs, lambda: join_bytes(texts))
        out["tokenise_hash"], (toks, tok_offsets) = best_of(runs, lambda: tokenise_hash(buf, offsets))
        out["ngrams"], (sh, _) = best_of(runs, lambda: ngram_hashes(toks, tok_offsets, SHINGLE))
        stage = [dedup_stage(articles, params) for _ in range(runs)]
    for key in ("featurize", "prepare", "hash_texts", "regex_prepare"):
        out[key] = min(s[key] for s in stage)
    out["rest"] = max(0.0, out["featurize"] - out["prepare"] - out["hash_texts"])
    out["floor"] = out["tokenise_hash"] + out["ngrams"]
    counts = {
        "bytes_per_article": len(buf) / len(docs),
        "floor_tokens_per_article": len(toks) / len(docs),
        "dedup_tokens_per_article": stage[0]["tokens"] / len(docs),
        "floor_5grams_per_article": len(sh) / len(docs),
    }
    return {"seconds": out, "counts": counts, "cpu": how}


# --- report ---------------------------------------------------------------------

STEPS = (
    ("json", "JSON parse (json.loads per article line)", "reading a feed; not part of either figure"),
    ("bytes", "bytes: texts encoded and joined into one buffer", "before the floor kernels"),
    ("tokenise_hash", "floor: tokenise + FNV-1a hash (compiled, one pass)", ""),
    ("ngrams", "floor: word 5-gram hashes (compiled)", ""),
    ("floor", "**floor** = tokenise + hash + 5-grams", ""),
    ("featurize", "**dedup features stage** (featurize, chunks of 2,000)", ""),
    ("prepare", "  of which text preparation (comparison_items: compiled for plain ASCII)", ""),
    ("hash_texts", "  of which hash_texts (compiled tokeniser, BLAKE2b hashes, digests)", ""),
    ("rest", "  of which the rest (term counts, key facts, pruning, shingles, signatures)", "by difference"),
    ("regex_prepare", "text preparation by the regexes (comparison_item per article)", "the path it replaced"),
)


def ratios(s: dict[str, float]) -> dict[str, float]:
    return {
        "features / floor": s["featurize"] / s["floor"],
        "features / (bytes + floor)": s["featurize"] / (s["bytes"] + s["floor"]),
        "hash_texts / floor tokenise + hash": s["hash_texts"] / s["tokenise_hash"],
        "(features - text preparation) / floor": (s["featurize"] - s["prepare"]) / s["floor"],
    }


def markdown(meta: dict[str, Any], rec: dict[str, Any]) -> str:
    n, s, c = meta["n"], rec["seconds"], rec["counts"]
    lines = [
        "# The floor of the features stage: a compiled byte tokeniser against dedup's featurize",
        "",
        f"{meta['date']}, {meta['machine']}, {meta['cores']} cores; python {meta['python']}; {n:,} generated "
        f"articles (seed {meta['seed']}, {c['bytes_per_article']:,.0f} bytes each on average); one core "
        f"({rec['cpu']}), best of {meta['runs']} run(s), kernels warmed up first. Load average (1, 5, 15 min) "
        f"{meta['load_average_before']} before, {meta['load_average_after']} after (the machine is shared). "
        "Command: `" + meta["command"] + "`.",
        "",
        "| step | us/article | articles/s | note |",
        "|---|---|---|---|",
    ]
    for key, name, note in STEPS:
        lines.append(f"| {name} | {s[key] / n * 1e6:,.1f} | {n / s[key]:,.0f} | {note} |")
    r = meta["ratios"]
    lines += [
        "",
        f"**features / floor: {r['features / floor']:.1f}x** (aim: within 3x: "
        f"{'yes' if r['features / floor'] <= 3 else 'no'}).",
        "",
    ]
    lines += [f"* {k}: {v:.2f}x" for k, v in r.items()]
    lines += [
        "",
        f"Tokens per article: floor {c['floor_tokens_per_article']:,.1f}, dedup {c['dedup_tokens_per_article']:,.1f} "
        "(dedup keeps inner ' . - and digit groups in a token and leaves datelines and credit lines out); "
        f"floor 5-grams per article {c['floor_5grams_per_article']:,.1f}.",
    ]
    return "\n".join(lines) + "\n"


# --- main -----------------------------------------------------------------------


def warm_up(docs: list[dict]) -> float:
    """Compile the floor kernels and load (or compile) dedup's; returns the seconds."""
    t0 = time.perf_counter()
    buf, offsets = join_bytes([d["text"] for d in docs])
    toks, tok_offsets = tokenise_hash(buf, offsets)
    ngram_hashes(toks, tok_offsets, SHINGLE)
    featurize([Article(id=d["id"], text=d["text"]) for d in docs], Params())
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20_000, help="articles (default 20,000)")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3, help="best of this many runs (default 3)")
    ap.add_argument("--cpu", type=int, default=None, help="the CPU to pin to (default: the first allowed)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="results folder (default benchmarks/results)")
    args = ap.parse_args(argv)
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    cpu = min(os.sched_getaffinity(0)) if args.cpu is None else args.cpu
    docs = list(generate_articles(args.n, seed=args.seed))
    print(f"warm-up (compiling or loading the kernels): {warm_up(docs[:300]):.1f} s", flush=True)
    load_before = os.getloadavg()
    rec = measure(docs, args.runs, cpu)
    meta = run_meta(args, load_before, "floor.py", argv) | {"ratios": ratios(rec["seconds"])}
    rec["us_per_article"] = {k: v / args.n * 1e6 for k, v in rec["seconds"].items()}
    write_results(args.out, "floor", meta, rec, markdown(meta, rec))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
