"""``python -m geomm.cli``: the ``geomm`` console script without its launcher."""

import sys

from geomm.cli._main import main

sys.exit(main())
