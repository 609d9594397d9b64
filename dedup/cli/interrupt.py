"""Ctrl-C where no command is running: while the heavy modules are imported
(numpy, scipy, numba: about half a second), while the command line is
parsed, and once the command is done. There it ends the process at once
with the one line every interrupted command prints and exit code 130
(nothing is open, nothing to finish). While a command runs
(:func:`interruptible`), Ctrl-C raises KeyboardInterrupt as usual, so that
the command can finish what it must and :mod:`dedup.cli.dispatch` says so.

Only ``os`` and ``signal`` are imported: :mod:`dedup.cli.app` imports this
before anything heavy, so the handler is in place milliseconds after the
interpreter has started.
"""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager, suppress

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import FrameType

__all__ = ["EXIT_INTERRUPTED", "MESSAGE", "exit_on_interrupt", "interruptible"]

#: the exit code of an interrupted command (the README's table, :data:`dedup.cli.args.EXIT_CODES`)
EXIT_INTERRUPTED = 130
#: what an interrupted command prints on stderr (as :func:`dedup.cli.args.say` words it)
MESSAGE = "dedup: interrupted"


def _exit_now(signum: int, frame: FrameType | None) -> None:
    """The SIGINT handler outside a command: the message, then exit 130 at
    once (``os._exit``: no traceback, and no clean-up to wait for)."""
    with suppress(OSError):  # stderr closed: the exit code says it
        os.write(2, (MESSAGE + "\n").encode())
    os._exit(EXIT_INTERRUPTED)


def _swap(handler: object, wanted: object) -> object | None:
    """Set SIGINT's handler to ``wanted`` if it is ``handler`` now and this is
    the main thread (the only one that may set it); the one replaced, or None."""
    if signal.getsignal(signal.SIGINT) is not handler:
        return None
    try:
        return signal.signal(signal.SIGINT, wanted)  # type: ignore[arg-type]
    except ValueError:  # not the main thread
        return None


@contextmanager
def exit_on_interrupt() -> Iterator[None]:
    """Within the block, Ctrl-C ends the process with :data:`MESSAGE` and
    130; the previous handler is back afterwards. Set only where Ctrl-C is
    handled as usual (the main thread, the default handler): an ignored
    SIGINT (a background job) stays ignored, a caller's own handler stays."""
    previous = _swap(signal.default_int_handler, _exit_now)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)  # type: ignore[arg-type]


@contextmanager
def interruptible() -> Iterator[None]:
    """Within the block (a command running), Ctrl-C raises KeyboardInterrupt
    as usual; this changes anything only inside :func:`exit_on_interrupt`."""
    previous = _swap(_exit_now, signal.default_int_handler)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, _exit_now)
