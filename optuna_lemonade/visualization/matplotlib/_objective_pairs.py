"""Every pair of a study's objectives: the 2-D projections of a front of any dimension."""

from __future__ import annotations

from collections.abc import Sequence
import itertools
import math
from typing import Any

import optuna

from optuna_lemonade.visualization._trials import completed_points
from optuna_lemonade.visualization._trials import front_numbers
from optuna_lemonade.visualization._trials import objective_index
from optuna_lemonade.visualization._trials import objective_names
from optuna_lemonade.visualization._trials import wide_range
from optuna_lemonade.visualization.matplotlib._imports import check_matplotlib


def plot_objective_pairs(
    study: optuna.Study,
    *,
    objectives: Sequence[int | str] | None = None,
    log_axes: Sequence[int | str] | None = None,
    columns: int = 4,
) -> Any:
    """A scatter plot of every pair of objectives, the Pareto front in red.

    For studies of more than three objectives, where Optuna's ``plot_pareto_front``
    needs ``targets=``: the front is the study's (non-dominated over *all* objectives),
    so a front trial can look dominated in a projection.

    Args:
        study: A multi-objective study.
        objectives: Which objectives, by index or metric name (default: all).
        log_axes: Objectives drawn on a log scale (default: those with positive values
            spanning 1.5 decades or more).
        columns: Panels per row.

    Returns:
        A ``matplotlib.figure.Figure``.

    Raises:
        ImportError: If matplotlib is not installed.
        ValueError: For fewer than two objectives, an unknown objective, or fewer than
            one column.
    """
    check_matplotlib()
    import matplotlib.pyplot as plt

    names = objective_names(study)
    chosen = (
        list(range(len(names)))
        if objectives is None
        else [objective_index(study, o, "objectives") for o in objectives]
    )
    if len(set(chosen)) < 2:
        raise ValueError(f"plot_objective_pairs needs two objectives or more, got {chosen}")
    if isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
        raise ValueError(f"columns must be a positive integer, got {columns!r}")
    points = completed_points(study)
    front = front_numbers(study) if points else set()
    logarithmic = (
        {i for i in chosen if wide_range([p.values[i] for p in points])}
        if log_axes is None
        else {objective_index(study, o, "log_axes") for o in log_axes}
    )
    pairs = list(itertools.combinations(chosen, 2))
    width = min(columns, len(pairs))
    rows = math.ceil(len(pairs) / width)
    figure, grid = plt.subplots(rows, width, figsize=(3.2 * width, 3.0 * rows), squeeze=False)
    for panel, (x, y) in zip(grid.flat, pairs, strict=False):
        others = [p for p in points if p.number not in front]
        best = [p for p in points if p.number in front]
        panel.scatter(
            [p.values[x] for p in others], [p.values[y] for p in others], s=10, c="#9aa7b8"
        )
        panel.scatter([p.values[x] for p in best], [p.values[y] for p in best], s=16, c="#d62728")
        panel.set_xlabel(names[x])
        panel.set_ylabel(names[y])
        panel.set_xscale("log" if x in logarithmic else "linear")
        panel.set_yscale("log" if y in logarithmic else "linear")
    for panel in list(grid.flat)[len(pairs) :]:
        panel.set_visible(False)
    figure.tight_layout()
    return figure
