"""Channel bookkeeping: which channels are tied together, and where they come from."""

from __future__ import annotations

import dataclasses
import functools

from optuna_lemonade.architecture import Architecture
from optuna_lemonade.architecture import Node
from optuna_lemonade.architecture import OP_KINDS


ChannelMap = tuple[int, ...]
"""For each channel of a child node's output, the parent channel it carries, or -1."""


class ChannelMismatch(ValueError):
    """The inputs of an ``add`` would carry different channels after a change."""


@functools.lru_cache(maxsize=64)
def channel_groups(arch: Architecture) -> dict[str, str]:
    """Group nodes whose channel counts must stay equal; return each node's group.

    Per-channel layers (bn, relu, pooling, gap) share their input's channels, and an
    ``add`` ties all its inputs together. Convolutions, linear layers, concatenations
    and the input start groups of their own. Changing a convolution's filters must
    change every producer in its group alike. The result is cached: do not modify it.
    """
    parent: dict[str, str] = {}

    def find(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for node in arch.nodes:
        parent[node.name] = node.name
        if OP_KINDS[node.op].width == "follows":
            for source in node.inputs:
                root = find(source)
                parent[root] = find(node.name)
    return {name: find(name) for name in parent}


def tied_producers(arch: Architecture, node: str) -> list[str] | None:
    """Convolutions whose filters must change with ``node``'s, or None if they cannot.

    A group cannot change when it holds the input, a linear layer or a concatenation,
    whose widths are not free.
    """
    groups = channel_groups(arch)
    group = groups[node]
    members = [n for n in arch.nodes if groups[n.name] == group]
    if any(OP_KINDS[n.op].width == "fixed" for n in members):
        return None
    return [n.name for n in members if OP_KINDS[n.op].width == "free"]


def resizable_groups(arch: Architecture) -> list[tuple[Node, list[str]]]:
    """One convolution per group of tied convolutions whose width may change.

    Returns:
        ``(node, producers)`` pairs: the first convolution of each group and all the
        convolutions tied to it.
    """
    result = []
    seen: set[frozenset[str]] = set()
    for node in arch.nodes:
        if OP_KINDS[node.op].width != "free":
            continue
        producers = tied_producers(arch, node.name)
        if producers is None or frozenset(producers) in seen:
            continue
        seen.add(frozenset(producers))
        result.append((node, producers))
    return result


def resize_group(arch: Architecture, node: str, filters: int, operator: str) -> Architecture:
    """Give convolution ``node`` and those tied to it ``filters`` filters.

    Raises:
        ValueError: If ``node`` is not a convolution or its width is tied to a fixed one.
    """
    if node not in arch or OP_KINDS[arch.node(node).op].width != "free":
        raise ValueError(f"{operator}: {node!r} is not a convolution of this network")
    producers = tied_producers(arch, node)
    if producers is None:
        raise ValueError(f"{operator}: the width of {node!r} is tied to a fixed width")
    return arch.replace_nodes(
        n.replace(filters=filters) if n.name in producers else n for n in arch.nodes
    )


def identity(channels: int) -> ChannelMap:
    """The map of a node whose channels are unchanged."""
    return tuple(range(channels))


Edge = tuple[str, str]
"""``(source, consumer)``: the input ``source`` as the node ``consumer`` sees it."""


@dataclasses.dataclass(frozen=True)
class ChannelMaps:
    """Where every channel of a child network comes from in its parent.

    A map lists, for each channel of a child value, the channel of the corresponding
    parent value it carries, or -1 for a new channel.

    Attributes:
        outputs: The map of each child node's output.
        edges: Maps of inputs as particular consumers see them, where they differ from
            the source's output map (a consumer whose input replaced a concatenation
            sees its part of the concatenation's channels).
    """

    outputs: dict[str, ChannelMap]
    edges: dict[Edge, ChannelMap]

    def input(self, consumer: str, source: str) -> ChannelMap:
        """The map of ``source`` as ``consumer`` sees it."""
        return self.edges.get((source, consumer), self.outputs[source])


def propagate_channel_maps(
    parent: Architecture,
    child: Architecture,
    seeds: dict[str, ChannelMap],
    edges: dict[Edge, ChannelMap] | None = None,
) -> ChannelMaps:
    """Derive the channel map of every node of ``child`` from the seeded ones.

    Seeded nodes take their given maps; per-channel layers take their input's; an
    ``add`` takes its inputs' (which must agree); a concatenation present in the parent
    concatenates its inputs' maps at the parent's offsets; anything else keeps its
    channels. ``edges`` override the map of an input as one consumer sees it.

    Raises:
        ChannelMismatch: If the inputs of an ``add`` would disagree.
    """
    edges = dict(edges or {})
    maps: dict[str, ChannelMap] = {}

    def seen(source: str, consumer: str) -> ChannelMap:
        return edges.get((source, consumer), maps[source])

    for node in child.nodes:
        name = node.name
        channels = child.shape(name)[0]
        if name in seeds:
            result = seeds[name]
        elif OP_KINDS[node.op].width == "follows" and len(node.inputs) == 1:
            result = seen(node.inputs[0], name)
        elif OP_KINDS[node.op].width == "follows":  # several inputs (add): all alike
            result = seen(node.inputs[0], name)
            for source in node.inputs[1:]:
                if seen(source, name) != result:
                    raise ChannelMismatch(
                        f"the inputs of {name!r} would carry different channels "
                        f"({node.inputs[0]!r} and {source!r})"
                    )
        elif node.op == "concat" and name in parent and parent.node(name).op == "concat":
            # Offsets of the parent's inputs; an input the child renamed (a layer was
            # inserted before the concatenation) keeps the position of the one before.
            offsets: dict[str, int] = {}
            offset = 0
            for source in parent.node(name).inputs:
                offsets[source] = offset
                offset += parent.shape(source)[0]
            parts: list[int] = []
            position = 0
            for source in node.inputs:
                source_map = seen(source, name)
                base = offsets.get(source, position)
                parts.extend(c + base if c >= 0 else -1 for c in source_map)
                position = base + (
                    parent.shape(source)[0]
                    if source in offsets
                    else sum(1 for c in source_map if c >= 0)
                )
            result = tuple(parts)
        else:
            result = identity(channels)
        if len(result) != channels:
            raise AssertionError(
                f"channel map of {name!r} has {len(result)} entries for {channels} channels"
            )
        maps[name] = result
    return ChannelMaps(outputs=maps, edges=edges)
