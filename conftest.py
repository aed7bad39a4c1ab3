"""Settings shared by every test and every notebook run by pytest."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
