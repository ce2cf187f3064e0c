"""Optuna's matplotlib Pareto-front plot with log-scaled costs and reference networks."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import optuna

from optuna_lemonade.visualization._pareto_front import front_axes
from optuna_lemonade.visualization.matplotlib._imports import check_matplotlib


def plot_pareto_front(
    study: optuna.Study,
    *,
    error: int | str = 0,
    log_axes: Sequence[int | str] | None = None,
    references: Mapping[str, Sequence[float]] | None = None,
    include_dominated_trials: bool = True,
) -> Any:
    """:func:`optuna_lemonade.visualization.plot_pareto_front` with matplotlib.

    Returns:
        A ``matplotlib.axes.Axes``.

    Raises:
        ImportError: If matplotlib is not installed.
        ValueError: As the plotly version.
    """
    check_matplotlib()
    axes = front_axes(study, error, log_axes, references)
    # Any: a 3-D plot's axes have set_zscale and 3-D scatter and text
    ax: Any = optuna.visualization.matplotlib.plot_pareto_front(
        study,
        target_names=[axes.names[i] for i in axes.order],
        include_dominated_trials=include_dominated_trials,
        targets=lambda trial: [trial.values[i] for i in axes.order],
    )
    setters = (ax.set_xscale, ax.set_yscale) + ((ax.set_zscale,) if len(axes.order) == 3 else ())
    for set_scale, index in zip(setters, axes.order, strict=True):
        set_scale("log" if index in axes.logarithmic else "linear")
    if axes.references:
        coordinates = [[float(v[i]) for v in axes.references.values()] for i in axes.order]
        ax.scatter(*coordinates, marker="*", s=120, color="black", label="reference networks")
        for label, *point in zip(axes.references, *coordinates, strict=True):
            ax.text(*point, f" {label}", fontsize=8)
        ax.legend()
    return ax
