"""``python -m gankit.cli``, as ``gankit``."""

import sys

from gankit.cli import main

sys.exit(main())
