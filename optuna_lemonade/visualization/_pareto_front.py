"""Optuna's Pareto-front plot with cost axes on a log scale and reference networks."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
import dataclasses
from typing import Any

import optuna

from optuna_lemonade.visualization._plotly_imports import check_plotly
from optuna_lemonade.visualization._plotly_imports import go
from optuna_lemonade.visualization._trials import completed_points
from optuna_lemonade.visualization._trials import objective_index
from optuna_lemonade.visualization._trials import objective_names
from optuna_lemonade.visualization._trials import wide_range


@dataclasses.dataclass(frozen=True)
class FrontAxes:
    """What both back ends draw: objective names, axis order, log axes, references."""

    names: list[str]
    order: list[int]
    """Objective indices, one per axis: the costs, then the error."""
    logarithmic: set[int]
    references: dict[str, Sequence[float]]


def front_axes(
    study: optuna.Study,
    error: int | str,
    log_axes: Sequence[int | str] | None,
    references: Mapping[str, Sequence[float]] | None,
) -> FrontAxes:
    """Check the arguments of ``plot_pareto_front`` and resolve its axes.

    Raises:
        ValueError: As :func:`plot_pareto_front` documents.
    """
    names = objective_names(study)
    if len(names) not in (2, 3):
        raise ValueError(
            f"plot_pareto_front draws two or three objectives; the study has {len(names)}: "
            "use optuna.visualization.plot_parallel_coordinate, or optuna's plot_pareto_front "
            "with targets="
        )
    error_index = objective_index(study, error, "error")
    order = [i for i in range(len(names)) if i != error_index] + [error_index]
    references = dict(references or {})
    for label, values in references.items():
        if len(values) != len(names):
            raise ValueError(
                f"reference {label!r} has {len(values)} values; the study has "
                f"{len(names)} objectives {names}"
            )
    points = completed_points(study)
    if log_axes is None:
        logarithmic = {
            i
            for i in range(len(names))
            if wide_range(
                [p.values[i] for p in points] + [float(v[i]) for v in references.values()]
            )
        }
    else:
        logarithmic = {objective_index(study, axis, "log_axes") for axis in log_axes}
    return FrontAxes(names, order, logarithmic, references)


def plot_pareto_front(
    study: optuna.Study,
    *,
    error: int | str = 0,
    log_axes: Sequence[int | str] | None = None,
    references: Mapping[str, Sequence[float]] | None = None,
    include_dominated_trials: bool = True,
) -> Any:
    """:func:`optuna.visualization.plot_pareto_front` for NAS: error up, costs across.

    Optuna's figure with the axes reordered so that the error objective is the last
    axis (up in 2-D, vertical in 3-D), costs that span more than 1.5 decades on a log
    scale (on a linear axis every small network sits on one line), and hand-designed
    reference networks as labelled stars.

    Args:
        study: A study with two or three objectives.
        error: The error objective, by index or metric name.
        log_axes: Objectives (indices or names) to put on log axes; by default every
            objective whose values are positive and span more than 1.5 decades.
        references: Named reference networks, each with one value per objective in the
            study's order, e.g. ``{"resnet-like": [0.089, 78_000]}``.
        include_dominated_trials: Also draw the dominated trials, as Optuna does.

    Returns:
        A ``plotly.graph_objects.Figure``.

    Raises:
        ImportError: If plotly is not installed.
        ValueError: If the study has not two or three objectives, an objective is
            unknown, or a reference has the wrong number of values.
    """
    check_plotly()
    axes = front_axes(study, error, log_axes, references)
    names, order, logarithmic, references = (
        axes.names, axes.order, axes.logarithmic, axes.references
    )  # fmt: skip
    figure = optuna.visualization.plot_pareto_front(
        study,
        target_names=[names[i] for i in order],
        include_dominated_trials=include_dominated_trials,
        targets=lambda trial: [trial.values[i] for i in order],
    )
    axis_keys = ("xaxis", "yaxis") if len(order) == 2 else ("xaxis", "yaxis", "zaxis")
    layout = {
        key: {"type": "log" if index in logarithmic else "linear"}
        for key, index in zip(axis_keys, order, strict=True)
    }
    if len(order) == 2:
        figure.update_layout(**layout)
    else:
        figure.update_layout(scene=layout)
    if references:
        coordinates = [[float(values[i]) for values in references.values()] for i in order]
        star = {"symbol": "star", "size": 12, "color": "black"}
        labels = list(references)
        if len(order) == 2:
            figure.add_trace(
                go.Scatter(
                    x=coordinates[0],
                    y=coordinates[1],
                    mode="markers+text",
                    text=labels,
                    textposition="top center",
                    marker=star,
                    name="reference networks",
                )
            )
        else:
            figure.add_trace(
                go.Scatter3d(
                    x=coordinates[0],
                    y=coordinates[1],
                    z=coordinates[2],
                    mode="markers+text",
                    text=labels,
                    marker=star,
                    name="reference networks",
                )
            )
    return figure
