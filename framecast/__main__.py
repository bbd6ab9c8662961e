"""``python -m framecast``: the command line (``python -m framecast doctor``, ``serve``, ...)."""

import sys

from framecast.cli.main import main

sys.exit(main())
