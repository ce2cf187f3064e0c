"""Where each layer of an architecture goes in a diagram (shared by both back ends)."""

from __future__ import annotations

import dataclasses

from optuna_lemonade.architecture import Architecture
from optuna_lemonade.architecture import layer_name


@dataclasses.dataclass(frozen=True)
class Box:
    """One box of the diagram: a layer, with the batch norm and ReLU right after it."""

    names: tuple[str, ...]
    """The nodes drawn as this box, first the layer, then what is folded into it."""
    label: str
    """e.g. ``"conv3x3 32 · BN · ReLU"``."""
    shape: str
    """The box's output shape, e.g. ``"32x28x28"``."""
    op: str
    """The first node's operation (colours the box)."""
    level: int
    """Rows from the top: the longest path from the input."""
    column: float
    """Across, centred on 0."""


@dataclasses.dataclass(frozen=True)
class Layout:
    boxes: tuple[Box, ...]
    edges: tuple[tuple[int, int], ...]
    """Pairs of indices into ``boxes``: from an input box to the box that consumes it."""

    @property
    def levels(self) -> int:
        return 1 + max((box.level for box in self.boxes), default=0)

    @property
    def width(self) -> float:
        """Columns of the widest row."""
        return 1 + 2 * max((abs(box.column) for box in self.boxes), default=0)


def _label(arch: Architecture, name: str) -> str:
    node = arch.node(name)
    if node.op in ("conv", "sepconv"):
        return f"{layer_name(arch, name)} {node.filters}"
    if node.op == "linear":
        return f"linear {node.units}"
    if node.op == "input":
        return "input"
    return layer_name(arch, name)


def _folds(arch: Architecture, name: str, follower: str) -> bool:
    """Whether ``follower`` is drawn in the box of ``name`` (its only consumer)."""
    return arch.consumers(name) == (follower,) and arch.node(follower).inputs == (name,)


def layout(arch: Architecture) -> Layout:
    """Boxes in rows by their longest path from the input, edges between boxes.

    A batch norm, and a ReLU after it, that are the only consumers of their input are
    folded into that input's box (``conv3x3 32 · BN · ReLU``): every layer of a plain
    network is such a triple, and three boxes for one layer make the picture long.
    """
    owner: dict[str, int] = {}
    groups: list[list[str]] = []
    for node in arch.nodes:
        if node.op in ("bn", "relu") and len(node.inputs) == 1:
            source = node.inputs[0]
            group = groups[owner[source]]
            # fold into the box whose last node is the only input, in the order layer,
            # BN, ReLU (a ReLU may follow a BN directly or a layer directly)
            if group[-1] == source and _folds(arch, source, node.name):
                ops = [arch.node(n).op for n in group[1:]]
                if node.op not in ops and not (node.op == "bn" and "relu" in ops):
                    group.append(node.name)
                    owner[node.name] = owner[source]
                    continue
        owner[node.name] = len(groups)
        groups.append([node.name])
    inputs = [
        sorted({owner[i] for n in group for i in arch.node(n).inputs} - {index})
        for index, group in enumerate(groups)
    ]
    level: list[int] = []
    for index in range(len(groups)):  # groups are in topological order, as nodes are
        level.append(1 + max((level[i] for i in inputs[index]), default=-1))
    rows: dict[int, list[int]] = {}
    for index, row in enumerate(level):
        rows.setdefault(row, []).append(index)
    column = [0.0] * len(groups)
    for members in rows.values():
        for position, index in enumerate(members):
            column[index] = position - (len(members) - 1) / 2
    boxes = []
    for index, group in enumerate(groups):
        extras = [arch.node(n).op for n in group[1:]]
        label = " · ".join(
            [_label(arch, group[0])] + [{"bn": "BN", "relu": "ReLU"}[op] for op in extras]
        )
        shape = "x".join(str(v) for v in arch.shape(group[-1]))
        boxes.append(
            Box(
                names=tuple(group),
                label=label,
                shape=shape,
                op=arch.node(group[0]).op,
                level=level[index],
                column=column[index],
            )
        )
    edges = tuple((source, index) for index in range(len(groups)) for source in inputs[index])
    return Layout(boxes=tuple(boxes), edges=edges)


OP_COLORS = {
    "input": "#e8e8e8",
    "conv": "#cfe2f3",
    "sepconv": "#d9ead3",
    "maxpool": "#fff2cc",
    "avgpool": "#fff2cc",
    "add": "#f4cccc",
    "concat": "#ead1dc",
    "gap": "#fce5cd",
    "linear": "#d9d2e9",
    "bn": "#eeeeee",
    "relu": "#eeeeee",
}
"""Box colours by operation (light, so that black text stays readable)."""
