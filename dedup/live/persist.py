"""The saved form of a story index (format 3): a :class:`~dedup.live.records.Snapshot` in one file.

One file, a ZIP archive (members stored, not compressed) holding:

* ``header.json`` -- ``{"magic": "dedup-story-index", "format_version": 3,
  "params": {...}, "config": {...}, "counts": {...}, "state": {...},
  "members": {name: {"sha256": ..., "bytes": ...}}}``;
* ``strings.json`` -- article ids, story and version ids, in sequence order;
* ``.npy`` arrays (numpy's format, read with ``allow_pickle=False``): per
  article ``seq``, ``ts``, ``live``; per live article its term counts
  (``cols``, ``counts`` with ``offsets``), ``n_terms`` and ``dropped`` (the
  short-text rule and the norm of pruned rows), its two signatures and its
  neighbour profile (``top_seq``/``top_val`` with ``top_offsets``, ``rev_seq``/
  ``rev_val`` with ``rev_offsets``: partner seqs and float64 scores, by seq),
  its partner list (``part_known``: whether it has one; ``part_seq``/
  ``part_bands`` with ``part_offsets``: partner seqs and bands in common, by
  seq; :mod:`dedup.live.decide`); the running document frequencies (nonzero
  columns and counts).

Format 2 (before the partner lists) is read: its live articles get no
partner list, so the partner rule keeps every pair with them from their side
(new articles' lists are kept as usual); the next save writes format 3.
Format 1 (before the story score; entries had a ``prior`` and no profiles) is
refused with an error that says to rebuild the index: its articles' neighbour
profiles cannot be recovered from it.

Loading trusts nothing in the file. Nothing is executed (JSON and plain
arrays only, never pickle); members must be stored, no larger than the file
and of the size the header gives, so nothing is inflated and a crafted file
cannot make the loader allocate more than the file's size (a "zip bomb" is
refused from the directory alone); every member's SHA-256 is checked; then
every array's type and shape and every cross-reference (offsets, sequence
numbers, columns, string table) is checked against the others. Any failure
is one :class:`~dedup.live.records.IndexFormatError` naming the file and what
is wrong. The LSH band tables are not stored: they are rebuilt from the live
articles' signatures, in sequence order (the same buckets, members in the
same order).

Saving is atomic: the file is written to a temporary file in the same folder
(``.<name>.<pid>.<random>.tmp``), flushed and fsynced, given the mode of the
file it replaces (a new file: the umask's), then renamed over the target
(``os.replace``), and the folder is fsynced; a crash, a kill or a full disk
during a save leaves the previous file as it was, and a failure is one
:class:`~dedup.live.records.IndexSaveError`. Temporary files left by a saver
that was killed (its process is gone) are removed by the next save.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import math
import os
import re
import stat
import tempfile
import time
import tokenize
import zipfile
from typing import Any

import numpy as np

from ..params import Params
from .records import Entry, IndexFormatError, IndexSaveError, Snapshot

__all__ = ["MAGIC", "FORMAT_VERSION", "save_index", "load_index", "read_snapshot"]

MAGIC = "dedup-story-index"
FORMAT_VERSION = 3
READABLE = (2, 3)  # format 2: no partner lists (_PARTNER_ARRAYS); the error message names them
MAX_HEADER_BYTES = 1 << 20  # the header is a few KB: params, counts, one line per member

# name -> (dtype kinds accepted, number of dimensions)
_ARRAYS: dict[str, tuple[str, int]] = {
    "seq": ("iu", 1),
    "ts": ("f", 1),
    "live": ("b", 1),
    "offsets": ("iu", 1),
    "cols": ("iu", 1),
    "counts": ("fiu", 1),
    "n_terms": ("iu", 1),
    "dropped": ("f", 1),
    "term_sig": ("u", 2),
    "shingle_sig": ("u", 2),
    "top_offsets": ("iu", 1),
    "top_seq": ("iu", 1),
    "top_val": ("f", 1),
    "rev_offsets": ("iu", 1),
    "rev_seq": ("iu", 1),
    "rev_val": ("f", 1),
    "part_known": ("b", 1),
    "part_offsets": ("iu", 1),
    "part_seq": ("iu", 1),
    "part_bands": ("iu", 1),
    "df_cols": ("iu", 1),
    "df_vals": ("iu", 1),
}

_PARTNER_ARRAYS = ("part_known", "part_offsets", "part_seq", "part_bands")  # since format 3


# --- saving ----------------------------------------------------------------------


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def _ragged(dicts: list[dict[int, Any]], values: Any = np.float64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A dict per live entry as (offsets, keys sorted, values)."""
    off = np.zeros(len(dicts) + 1, dtype=np.int64)
    np.cumsum([len(d) for d in dicts], out=off[1:])
    keys = [j for d in dicts for j in sorted(d)]
    vals = [d[j] for d in dicts for j in sorted(d)]
    return off, np.array(keys, dtype=np.int64), np.array(vals, dtype=values)


def snapshot_arrays(snap: Snapshot, num_perm: int) -> dict[str, np.ndarray]:
    """The ``.npy`` members of a snapshot."""
    entries = snap.entries
    live = [e for e in entries if e.live]
    offsets = np.zeros(len(live) + 1, dtype=np.int64)
    np.cumsum([len(e.cols) for e in live], out=offsets[1:])  # type: ignore[arg-type]

    def cat(values: list[Any], dtype: Any) -> np.ndarray:
        return np.concatenate(values).astype(dtype) if values else np.zeros(0, dtype)

    def stack(values: list[Any]) -> np.ndarray:
        return np.stack(values).astype(np.uint32) if values else np.zeros((0, num_perm), np.uint32)

    top_off, top_seq, top_val = _ragged([e.top or {} for e in live])
    rev_off, rev_seq, rev_val = _ragged([e.rev or {} for e in live])
    part_off, part_seq, part_bands = _ragged([e.partners or {} for e in live], np.int64)
    return {
        "seq": np.array([e.seq for e in entries], dtype=np.int64),
        "ts": np.array([e.ts for e in entries], dtype=np.float64),
        "live": np.array([e.live for e in entries], dtype=bool),
        "offsets": offsets,
        "cols": cat([e.cols for e in live], np.int32),
        "counts": cat([e.counts for e in live], np.float32),
        "n_terms": np.array([e.n_terms for e in live], dtype=np.int64),
        "dropped": np.array([e.dropped for e in live], dtype=np.float64),
        "top_offsets": top_off,
        "top_seq": top_seq,
        "top_val": top_val,
        "rev_offsets": rev_off,
        "rev_seq": rev_seq,
        "rev_val": rev_val,
        "part_known": np.array([e.partners is not None for e in live], dtype=bool),
        "part_offsets": part_off,
        "part_seq": part_seq,
        "part_bands": part_bands,
        "term_sig": stack([e.term_sig for e in live]),
        "shingle_sig": stack([e.shingle_sig for e in live]),
        "df_cols": np.asarray(snap.df_cols, dtype=np.int64),
        "df_vals": np.asarray(snap.df_vals, dtype=np.int32),
    }


def encode(params: Params, config: dict[str, Any], snap: Snapshot) -> dict[str, bytes]:
    """Every member of the file, ``header.json`` first."""
    members: dict[str, bytes] = {f"{k}.npy": _npy(v) for k, v in snapshot_arrays(snap, params.num_perm).items()}
    strings = {
        "id": [e.id for e in snap.entries],
        "story": [e.story for e in snap.entries],
        "version": [e.version for e in snap.entries],
    }
    members["strings.json"] = json.dumps(strings, ensure_ascii=False).encode("utf-8")
    header = {
        "magic": MAGIC,
        "format_version": FORMAT_VERSION,
        "params": params.to_dict(),
        "config": config,
        "counts": {"articles": len(snap.entries), "live": sum(e.live for e in snap.entries), "stories": snap.n_stories},
        "state": {
            "n_docs": snap.n_docs,
            "next_seq": snap.next_seq,
            "newest_ts": None if snap.newest_ts == -math.inf else snap.newest_ts,
        },
        "members": {k: {"sha256": hashlib.sha256(v).hexdigest(), "bytes": len(v)} for k, v in members.items()},
    }
    return {"header.json": json.dumps(header, indent=1).encode("utf-8"), **members}


def _new_file_mode() -> int:
    """The mode a new file gets under the process's umask."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _clean_stale(folder: str, name: str) -> None:
    """Remove temporary files of ``name`` left by savers that were killed:
    their process is gone (or, for names without a process id, written by an
    older dedup, an hour old)."""
    pattern = re.compile(r"\." + re.escape(name) + r"\.(?:(\d+)\.)?[^.]+\.tmp\Z")
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for other in names:
        m = pattern.match(other)
        if m is None:
            continue
        full = os.path.join(folder, other)
        with contextlib.suppress(OSError):
            if m.group(1) is not None:
                pid = int(m.group(1))
                if pid == os.getpid() or _alive(pid):
                    continue
            elif time.time() - os.path.getmtime(full) < 3600:
                continue
            os.unlink(full)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, but another user's
        return True
    return True


def _write_atomically(path: str, members: dict[str, bytes]) -> None:
    """Write the archive to a temporary file beside ``path``, then rename it over
    ``path`` (a symbolic link's target: the link stays). Something there that
    is not a regular file (``/dev/null``, a folder, a pipe) is refused: the
    rename would put the index in its place."""
    path = os.path.realpath(path)
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise OSError(errno.EINVAL, "not a regular file (an index is saved by replacing the file)")
    folder = os.path.dirname(path)
    name = os.path.basename(path)
    _clean_stale(folder, name)
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        mode = _new_file_mode()
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.{os.getpid()}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as z:
                for member, data in members.items():
                    z.writestr(member, data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # some file systems cannot fsync a folder
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def save_index(path: str, params: Params, config: dict[str, Any], snap: Snapshot) -> None:
    """Write an index atomically; :class:`IndexSaveError` if it cannot be written."""
    members = encode(params, config, snap)
    try:
        _write_atomically(path, members)
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise IndexSaveError(
            exc.errno, f"cannot save index {path}: {reason}; the previous file is unchanged", path
        ) from exc


# --- loading -----------------------------------------------------------------------


def load_index(path: str) -> tuple[Params, dict[str, Any], Snapshot]:
    """Parameters, settings and state of a saved index; :class:`IndexFormatError`
    for anything that is not a whole, consistent index (see the module docstring)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such index file: {path}")
    with open(path, "rb") as f:
        data = f.read()
    return read_snapshot(data, path)


def read_snapshot(data: bytes, path: str = "<bytes>") -> tuple[Params, dict[str, Any], Snapshot]:
    """:func:`load_index` of a file's bytes."""
    try:
        header, raw = _read_members(data)
        params, config, state = _check_header(header)
        arrays = {n[:-4]: _load_npy(n, b) for n, b in raw.items() if n.endswith(".npy")}
        strings = _json(raw["strings.json"], "strings.json") if "strings.json" in raw else None
        if header["format_version"] == 2:
            arrays = _without_partner_lists(arrays)
        snap = _build(params, state, _check_arrays(arrays, strings, params, state))
    except IndexFormatError as exc:
        raise IndexFormatError(f"cannot load index {path}: {exc}") from None
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError, MemoryError) as exc:
        raise IndexFormatError(
            f"cannot load index {path}: inconsistent contents ({type(exc).__name__}: {exc})"
        ) from None
    return params, config, snap


def _json(b: bytes, name: str) -> Any:
    try:
        return json.loads(b)
    except (ValueError, RecursionError) as exc:
        raise IndexFormatError(f"{name} is not valid JSON ({exc})") from None


def _open_zip(data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise IndexFormatError(f"not a dedup index file, or truncated ({exc})") from None


def _read_member(z: zipfile.ZipFile, name: str, size: int, limit: int) -> bytes:
    """One member's bytes, checked from the directory before reading: stored
    (never inflated), of the expected ``size`` (None: any up to ``limit``)."""
    try:
        info = z.getinfo(name)
    except KeyError:
        raise IndexFormatError(f"member {name} is missing (truncated?)") from None
    if info.compress_type != zipfile.ZIP_STORED:
        raise IndexFormatError(
            f"member {name} is compressed; index files store members uncompressed "
            f"(refused without inflating: {info.file_size:,} bytes claimed)"
        )
    if info.file_size > limit or info.compress_size != info.file_size or (size >= 0 and info.file_size != size):
        raise IndexFormatError(
            f"member {name} has the wrong size ({info.file_size:,} bytes; expected "
            f"{'at most ' + format(limit, ',') if size < 0 else format(size, ',')})"
        )
    try:
        return z.read(info)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise IndexFormatError(f"member {name} is unreadable, the file is truncated or corrupted ({exc})") from None


def _read_members(data: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The header and every member it lists, sizes and checksums verified."""
    with _open_zip(data) as z:
        header = _json(_read_member(z, "header.json", -1, min(MAX_HEADER_BYTES, len(data))), "header.json")
        if not isinstance(header, dict) or header.get("magic") != MAGIC:
            raise IndexFormatError("not a dedup index file (wrong magic)")
        version = header.get("format_version")
        if version not in READABLE:
            hint = (
                ": it was written before the story score (no neighbour profiles); rebuild the index by "
                "feeding the articles again"
                if isinstance(version, int) and version < min(READABLE)
                else ""
            )
            raise IndexFormatError(f"format version {version!r}; this dedup reads versions 2 and 3{hint}")
        listed = header.get("members")
        if not isinstance(listed, dict):
            raise IndexFormatError("the header lists no members")
        raw: dict[str, bytes] = {}
        for name, info in listed.items():
            if not (
                isinstance(info, dict) and isinstance(info.get("bytes"), int) and isinstance(info.get("sha256"), str)
            ):
                raise IndexFormatError(f"the header's entry for member {name} is malformed")
            raw[name] = _read_member(z, name, info["bytes"], len(data))
            if hashlib.sha256(raw[name]).hexdigest() != info["sha256"]:
                raise IndexFormatError(f"checksum mismatch in {name}: the file is corrupted")
    return header, raw


# Parameters added after files were first written, with the value that does
# what the code did before them: a file without one goes on as it was written.
_PARAMS_BEFORE = {"headline_terms": 0, "min_bands": 1}


def _check_header(header: dict[str, Any]) -> tuple[Params, dict[str, Any], dict[str, Any]]:
    """Parameters, settings (``retention_days``, ``max_live``) and state counters of a header."""
    pd, config, state = header.get("params"), header.get("config"), header.get("state")
    if not isinstance(pd, dict) or not isinstance(config, dict) or not isinstance(state, dict):
        raise IndexFormatError("the header has no params, config or state")
    try:
        params = Params(**{**_PARAMS_BEFORE, **pd})
    except (TypeError, ValueError) as exc:
        raise IndexFormatError(f"bad parameters in the header ({exc})") from None
    days, max_live = config.get("retention_days"), config.get("max_live")
    if days is not None and (not _number(days) or not 0 < days < 1e9):
        raise IndexFormatError(f"bad retention_days in the header: {days!r}")
    if max_live is not None and (not isinstance(max_live, int) or isinstance(max_live, bool) or max_live < 1):
        raise IndexFormatError(f"bad max_live in the header: {max_live!r}")
    n_docs, next_seq, newest = state.get("n_docs"), state.get("next_seq"), state.get("newest_ts")
    if not (_count(n_docs) and _count(next_seq)) or not (newest is None or _number(newest) and math.isfinite(newest)):
        raise IndexFormatError(f"bad state counters in the header: {state!r}")
    return params, {"retention_days": days, "max_live": max_live}, state


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _count(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 1 << 62


def _load_npy(name: str, b: bytes) -> np.ndarray:
    try:
        return np.load(io.BytesIO(b), allow_pickle=False)
    except (ValueError, OSError, EOFError, SyntaxError, tokenize.TokenError) as exc:  # numpy parses the header
        raise IndexFormatError(f"member {name} is not a plain numpy array ({exc})") from None


def _without_partner_lists(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays of a format-2 file with the partner arrays of format 3 saying
    that no live article has a list."""
    live = arrays.get("live")
    n_live = int(live.sum()) if isinstance(live, np.ndarray) and live.dtype.kind == "b" else 0
    none = {
        "part_known": np.zeros(n_live, dtype=bool),
        "part_offsets": np.zeros(n_live + 1, dtype=np.int64),
        "part_seq": np.zeros(0, dtype=np.int64),
        "part_bands": np.zeros(0, dtype=np.int64),
    }
    return {**{k: v for k, v in arrays.items() if k not in _PARTNER_ARRAYS}, **none}


def _check_arrays(arrays: dict[str, np.ndarray], strings: Any, params: Params, state: dict[str, Any]) -> dict[str, Any]:
    """Every array of the right type and shape and consistent with the others;
    returns them with ``id``, ``story`` and ``version`` lists."""
    missing = sorted(set(_ARRAYS) - set(arrays))
    if missing:
        raise IndexFormatError(f"missing arrays {missing}")
    for name, (kinds, ndim) in _ARRAYS.items():
        a = arrays[name]
        if a.dtype.kind not in kinds or a.ndim != ndim:
            raise IndexFormatError(f"array {name} has type {a.dtype} and {a.ndim} dimensions")
    n = len(arrays["seq"])
    for name in ("ts", "live"):
        _expect(len(arrays[name]) == n, f"array {name} has {len(arrays[name])} values for {n} articles")
    _check_strings(strings, n)
    seq = arrays["seq"].astype(np.int64)
    _expect(
        bool(np.all(seq[1:] > seq[:-1])) and (n == 0 or seq[0] >= 0 and seq[-1] < state["next_seq"]),
        "sequence numbers are not increasing below next_seq",
    )
    n_live = int(arrays["live"].sum())
    for name in ("n_terms", "dropped"):
        _expect(len(arrays[name]) == n_live, f"array {name} has {len(arrays[name])} values for {n_live} live articles")
    for name in ("term_sig", "shingle_sig"):
        _expect(
            arrays[name].shape == (n_live, params.num_perm),
            f"array {name} has shape {arrays[name].shape}, not ({n_live}, {params.num_perm})",
        )
    _check_ragged(arrays, "offsets", ("cols", "counts"), n_live)
    for name in ("top", "rev"):
        _check_ragged(arrays, f"{name}_offsets", (f"{name}_seq", f"{name}_val"), n_live)
        ps = arrays[f"{name}_seq"]
        _expect(
            len(ps) == 0 or (ps.min() >= 0 and ps.max() < state["next_seq"]),
            f"{name}_seq names sequence numbers the index never gave",
        )
    _check_partner_lists(arrays, params, state, n_live)
    _check_columns(arrays, params)
    _expect(
        len(arrays["df_cols"]) == len(arrays["df_vals"]) and bool((arrays["df_vals"] >= 0).all()),
        "document frequencies: df_cols and df_vals differ in length, or a count is negative",
    )
    _expect(
        bool(
            np.isfinite(arrays["counts"]).all()
            and (arrays["counts"] >= 1).all()
            and np.isfinite(arrays["dropped"]).all()
            and (arrays["dropped"] >= 0).all()
        ),
        "term counts below 1 or pruned weights negative",
    )
    return {**arrays, **strings}


def _check_partner_lists(arrays: dict[str, np.ndarray], params: Params, state: dict[str, Any], n_live: int) -> None:
    """Partner lists: one flag per live article, lists no longer than
    ``max_partners`` (empty where there is none), partners the index gave."""
    _check_ragged(arrays, "part_offsets", ("part_seq", "part_bands"), n_live)
    known, sizes = arrays["part_known"], np.diff(arrays["part_offsets"].astype(np.int64))
    _expect(len(known) == n_live, f"array part_known has {len(known)} values for {n_live} live articles")
    _expect(
        not sizes[~known].any() and (params.max_partners is None or not (sizes > params.max_partners).any()),
        "a partner list is longer than max_partners, or given to an article without one",
    )
    ps = arrays["part_seq"]
    _expect(len(ps) == 0 or (ps.min() >= 0 and ps.max() < state["next_seq"]), "part_seq names unknown sequence numbers")
    pb = arrays["part_bands"]
    _expect(len(pb) == 0 or (pb.min() >= 1 and pb.max() <= params.num_perm), "part_bands: no such band count")


def _expect(ok: bool, what: str) -> None:
    if not ok:
        raise IndexFormatError(f"inconsistent contents: {what}")


def _check_strings(strings: Any, n: int) -> None:
    _expect(isinstance(strings, dict), "strings.json is missing or not an object")
    for key in ("id", "story", "version"):
        values = strings.get(key)
        _expect(
            isinstance(values, list) and len(values) == n and all(isinstance(v, str) for v in values),
            f"the string table {key!r} does not hold {n} strings",
        )
    _expect(len(set(strings["id"])) == n, "an article id appears twice")


def _check_ragged(arrays: dict[str, np.ndarray], offsets: str, values: tuple[str, str], rows: int) -> None:
    off = arrays[offsets].astype(np.int64)
    size = len(arrays[values[0]])
    _expect(len(arrays[values[1]]) == size, f"arrays {values[0]} and {values[1]} differ in length")
    _expect(
        len(off) == rows + 1 and off[0] == 0 and off[-1] == size and bool(np.all(np.diff(off) >= 0)),
        f"array {offsets} does not index {values[0]} ({size} values) for {rows} live articles",
    )


def _check_columns(arrays: dict[str, np.ndarray], params: Params) -> None:
    """Hashed columns within ``n_features``; each article's ascending."""
    nf = params.n_features
    for name in ("cols", "df_cols"):
        c = arrays[name]
        _expect(len(c) == 0 or (c.min() >= 0 and c.max() < nf), f"array {name} has columns outside 0..{nf - 1}")
    cols, off = arrays["cols"].astype(np.int64), arrays["offsets"].astype(np.int64)
    rising = np.ones(len(cols), dtype=bool)
    rising[1:] = cols[1:] > cols[:-1]
    rising[off[:-1][off[:-1] < len(cols)]] = True  # each row starts afresh
    _expect(bool(rising.all()), "an article's columns are not ascending")


def _partners(a: dict[str, Any], k: int) -> dict[int, int] | None:
    """The partner list of the ``k``-th live article (None: it has none)."""
    if not a["part_known"][k]:
        return None
    lo, hi = a["part_offsets"][k], a["part_offsets"][k + 1]
    return dict(zip(a["part_seq"][lo:hi].tolist(), a["part_bands"][lo:hi].tolist(), strict=True))


def _build(params: Params, state: dict[str, Any], a: dict[str, Any]) -> Snapshot:
    """The snapshot of checked arrays."""
    offsets, top_off, rev_off = a["offsets"], a["top_offsets"], a["rev_offsets"]
    entries = []
    k = 0
    for i, seq in enumerate(a["seq"].tolist()):
        e = Entry(seq=seq, id=a["id"][i], story=a["story"][i], version=a["version"][i], ts=float(a["ts"][i]))
        if a["live"][i]:
            lo, hi = offsets[k], offsets[k + 1]
            e.live = True
            e.cols, e.counts = a["cols"][lo:hi].astype(np.int32), a["counts"][lo:hi].astype(np.float32)
            e.n_terms, e.dropped = int(a["n_terms"][k]), float(a["dropped"][k])
            e.term_sig, e.shingle_sig = a["term_sig"][k].astype(np.uint32), a["shingle_sig"][k].astype(np.uint32)
            e.top = dict(
                zip(
                    a["top_seq"][top_off[k] : top_off[k + 1]].tolist(),
                    a["top_val"][top_off[k] : top_off[k + 1]].tolist(),
                    strict=False,
                )
            )
            e.rev = dict(
                zip(
                    a["rev_seq"][rev_off[k] : rev_off[k + 1]].tolist(),
                    a["rev_val"][rev_off[k] : rev_off[k + 1]].tolist(),
                    strict=False,
                )
            )
            e.partners = _partners(a, k)
            k += 1
        entries.append(e)
    newest = state["newest_ts"]
    return Snapshot(
        entries=tuple(entries),
        df_cols=a["df_cols"].astype(np.int64),
        df_vals=a["df_vals"].astype(np.int32),
        n_docs=state["n_docs"],
        next_seq=state["next_seq"],
        newest_ts=-math.inf if newest is None else float(newest),
        n_stories=len(set(a["story"])),
    )
