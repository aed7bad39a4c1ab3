"""Settings shared by every test and every notebook that pytest runs.

Notebook kernels started by nbval inherit this process's environment, so the
settings below also apply inside them.
"""

import os

# Experiments show no progress bars under test: their output would differ from the committed one.
os.environ["AETHER_PROGRESS"] = "0"
