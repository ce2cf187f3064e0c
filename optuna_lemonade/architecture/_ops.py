"""The table of operation kinds: what each op of an architecture means, in one place.

Shape inference and validation, parameter and multiply-accumulate counts, the
non-negativity analysis, depth, channel grouping and the PyTorch module and forward
step all read :data:`OP_KINDS`, as torch.fx passes read a node's target. Adding an
operation is one entry here, plus the morphisms that should use it.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
import dataclasses
from typing import Literal
from typing import TYPE_CHECKING

import torch
from torch import nn
import torch.nn.functional as F


if TYPE_CHECKING:
    from optuna_lemonade.architecture._node import Node

Shape = tuple[int, ...]

# Limits that keep a description buildable and its validation cheap. They bound what
# ``Architecture.from_json`` accepts; a ``SearchSpace`` sets much tighter ones.
MAX_NODES = 10_000
MAX_CHANNELS = 65_536
MAX_RESOLUTION = 16_384
MAX_KERNEL_SIZE = 31


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


def _none(node: Node, source: Shape) -> int:
    return 0


Forward = Callable[["Node", Sequence[torch.Tensor], "nn.Module | None"], torch.Tensor]


@dataclasses.dataclass(frozen=True)
class OpKind:
    """What one operation kind means.

    Attributes:
        name: The ``op`` of the nodes of this kind.
        attributes: The node attributes it takes (``filters``, ``kernel_size``, ``units``).
        min_inputs: Fewest inputs.
        max_inputs: Most inputs.
        input_rank: 3 if its (first) input must be an image ``C x H x W``, 1 if a vector,
            None if either.
        kernel: How ``kernel_size`` is checked: ``"odd"`` (convolutions, "same"
            padding) or ``"pooling"`` (at least 2), None without one.
        output_shape: The output shape from the input shapes; raises ``ValueError``
            saying what does not fit.
        params: Trainable parameters, from the node and its first input's shape.
        macs: Multiply-accumulates of one image, as ptflops' ``aten`` backend counts.
        weighted: Whether it counts as a layer of the network's depth.
        nonnegative: Whether its output is non-negative whatever the weights:
            ``"always"``, ``"if_inputs"`` (when all its inputs are), or ``"never"``.
        width: How its output channels come about: ``"free"`` (its own, changeable
            by morphisms), ``"fixed"`` (set by something else: the data, the classes, a
            concatenation's inputs), or ``"follows"`` (its inputs'; ties them together).
        module: Builds its ``nn.Module`` from the node and its input channels; None for
            stateless ops.
        forward: Computes its output from its inputs (and its module).
    """

    name: str
    attributes: tuple[str, ...]
    min_inputs: int
    max_inputs: int
    input_rank: int | None
    kernel: Literal["odd", "pooling"] | None
    output_shape: Callable[[Node, list[Shape]], Shape]
    nonnegative: Literal["always", "if_inputs", "never"]
    width: Literal["free", "fixed", "follows"]
    forward: Forward
    params: Callable[[Node, Shape], int] = _none
    macs: Callable[[Node, Shape], int] = _none
    weighted: bool = False
    module: Callable[[Node, int], nn.Module] | None = None


def _int(value: int | None) -> int:
    assert value is not None  # Node.__post_init__ checked the attributes of its op
    return value


def _same(node: Node, sources: list[Shape]) -> Shape:
    return sources[0]


def _through_module(
    node: Node, inputs: Sequence[torch.Tensor], module: nn.Module | None
) -> torch.Tensor:
    assert module is not None
    out: torch.Tensor = module(inputs[0])
    return out


def _conv_shape(node: Node, sources: list[Shape]) -> Shape:
    return (_int(node.filters), sources[0][1], sources[0][2])


def _pool_shape(node: Node, sources: list[Shape]) -> Shape:
    k, first = _int(node.kernel_size), sources[0]
    if first[1] < k or first[2] < k:
        raise ValueError(
            f"kernel_size {k} is larger than its input resolution {first[1]}x{first[2]}"
        )
    return (first[0], first[1] // k, first[2] // k)


def _add_shape(node: Node, sources: list[Shape]) -> Shape:
    first = sources[0]
    for source, other in zip(node.inputs, sources, strict=True):
        if other != first:
            raise ValueError(
                f"inputs must have equal shapes, got {first} from {node.inputs[0]!r} and "
                f"{other} from {source!r}"
            )
    return first


def _concat_shape(node: Node, sources: list[Shape]) -> Shape:
    first = sources[0]
    for source, other in zip(node.inputs, sources, strict=True):
        if len(other) != len(first) or other[1:] != first[1:]:
            raise ValueError(
                f"inputs must agree in everything but channels, got {first} from "
                f"{node.inputs[0]!r} and {other} from {source!r}"
            )
    channels = sum(other[0] for other in sources)
    if channels > MAX_CHANNELS:
        raise ValueError(f"{channels} channels exceed {MAX_CHANNELS}")
    return (channels, *first[1:])


def _add(node: Node, inputs: Sequence[torch.Tensor], module: nn.Module | None) -> torch.Tensor:
    out = inputs[0]
    for other in inputs[1:]:
        out = out + other
    return out


def _input_forward(
    node: Node, inputs: Sequence[torch.Tensor], module: nn.Module | None
) -> torch.Tensor:
    raise AssertionError("the input node is not computed")  # pragma: no cover


def _pooling(name: str, pool: Callable[[torch.Tensor, int], torch.Tensor]) -> OpKind:
    """``kernel_size x kernel_size`` pooling with stride ``kernel_size``, by ``pool``."""
    return OpKind(
        name=name,
        attributes=("kernel_size",),
        min_inputs=1,
        max_inputs=1,
        input_rank=3,
        kernel="pooling",
        output_shape=_pool_shape,
        nonnegative="if_inputs",
        width="follows",
        forward=lambda node, inputs, module: pool(inputs[0], _int(node.kernel_size)),
    )


OP_KINDS: dict[str, OpKind] = {
    kind.name: kind
    for kind in [
        OpKind(
            name="input",
            attributes=(),
            min_inputs=0,
            max_inputs=0,
            input_rank=None,
            kernel=None,
            output_shape=_same,  # the architecture's input shape, set by the graph
            nonnegative="never",
            width="fixed",
            forward=_input_forward,
        ),
        OpKind(
            name="conv",
            attributes=("filters", "kernel_size"),
            min_inputs=1,
            max_inputs=1,
            input_rank=3,
            kernel="odd",
            output_shape=_conv_shape,
            params=lambda node, s: _int(node.kernel_size) ** 2 * s[0] * _int(node.filters),
            macs=lambda node, s: (
                _int(node.kernel_size) ** 2 * s[0] * _int(node.filters) * s[1] * s[2]
            ),
            weighted=True,
            nonnegative="never",
            width="free",
            module=lambda node, channels: nn.Conv2d(
                channels,
                _int(node.filters),
                _int(node.kernel_size),
                padding=_int(node.kernel_size) // 2,
                bias=False,
            ),
            forward=_through_module,
        ),
        OpKind(
            name="sepconv",
            attributes=("filters", "kernel_size"),
            min_inputs=1,
            max_inputs=1,
            input_rank=3,
            kernel="odd",
            output_shape=_conv_shape,
            params=lambda node, s: _int(node.kernel_size) ** 2 * s[0] + s[0] * _int(node.filters),
            macs=lambda node, s: (
                (_int(node.kernel_size) ** 2 * s[0] + s[0] * _int(node.filters)) * s[1] * s[2]
            ),
            weighted=True,
            nonnegative="never",
            width="free",
            module=lambda node, channels: SeparableConv2d(
                channels, _int(node.filters), _int(node.kernel_size)
            ),
            forward=_through_module,
        ),
        OpKind(
            name="bn",
            attributes=(),
            min_inputs=1,
            max_inputs=1,
            input_rank=3,
            kernel=None,
            output_shape=_same,
            params=lambda node, s: 2 * s[0],  # scale and shift; running statistics are buffers
            # Foldable into the preceding convolution at inference: not counted.
            macs=_none,
            weighted=False,
            nonnegative="never",
            width="follows",
            module=lambda node, channels: nn.BatchNorm2d(channels),
            forward=_through_module,
        ),
        OpKind(
            name="relu",
            attributes=(),
            min_inputs=1,
            max_inputs=1,
            input_rank=None,
            kernel=None,
            output_shape=_same,
            nonnegative="always",
            width="follows",
            forward=lambda node, inputs, module: F.relu(inputs[0]),
        ),
        _pooling("maxpool", F.max_pool2d),
        _pooling("avgpool", F.avg_pool2d),
        OpKind(
            name="add",
            attributes=(),
            min_inputs=2,
            max_inputs=MAX_NODES,
            input_rank=None,
            kernel=None,
            output_shape=_add_shape,
            nonnegative="if_inputs",
            width="follows",
            forward=_add,
        ),
        OpKind(
            name="concat",
            attributes=(),
            min_inputs=2,
            max_inputs=MAX_NODES,
            input_rank=None,
            kernel=None,
            output_shape=_concat_shape,
            nonnegative="if_inputs",
            width="fixed",
            forward=lambda node, inputs, module: torch.cat(list(inputs), dim=1),
        ),
        OpKind(
            name="gap",
            attributes=(),
            min_inputs=1,
            max_inputs=1,
            input_rank=3,
            kernel=None,
            output_shape=lambda node, sources: (sources[0][0],),
            nonnegative="if_inputs",
            width="follows",
            forward=lambda node, inputs, module: inputs[0].mean(dim=(2, 3)),
        ),
        OpKind(
            name="linear",
            attributes=("units",),
            min_inputs=1,
            max_inputs=1,
            input_rank=1,
            kernel=None,
            output_shape=lambda node, sources: (_int(node.units),),
            params=lambda node, s: (s[0] + 1) * _int(node.units),
            macs=lambda node, s: (s[0] + 1) * _int(node.units),  # products and bias additions
            weighted=True,
            nonnegative="never",
            width="fixed",
            module=lambda node, channels: nn.Linear(channels, _int(node.units)),
            forward=_through_module,
        ),
    ]
}

OPS: tuple[str, ...] = tuple(OP_KINDS)
"""Every layer kind an architecture may hold.

* ``input``: the network input, ``C x H x W``. Exactly one per architecture.
* ``conv``: ``kernel_size x kernel_size`` convolution to ``filters`` channels, stride 1,
  zero "same" padding, no bias (a batch norm normally follows).
* ``sepconv``: depthwise-separable convolution as in Keras' ``SeparableConv2D``: a
  depthwise ``kernel_size x kernel_size`` convolution (one filter per input channel)
  followed by a pointwise 1x1 convolution to ``filters`` channels; no bias, no
  nonlinearity in between.
* ``bn``: 2-d batch normalisation with affine parameters and running statistics.
* ``relu``: rectified linear unit (on images or vectors).
* ``maxpool``, ``avgpool``: ``kernel_size x kernel_size`` pooling with stride
  ``kernel_size`` and no padding; the only way to reduce resolution.
* ``add``: element-wise sum of two or more inputs of equal shape.
* ``concat``: concatenation along channels of two or more inputs of equal spatial size.
* ``gap``: global average pooling, ``C x H x W`` to ``C``.
* ``linear``: fully connected layer with bias to ``units`` outputs.
"""
