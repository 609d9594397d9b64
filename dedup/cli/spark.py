"""``dedup spark-cluster``: ``dedup.spark.cluster_spark`` from the command line.

Reads Parquet or JSONL (files, folders or globs Spark understands, local or
``hdfs://`` / ``s3a://``), writes one row per article as Parquet or JSONL
(a folder of part files, Spark's way). The subcommand is always listed;
pyspark is imported only when it runs, with a clear message when missing.

Run it on a laptop (``--master local[*]``, the default outside
``spark-submit``) or on a cluster::

    spark-submit --master yarn $(python -c 'import dedup.cli.submit as s; print(s.__file__)') \\
        spark-cluster s3a://bucket/articles/ -o s3a://bucket/stories/
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import Any

from dedup.cli.args import EXIT_INPUT, EXIT_OK, add_command, add_param_arguments, option, params_from_args, plural, say

__all__ = ["register"]

EPILOG = """\
examples:
  dedup spark-cluster articles.jsonl -o stories/ --output-format jsonl
  dedup spark-cluster s3a://archive/articles/ -o s3a://archive/stories/ --text-field body
"""


def register(subparsers: Any) -> None:
    """Add ``dedup spark-cluster``."""
    p = add_command(
        subparsers,
        "spark-cluster",
        "group articles into stories on Apache Spark (needs dedup[spark])",
        "Group articles into stories on Apache Spark: the same clusters as 'dedup cluster'.",
        EPILOG,
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="Parquet or JSONL input (files, folders, globs)")
    p.add_argument("-o", "--output", required=True, help="output folder (Spark writes part files)")
    p.add_argument(
        "--input-format",
        choices=("auto", "parquet", "jsonl"),
        default="auto",
        help="auto: from the first path's extension (.parquet, or .jsonl/.json, optionally .gz)",
    )
    option(
        p, "--output-format", choices=("parquet", "jsonl"), default="parquet", help="format of the part files written"
    )
    p.add_argument("--master", default=None, help="Spark master (default: the one spark-submit sets, else local[*])")
    p.add_argument("--shuffle-partitions", type=int, default=None, help="spark.sql.shuffle.partitions")
    p.add_argument("--driver-memory", default=None, help="spark.driver.memory when starting Spark here, e.g. 4g")
    p.add_argument("--overwrite", action="store_true", help="replace the output folder if it exists")
    add_param_arguments(p, delimiter=False)
    p.set_defaults(func=_cmd_spark_cluster)


def _input_format(args: argparse.Namespace) -> str:
    if args.input_format != "auto":
        return args.input_format
    first = args.paths[0].rstrip("/").lower()
    for ext in (".gz", ".bz2"):
        first = first.removesuffix(ext)
    if first.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    return "parquet"


def _cmd_spark_cluster(args: argparse.Namespace) -> int:
    try:
        import pyspark  # noqa: F401
        from pyspark.sql import SparkSession
    except ModuleNotFoundError:
        say("error: spark-cluster needs pyspark, pyarrow and pandas: pip install 'dedup[spark]'")
        return EXIT_INPUT
    from dedup.spark import cluster_spark

    params = params_from_args(args)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("dedup spark-cluster")
    if args.master:
        builder = builder.master(args.master)
    elif "spark.master" not in _submitted_conf():
        builder = builder.master("local[*]")
    if args.shuffle_partitions:
        builder = builder.config("spark.sql.shuffle.partitions", str(args.shuffle_partitions))
    if args.driver_memory:
        builder = builder.config("spark.driver.memory", args.driver_memory)
    spark = builder.getOrCreate()
    fmt = _input_format(args)
    df = spark.read.parquet(*args.paths) if fmt == "parquet" else spark.read.json(list(args.paths))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = cluster_spark(
            df,
            id_col=args.id_field,
            text_col=args.text_field,
            title_col=_present(args.title_field, df.columns),
            published_col=_present(args.published_field, df.columns),
            params=params,
        )
    for w in caught[:10]:
        say(str(w.message))
    writer = out.write.mode("overwrite" if args.overwrite else "errorifexists")
    if args.output_format == "parquet":
        writer.parquet(args.output)
    else:
        writer.json(args.output)
    n = out.count()
    n_rejected = out.filter("rejected IS NOT NULL").count()
    n_clusters = out.filter("representative").count()
    say(
        f"{plural(n - n_rejected, 'article')}, {plural(n_clusters, 'story', 'stories')}, {n_rejected:,} rejected "
        f"(rows with 'rejected' set) -> {args.output}"
    )
    out.unpersist()
    return EXIT_OK


def _present(name: str, columns: list[str]) -> str | None:
    """A title/published column name when the input has it (they are optional)."""
    return name if name in columns else None


def _submitted_conf() -> dict[str, str]:
    """Spark settings passed by spark-submit (it exports them to the driver)."""
    from pyspark import SparkConf

    return dict(SparkConf().getAll())
