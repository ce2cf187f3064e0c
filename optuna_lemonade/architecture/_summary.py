"""One-line, human-readable summaries of architectures (for dashboards and logs)."""

from __future__ import annotations

from collections import Counter

from optuna_lemonade.architecture._architecture import Architecture
from optuna_lemonade.architecture._counting import analytic_num_macs
from optuna_lemonade.architecture._counting import analytic_num_params


# Batch norm and ReLU follow nearly every convolution, the input and global pooling are
# in every network: listing them says nothing about one network against another.
_UNLISTED = frozenset({"input", "bn", "relu", "gap"})


def layer_name(arch: Architecture, name: str) -> str:
    """A short name of one node's operation.

    ``conv3x3``, ``sepconv5x5``, ``maxpool2``, ``linear10``, ``add``, ... (``name`` is
    the node's name in ``arch``).
    """
    node = arch.node(name)
    if node.op in ("conv", "sepconv"):
        return f"{node.op}{node.kernel_size}x{node.kernel_size}"
    if node.op in ("maxpool", "avgpool"):
        return f"{node.op}{node.kernel_size}"
    if node.op == "linear":
        return f"linear{node.units}"
    return node.op


def human_count(value: float) -> str:
    """``532``, ``24.3k``, ``3.1M``, ``1.2G``: three significant digits at most."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            scaled = value / limit
            return f"{scaled:.3g}{suffix}" if scaled < 1000 else f"{scaled:.0f}{suffix}"
    return f"{value:.0f}"


def summarize(arch: Architecture) -> str:
    """One line that tells networks apart.

    For example ``"9 layers: 5 conv3x3, 1 sepconv3x3, 2 maxpool2, 1 add; 24.3k params;
    3.1M MACs"``.

    Layers are the nodes other than the input, batch norms, ReLUs and global pooling,
    counted by :func:`layer_name` (the classifier is left out of the list but counted),
    in order of first appearance in the graph.
    """
    names = [layer_name(arch, node.name) for node in arch.nodes if node.op not in _UNLISTED]
    counts = Counter(name for name in names if not name.startswith("linear"))
    listed = ", ".join(f"{count} {name}" for name, count in counts.items())
    return (
        f"{len(names)} layers: {listed or 'a linear classifier'}; "
        f"{human_count(analytic_num_params(arch))} params; "
        f"{human_count(analytic_num_macs(arch))} MACs"
    )
