"""The steps of :func:`dedup.cluster_spark`: the batch's stage functions over
Arrow batches.

Each step is a plain function (or a factory of one) over pandas frames of
Arrow batches, as ``mapInPandas`` / ``applyInPandas`` call them, and does
its work by calling the very function the in-memory path calls
(:func:`dedup.cluster_articles`): the Spark job and the batch differ only in
where the state lives (rows in Spark partitions, arrays packed as binary
columns) and in how the work is scheduled (:mod:`dedup.spark.run`).

========================  =======================================================
step                      batch function it calls
========================  =======================================================
:func:`featurize_step`    :func:`dedup.article.coerce_article`,
                          :func:`dedup.features.featurize.featurize` (and its document
                          frequencies, summed over the tasks)
:func:`order_step`        :func:`dedup.batch.canonical_order` (on the driver)
:func:`weigh_step`        :func:`dedup.features.weights.weigh` with the corpus-wide
                          document frequencies
:func:`band_step`         :func:`dedup.sketch.lsh.lsh_views`,
                          :func:`dedup.sketch.lsh.band_keys`
:func:`bucket_step`       :func:`dedup.sketch.lsh.keyed_pairs` (the band kernel:
                          bucket cap, time window), a few bands at a time
:func:`merge_step`        :func:`dedup.sketch.lsh.unique_codes`
:func:`sift_step`         the partner rule's ranking of
                          :func:`dedup.sketch.lsh.top_partner_pairs`
                          (:func:`dedup.sketch.lsh.bands_in_common`) on a block of rows
:func:`partner_step`      its choice (:func:`dedup.sketch.lsh.best_partners`)
:func:`score_step`        :func:`dedup.scoring.score_pairs` on a block of rows
:func:`link_step`         :func:`dedup.scoring.story_scores`,
                          :func:`dedup.linkage.link`,
                          :func:`dedup.linkage.build_clusters` (on the driver)
========================  =======================================================

Where the batch keeps a rule inside a compiled kernel, the steps call that
kernel through a function of its own beside it (the banding:
:func:`dedup.sketch.lsh.keyed_pairs`; the bands in common:
:func:`dedup.sketch.lsh.bands_in_common`), or its plain form, which the
tests hold to the kernel: which rows are bucketed
(:func:`dedup.sketch.minhash.signed`), each row's best partners
(:func:`dedup.sketch.lsh.best_partners`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..article import Article, ArticleError, Cluster, claim_id, coerce_article
from ..batch import FEATURIZE_CHUNK, canonical_order
from ..features.counts import RawFeatures
from ..features.featurize import featurize
from ..features.weights import Features, weigh
from ..linkage import build_clusters, link
from ..params import Params
from ..scoring import ScoredPairs, score_pairs, story_scores
from ..sketch import lsh as cand
from ..sketch.lsh import lsh_views
from ..sketch.minhash import signed

# --- packing: arrays as binary columns ---------------------------------------------

_VALUES = np.float32  # the dtype of term counts and TF-IDF values


def blob(a: np.ndarray, dtype: Any) -> bytes:
    """``a`` as bytes of ``dtype`` (checked: a value is never cast)."""
    a = np.asarray(a)
    if a.dtype != np.dtype(dtype) and a.size and not np.can_cast(a.dtype, dtype, casting="safe"):
        raise TypeError(f"cannot pack {a.dtype} values as {np.dtype(dtype)}")
    return np.ascontiguousarray(a, dtype=dtype).tobytes()


def unblob(values: Any, dtype: Any) -> np.ndarray:
    """The concatenation of binary column values as one array of ``dtype``."""
    parts = [bytes(v) for v in values if v is not None]
    return np.frombuffer(b"".join(parts), dtype=dtype) if parts else np.zeros(0, dtype=dtype)


def csr_blobs(m: sp.csr_matrix) -> tuple[list[bytes], list[bytes]]:
    """Each row of ``m`` as ``(columns int32, values float32)`` bytes."""
    if m.data.dtype != _VALUES:
        raise TypeError(f"rows of {m.data.dtype} values, {np.dtype(_VALUES)} expected")
    ind, dat, p = m.indices.astype(np.int32, copy=False), m.data, m.indptr
    return (
        [ind[p[k] : p[k + 1]].tobytes() for k in range(m.shape[0])],
        [dat[p[k] : p[k + 1]].tobytes() for k in range(m.shape[0])],
    )


def csr_of_blobs(idx: list, val: list, n_features: int) -> sp.csr_matrix:
    """The rows :func:`csr_blobs` packed, as one CSR matrix."""
    lengths = np.fromiter((len(b) // 4 for b in idx), dtype=np.int64, count=len(idx))
    indptr = np.zeros(len(idx) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    return sp.csr_matrix((unblob(val, _VALUES), unblob(idx, np.int32), indptr), shape=(len(idx), n_features))


def matrix_of_blobs(values: list, width: int) -> np.ndarray:
    """Rows of ``width`` uint32 values (signatures), one blob a row."""
    return unblob(values, np.uint32).reshape(len(values), width)


def _none(v: Any) -> Any:
    """``None`` for pandas' missing values (NaN, NaT, None)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if v is pd.NaT or (not isinstance(v, (str, bytes, list, dict)) and pd.isna(v) is True):
        return None
    return v


def utc(ts: float | None) -> datetime | None:
    """A POSIX time as an aware datetime (``None`` for NaN)."""
    return None if ts is None or math.isnan(ts) else datetime.fromtimestamp(ts, tz=timezone.utc)


# --- 1. featurize ---------------------------------------------------------------------------

FEATURE_SCHEMA = (
    "kind byte, pos long, id string, reason string, ts double, digest binary, empty boolean, "
    "idx binary, val binary, sh_sig binary, n_terms long, dropped double"
)
"""Kind 0: one input row -- its coerced id, the reason it was rejected (or
null), its features (:func:`dedup.features.featurize.featurize`). Kind 1: one a task,
its document frequencies (``idx`` int64 columns, ``val`` float64 counts;
``pos`` the number of articles)."""


def coerce_row(pos: int, record: dict[str, Any]) -> tuple[Article | None, str, str | None]:
    """``(article, id, reason)`` of one input row: :func:`coerce_article`
    with the input position as the default id, as the batch does."""
    try:
        art = coerce_article(record, default_id=str(pos))
        return art, art.id, None
    except ArticleError as exc:
        return None, str(pos) if record["id"] in (None, "") else str(record["id"]), exc.reason


def _records(b: pd.DataFrame, has_title: bool, has_pub: bool) -> Iterator[dict[str, Any]]:
    n = len(b)
    cols = [
        b["_id"].tolist(),
        b["_text"].tolist(),
        b["_title"].tolist() if has_title else [None] * n,
        b["_pub"].tolist() if has_pub else [None] * n,
    ]
    for raw_id, text, title, pub in zip(*cols, strict=True):
        record = {"id": _none(raw_id), "text": _none(text)}
        if has_title:
            record["title"] = _none(title)
        if has_pub:
            record["published"] = _none(pub)
        yield record


def _feature_frame(pos: list, ids: list, reasons: list, arts: list, raw: RawFeatures) -> pd.DataFrame:
    """Kind-0 rows: every input row, features where it was accepted."""
    n = len(pos)
    good = np.flatnonzero([r is None for r in reasons])
    out = {k: [None] * n for k in ("ts", "digest", "empty", "idx", "val", "sh_sig", "n_terms", "dropped")}
    idx, val = csr_blobs(raw.counts)
    terms = raw.terms_per_row()
    for k, g in enumerate(good.tolist()):
        ts = arts[k].timestamp
        out["ts"][g] = math.nan if ts is None else ts
        out["digest"][g], out["empty"][g] = raw.digests[k], bool(raw.empty[k])
        out["idx"][g], out["val"][g] = idx[k], val[k]
        out["sh_sig"][g] = blob(raw.shingle_signatures[k], np.uint32)
        out["n_terms"][g] = int(terms[k])
        out["dropped"][g] = math.nan if raw.dropped is None else float(raw.dropped[k])
    frame = pd.DataFrame({"kind": np.zeros(n, np.int8), "pos": pos, "id": ids, "reason": reasons, **out})
    return frame.astype({"ts": "float64", "dropped": "float64"})


def _positions(pids: list[int], offsets: dict[int, int], seen: dict[int, int]) -> list[int]:
    """Input positions of a batch's rows: the partition's offset plus the
    rows of that partition seen so far (``seen`` is updated)."""
    pos = []
    for pid in pids:
        pos.append(offsets[pid] + seen.get(pid, 0))
        seen[pid] = seen.get(pid, 0) + 1
    return pos


def _frequency_row(df: np.ndarray, n_docs: int) -> pd.DataFrame:
    """The kind-1 row: a task's document frequencies."""
    row: dict[str, list] = {c: [None] for c in FEATURE_COLUMNS}
    cols = np.flatnonzero(df)
    row.update(kind=[1], pos=[n_docs], idx=[cols.tobytes()], val=[df[cols].tobytes()])
    return pd.DataFrame(row)


def _chunks(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """The rows of ``batches`` in runs of the batch's chunk size (featurize's sorts stay in cache)."""
    for b in batches:
        for lo in range(0, len(b), FEATURIZE_CHUNK):
            yield b.iloc[lo : lo + FEATURIZE_CHUNK]


def featurize_step(
    params: Params, offsets: dict[int, int], has_title: bool, has_pub: bool, only: Any = None
) -> Callable:
    """``mapInPandas`` over the input (``_pid``, ``_id``, ``_text`` and the
    optional ``_title``, ``_pub``): each row coerced (its input position from
    the partition ``offsets``), the accepted ones featurised together
    (:func:`dedup.features.featurize.featurize`); last, the task's document
    frequencies (counted by featurize, before pruning). With ``only`` (a
    broadcast set of positions), just those rows, for their frequencies."""

    def fn(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        seen: dict[int, int] = {}
        df = np.zeros(params.n_features, dtype=np.float64)
        n_docs = 0
        for b in _chunks(batches):
            pos = _positions(b["_pid"].tolist(), offsets, seen)
            if only is not None:
                mask = np.fromiter((p in only.value for p in pos), dtype=bool, count=len(pos))
                b, pos = b[mask], [p for p, m in zip(pos, mask, strict=True) if m]
            rows = [coerce_row(p, r) for p, r in zip(pos, _records(b, has_title, has_pub), strict=True)]
            arts = [a for a, _, _ in rows if a is not None]
            raw = featurize(arts, params)
            df[raw.df_cols] += raw.df_vals
            n_docs += len(arts)
            if only is None:
                yield _feature_frame(pos, [i for _, i, _ in rows], [r for _, _, r in rows], arts, raw)
        yield _frequency_row(df, n_docs)

    return fn


FEATURE_COLUMNS = [f.split()[0] for f in FEATURE_SCHEMA.split(", ")]


def document_frequency(rows: list[Any], n_features: int) -> tuple[np.ndarray, int]:
    """The corpus's document frequencies: the kind-1 rows of
    :func:`featurize_step` summed (dense, float64) and the article count."""
    df = np.zeros(n_features, dtype=np.float64)
    n = 0
    for r in rows:
        df[np.frombuffer(r["idx"], np.int64)] += np.frombuffer(r["val"], np.float64)
        n += int(r["pos"])
    return df, n


# --- 2. canonical order (driver) ------------------------------------------------------------


def accepted_rows(keys: pd.DataFrame) -> tuple[np.ndarray, list[tuple[int, str, str]]]:
    """Which rows the batch keeps, and ``(position, id, reason)`` of those it
    rejects, in input order. ``keys`` (``pos``, ``id``, ``reason``, sorted by
    ``pos``) carries the coercion's rejections; a later row reusing an
    accepted id is rejected, as :func:`dedup.article.iter_articles` does."""
    first: dict[str, int] = {}
    keep = np.zeros(len(keys), dtype=bool)
    rejected = []
    for k, (pos, i, reason) in enumerate(
        zip(keys["pos"].tolist(), keys["id"].tolist(), keys["reason"].tolist(), strict=True)
    ):
        if reason is None:
            reason = claim_id(first, i, pos)
        if reason is None:
            keep[k] = True
        else:
            rejected.append((pos, i, reason))
    return keep, rejected


def order_step(keys: pd.DataFrame) -> tuple[np.ndarray, list[Article]]:
    """``(rank of each kept row, articles in rank order)``: the canonical order
    of :func:`dedup.batch.canonical_order` over the kept rows' keys
    (``pos``, ``id``, ``ts``, ``digest``, in input order). The articles carry
    id and publication time (what linkage and the clusters read)."""
    ts = keys["ts"].to_numpy(dtype=np.float64, na_value=np.nan).tolist()
    arts = [Article(id=i, text="", published=utc(t)) for i, t in zip(keys["id"].tolist(), ts, strict=True)]
    order = canonical_order(arts, [bytes(d) for d in keys["digest"].tolist()])
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    return rank, [arts[k] for k in order.tolist()]


# --- 3. weigh ---------------------------------------------------------------------------------

WEIGHED_SCHEMA = (
    "rank long, ts double, empty boolean, n_terms long, x_idx binary, x_val binary, sh_sig binary, term_sig binary"
)


def raw_features(b: pd.DataFrame, params: Params) -> RawFeatures:
    """The :class:`RawFeatures` of kind-0 rows of :func:`featurize_step`."""
    dropped = b["dropped"]  # NaN where featurize pruned nothing (Params.max_terms unset)
    return RawFeatures(
        counts=csr_of_blobs(b["idx"].tolist(), b["val"].tolist(), params.n_features),
        shingle_signatures=matrix_of_blobs(b["sh_sig"].tolist(), params.num_perm),
        digests=b["digest"].tolist(),
        empty=b["empty"].to_numpy(dtype=bool),
        n_terms=b["n_terms"].to_numpy(dtype=np.int64),
        dropped=None if dropped.isna().all() else dropped.to_numpy(dtype=np.float64, na_value=0.0),
    )


def weigh_step(params: Params, rank_of_pos: Any, df: Any, n_docs: int) -> Callable:
    """``mapInPandas`` over the kind-0 rows: the kept rows (a rank in the
    broadcast ``rank_of_pos``, -1 elsewhere) through :func:`weigh` with the
    corpus-wide document frequencies (broadcast ``df``), terms no other
    article has dropped (as the batch does: the cosines do not change)."""

    def fn(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for b in batches:
            rank = rank_of_pos.value[b["pos"].to_numpy(dtype=np.int64)]
            b = b[rank >= 0]
            if not len(b):
                continue
            ts = b["ts"].to_numpy(dtype=np.float64, na_value=np.nan)
            f = weigh(
                raw_features(b, params),
                [None if math.isnan(t) else t for t in ts.tolist()],
                params,
                document_frequency=(df.value, float(n_docs)),
                drop_unshared=True,
            )
            idx, val = csr_blobs(f.tfidf)
            yield pd.DataFrame(
                {
                    "rank": rank[rank >= 0],
                    "ts": ts,
                    "empty": f.empty,
                    "n_terms": f.n_terms,
                    "x_idx": idx,
                    "x_val": val,
                    "sh_sig": b["sh_sig"].to_numpy(),
                    "term_sig": [r.tobytes() for r in f.term_signatures],
                }
            )

    return fn


# --- 4. LSH bands -----------------------------------------------------------------------------

BAND_SCHEMA = "view byte, band int, keys binary, ranks binary, ts binary"
PAIR_SCHEMA = "view byte, block long, codes binary"


def view_signatures(params: Params) -> list[tuple[int, str, int, int]]:
    """``(view, signature column, bands, rows)`` of :func:`lsh_views`."""
    column = {"term": "term_sig", "shingle": "sh_sig"}
    return [(v, column[name], b, r) for v, (name, b, r) in enumerate(lsh_views(params))]


def term_view(params: Params) -> int:
    """The view whose pairs :func:`dedup.sketch.lsh.top_partner_pairs` limits."""
    return next(v for v, col, _, _ in view_signatures(params) if col == "term_sig")


def bandable(signatures: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Mask of the rows :func:`dedup.sketch.lsh.candidate_pairs` buckets:
    valid ones (not empty) that sign a non-empty set (:func:`dedup.sketch.minhash.signed`)."""
    return valid & signed(signatures)


BANDS_PER_ROW = 8  # bands packed in one row of band keys: ranks and times are sent once for them


def band_step(params: Params) -> Callable:
    """``mapInPandas`` over weighed rows: per view, the band keys of the
    batch's bucketed rows (:func:`dedup.sketch.lsh.band_keys`) with their
    ranks and times, one packed row per :data:`BANDS_PER_ROW` bands
    (``band``: the first; ``keys``: rows x bands, row-major)."""
    views = view_signatures(params)

    def fn(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for b in batches:
            rank = b["rank"].to_numpy(dtype=np.int64)
            ts = b["ts"].to_numpy(dtype=np.float64, na_value=np.nan)
            out: dict[str, list] = {"view": [], "band": [], "keys": [], "ranks": [], "ts": []}
            for v, col, bands, rows in views:
                sig = matrix_of_blobs(b[col].tolist(), params.num_perm)
                ok = bandable(sig, ~b["empty"].to_numpy(dtype=bool))
                keys = cand.band_keys(sig[ok], bands, rows)
                r, t = rank[ok].tobytes(), ts[ok].tobytes()
                for first in range(0, bands, BANDS_PER_ROW):
                    out["view"].append(v)
                    out["band"].append(first)
                    out["keys"].append(np.ascontiguousarray(keys[:, first : first + BANDS_PER_ROW]).tobytes())
                    out["ranks"].append(r)
                    out["ts"].append(t)
            yield pd.DataFrame(out).astype({"view": "int8", "band": "int32"})

    return fn


PIECE = 1 << 20  # values at most in one packed cell: no single binary value of hundreds of MB in the JVM


def _add_pieces(out: dict[str, list], block: int, arrays: dict[str, np.ndarray]) -> None:
    """Append to ``out`` the rows of one block: its arrays (of equal length)
    cut together into runs of at most :data:`PIECE` values, each packed (one
    empty row for an empty block)."""
    starts = range(0, max(len(next(iter(arrays.values()))), 1), PIECE)
    out["block"].extend([block] * len(starts))
    for name, a in arrays.items():
        out[name].extend(a[lo : lo + PIECE].tobytes() for lo in starts)


def pieces(block: int, **arrays: np.ndarray) -> pd.DataFrame:
    """Rows ``(block, *arrays)`` of one block, cut into pieces of at most
    :data:`PIECE` values. A step reading a block concatenates its rows in
    order (:func:`unblob`), so how they were cut does not matter."""
    out: dict[str, list] = {"block": [], **{name: [] for name in arrays}}
    _add_pieces(out, block, arrays)
    return pd.DataFrame(out)


def split_by_block(block: np.ndarray, **arrays: np.ndarray) -> pd.DataFrame:
    """Rows ``(block, *arrays)``: the arrays (sorted by ``block``) cut where
    the block changes, each block's piece packed (as :func:`pieces`)."""
    out: dict[str, list] = {"block": [], **{name: [] for name in arrays}}
    bounds = [0, *(np.flatnonzero(np.diff(block)) + 1).tolist(), len(block)] if len(block) else []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        _add_pieces(out, int(block[lo]), {name: a[lo:hi] for name, a in arrays.items()})
    return pd.DataFrame(out).astype({"block": np.int64})


def bucket_step(params: Params, n: int, block_size: int) -> Callable:
    """``applyInPandas`` grouped by ``(view, band)``: a few bands of the
    batch's banding, the members in rank order through
    :func:`dedup.sketch.lsh.keyed_pairs` (the batch's band kernel: buckets
    over ``max_bucket_size`` pair each member with its next
    ``bucket_neighbours``, the time window) -- their pairs unique, as codes
    ``i * n + j`` by block of ``i``."""
    window = None if params.time_window is None else params.time_window.total_seconds()

    def fn(g: pd.DataFrame) -> pd.DataFrame:
        ranks = unblob(g["ranks"], np.int64)
        if not len(ranks):
            return pd.DataFrame({"view": [], "block": [], "codes": []})
        order = np.argsort(ranks, kind="stable")
        keys = unblob(g["keys"], np.uint64).reshape(len(ranks), -1)[order]
        ts = unblob(g["ts"], np.float64)[order]
        ranks = ranks[order]
        local = cand.keyed_pairs(
            keys,
            max_bucket_size=params.max_bucket_size,
            neighbours=params.bucket_neighbours,
            timestamps=ts,
            window_seconds=window,
        )
        m = len(ranks)
        codes = ranks[local // m] * n + ranks[local % m]  # ascending, as local: ranks ascend
        out = split_by_block(codes // n // block_size, codes=codes)
        out.insert(0, "view", np.full(len(out), int(g["view"].iloc[0]), dtype=np.int8))
        return out

    return fn


MERGED_SCHEMA = "block long, codes binary, term binary, other binary"


def merge_step(limited_view: int | None) -> Callable:
    """``applyInPandas`` grouped by block: the block's pairs of all views and
    bands made unique (:func:`dedup.sketch.lsh.unique_codes`), each flagged
    (uint8) ``term`` when ``limited_view`` proposed it (the pairs the partner
    rule ranks) and ``other`` when another view did (kept whatever the rule
    says). ``None``: no view is limited, every pair is ``other``."""

    def fn(g: pd.DataFrame) -> pd.DataFrame:
        views = g["view"].to_numpy()
        codes = cand.unique_codes(unblob(g["codes"], np.int64).copy())
        term = np.zeros(len(codes), dtype=np.uint8)
        other = np.ones(len(codes), dtype=np.uint8)
        if limited_view is not None:
            mine = cand.unique_codes(unblob(g["codes"][views == limited_view], np.int64).copy())
            rest = cand.unique_codes(unblob(g["codes"][views != limited_view], np.int64).copy())
            term[np.searchsorted(codes, mine)] = 1
            other[:] = 0
            other[np.searchsorted(codes, rest)] = 1
        return pieces(int(g["block"].iloc[0]), codes=codes, term=term, other=other)

    return fn


# --- 5. the partner rule (before any pair is scored, as in the batch) ---------------------------

SIFTED_SCHEMA = "kind byte, block long, codes binary, x binary, y binary, common binary"
"""Kind 0: a block's pairs kept whatever the partner rule says (``codes``);
kind 1: the limited view's pairs offered to their rows (``x`` receives
``y``, with their ``common`` bands), by block of ``x``."""

PAIRS_SCHEMA = "block long, codes binary"


def _sifted(kind: int, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame``'s rows as :data:`SIFTED_SCHEMA` rows of ``kind`` (other columns null)."""
    out = {"kind": np.full(len(frame), kind, np.int8), "block": frame["block"].to_numpy(np.int64)}
    for c in ("codes", "x", "y", "common"):
        out[c] = frame[c].tolist() if c in frame else [None] * len(frame)
    return pd.DataFrame(out)


def sift_step(params: Params, n: int, block_size: int, limited_view: int) -> Callable:
    """``applyInPandas`` cogrouped by block (signature rows: the block's own
    and those it borrows; its merged pairs): the bands in common
    (:func:`dedup.sketch.lsh.bands_in_common`) of the limited view's pairs,
    as :func:`dedup.sketch.lsh.top_partner_pairs` counts them. Pairs another
    view proposed, or agreeing in ``KEEP_BANDS`` bands, are kept (kind 0);
    the limited view's pairs are offered to both their rows (kind 1). A
    limited-view pair agreeing in fewer than ``Params.min_bands`` bands is
    neither; without ``Params.max_partners`` the others are all kept."""
    _, column, bands, rows_per_band = view_signatures(params)[limited_view]

    def fn(rows: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
        if not len(pairs):
            return _sifted(0, pd.DataFrame({"block": []}))
        rows = rows.sort_values("rank", kind="stable")
        ranks = rows["rank"].to_numpy(dtype=np.int64)
        codes = unblob(pairs["codes"], np.int64)
        limited = unblob(pairs["term"], np.uint8).astype(bool)
        i, j = codes[limited] // n, codes[limited] % n
        local = np.stack([np.searchsorted(ranks, i), np.searchsorted(ranks, j)], axis=1)
        sig = matrix_of_blobs(rows[column].tolist(), params.num_perm)
        common = cand.bands_in_common(sig, local, bands, rows_per_band).astype(np.int32)
        enough = common >= params.min_bands  # pairs agreeing in fewer bands are never offered
        ranked = cand.ranks_partners(params)
        sure = unblob(pairs["other"], np.uint8).astype(bool)
        sure[limited] |= enough & (common >= cand.KEEP_BANDS) if ranked else enough
        block = int(pairs["block"].iloc[0])
        kept = pieces(block, codes=codes[sure])
        offer = enough if ranked else np.zeros(len(common), dtype=bool)
        i, j, common = i[offer], j[offer], common[offer]
        x, y, c = np.concatenate([i, j]), np.concatenate([j, i]), np.concatenate([common, common])
        order = np.argsort(x // block_size, kind="stable")
        offers = split_by_block(x[order] // block_size, x=x[order], y=y[order], common=c[order])
        return pd.concat([_sifted(0, kept), _sifted(1, offers)], ignore_index=True)

    return fn


def partner_step(params: Params, n: int, block_size: int) -> Callable:
    """``applyInPandas`` grouped by block of ``x`` (kind-1 rows of
    :func:`sift_step`): each row's kept partners
    (:func:`dedup.sketch.lsh.best_partners` with ``Params.max_partners``), as
    pair codes ``min * n + max`` by block of the lower row."""

    def fn(g: pd.DataFrame) -> pd.DataFrame:
        x, y = unblob(g["x"], np.int64), unblob(g["y"], np.int64)
        kx, ky = cand.best_partners(x, y, unblob(g["common"], np.int32), int(params.max_partners))
        codes = cand.unique_codes(cand.pair_codes(np.column_stack([kx, ky]), n))
        return split_by_block(codes // n // block_size, codes=codes)

    return fn


def union_step(g: pd.DataFrame) -> pd.DataFrame:
    """``applyInPandas`` grouped by block: the block's pairs (``codes``) made unique."""
    codes = cand.unique_codes(unblob(g["codes"], np.int64).copy())
    return pieces(int(g["block"].iloc[0]), codes=codes)


def borrowed_step(n: int, block_size: int) -> Callable:
    """``mapInPandas`` over pairs by block: ``(block, rank)`` of each row a
    block's pairs need from another block (each once)."""

    def fn(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for b in batches:
            for block, codes in zip(b["block"].tolist(), b["codes"].tolist(), strict=True):
                j = np.unique(np.frombuffer(codes, np.int64) % n)
                j = j[j // block_size != block]
                yield pd.DataFrame({"block": np.full(len(j), block, np.int64), "rank": j})

    return fn


# --- 6. verify ----------------------------------------------------------------------------------

_SCORED = {"i": np.int64, "j": np.int64, "cosine": np.float64, "jaccard": np.float64, "shared": np.int64}
SCORED_SCHEMA = "block long, " + ", ".join(f"{k} binary" for k in _SCORED)
"""One row a block: its pairs and their scores, packed (dtypes ``_SCORED``)."""


def _block_features(rows: pd.DataFrame, params: Params) -> Features:
    """The :class:`Features` :func:`score_pairs` reads, of a block's rows (in rank order)."""
    m = len(rows)
    return Features(
        tfidf=csr_of_blobs(rows["x_idx"].tolist(), rows["x_val"].tolist(), params.n_features),
        term_signatures=np.zeros((m, 0), np.uint32),
        shingle_signatures=matrix_of_blobs(rows["sh_sig"].tolist(), params.num_perm),
        timestamps=None,
        empty=np.zeros(m, bool),
        n_terms=rows["n_terms"].to_numpy(dtype=np.int64),
    )


def score_step(params: Params, n: int) -> Callable:
    """``applyInPandas`` cogrouped by block (rows, pairs): the block's pairs
    through :func:`dedup.scoring.score_pairs` over the rows it holds (its own
    and those it borrows)."""

    def fn(rows: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
        if not len(pairs):
            return pd.DataFrame({k: [] for k in ["block", *_SCORED]})
        rows = rows.sort_values("rank", kind="stable")
        ranks = rows["rank"].to_numpy(dtype=np.int64)
        codes = unblob(pairs["codes"], np.int64)
        i, j = codes // n, codes % n
        local = np.stack([np.searchsorted(ranks, i), np.searchsorted(ranks, j)], axis=1)
        s = score_pairs(_block_features(rows, params), local, params)
        shared = np.full(len(codes), -1, np.int64) if s.shared is None else s.shared
        cols = {"i": i, "j": j, "cosine": s.cosine, "jaccard": s.jaccard, "shared": shared}
        block = int(pairs["block"].iloc[0])
        return pieces(block, **{k: np.asarray(cols[k], dt) for k, dt in _SCORED.items()})

    return fn


# --- 7. story score and linkage (driver) ------------------------------------------------------


def scored_pairs(blocks: list[Any]) -> ScoredPairs:
    """The scored blocks (rows of :data:`SCORED_SCHEMA`) as one
    :class:`ScoredPairs`, pairs in the batch's order (by ``i``, then ``j``)."""
    blocks = sorted(blocks, key=lambda r: r["block"])
    i, j = unblob([r["i"] for r in blocks], np.int64), unblob([r["j"] for r in blocks], np.int64)
    shared = unblob([r["shared"] for r in blocks], np.int64)
    return ScoredPairs(
        pairs=np.stack([i, j], axis=1).reshape(-1, 2),
        cosine=unblob([r["cosine"] for r in blocks], np.float64),
        jaccard=unblob([r["jaccard"] for r in blocks], np.float64),
        shared=shared,
    )


def link_step(
    arts: list[Article], scored: ScoredPairs, n_terms: np.ndarray, empty: np.ndarray, params: Params
) -> list[Cluster]:
    """The clusters of the scored graph: :func:`dedup.scoring.story_scores`,
    :func:`dedup.linkage.link` and :func:`dedup.linkage.build_clusters`, as
    :func:`dedup.cluster_articles` calls them."""
    if not params.short_text_terms:
        scored = ScoredPairs(pairs=scored.pairs, cosine=scored.cosine, jaccard=scored.jaccard)
    scored = story_scores(scored, n_terms, params)
    labels = link(len(arts), scored, params)
    return build_clusters(arts, labels, scored, params, empty=empty)


def cluster_rows(clusters: list[Cluster], position: dict[str, int]) -> dict[str, list]:
    """One row per article: ``id``, ``cluster``, ``representative``,
    ``version``, ``scores`` (JSON), ``flags`` (comma-separated), ``pos``."""
    out: dict[str, list] = {k: [] for k in ("id", "cluster", "representative", "version", "scores", "flags", "pos")}
    for c in clusters:
        version_of = {a.id: v.representative.id for v in c.versions for a in v.members}
        mine: dict[str, list] = {a.id: [] for a in c.members}
        for s in c.scores:
            for a, b in ((s.a, s.b), (s.b, s.a)):
                mine[a].append({"other": b, "score": s.score, "cosine": s.cosine, "jaccard": s.jaccard})
        flags = ",".join(sorted(c.flags))
        for a in c.members:
            out["id"].append(a.id)
            out["cluster"].append(c.id)
            out["representative"].append(a.id == c.id)
            out["version"].append(version_of[a.id])
            out["scores"].append(json.dumps(mine[a.id]))
            out["flags"].append(flags)
            out["pos"].append(position[a.id])
    return out
