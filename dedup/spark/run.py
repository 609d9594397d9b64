"""How :func:`dedup.cluster_spark` schedules the steps of :mod:`dedup.spark.steps`.

Nothing here computes a feature, a pair or a score: it moves packed arrays
between the steps, which call the batch's own stage functions.

1. **featurize** (``mapInPandas`` over the input): rows coerced and
   featurised; each task's document frequencies summed on the driver.
2. **order** (driver): ids checked for duplicates (the first position
   wins) and the canonical order computed from the rows' keys; ranks and
   the document frequencies are broadcast. (A duplicate's frequencies are
   recomputed from the input and taken off.)
3. **weigh** (``mapInPandas``): TF-IDF rows and term signatures per batch.
4. **candidates**: band keys per batch (``mapInPandas``), bucketed per band
   (``groupBy(view, band).applyInPandas``), the pairs made unique per block
   of ``block_size`` ranks (``groupBy(block)``).
5. **partner rule** (with ``Params.max_partners`` or ``Params.min_bands``, as the batch: before
   scoring): each block holds the term signatures of its rows and of those
   it borrows (a join on rank) and counts the bands in common of the term
   view's pairs (``cogroup.applyInPandas``); they are offered to both
   their rows (``groupBy`` block of the row), each row keeps its best.
6. **verify**: each block holds its rows and those its kept pairs borrow
   and scores them (``cogroup.applyInPandas``).
7. **link** (driver): the sparse scored graph through the story score,
   linkage and clusters; the clusters become the output DataFrame.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from ..article import ArticleError, Cluster, DedupWarning
from ..params import Params
from . import steps
from .arguments import block_rows, check_arguments

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
_OUT_SCHEMA = (
    "id string, cluster string, representative boolean, version string, scores string, flags string, "
    "pos long, rejected string"
)
_MAX_WARNINGS = 10_000


class _Stages:
    """Wall time per stage (into ``timings``) and the Spark job descriptions;
    the frames persisted along the way, released at the end."""

    def __init__(self, spark: SparkSession, timings: dict[str, float] | None) -> None:
        self.spark, self.timings, self.held = spark, timings, []
        self.t0 = time.perf_counter()

    def start(self, name: str) -> None:
        self.spark.sparkContext.setJobDescription(f"dedup: {name}")

    def done(self, name: str) -> None:
        now = time.perf_counter()
        if self.timings is not None:
            self.timings[name] = self.timings.get(name, 0.0) + now - self.t0
        self.t0 = now

    def hold(self, d: DataFrame) -> DataFrame:
        d = d.persist(StorageLevel.MEMORY_AND_DISK)
        self.held.append(d)
        return d

    def release(self) -> None:
        self.spark.sparkContext.setJobDescription(None)
        for d in self.held:
            d.unpersist()


@contextmanager
def _arrow(spark: SparkSession) -> Iterator[None]:
    """Arrow transfers between the driver and the JVM, for this block only."""
    key = "spark.sql.execution.arrow.pyspark.enabled"
    old = spark.conf.get(key, None)
    spark.conf.set(key, "true")
    try:
        yield
    finally:
        if old is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, old)


def _prepare_input(
    df: DataFrame, id_col: str, text_col: str, title_col: str | None, published_col: str | None
) -> DataFrame:
    """The input columns under fixed names, times as POSIX seconds, and the partition id."""
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


def _offsets(df: DataFrame) -> dict[int, int]:
    """First input position of each Spark partition (``_pid``) of ``df``."""
    counts = dict(df.groupBy("_pid").count().collect())
    out, acc = {}, 0
    for pid in range(max(counts, default=-1) + 1):
        out[pid] = acc
        acc += counts.get(pid, 0)
    return out


def _featurize(
    src: DataFrame, p: Params, offsets: dict[int, int], has: tuple[bool, bool], stages: _Stages
) -> tuple[DataFrame, pd.DataFrame, np.ndarray, int]:
    """Step 1: the features (held), every row's keys (by position) and the
    summed document frequencies with the number of articles."""
    feats = stages.hold(src.mapInPandas(steps.featurize_step(p, offsets, *has), steps.FEATURE_SCHEMA))
    df, n_docs = steps.document_frequency(feats.filter("kind = 1").select("idx", "val", "pos").collect(), p.n_features)
    with _arrow(src.sparkSession):
        keys = feats.filter("kind = 0").select("pos", "id", "reason", "ts", "digest", "empty", "n_terms").toPandas()
    return feats, keys.sort_values("pos", kind="stable").reset_index(drop=True), df, n_docs


def _report(rejected: list[tuple[int, str, str]], errors: str) -> None:
    """``errors``: raise for the first rejected row, or warn for each (as the batch)."""
    if rejected and errors == "raise":
        pos, i, reason = rejected[0]
        raise ArticleError(repr(i), reason)
    if errors == "warn":
        for pos, i, reason in rejected[:_MAX_WARNINGS]:
            warnings.warn(f"article {i!r}: {reason} (input position {pos}); left out", DedupWarning, stacklevel=4)


def _without_duplicates(
    src: DataFrame,
    p: Params,
    offsets: dict[int, int],
    has: tuple[bool, bool],
    dups: list[int],
    df: np.ndarray,
    n_docs: int,
) -> tuple[np.ndarray, int]:
    """The document frequencies without those of the rows rejected as
    duplicates (featurised again from the input: few, if any)."""
    if not dups:
        return df, n_docs
    only = src.sparkSession.sparkContext.broadcast(set(dups))
    rows = src.mapInPandas(steps.featurize_step(p, offsets, *has, only=only), steps.FEATURE_SCHEMA)
    extra, n_extra = steps.document_frequency(
        rows.filter("kind = 1").select("idx", "val", "pos").collect(), p.n_features
    )
    only.destroy()
    return df - extra, n_docs - n_extra


def _candidates(weighed: DataFrame, p: Params, n: int, block_size: int, limited: int | None) -> DataFrame:
    """Step 4: the unique candidate pairs of every view, per block."""
    bands = weighed.mapInPandas(steps.band_step(p), steps.BAND_SCHEMA)
    pairs = bands.groupBy("view", "band").applyInPandas(steps.bucket_step(p, n, block_size), steps.PAIR_SCHEMA)
    return pairs.groupBy("block").applyInPandas(steps.merge_step(limited), steps.MERGED_SCHEMA)


_BROADCAST_ROWS = 4_000_000  # (block, rank) rows sent whole to each task (64 MB) rather than shuffling the rows


def _gathered(
    weighed: DataFrame, pairs: DataFrame, cols: list[str], n: int, block_size: int, stages: _Stages
) -> DataFrame:
    """``cols`` of the rows each block's ``pairs`` read: its own and those it
    borrows (a join on rank; with few borrowed rows, the list of them is
    broadcast, so that the rows themselves are not shuffled for the join)."""
    blk = F.lit(block_size).cast("long")
    own = weighed.select((F.col("rank") / blk).cast("long").alias("block"), *cols)
    need = stages.hold(pairs.mapInPandas(steps.borrowed_step(n, block_size), "block long, rank long"))
    if need.count() <= _BROADCAST_ROWS:
        need = F.broadcast(need)
    return own.unionByName(weighed.select(*cols).join(need, "rank").select("block", *cols))


def _sift(
    weighed: DataFrame, merged: DataFrame, p: Params, n: int, block_size: int, limited: int, stages: _Stages
) -> DataFrame:
    """Step 5: the pairs the partner rule keeps, by block -- ranked from the
    term signatures alone, before any pair is scored (as in the batch)."""
    rows = _gathered(weighed, merged, ["rank", "term_sig"], n, block_size, stages)
    sifted = stages.hold(  # read twice: the pairs kept and the offers
        rows.groupBy("block")
        .cogroup(merged.groupBy("block"))
        .applyInPandas(steps.sift_step(p, n, block_size, limited), steps.SIFTED_SCHEMA)
    )
    kept = sifted.filter("kind = 0").select("block", "codes")
    chosen = (
        sifted.filter("kind = 1")
        .select("block", "x", "y", "common")
        .groupBy("block")
        .applyInPandas(steps.partner_step(p, n, block_size), steps.PAIRS_SCHEMA)
    )
    return kept.unionByName(chosen).groupBy("block").applyInPandas(steps.union_step, steps.PAIRS_SCHEMA)


def _verify(weighed: DataFrame, pairs: DataFrame, p: Params, n: int, block_size: int, stages: _Stages) -> list[Any]:
    """Step 6: the kept ``pairs`` scored, one packed row per block."""
    rows = _gathered(weighed, pairs, ["rank", "x_idx", "x_val", "sh_sig", "n_terms"], n, block_size, stages)
    scored = (
        rows.groupBy("block").cogroup(pairs.groupBy("block")).applyInPandas(steps.score_step(p, n), steps.SCORED_SCHEMA)
    )
    scored = stages.hold(scored)
    scored.count()  # every block at once; the driver then reads them one by one
    return list(scored.toLocalIterator(prefetchPartitions=True))


def _output(
    spark: SparkSession, clusters: list[Cluster], position: dict[str, int], rejected: list[tuple[int, str, str]]
) -> DataFrame:
    """The result DataFrame (:data:`dedup.spark.OUTPUT_COLUMNS`), cached and counted."""
    cols = steps.cluster_rows(clusters, position)
    cols["rejected"] = [None] * len(cols["id"])
    for pos, i, reason in rejected:
        for k, v in (("id", i), ("pos", pos), ("rejected", reason)):
            cols[k].append(v)
        for k in ("cluster", "representative", "version", "scores", "flags"):
            cols[k].append(None)
    frame = pd.DataFrame(cols)
    with _arrow(spark):
        out = spark.createDataFrame(frame, _OUT_SCHEMA)
    ok = F.col("rejected").isNull()
    out = out.select(
        "id",
        "cluster",
        "representative",
        "version",
        F.from_json("scores", _SCORES_TYPE).alias("scores"),
        F.when(~ok, F.lit(None))
        .when(F.col("flags") == "", F.array().cast("array<string>"))
        .otherwise(F.split("flags", ","))
        .alias("flags"),
        F.col("pos").alias("position"),
        "rejected",
    )
    out = out.persist(StorageLevel.MEMORY_AND_DISK)
    out.count()
    return out


def _cluster(
    src: DataFrame,
    p: Params,
    feats: DataFrame,
    kept: pd.DataFrame,
    n_rows: int,
    df: np.ndarray,
    n_docs: int,
    block_size: int | None,
    stages: _Stages,
) -> tuple[list[Cluster], int]:
    """Steps 2-6 for the kept rows (``kept``: their keys, by position; ``n_rows``
    input rows in all)."""
    sc = src.sparkSession.sparkContext
    block_size = block_size or block_rows(len(kept), sc.defaultParallelism)
    if stages.timings is not None:
        stages.timings["block_size"] = float(block_size)
    rank, arts = steps.order_step(kept)
    rank_of_pos = np.full(n_rows, -1, dtype=np.int64)
    rank_of_pos[kept["pos"].to_numpy(dtype=np.int64)] = rank
    bc_rank, bc_df = sc.broadcast(rank_of_pos), sc.broadcast(df)
    stages.done("order")
    stages.start("weigh")
    weighed = stages.hold(
        feats.filter("kind = 0 AND reason IS NULL").mapInPandas(
            steps.weigh_step(p, bc_rank, bc_df, n_docs), steps.WEIGHED_SCHEMA
        )
    )
    weighed.count()
    feats.unpersist()
    stages.done("weigh")
    stages.start("candidates")
    limited = None if p.max_partners is None and p.min_bands <= 1 else steps.term_view(p)
    merged = stages.hold(_candidates(weighed, p, len(arts), block_size, limited))
    merged.count()
    stages.done("candidates")
    if limited is None:
        pairs = merged.select("block", "codes")
    else:
        stages.start("partners")
        pairs = stages.hold(_sift(weighed, merged, p, len(arts), block_size, limited, stages))
        pairs.count()
        merged.unpersist()
        stages.done("partners")
    stages.start("verify")
    blocks = _verify(weighed, pairs, p, len(arts), block_size, stages)
    stages.done("verify")
    stages.start("link")
    by_rank = np.empty(len(arts), dtype=np.int64)
    by_rank[rank] = np.arange(len(arts))
    scored = steps.scored_pairs(blocks)
    clusters = steps.link_step(
        arts, scored, kept["n_terms"].to_numpy(dtype=np.int64)[by_rank], kept["empty"].to_numpy(dtype=bool)[by_rank], p
    )
    return clusters, len(scored)


def run(df: DataFrame, *, timings: dict[str, float] | None = None, **options: Any) -> DataFrame:
    """:func:`dedup.spark.cluster_spark` (``options``: its keywords, see
    :func:`dedup.spark.arguments.check_arguments`); ``timings``, when given,
    receives the wall time of each stage (seconds), the number of
    candidate pairs (``"pairs"``) and the block size used
    (``"block_size"``), for the benchmark."""
    o = check_arguments(df, **options)
    p = o.params
    stages = _Stages(df.sparkSession, timings)
    try:
        stages.start("featurize")
        has = (o.title_col is not None, o.published_col is not None)
        src = _prepare_input(df, o.id_col, o.text_col, o.title_col, o.published_col)
        offsets = _offsets(src)
        feats, keys, dfreq, n_docs = _featurize(src, p, offsets, has, stages)
        keep, rejected = steps.accepted_rows(keys)
        _report(rejected, o.errors)
        dups = keys["pos"][~keep & keys["reason"].isna().to_numpy()].tolist()
        dfreq, n_docs = _without_duplicates(src, p, offsets, has, dups, dfreq, n_docs)
        kept = keys[keep].reset_index(drop=True)
        stages.done("featurize")
        clusters, n_pairs = ([], 0)
        if len(kept):
            clusters, n_pairs = _cluster(src, p, feats, kept, len(keys), dfreq, n_docs, o.block_size, stages)
        position = dict(zip(kept["id"].tolist(), kept["pos"].tolist(), strict=True))
        out = _output(df.sparkSession, clusters, position, rejected)
        stages.done("link")
        if timings is not None:
            timings["pairs"] = float(n_pairs)
        return out
    finally:
        stages.release()
