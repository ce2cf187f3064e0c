"""The operator registry and the one-call ``mutate``."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from torch import nn

from optuna_lemonade.architecture import Architecture
from optuna_lemonade.architecture import SearchSpace
from optuna_lemonade.architecture._ops import MAX_CHANNELS
from optuna_lemonade.architecture._ops import MAX_NODES
from optuna_lemonade.morphisms._base import Mutation
from optuna_lemonade.morphisms._base import Operator
from optuna_lemonade.morphisms._insert import InsertConv
from optuna_lemonade.morphisms._insert import InsertSepConv
from optuna_lemonade.morphisms._prune import PruneFilters
from optuna_lemonade.morphisms._remove import RemoveLayer
from optuna_lemonade.morphisms._remove import RemoveSkip
from optuna_lemonade.morphisms._separable import ToSepConv
from optuna_lemonade.morphisms._skip import AddSkip
from optuna_lemonade.morphisms._skip import ConcatSkip
from optuna_lemonade.morphisms._transfer import apply_mutation
from optuna_lemonade.morphisms._widen import Widen
from optuna_lemonade.network import GraphNetwork


OPERATORS: Mapping[str, Operator] = {
    operator.name: operator
    for operator in (
        InsertConv(),
        InsertSepConv(),
        Widen(),
        AddSkip(),
        ConcatSkip(),
        RemoveLayer(),
        PruneFilters(),
        RemoveSkip(),
        ToSepConv(),
    )
}
"""Every operator by name, with default options."""

EXACT_OPERATORS: tuple[str, ...] = tuple(
    name for name, operator in OPERATORS.items() if operator.exact
)
"""Names of the function-preserving operators: in eval mode the child's outputs equal
the parent's (up to float round-off) right after the mutation."""

APPROXIMATE_OPERATORS: tuple[str, ...] = tuple(
    name for name, operator in OPERATORS.items() if not operator.exact
)
"""Names of the shrinking operators: every child has fewer parameters than its parent
and only approximates its function; fine-tune it with distillation from the parent."""


def get_operator(operator: str | Operator) -> Operator:
    """Return the operator called ``operator``, or ``operator`` itself if it is one.

    Raises:
        ValueError: If no operator has that name.
    """
    if isinstance(operator, Operator):
        return operator
    if isinstance(operator, str) and operator in OPERATORS:
        return OPERATORS[operator]
    raise ValueError(f"unknown operator {operator!r}; known operators: {', '.join(OPERATORS)}")


def _unbounded(arch: Architecture) -> SearchSpace:
    return SearchSpace(
        arch.input_shape,
        arch.num_classes,
        max_params=None,
        max_filters=MAX_CHANNELS,
        max_depth=MAX_NODES,
        max_nodes=MAX_NODES,
    )


def propose(
    arch: Architecture,
    operator: str | Operator,
    rng: np.random.Generator,
    *,
    search_space: SearchSpace | None = None,
) -> tuple[Mutation, Architecture]:
    """Choose a mutation of ``arch`` by ``operator``, without touching any weights.

    Args:
        arch: The parent architecture.
        operator: An operator name from :data:`OPERATORS` or an :class:`Operator`.
        rng: Source of the random choices.
        search_space: Limits the child must respect (default: none beyond validity).

    Returns:
        The mutation, to be stored or applied with :func:`apply_mutation`, and the
        child architecture.

    Raises:
        NotApplicable: If the operator has no valid place in ``arch`` within the limits.
        ValueError: For an unknown operator name or a search space that does not fit.
    """
    chosen = get_operator(operator)
    if not isinstance(arch, Architecture):
        raise TypeError(f"expected an Architecture, got {type(arch).__name__}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    space = _unbounded(arch) if search_space is None else search_space
    if space.input_shape != arch.input_shape or space.num_classes != arch.num_classes:
        raise ValueError(
            f"the search space is for {space.input_shape} inputs and {space.num_classes} "
            f"classes, the architecture for {arch.input_shape} and {arch.num_classes}"
        )
    return chosen.propose(arch, rng, space)


def mutate(
    arch: Architecture,
    model: nn.Module,
    operator: str | Operator,
    rng: np.random.Generator,
    *,
    search_space: SearchSpace | None = None,
) -> tuple[Architecture, GraphNetwork]:
    """Make a child network from a parent by one morphism; the parent is not changed.

    This is :func:`propose` followed by :func:`apply_mutation`. For an exact operator
    (see :data:`EXACT_OPERATORS`) the child is function-preserving: in eval mode (batch
    norm using its running statistics) it computes the same outputs as the parent, up
    to float32 round-off (on a GPU with TF32 convolutions, PyTorch's default on Ampere
    and later, up to TF32 round-off: 1.6e-4 relative was measured on an H200). In train
    mode batch norm uses batch statistics, so inserted identity blocks do not compute
    the identity there.

    Args:
        arch: The parent architecture.
        model: The parent model, e.g. from ``build_model(arch)`` after training.
        operator: An operator name from :data:`OPERATORS` or an :class:`Operator`.
        rng: Source of the random choices.
        search_space: Limits the child must respect (default: none beyond validity).

    Returns:
        The child architecture and the child model, which inherits every weight and
        running statistic the mutation leaves untouched.

    Raises:
        NotApplicable: If the operator has no valid place in ``arch`` within the limits.
        ValueError: For an unknown operator name, or a model that does not match
            ``arch``.
    """
    mutation, _ = propose(arch, operator, rng, search_space=search_space)
    return apply_mutation(arch, model, mutation)
