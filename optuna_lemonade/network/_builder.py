"""Build a PyTorch module from an architecture."""

from __future__ import annotations

import functools

import torch
from torch import nn

from optuna_lemonade.architecture import Architecture
from optuna_lemonade.architecture import OP_KINDS


class GraphNetwork(nn.Module):
    """The module :func:`build_model` returns: runs an architecture's graph.

    Every weighted node (conv, sepconv, bn, linear) owns a submodule in ``layers``
    under its node name, so parameter names are stable (``layers.<node>.weight``): a
    state dict saved from one model loads into any model built from an equal
    architecture. Stateless nodes (relu, pooling, add, concat, gap) are functional
    calls.

    Attributes:
        architecture: The architecture this module computes.
        layers: The weighted layers, keyed by node name.
    """

    def __init__(self, architecture: Architecture) -> None:
        super().__init__()
        self.architecture = architecture
        self.layers = nn.ModuleDict()
        for node in architecture.nodes:
            make = OP_KINDS[node.op].module
            if node.inputs and make is not None:
                self.layers[node.name] = make(node, architecture.shape(node.inputs[0])[0])
        # For each step, the values that are no longer needed after it, so that the
        # forward pass keeps only live activations.
        last_use: dict[str, int] = {}
        steps = [node for node in architecture.nodes if node.inputs]
        for index, node in enumerate(steps):
            for source in node.inputs:
                last_use[source] = index
        self._steps = [
            (node, tuple(s for s in node.inputs if last_use[s] == index and s != node.name))
            for index, node in enumerate(steps)
        ]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Compute logits ``N x num_classes`` for images ``N x C x H x W``.

        Raises:
            ValueError: If ``x`` does not have the architecture's input shape.
        """
        expected = self.architecture.input_shape
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"expected input of shape N x {' x '.join(map(str, expected))}, "
                f"got {' x '.join(map(str, x.shape))}"
            )
        values: dict[str, torch.Tensor] = {self.architecture.input_name: x}
        for node, dead in self._steps:
            kind = OP_KINDS[node.op]
            module = None if kind.module is None else self.layers[node.name]
            out = kind.forward(node, [values[source] for source in node.inputs], module)
            for source in dead:
                del values[source]
            values[node.name] = out
        return values[self.architecture.output_name]

    def extra_repr(self) -> str:
        return f"architecture={self.architecture!r}"


def build_model(
    arch: Architecture,
    *,
    seed: int | None = None,
    device: torch.device | str | None = None,
) -> GraphNetwork:
    """Build the PyTorch module an architecture describes.

    The module maps ``N x C x H x W`` images to ``N x num_classes`` logits. Its
    parameters get PyTorch's default initialisation.

    Args:
        arch: The architecture.
        seed: If given, initialise the parameters from this seed without touching the
            global random state, so that the same seed gives the same weights.
        device: Where to put the parameters (default: CPU).

    Returns:
        A :class:`GraphNetwork` in training mode.
    """
    if not isinstance(arch, Architecture):
        raise TypeError(f"build_model expects an Architecture, got {type(arch).__name__}")
    if seed is None:
        model = GraphNetwork(arch)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = GraphNetwork(arch)
    return model.to(device) if device is not None else model


@functools.lru_cache(maxsize=256)
def expected_state_shapes(arch: Architecture) -> dict[str, tuple[int, ...]]:
    """Names and shapes of the state dict of ``build_model(arch)`` (cached; do not modify)."""
    with torch.device("meta"):
        reference = GraphNetwork(arch).state_dict()
    return {key: tuple(value.shape) for key, value in reference.items()}


def check_state_dict(arch: Architecture, state: dict[str, torch.Tensor]) -> None:
    """Check that ``state`` has exactly the keys and shapes of ``build_model(arch)``.

    Raises:
        ValueError: Naming the first missing, unexpected or misshapen entry.
    """
    reference = expected_state_shapes(arch)
    missing = sorted(set(reference) - set(state))
    unexpected = sorted(set(state) - set(reference))
    if missing or unexpected:
        raise ValueError(
            "the model does not match the architecture: "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    for key, shape in reference.items():
        if tuple(state[key].shape) != shape:
            raise ValueError(
                f"the model does not match the architecture: {key!r} has shape "
                f"{tuple(state[key].shape)}, expected {shape}"
            )


def check_model(arch: Architecture, model: nn.Module) -> None:
    """Check that ``model``'s state dict fits ``build_model(arch)``.

    Raises:
        ValueError: Naming the first missing, unexpected or misshapen entry.
        TypeError: If ``model`` is not a module.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
    check_state_dict(arch, model.state_dict())


def from_state_dict(arch: Architecture, state: dict[str, torch.Tensor]) -> GraphNetwork:
    """Build ``arch`` with the weights of ``state``, skipping random initialisation.

    Raises:
        ValueError: If the state dict does not match the architecture.
    """
    check_state_dict(arch, state)
    with torch.device("meta"):
        model = GraphNetwork(arch)
    model = model.to_empty(device="cpu")
    model.load_state_dict(state)
    return model
