"""`python -m xmcbench.cli`: the command line, as `xmcbench` is."""

import sys

from .app import main

sys.exit(main())
