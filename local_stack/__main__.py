"""``python -m local_stack up``: see :mod:`local_stack.cli`."""

import sys

from local_stack.cli import main

if __name__ == "__main__":
    sys.exit(main())
