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

``lemonade-smallcut`` draws places by size only in parents smaller than the
population's median (:class:`MedianGate`), so that the large networks' children stay
next to their parents: in ``lemonade-bigcut``, large cuts of the 37k initial network made
21k networks that dominated the 145k one within a minute or two, and the front's large
end seldom grew back.
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
from optuna_lemonade.sampler import inverse_density


class MedianGate:
    """Parent selection by inverse density that remembers the population's median size.

    The sampler calls ``parent_selection`` with the population's cheap objectives (the
    parameter count first) at the start of every proposal, before any operator; the
    operators of :func:`cut_by_size_operators` read :attr:`median` from here. Shared
    state between a selection strategy and the operators: a benchmark-only shortcut,
    not safe for threads.
    """

    def __init__(self) -> None:
        self.median: float | None = None

    def __call__(self, candidates: np.ndarray, reference: np.ndarray) -> np.ndarray:
        self.median = float(np.median(reference[:, 0]))
        return inverse_density(candidates, reference)


class CutBySize(Operator):
    """Mixin before a shrinking operator's class: places drawn by parameters removed.

    Each valid place is tried in an order drawn without replacement with probabilities
    proportional to the parameters its cut removes (Efraimidis-Spirakis keys
    ``log(u) / w``, largest first); the operator's own :meth:`Operator.propose` checks each, so
    the children are the same set as the operator's, only drawn differently.
    """

    _only: Mutation | None = None
    gate: MedianGate | None = None

    def candidates(self, arch: Architecture, space: SearchSpace) -> list[Mutation]:
        if self._only is not None:
            return [self._only]
        return super().candidates(arch, space)

    def propose(
        self, arch: Architecture, rng: np.random.Generator, space: SearchSpace
    ) -> tuple[Mutation, Architecture]:
        size = count_params(arch)
        if self.gate is not None and self.gate.median is not None and size >= self.gate.median:
            return super().propose(arch, rng, space)
        places = self.candidates(arch, space)
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


def cut_by_size_operators(gate: MedianGate | None = None) -> list[Any]:
    """Every operator of the package, the shrinking ones drawing places by size.

    Args:
        gate: If given, only in parents smaller than its median; the others draw
            places uniformly, as the package's operators do.
    """
    result: list[Any] = []
    for name, operator in OPERATORS.items():
        if operator.exact:
            result.append(name)
        else:
            cls = type(operator)
            result.append(type(f"BySize{cls.__name__}", (CutBySize, cls), {"gate": gate})())
    return result
