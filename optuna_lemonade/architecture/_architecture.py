"""The immutable, serialisable description of a CNN as a graph of named layers."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
import functools
import heapq
import json
from typing import Any

from optuna_lemonade.architecture._node import _is_int
from optuna_lemonade.architecture._node import check_keys
from optuna_lemonade.architecture._node import Node
from optuna_lemonade.architecture._ops import MAX_CHANNELS
from optuna_lemonade.architecture._ops import MAX_NODES
from optuna_lemonade.architecture._ops import MAX_RESOLUTION
from optuna_lemonade.architecture._ops import OP_KINDS


FORMAT = "optuna-lemonade.architecture"
VERSION = 1
MAX_JSON_LENGTH = 10_000_000

Shape = tuple[int, ...]
"""A node's output shape without the batch dimension: ``(C, H, W)`` or ``(C,)``."""


@functools.cache
def _reserved_names() -> frozenset[str]:
    # Models keep one submodule per node in an ``nn.ModuleDict`` keyed by node name, so
    # that parameter names are ``layers.<node>.<parameter>``; names that are attributes
    # of a ModuleDict (``train``, ``keys``, ``training``...) cannot be keys there.
    import torch

    return frozenset(dir(torch.nn.ModuleDict()))


class Architecture:
    """An immutable directed acyclic graph of layers describing a CNN classifier.

    Modelled on torch.fx graphs and Keras functional-model configs: every node has a
    name, an operation (see :data:`~optuna_lemonade.architecture.OPS`) and the names of
    its inputs. The description holds structure only; weights live in the model that
    :func:`~optuna_lemonade.build_model` builds from it.

    Construction validates the whole graph: unique names, existing inputs, acyclicity,
    exactly one ``input`` node and exactly one output (a node no other node consumes)
    producing ``num_classes`` logits, and every node's input shapes (channel counts,
    resolutions). Nodes may be given in any order; they are kept in a topological
    order. Two architectures are equal when they have the same input shape, class count
    and set of nodes.

    Args:
        input_shape: ``(C, H, W)`` of one input image.
        num_classes: Number of output logits.
        nodes: The layers.

    Raises:
        ValueError: If the graph is invalid; the message names the problem.
    """

    def __init__(
        self, input_shape: Iterable[int], num_classes: int, nodes: Iterable[Node]
    ) -> None:
        shape = tuple(input_shape)
        if len(shape) != 3 or not all(_is_int(v) for v in shape):
            raise ValueError(f"input_shape must be three integers (C, H, W), got {shape!r}")
        if not 1 <= shape[0] <= MAX_CHANNELS or not all(
            1 <= v <= MAX_RESOLUTION for v in shape[1:]
        ):
            raise ValueError(
                f"input_shape {shape} out of range: channels in [1, {MAX_CHANNELS}], "
                f"height and width in [1, {MAX_RESOLUTION}]"
            )
        if not _is_int(num_classes) or not 1 <= num_classes <= MAX_CHANNELS:
            raise ValueError(
                f"num_classes must be an integer in [1, {MAX_CHANNELS}], got {num_classes!r}"
            )
        node_list = list(nodes)
        for node in node_list:
            if not isinstance(node, Node):
                raise ValueError(f"nodes must be Node objects, got {type(node).__name__}")
        if not node_list:
            raise ValueError("an architecture needs at least an input and an output node")
        if len(node_list) > MAX_NODES:
            raise ValueError(f"too many nodes: {len(node_list)} > {MAX_NODES}")

        by_name: dict[str, Node] = {}
        reserved = _reserved_names()
        for node in node_list:
            if node.name in by_name:
                raise ValueError(f"duplicate node name {node.name!r}")
            if node.name in reserved:
                raise ValueError(
                    f"node name {node.name!r} is reserved (an attribute of torch.nn.ModuleDict)"
                )
            by_name[node.name] = node
        consumers: dict[str, list[str]] = {name: [] for name in by_name}
        for node in node_list:
            for source in node.inputs:
                if source not in by_name:
                    raise ValueError(f"node {node.name!r}: unknown input {source!r}")
                consumers[source].append(node.name)

        inputs = [node.name for node in node_list if node.op == "input"]
        if len(inputs) != 1:
            raise ValueError(f"an architecture needs exactly one 'input' node, got {len(inputs)}")
        outputs = [name for name, users in consumers.items() if not users]
        if len(outputs) != 1:
            raise ValueError(
                "an architecture needs exactly one output (a node no other node consumes), "
                f"got {len(outputs)}: {sorted(outputs)[:10]}"
            )

        order = _topological_order(node_list, consumers)
        shapes = _infer_shapes(order, by_name, shape)
        output_shape = shapes[outputs[0]]
        if output_shape != (num_classes,):
            raise ValueError(
                f"output node {outputs[0]!r} produces shape {output_shape}, expected "
                f"({num_classes},) logits"
            )

        self._input_shape: tuple[int, int, int] = (shape[0], shape[1], shape[2])
        self._num_classes = num_classes
        self._nodes = tuple(by_name[name] for name in order)
        self._by_name = by_name
        self._shapes = shapes
        position = {name: index for index, name in enumerate(order)}
        self._consumers = {
            name: tuple(sorted(users, key=position.__getitem__))
            for name, users in consumers.items()
        }
        self._input_name = inputs[0]
        self._output_name = outputs[0]
        self._hash = hash((self._input_shape, num_classes, frozenset(self._nodes)))

    # ------------------------------------------------------------------ accessors
    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one input image."""
        return self._input_shape

    @property
    def num_classes(self) -> int:
        """Number of output logits."""
        return self._num_classes

    @property
    def nodes(self) -> tuple[Node, ...]:
        """All nodes in topological order (inputs before consumers)."""
        return self._nodes

    @property
    def input_name(self) -> str:
        """Name of the ``input`` node."""
        return self._input_name

    @property
    def output_name(self) -> str:
        """Name of the output node."""
        return self._output_name

    def node(self, name: str) -> Node:
        """Return the node called ``name``.

        Raises:
            KeyError: If there is no such node.
        """
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no node named {name!r}") from None

    def shape(self, name: str) -> Shape:
        """Output shape of node ``name`` without the batch dimension."""
        self.node(name)
        return self._shapes[name]

    def consumers(self, name: str) -> tuple[str, ...]:
        """Names of the nodes that take node ``name`` as input, in topological order."""
        self.node(name)
        return self._consumers[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[Node]:
        return iter(self._nodes)

    def __len__(self) -> int:
        return len(self._nodes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Architecture):
            return NotImplemented
        return (
            self._hash == other._hash
            and self._input_shape == other._input_shape
            and self._num_classes == other._num_classes
            and frozenset(self._nodes) == frozenset(other._nodes)
        )

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        ops: dict[str, int] = {}
        for node in self._nodes:
            ops[node.op] = ops.get(node.op, 0) + 1
        summary = ", ".join(f"{op}={count}" for op, count in ops.items())
        return (
            f"Architecture(input_shape={self._input_shape}, num_classes={self._num_classes}, "
            f"nodes={len(self._nodes)}: {summary})"
        )

    # ------------------------------------------------------------------ analysis
    @functools.cached_property
    def _ancestor_sets(self) -> dict[str, frozenset[str]]:
        ancestors: dict[str, frozenset[str]] = {}
        for node in self._nodes:
            collected: set[str] = set()
            for source in node.inputs:
                collected.add(source)
                collected |= ancestors[source]
            ancestors[node.name] = frozenset(collected)
        return ancestors

    def ancestors(self, name: str) -> frozenset[str]:
        """Names of all nodes from which node ``name`` can be reached (itself excluded)."""
        self.node(name)
        return self._ancestor_sets[name]

    @functools.cached_property
    def _nonnegative(self) -> dict[str, bool]:
        result: dict[str, bool] = {}
        for node in self._nodes:
            rule = OP_KINDS[node.op].nonnegative
            result[node.name] = rule == "always" or (
                rule == "if_inputs" and all(result[source] for source in node.inputs)
            )
        return result

    def is_nonnegative(self, name: str) -> bool:
        """Whether node ``name``'s output is non-negative whatever the weights are.

        This is structural: outputs of ``relu``, and of pooling, ``gap``, ``add`` and
        ``concat`` of non-negative inputs. Function-preserving morphisms rely on it,
        since ``relu(x) == x`` exactly when ``x >= 0``.
        """
        self.node(name)
        return self._nonnegative[name]

    @functools.cached_property
    def depth(self) -> int:
        """Number of weighted layers (conv, sepconv, linear) on the longest path."""
        depths: dict[str, int] = {}
        for node in self._nodes:
            below = max((depths[source] for source in node.inputs), default=0)
            depths[node.name] = below + OP_KINDS[node.op].weighted
        return depths[self._output_name]

    def fresh_name(self, prefix: str, taken: Iterable[str] = ()) -> str:
        """Return ``prefix`` followed by the smallest number not yet used as a name."""
        used = set(taken)
        index = 1
        while f"{prefix}{index}" in self._by_name or f"{prefix}{index}" in used:
            index += 1
        return f"{prefix}{index}"

    def replace_nodes(self, nodes: Iterable[Node]) -> Architecture:
        """Return a new architecture with the same input shape and classes, other nodes."""
        return Architecture(self._input_shape, self._num_classes, nodes)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary describing this architecture."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "input_shape": list(self._input_shape),
            "num_classes": self._num_classes,
            "nodes": [node.to_dict() for node in self._nodes],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Architecture:
        """Build an architecture from :meth:`to_dict` output, validating everything.

        Raises:
            ValueError: If the description is malformed or the graph invalid.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"an architecture must be a JSON object, got {type(data).__name__}")
        check_keys(
            data, {"format", "version", "input_shape", "num_classes", "nodes"}, "architecture"
        )
        if data["format"] != FORMAT:
            raise ValueError(f"architecture: format must be {FORMAT!r}, got {data['format']!r}")
        if data["version"] != VERSION or not _is_int(data["version"]):
            raise ValueError(
                f"architecture: unsupported version {data['version']!r} (this is {VERSION})"
            )
        if not isinstance(data["input_shape"], list):
            raise ValueError("architecture: input_shape must be a list [C, H, W]")
        if not isinstance(data["nodes"], list):
            raise ValueError("architecture: nodes must be a list")
        if len(data["nodes"]) > MAX_NODES:
            raise ValueError(f"too many nodes: {len(data['nodes'])} > {MAX_NODES}")
        nodes = [Node.from_dict(item) for item in data["nodes"]]
        return cls(data["input_shape"], data["num_classes"], nodes)

    def to_json(self, *, indent: int | None = None) -> str:
        """Serialise to JSON; :meth:`from_json` gives back an equal architecture."""
        separators = (",", ":") if indent is None else (",", ": ")
        return json.dumps(self.to_dict(), indent=indent, separators=separators)

    @classmethod
    def from_json(cls, text: str | bytes) -> Architecture:
        """Parse and validate a JSON description. Nothing in it is ever evaluated.

        Raises:
            ValueError: If the text is not valid JSON, not an architecture description,
                or describes an invalid graph; the message says what is wrong.
            TypeError: If ``text`` is not ``str`` or ``bytes``.
        """
        if not isinstance(text, (str, bytes, bytearray)):
            raise TypeError(f"from_json expects str or bytes, got {type(text).__name__}")
        if len(text) > MAX_JSON_LENGTH:
            raise ValueError(f"architecture JSON is longer than {MAX_JSON_LENGTH} characters")
        try:
            data = json.loads(
                text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys
            )
        except json.JSONDecodeError as error:
            raise ValueError(f"architecture JSON is malformed: {error}") from None
        except (UnicodeDecodeError, RecursionError) as error:
            raise ValueError(f"architecture JSON is malformed: {error}") from None
        return cls.from_dict(data)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"architecture JSON may not contain {name}")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"architecture JSON has the key {key!r} twice in one object")
        result[key] = value
    return result


def _topological_order(nodes: list[Node], consumers: dict[str, list[str]]) -> list[str]:
    # Kahn's algorithm, stable with respect to the given order.
    pending = {node.name: len(node.inputs) for node in nodes}
    position = {node.name: index for index, node in enumerate(nodes)}
    ready = [(position[name], name) for name, count in pending.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, name = heapq.heappop(ready)
        order.append(name)
        for user in consumers[name]:
            pending[user] -= 1
            if pending[user] == 0:
                heapq.heappush(ready, (position[user], user))
    if len(order) != len(nodes):
        cyclic = sorted(name for name, count in pending.items() if count > 0)
        raise ValueError(f"the graph has a cycle through node(s) {cyclic[:10]}")
    return order


def _infer_shapes(
    order: list[str], by_name: dict[str, Node], input_shape: tuple[int, ...]
) -> dict[str, Shape]:
    shapes: dict[str, Shape] = {}
    for name in order:
        node = by_name[name]
        kind = OP_KINDS[node.op]
        if not node.inputs:  # the input node
            shapes[name] = input_shape
            continue
        where = f"node {name!r} ({node.op})"
        sources = [shapes[source] for source in node.inputs]
        first = sources[0]
        if kind.input_rank == 3 and len(first) != 3:
            raise ValueError(
                f"{where}: needs an image input (C, H, W), got shape {first} "
                f"from {node.inputs[0]!r}"
            )
        if kind.input_rank == 1 and len(first) != 1:
            raise ValueError(
                f"{where}: needs a vector input (C,), got shape {first} from "
                f"{node.inputs[0]!r}; put a 'gap' node before it"
            )
        try:
            shapes[name] = kind.output_shape(node, sources)
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
    return shapes
