"""Mutations (what changes in an architecture) and operators (how one is chosen)."""

from __future__ import annotations

import abc
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
import dataclasses
from typing import Any
from typing import ClassVar

import numpy as np
from torch import nn

from optuna_lemonade.architecture import analytic_num_params
from optuna_lemonade.architecture import Architecture
from optuna_lemonade.architecture import SearchSpace
from optuna_lemonade.morphisms._channels import ChannelMap
from optuna_lemonade.morphisms._channels import Edge
from optuna_lemonade.morphisms._channels import propagate_channel_maps
from optuna_lemonade.network import GraphNetwork


class NotApplicable(Exception):
    """An operator has no valid place in this network (within the search space)."""


_MUTATION_TYPES: dict[str, type[Mutation]] = {}
_FIELD_TYPES = {"str": str, "int": int, "bool": bool}


@dataclasses.dataclass(frozen=True)
class Mutation(abc.ABC):
    """One morphism, described at the level of the architecture.

    A mutation holds every choice an operator made (where, what, how much) and a seed
    for any new random weights, so that it can be stored as JSON and replayed exactly
    on the parent's weights later, in another process if need be. Choosing mutations
    needs no weights; applying one to a model is done by
    :func:`~optuna_lemonade.morphisms.apply_mutation`.

    Attributes:
        operator: Name of the operator this mutation belongs to (a class attribute).
        exact: Whether the mutation preserves the network's function (class attribute).
        seed: Seed for the initialisation of new weights.
    """

    operator: ClassVar[str]
    exact: ClassVar[bool]
    seed: int

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "operator" in cls.__dict__:
            _MUTATION_TYPES[cls.operator] = cls

    @abc.abstractmethod
    def apply(self, arch: Architecture) -> Architecture:
        """Return the child architecture.

        Raises:
            ValueError: If the mutation does not fit ``arch`` (for example a node it
                names does not exist).
        """

    def channel_maps(
        self, parent: Architecture, child: Architecture, model: nn.Module | None = None
    ) -> dict[str, ChannelMap]:
        """Channel maps of the child nodes whose channels the mutation rearranges.

        Nodes not returned derive their maps from their inputs (see
        :func:`~optuna_lemonade.morphisms._channels.propagate_channel_maps`).

        Args:
            parent: The parent architecture.
            child: The child architecture.
            model: The parent's model, for mutations whose maps depend on the weights
                (pruning keeps the largest filters); None when only the structure is
                checked, in which case any map of the right shape will do.
        """
        return {}

    def edge_maps(self, parent: Architecture, child: Architecture) -> dict[Edge, ChannelMap]:
        """Maps of inputs as particular consumers see them (see :class:`ChannelMaps`)."""
        return {}

    def initialize_new(  # noqa: B027 - optional hook, a no-op by default
        self,
        parent: Architecture,
        child: Architecture,
        parent_model: nn.Module,
        model: GraphNetwork,
    ) -> None:
        """Set the weights of the layers this mutation adds, in place, without grad.

        The default keeps PyTorch's initialisation (from the mutation's seed).

        Args:
            parent: The parent architecture.
            child: The child architecture.
            parent_model: The parent's model (read only).
            model: The child's model, to initialise.
        """

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary; :meth:`from_dict` inverts it."""
        return {"operator": self.operator, **dataclasses.asdict(self)}

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> Mutation:
        """Rebuild a mutation from :meth:`to_dict` output, checking keys and types.

        Raises:
            ValueError: If the description is malformed or names an unknown operator.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"a mutation must be a JSON object, got {type(data).__name__}")
        operator = data.get("operator")
        cls = _MUTATION_TYPES.get(operator) if isinstance(operator, str) else None
        if cls is None:
            raise ValueError(
                f"unknown mutation operator {operator!r}; known: {sorted(_MUTATION_TYPES)}"
            )
        fields = {field.name: field for field in dataclasses.fields(cls)}
        keys = set(data) - {"operator"}
        if keys != set(fields):
            raise ValueError(
                f"mutation {operator!r}: expected keys {sorted(fields)}, got {sorted(keys)}"
            )
        values: dict[str, Any] = {}
        for name, field in fields.items():
            value = data[name]
            expected = _FIELD_TYPES[str(field.type)]
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                raise ValueError(
                    f"mutation {operator!r}: {name!r} must be {expected.__name__}, got {value!r}"
                )
            values[name] = value
        return cls(**values)


class Operator(abc.ABC):
    """Chooses mutations of one kind: a small strategy object.

    Subclasses set :attr:`name` and :attr:`exact` and implement :meth:`propose`. Options
    (such as a widening factor) only affect which mutation is proposed; the mutation
    itself records everything needed to apply it.
    """

    name: ClassVar[str]
    exact: ClassVar[bool]

    @abc.abstractmethod
    def candidates(self, arch: Architecture, space: SearchSpace) -> list[Mutation]:
        """All mutations of this kind for ``arch``, with seed 0, in a fixed order.

        They need not lie in ``space``; :meth:`propose` filters them.
        """

    def propose(
        self, arch: Architecture, rng: np.random.Generator, space: SearchSpace
    ) -> tuple[Mutation, Architecture]:
        """Choose a random mutation whose child lies in ``space``.

        Candidates are tried in a random order until one gives a valid child within
        the limits (a candidate can turn out invalid, e.g. a widening whose growth
        would reach an addition through a concatenation).

        Args:
            arch: The parent architecture.
            rng: Source of every random choice.
            space: Limits the child must respect.

        Returns:
            The mutation (with a fresh seed) and the child architecture.

        Raises:
            NotApplicable: If there is no candidate, or none within the limits.
        """
        candidates = self.candidates(arch, space)
        if not candidates:
            raise NotApplicable(f"{self.name}: no valid place in this network")
        return self.first_valid(arch, space, candidates, rng.permutation(len(candidates)), rng)

    def first_valid(
        self,
        arch: Architecture,
        space: SearchSpace,
        candidates: Sequence[Mutation],
        order: Iterable[int],
        rng: np.random.Generator,
    ) -> tuple[Mutation, Architecture]:
        """The first of ``candidates``, taken in ``order``, whose child is valid in ``space``.

        What :meth:`propose` does after drawing a random order; a strategy that orders
        the candidates otherwise (the sampler's cuts by size) calls it with its own.
        An approximate operator's child must have fewer parameters than ``arch``.

        Returns:
            The mutation, with a seed drawn from ``rng``, and the child architecture.

        Raises:
            NotApplicable: If no candidate in ``order`` is valid within the limits.
        """
        for index in order:
            candidate = candidates[int(index)]
            try:
                child = candidate.apply(arch)
                propagate_channel_maps(
                    arch,
                    child,
                    candidate.channel_maps(arch, child),
                    candidate.edge_maps(arch, child),
                )
            except ValueError:  # ChannelMismatch is a ValueError
                continue
            if not self.exact and analytic_num_params(child) >= analytic_num_params(arch):
                continue  # approximate operators exist to shrink networks
            if space.contains(child):
                seed = int(rng.integers(0, 2**31 - 1))
                return dataclasses.replace(candidate, seed=seed), child
        raise NotApplicable(
            f"{self.name}: all {len(candidates)} candidate(s) are invalid or exceed the search "
            "space limits"
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
