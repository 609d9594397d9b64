"""The saved form of an in-memory :class:`~dedup.index.StoryIndex` (format 2).

One file, a ZIP archive (stored, not compressed) holding:

* ``header.json`` -- ``{"magic": "dedup-story-index", "format_version": 2,
  "params": {...}, "config": {...}, "counts": {...}, "state": {...},
  "members": {name: {"sha256": ..., "bytes": ...}}}``;
* ``strings.json`` -- article ids, story and version ids, in sequence order;
* ``.npy`` arrays (numpy's format, read with ``allow_pickle=False``): per
  article ``seq``, ``ts``, ``live``; per live article its term counts
  (``cols``, ``counts`` with ``offsets``), ``n_terms`` and ``dropped`` (the
  short-text rule and the norm of pruned rows), its two signatures and its
  neighbour profile (``top_seq``/``top_val`` with ``top_offsets``, ``rev_seq``/
  ``rev_val`` with ``rev_offsets``: partner seqs and float64 scores, by seq);
  the running document frequencies (nonzero columns and counts).

Format 1 (before the story score; entries had a ``prior`` and no profiles) is
refused with an error that says to rebuild the index: its articles' neighbour
profiles cannot be recovered from it.

Nothing in the file is executed on load: JSON and plain arrays only, never
pickle. Every member's SHA-256 is checked, so a truncated or corrupted file,
another format or another version gives :class:`~dedup.index.IndexFormatError`
naming the file and the reason. The LSH band tables are not stored: they
are rebuilt from the live articles' signatures, in sequence order (the same
buckets, members in the same order).

Saving is atomic: the file is written to a temporary file in the same
folder, flushed and fsynced, then renamed over the target (``os.replace``),
and the folder is fsynced; a crash or kill during a save leaves the previous
file as it was.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import tempfile
import zipfile
from typing import Any

import numpy as np

from .params import Params

__all__ = ["MAGIC", "FORMAT_VERSION", "save_index", "load_index"]

MAGIC = "dedup-story-index"
FORMAT_VERSION = 2


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def save_index(index: Any, path: str) -> None:
    from .index import MemoryState

    state = index._state
    if not isinstance(state, MemoryState):
        raise TypeError("a Redis-backed StoryIndex lives on its Redis server; save() is for the in-memory index")
    with state.lock():
        entries = sorted(state.entries.values(), key=lambda e: e.seq)
        live = [e for e in entries if e.live]
        lengths = np.array([len(e.cols) for e in live], dtype=np.int64)
        offsets = np.zeros(len(live) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        num_perm = index.params.num_perm

        def cat(name: str, dtype: Any) -> np.ndarray:
            return np.concatenate([getattr(e, name) for e in live]).astype(dtype) if live else np.zeros(0, dtype)

        def stack(name: str) -> np.ndarray:
            return np.stack([getattr(e, name) for e in live]).astype(np.uint32) if live else np.zeros((0, num_perm), np.uint32)

        def ragged(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            """A dict per live entry as (offsets, keys sorted, values)."""
            dicts = [getattr(e, name) or {} for e in live]
            off = np.zeros(len(dicts) + 1, dtype=np.int64)
            np.cumsum([len(d) for d in dicts], out=off[1:])
            keys = [j for d in dicts for j in sorted(d)]
            vals = [d[j] for d in dicts for j in sorted(d)]
            return off, np.array(keys, dtype=np.int64), np.array(vals, dtype=np.float64)

        top_off, top_seq, top_val = ragged("top")
        rev_off, rev_seq, rev_val = ragged("rev")
        df_cols = np.flatnonzero(state.df).astype(np.int64)
        arrays = {
            "seq": np.array([e.seq for e in entries], dtype=np.int64),
            "ts": np.array([e.ts for e in entries], dtype=np.float64),
            "live": np.array([e.live for e in entries], dtype=bool),
            "offsets": offsets,
            "cols": cat("cols", np.int32),
            "counts": cat("counts", np.float32),
            "n_terms": np.array([e.n_terms for e in live], dtype=np.int64),
            "dropped": np.array([e.dropped for e in live], dtype=np.float64),
            "top_offsets": top_off, "top_seq": top_seq, "top_val": top_val,
            "rev_offsets": rev_off, "rev_seq": rev_seq, "rev_val": rev_val,
            "term_sig": stack("term_sig"),
            "shingle_sig": stack("shingle_sig"),
            "df_cols": df_cols,
            "df_vals": state.df[df_cols].astype(np.int32),
        }
        strings = {"id": [e.id for e in entries], "story": [e.story for e in entries],
                   "version": [e.version for e in entries]}
        members: dict[str, bytes] = {f"{k}.npy": _npy(v) for k, v in arrays.items()}
        members["strings.json"] = json.dumps(strings, ensure_ascii=False).encode("utf-8")
        header = {
            "magic": MAGIC,
            "format_version": FORMAT_VERSION,
            "params": index.params.to_dict(),
            "config": index._config(),
            "counts": {"articles": len(entries), "live": len(live), "stories": len(state.stories)},
            "state": {"n_docs": state.n_docs, "next_seq": state.next_seq,
                      "newest_ts": None if state.newest_ts == -math.inf else state.newest_ts},
            "members": {k: {"sha256": hashlib.sha256(v).hexdigest(), "bytes": len(v)} for k, v in members.items()},
        }
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as z:
                z.writestr("header.json", json.dumps(header, indent=1))
                for name, data in members.items():
                    z.writestr(name, data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:  # pragma: no cover - some file systems cannot fsync a folder
        pass


_ARRAYS = {"seq", "ts", "live", "offsets", "cols", "counts", "n_terms", "dropped", "term_sig", "shingle_sig",
           "top_offsets", "top_seq", "top_val", "rev_offsets", "rev_seq", "rev_val", "df_cols", "df_vals"}


def _dict_at(arrays: dict[str, np.ndarray], name: str, k: int) -> dict[int, float]:
    lo, hi = arrays[f"{name}_offsets"][k], arrays[f"{name}_offsets"][k + 1]
    return dict(zip(arrays[f"{name}_seq"][lo:hi].tolist(), arrays[f"{name}_val"][lo:hi].tolist()))


def load_index(cls: Any, path: str) -> Any:
    from .index import Entry, IndexFormatError

    def bad(reason: str) -> IndexFormatError:
        return IndexFormatError(f"cannot load index {path}: {reason}")

    if not os.path.exists(path):
        raise FileNotFoundError(f"no such index file: {path}")
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise bad(f"not a dedup index file, or truncated ({exc})") from None
    with z:
        try:
            header = json.loads(z.read("header.json"))
        except KeyError:
            raise bad("no header.json: not a dedup index file") from None
        except (zipfile.BadZipFile, ValueError, OSError) as exc:
            raise bad(f"the header is corrupted ({exc})") from None
        if not isinstance(header, dict) or header.get("magic") != MAGIC:
            raise bad("not a dedup index file (wrong magic)")
        version = header.get("format_version")
        if version != FORMAT_VERSION:
            hint = (": it was written before the story score (no neighbour profiles); rebuild the index by "
                    "feeding the articles again" if isinstance(version, int) and version < FORMAT_VERSION else "")
            raise bad(f"format version {version!r}; this dedup reads version {FORMAT_VERSION}{hint}")
        data: dict[str, bytes] = {}
        for name, info in header["members"].items():
            try:
                raw = z.read(name)
            except KeyError:
                raise bad(f"member {name} is missing (truncated?)") from None
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise bad(f"member {name} is unreadable, the file is truncated or corrupted ({exc})") from None
            if hashlib.sha256(raw).hexdigest() != info["sha256"]:
                raise bad(f"checksum mismatch in {name}: the file is corrupted")
            data[name] = raw
    try:
        arrays = {n[:-4]: np.load(io.BytesIO(b), allow_pickle=False) for n, b in data.items() if n.endswith(".npy")}
        strings = json.loads(data["strings.json"])
        pd = dict(header["params"])
        params = Params(**pd)
        config = header["config"]
        missing = sorted(_ARRAYS - set(arrays))
        if missing:
            raise KeyError(f"missing arrays {missing}")
    except (KeyError, ValueError, TypeError) as exc:
        raise bad(f"inconsistent contents ({exc})") from None

    index = cls(params, retention=None if config.get("retention_days") is None else config["retention_days"],
                max_live=config.get("max_live"))
    state = index._state
    st = header["state"]
    state.n_docs = int(st["n_docs"])
    state.next_seq = int(st["next_seq"])
    state.newest_ts = -math.inf if st["newest_ts"] is None else float(st["newest_ts"])
    state.df[arrays["df_cols"]] = arrays["df_vals"]
    state.sync_total_df(arrays["df_cols"])
    offsets = arrays["offsets"]
    k = 0
    import heapq

    for i, seq in enumerate(arrays["seq"].tolist()):
        e = Entry(seq=seq, id=strings["id"][i], story=strings["story"][i], version=strings["version"][i],
                  ts=float(arrays["ts"][i]))
        if arrays["live"][i]:
            lo, hi = offsets[k], offsets[k + 1]
            e.live = True
            e.cols, e.counts = arrays["cols"][lo:hi], arrays["counts"][lo:hi]
            e.n_terms, e.dropped = int(arrays["n_terms"][k]), float(arrays["dropped"][k])
            e.term_sig, e.shingle_sig = arrays["term_sig"][k], arrays["shingle_sig"][k]
            e.top = _dict_at(arrays, "top", k)
            e.rev = _dict_at(arrays, "rev", k)
            k += 1
        state.entries[seq] = e
        state.seq_of[e.id] = seq
        state.stories.setdefault(e.story, []).append(seq)
        if e.live:
            state.live_order[seq] = None
            if not math.isnan(e.ts):
                heapq.heappush(state.live_by_time, (e.ts, seq))
            state.lsh_insert(e)
            state.keep_row(e)
    return index
