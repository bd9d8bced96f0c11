"""`python -m xmcbench` (and `torchrun -m xmcbench`): the command line, as `xmcbench` is."""

import sys

from .cli import main

sys.exit(main())
