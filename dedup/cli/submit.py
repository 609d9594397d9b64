"""The file to hand ``spark-submit``: it runs the ``dedup`` command.

::

    spark-submit --master yarn "$(python -c 'import dedup.cli.submit as s; print(s.__file__)')" \\
        spark-cluster s3a://bucket/articles/ -o s3a://bucket/stories/

Importing it does nothing; run as a script it calls :func:`dedup.cli.app.main`.
"""

from __future__ import annotations

import os
import sys

__all__: list[str] = []

if __name__ == "__main__":  # pragma: no cover - exercised through spark-submit
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]  # no sibling shadows a module
    from dedup.cli.app import main

    sys.exit(main())
