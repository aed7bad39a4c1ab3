"""Small display helpers for notebooks: show code and tables as plain, stable text.

Notebook outputs are compared character by character in CI, so these print
plain text (never HTML, whose markup changes between library versions).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["format_table", "show_source", "show_table"]


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
    """Print *frame* as a fixed-format text table (see :func:`format_table`)."""
    print(format_table(frame, formats, columns=columns, headers=headers))


def format_table(
    frame: pd.DataFrame,
    formats: Mapping[str, str] | None = None,
    *,
    columns: Sequence[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> str:
    """Render *frame* as a plain-text table with explicit number formats.

    Notebook outputs are compared character by character, so tables are
    printed with this instead of pandas' default repr (which changes between
    pandas versions). ``formats`` maps a column to a format spec such as
    ``".1f"``; ``headers`` renames columns for display.
    """
    formats = dict(formats or {})
    headers = dict(headers or {})
    cols = list(columns if columns is not None else (formats.keys() if formats else frame.columns))
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise KeyError(f"format_table: no column(s) {missing} in the frame; it has {list(frame.columns)}")

    def cell(value: Any, spec: str) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            return "-"
        return format(value, spec) if spec else str(value)

    body = [[cell(v, formats.get(c, "")) for c, v in zip(cols, row, strict=True)]
            for row in frame[cols].itertuples(index=False)]
    head = [headers.get(c, c) for c in cols]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(head)]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in cols]

    def line(values: Sequence[str]) -> str:
        cells = zip(values, widths, numeric, strict=True)
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in cells).rstrip()

    out = [line(head), "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in body)
    return "\n".join(out)
