"""``python -m framecast.cli``: the command line, as the ``framecast`` script runs it."""

import sys

from framecast.cli.main import main

sys.exit(main())
