"""Build a PyTorch module from an architecture."""

from __future__ import annotations

import functools
from typing import cast

import torch
from torch import nn
import torch.nn.functional as F

from optuna_lemonade.architecture import Architecture
from optuna_lemonade.architecture import Node


class SeparableConv2d(nn.Module):
    """Depthwise-separable convolution: depthwise k x k, then pointwise 1 x 1, no bias.

    Parameters are ``depthwise.weight`` (``C_in x 1 x k x k``) and ``pointwise.weight``
    (``filters x C_in x 1 x 1``), as in Keras' ``SeparableConv2D``.
    """

    def __init__(self, in_channels: int, filters: int, kernel_size: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(
            in_channels,
            in_channels,
            kernel_size,
            padding=kernel_size // 2,
            groups=in_channels,
            bias=False,
        )
        self.pointwise = nn.Conv2d(in_channels, filters, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.pointwise(self.depthwise(x))
        return out


def _make_module(node: Node, in_channels: int) -> nn.Module | None:
    if node.op == "conv":
        assert node.filters is not None and node.kernel_size is not None
        return nn.Conv2d(
            in_channels, node.filters, node.kernel_size, padding=node.kernel_size // 2, bias=False
        )
    if node.op == "sepconv":
        assert node.filters is not None and node.kernel_size is not None
        return SeparableConv2d(in_channels, node.filters, node.kernel_size)
    if node.op == "bn":
        return nn.BatchNorm2d(in_channels)
    if node.op == "linear":
        assert node.units is not None
        return nn.Linear(in_channels, node.units)
    return None


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
            if node.inputs:
                module = _make_module(node, architecture.shape(node.inputs[0])[0])
                if module is not None:
                    self.layers[node.name] = module
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
            op = node.op
            if op in ("conv", "sepconv", "bn", "linear"):
                out = self.layers[node.name](values[node.inputs[0]])
            elif op == "relu":
                out = F.relu(values[node.inputs[0]])
            elif op == "maxpool":
                out = F.max_pool2d(values[node.inputs[0]], cast(int, node.kernel_size))
            elif op == "avgpool":
                out = F.avg_pool2d(values[node.inputs[0]], cast(int, node.kernel_size))
            elif op == "gap":
                out = values[node.inputs[0]].mean(dim=(2, 3))
            elif op == "add":
                out = values[node.inputs[0]]
                for source in node.inputs[1:]:
                    out = out + values[source]
            elif op == "concat":
                out = torch.cat([values[source] for source in node.inputs], dim=1)
            else:  # pragma: no cover - Architecture validates ops
                raise AssertionError(op)
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


def load_model(arch: Architecture, state: dict[str, torch.Tensor]) -> GraphNetwork:
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
