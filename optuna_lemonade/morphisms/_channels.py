"""Channel bookkeeping: which channels are tied together, and where they come from."""

from __future__ import annotations

import functools

from optuna_lemonade.architecture import Architecture


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
        if node.op in ("bn", "relu", "maxpool", "avgpool", "gap", "add"):
            for source in node.inputs:
                root = find(source)
                parent[root] = find(node.name)
    return {name: find(name) for name in parent}


def identity(channels: int) -> ChannelMap:
    """The map of a node whose channels are unchanged."""
    return tuple(range(channels))


def propagate_channel_maps(
    parent: Architecture, child: Architecture, seeds: dict[str, ChannelMap]
) -> dict[str, ChannelMap]:
    """Derive the channel map of every node of ``child`` from the seeded ones.

    A map lists, for each output channel of a child node, the channel of the
    corresponding parent node it carries, or -1 for a new channel. Seeded nodes take
    their given maps; per-channel layers take their input's; an ``add`` takes its
    inputs' (which must agree); a concatenation present in the parent concatenates its
    inputs' maps at the parent's offsets; anything else keeps its channels.

    Raises:
        ChannelMismatch: If the inputs of an ``add`` would disagree.
    """
    maps: dict[str, ChannelMap] = {}
    for node in child.nodes:
        name = node.name
        channels = child.shape(name)[0]
        if name in seeds:
            result = seeds[name]
        elif node.op in ("bn", "relu", "maxpool", "avgpool", "gap"):
            result = maps[node.inputs[0]]
        elif node.op == "add":
            result = maps[node.inputs[0]]
            for source in node.inputs[1:]:
                if maps[source] != result:
                    raise ChannelMismatch(
                        f"the inputs of {name!r} would carry different channels "
                        f"({node.inputs[0]!r} and {source!r})"
                    )
        elif node.op == "concat" and name in parent and parent.node(name).op == "concat":
            parts: list[int] = []
            offset = 0
            for source in node.inputs:
                source_map = maps[source]
                parts.extend(c + offset if c >= 0 else -1 for c in source_map)
                if source in parent:
                    offset += parent.shape(source)[0]
                else:
                    offset += sum(1 for c in source_map if c >= 0)
            result = tuple(parts)
        else:
            result = identity(channels)
        if len(result) != channels:
            raise AssertionError(
                f"channel map of {name!r} has {len(result)} entries for {channels} channels"
            )
        maps[name] = result
    return maps
