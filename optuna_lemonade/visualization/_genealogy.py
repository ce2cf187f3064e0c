"""The lineage of a LEMONADE study: which network came from which, by which morphism."""

from __future__ import annotations

import dataclasses
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


@dataclasses.dataclass(frozen=True)
class Genealogy:
    """What both back ends draw: each network's place, the edges, colours, the front."""

    points: list[Point]
    position: dict[int, tuple[float, float]]
    """Trial number -> (x, y)."""
    edges: list[tuple[Point, Point]]
    """(parent, child) for each child whose parent is among ``points``; an operator."""
    colors: dict[str, str]
    front: set[int]
    x_title: str
    y_title: str
    log_x: bool
    names: list[str]


def genealogy(
    study: optuna.Study, x: int | str | Literal["number"], y: int | str, log_x: bool | None
) -> Genealogy:
    """Resolve the axes (``x="number"``: by trial number) and lay the lineage out.

    Raises:
        ValueError: If ``x`` or ``y`` names no objective.
    """
    names = objective_names(study)
    y_index = objective_index(study, y, "y")
    x_index = None if x == "number" else objective_index(study, x, "x")
    points = completed_points(study)
    position = {
        p.number: (
            float(p.number) if x_index is None else p.values[x_index],
            p.values[y_index],
        )
        for p in points
    }
    by_number = {p.number: p for p in points}
    edges = [
        (by_number[p.parent], p)
        for p in points
        if p.parent is not None and p.parent in by_number and p.operator is not None
    ]
    across = [position[p.number][0] for p in points]
    return Genealogy(
        points=points,
        position=position,
        edges=edges,
        colors=operator_colors([child.operator or "" for _, child in edges]),
        front=front_numbers(study),
        x_title="trial number" if x_index is None else names[x_index],
        y_title=names[y_index],
        log_x=x_index is not None and (wide_range(across) if log_x is None else log_x),
        names=names,
    )


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
    layout = genealogy(study, x, y, log_x)
    figure = go.Figure()
    for operator, color in layout.colors.items():
        xs: list[float | None] = []
        ys: list[float | None] = []
        for parent, child in layout.edges:
            if child.operator == operator:
                (x0, y0), (x1, y1) = layout.position[parent.number], layout.position[child.number]
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
    front = layout.front
    for label, chosen, symbol in (
        ("initial network", [p for p in layout.points if p.parent is None], "square"),
        ("child", [p for p in layout.points if p.parent is not None], "circle"),
    ):
        if not chosen:
            continue
        figure.add_trace(
            go.Scatter(
                x=[layout.position[p.number][0] for p in chosen],
                y=[layout.position[p.number][1] for p in chosen],
                mode="markers",
                name=label,
                marker={
                    "symbol": symbol,
                    "size": [11 if p.number in front else 7 for p in chosen],
                    "color": [layout.colors.get(p.operator or "", "#444444") for p in chosen],
                    "line": {
                        "width": [2.5 if p.number in front else 0.5 for p in chosen],
                        "color": ["black" if p.number in front else "white" for p in chosen],
                    },
                },
                text=[_hover(p, layout.names) for p in chosen],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    figure.update_layout(
        title=f"Genealogy of {study.study_name}: {len(layout.points)} networks, "
        f"{len(front)} on the Pareto front (outlined)",
        xaxis={"title": layout.x_title, "type": "log" if layout.log_x else "linear"},
        yaxis={"title": layout.y_title},
        legend={"title": "morphism / network"},
        template="plotly_white",
    )
    return figure
