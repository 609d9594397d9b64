"""An article's own features for the live index: the batch's per-article stages
(:func:`dedup.features.featurize.featurize`) on that article alone, so the result does not
depend on what else arrives with it (and can be computed in worker processes)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from ..article import Article, coerce_article
from ..features.counts import RawFeatures
from ..features.featurize import featurize_rows
from ..params import Params
from .records import Prepared

__all__ = ["prepare", "prepare_job", "from_raw"]


def from_raw(a: Article, raw: RawFeatures, k: int = 0, unpruned: sp.csr_matrix | None = None) -> Prepared:
    """Article ``a``'s own features: row ``k`` of :func:`featurize` (of it alone,
    or of a batch by :func:`featurize_rows`, whose ``unpruned`` counts give
    the columns it adds to the document frequencies)."""
    lo, hi = raw.counts.indptr[k], raw.counts.indptr[k + 1]
    cols = raw.counts.indices[lo:hi].astype(np.int32)
    counts = raw.counts.data[lo:hi].astype(np.float32)
    if not _ascending(cols):  # featurize's rows come column-sorted
        order = np.argsort(cols, kind="stable")
        cols, counts = cols[order], counts[order]
    ts = a.timestamp
    if unpruned is not None:
        df_cols = unpruned.indices[unpruned.indptr[k] : unpruned.indptr[k + 1]].astype(np.int32)
        df_cols = df_cols if _ascending(df_cols) else np.sort(df_cols)
    else:
        df_cols = cols if raw.df_cols is None else np.sort(np.asarray(raw.df_cols, dtype=np.int32))
    return Prepared(
        article=a,
        ts=math.nan if ts is None else float(ts),
        cols=cols,
        df_cols=df_cols,
        counts=counts,
        shingle_sig=raw.shingle_signatures[k],
        empty=bool(raw.empty[k]),
        n_terms=int(raw.terms_per_row()[k]),
        dropped=0.0 if raw.dropped is None else float(raw.dropped[k]),
    )


def _ascending(cols: np.ndarray) -> bool:
    """Whether ``cols`` is strictly ascending (sorted, no column twice)."""
    return bool(len(cols) < 2 or (cols[1:] > cols[:-1]).all())


def prepare(articles: Sequence[Article], params: Params) -> list[Prepared]:
    """Per-article features: featurised together, each row what the article
    gives alone (no step of :func:`featurize` mixes rows, bar the document
    frequencies, which come per row from the unpruned counts)."""
    if not articles:
        return []
    raw, unpruned = featurize_rows(articles, params)
    return [from_raw(a, raw, k, unpruned) for k, a in enumerate(articles)]


def prepare_job(job: tuple[list[dict], Params]) -> list[Prepared]:
    """Features of articles sent as plain dicts to a worker process (the
    article itself stays with the caller: ``article`` is None)."""
    dicts, params = job
    out = prepare([coerce_article(d, d["id"]) for d in dicts], params)
    for prep in out:
        prep.article = None
    return out
