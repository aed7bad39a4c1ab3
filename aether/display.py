"""Small display helpers for notebooks: show code and tables as plain, stable text.

Notebook outputs are compared character by character in CI, so these print
plain text (never HTML, whose markup changes between library versions).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from aether.experiment.summary import format_table

__all__ = ["show_source", "show_table"]


def show_source(obj: Any) -> None:
    """Print the source code of a function, class or module, headed by the file it lives in.

    Use it in a notebook to show the pattern code that actually runs::

        show_source(simple_retry)
    """
    target = inspect.unwrap(obj)
    try:
        source = inspect.getsource(target)
        filename = inspect.getsourcefile(target)
    except (OSError, TypeError) as exc:
        raise TypeError(f"cannot show the source of {obj!r}: {exc}") from exc
    header = ""
    if filename:
        parts = Path(filename).parts
        if "aether" in parts:
            header = "# " + "/".join(parts[len(parts) - parts[::-1].index("aether") - 1 :]) + "\n"
    print(header + source.rstrip("\n"))


def show_table(
    frame: pd.DataFrame,
    formats: Mapping[str, str] | None = None,
    *,
    columns: Sequence[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Print *frame* as a fixed-format text table (see :func:`~aether.experiment.summary.format_table`)."""
    print(format_table(frame, formats, columns=columns, headers=headers))
