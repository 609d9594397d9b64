"""The same clustering on Apache Spark (``pip install "dedup[spark]"``).

:func:`cluster_spark` takes a Spark DataFrame of articles and returns, for
every row, its story (cluster), whether it is the story's representative, its
version (copy group) and the confirmed scores that joined it -- the same
answer :func:`dedup.cluster_articles` gives on one machine for the same rows
and parameters. Each stage runs on the engine with the library's own
functions doing the per-article and per-group work (Arrow-backed
``mapInPandas`` / ``applyInPandas``): :mod:`dedup.spark.steps` holds the
steps (each calls the batch's stage function), :mod:`dedup.spark.run`
schedules them. See docs/README-spark.md for when to use it and what it
costs.

Importing this package does not import pyspark; calling
:func:`cluster_spark` does.
"""

from __future__ import annotations

from typing import Any

from .arguments import check_arguments

__all__ = ["cluster_spark", "check_arguments", "OUTPUT_COLUMNS"]

#: Columns of the DataFrame :func:`cluster_spark` returns.
OUTPUT_COLUMNS = ("id", "cluster", "representative", "version", "scores", "flags", "position", "rejected")


def cluster_spark(df: Any, **options: Any) -> Any:
    """Group the articles of a Spark DataFrame into stories.

    Parameters
    ----------
    df : pyspark.sql.DataFrame
        One article a row.
    **options
        The keywords below, and pipeline parameters by name (as for
        :func:`dedup.cluster_articles`); all checked, before any Spark job, by
        :func:`dedup.spark.arguments.check_arguments`, which holds their
        signature and defaults.
    id_col, text_col : str, default "id", "text"
        Columns holding the id (string or integer; a missing id becomes the
        row's input position, as in memory) and the text.
    title_col, published_col : str, default None
        Columns holding the title and the publication time (timestamp, date,
        ISO 8601 string or epoch seconds/milliseconds).
    errors : {"warn", "raise", "ignore"}, default "warn"
        As in :func:`dedup.cluster_articles`: a row that cannot be used (a
        duplicate id, an unreadable date, ...) is kept in the output with
        ``cluster`` null and the reason in ``rejected`` -- with a
        :class:`~dedup.DedupWarning` naming it (``"warn"``), silently
        (``"ignore"``), or :class:`~dedup.ArticleError` is raised for the
        first one (``"raise"``).
    params : dedup.Params, default None
        All pipeline parameters at once; parameters given by name override
        them (see :class:`dedup.Params`).
    block_size : int, default None
        Rows per block of the partner rule and the verification (pairs are
        scored block by block, each block holding its rows and those it
        borrows); bounds an executor's memory, not the result. None: two
        blocks a core of the session, between 10,000 and 25,000 rows
        (:func:`dedup.spark.arguments.block_rows`).

    Returns
    -------
    pyspark.sql.DataFrame
        Columns ``id`` (string), ``cluster`` (the representative's id, as
        ``Cluster.id``), ``representative`` (bool), ``version`` (id of the
        representative of the article's group of copies), ``scores``
        (array of ``{other, score, cosine, jaccard}``: the confirmed pairs of
        this article inside its cluster, as :class:`dedup.PairScore`), ``flags`` (array of strings, e.g.
        ``"empty"``), ``position`` (input position) and ``rejected`` (null,
        or why the row was left out). Every accepted row has a cluster.
        The DataFrame is computed eagerly and cached; ``unpersist`` it when
        done.
    """
    from .run import run  # imports pyspark

    return run(df, **options)
