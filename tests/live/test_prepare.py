"""An article's own features for the live index: the same featurised in a batch as alone."""

from __future__ import annotations

import numpy as np
import pytest

from dedup import Article
from dedup.features.featurize import featurize
from dedup.live.prepare import from_raw, prepare
from dedup.params import Params
from dedup.synth import generate_articles


@pytest.mark.parametrize("params", [Params(), Params(max_terms=48), Params(stem_length=4, max_terms=None)])
def test_prepared_in_a_batch_equal_each_alone(params, ecbplus_docs):
    arts = [Article(id=d["id"], text=d["text"], published=d["published"]) for d in generate_articles(60, seed=1)]
    arts += [Article(id=d["doc_id"], text=d["text"]) for d in ecbplus_docs[:80]]  # some with '&': the regex path
    arts += [Article(id="empty", text=""), Article(id="short", text="Quake kills 3 in Chile")]
    together = prepare(arts, params)
    for a, got in zip(arts, together, strict=True):
        want = from_raw(a, featurize([a], params))
        for field in ("cols", "df_cols", "counts", "shingle_sig"):
            x, y = getattr(got, field), getattr(want, field)
            assert x.dtype == y.dtype and np.array_equal(x, y), (a.id, field)
        assert (got.empty, got.n_terms, got.dropped) == (want.empty, want.n_terms, want.dropped), a.id
        assert got.ts == want.ts or (np.isnan(got.ts) and np.isnan(want.ts))
    assert not together[0].empty and together[-2].empty
