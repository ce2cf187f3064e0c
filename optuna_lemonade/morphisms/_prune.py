"""Approximate morphism that prunes filters, keeping the largest by L1 norm."""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import torch
from torch import nn

from optuna_lemonade.architecture import Architecture
from optuna_lemonade.architecture import SearchSpace
from optuna_lemonade.morphisms._base import Mutation
from optuna_lemonade.morphisms._base import Operator
from optuna_lemonade.morphisms._channels import ChannelMap
from optuna_lemonade.morphisms._channels import resizable_groups
from optuna_lemonade.morphisms._channels import resize_group
from optuna_lemonade.morphisms._channels import tied_producers


def filter_norms(model: nn.Module, producers: list[str]) -> torch.Tensor:
    """Sum over ``producers`` of the L1 norm of each output filter."""
    layers = dict(model.named_modules())
    total: torch.Tensor | None = None
    for name in producers:
        layer = layers[f"layers.{name}"]
        weight = layer.pointwise.weight if hasattr(layer, "pointwise") else layer.weight
        norms = weight.detach().abs().sum(dim=(1, 2, 3)).cpu().double()
        total = norms if total is None else total + norms
    assert total is not None
    return total


@dataclasses.dataclass(frozen=True)
class PruneFiltersMutation(Mutation):
    """Keep the ``filters`` largest filters of convolution ``node`` and those tied to it.

    Largest by L1 norm, summed over the convolutions tied to ``node`` by additions.

    Which filters survive depends on the parent's weights, so it is decided when the
    mutation is applied to them; it is deterministic (ties go to the lower index).
    """

    operator: ClassVar[str] = "prune_filters"
    exact: ClassVar[bool] = False
    node: str
    filters: int

    def apply(self, arch: Architecture) -> Architecture:
        child = resize_group(arch, self.node, self.filters, self.operator)
        old = arch.node(self.node).filters
        assert old is not None
        if not 1 <= self.filters < old:
            raise ValueError(f"prune_filters: {self.filters} filters must be in [1, {old})")
        return child

    def channel_maps(
        self, parent: Architecture, child: Architecture, model: nn.Module | None = None
    ) -> dict[str, ChannelMap]:
        producers = tied_producers(parent, self.node)
        assert producers is not None
        if model is None:
            kept: ChannelMap = tuple(range(self.filters))
        else:
            norms = filter_norms(model, producers)
            order = sorted(range(len(norms)), key=lambda i: (-float(norms[i]), i))
            kept = tuple(sorted(order[: self.filters]))
        return {name: kept for name in producers}


class PruneFilters(Operator):
    """Remove a fraction of a convolution's filters, keeping the largest by L1 norm.

    Batch norms keep the statistics of the kept channels; consumers keep the weights of
    the kept channels. Approximate: the pruned filters' contributions are lost.

    Args:
        fraction: Share of the filters to remove, in (0, 1); at least one is removed
            and at least one kept.
    """

    name: ClassVar[str] = "prune_filters"
    exact: ClassVar[bool] = False

    def __init__(self, *, fraction: float = 0.5) -> None:
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
            raise ValueError(f"prune fraction must be a number in (0, 1), got {fraction!r}")
        if not 0 < fraction < 1:
            raise ValueError(f"prune fraction must be in (0, 1), got {fraction!r}")
        self.fraction = float(fraction)

    def __repr__(self) -> str:
        return f"PruneFilters(fraction={self.fraction})"

    def candidates(self, arch: Architecture, space: SearchSpace) -> list[Mutation]:
        result: list[Mutation] = []
        for node, _ in resizable_groups(arch):
            assert node.filters is not None
            if node.filters < 2:
                continue
            removed = max(1, math.floor(node.filters * self.fraction))
            filters = max(1, node.filters - removed)
            result.append(PruneFiltersMutation(seed=0, node=node.name, filters=filters))
        return result
