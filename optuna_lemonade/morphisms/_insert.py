"""Exact morphisms that deepen a network: insert an identity Conv-BN-ReLU block."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import torch
from torch import nn

from optuna_lemonade.architecture import Architecture
from optuna_lemonade.architecture import Node
from optuna_lemonade.architecture import SearchSpace
from optuna_lemonade.morphisms._base import Mutation
from optuna_lemonade.morphisms._base import Operator
from optuna_lemonade.network import GraphNetwork
from optuna_lemonade.network import SeparableConv2d


def rewire(nodes: list[Node], consumer: str, old: str, new: str) -> list[Node]:
    """Return ``nodes`` with ``consumer``'s input ``old`` replaced by ``new``."""
    result = []
    for node in nodes:
        if node.name == consumer:
            if old not in node.inputs:
                raise ValueError(f"node {consumer!r} does not consume {old!r}")
            node = node.replace(inputs=tuple(new if s == old else s for s in node.inputs))
        result.append(node)
    return result


def set_identity_bn(bn: nn.BatchNorm2d) -> None:
    """Make a batch norm compute the identity in eval mode (up to float round-off)."""
    assert bn.running_mean is not None and bn.running_var is not None
    bn.running_mean.zero_()
    bn.running_var.fill_(1.0)
    # Eval-mode batch norm computes (x - mean) / sqrt(var + eps) * weight + bias; the
    # same expression in the parameters' dtype makes the scale cancel to round-off.
    bn.weight.copy_(torch.sqrt(bn.running_var + bn.eps))
    bn.bias.zero_()


def set_identity_conv(conv: nn.Conv2d) -> None:
    """Make a "same"-padded convolution with equal in and out channels the identity."""
    weight = conv.weight
    weight.zero_()
    centre = weight.shape[-1] // 2
    if conv.groups == 1:
        channels = torch.arange(weight.shape[0])
        weight[channels, channels, centre, centre] = 1.0
    else:  # depthwise: one filter per channel
        weight[:, 0, centre, centre] = 1.0


@dataclasses.dataclass(frozen=True)
class InsertLayerMutation(Mutation):
    """Insert ``conv/sepconv -> bn -> relu`` on the edge ``after -> before``.

    The new convolution keeps the channel count and is initialised to the identity, the
    batch norm too, and the ReLU is idempotent because ``after``'s output is structurally
    non-negative. So in eval mode the child computes exactly what the parent does.
    """

    operator: ClassVar[str] = "insert_conv"
    exact: ClassVar[bool] = True
    after: str
    before: str
    kernel_size: int

    _op: ClassVar[str] = "conv"

    def _names(self, arch: Architecture) -> tuple[str, str, str]:
        conv = arch.fresh_name(self._op)
        bn = arch.fresh_name("bn")
        relu = arch.fresh_name("relu")
        return conv, bn, relu

    def apply(self, arch: Architecture) -> Architecture:
        if self.after not in arch or self.before not in arch:
            raise ValueError(f"{self.operator}: no edge {self.after!r} -> {self.before!r}")
        if not arch.is_nonnegative(self.after) or len(arch.shape(self.after)) != 3:
            raise ValueError(
                f"{self.operator}: the output of {self.after!r} is not a non-negative image"
            )
        conv, bn, relu = self._names(arch)
        channels = arch.shape(self.after)[0]
        nodes = rewire(list(arch.nodes), self.before, self.after, relu)
        nodes += [
            Node(conv, self._op, (self.after,), filters=channels, kernel_size=self.kernel_size),
            Node(bn, "bn", (conv,)),
            Node(relu, "relu", (bn,)),
        ]
        return arch.replace_nodes(nodes)

    def initialize_new(
        self,
        parent: Architecture,
        child: Architecture,
        parent_model: nn.Module,
        model: GraphNetwork,
    ) -> None:
        conv, bn, _ = self._names(parent)
        layer = model.layers[conv]
        if isinstance(layer, SeparableConv2d):
            set_identity_conv(layer.depthwise)
            set_identity_conv(layer.pointwise)
        else:
            assert isinstance(layer, nn.Conv2d)
            set_identity_conv(layer)
        norm = model.layers[bn]
        assert isinstance(norm, nn.BatchNorm2d)
        set_identity_bn(norm)


@dataclasses.dataclass(frozen=True)
class InsertSepConvMutation(InsertLayerMutation):
    """Like :class:`InsertLayerMutation`, with a depthwise-separable convolution."""

    operator: ClassVar[str] = "insert_sepconv"
    _op: ClassVar[str] = "sepconv"


class InsertConv(Operator):
    """Insert a Conv-BN-ReLU block initialised to the identity (exact).

    Sites are edges leaving a node whose output is structurally non-negative (a ReLU, or
    pooling/add/concat of non-negative values), so that the new ReLU changes nothing.
    The kernel size is drawn from the search space's ``kernel_sizes``.
    """

    name: ClassVar[str] = "insert_conv"
    exact: ClassVar[bool] = True
    _mutation: ClassVar[type[InsertLayerMutation]] = InsertLayerMutation

    def candidates(self, arch: Architecture, space: SearchSpace) -> list[Mutation]:
        result: list[Mutation] = []
        for node in arch.nodes:
            if len(arch.shape(node.name)) != 3 or not arch.is_nonnegative(node.name):
                continue
            for consumer in arch.consumers(node.name):
                for kernel_size in space.kernel_sizes:
                    result.append(
                        self._mutation(
                            seed=0, after=node.name, before=consumer, kernel_size=kernel_size
                        )
                    )
        return result


class InsertSepConv(InsertConv):
    """Insert a SepConv-BN-ReLU block initialised to the identity (exact)."""

    name: ClassVar[str] = "insert_sepconv"
    _mutation: ClassVar[type[InsertLayerMutation]] = InsertSepConvMutation
