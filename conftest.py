"""Settings shared by every test and every notebook that pytest runs.

Notebook kernels started by nbval inherit this process's environment, so the
settings below also apply inside them.
"""

import os

# Experiments show no progress bars under test: their output would differ from the committed one.
os.environ["AETHER_PROGRESS"] = "0"
# Set and dict ordering of strings must not vary between the committed run and the checking run.
os.environ["PYTHONHASHSEED"] = "0"
