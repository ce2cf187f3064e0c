"""plotly, imported once, with an error that says how to install it.

Why not ``optuna._imports.try_import``: it is private Optuna API; this package keeps
private Optuna use to :mod:`optuna_lemonade._optuna_compat`, and the check is four lines.
"""

from __future__ import annotations

from typing import Any


try:
    import plotly.graph_objects as go
except ImportError as _error:  # plotly is an optional dependency
    _IMPORT_ERROR: ImportError | None = _error
    go: Any = None  # type: ignore[no-redef]
else:
    _IMPORT_ERROR = None


__all__ = ["check_plotly", "go"]


def check_plotly() -> None:
    """Raise an ImportError naming the extra to install if plotly is missing."""
    if _IMPORT_ERROR is not None:
        raise ImportError(
            "optuna_lemonade.visualization needs plotly: pip install plotly "
            '(or pip install "optuna-lemonade[visualization]")'
        ) from _IMPORT_ERROR
