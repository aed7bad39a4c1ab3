"""``python -m bench``: run the benchmarks and print the tables (see :mod:`bench`)."""

import sys

from bench.cli import main

sys.exit(main())
