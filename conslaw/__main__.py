"""``python -m conslaw``: the same as the ``conslaw`` command."""

import sys

from .cli import main

sys.exit(main())
