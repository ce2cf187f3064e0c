"""Exact morphism that widens a layer: more filters, consumers ignore the new ones."""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

from torch import nn

from optuna_lemonade.architecture import Architecture
from optuna_lemonade.architecture import SearchSpace
from optuna_lemonade.morphisms._base import Mutation
from optuna_lemonade.morphisms._base import Operator
from optuna_lemonade.morphisms._channels import ChannelMap
from optuna_lemonade.morphisms._channels import resizable_groups
from optuna_lemonade.morphisms._channels import resize_group
from optuna_lemonade.morphisms._channels import tied_producers


@dataclasses.dataclass(frozen=True)
class WidenMutation(Mutation):
    """Give convolution ``node`` (and those tied to it by additions) ``filters`` filters.

    Old filters keep their weights; new filters get a fresh initialisation; every
    batch norm on the way gets new channels; every consumer (convolution, separable
    convolution, linear layer) gets zero weights for the new channels, so the child
    computes exactly what the parent does.
    """

    operator: ClassVar[str] = "widen"
    exact: ClassVar[bool] = True
    node: str
    filters: int

    def apply(self, arch: Architecture) -> Architecture:
        child = resize_group(arch, self.node, self.filters, self.operator)
        old = arch.node(self.node).filters
        assert old is not None
        if self.filters <= old:
            raise ValueError(f"widen: {self.filters} filters is not more than {old}")
        return child

    def channel_maps(
        self, parent: Architecture, child: Architecture, model: nn.Module | None = None
    ) -> dict[str, ChannelMap]:
        old = parent.shape(self.node)[0]
        grown = tuple(range(old)) + (-1,) * (self.filters - old)
        producers = tied_producers(parent, self.node)
        assert producers is not None
        return {name: grown for name in producers}


class Widen(Operator):
    """Multiply a convolution's filters by ``factor`` (exact).

    Convolutions tied to it by additions are widened alike, so that the additions
    still fit. New filters start from PyTorch's default initialisation, and their
    consumers' weights for them start at zero.

    Args:
        factor: Growth factor, > 1; the new width is ``ceil(filters * factor)``,
            and at most the search space's ``max_filters``.
    """

    name: ClassVar[str] = "widen"
    exact: ClassVar[bool] = True

    def __init__(self, *, factor: float = 2.0) -> None:
        if not isinstance(factor, (int, float)) or isinstance(factor, bool) or not factor > 1:
            raise ValueError(f"widen factor must be a number > 1, got {factor!r}")
        if not math.isfinite(factor):
            raise ValueError(f"widen factor must be finite, got {factor!r}")
        self.factor = float(factor)

    def __repr__(self) -> str:
        return f"Widen(factor={self.factor})"

    def candidates(self, arch: Architecture, space: SearchSpace) -> list[Mutation]:
        result: list[Mutation] = []
        for node, _ in resizable_groups(arch):
            assert node.filters is not None
            filters = min(math.ceil(node.filters * self.factor), space.max_filters)
            if filters <= node.filters:
                continue
            # Not validated here: a concatenation of a widened layer may grow where an
            # add needs it fixed; Operator.propose skips such candidates.
            result.append(WidenMutation(seed=0, node=node.name, filters=filters))
        return result
