"""A diagram of one architecture: its layers top to bottom, with skips."""

from __future__ import annotations

from typing import Any

from optuna_lemonade.architecture import Architecture
from optuna_lemonade.architecture import summarize
from optuna_lemonade.visualization._architecture_layout import layout
from optuna_lemonade.visualization._architecture_layout import OP_COLORS
from optuna_lemonade.visualization._plotly_imports import check_plotly
from optuna_lemonade.visualization._plotly_imports import go


_ROW_PX = 56
_COLUMN_PX = 260


def plot_architecture(architecture: Architecture, *, title: str | None = None) -> Any:
    """A diagram of ``architecture`` as a plotly figure.

    One box per layer, top to bottom in order of the longest path from the input,
    branches side by side; a batch norm and ReLU right after a layer share its box
    (``conv3x3 32 · BN · ReLU``); each box shows its output shape (channels x height x
    width); edges join each layer to its inputs, so that skips and branches show. The
    title is the architecture's one-line summary unless ``title`` is given.

    Returns:
        A ``plotly.graph_objects.Figure`` sized to the network.

    Raises:
        ImportError: If plotly is not installed.
    """
    check_plotly()
    if not isinstance(architecture, Architecture):
        raise TypeError(f"expected an Architecture, got {type(architecture).__name__}")
    diagram = layout(architecture)
    figure = go.Figure()
    xs: list[float | None] = []
    ys: list[float | None] = []
    for source, target in diagram.edges:
        a, b = diagram.boxes[source], diagram.boxes[target]
        xs += [a.column, b.column, None]
        ys += [-a.level, -b.level, None]
    figure.add_trace(
        go.Scatter(x=xs, y=ys, mode="lines", line={"color": "#888888"}, hoverinfo="skip")
    )
    figure.add_trace(
        go.Scatter(
            x=[box.column for box in diagram.boxes],
            y=[-box.level for box in diagram.boxes],
            mode="markers",
            marker={"size": 1, "color": "rgba(0,0,0,0)"},
            text=[
                f"{box.label}<br>output {box.shape}<br>nodes: {', '.join(box.names)}"
                for box in diagram.boxes
            ],
            hovertemplate="%{text}<extra></extra>",
        )
    )
    for box in diagram.boxes:
        figure.add_annotation(
            x=box.column,
            y=-box.level,
            text=f"<b>{box.label}</b>  <span style='color:#555'>{box.shape}</span>",
            showarrow=False,
            bgcolor=OP_COLORS.get(box.op, "#ffffff"),
            bordercolor="#555555",
            borderwidth=1,
            borderpad=4,
            font={"size": 12, "family": "monospace"},
        )
    half = (diagram.width - 1) / 2
    figure.update_layout(
        title=title if title is not None else summarize(architecture),
        showlegend=False,
        template="plotly_white",
        width=max(520, int(diagram.width * _COLUMN_PX)),
        height=120 + diagram.levels * _ROW_PX,
        xaxis={"visible": False, "range": [-half - 0.6, half + 0.6]},
        yaxis={"visible": False, "range": [-diagram.levels + 0.4, 0.6]},
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
    )
    return figure
