"""matplotlib, imported once, with an error that says how to install it."""

from __future__ import annotations

from typing import Any


try:
    import matplotlib.pyplot as plt
except ImportError as _error:  # matplotlib is an optional dependency
    _IMPORT_ERROR: ImportError | None = _error
    plt: Any = None  # type: ignore[no-redef]
else:
    _IMPORT_ERROR = None


__all__ = ["check_matplotlib", "plt"]


def check_matplotlib() -> None:
    """Raise an ImportError naming the extra to install if matplotlib is missing."""
    if _IMPORT_ERROR is not None:
        raise ImportError(
            "optuna_lemonade.visualization.matplotlib needs matplotlib: pip install "
            'matplotlib (or pip install "optuna-lemonade[visualization]")'
        ) from _IMPORT_ERROR
