"""``python -m jaxmf.cli``: the ``jaxmf`` command."""

import sys

from . import main

sys.exit(main())
