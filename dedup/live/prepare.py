"""An article's own features for the live index: the batch's per-article stages
(:func:`dedup.features.featurize.featurize`) on that article alone, so the result does not
depend on what else arrives with it (and can be computed in worker processes)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..article import Article, coerce_article
from ..features.counts import RawFeatures
from ..features.featurize import featurize
from ..params import Params
from .records import Prepared

__all__ = ["prepare", "prepare_job", "from_raw"]


def from_raw(a: Article, raw: RawFeatures) -> Prepared:
    """One article's own features, from :func:`featurize` of that article alone."""
    row = raw.counts
    cols = row.indices.astype(np.int32)
    counts = row.data.astype(np.float32)
    order = np.argsort(cols, kind="stable")
    cols, counts = cols[order], counts[order]
    ts = a.timestamp
    df_cols = raw.df_cols
    df_cols = cols if df_cols is None else np.sort(np.asarray(df_cols, dtype=np.int32))  # sorted: binary search
    return Prepared(
        article=a,
        ts=math.nan if ts is None else float(ts),
        cols=cols,
        df_cols=df_cols,
        counts=counts,
        shingle_sig=raw.shingle_signatures[0],
        empty=bool(raw.empty[0]),
        n_terms=int(raw.terms_per_row()[0]),
        dropped=0.0 if raw.dropped is None else float(raw.dropped[0]),
    )


def prepare(articles: Sequence[Article], params: Params) -> list[Prepared]:
    """Per-article features, each article featurised on its own."""
    return [from_raw(a, featurize([a], params)) for a in articles]


def prepare_job(job: tuple[list[dict], Params]) -> list[Prepared]:
    """Features of articles sent as plain dicts to a worker process (the
    article itself stays with the caller: ``article`` is None)."""
    dicts, params = job
    out = []
    for d in dicts:
        prep = from_raw(coerce_article(d, d["id"]), featurize([coerce_article(d, d["id"])], params))
        prep.article = None
        out.append(prep)
    return out
