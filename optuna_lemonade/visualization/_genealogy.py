"""The lineage of a LEMONADE study: which network came from which, by which morphism."""

from __future__ import annotations

from typing import Any
from typing import Literal

import optuna

from optuna_lemonade.visualization._plotly_imports import check_plotly
from optuna_lemonade.visualization._plotly_imports import go
from optuna_lemonade.visualization._trials import completed_points
from optuna_lemonade.visualization._trials import front_numbers
from optuna_lemonade.visualization._trials import objective_index
from optuna_lemonade.visualization._trials import objective_names
from optuna_lemonade.visualization._trials import Point
from optuna_lemonade.visualization._trials import wide_range


# plotly's qualitative "D3" palette: ten colours that stay apart (nine operators).
_PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


def operator_colors(operators: list[str]) -> dict[str, str]:
    """A colour per operator, in sorted order, so that a study's figures agree."""
    return {op: _PALETTE[i % len(_PALETTE)] for i, op in enumerate(sorted(set(operators)))}


def genealogy_axes(
    study: optuna.Study, x: int | str | Literal["number"], y: int | str
) -> tuple[int | None, int, str, str]:
    """Resolve ``x`` and ``y`` to objective indices (``None``: trial number) and titles.

    Raises:
        ValueError: If either names no objective.
    """
    names = objective_names(study)
    y_index = objective_index(study, y, "y")
    if x == "number":
        return None, y_index, "trial number", names[y_index]
    x_index = objective_index(study, x, "x")
    return x_index, y_index, names[x_index], names[y_index]


def _hover(point: Point, names: list[str]) -> str:
    origin = (
        "initial network"
        if point.parent is None
        else f"{point.operator or 'child'} of trial {point.parent}"
    )
    values = "<br>".join(f"{n}: {v:.6g}" for n, v in zip(names, point.values, strict=True))
    summary = f"<br>{point.summary}" if point.summary else ""
    return f"trial {point.number}: {origin}{summary}<br>{values}"


def plot_genealogy(
    study: optuna.Study,
    *,
    x: int | str = 1,
    y: int | str = 0,
    log_x: bool | None = None,
) -> Any:
    """The lineage of every COMPLETE trial, as a plotly figure.

    Each network is a marker placed by two objectives (by default the second, a cost,
    across, and the first, the error, up); ``x="number"`` places it by trial number
    instead, which shows the search over time. An edge joins each child to its parent,
    coloured by the morphism that made it; initial networks are squares, and the
    study's Pareto front (:attr:`optuna.Study.best_trials`) is outlined. Hovering shows
    the trial, its origin, its summary and its values.

    The lineage is read from the ``lemonade_parent`` and ``lemonade_operator`` user
    attributes that :meth:`~optuna_lemonade.LemonadeSampler.child` writes; trials
    without them are drawn as unconnected points.

    Args:
        study: A study, usually one sampled by :class:`~optuna_lemonade.LemonadeSampler`.
        x: The objective across, by index or metric name, or ``"number"``.
        y: The objective up, by index or metric name.
        log_x: Logarithmic x axis; by default when the values are positive and span
            more than 1.5 decades (parameters, multiply-adds).

    Returns:
        A ``plotly.graph_objects.Figure``.

    Raises:
        ImportError: If plotly is not installed.
        ValueError: If ``x`` or ``y`` names no objective.
    """
    check_plotly()
    x_index, y_index, x_title, y_title = genealogy_axes(study, x, y)
    points = completed_points(study)
    names = objective_names(study)
    by_number = {p.number: p for p in points}

    def position(point: Point) -> tuple[float, float]:
        across = float(point.number) if x_index is None else point.values[x_index]
        return across, point.values[y_index]

    colors = operator_colors([p.operator for p in points if p.operator and p.parent is not None])
    figure = go.Figure()
    for operator, color in colors.items():
        xs: list[float | None] = []
        ys: list[float | None] = []
        for point in points:
            parent = by_number.get(point.parent) if point.parent is not None else None
            if parent is None or point.operator != operator:
                continue
            (x0, y0), (x1, y1) = position(parent), position(point)
            xs += [x0, x1, None]
            ys += [y0, y1, None]
        figure.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                name=operator,
                hoverinfo="skip",
                line={"color": color, "width": 1.5},
            )
        )
    front = front_numbers(study)
    for label, chosen, symbol in (
        ("initial network", [p for p in points if p.parent is None], "square"),
        ("child", [p for p in points if p.parent is not None], "circle"),
    ):
        if not chosen:
            continue
        positions = [position(p) for p in chosen]
        figure.add_trace(
            go.Scatter(
                x=[a for a, _ in positions],
                y=[b for _, b in positions],
                mode="markers",
                name=label,
                marker={
                    "symbol": symbol,
                    "size": [11 if p.number in front else 7 for p in chosen],
                    "color": [colors.get(p.operator or "", "#444444") for p in chosen],
                    "line": {
                        "width": [2.5 if p.number in front else 0.5 for p in chosen],
                        "color": ["black" if p.number in front else "white" for p in chosen],
                    },
                },
                text=[_hover(p, names) for p in chosen],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    across = [position(p)[0] for p in points]
    logarithmic = wide_range(across) if log_x is None else log_x
    figure.update_layout(
        title=f"Genealogy of {study.study_name}: {len(points)} networks, "
        f"{len(front)} on the Pareto front (outlined)",
        xaxis={
            "title": x_title,
            "type": "log" if logarithmic and x_index is not None else "linear",
        },
        yaxis={"title": y_title},
        legend={"title": "morphism / network"},
        template="plotly_white",
    )
    return figure
