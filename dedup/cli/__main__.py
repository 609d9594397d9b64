"""``python -m dedup.cli``: the ``dedup`` command."""

import sys

from .app import main

sys.exit(main())
