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
from itertools import chain
from typing import Any

from dedup.article import Article
from dedup.cli.args import (
    EXIT_INPUT,
    EXIT_OK,
    EXIT_REJECTED,
    UsageError,
    add_command,
    add_param_arguments,
    fields_from_args,
    option,
    params_from_args,
    plural,
    say,
)
from dedup.cli.reading import InputLog, log_for
from dedup.io import FieldMap, InputError, expand_paths, iter_records
from dedup.io.readers import id_prefix, jsonl_record

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
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="Parquet or JSONL input (files, folders, globs); JSONL records are checked as 'dedup cluster' checks "
        "them: a bad one is named (file:line: reason, exit 3) and left out, one without an id gets FILE:LINE",
    )
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
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("FATAL")  # a failure is said in one line of ours, not a Java trace
    return spark


def _read(spark: Any, args: argparse.Namespace, log: InputLog) -> Any:
    """The input DataFrame; an InputError (one line, exit 2) when Spark cannot
    read it, or when the output (on any file system) already exists. JSONL
    records are checked as ``dedup cluster`` checks them, each bad one
    reported to ``log`` and left out (see :func:`_read_jsonl`)."""
    from py4j.protocol import Py4JJavaError
    from pyspark.sql.utils import AnalysisException

    if not args.overwrite and _exists(spark, args.output):
        raise FileExistsError(_EXISTS.format(args.output))
    fmt = _input_format(args)
    try:
        if fmt == "parquet":
            return spark.read.parquet(*args.paths)
        return _read_jsonl(spark, args, log)
    except AnalysisException as exc:  # e.g. [PATH_NOT_FOUND] on hdfs:// or s3a://
        raise InputError(f"Spark cannot read {', '.join(args.paths)}: {str(exc).splitlines()[0]}") from None
    except Py4JJavaError as exc:  # e.g. files that are not Parquet: their footers cannot be read
        raise InputError(
            f"Spark cannot read {', '.join(args.paths)} as {fmt} ({_java_reason(exc)}); "
            "spark-cluster reads Parquet or JSONL (--input-format says which)"
        ) from None


def _java_reason(exc: Exception) -> str:
    """The first line of a Java exception that names its cause, shortened."""
    for line in str(exc).splitlines():
        line = line.strip().removeprefix(": ")
        if "Exception: " in line and not line.startswith("at "):
            return line.split("Exception: ", 1)[1][:300]
    return type(exc).__name__


_JSONL_SCHEMA = "id string, text string, title string, published string"


def _row(article: Article) -> tuple[str, str, str | None, str | None]:
    published = article.published.isoformat() if article.published is not None else None
    return (article.id, article.text, article.title, published)


def _local_files(path: str) -> list[str] | None:
    """The local files a path names (a glob expanded, sorted), or None when
    it is not local."""
    local = _local(path)
    if local is None:
        return None
    if re.search(r"[*?[]", local):
        return sorted(glob.glob(local))
    return [path if local == path else local]


def _read_jsonl(spark: Any, args: argparse.Namespace, log: InputLog) -> Any:
    """The good records of JSONL inputs as ``id, text, title, published``,
    each record read and checked by ``dedup cluster``'s own reader: a bad one
    is reported to ``log`` as ``file:line: reason`` and left out, a record
    without an id gets the id ``FILE:LINE`` (the path as given).

    Local inputs (no scheme or ``file:``) are read in the driver, exactly as
    ``dedup cluster`` reads them. Others (``hdfs://``, ``s3a://``) are read by
    Spark line by line, each path's lines numbered in file order
    (``zipWithIndex``) and parsed on the executors: a path naming one file
    gives exact ``FILE:LINE``; for a folder or glob the lines are numbered
    across its files, in the order Hadoop lists them."""
    rows: list[tuple[str, str, str | None, str | None]] = []
    frames = []
    fields = fields_from_args(args)
    fields.pop("delimiter", None)
    for path in args.paths:
        files = _local_files(path)
        if files is not None:
            for rec in chain.from_iterable(iter_records(f, fmt="jsonl", **fields) for f in expand_paths(files)):
                log.on_record(rec)
                if rec.ok:
                    rows.append(_row(rec.article))  # type: ignore[arg-type]
                else:
                    log.on_error(rec)
        else:
            frames.append(_read_jsonl_remote(spark, path, fields, log))
    df = spark.createDataFrame(rows, _JSONL_SCHEMA)
    for frame in frames:
        df = df.unionByName(frame)
    return df


def _read_jsonl_remote(spark: Any, path: str, fields: dict[str, str], log: InputLog) -> Any:
    """One non-local JSONL path read by Spark (see :func:`_read_jsonl`)."""
    fmap = FieldMap(
        id=fields["id_field"],
        text=fields["text_field"],
        title=fields["title_field"],
        published=fields["published_field"],
    )
    ref = id_prefix(path)

    def parse(pairs: Any) -> Any:
        for line, index in pairs:
            rec = jsonl_record(line.encode("utf-8", "surrogateescape"), index + 1, path, ref, fmap)
            if rec is not None:
                yield (*_row(rec.article), None, rec.line) if rec.ok else (None, None, None, None, rec.error, rec.line)

    parsed = spark.sparkContext.textFile(path).zipWithIndex().mapPartitions(parse)
    df = spark.createDataFrame(parsed, _JSONL_SCHEMA + ", error string, line long").persist()
    bad = df.filter("error IS NOT NULL")
    for r in bad.orderBy("line").select("line", "error").take(log.shown):
        log.reject(f"{path}:{r['line']}", r["error"])
    log.rejected += max(0, bad.count() - log.shown)
    return df.filter("error IS NULL").drop("error", "line")


def _exists(spark: Any, path: str) -> bool:
    """Whether ``path`` exists on whatever file system the driver reaches
    (``hdfs://``, ``s3a://``), asked through Spark's public reader, which
    lists a path when it is named and says so when there is none (nothing
    is read). False when Spark cannot ask either: the write then says why."""
    try:
        spark.read.format("text").load(path)
    except Exception:  # noqa: BLE001 - [PATH_NOT_FOUND], or a file system the driver cannot reach
        return False
    return True


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
    log = log_for(args)
    df = _read(spark, args, log)
    log.close()
    if log.records and log.rejected == log.records:  # local JSONL, every record bad: as 'dedup cluster'
        say(f"error: {log.why_nothing(args.paths)}")
        return EXIT_INPUT
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if _input_format(args) == "jsonl":  # read as articles: the fields already mapped
            cols = {"id_col": "id", "text_col": "text", "title_col": "title", "published_col": "published"}
        else:
            cols = {
                "id_col": args.id_field,
                "text_col": args.text_field,
                "title_col": _present(args.title_field, df.columns),
                "published_col": _present(args.published_field, df.columns),
            }
        out = cluster_spark(df, **cols, params=params)
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
        f"{plural(n - n_rejected, 'article')}, {plural(n_clusters, 'story', 'stories')}, "
        f"{log.rejected + n_rejected:,} rejected ({log.rejected:,} when read, "
        f"{n_rejected:,} rows with 'rejected' set) -> {args.output}"
    )
    out.unpersist()
    return EXIT_REJECTED if n_rejected or log.rejected else EXIT_OK


def _present(name: str, columns: list[str]) -> str | None:
    """A title/published column name when the input has it (they are optional)."""
    return name if name in columns else None


def _submitted_conf() -> dict[str, str]:
    """Spark settings passed by spark-submit (it exports them to the driver)."""
    from pyspark import SparkConf

    return dict(SparkConf().getAll())
