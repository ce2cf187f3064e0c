"""Shrinking operators for the ablation ``lemonade-bigcut``: cut where the parameters are.

The package's operators choose a place (a convolution to prune, to make separable or
to remove, a skip to remove) uniformly among the valid ones. In a network of the
default initial shape most parameters sit in the last stage: in the narrowest
(6.5k parameters on Fashion-MNIST), ``prune_filters`` of its last convolution removes
about 2.4k, of its first about 50. A cut that removes a few dozen parameters lands next
to its parent, where the density is high, so child selection seldom takes it; the
front's small end then waits for the rare candidate that cuts the last stage (the
defaults' seed 1 found no network under 5k parameters for 652 of its 1,200 seconds).
Here the place is drawn with probability proportional to the parameters the cut
removes, so a proposal of a shrinking operator is usually a large step down.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from optuna_lemonade import count_params
from optuna_lemonade.architecture import Architecture
from optuna_lemonade.architecture import SearchSpace
from optuna_lemonade.morphisms import Mutation
from optuna_lemonade.morphisms import NotApplicable
from optuna_lemonade.morphisms import Operator
from optuna_lemonade.morphisms import OPERATORS


class CutBySize(Operator):
    """Mixin before a shrinking operator's class: places drawn by parameters removed.

    Each valid place is tried in an order drawn without replacement with probabilities
    proportional to the parameters its cut removes (Efraimidis-Spirakis keys
    ``log(u) / w``, largest first); the operator's own :meth:`Operator.propose` checks each, so
    the children are the same set as the operator's, only drawn differently.
    """

    _only: Mutation | None = None

    def candidates(self, arch: Architecture, space: SearchSpace) -> list[Mutation]:
        if self._only is not None:
            return [self._only]
        return super().candidates(arch, space)

    def propose(
        self, arch: Architecture, rng: np.random.Generator, space: SearchSpace
    ) -> tuple[Mutation, Architecture]:
        places = self.candidates(arch, space)
        size = count_params(arch)
        removed = np.zeros(len(places))
        for index, place in enumerate(places):
            try:
                removed[index] = max(0, size - count_params(place.apply(arch)))
            except ValueError:
                continue
        usable = np.flatnonzero(removed > 0)
        if not len(usable):
            raise NotApplicable(f"{self.name}: no place removes parameters")
        keys = np.log(rng.random(len(usable))) / removed[usable]
        for index in usable[np.argsort(-keys)]:
            self._only = places[int(index)]
            try:
                return super().propose(arch, rng, space)
            except NotApplicable:
                continue
            finally:
                self._only = None
        raise NotApplicable(f"{self.name}: no valid place removes parameters")


def cut_by_size_operators() -> list[Any]:
    """Every operator of the package, the shrinking ones drawing places by size."""
    result: list[Any] = []
    for name, operator in OPERATORS.items():
        if operator.exact:
            result.append(name)
        else:
            cls = type(operator)
            result.append(type(f"BySize{cls.__name__}", (CutBySize, cls), {})())
    return result
