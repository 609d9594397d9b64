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
import glob
import os
import re
import sys
import warnings
from typing import Any

from dedup.cli.args import (
    EXIT_INPUT,
    EXIT_OK,
    UsageError,
    add_command,
    add_param_arguments,
    option,
    params_from_args,
    plural,
    say,
)
from dedup.io import InputError

__all__ = ["register", "check"]

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
    p.set_defaults(func=_cmd_spark_cluster, check=check)


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def _local(path: str) -> str | None:
    """The local path a Spark path names (no scheme, or ``file:``); None for
    another file system (``hdfs://``, ``s3a://``) or a Hadoop ``{a,b}`` glob."""
    if path.startswith("file:"):
        path = re.sub(r"^file:(//)?", "", path)
    elif _SCHEME.match(path):
        return None
    return None if "{" in path else path


def check(args: argparse.Namespace) -> None:
    """Before Spark starts (seconds, and a JVM): every local input exists (a
    glob matches something) and the output does not, unless --overwrite;
    --shuffle-partitions is positive."""
    if args.shuffle_partitions is not None and args.shuffle_partitions < 1:
        raise UsageError(f"--shuffle-partitions must be a positive integer, got {args.shuffle_partitions}")
    for path in args.paths:
        local = _local(path)
        if local is not None and not (glob.glob(local) if re.search(r"[*?[]", local) else os.path.exists(local)):
            raise FileNotFoundError(f"no such file or folder: {path}")
    out = _local(args.output)
    if out is not None and os.path.exists(out) and not args.overwrite:
        raise FileExistsError(_EXISTS.format(args.output))


_EXISTS = "the output {} exists: give a new folder, or --overwrite to replace it"


def _input_format(args: argparse.Namespace) -> str:
    if args.input_format != "auto":
        return args.input_format
    first = args.paths[0].rstrip("/").lower()
    for ext in (".gz", ".bz2"):
        first = first.removesuffix(ext)
    if first.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    return "parquet"


def _session(args: argparse.Namespace) -> Any:
    """The SparkSession of the options (``--master``, ...)."""
    from pyspark.sql import SparkSession

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
    return builder.getOrCreate()


def _read(spark: Any, args: argparse.Namespace) -> Any:
    """The input DataFrame; an InputError (one line, exit 2) when Spark cannot
    read it, or when the output (on any file system) already exists."""
    from pyspark.sql.utils import AnalysisException

    if not args.overwrite and _exists(spark, args.output):
        raise FileExistsError(_EXISTS.format(args.output))
    try:
        if _input_format(args) == "parquet":
            return spark.read.parquet(*args.paths)
        return spark.read.json(list(args.paths))
    except AnalysisException as exc:  # e.g. [PATH_NOT_FOUND] on hdfs:// or s3a://
        raise InputError(f"Spark cannot read {', '.join(args.paths)}: {str(exc).splitlines()[0]}") from None


def _exists(spark: Any, path: str) -> bool:
    """Whether ``path`` exists, asked of Hadoop's file system for its scheme
    (False when that cannot be asked: the write then says so)."""
    try:
        jvm = spark.sparkContext._jvm
        hpath = jvm.org.apache.hadoop.fs.Path(path)
        return bool(hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).exists(hpath))
    except Exception:  # noqa: BLE001 - a file system the driver cannot reach: leave it to the write
        return False


def _cmd_spark_cluster(args: argparse.Namespace) -> int:
    try:
        import pyspark  # noqa: F401
        from pyspark.sql import SparkSession  # noqa: F401
    except ModuleNotFoundError:
        say("error: spark-cluster needs pyspark, pyarrow and pandas: pip install 'dedup[spark]'")
        return EXIT_INPUT
    from dedup.spark import cluster_spark

    params = params_from_args(args)
    spark = _session(args)
    df = _read(spark, args)
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
