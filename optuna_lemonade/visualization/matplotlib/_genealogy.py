"""The lineage of a LEMONADE study, drawn with matplotlib."""

from __future__ import annotations

from typing import Any

import optuna

from optuna_lemonade.visualization._genealogy import genealogy
from optuna_lemonade.visualization.matplotlib._imports import check_matplotlib
from optuna_lemonade.visualization.matplotlib._imports import plt


def plot_genealogy(
    study: optuna.Study,
    *,
    x: int | str = 1,
    y: int | str = 0,
    log_x: bool | None = None,
) -> Any:
    """:func:`optuna_lemonade.visualization.plot_genealogy` with matplotlib.

    Returns:
        A ``matplotlib.axes.Axes``.

    Raises:
        ImportError: If matplotlib is not installed.
        ValueError: If ``x`` or ``y`` names no objective.
    """
    check_matplotlib()
    layout = genealogy(study, x, y, log_x)
    _, ax = plt.subplots(figsize=(8, 5.5))
    drawn: set[str] = set()
    for parent, child in layout.edges:
        operator = child.operator or ""
        (x0, y0), (x1, y1) = layout.position[parent.number], layout.position[child.number]
        label = None if operator in drawn else operator
        drawn.add(operator)
        ax.plot([x0, x1], [y0, y1], color=layout.colors[operator], lw=1, label=label, zorder=1)
    for marker, chosen in (
        ("s", [p for p in layout.points if p.parent is None]),
        ("o", [p for p in layout.points if p.parent is not None]),
    ):
        for on_front in (False, True):
            group = [p for p in chosen if (p.number in layout.front) == on_front]
            if not group:
                continue
            ax.scatter(
                [layout.position[p.number][0] for p in group],
                [layout.position[p.number][1] for p in group],
                marker=marker,
                s=60 if on_front else 22,
                c=[layout.colors.get(p.operator or "", "#444444") for p in group],
                edgecolors="black" if on_front else "white",
                linewidths=1.8 if on_front else 0.5,
                zorder=3 if on_front else 2,
            )
    if layout.log_x:
        ax.set_xscale("log")
    ax.set_xlabel(layout.x_title)
    ax.set_ylabel(layout.y_title)
    ax.set_title(
        f"Genealogy of {study.study_name}: {len(layout.points)} networks, "
        f"{len(layout.front)} on the Pareto front (outlined); squares: initial networks",
        fontsize=10,
    )
    if drawn:
        ax.legend(title="morphism", fontsize=8)
    ax.grid(alpha=0.3)
    return ax
