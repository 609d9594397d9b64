"""``python -m dedup``: the ``dedup`` command."""

import sys

from .cli.app import main

sys.exit(main())
