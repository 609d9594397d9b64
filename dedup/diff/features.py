"""Content-word features for paraphrase-robust similarity of paragraphs and sentences.

Why not shingles: a rewrite shares few exact phrases with its original (see
DESIGN.md), so similarity here is a cosine over TF-IDF weighted *content
stems*: folded tokens (:func:`dedup.text.normalise.fold` / ``tokenize``), stop
words left out, each word cut to its first ``stem_length`` characters
(``guarantees``/``guaranteed`` -> ``guara``, ``Zelenskyy``/``Zelenskiy`` ->
``zelen``). Truncation is a crude but language-agnostic stemmer that also
absorbs transliteration variants of names. IDF is fitted on the sentences of
the two documents being compared, so terms both documents repeat everywhere
(the story's topic words) weigh less than the specific facts that tell
sentences apart.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from dedup.text.normalise import fold, tokenize

__all__ = ["stop_words", "content_terms", "cosine_pairs", "tfidf_rows"]


@functools.cache
def stop_words() -> frozenset[str]:
    """scikit-learn's English stop words, with the reporting verbs and
    attribution words that are everywhere in news and say nothing about
    which fact a sentence carries (loaded on first use: importing
    scikit-learn costs 130 MB, which the batch and the live index need not pay)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | frozenset(
        ["said", "says", "say", "told", "tell", "according", "report", "reported", "reports", "reportedly"]
        + ["also", "would", "could", "may", "might"]
    )


def content_terms(text: str, *, stem_length: int = 5) -> list[str]:
    """Stemmed content words of ``text`` (stop words and 1-letter tokens left out)."""
    out: list[str] = []
    stop = stop_words()
    for tok in tokenize(fold(text)):
        if tok in stop or (len(tok) < 2 and not tok.isdigit()):
            continue
        out.append(tok if tok[0].isdigit() else tok[:stem_length])
    return out


def tfidf_rows(docs: Sequence[Sequence[str]]) -> tuple[sp.csr_matrix, np.ndarray]:
    """Sublinear-tf TF-IDF rows (L2-normalised) for term lists, and each row's
    raw term count (its content weight). Empty rows stay zero."""
    vocab: dict[str, int] = {}
    indptr = [0]
    indices: list[int] = []
    for terms in docs:
        for t in terms:
            j = vocab.get(t)
            if j is None:
                j = vocab[t] = len(vocab)
            indices.append(j)
        indptr.append(len(indices))
    n = len(docs)
    data = np.ones(len(indices), dtype=np.float64)
    m = sp.csr_matrix(
        (data, np.asarray(indices, dtype=np.int64), np.asarray(indptr, dtype=np.int64)), shape=(n, max(len(vocab), 1))
    )
    m.sum_duplicates()
    counts = np.diff(np.asarray(indptr))
    if m.nnz:
        df = np.bincount(m.indices, minlength=m.shape[1])
        idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
        m.data = (1.0 + np.log(m.data)) * idf[m.indices]
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        m = sp.csr_matrix(sp.diags(1.0 / norms) @ m)
    return m, counts


# Largest dense term matrix (rows x vocabulary) worth making instead of a sparse
# one: on news-length pairs scipy.sparse's per-call overhead is most of the time.
_DENSE_CELLS = 2_000_000


def cosine_pairs(
    docs_a: Sequence[Sequence[str]], docs_b: Sequence[Sequence[str]], threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(i, j, cosine)`` of the pairs ``docs_a[i]``, ``docs_b[j]`` with cosine
    >= ``threshold`` (> 0), TF-IDF fitted on both lists together."""
    docs = list(docs_a) + list(docs_b)
    n_a = len(docs_a)
    vocab: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    for k, terms in enumerate(docs):
        for t in terms:
            cols.append(vocab.setdefault(t, len(vocab)))
            rows.append(k)
    if not n_a or n_a == len(docs) or not cols or len(docs) * len(vocab) > _DENSE_CELLS:
        m, _ = tfidf_rows(docs)
        sim = (m[:n_a] @ m[n_a:].T).tocoo()
        keep = sim.data >= max(threshold, 1e-12)
        return sim.row[keep], sim.col[keep], sim.data[keep]
    tf = np.zeros((len(docs), len(vocab)))
    np.add.at(tf, (np.asarray(rows), np.asarray(cols)), 1.0)
    present = tf > 0
    idf = np.log((1.0 + len(docs)) / (1.0 + present.sum(axis=0))) + 1.0
    w = np.where(present, 1.0 + np.log(np.where(present, tf, 1.0)), 0.0) * idf
    norms = np.linalg.norm(w, axis=1)
    w /= np.where(norms == 0, 1.0, norms)[:, None]
    sim = w[:n_a] @ w[n_a:].T
    i, j = np.nonzero(sim >= max(threshold, 1e-12))
    return i, j, sim[i, j]
