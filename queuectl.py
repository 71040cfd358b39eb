"""Run queuectl from a checkout: `python queuectl.py ...`."""

import sys

from queuectl.cli import main

if __name__ == "__main__":
    sys.exit(main())
