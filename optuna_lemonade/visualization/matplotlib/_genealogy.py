"""The lineage of a LEMONADE study, drawn with matplotlib."""

from __future__ import annotations

from typing import Any

import optuna

from optuna_lemonade.visualization._genealogy import genealogy_axes
from optuna_lemonade.visualization._genealogy import operator_colors
from optuna_lemonade.visualization._trials import completed_points
from optuna_lemonade.visualization._trials import front_numbers
from optuna_lemonade.visualization._trials import Point
from optuna_lemonade.visualization._trials import wide_range
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
    x_index, y_index, x_title, y_title = genealogy_axes(study, x, y)
    points = completed_points(study)
    by_number = {p.number: p for p in points}

    def position(point: Point) -> tuple[float, float]:
        across = float(point.number) if x_index is None else point.values[x_index]
        return across, point.values[y_index]

    colors = operator_colors([p.operator for p in points if p.operator and p.parent is not None])
    _, ax = plt.subplots(figsize=(8, 5.5))
    drawn: set[str] = set()
    for point in points:
        parent = by_number.get(point.parent) if point.parent is not None else None
        if parent is None or point.operator not in colors:
            continue
        (x0, y0), (x1, y1) = position(parent), position(point)
        label = None if point.operator in drawn else point.operator
        drawn.add(point.operator)
        ax.plot([x0, x1], [y0, y1], color=colors[point.operator], lw=1, label=label, zorder=1)
    front = front_numbers(study)
    for marker, chosen in (
        ("s", [p for p in points if p.parent is None]),
        ("o", [p for p in points if p.parent is not None]),
    ):
        for on_front in (False, True):
            group = [p for p in chosen if (p.number in front) == on_front]
            if not group:
                continue
            ax.scatter(
                [position(p)[0] for p in group],
                [position(p)[1] for p in group],
                marker=marker,
                s=60 if on_front else 22,
                c=[colors.get(p.operator or "", "#444444") for p in group],
                edgecolors="black" if on_front else "white",
                linewidths=1.8 if on_front else 0.5,
                zorder=3 if on_front else 2,
            )
    across = [position(p)[0] for p in points]
    if x_index is not None and (wide_range(across) if log_x is None else log_x):
        ax.set_xscale("log")
    ax.set_xlabel(x_title)
    ax.set_ylabel(y_title)
    ax.set_title(
        f"Genealogy of {study.study_name}: {len(points)} networks, {len(front)} on the "
        "Pareto front (outlined); squares: initial networks",
        fontsize=10,
    )
    if drawn:
        ax.legend(title="morphism", fontsize=8)
    ax.grid(alpha=0.3)
    return ax
