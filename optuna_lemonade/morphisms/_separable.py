"""Approximate morphism that replaces a convolution by a depthwise-separable one."""

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


def separable_factors(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Best depthwise-separable approximation of a convolution, per input channel.

    A separable convolution computes ``W[o, i] = P[o, i] * D[i]``: for each input channel
    ``i`` a rank-one matrix (output channels x kernel positions). Its best rank-one
    approximation in the Frobenius norm is the leading singular triple (Eckart-Young),
    so ``P[:, i] = s_1 u_1`` and ``D[i] = v_1``.

    Args:
        weight: Convolution weight ``C_out x C_in x k x k``.

    Returns:
        Depthwise weight ``C_in x 1 x k x k`` and pointwise weight ``C_out x C_in x 1 x 1``.
    """
    c_out, c_in, k, _ = weight.shape
    matrices = weight.detach().double().permute(1, 0, 2, 3).reshape(c_in, c_out, k * k)
    u, s, vh = torch.linalg.svd(matrices, full_matrices=False)
    pointwise = (u[:, :, 0] * s[:, :1]).T  # C_out x C_in
    depthwise = vh[:, 0, :]  # C_in x k*k
    return (
        depthwise.reshape(c_in, 1, k, k).to(weight.dtype),
        pointwise.reshape(c_out, c_in, 1, 1).to(weight.dtype),
    )


@dataclasses.dataclass(frozen=True)
class ToSepConvMutation(Mutation):
    """Replace convolution ``node`` by a separable one of the same kernel and filters.

    Initialised by the best rank-one factorisation of each input channel's filters (see
    :func:`separable_factors`).
    """

    operator: ClassVar[str] = "to_sepconv"
    exact: ClassVar[bool] = False
    node: str

    def apply(self, arch: Architecture) -> Architecture:
        if self.node not in arch or arch.node(self.node).op != "conv":
            raise ValueError(f"to_sepconv: {self.node!r} is not a convolution of this network")
        conv = arch.node(self.node)
        name = arch.fresh_name("sepconv")
        nodes = []
        for node in arch.nodes:
            if node.name == self.node:
                node = Node(
                    name,
                    "sepconv",
                    conv.inputs,
                    filters=conv.filters,
                    kernel_size=conv.kernel_size,
                )
            elif self.node in node.inputs:
                node = node.replace(
                    inputs=tuple(name if s == self.node else s for s in node.inputs)
                )
            nodes.append(node)
        return arch.replace_nodes(nodes)

    def initialize_new(
        self,
        parent: Architecture,
        child: Architecture,
        parent_model: nn.Module,
        model: GraphNetwork,
    ) -> None:
        conv = dict(parent_model.named_modules())[f"layers.{self.node}"]
        assert isinstance(conv, nn.Conv2d)
        layer = model.layers[parent.fresh_name("sepconv")]
        assert isinstance(layer, SeparableConv2d)
        depthwise, pointwise = separable_factors(conv.weight.detach().cpu())
        layer.depthwise.weight.copy_(depthwise)
        layer.pointwise.weight.copy_(pointwise)


class ToSepConv(Operator):
    """Replace a k x k convolution (k > 1) by a cheaper depthwise-separable one.

    Approximate: exact only if every input channel's filters are rank one.
    """

    name: ClassVar[str] = "to_sepconv"
    exact: ClassVar[bool] = False

    def candidates(self, arch: Architecture, space: SearchSpace) -> list[Mutation]:
        return [
            ToSepConvMutation(seed=0, node=node.name)
            for node in arch.nodes
            if node.op == "conv" and (node.kernel_size or 1) > 1
        ]
