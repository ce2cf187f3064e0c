"""Nodes of an architecture graph: one layer each, with named inputs."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
import dataclasses
import re
from typing import Any

from optuna_lemonade.architecture._ops import MAX_CHANNELS
from optuna_lemonade.architecture._ops import MAX_KERNEL_SIZE
from optuna_lemonade.architecture._ops import OP_KINDS
from optuna_lemonade.architecture._ops import OPS


MAX_NAME_LENGTH = 64

_NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")

_ATTRIBUTES = ("filters", "kernel_size", "units")


def check_keys(data: Mapping[str, Any], expected: set[str], where: str) -> None:
    """Raise ValueError if ``data`` misses a key of ``expected`` or has another one."""
    missing = expected - set(data)
    if missing:
        raise ValueError(f"{where}: missing key(s) {sorted(missing)}")
    unknown = set(data) - expected
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {sorted(map(str, unknown))}")


def _is_int(value: Any) -> bool:
    # bool is an int subclass; JSON true must not pass as 1.
    return isinstance(value, int) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True)
class Node:
    """One layer of an architecture: a named operation with named inputs.

    Nodes are immutable and validated on construction: the operation must be known, its
    attributes present and in range, and the number of inputs right for the operation.
    Whether the inputs exist and their shapes fit is checked by
    :class:`~optuna_lemonade.Architecture`.

    Args:
        name: Unique name within the architecture; letters, digits and ``_``, starting
            with a letter. Parameters of the built model are named after it.
        op: One of :data:`OPS`.
        inputs: Names of the nodes whose outputs this node consumes, in order.
        filters: Output channels of ``conv`` and ``sepconv``.
        kernel_size: Kernel size of ``conv``, ``sepconv`` (odd) and pooling (at least 2).
        units: Output features of ``linear``.

    Raises:
        ValueError: If anything about the node is invalid.
    """

    name: str
    op: str
    inputs: tuple[str, ...] = ()
    filters: int | None = None
    kernel_size: int | None = None
    units: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_PATTERN.match(self.name):
            raise ValueError(
                f"node name must be a string of letters, digits and '_' starting with a "
                f"letter, got {self.name!r}"
            )
        if len(self.name) > MAX_NAME_LENGTH:
            raise ValueError(
                f"node name {self.name[:16]!r}... is longer than {MAX_NAME_LENGTH} characters"
            )
        where = f"node {self.name!r}"
        if not isinstance(self.op, str) or self.op not in OP_KINDS:
            raise ValueError(f"{where}: unknown op {self.op!r}; known ops: {', '.join(OPS)}")
        if isinstance(self.inputs, str) or not isinstance(self.inputs, Sequence):
            raise ValueError(f"{where}: inputs must be a sequence of node names")
        object.__setattr__(self, "inputs", tuple(self.inputs))
        for name in self.inputs:
            if not isinstance(name, str):
                raise ValueError(f"{where}: input names must be strings, got {name!r}")
        kind = OP_KINDS[self.op]
        attributes, min_inputs, max_inputs = kind.attributes, kind.min_inputs, kind.max_inputs
        if not min_inputs <= len(self.inputs) <= max_inputs:
            expected = str(min_inputs) if min_inputs == max_inputs else f"at least {min_inputs}"
            raise ValueError(
                f"{where}: op {self.op!r} takes {expected} input(s), got {len(self.inputs)}"
            )
        if len(set(self.inputs)) != len(self.inputs):
            raise ValueError(f"{where}: the same input is listed twice in {list(self.inputs)}")
        if self.name in self.inputs:
            raise ValueError(f"{where}: a node cannot be its own input")
        for attribute in _ATTRIBUTES:
            value = getattr(self, attribute)
            if attribute not in attributes:
                if value is not None:
                    raise ValueError(f"{where}: op {self.op!r} takes no {attribute!r}")
                continue
            if not _is_int(value):
                raise ValueError(f"{where}: {attribute!r} must be an integer, got {value!r}")
        if self.filters is not None and not 1 <= self.filters <= MAX_CHANNELS:
            raise ValueError(
                f"{where}: filters must be in [1, {MAX_CHANNELS}], got {self.filters}"
            )
        if self.units is not None and not 1 <= self.units <= MAX_CHANNELS:
            raise ValueError(f"{where}: units must be in [1, {MAX_CHANNELS}], got {self.units}")
        if self.kernel_size is not None:
            if kind.kernel == "odd":
                if not (1 <= self.kernel_size <= MAX_KERNEL_SIZE and self.kernel_size % 2):
                    raise ValueError(
                        f"{where}: kernel_size must be odd and in [1, {MAX_KERNEL_SIZE}], "
                        f"got {self.kernel_size}"
                    )
            elif not 2 <= self.kernel_size <= MAX_KERNEL_SIZE:
                raise ValueError(
                    f"{where}: pooling kernel_size must be in [2, {MAX_KERNEL_SIZE}], "
                    f"got {self.kernel_size}"
                )

    def replace(self, **changes: Any) -> Node:
        """Return a copy of this node with the given fields changed (and validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready description of this node."""
        data: dict[str, Any] = {"name": self.name, "op": self.op, "inputs": list(self.inputs)}
        for attribute in OP_KINDS[self.op].attributes:
            data[attribute] = getattr(self, attribute)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Node:
        """Build a node from :meth:`to_dict` output, rejecting unknown or missing keys.

        Raises:
            ValueError: If the description is not a valid node.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"a node must be a JSON object, got {type(data).__name__}")
        name = data.get("name")
        where = f"node {name!r}" if isinstance(name, str) else "a node"
        op = data.get("op")
        if not isinstance(op, str) or op not in OP_KINDS:
            raise ValueError(f"{where}: unknown op {op!r}; known ops: {', '.join(OPS)}")
        check_keys(data, {"name", "op", "inputs", *OP_KINDS[op].attributes}, f"{where} ({op})")
        inputs = data["inputs"]
        if not isinstance(inputs, list):
            raise ValueError(f"{where}: 'inputs' must be a list of node names")
        attributes = {key: data[key] for key in OP_KINDS[op].attributes}
        return cls(name=data["name"], op=op, inputs=tuple(inputs), **attributes)
