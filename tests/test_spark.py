"""The Spark path gives the in-memory answer (``pytest -m spark``).

A real local Spark session (``local[2]``); skipped, with the reason, only when
pyspark or Java is missing.
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings

import pytest

from dedup import ArticleError, DedupWarning, cluster_articles
from dedup.synth import generate_articles

pytestmark = pytest.mark.spark

pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'dedup[spark]')")
pytest.importorskip("pyarrow", reason="pyarrow is not installed (pip install 'dedup[spark]')")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("no Java runtime (java not on PATH, JAVA_HOME unset)", allow_module_level=True)

from dedup.spark import cluster_spark  # noqa: E402


@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("dedup-tests")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _spark_clusters(out) -> dict:
    """cluster id -> (members, versions, scores) from the Spark output."""
    rows = out.filter("rejected IS NULL").collect()
    clusters: dict = {}
    for r in rows:
        c = clusters.setdefault(r["cluster"], {"members": set(), "reps": set(), "versions": {}, "scores": set()})
        c["members"].add(r["id"])
        if r["representative"]:
            c["reps"].add(r["id"])
        c["versions"].setdefault(r["version"], set()).add(r["id"])
        for s in r["scores"]:
            c["scores"].add((min(r["id"], s["other"]), max(r["id"], s["other"]), s["score"], s["cosine"], s["jaccard"]))
    return clusters


def _memory_clusters(result) -> dict:
    return {
        c.id: {
            "members": set(c.ids),
            "reps": {c.representative.id},
            "versions": {v.representative.id: {a.id for a in v.members} for v in c.versions},
            "scores": {(s.a, s.b, s.score, s.cosine, s.jaccard) for s in c.scores},
        }
        for c in result
    }


def _ari(a: dict[str, str], b: dict[str, str]) -> float:
    from sklearn.metrics import adjusted_rand_score

    ids = sorted(a)
    return adjusted_rand_score([a[i] for i in ids], [b[i] for i in ids])


def _assert_same(spark_out, memory) -> None:
    got, want = _spark_clusters(spark_out), _memory_clusters(memory)
    spark_labels = {m: cid for cid, c in got.items() for m in c["members"]}
    assert set(spark_labels) == set(memory.labels_), "the two paths clustered different rows"
    assert _ari(spark_labels, memory.labels_) == 1.0
    assert set(got) == set(want), "cluster ids (representatives) differ"
    for cid, c in want.items():
        assert got[cid]["reps"] == c["reps"]
        assert got[cid]["members"] == c["members"]
        assert got[cid]["versions"] == c["versions"]
        assert got[cid]["scores"] == c["scores"]


@pytest.fixture(scope="module")
def ecb_records(ecbplus_docs):
    return [{"id": d["doc_id"], "text": d["text"]} for d in ecbplus_docs]


@pytest.mark.slow
def test_ecbplus_same_clusters_as_in_memory(spark, ecb_records):
    df = spark.createDataFrame(ecb_records).repartition(3)
    out = cluster_spark(df)
    memory = cluster_articles(ecb_records)
    assert sum(len(c) > 1 for c in memory) > 10  # the comparison is not vacuous
    _assert_same(out, memory)
    out.unpersist()


def test_borrowed_rows_by_shuffle_join_same_clusters_as_in_memory(spark, ecb_records, monkeypatch):
    """Blocks borrow rows by a broadcast join when few are borrowed and by a
    shuffle join otherwise: both give the in-memory clusters."""
    import dedup.spark.run as spark_run

    monkeypatch.setattr(spark_run, "_BROADCAST_ROWS", -1)  # never broadcast
    records = ecb_records[:300]
    df = spark.createDataFrame(records).repartition(3)
    out = cluster_spark(df, block_size=40)  # many blocks: most pairs borrow a row
    memory = cluster_articles(records)
    assert sum(len(c) > 1 for c in memory) > 5
    _assert_same(out, memory)
    out.unpersist()


def test_pruned_rows_same_clusters_as_in_memory(spark, ecb_records):
    """With ``max_terms`` the rows are pruned on the executors; their norms
    (the dropped weight) and distinct-term counts ride along to weigh and
    verify, so the scores are the in-memory ones."""
    records = ecb_records[:400]
    assert max(len(set(r["text"].split())) for r in records) > 2 * 48  # pruning does bite
    df = spark.createDataFrame(records).repartition(3)
    out = cluster_spark(df, max_terms=48)
    memory = cluster_articles(records, max_terms=48)
    assert sum(len(c) > 1 for c in memory) > 5
    assert memory.labels_ != cluster_articles(records).labels_  # the pruned result is its own
    _assert_same(out, memory)
    out.unpersist()


def test_short_text_rule_and_neighbourhood_off_same_clusters_as_in_memory(spark, ecb_records):
    records = [{"id": r["id"], "text": r["text"][:300]} for r in ecb_records[:300]]  # short texts
    df = spark.createDataFrame(records).repartition(2)
    for kw in ({"neighbourhood": 0}, {"short_text_terms": 0, "neighbourhood_weight": 0.3}):
        out = cluster_spark(df, **kw)
        _assert_same(out, cluster_articles(records, **kw))
        out.unpersist()


@pytest.mark.slow
def test_generated_20k_same_clusters_as_in_memory(spark):
    records = list(generate_articles(20_000, seed=11))
    rows = [{"id": r["id"], "text": r["text"], "published": r["published"]} for r in records]
    df = spark.createDataFrame(rows, "id string, text string, published string").repartition(4)
    out = cluster_spark(df, published_col="published")
    memory = cluster_articles(rows)
    assert sum(len(c) > 1 for c in memory) > 100
    _assert_same(out, memory)
    out.unpersist()


def _memory_candidates(records, **kw):
    from dedup.article import prepare_articles
    from dedup.batch import compute_features, find_candidates
    from dedup.params import Params

    params = Params.from_kwargs(**kw)
    arts, _ = prepare_articles(records)
    _, feats = compute_features(arts, params)
    return {(int(i), int(j)) for i, j in find_candidates(feats, params)}


def _corpus(spark, ecb_records, corpus):
    """The records, their DataFrame and the column keywords of a corpus."""
    if corpus == "generated":
        records = [
            {"id": r["id"], "text": r["text"], "published": r["published"]} for r in generate_articles(3_000, seed=5)
        ]
        df = spark.createDataFrame(records, "id string, text string, published string").repartition(3)
        return records, df, {"published_col": "published"}
    return ecb_records, spark.createDataFrame(ecb_records).repartition(3), {}


@pytest.mark.slow
@pytest.mark.parametrize("corpus", ["generated", "ecbplus"])
def test_best_partners_same_candidates_and_clusters_as_in_memory(spark, ecb_records, corpus):
    """``max_partners`` small (every banded pair offered: ``min_bands=1``):
    each article keeps only its few best term-view partners (bands in
    common, then nearer in canonical order, then lower row), so the rule --
    ties included -- decides the candidate set; Spark proposes as many pairs
    and gives the same clusters."""
    records, df, extra = _corpus(spark, ecb_records, corpus)
    few = _memory_candidates(records, max_partners=3, min_bands=1)
    unbounded = _memory_candidates(records, max_partners=None, min_bands=1)
    assert few < unbounded and len(few) < 0.9 * len(unbounded)  # the rule bites
    assert few != _memory_candidates(records, max_partners=4, min_bands=1)
    timings: dict = {}
    from dedup.spark.run import run

    out = run(df, max_partners=3, min_bands=1, timings=timings, **extra)
    assert timings["pairs"] == len(few)
    memory = cluster_articles(records, max_partners=3, min_bands=1)
    assert sum(len(c) > 1 for c in memory) > 10
    _assert_same(out, memory)
    out.unpersist()


@pytest.mark.slow
@pytest.mark.parametrize(("max_partners", "min_bands"), [(None, 6), (3, 5)])
def test_min_bands_same_candidates_and_clusters_as_in_memory(spark, ecb_records, max_partners, min_bands):
    """Term-view pairs agreeing in fewer than ``min_bands`` bands are dropped
    by Spark as in memory, with the partner rule and without it."""
    records, df, extra = _corpus(spark, ecb_records, "ecbplus")
    kw = {"max_partners": max_partners, "min_bands": min_bands}
    least = _memory_candidates(records, **kw)
    assert least < _memory_candidates(records, max_partners=max_partners, min_bands=1)  # the rule bites
    timings: dict = {}
    from dedup.spark.run import run

    out = run(df, timings=timings, **kw, **extra)
    assert timings["pairs"] == len(least)
    _assert_same(out, cluster_articles(records, **kw))
    out.unpersist()


def _bad_batch(ecb_records):
    good = [dict(r) for r in ecb_records[:60]]
    for k, r in enumerate(good):
        r["published"] = f"2024-01-{1 + k % 20:02d}T12:00:00Z"
    bad = [
        {"id": good[3]["id"], "text": "a second article under an id already used", "published": None},
        {"id": "bad-date", "text": good[5]["text"], "published": "not a date"},
        {"id": "no-text", "text": None, "published": "2024-01-02"},
        {"id": None, "text": good[7]["text"] + " Copied.", "published": "2024-01-03T00:00:00+02:00"},
        {"id": "bad-date", "text": "the id of a rejected row is free again", "published": "2024-01-04"},
    ]
    return good[:30] + bad + good[30:]


def test_bad_rows_are_reported_and_good_rows_clustered_as_in_memory(spark, ecb_records):
    records = _bad_batch(ecb_records)
    df = spark.createDataFrame(records, "id string, text string, published string")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = cluster_spark(df, published_col="published")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        memory = cluster_articles(records)
    rejected = {(r["id"], r["position"], r["rejected"]) for r in out.filter("rejected IS NOT NULL").collect()}
    assert {(pos, reason) for _, pos, reason in rejected} == {(r.position, r.reason) for r in memory.rejected}
    assert {i for i, _, _ in rejected} == {records[3]["id"], "bad-date"}
    assert sum(issubclass(w.category, DedupWarning) for w in caught) == len(memory.rejected) == 2
    good = out.filter("rejected IS NULL")
    assert good.filter("cluster IS NULL").count() == 0
    assert good.filter("id = 'no-text'").first()["flags"] == ["empty"]
    assert good.filter("id = '33'").count() == 1  # a missing id is the input position, as in memory
    _assert_same(out, memory)
    out.unpersist()


def test_errors_raise_names_the_first_bad_row(spark, ecb_records):
    df = spark.createDataFrame(_bad_batch(ecb_records), "id string, text string, published string")
    with pytest.raises(ArticleError, match="duplicate id"):
        cluster_spark(df, published_col="published", errors="raise")


def test_unknown_column_and_parameter_are_named(spark):
    df = spark.createDataFrame([("1", "some text")], "id string, body string")
    with pytest.raises(ValueError, match="no column 'text'"):
        cluster_spark(df)
    with pytest.raises(TypeError, match="unknown parameter"):
        cluster_spark(df, text_col="body", treshold=0.5)


def test_cli_spark_cluster_writes_the_in_memory_clusters(spark, ecb_records, tmp_path):
    import json

    from dedup.cli import main

    records = ecb_records[:150]
    src = tmp_path / "articles.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    assert main(["spark-cluster", str(src), "-o", str(tmp_path / "out"), "--output-format", "jsonl"]) == 0
    rows = [json.loads(line) for f in sorted((tmp_path / "out").glob("part-*")) for line in f.open(encoding="utf-8")]
    got = {r["id"]: r["cluster"] for r in rows}
    memory = cluster_articles(records)
    assert got == memory.labels_


def _jsonl_inputs(tmp_path) -> dict:
    """bad.jsonl (40 good records, an invalid line 7, a number as text),
    noid.jsonl (no record has an id), mix.jsonl (every third lacks one)."""
    import json

    records = [{k: r[k] for k in ("id", "text", "published")} for r in generate_articles(40, seed=1)]
    lines = [json.dumps(r, default=str) for r in records]
    bad = [*lines[:6], "{not json", *lines[6:], '{"id": "x1", "text": 5}']
    noid = [json.dumps({k: v for k, v in r.items() if k != "id"}, default=str) for r in records]
    mix = [json.dumps({k: v for k, v in r.items() if k != "id" or i % 3}, default=str) for i, r in enumerate(records)]
    paths = {}
    for name, rows in (("bad", bad), ("noid", noid), ("mix", mix)):
        paths[name] = tmp_path / f"{name}.jsonl"
        paths[name].write_text("\n".join(rows) + "\n", encoding="utf-8")
    return paths


def _labels(lines) -> dict:
    """id -> cluster of JSONL output lines."""
    import json

    return {r["id"]: r["cluster"] for r in map(json.loads, lines)}


def _parts(folder) -> list[str]:
    """The lines of the JSONL part files Spark wrote."""
    return [line for f in sorted(folder.glob("part-*")) for line in f.read_text("utf-8").splitlines()]


def _where_lines(err: str) -> list[str]:
    """The ``file:line: reason`` lines of stderr."""
    return [line for line in err.splitlines() if line.startswith("dedup: ") and ".jsonl:" in line]


@pytest.mark.parametrize("name", ["bad", "noid", "mix"])
def test_cli_spark_cluster_reads_jsonl_as_cluster_does(spark, tmp_path, capsys, monkeypatch, name):
    """spark-cluster uses and rejects the records ``dedup cluster`` does:
    the same ids (``FILE:LINE`` for a record without one, the path as given),
    the same clusters, the same ``file:line: reason`` lines and exit code."""

    from dedup.cli import main

    _jsonl_inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    src = f"{name}.jsonl"
    code = main(["cluster", src, "-o", "memory.jsonl"])
    memory_err = _where_lines(capsys.readouterr().err)
    memory = _labels((tmp_path / "memory.jsonl").read_text("utf-8").splitlines())
    out = str(tmp_path / "out")  # absolute: the JVM does not follow chdir
    assert main(["spark-cluster", src, "-o", out, "--output-format", "jsonl"]) == code
    spark_err = _where_lines(capsys.readouterr().err)
    assert _labels(_parts(tmp_path / "out")) == memory
    assert spark_err == memory_err
    if name == "bad":
        assert code == 3 and len(memory) == 40
        assert [e.split(": ", 2)[1] for e in spark_err] == ["bad.jsonl:7", "bad.jsonl:42"]
    else:
        assert code == 0 and not spark_err
        assert f"{name}.jsonl:1" in memory and f"{name}.jsonl:34" in memory


def test_cli_spark_cluster_reads_remote_jsonl_with_file_lines(spark, tmp_path, capsys, monkeypatch):
    """A path that is not local is read by Spark line by line, with the same
    records, ``file:line`` rejections and ``FILE:LINE`` ids."""
    import json

    import dedup.cli.spark as cli_spark
    from dedup.cli import main

    paths = _jsonl_inputs(tmp_path)
    with open(paths["bad"], "a", encoding="utf-8") as f:
        f.write(json.dumps({"text": "an article without an id, long enough to count"}) + "\n")
    src = str(paths["bad"])  # absolute: Spark reads it, and the JVM does not follow chdir
    code = main(["cluster", src, "-o", str(tmp_path / "memory.jsonl")])
    memory_err = _where_lines(capsys.readouterr().err)
    memory = _labels((tmp_path / "memory.jsonl").read_text("utf-8").splitlines())
    monkeypatch.setattr(cli_spark, "_local_files", lambda path: None)  # as if on hdfs://
    assert main(["spark-cluster", src, "-o", str(tmp_path / "out"), "--output-format", "jsonl"]) == code == 3
    assert _where_lines(capsys.readouterr().err) == memory_err
    assert _labels(_parts(tmp_path / "out")) == memory
    assert f"{src}:43" in memory


def test_cli_spark_cluster_asks_spark_whether_a_remote_output_exists(spark, tmp_path, capsys, monkeypatch):
    """An output that is not local (hdfs://, s3a://) is looked for through
    Spark's reader before the run, and an existing one refused in one line."""
    import dedup.cli.spark as cli_spark
    from dedup.cli import main

    out = tmp_path / "stories"
    out.mkdir()
    (out / "part-00000.parquet").write_bytes(b"written before")
    (tmp_path / "empty").mkdir()
    assert cli_spark._exists(spark, str(out)) and cli_spark._exists(spark, f"file://{out}")
    assert cli_spark._exists(spark, str(tmp_path / "empty"))
    assert not cli_spark._exists(spark, str(tmp_path / "missing"))
    assert not cli_spark._exists(spark, "nosuchscheme://host/path")  # cannot be asked: left to the write
    src = tmp_path / "feed.jsonl"
    src.write_text('{"id": "a", "text": "one article long enough to be read"}\n', encoding="utf-8")
    monkeypatch.setattr(cli_spark, "_local", lambda path: None)  # as if every path were on hdfs://
    assert main(["spark-cluster", str(src), "-o", str(out)]) == 2
    assert (
        capsys.readouterr().err
        == f"dedup: error: the output {out} exists: give a new folder, or --overwrite to replace it\n"
    )
    assert (out / "part-00000.parquet").read_bytes() == b"written before"


def test_cli_spark_cluster_on_files_that_are_not_parquet_is_one_line(spark, tmp_path, capsys):
    # a folder of .txt files (the bundled seeds) was a Java trace and "a bug in dedup"
    from dedup.cli import main

    seeds = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "seeds")
    assert main(["spark-cluster", seeds, "-o", str(tmp_path / "out")]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("dedup:")]
    assert len(err) == 1 and err[0].startswith("dedup: error: Spark cannot read")
    assert "spark-cluster reads Parquet or JSONL" in err[0] and "a bug in dedup" not in err[0]
