"""The stages of :func:`dedup.cluster_spark`, one Spark step each.

Every step hands the per-article or per-group work to the function the
in-memory path calls, so a change there flows here:

1. **validate** (``mapInPandas``): each row through
   :func:`dedup.article.coerce_article`, with its input position as the
   default id; duplicate ids found by a ``groupBy`` (the first position
   wins, as in :func:`dedup.pipeline.prepare_articles`).
2. **featurize** (``mapInPandas``): :func:`dedup.pipeline.featurize` per
   batch (each row keeps its distinct-term count and, with
   ``Params.max_terms``, the squared weight it pruned); each task also emits
   its document frequencies, summed over the cluster by a tree reduction
   and broadcast. (The background prior depends on the parameters alone:
   each executor computes it, :func:`dedup.verify.background_prior`.)
3. **canonical order**: a global sort on (publication time, digest, id) --
   the key of :func:`dedup.pipeline.canonical_order` -- and ranks from the
   partition offsets. Ranks are the row indices of the in-memory path.
4. **weigh** (``mapInPandas``): :func:`dedup.pipeline.weigh` with the
   corpus-wide ``document_frequency``; then the band keys of both LSH views
   (:func:`dedup.candidates.band_keys`).
5. **candidates** (``groupBy(view, band, key-bucket).applyInPandas``): the
   members of each bucket in rank order through the same capped bucketing
   and time window as :func:`dedup.candidates.candidate_pairs` and
   :func:`dedup.candidates.within_window`; pairs made unique. With
   ``Params.max_partners`` (:func:`top_partners`), the term view's pairs
   get their bands in common (signatures compared by blocks of ranks) and
   each article keeps its best partners by a window rank over both
   directions of every pair, as :func:`dedup.candidates.top_partner_pairs`.
6. **verify** (``cogroup.applyInPandas``): pairs by block of ``block_size``
   ranks; each block holds its rows plus the rows its pairs borrow from other
   blocks, and scores them with :func:`dedup.pipeline.score_pairs` (cosine,
   Jaccard, shared terms of short pairs) and the per-pair short-text step of
   :func:`dedup.verify.story_similarity`.
7. **story score** (:func:`story_scores`): the neighbourhood blend of
   :func:`dedup.pipeline.story_scores`. Each article's neighbour profile
   (top partners by a window rank over both directions of every pair, made
   symmetric by a ``groupBy`` max, self weight 1) is L2-normalised by the
   same function as in memory, joined to both ends of each pair, and the
   pair's dot product taken by :func:`dedup.verify.pair_cosine`: entries in
   column order, so the sums -- and the scores -- are bit for bit those in
   memory.
8. **components**: connected components of the pairs with a story score at
   or above the threshold, by min-label propagation with pointer jumping in DataFrame
   joins. Every linkage merges only along such pairs (a group's mean or
   minimum similarity to another reaches the threshold only if one of their
   pairs does), so clusters never cross these components.
9. **link** (``cogroup.applyInPandas``): per component, its members and all
   its scored pairs, in rank order, through :func:`dedup.cluster.link` and
   :func:`dedup.cluster.build_clusters`.
"""

from __future__ import annotations

import json
import math
import warnings
from datetime import datetime, timezone
from typing import Any, Iterator

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .. import candidates as cand
from ..article import Article, ArticleError, coerce_article
from ..cluster import build_clusters, link
from ..minhash import EMPTY
from ..params import Params
from ..pipeline import DedupWarning, Features, RawFeatures, ScoredPairs, featurize, lsh_views, score_pairs, weigh
from ..verify import blend_neighbourhood, pair_cosine, story_similarity

try:
    from pyspark import StorageLevel
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql import functions as F
    from pyspark.sql import types as T
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the install
    raise ModuleNotFoundError(
        "dedup.spark needs pyspark, pyarrow and pandas: pip install 'dedup[spark]'", name="pyspark"
    ) from exc

__all__ = ["run"]

_SCORES_TYPE = "array<struct<other:string,score:double,cosine:double,jaccard:double>>"
_BUCKET_ROWS = 500_000  # band-key rows per bucketing group, at most about
_GROUPS_PER_PARTITION = 4


# --- helpers ------------------------------------------------------------------

def _none(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if v is pd.NaT or (not isinstance(v, (str, bytes, list, dict)) and pd.isna(v) is True):
        return None
    return v


def _csr(idx: list[bytes], val: list[bytes], n_features: int) -> sp.csr_matrix:
    cols = [np.frombuffer(b, dtype=np.int32) for b in idx]
    vals = [np.frombuffer(b, dtype=np.float32) for b in val]
    indptr = np.zeros(len(cols) + 1, dtype=np.int64)
    np.cumsum([len(c) for c in cols], out=indptr[1:])
    indices = np.concatenate(cols) if cols else np.zeros(0, np.int32)
    data = np.concatenate(vals) if vals else np.zeros(0, np.float32)
    return sp.csr_matrix((data, indices, indptr), shape=(len(cols), n_features))


def _rows_of(m: sp.csr_matrix) -> tuple[list[bytes], list[bytes]]:
    m = m.tocsr()
    ind = m.indices.astype(np.int32)
    dat = m.data.astype(np.float32)
    p = m.indptr
    return ([ind[p[k]:p[k + 1]].tobytes() for k in range(m.shape[0])],
            [dat[p[k]:p[k + 1]].tobytes() for k in range(m.shape[0])])


def _sigs(blobs: list[bytes], num_perm: int) -> np.ndarray:
    if not len(blobs):
        return np.zeros((0, num_perm), dtype=np.uint32)
    return np.frombuffer(b"".join(blobs), dtype=np.uint32).reshape(len(blobs), num_perm)


def _offsets(df: DataFrame) -> dict[int, int]:
    """First global index of each Spark partition (``_pid`` column) of ``df``."""
    counts = dict(df.groupBy("_pid").count().collect())
    out, acc = {}, 0
    for pid in range(max(counts, default=-1) + 1):
        out[pid] = acc
        acc += counts.get(pid, 0)
    return out


# --- 1. validate -----------------------------------------------------------------

_VALID_SCHEMA = T.StructType([
    T.StructField("pos", T.LongType()), T.StructField("id", T.StringType()),
    T.StructField("reason", T.StringType()), T.StructField("text", T.StringType()),
    T.StructField("title", T.StringType()), T.StructField("ts", T.DoubleType()),
])


def _validate(offsets: dict[int, int], has_title: bool, has_pub: bool):
    def fn(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        seen: dict[int, int] = {}
        for b in batches:
            pids = b["_pid"].tolist()
            ids, texts = b["_id"].tolist(), b["_text"].tolist()
            titles = b["_title"].tolist() if has_title else [None] * len(b)
            pubs = b["_pub"].tolist() if has_pub else [None] * len(b)
            out = {k: [] for k in ("pos", "id", "reason", "text", "title", "ts")}
            for pid, raw_id, text, title, pub in zip(pids, ids, texts, titles, pubs):
                k = seen.get(pid, 0)
                seen[pid] = k + 1
                pos = offsets[pid] + k
                record = {"id": _none(raw_id), "text": _none(text)}
                if has_title:
                    record["title"] = _none(title)
                if has_pub:
                    record["published"] = _none(pub)
                try:
                    art = coerce_article(record, default_id=str(pos))
                    row = (art.id, None, art.text, art.title, art.timestamp)
                except ArticleError as exc:
                    shown = str(pos) if record["id"] in (None, "") else str(record["id"])
                    row = (shown, exc.reason, None, None, None)
                out["pos"].append(pos)
                for key, v in zip(("id", "reason", "text", "title", "ts"), row):
                    out[key].append(v)
            yield pd.DataFrame(out)
    return fn


def _prepare_input(df: DataFrame, id_col: str, text_col: str, title_col: str | None, published_col: str | None) -> DataFrame:
    """The input columns under fixed names (checked by :func:`dedup.spark.check_arguments`)."""
    fields = {f.name: f.dataType for f in df.schema.fields}
    idc = F.col(id_col)
    if isinstance(fields[id_col], T.IntegralType):
        idc = idc.cast("string")
    cols = [idc.alias("_id"), F.col(text_col).alias("_text")]
    if title_col is not None:
        cols.append(F.col(title_col).alias("_title"))
    if published_col is not None:
        pub = F.col(published_col)
        ptype = fields[published_col]
        if isinstance(ptype, (T.TimestampType, T.TimestampNTZType)):
            pub = F.unix_micros(pub.cast("timestamp")).cast("double") / 1e6
        elif isinstance(ptype, T.DateType):
            pub = F.unix_micros(F.to_utc_timestamp(pub.cast("timestamp"), F.current_timezone())).cast("double") / 1e6
        cols.append(pub.alias("_pub"))
    return df.select(*cols).withColumn("_pid", F.spark_partition_id())


# --- 2. featurize ------------------------------------------------------------------

_FEAT_SCHEMA = T.StructType([
    T.StructField("kind", T.ByteType()), T.StructField("pos", T.LongType()), T.StructField("id", T.StringType()),
    T.StructField("ts", T.DoubleType()), T.StructField("digest", T.BinaryType()), T.StructField("empty", T.BooleanType()),
    T.StructField("idx", T.BinaryType()), T.StructField("val", T.BinaryType()), T.StructField("sh_sig", T.BinaryType()),
    T.StructField("n_terms", T.LongType()), T.StructField("dropped", T.DoubleType()),
])
"""Rows of kind 0: one article's counts (``idx``/``val``), shingle signature,
distinct terms before pruning and pruned squared weight (null: not pruned).
One row of kind 1 per task: its document frequencies (``idx`` int64 columns,
``val`` float64 counts) and, in ``pos``, its number of articles."""


def _merge_stats(x: tuple, y: tuple) -> tuple:
    """Sum two ``(columns, document frequencies, articles)`` tuples."""
    (c1, v1, n1), (c2, v2, n2) = x, y
    uc, inv = np.unique(np.concatenate([c1, c2]), return_inverse=True)
    sums = np.zeros(len(uc), dtype=np.float64)
    np.add.at(sums, inv, np.concatenate([v1, v2]))
    return uc, sums, n1 + n2


def _featurize(params: Params):
    def fn(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        stats = (np.zeros(0, np.int64), np.zeros(0), 0)
        for b in batches:
            if not len(b):
                continue
            titles = b["title"].tolist()
            arts = [Article(id=i, text=t, title=_none(ti)) for i, t, ti in zip(b["id"].tolist(), b["text"].tolist(), titles)]
            raw = featurize(arts, params)
            idx, val = _rows_of(raw.counts)
            if raw.df_cols is not None:  # exact df counted by featurize (before any pruning)
                nz, dfv = np.asarray(raw.df_cols, np.int64), np.asarray(raw.df_vals, np.float64)
            else:
                df = raw.document_frequency()
                nz = np.flatnonzero(df).astype(np.int64)
                dfv = df[nz]
            stats = _merge_stats(stats, (nz, dfv, len(arts)))
            sh = np.ascontiguousarray(raw.shingle_signatures, dtype=np.uint32)
            yield pd.DataFrame({
                "kind": np.zeros(len(arts), np.int8), "pos": b["pos"].values, "id": b["id"].values,
                "ts": b["ts"].values, "digest": raw.digests, "empty": raw.empty,
                "idx": idx, "val": val, "sh_sig": [r.tobytes() for r in sh],
                "n_terms": np.asarray(raw.terms_per_row(), dtype=np.int64),
                "dropped": np.full(len(arts), np.nan) if raw.dropped is None else np.asarray(raw.dropped, np.float64),
            })
        c, v, n = stats
        yield pd.DataFrame({
            "kind": [np.int8(1)], "pos": [n], "id": [None], "ts": [None], "digest": [None], "empty": [None],
            "idx": [c.tobytes()], "val": [v.tobytes()], "sh_sig": [None], "n_terms": [None], "dropped": [None],
        })
    return fn


def _stats_of(row: Any) -> tuple:
    return np.frombuffer(row["idx"], np.int64), np.frombuffer(row["val"], np.float64), int(row["pos"])


# --- 4. weigh --------------------------------------------------------------------------

_WEIGHED_SCHEMA = T.StructType([
    T.StructField("rank", T.LongType()), T.StructField("pos", T.LongType()), T.StructField("id", T.StringType()),
    T.StructField("ts", T.DoubleType()), T.StructField("empty", T.BooleanType()),
    T.StructField("x_idx", T.BinaryType()), T.StructField("x_val", T.BinaryType()),
    T.StructField("term_sig", T.BinaryType()), T.StructField("sh_sig", T.BinaryType()),
    T.StructField("n_terms", T.LongType()),
])


def _weigh(params: Params, offsets: dict[int, int], bc_df: Any, n_docs: float):
    def fn(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        seen: dict[int, int] = {}
        for b in batches:
            if not len(b):
                continue
            pid = int(b["_pid"].iloc[0])
            if not (b["_pid"] == pid).all():  # pragma: no cover - one partition is one task
                raise RuntimeError("a batch spans Spark partitions")
            start = offsets[pid] + seen.get(pid, 0)
            seen[pid] = seen.get(pid, 0) + len(b)
            dropped = b["dropped"]  # null where featurize pruned nothing (Params.max_terms unset)
            raw = RawFeatures(
                counts=_csr(b["idx"].tolist(), b["val"].tolist(), params.n_features),
                shingle_signatures=_sigs(b["sh_sig"].tolist(), params.num_perm), digests=b["digest"].tolist(),
                empty=b["empty"].to_numpy(dtype=bool), n_terms=b["n_terms"].to_numpy(dtype=np.int64),
                dropped=None if dropped.isna().all() else dropped.to_numpy(dtype=np.float64, na_value=0.0))
            ts = [None if _none(t) is None else float(t) for t in b["ts"].tolist()]
            feats = weigh(raw, ts, params, document_frequency=(bc_df.value, n_docs))
            idx, val = _rows_of(feats.tfidf)
            term = np.ascontiguousarray(feats.term_signatures, dtype=np.uint32)
            yield pd.DataFrame({
                "rank": np.arange(start, start + len(b), dtype=np.int64), "pos": b["pos"].values,
                "id": b["id"].values, "ts": b["ts"].values, "empty": b["empty"].values,
                "x_idx": idx, "x_val": val, "term_sig": [r.tobytes() for r in term], "sh_sig": b["sh_sig"].values,
                "n_terms": np.asarray(feats.n_terms, dtype=np.int64),
            })
    return fn


# --- 5. candidates --------------------------------------------------------------------------

_KEYS_SCHEMA = "view byte, band int, key long, rank long, ts double"


def _band_keys(params: Params):
    views = lsh_views(params)

    def fn(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for b in batches:
            if not len(b):
                continue
            empty = b["empty"].to_numpy(dtype=bool)
            ranks = b["rank"].to_numpy(dtype=np.int64)
            ts = b["ts"].to_numpy(dtype=np.float64, na_value=np.nan)
            for v, (name, bands, rows) in enumerate(views):
                sig = _sigs(b["term_sig" if name == "term" else "sh_sig"].tolist(), params.num_perm)
                members = np.flatnonzero(~empty)
                members = members[~(sig[members] == EMPTY).all(axis=1)]
                if not len(members):
                    continue
                keys = cand.band_keys(sig[members], bands, rows)  # (m, bands) uint64
                m = len(members)
                yield pd.DataFrame({
                    "view": np.full(m * bands, v, np.int8),
                    "band": np.tile(np.arange(bands, dtype=np.int32), m),
                    "key": keys.reshape(-1).view(np.int64),
                    "rank": np.repeat(ranks[members], bands),
                    "ts": np.repeat(ts[members], bands),
                })
    return fn


def _bucket(params: Params):
    window = None if params.time_window is None else params.time_window.total_seconds()

    def fn(g: pd.DataFrame) -> pd.DataFrame:
        keys = g["key"].to_numpy(dtype=np.int64).view(np.uint64)
        ranks = g["rank"].to_numpy(dtype=np.int64)
        ts = g["ts"].to_numpy(dtype=np.float64, na_value=np.nan)
        order = np.lexsort((ranks, keys))  # buckets, members in rank (canonical) order
        local = np.arange(len(order), dtype=np.int64)
        pairs = cand.bucket_pairs(keys[order], local, params.max_bucket_size, params.bucket_neighbours)
        pairs = cand.within_window(pairs, ts[order], window)
        r = ranks[order]
        view = np.full(len(pairs), g["view"].iloc[0] if len(g) else 0, dtype=np.int8)
        return pd.DataFrame({"view": view, "i": r[pairs[:, 0]], "j": r[pairs[:, 1]]})
    return fn


def _term_view(params: Params) -> tuple[int, int, int]:
    """``(view number, bands, rows)`` of the term view in :func:`dedup.pipeline.lsh_views`."""
    for v, (name, bands, rows) in enumerate(lsh_views(params)):
        if name == "term":
            return v, bands, rows
    raise RuntimeError("lsh_views has no term view")  # pragma: no cover


def _keep_bands() -> int:
    """The ``keep_bands`` :func:`dedup.pipeline.find_candidates` uses: it does
    not pass one, so :func:`dedup.candidates.candidate_pairs`' default."""
    import inspect

    return int(inspect.signature(cand.candidate_pairs).parameters["keep_bands"].default)


def _shared_bands(params: Params):
    """Bands in common of each term-view pair of a block: the number of
    bands (``rows`` signature values each) in which the two term signatures
    agree, as :func:`dedup.candidates.top_partner_pairs` ranks partners
    (counted on the signature values, over all bands)."""
    _, bands, rows = _term_view(params)
    width = bands * rows
    step = 1 << 14  # pairs at a time: memory O(step * width)

    def fn(members: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
        if not len(pairs) or not len(members):
            return pd.DataFrame({"i": [], "j": [], "c": []})
        members = members.sort_values("rank", kind="stable")
        ranks = members["rank"].to_numpy(dtype=np.int64)
        sig = _sigs(members["term_sig"].tolist(), params.num_perm)[:, :width]
        i = pairs["i"].to_numpy(dtype=np.int64)
        j = pairs["j"].to_numpy(dtype=np.int64)
        li, lj = np.searchsorted(ranks, i), np.searchsorted(ranks, j)
        c = np.empty(len(i), dtype=np.int32)
        for lo in range(0, len(i), step):
            a = sig[li[lo:lo + step]].reshape(-1, bands, rows)
            b = sig[lj[lo:lo + step]].reshape(-1, bands, rows)
            c[lo:lo + len(a)] = (a == b).all(axis=2).sum(axis=1)
        return pd.DataFrame({"i": i, "j": j, "c": c})
    return fn


def top_partners(pairs: DataFrame, weighed: DataFrame, params: Params, block_size: int) -> DataFrame:
    """``(i, j)``: the term-view pairs :func:`dedup.candidates.top_partner_pairs`
    keeps with ``Params.max_partners`` = K. ``pairs`` are the banded term-view
    pairs without the limit (unique; the capped buckets and the time window
    applied), exactly the partners that function offers. Each pair gets its
    bands in common (:func:`_shared_bands`, by blocks of rows); each article
    ranks its partners (both directions of every pair) by bands in common,
    then by distance in canonical order (rank), then by the lower rank, and
    keeps the first K; a pair is kept when either article keeps it or when
    it has ``keep_bands`` bands in common or more."""
    from pyspark.sql.window import Window

    counted = _by_block(pairs, weighed, ("rank", "term_sig"), block_size) \
        .applyInPandas(_shared_bands(params), "i long, j long, c int")
    counted = counted.localCheckpoint()
    both = counted.select(F.col("i").alias("x"), F.col("j").alias("y"), "c").unionByName(
        counted.select(F.col("j").alias("x"), F.col("i").alias("y"), "c"))
    order = Window.partitionBy("x").orderBy(F.desc("c"), F.asc(F.abs(F.col("y") - F.col("x"))), F.asc("y"))
    top = both.withColumn("r", F.row_number().over(order)).filter(F.col("r") <= F.lit(params.max_partners)) \
        .select(F.least("x", "y").alias("i"), F.greatest("x", "y").alias("j"))
    sure = counted.filter(F.col("c") >= F.lit(_keep_bands())).select("i", "j")
    return top.unionByName(sure).distinct()


def _by_block(pairs: DataFrame, weighed: DataFrame, row_cols: tuple[str, ...], block_size: int) -> Any:
    """Pairs ``(i, j)`` grouped by block of ``block_size`` ranks of ``i``,
    cogrouped with the rows (columns ``row_cols``, ``rank`` first) each block
    needs: its own rows and those its pairs borrow from other blocks."""
    blk = F.lit(block_size).cast("long")
    with_block = pairs.select((F.col("i") / blk).cast("long").alias("block"), "i", "j")
    needed = with_block.filter((F.col("j") / blk).cast("long") != F.col("block")).select("block", F.col("j").alias("rank")).distinct()
    own = weighed.select((F.col("rank") / blk).cast("long").alias("block"), *row_cols)
    borrowed = needed.join(weighed.select(*row_cols), "rank").select("block", *row_cols)
    return own.unionByName(borrowed).groupBy("block").cogroup(with_block.groupBy("block"))


# --- 6. verify ------------------------------------------------------------------------------

_SCORED_SCHEMA = "i long, j long, cosine double, jaccard double, base double"


def _score(params: Params):
    """Cosine and Jaccard of a block's pairs (:func:`dedup.pipeline.score_pairs`,
    which also counts the shared terms of short pairs), and ``base``: the
    pair's score before the neighbourhood blend -- the short-text step of
    :func:`dedup.verify.story_similarity`, which is per pair."""
    def fn(rows: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
        if not len(pairs) or not len(rows):
            return pd.DataFrame({k: [] for k in ("i", "j", "cosine", "jaccard", "base")})
        rows = rows.sort_values("rank", kind="stable")
        ranks = rows["rank"].to_numpy(dtype=np.int64)
        x = _csr(rows["x_idx"].tolist(), rows["x_val"].tolist(), params.n_features)
        sig = _sigs(rows["sh_sig"].tolist(), params.num_perm)
        n_terms = rows["n_terms"].to_numpy(dtype=np.int64)
        pairs = pairs.sort_values(["i", "j"], kind="stable")
        i = pairs["i"].to_numpy(dtype=np.int64)
        j = pairs["j"].to_numpy(dtype=np.int64)
        local = np.stack([np.searchsorted(ranks, i), np.searchsorted(ranks, j)], axis=1)
        n = len(ranks)
        feats = Features(tfidf=x, term_signatures=np.zeros((n, 0), np.uint32), shingle_signatures=sig,
                         timestamps=None, empty=np.zeros(n, bool), n_terms=n_terms)
        s = score_pairs(feats, local, params)
        base = story_similarity(local, s.cosine, n_terms, n, short_text_terms=params.short_text_terms,
                                neighbourhood=0, shared=s.shared)
        return pd.DataFrame({"i": i, "j": j, "cosine": s.cosine, "jaccard": s.jaccard, "base": base})
    return fn


# --- 7. story score ------------------------------------------------------------------------

def neighbour_profiles(scored: DataFrame, k: int) -> DataFrame:
    """``(node, p_idx, p_val)``: each article's neighbour profile as in
    :func:`dedup.verify.neighbour_similarity` -- itself with weight 1 and its
    top-``k`` partners by ``base`` score among all scored pairs (positive
    scores only; ties to the lower rank), made symmetric (the larger value
    of a duplicate), L2-normalised by the same function, columns sorted.
    ``p_idx`` holds int64 ranks, ``p_val`` float64 values."""
    from pyspark.sql.window import Window

    edges = scored.select(F.col("i").alias("row"), F.col("j").alias("col"), F.col("base").alias("val")).unionByName(
        scored.select(F.col("j").alias("row"), F.col("i").alias("col"), F.col("base").alias("val"))
    ).filter(F.col("val") > 0)
    by_score = Window.partitionBy("row").orderBy(F.desc("val"), F.asc("col"))
    top = edges.withColumn("r", F.row_number().over(by_score)).filter(F.col("r") <= k).drop("r")
    nodes = scored.select(F.col("i").alias("row")).unionByName(scored.select(F.col("j").alias("row"))).distinct()
    entries = top.unionByName(top.select(F.col("col").alias("row"), F.col("row").alias("col"), "val")).unionByName(
        nodes.select("row", F.col("row").alias("col"), F.lit(1.0).alias("val")))
    prof = entries.groupBy("row", "col").agg(F.max("val").alias("val")) \
        .groupBy("row").agg(F.sort_array(F.collect_list(F.struct("col", "val"))).alias("e"))
    prof = prof.select(F.col("row").alias("node"), F.col("e.col").alias("cols"), F.col("e.val").alias("vals"))
    return prof.mapInPandas(_normalise_profiles, "node long, p_idx binary, p_val binary")


def _normalise_profiles(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """L2-normalise profile rows with scikit-learn's ``normalize``, the call
    :func:`dedup.verify.neighbour_similarity` makes (row by row, the squares
    added in column order)."""
    from sklearn.preprocessing import normalize

    for b in batches:
        if not len(b):
            continue
        cols = [np.asarray(c, dtype=np.int64) for c in b["cols"]]
        vals = [np.asarray(v, dtype=np.float64) for v in b["vals"]]
        indptr = np.zeros(len(cols) + 1, dtype=np.int64)
        np.cumsum([len(c) for c in cols], out=indptr[1:])
        indices = np.concatenate(cols)
        x = sp.csr_matrix((np.concatenate(vals), indices, indptr), shape=(len(cols), int(indices.max()) + 1))
        w = normalize(x, norm="l2")
        yield pd.DataFrame({
            "node": b["node"].to_numpy(dtype=np.int64),
            "p_idx": [c.tobytes() for c in cols],
            "p_val": [w.data[w.indptr[r]:w.indptr[r + 1]].tobytes() for r in range(len(cols))],
        })


def _blend(params: Params):
    """The linkage score of each pair: ``base`` blended with the dot product
    of the two neighbour profiles (:func:`dedup.verify.pair_cosine`, as in
    :func:`dedup.verify.neighbour_similarity`), as in
    :func:`dedup.verify.story_similarity`."""
    w = params.neighbourhood_weight

    def fn(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for b in batches:
            if not len(b):
                continue
            m = len(b)
            blobs_i = [np.frombuffer(v, np.int64) for pair in zip(b["pi_idx"], b["pj_idx"]) for v in pair]
            blobs_v = [np.frombuffer(v, np.float64) for pair in zip(b["pi_val"], b["pj_val"]) for v in pair]
            indptr = np.zeros(2 * m + 1, dtype=np.int64)
            np.cumsum([len(c) for c in blobs_i], out=indptr[1:])
            indices = np.concatenate(blobs_i)
            x = sp.csr_matrix((np.concatenate(blobs_v), indices, indptr),
                              shape=(2 * m, int(indices.max()) + 1 if len(indices) else 1))
            ns = pair_cosine(x, np.arange(2 * m, dtype=np.int64).reshape(m, 2))
            base = b["base"].to_numpy(dtype=np.float64)
            sim = blend_neighbourhood(base, ns, w)
            yield b[["i", "j", "cosine", "jaccard"]].assign(similarity=sim)
    return fn


def story_scores(scored: DataFrame, params: Params) -> DataFrame:
    """``(i, j, cosine, jaccard, similarity)``: :func:`dedup.pipeline.story_scores`
    on the engine. ``scored`` carries ``base`` (the short-text step, per pair);
    the neighbourhood blend needs every pair of both articles, so profiles are
    built by DataFrame operations and joined to the pairs."""
    if not params.blends_neighbourhood:
        return scored.select("i", "j", "cosine", "jaccard", F.col("base").alias("similarity"))
    prof = neighbour_profiles(scored, params.neighbourhood)
    pi = prof.select(F.col("node").alias("i"), F.col("p_idx").alias("pi_idx"), F.col("p_val").alias("pi_val"))
    pj = prof.select(F.col("node").alias("j"), F.col("p_idx").alias("pj_idx"), F.col("p_val").alias("pj_val"))
    joined = scored.join(pi, "i").join(pj, "j")
    return joined.mapInPandas(_blend(params), "i long, j long, cosine double, jaccard double, similarity double")


# --- 8. components -------------------------------------------------------------------------

def components(edges: DataFrame, max_iter: int = 100) -> DataFrame:
    """``(node, comp)``: the smallest node of each node's connected component,
    for every node of ``edges`` (columns ``i``, ``j``); DataFrame joins only."""
    both = edges.select(F.col("i").alias("src"), F.col("j").alias("dst")).union(
        edges.select(F.col("j").alias("src"), F.col("i").alias("dst"))).persist(StorageLevel.MEMORY_AND_DISK)
    labels = both.groupBy("src").agg(F.least(F.min("dst"), F.first("src")).alias("comp")) \
        .withColumnRenamed("src", "node").localCheckpoint()
    for _ in range(max_iter):
        hop = both.join(labels.withColumnRenamed("node", "src"), "src") \
            .groupBy("dst").agg(F.min("comp").alias("c2")).withColumnRenamed("dst", "node")
        stepped = labels.join(hop, "node", "left").select("node", F.least("comp", F.coalesce("c2", "comp")).alias("comp"))
        parent = stepped.select(F.col("node").alias("p"), F.col("comp").alias("pc"))
        jumped = stepped.join(parent, F.col("comp") == F.col("p"), "left") \
            .select("node", F.least("comp", F.coalesce("pc", "comp")).alias("comp")).localCheckpoint()
        changed = jumped.join(labels.withColumnRenamed("comp", "old"), "node").filter(F.col("comp") != F.col("old")).limit(1).count()
        labels = jumped
        if changed == 0:
            break
    else:  # pragma: no cover - needs a component of diameter ~2**100
        raise RuntimeError("connected components did not converge")
    both.unpersist()
    return labels


# --- 9. link ------------------------------------------------------------------------------

_LINK_SCHEMA = "id string, cluster string, representative boolean, version string, scores string, flags string, pos long"


def _utc(ts: float) -> datetime | None:
    return None if ts is None or math.isnan(ts) else datetime.fromtimestamp(ts, tz=timezone.utc)


def _link(params: Params):
    def fn(members: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
        out: dict[str, list] = {k: [] for k in ("id", "cluster", "representative", "version", "scores", "flags", "pos")}
        by_comp = dict(tuple(pairs.groupby("comp"))) if len(pairs) else {}
        for comp, m in members.groupby("comp"):
            m = m.sort_values("rank", kind="stable")
            ranks = m["rank"].to_numpy(dtype=np.int64)
            arts = [Article(id=i, text="", published=_utc(t))
                    for i, t in zip(m["id"].tolist(), m["ts"].to_numpy(dtype=np.float64, na_value=np.nan).tolist())]
            pos = dict(zip(m["id"].tolist(), m["pos"].tolist()))
            p = by_comp.get(comp)
            if p is None:
                p = pd.DataFrame({"i": [], "j": [], "cosine": [], "jaccard": [], "similarity": []})
            p = p.sort_values(["i", "j"], kind="stable")
            local = np.stack([np.searchsorted(ranks, p["i"].to_numpy(dtype=np.int64)),
                              np.searchsorted(ranks, p["j"].to_numpy(dtype=np.int64))], axis=1).reshape(-1, 2)
            scored = ScoredPairs(pairs=local, cosine=p["cosine"].to_numpy(dtype=np.float64),
                                 jaccard=p["jaccard"].to_numpy(dtype=np.float64),
                                 similarity=p["similarity"].to_numpy(dtype=np.float64))
            labels = link(len(arts), scored, params)
            empty = m["empty"].to_numpy(dtype=bool)
            for c in build_clusters(arts, labels, scored, params, empty=empty):
                version_of = {a.id: v.representative.id for v in c.versions for a in v.members}
                for a in c.members:
                    out["id"].append(a.id)
                    out["cluster"].append(c.id)
                    out["representative"].append(a.id == c.id)
                    out["version"].append(version_of[a.id])
                    out["scores"].append(json.dumps([
                        {"other": s.b if s.a == a.id else s.a, "score": s.score, "cosine": s.cosine,
                         "jaccard": s.jaccard}
                        for s in c.scores if a.id in (s.a, s.b)]))
                    out["flags"].append(",".join(sorted(c.flags)))
                    out["pos"].append(pos[a.id])
        return pd.DataFrame(out)
    return fn


# --- the run ------------------------------------------------------------------------------

def run(
    df: DataFrame,
    *,
    id_col: str = "id",
    text_col: str = "text",
    title_col: str | None = None,
    published_col: str | None = None,
    errors: str = "warn",
    params: Params | None = None,
    block_size: int = 10_000,
    timings: dict[str, float] | None = None,
    **kwargs: Any,
) -> DataFrame:
    """:func:`dedup.spark.cluster_spark`; ``timings``, when given, receives
    the wall time of each stage (seconds), for the benchmark."""
    import time

    from . import check_arguments

    p = check_arguments(df, id_col=id_col, text_col=text_col, title_col=title_col, published_col=published_col,
                        errors=errors, params=params, block_size=block_size, kwargs=kwargs)
    spark: SparkSession = df.sparkSession
    keep: list[DataFrame] = []
    clock = [time.perf_counter()]

    stages = iter(("featurize", "order", "weigh", "candidates", "verify", "story", "components", "link", "done"))
    spark.sparkContext.setJobDescription("dedup: validate")

    def lap(name: str) -> None:
        now = time.perf_counter()
        if timings is not None:
            timings[name] = timings.get(name, 0.0) + now - clock[0]
        clock[0] = now
        spark.sparkContext.setJobDescription(f"dedup: {next(stages, 'done')}")

    def hold(d: DataFrame) -> DataFrame:
        d = d.persist(StorageLevel.MEMORY_AND_DISK)
        keep.append(d)
        return d

    try:
        # 1. validate
        src = _prepare_input(df, id_col, text_col, title_col, published_col)
        offsets = _offsets(src)
        valid = hold(src.mapInPandas(_validate(offsets, title_col is not None, published_col is not None), _VALID_SCHEMA))
        ok = valid.filter(F.col("reason").isNull())
        dups = ok.groupBy("id").agg(F.min("pos").alias("first"), F.count("*").alias("copies")).filter("copies > 1")
        dups = hold(dups)
        ok = ok.join(F.broadcast(dups.select("id", "first")), "id", "left")
        dup_reason = F.format_string("duplicate id: input positions %d and %d both use it", F.col("first"), F.col("pos"))
        is_dup = F.col("first").isNotNull() & (F.col("pos") != F.col("first"))
        rejected = valid.filter(F.col("reason").isNotNull()).select("id", "pos", "reason").unionByName(
            ok.filter(is_dup).select("id", "pos", dup_reason.alias("reason")))
        rejected = hold(rejected)
        bad = rejected.orderBy("pos").limit(10_001).collect() if errors != "ignore" else []
        if bad and errors == "raise":
            raise ArticleError(repr(bad[0]["id"]), bad[0]["reason"])
        for r in bad[:10_000]:
            warnings.warn(f"article {r['id']!r}: {r['reason']} (input position {r['pos']}); left out", DedupWarning, stacklevel=3)
        good = ok.filter(~is_dup).select("pos", "id", "text", "title", "ts")
        lap("validate")

        # 2. featurize
        feats = hold(good.mapInPandas(_featurize(p), _FEAT_SCHEMA))
        stats_rows = feats.filter(F.col("kind") == 1).select("idx", "val", "pos").rdd.map(_stats_of)
        if stats_rows.isEmpty():
            stats = (np.zeros(0, np.int64), np.zeros(0), 0)
        else:
            stats = stats_rows.treeReduce(_merge_stats, depth=3)
        df_cols, df_vals, n_docs = stats
        lap("featurize")

        if n_docs == 0:
            result = _rejected_rows(rejected)
        else:
            # 3. canonical order
            dense = np.zeros(p.n_features, dtype=np.float64)
            dense[df_cols] = df_vals
            bc_df = spark.sparkContext.broadcast(dense)
            rows = feats.filter(F.col("kind") == 0).drop("kind")
            ordered = hold(rows.orderBy(F.asc_nulls_last("ts"), F.asc("digest"), F.asc("id"))
                           .withColumn("_pid", F.spark_partition_id()))
            rank_offsets = _offsets(ordered)
            lap("order")

            # 4. weigh
            weighed = hold(ordered.mapInPandas(_weigh(p, rank_offsets, bc_df, float(n_docs)),
                                               _WEIGHED_SCHEMA))
            weighed.count()
            for d in (feats, ordered):
                d.unpersist()
            lap("weigh")

            # 5. candidates
            n_sub = max(1, math.ceil(n_docs / _BUCKET_ROWS))
            keys = weighed.select("rank", "ts", "empty", "term_sig", "sh_sig").mapInPandas(_band_keys(p), _KEYS_SCHEMA)
            banded = keys.withColumn("sub", F.pmod(F.col("key"), F.lit(n_sub))) \
                .groupBy("view", "band", "sub").applyInPandas(_bucket(p), "view byte, i long, j long")
            if p.max_partners is None:
                pairs = hold(banded.select("i", "j").distinct())
            else:  # the term view keeps each article's best partners (candidates.top_partner_pairs)
                banded = hold(banded.distinct())
                term = F.col("view") == F.lit(_term_view(p)[0])
                kept = top_partners(banded.filter(term).select("i", "j"), weighed, p, block_size)
                pairs = hold(kept.unionByName(banded.filter(~term).select("i", "j")).distinct())
            n_pairs = pairs.count()
            lap("candidates")

            # 6. verify
            # checkpoints (eager) cut the lineage: the plans below use these
            # several times, and nested cached plans grow past the driver's heap
            verified = _by_block(pairs, weighed, ("rank", "x_idx", "x_val", "sh_sig", "n_terms"), block_size) \
                .applyInPandas(_score(p), _SCORED_SCHEMA).localCheckpoint()
            pairs.unpersist()
            lap("verify")

            # 7. story score
            scored = story_scores(verified, p).localCheckpoint()
            del verified
            lap("story")

            # 8. components
            edges = scored.filter(F.col("similarity") >= F.lit(p.threshold)).select("i", "j")
            comp = hold(components(edges))
            lap("components")

            # 9. link
            n_groups = max(1, int(spark.conf.get("spark.sql.shuffle.partitions")) * _GROUPS_PER_PARTITION)
            grp = F.pmod(F.col("comp"), F.lit(n_groups))
            # (comp + 0): a fresh column, so the cogroup below is not a self-join of ``comp`` to Spark
            members = weighed.select("rank", "id", "ts", "empty", "pos").join(
                comp.select(F.col("node").alias("rank"), (F.col("comp") + 0).alias("comp")), "rank")
            ci, cj = comp.select(F.col("node").alias("i"), "comp"), comp.select(F.col("node").alias("j"), "comp")
            inner = scored.join(ci, "i").join(cj, ["j", "comp"])  # pairs inside one component
            linked = members.withColumn("g", grp).groupBy("g").cogroup(inner.withColumn("g", grp).groupBy("g")) \
                .applyInPandas(_link(p), _LINK_SCHEMA)
            alone = weighed.join(comp.withColumnRenamed("node", "rank"), "rank", "left_anti").select(
                "id", F.col("id").alias("cluster"), F.lit(True).alias("representative"), F.col("id").alias("version"),
                F.lit("[]").alias("scores"), F.when(F.col("empty"), F.lit("empty")).otherwise(F.lit("")).alias("flags"), "pos")
            good_rows = linked.unionByName(alone).select(
                "id", "cluster", "representative", "version", F.from_json("scores", _SCORES_TYPE).alias("scores"),
                F.when(F.col("flags") == "", F.array().cast("array<string>")).otherwise(F.split("flags", ",")).alias("flags"),
                "pos", F.lit(None).cast("string").alias("rejected"))
            result = good_rows.unionByName(_rejected_rows(rejected))
        result = result.withColumnRenamed("pos", "position").persist(StorageLevel.MEMORY_AND_DISK)
        result.count()
        lap("link")
        if timings is not None and n_docs:
            timings["pairs"] = float(n_pairs)
        return result
    finally:
        spark.sparkContext.setJobDescription(None)
        for d in keep:
            d.unpersist()


def _rejected_rows(rejected: DataFrame) -> DataFrame:
    return rejected.select(
        "id", F.lit(None).cast("string").alias("cluster"), F.lit(None).cast("boolean").alias("representative"),
        F.lit(None).cast("string").alias("version"), F.lit(None).cast(_SCORES_TYPE).alias("scores"),
        F.lit(None).cast("array<string>").alias("flags"), "pos", F.col("reason").alias("rejected"))
