"""Exact morphisms that add skip connections, starting at zero or ignored."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from torch import nn

from optuna_lemonade.architecture import Architecture
from optuna_lemonade.architecture import Node
from optuna_lemonade.architecture import SearchSpace
from optuna_lemonade.morphisms._base import Mutation
from optuna_lemonade.morphisms._base import Operator
from optuna_lemonade.morphisms._channels import ChannelMap
from optuna_lemonade.morphisms._insert import rewire
from optuna_lemonade.network import GraphNetwork


def _skip_sites(arch: Architecture) -> list[tuple[str, str, str]]:
    """Return the places for a skip connection as (source, target, consumer) triples.

    ``source`` is a strict ancestor of ``target``, both are images of the same
    resolution, and ``consumer`` consumes ``target``.
    """
    result = []
    by_resolution: dict[tuple[int, ...], list[str]] = {}
    for node in arch.nodes:
        shape = arch.shape(node.name)
        if len(shape) == 3:
            by_resolution.setdefault(shape[1:], []).append(node.name)
    for same in by_resolution.values():
        for target in same:
            ancestors = arch.ancestors(target)
            sources = [name for name in same if name in ancestors]
            for consumer in arch.consumers(target):
                result += [(source, target, consumer) for source in sources]
    return result


@dataclasses.dataclass(frozen=True)
class AddSkipMutation(Mutation):
    """Add ``source`` to ``target`` on the edge ``target -> consumer``, starting at zero.

    The path is a batch norm (after a 1x1 convolution when the channel counts differ)
    whose scale and shift start at zero: its output is exactly zero, in train and in
    eval mode, yet its scale gets gradients, so the path learns. If ``target`` is
    structurally non-negative, a ReLU follows the sum (ResNet style), which keeps the
    sum non-negative for later morphisms and changes nothing at first.
    """

    operator: ClassVar[str] = "add_skip"
    exact: ClassVar[bool] = True
    source: str
    target: str
    consumer: str

    def _names(self, arch: Architecture) -> dict[str, str]:
        return {
            "conv": arch.fresh_name("conv"),
            "bn": arch.fresh_name("bn"),
            "add": arch.fresh_name("add"),
            "relu": arch.fresh_name("relu"),
        }

    def apply(self, arch: Architecture) -> Architecture:
        for name in (self.source, self.target, self.consumer):
            if name not in arch:
                raise ValueError(f"add_skip: no node {name!r}")
        if self.source not in arch.ancestors(self.target):
            raise ValueError(f"add_skip: {self.source!r} does not precede {self.target!r}")
        names = self._names(arch)
        source_shape, target_shape = arch.shape(self.source), arch.shape(self.target)
        new: list[Node] = []
        path = self.source
        if source_shape[0] != target_shape[0]:
            new.append(
                Node(names["conv"], "conv", (path,), filters=target_shape[0], kernel_size=1)
            )
            path = names["conv"]
        new.append(Node(names["bn"], "bn", (path,)))
        new.append(Node(names["add"], "add", (self.target, names["bn"])))
        end = names["add"]
        if arch.is_nonnegative(self.target):
            new.append(Node(names["relu"], "relu", (end,)))
            end = names["relu"]
        return arch.replace_nodes(rewire(list(arch.nodes), self.consumer, self.target, end) + new)

    def initialize_new(
        self,
        parent: Architecture,
        child: Architecture,
        parent_model: nn.Module,
        model: GraphNetwork,
    ) -> None:
        bn = model.layers[self._names(parent)["bn"]]
        assert isinstance(bn, nn.BatchNorm2d)
        bn.weight.zero_()
        bn.bias.zero_()


@dataclasses.dataclass(frozen=True)
class ConcatSkipMutation(Mutation):
    """Concatenate ``source`` to ``target`` on the edge ``target -> consumer``.

    The consumer (a convolution) gets zero weights for the new channels, so the child
    computes exactly what the parent does; those weights get gradients and learn.
    """

    operator: ClassVar[str] = "concat_skip"
    exact: ClassVar[bool] = True
    source: str
    target: str
    consumer: str

    def apply(self, arch: Architecture) -> Architecture:
        for name in (self.source, self.target, self.consumer):
            if name not in arch:
                raise ValueError(f"concat_skip: no node {name!r}")
        if self.source not in arch.ancestors(self.target):
            raise ValueError(f"concat_skip: {self.source!r} does not precede {self.target!r}")
        if arch.node(self.consumer).op not in ("conv", "sepconv"):
            raise ValueError(f"concat_skip: {self.consumer!r} is not a convolution")
        name = arch.fresh_name("concat")
        nodes = rewire(list(arch.nodes), self.consumer, self.target, name)
        nodes.append(Node(name, "concat", (self.target, self.source)))
        return arch.replace_nodes(nodes)

    def channel_maps(
        self, parent: Architecture, child: Architecture, model: nn.Module | None = None
    ) -> dict[str, ChannelMap]:
        kept = parent.shape(self.target)[0]
        added = parent.shape(self.source)[0]
        return {parent.fresh_name("concat"): tuple(range(kept)) + (-1,) * added}


class AddSkip(Operator):
    """Add an additive skip connection between two places of equal resolution (exact)."""

    name: ClassVar[str] = "add_skip"
    exact: ClassVar[bool] = True
    _mutation: ClassVar[type[AddSkipMutation | ConcatSkipMutation]] = AddSkipMutation
    _consumer_ops: ClassVar[tuple[str, ...] | None] = None  # any consumer

    def candidates(self, arch: Architecture, space: SearchSpace) -> list[Mutation]:
        return [
            self._mutation(seed=0, source=source, target=target, consumer=consumer)
            for source, target, consumer in _skip_sites(arch)
            if self._consumer_ops is None or arch.node(consumer).op in self._consumer_ops
        ]


class ConcatSkip(AddSkip):
    """Add a concatenating skip connection into a convolution's input (exact)."""

    name: ClassVar[str] = "concat_skip"
    _mutation: ClassVar[type[AddSkipMutation | ConcatSkipMutation]] = ConcatSkipMutation
    _consumer_ops: ClassVar[tuple[str, ...] | None] = ("conv", "sepconv")
