"""The ``dedup`` command: one module per subcommand (:mod:`.cluster`,
:mod:`.report` for ``diff`` and ``report``, :mod:`.dedupe`, :mod:`.index`,
:mod:`.spark`), the options and exit codes they share in :mod:`.args`,
:mod:`.dispatch` tying them together, and :mod:`.app`, the entry point.
Each command parses its options and calls library functions; the work is
done in the library.

The names below are loaded on first use (PEP 562), so that importing the
entry point :mod:`dedup.cli.app` (which runs this file first) stays cheap.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (milliseconds before Ctrl-C is handled)
if TYPE_CHECKING:  # the same names, for type checkers and readers
    from typing import Any

    from .app import main
    from .args import EXIT_CODES, add_param_arguments, params_from_args
    from .dispatch import build_parser

__all__ = ["main", "build_parser", "add_param_arguments", "params_from_args", "EXIT_CODES"]

#: the module each public name comes from
_HOME = {
    "main": "app",
    "build_parser": "dispatch",
    "add_param_arguments": "args",
    "params_from_args": "args",
    "EXIT_CODES": "args",
}


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use (then kept)."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The names loaded and those loaded on first use (for completion and ``help``)."""
    return sorted({*globals(), *__all__})
