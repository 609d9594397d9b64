"""Reading ahead: a source read in a background thread, so that a live feed
is handled as its records arrive.

A consumer that works in runs (:meth:`dedup.StoryIndex.add_stream` featurises
64 articles at a time) would otherwise wait for a full run: on a pipe that
delivers an article a minute, the first match would come an hour later.
:meth:`ReadAhead.ready` tells it whether more has arrived, so it can end a
run early (``add_stream``'s ``ready``). On a file the reader is always ahead
and the runs are full.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any, Generic, TypeVar

__all__ = ["ReadAhead"]

T = TypeVar("T")

_ITEM, _ERROR, _END = range(3)


class ReadAhead(Generic[T]):
    """The items of ``source``, read by a background thread at most ``size``
    ahead of the consumer.

    An exception raised by the source comes out of :func:`next` in its
    place, after the items before it. :meth:`close` (or leaving a ``with``
    block) lets the thread stop at its next item. Read ``source`` from this
    object only: its thread is the one that iterates it.
    """

    def __init__(self, source: Iterable[T], size: int = 256) -> None:
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self._queue: queue.Queue[tuple[int, Any]] = queue.Queue(maxsize=size)
        self._stop = threading.Event()
        self._done = False
        self._source = source
        self._thread: threading.Thread | None = None  # started at the first read (see _started)

    def _started(self) -> queue.Queue[tuple[int, Any]]:
        """The queue, the reading thread started if it was not: not before
        the first read, so that worker processes forked before it (as
        ``add_stream`` forks its workers) do not copy a thread's half-held
        locks."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._read, args=(iter(self._source),), name="dedup-read-ahead", daemon=True
            )
            self._source = ()
            self._thread.start()
        return self._queue

    def _read(self, items: Iterator[T]) -> None:
        try:
            for item in items:
                if not self._put((_ITEM, item)):
                    return
        except BaseException as exc:  # noqa: BLE001 -- raised in the consumer, where the item would have been
            self._put((_ERROR, exc))
            return
        self._put((_END, None))

    def _put(self, entry: tuple[int, Any]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def ready(self) -> bool:
        """Whether :func:`next` would return (an item, the end or an error) without waiting."""
        return self._done or not self._started().empty()

    def __iter__(self) -> ReadAhead[T]:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        kind, value = self._started().get()
        if kind == _ITEM:
            return value
        self._done = True
        if kind == _ERROR:
            raise value
        raise StopIteration

    def close(self) -> None:
        """Stop reading (the thread ends at its next item)."""
        self._done = True
        self._stop.set()

    def __enter__(self) -> ReadAhead[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
