"""Approximate morphisms that remove structure: a layer, or a skip connection."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from optuna_lemonade.architecture import Architecture
from optuna_lemonade.architecture import Node
from optuna_lemonade.architecture import SearchSpace
from optuna_lemonade.morphisms._base import Mutation
from optuna_lemonade.morphisms._base import Operator
from optuna_lemonade.morphisms._channels import ChannelMap
from optuna_lemonade.morphisms._channels import Edge


def _without_dead(nodes: list[Node], output: str) -> list[Node]:
    """Drop nodes, other than the output, that no node consumes any more (repeatedly)."""
    while True:
        used = {source for node in nodes for source in node.inputs}
        alive = [node for node in nodes if node.name in used or node.name == output]
        if len(alive) == len(nodes):
            return nodes
        nodes = alive


def _layer_block(arch: Architecture, name: str) -> list[str]:
    """``name`` and the batch norm and ReLU that follow it, when only they consume it."""
    block = [name]
    for op in ("bn", "relu"):
        users = arch.consumers(block[-1])
        if len(users) == 1 and arch.node(users[0]).op == op:
            block.append(users[0])
        else:
            break
    return block


def _replace_input(nodes: list[Node], old: str, new: str) -> list[Node]:
    return [
        node.replace(inputs=tuple(new if s == old else s for s in node.inputs))
        if old in node.inputs
        else node
        for node in nodes
    ]


@dataclasses.dataclass(frozen=True)
class RemoveLayerMutation(Mutation):
    """Remove convolution ``node`` with the batch norm and ReLU that only it feeds.

    Their consumers take the convolution's input instead (channel counts must agree).
    """

    operator: ClassVar[str] = "remove_layer"
    exact: ClassVar[bool] = False
    node: str

    def apply(self, arch: Architecture) -> Architecture:
        if self.node not in arch or arch.node(self.node).op not in ("conv", "sepconv"):
            raise ValueError(f"remove_layer: {self.node!r} is not a convolution of this network")
        block = _layer_block(arch, self.node)
        source = arch.node(self.node).inputs[0]
        if arch.shape(source) != arch.shape(block[-1]):
            raise ValueError(
                f"remove_layer: {self.node!r} changes the shape {arch.shape(source)} -> "
                f"{arch.shape(block[-1])}"
            )
        nodes = [node for node in arch.nodes if node.name not in block]
        return arch.replace_nodes(_replace_input(nodes, block[-1], source))


class RemoveLayer(Operator):
    """Remove a convolution (with its batch norm and ReLU) that keeps the channel count.

    Approximate: the removed block is replaced by the identity, which is its function
    only if it had learnt nothing; distillation from the parent repairs the child.
    """

    name: ClassVar[str] = "remove_layer"
    exact: ClassVar[bool] = False

    def candidates(self, arch: Architecture, space: SearchSpace) -> list[Mutation]:
        return [
            RemoveLayerMutation(seed=0, node=node.name)
            for node in arch.nodes
            if node.op in ("conv", "sepconv")
            and arch.shape(node.inputs[0]) == arch.shape(_layer_block(arch, node.name)[-1])
        ]


@dataclasses.dataclass(frozen=True)
class RemoveSkipMutation(Mutation):
    """Drop input ``operand`` of the add or concatenation ``merge``.

    Every layer that only fed it goes too; a merge left with one input is replaced by
    that input.
    """

    operator: ClassVar[str] = "remove_skip"
    exact: ClassVar[bool] = False
    merge: str
    operand: str

    def apply(self, arch: Architecture) -> Architecture:
        if self.merge not in arch or arch.node(self.merge).op not in ("add", "concat"):
            raise ValueError(f"remove_skip: {self.merge!r} is not an add or concat")
        merge = arch.node(self.merge)
        if self.operand not in merge.inputs:
            raise ValueError(f"remove_skip: {self.operand!r} is not an input of {self.merge!r}")
        kept = tuple(s for s in merge.inputs if s != self.operand)
        nodes = [node for node in arch.nodes if node.name != self.merge]
        if len(kept) == 1:
            nodes = _replace_input(nodes, self.merge, kept[0])
            output = kept[0] if self.merge == arch.output_name else arch.output_name
        else:
            nodes.append(merge.replace(inputs=kept))
            output = arch.output_name
        return arch.replace_nodes(_without_dead(nodes, output))

    def edge_maps(self, parent: Architecture, child: Architecture) -> dict[Edge, ChannelMap]:
        merge = parent.node(self.merge)
        kept = [s for s in merge.inputs if s != self.operand]
        if merge.op != "concat" or len(kept) != 1:
            return {}
        # The consumers of a concatenation that collapsed onto one input see that
        # input's part of the concatenation's channels.
        offset = 0
        for source in merge.inputs:
            if source == kept[0]:
                break
            offset += parent.shape(source)[0]
        seen = tuple(range(offset, offset + parent.shape(kept[0])[0]))
        return {(kept[0], user): seen for user in parent.consumers(self.merge)}


class RemoveSkip(Operator):
    """Remove one input of an addition or concatenation, with the layers only it used.

    Approximate: the merge loses that input's contribution; distillation repairs it.
    """

    name: ClassVar[str] = "remove_skip"
    exact: ClassVar[bool] = False

    def candidates(self, arch: Architecture, space: SearchSpace) -> list[Mutation]:
        return [
            RemoveSkipMutation(seed=0, merge=node.name, operand=operand)
            for node in arch.nodes
            if node.op in ("add", "concat")
            for operand in node.inputs
        ]
