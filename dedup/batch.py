"""The batch path: :func:`cluster_articles` runs the stages in order over a
whole corpus, chunked and in worker processes where it pays.

Not a stage of its own: it calls text -> features -> sketch -> scoring ->
linkage. Articles are first put in a canonical order -- publication time,
then a digest of the comparison text, then id -- so that everything
downstream (bucket neighbours, tie-breaks) is independent of the input order.
The pair stages hold each feature only while needed (:class:`PairStages`);
large arrays wait in temporary files meanwhile (:mod:`dedup._sysmem`).
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import replace
from itertools import islice
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._sysmem import RowFile, SpilledArray, release_freed_memory
from .arrays import in_order, usable_cpus
from .article import Article, Clustering, Rejected, iter_articles
from .features.counts import RawFeatures
from .features.featurize import featurize_texts
from .features.weights import Features, weigh
from .linkage import build_clusters, link
from .params import Params
from .scoring import ScoredPairs, score_pairs, story_scores
from .sketch.lsh import candidate_pairs, code_pairs, lsh_views, pair_codes, unique_codes
from .sketch.minhash import pair_jaccard
from .text.tokens import comparison_source

__all__ = [
    "cluster_articles",
    "canonical_order",
    "featurize_many",
    "featurize_parts",
    "compute_features",
    "weigh_batch",
    "find_candidates",
    "SPILL_BYTES",
    "PairStages",
    "RowFile",
]


def cluster_articles(
    articles: Iterable[Any],
    *,
    errors: str = "warn",
    params: Params | None = None,
    keep_text: bool = True,
    **kwargs: Any,
) -> Clustering:
    """Group articles into stories.

    Parameters
    ----------
    articles : iterable of str, dict or Article
        Dicts use the keys ``id``, ``text``, ``title``, ``source``, ``url``,
        ``published``, ``metadata`` (other keys go to metadata). Missing ids
        are the input position as a string.
    errors : {"warn", "raise", "ignore"}, default "warn"
        What to do with a record that cannot be used (text that is not a
        string, a duplicate id, ...): leave it out with a warning that names
        it, raise :class:`~dedup.ArticleError`, or leave it out silently.
        Left-out records are listed in ``Clustering.rejected``.
    params : Params, optional
        All pipeline parameters at once (e.g. shared with a StoryIndex).
    keep_text : bool, default True
        Whether the clusters' articles keep their text. ``False`` releases
        each text once featurised (``text`` is then ``""``; the rest is
        kept): a generator over a file too big for memory clusters in memory
        proportional to its features. ``articles`` is read once, in chunks.
    **kwargs
        Pipeline parameters by name, overriding ``params``; see
        :class:`dedup.Params` for each and its default.

    Returns
    -------
    Clustering
        A sequence of :class:`~dedup.Cluster`; every accepted article is in
        exactly one. Articles without usable text are singletons flagged
        ``"empty"``. The result does not depend on the input order.

    Notes
    -----
    Memory is the batch's signatures (2 KB per article) plus the articles;
    term rows (4 KB per news-length article) past 1 GiB live in temporary
    files (``TMPDIR``; up to 8 GB of disk at a million articles), read back a
    block at a time. Each feature goes once its stage is done (:class:`PairStages`).
    """
    if params is not None and not isinstance(params, Params):
        raise TypeError(f"params must be a dedup.Params, got {type(params).__name__}")
    p = Params.from_kwargs(**kwargs) if params is None else (params.with_(**kwargs) if kwargs else params)
    rejected: list[Rejected] = []
    arts, features = compute_features(iter_articles(articles, errors, rejected), p, keep_text=keep_text)
    if not arts:
        return Clustering(clusters=(), rejected=tuple(rejected))
    stages = PairStages(features, p)  # each feature held only while a stage needs it
    del features
    stages.candidates()
    scored = stages.story(stages.verify())
    labels = link(len(arts), scored, p)
    clusters = build_clusters(arts, labels, scored, p, empty=stages.empty)
    return Clustering(clusters=tuple(clusters), rejected=tuple(rejected))


FEATURIZE_CHUNK = 2000
"""Articles featurised together: big enough to amortise the calls, small
enough that featurize's sorts stay in cache (10,000 at once is 1.4x slower)."""


def canonical_order(articles: Sequence[Article], digests: Sequence[bytes]) -> np.ndarray:
    """Indices that sort articles by (publication time, text digest, id)."""

    def key(i: int) -> tuple[float, bytes, str]:
        ts = articles[i].timestamp
        return (math.inf if ts is None else ts, digests[i], articles[i].id)

    return np.array(sorted(range(len(articles)), key=key), dtype=np.int64)


def _featurize_job(job: tuple[list[str], Params]) -> RawFeatures:
    return featurize_texts(*job)


def featurize_many(articles: Sequence[Article], params: Params, chunk_size: int = FEATURIZE_CHUNK) -> RawFeatures:
    """:func:`featurize` over chunks (so token lists never pile up), in
    ``params.n_jobs`` worker processes when there is enough work."""
    _, parts = featurize_parts(articles, params, chunk_size=chunk_size)
    return RawFeatures.concat(parts)


def featurize_parts(
    articles: Iterable[Article],
    params: Params,
    *,
    chunk_size: int = FEATURIZE_CHUNK,
    keep_text: bool = True,
    spill: RowFile | None = None,
) -> tuple[list[Article], list[RawFeatures]]:
    """The per-article stages over ``articles`` (any iterable: it is read a
    chunk at a time), in ``params.n_jobs`` worker processes when there is
    more than one chunk. Returns the articles as read and one
    :class:`RawFeatures` per chunk; the first part carries the document
    frequencies of all (``df_cols``/``df_vals``), the others none.

    Workers are sent only the comparison texts (plain strings: cheap to
    pickle) and return compact arrays. With ``keep_text=False`` each article
    is kept without its text once the text is on its way to featurisation
    (:func:`cluster_articles`'s ``keep_text``).

    With ``spill``, once the parts' term counts pass :data:`SPILL_BYTES`
    they are moved into it, and so is every later part's as it arrives: the
    parts then hold no counts (:func:`weigh_batch` with ``counts=spill``
    reads them back a block at a time)."""
    workers = usable_cpus() if params.n_jobs == -1 else params.n_jobs
    source = iter(articles)
    kept: list[Article] = []
    # Document frequencies are folded into one dense array as chunks arrive
    # (a chunk's sparse copies would add up to gigabytes).
    df = np.zeros(params.n_features, dtype=np.float64)
    none_i, none_f = np.zeros(0, np.int64), np.zeros(0, np.float64)

    def fold(part: RawFeatures) -> RawFeatures:
        df[part.df_cols] += part.df_vals  # columns are unique within a part
        return replace(part, df_cols=none_i, df_vals=none_f)

    def texts() -> Iterator[list[str]]:
        while chunk := list(islice(source, chunk_size)):
            yield [comparison_source(a) for a in chunk]
            kept.extend(chunk if keep_text else (a.without_text() for a in chunk))

    chunks = texts()
    first = next(chunks, None)
    second = next(chunks, None) if first is not None else None
    if first is None:
        results: Iterable[RawFeatures] = [featurize_texts([], params)]
    elif workers > 1 and second is not None:
        results = _featurize_in_pool(_chain_one(first, _chain_one(second, chunks)), params, workers)
    else:
        rest = _chain_one(second, chunks) if second is not None else iter(())
        results = (featurize_texts(t, params) for t in _chain_one(first, rest))
    parts = _kept_parts((fold(part) for part in results), spill)
    df_cols = np.flatnonzero(df)
    parts[0] = replace(parts[0], df_cols=df_cols, df_vals=df[df_cols])
    return kept, parts


def _kept_parts(results: Iterable[RawFeatures], spill: RowFile | None) -> list[RawFeatures]:
    """The parts as they come; with ``spill``, their term counts moved into it
    once they pass :data:`SPILL_BYTES`, and every later part's as it arrives."""
    parts: list[RawFeatures] = []
    held = 0  # bytes of term counts in the parts
    for part in results:
        parts.append(part)
        held += part.counts.data.nbytes + part.counts.indices.nbytes
        if spill is not None and spill.n_rows:  # the counts wait in the file: this part's follow
            parts[-1] = _spill_counts(part, spill)
        elif spill is not None and held > SPILL_BYTES:  # from now on
            parts[:] = [_spill_counts(q, spill) for q in parts]
    return parts


def _spill_counts(part: RawFeatures, spill: RowFile) -> RawFeatures:
    """``part`` with its term counts moved into ``spill`` (its rows' term numbers kept)."""
    spill.append(part.counts)
    n_terms = part.terms_per_row()
    return replace(part, counts=sp.csr_matrix(part.counts.shape, dtype=part.counts.dtype), n_terms=n_terms)


def _featurize_in_pool(chunks: Iterator[list[str]], params: Params, workers: int) -> Iterator[RawFeatures]:
    """:func:`featurize_texts` of each chunk of texts in worker processes, in
    order. At most two chunks per worker are in flight: texts are copied for
    a worker only shortly before it needs them."""
    with ProcessPoolExecutor(max_workers=workers) as pool:
        first = True

        def submit(texts: list[str]) -> Future[RawFeatures]:
            nonlocal first
            if not first:
                return pool.submit(_featurize_job, (texts, params))
            first = False
            # The workers are forked at the first submit: with the parent's
            # objects frozen out of the garbage collector, a worker's
            # collections do not touch (and copy) the pages of the articles.
            gc.freeze()
            try:
                return pool.submit(_featurize_job, (texts, params))
            finally:
                gc.unfreeze()

        yield from in_order(submit, chunks, 2 * workers)


def _chain_one(head: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield head
    yield from rest


def compute_features(
    articles: Iterable[Article], params: Params, *, keep_text: bool = True
) -> tuple[list[Article], Features]:
    """Features of a batch, with the articles put in canonical order.
    ``articles`` is read once, a chunk at a time (:func:`featurize_parts`)."""
    counts = RowFile(params.n_features, np.float32)  # used only by a large batch
    arts, parts = featurize_parts(articles, params, keep_text=keep_text, spill=counts)
    return weigh_batch(arts, parts, params, counts=counts)


def weigh_batch(
    arts: list[Article], parts: list[RawFeatures], params: Params, *, counts: RowFile | None = None
) -> tuple[list[Article], Features]:
    """The second half of :func:`compute_features`: the parts stacked
    (``parts`` ends empty) and weighed in place, the articles in canonical
    order; terms only one article has are dropped from the TF-IDF rows.
    ``counts`` is :func:`featurize_parts`' ``spill``: when the term counts
    went there, the TF-IDF rows go to a file too (:attr:`Features.tfidf_file`)."""
    order = canonical_order(arts, [d for p in parts for d in p.digests])
    ordered = [arts[i] for i in order]
    raw = RawFeatures.stack(parts)
    # a large batch's shingle signatures wait in a temporary file while the
    # term signatures are made: the rows, both matrices and the articles
    # would otherwise meet in memory here
    sh = raw.shingle_signatures
    parked = SpilledArray(sh) if sh.nbytes > SPILL_BYTES // 2 else None
    if parked is not None:
        raw = replace(raw, shingle_signatures=np.zeros((raw.n, 0), dtype=sh.dtype))
    del sh
    in_file = counts if counts is not None and counts.n_rows else None
    features = weigh(
        raw, [a.timestamp for a in ordered], params, copy=False, order=order, drop_unshared=True, counts_file=in_file
    )
    del raw
    release_freed_memory()
    if parked is not None:
        from .arrays import permute_rows

        sh = parked.load()
        permute_rows(sh, np.asarray(order, dtype=np.int64))
        features = replace(features, shingle_signatures=sh)
    return ordered, features


def find_candidates(features: Features, params: Params) -> np.ndarray:
    """Candidate pairs from the term view (rewrites) and the shingle view (copies)."""
    return merged_pairs([view_codes(features, params, view) for view in VIEWS], features.n)


VIEWS = ("term", "shingle")


def view_codes(features: Features, params: Params, view: str) -> np.ndarray:
    """One view's candidate pairs (:data:`VIEWS`: the term signatures'
    or the shingle signatures') as codes ``i * n + j``: the views' pairs are
    merged as codes (:func:`merged_pairs`), so only one ``(m, 2)`` array is
    ever built."""
    term = view == VIEWS[0]
    (_, b, r) = lsh_views(params)[0 if term else 1]
    p = candidate_pairs(
        features.term_signatures if term else features.shingle_signatures,
        b,
        r,
        max_partners=params.max_partners if term else None,
        min_bands=params.min_bands if term else 1,
        valid=~features.empty,
        max_bucket_size=params.max_bucket_size,
        neighbours=params.bucket_neighbours,
        timestamps=features.timestamps,
        window_seconds=None if params.time_window is None else params.time_window.total_seconds(),
    )
    codes = pair_codes(p, features.n)
    del p
    release_freed_memory()
    return codes


def merged_pairs(codes: list[np.ndarray], n: int) -> np.ndarray:
    """The distinct pairs of the views' codes (``codes`` ends empty)."""
    all_codes = np.concatenate(codes)
    codes.clear()
    pairs = code_pairs(unique_codes(all_codes), n)
    del all_codes
    release_freed_memory()
    return pairs


SPILL_BYTES = 1 << 30


class PairStages:
    """The pair stages of a batch -- candidates, verification, story score --
    each feature held only while a stage needs it.

    At a million articles the features are most of the memory: TF-IDF rows
    (about 4 GB), term and shingle signatures (1 GB each). Here the term
    signatures go once the candidates are found, the shingle signatures
    once their Jaccard is taken, the rows once their cosines are. Rows
    larger than ``spill_bytes`` wait in a temporary file (in ``spill_dir``,
    default the system's temporary folder: :class:`dedup._sysmem.RowFile`),
    and verification reads them from it a block at a time
    (:func:`dedup.scoring.score_pairs`); a large batch's rows are there
    from the start (:attr:`Features.tfidf_file`). The scores are the same
    either way.

    Give it the only reference to the features (``del`` yours), then call
    :meth:`candidates`, :meth:`verify` and :meth:`story` in turn."""

    def __init__(
        self, features: Features, params: Params, *, spill_bytes: int | None = SPILL_BYTES, spill_dir: str | None = None
    ) -> None:
        self.params = params
        self.n = features.n
        self.n_terms, self.empty = features.n_terms, features.empty
        self._features: Features | None = features
        self._spill_bytes, self._spill_dir = spill_bytes, spill_dir
        self._pairs: np.ndarray | None = None

    def _take(self) -> Features:
        if self._features is None:
            raise RuntimeError("PairStages: call candidates(), verify() and story() once each, in that order")
        return self._features

    def candidates(self) -> np.ndarray:
        """:func:`find_candidates`; the term signatures are dropped after."""
        f = self._take()
        if self._pairs is not None:
            raise RuntimeError("PairStages: candidates() was called already")
        x = f.tfidf
        if (
            f.tfidf_file is None
            and self._spill_bytes is not None
            and x.data.nbytes + x.indices.nbytes > self._spill_bytes
        ):
            rows = RowFile(x.shape[1], x.dtype, dir=self._spill_dir)
            rows.append(x)
            if rows.spilled:
                f = self._features = replace(f, tfidf=sp.csr_matrix((0, x.shape[1]), dtype=x.dtype), tfidf_file=rows)
            else:
                rows.close()
        del x
        # the shingle signatures wait in a file while the term view runs,
        # and the term signatures are gone before they come back
        sh = f.shingle_signatures
        parked = None
        if self._spill_bytes is not None and sh.nbytes > self._spill_bytes // 2:
            parked = SpilledArray(sh, self._spill_dir)
            f = replace(f, shingle_signatures=np.zeros((self.n, 0), dtype=np.uint32))
        self._features = None
        del sh
        release_freed_memory()
        codes = [view_codes(f, self.params, VIEWS[0])]
        f = replace(f, term_signatures=np.zeros((self.n, 0), dtype=np.uint32))
        if parked is not None:
            f = replace(f, shingle_signatures=parked.load())
        codes.append(view_codes(f, self.params, VIEWS[1]))
        self._features = f
        self._pairs = merged_pairs(codes, self.n)
        return self._pairs

    def verify(self) -> ScoredPairs:
        """:func:`score_pairs` of the candidates; the features are let go."""

        f = self._take()
        if self._pairs is None:
            raise RuntimeError("PairStages: call candidates() before verify()")
        pairs, self._pairs = self._pairs, None
        jac = pair_jaccard(f.shingle_signatures, pairs)
        f = replace(f, shingle_signatures=np.zeros((self.n, 0), dtype=np.uint32))
        self._features = None
        release_freed_memory()
        try:
            return score_pairs(f, pairs, self.params, jaccard=jac)
        finally:
            if f.tfidf_file is not None:
                f.tfidf_file.close()

    def story(self, scored: ScoredPairs) -> ScoredPairs:
        """:func:`story_scores`."""
        return story_scores(scored, self.n_terms, self.params)
