"""An operator for the ablation ``lemonade-retrain``: the child is its parent, trained more.

Not a morphism of the paper: the architecture stays as it is and the child only
continues its parent's training (a new cosine schedule from the parent's weights). In
the searches measured so far most networks of the front's middle got better by
accumulating training along a lineage that also grew; this lets a network get more
training without growing.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from optuna_lemonade.architecture import Architecture
from optuna_lemonade.architecture import SearchSpace
from optuna_lemonade.morphisms import Mutation
from optuna_lemonade.morphisms import Operator


@dataclasses.dataclass(frozen=True)
class RetrainMutation(Mutation):
    """The identity: the child is the parent's architecture with the parent's weights."""

    operator: ClassVar[str] = "retrain"
    exact: ClassVar[bool] = True

    def apply(self, arch: Architecture) -> Architecture:
        return arch


class Retrain(Operator):
    """Proposes :class:`RetrainMutation` for any network."""

    name: ClassVar[str] = "retrain"
    exact: ClassVar[bool] = True

    def candidates(self, arch: Architecture, space: SearchSpace) -> list[Mutation]:
        return [RetrainMutation(seed=0)]
