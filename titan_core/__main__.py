"""`python -m titan_core` is the `titan` command."""

import sys

from titan_core.cli import main

sys.exit(main())
