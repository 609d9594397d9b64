"""Progress on stderr: a tqdm bar on a terminal (or when forced), nothing
otherwise; the one-line notice while the numba kernels compile."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import threading
from pathlib import Path
from typing import Any

from .args import say

__all__ = ["Bar", "Ticker", "progress_wanted", "kernels_compiled", "kernel_notice"]


def progress_wanted(flag: bool | None) -> bool:
    """``--progress``/``--no-progress`` when given, else whether stderr is a terminal."""
    return sys.stderr.isatty() if flag is None else bool(flag)


class Bar:
    """A byte-counting progress bar over the input (a counter when the size is
    unknown, e.g. stdin), with a short postfix of counts; silent when disabled."""

    def __init__(self, enabled: bool, total: int | None, desc: str):
        self._bar: Any = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total,
                desc=desc,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                file=sys.stderr,
                dynamic_ncols=True,
                mininterval=0.25,
                leave=True,
            )

    def update(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def note(self, text: str) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)

    @property
    def enabled(self) -> bool:
        return self._bar is not None

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class Ticker:
    """A line that shows the time spent on a step whose progress cannot be
    counted (the stages after reading), refreshed twice a second; silent when disabled."""

    def __init__(self, enabled: bool, desc: str):
        self._bar: Any = None
        self._stop = threading.Event()
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=None, desc=desc, file=sys.stderr, bar_format="{desc}: {elapsed}", leave=True)
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._stop.set()
            self._thread.join()
            self._bar.refresh()
            self._bar.close()
            self._bar = None


def _cache_folders(source: Path) -> list[Path]:
    """Where numba caches the kernels of ``source``: ``$NUMBA_CACHE_DIR`` when
    set, else the source's ``__pycache__`` or, when that is not writable, the
    user's cache (a folder named after the source folder and a digest of its path)."""
    sub = f"{source.parent.name}_{hashlib.sha1(str(source.parent).encode()).hexdigest()}"
    where = os.environ.get("NUMBA_CACHE_DIR")
    if where:
        return [Path(where) / sub]
    user = Path(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")) / "numba" / sub
    return [source.parent / "__pycache__", user]


def kernels_compiled(*modules: str) -> bool:
    """Whether numba's cache holds compiled kernels of each of ``modules``
    (default ``dedup._kernels``): the kernels a command compiles at its first
    run, so that the notice is not given again."""
    for name in modules or ("dedup._kernels",):
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        source = Path(os.path.abspath(spec.origin))  # as numba names it
        if not any(any(folder.glob(f"{source.stem}.*.nbi")) for folder in _cache_folders(source)):
            return False
    return True


def kernel_notice(*modules: str) -> None:
    """Say once, before a run, that the first run compiles the kernels
    (those of ``modules``: the ones the command uses)."""
    if not kernels_compiled(*modules):
        say("first run: compiling the numba kernels (about a minute, cached for later runs)")
