"""The ``dedup`` command: one module per subcommand (:mod:`.cluster`,
:mod:`.report` for ``diff`` and ``report``, :mod:`.dedupe`, :mod:`.index`,
:mod:`.spark`), the options and exit codes they share in :mod:`.args`, and
:mod:`.app` tying them together. Each command parses its options and calls
library functions; the work is done in the library.
"""

from .app import build_parser, main
from .args import EXIT_CODES, add_param_arguments, params_from_args

__all__ = ["main", "build_parser", "add_param_arguments", "params_from_args", "EXIT_CODES"]
