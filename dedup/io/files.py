"""Opening inputs and outputs: ``-`` for stdin/stdout, ``.gz`` looked through,
formats told by the file name, folders expanded, bytes read counted (for a
progress bar).
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from typing import IO, BinaryIO

from .records import InputError

__all__ = [
    "FORMATS",
    "READ_EXTENSIONS",
    "detect_format",
    "open_binary",
    "open_text",
    "open_output",
    "expand_paths",
    "expand_inputs",
    "input_size",
    "special_file",
    "TRUNCATION_ERRORS",
    "OutputError",
    "writing",
]

FORMATS = ("jsonl", "csv", "parquet", "txt")
#: what a folder is searched for
READ_EXTENSIONS = (".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".parquet", ".txt")
#: what a truncated or corrupt gzip stream raises while it is read
TRUNCATION_ERRORS: tuple[type[BaseException], ...] = (EOFError, gzip.BadGzipFile)


def detect_format(path: str) -> str:
    """``jsonl``, ``csv``, ``parquet`` or ``txt`` from a file name (``.gz`` is looked through)."""
    name = path[:-3] if path.endswith(".gz") else path
    ext = os.path.splitext(name)[1].lower()
    if ext in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if ext in (".csv", ".tsv"):
        return "csv"
    if ext in (".parquet", ".pq"):
        return "parquet"
    return "txt"


class _Counting(io.RawIOBase):
    """A binary file that reports each chunk's size to ``on_bytes`` as it is read."""

    def __init__(self, f: BinaryIO, on_bytes: Callable[[int], None]):
        self._f = f
        self._on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        n = self._f.readinto(buffer)  # type: ignore[attr-defined]
        if n:
            self._on_bytes(n)
        return n or 0

    def close(self) -> None:
        self._f.close()
        super().close()


def open_binary(path: str, on_bytes: Callable[[int], None] | None = None) -> BinaryIO:
    """An input as decompressed bytes (``-``: stdin; ``.gz`` gunzipped).

    ``on_bytes`` hears how many bytes of the file itself (compressed, for
    ``.gz``) each read took. Raises :class:`InputError` naming the file when it
    cannot be opened."""
    if path == "-":
        return _stdin()
    try:
        raw: BinaryIO = open(path, "rb")  # noqa: SIM115 - the caller closes it
    except FileNotFoundError:
        raise FileNotFoundError(f"no such file: {path}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if on_bytes is not None:
        raw = io.BufferedReader(_Counting(raw, on_bytes), 1 << 16)  # type: ignore[assignment]
    if path.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def _stdin() -> BinaryIO:
    """Standard input through a reader of its own, over a duplicate of its
    descriptor: a thread blocked reading a live pipe (:class:`dedup.io.ReadAhead`)
    then holds that reader's lock, not ``sys.stdin``'s, which the interpreter
    takes at exit (a fatal error if a thread holds it). ``sys.stdin.buffer``
    itself where it has no descriptor (a test's stand-in). Raises
    :class:`InputError` when the shell closed standard input (``<&-``)."""
    _check_stdin()
    try:
        fd = os.dup(sys.stdin.fileno())
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return sys.stdin.buffer
    return open(fd, "rb")  # noqa: SIM115 - the caller closes it


def _check_stdin() -> None:
    """Raise :class:`InputError` when there is no standard input to read
    (closed by the shell: ``sys.stdin`` is None), rather than fail on it."""
    if sys.stdin is None:
        raise InputError("cannot read standard input: it is closed (give a file, or pipe the records in)")


def open_text(path: str, mode: str = "r") -> IO[str]:
    """A text file for reading or writing, ``-`` for stdin/stdout, gzipped for
    ``.gz``; undecodable bytes kept as surrogate escapes (reported per record)."""
    if path == "-":
        if "r" in mode:
            _check_stdin()
            return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="surrogateescape", newline="")
        return sys.stdout
    if path.endswith(".gz"):
        return gzip.open(path, mode + "t", encoding="utf-8", errors="surrogateescape", newline="")  # type: ignore[return-value]
    return open(path, mode, encoding="utf-8", errors="surrogateescape", newline="")


def open_output(path: str) -> BinaryIO:
    """A binary output (``-``: stdout; ``.gz`` gzipped)."""
    if path == "-":
        return sys.stdout.buffer
    if path.endswith(".gz"):
        return gzip.open(path, "wb")  # type: ignore[return-value]
    return open(path, "wb")


class OutputError(OSError):
    """An output that could not be written (a full disk, a missing folder);
    the message names it (:func:`writing`)."""


class writing:  # lower case: used as a function, ``with writing(path):``
    """Within the block, an OSError is raised again as :class:`OutputError`
    naming the output (``path``; None or ``-``: standard output), as in
    ``cannot write stories.json: No space left on device``: the error of a
    write or close says no file name by itself. A broken pipe passes as it
    is (output piped into ``head``: the command stops quietly). A class, not
    a generator: ``dedup dedupe`` enters it for every record it writes."""

    __slots__ = ("path",)

    def __init__(self, path: str | None) -> None:
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if not isinstance(exc, OSError) or isinstance(exc, (BrokenPipeError, OutputError)):
            return
        name = "standard output" if self.path in (None, "-") else self.path
        if exc.filename is not None and os.fsdecode(exc.filename) != name:  # a file inside a folder
            name = os.fsdecode(exc.filename)
        reason = exc.strerror if exc.errno is not None and exc.strerror else str(exc)
        raise OutputError(f"cannot write {name}: {reason}") from None


def expand_paths(paths: Iterable[str]) -> Iterator[str]:
    """Files as given, and the readable files inside folders (sorted, hidden ones skipped).

    Raises :class:`FileNotFoundError` naming a path that does not exist."""
    for p, _ in expand_inputs(paths):
        yield p


def expand_inputs(paths: Iterable[str]) -> Iterator[tuple[str, bool]]:
    """``(path, found in a folder)`` for each input of :func:`expand_paths`.

    In a folder, special files (a FIFO, a socket, a device) are skipped:
    reading one would wait for ever, and no feed is kept in one. A broken
    link is listed, so that the reader names it. Raises
    :class:`FileNotFoundError` naming a path given that does not exist."""
    for p in paths:
        if p != "-" and os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    plain = name[:-3] if name.endswith(".gz") else name
                    path = os.path.join(root, name)
                    if not name.startswith(".") and plain.lower().endswith(READ_EXTENSIONS) and not special_file(path):
                        yield path, True
        elif p != "-" and not os.path.exists(p):
            raise FileNotFoundError(f"no such file or folder: {p}")
        else:
            yield p, False


def special_file(path: str) -> bool:
    """Whether ``path`` is there but is no regular file (a folder, a FIFO, a
    socket or a device)."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:  # a broken link, or gone: not special, the reader says what it is
        return False


def input_size(paths: Iterable[str]) -> int | None:
    """Total bytes of the files behind ``paths`` (None when one is stdin); a
    file that cannot be looked at (a broken link in a folder) counts 0, and
    its reader says why."""
    total = 0
    for p in expand_paths(paths):
        if p == "-":
            return None
        with suppress(OSError):
            total += os.path.getsize(p)
    return total
