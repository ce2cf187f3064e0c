"""A diagram of one architecture, drawn with matplotlib (e.g. for an SVG artifact)."""

from __future__ import annotations

from typing import Any

from optuna_lemonade.architecture import Architecture
from optuna_lemonade.architecture import summarize
from optuna_lemonade.visualization._architecture_layout import layout
from optuna_lemonade.visualization._architecture_layout import OP_COLORS
from optuna_lemonade.visualization.matplotlib._imports import check_matplotlib
from optuna_lemonade.visualization.matplotlib._imports import plt


def plot_architecture(architecture: Architecture, *, title: str | None = None) -> Any:
    """:func:`optuna_lemonade.visualization.plot_architecture` with matplotlib.

    Returns:
        A ``matplotlib.axes.Axes``, in a figure sized to the network.

    Raises:
        ImportError: If matplotlib is not installed.
    """
    check_matplotlib()
    if not isinstance(architecture, Architecture):
        raise TypeError(f"expected an Architecture, got {type(architecture).__name__}")
    diagram = layout(architecture)
    figure, ax = plt.subplots(figsize=(max(5.2, 2.6 * diagram.width), 0.9 + 0.5 * diagram.levels))
    for source, target in diagram.edges:
        a, b = diagram.boxes[source], diagram.boxes[target]
        ax.plot([a.column, b.column], [-a.level, -b.level], color="#888888", lw=1, zorder=1)
    for box in diagram.boxes:
        ax.text(
            box.column,
            -box.level,
            f"{box.label}   {box.shape}",
            ha="center",
            va="center",
            family="monospace",
            fontsize=9,
            zorder=2,
            bbox={
                "boxstyle": "round,pad=0.3",
                "fc": OP_COLORS.get(box.op, "white"),
                "ec": "#555555",
            },
        )
    half = (diagram.width - 1) / 2
    ax.set_xlim(-half - 0.7, half + 0.7)
    ax.set_ylim(-diagram.levels + 0.4, 0.6)
    ax.axis("off")
    ax.set_title(title if title is not None else summarize(architecture), fontsize=10)
    figure.tight_layout()
    return ax
