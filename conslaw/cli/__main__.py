"""``python -m conslaw.cli``: the same as the ``conslaw`` command."""

import sys

from . import main

sys.exit(main())
