"""Where shrinking operators cut: anywhere alike (the default), or by what a cut removes.

Experimental: the search benchmark did not adopt cuts by size (they fill the front's
small end early but lost its large end on two seeds of three); see the docs' "How the
sampler decides".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from optuna_lemonade.architecture import analytic_num_params
from optuna_lemonade.architecture import Architecture
from optuna_lemonade.architecture import SearchSpace
from optuna_lemonade.morphisms import Mutation
from optuna_lemonade.morphisms import NotApplicable
from optuna_lemonade.morphisms import Operator


CutPlacement = Literal["uniform", "by_size", "by_size_below_median"]
CUT_PLACEMENTS: tuple[CutPlacement, ...] = ("uniform", "by_size", "by_size_below_median")
"""Where shrinking operators cut: uniformly among their valid places, or drawn by the
parameters each cut removes in every parent, or only in parents with fewer parameters
than the population's median."""


def cuts_by_size(placement: CutPlacement, parents: Sequence[Architecture]) -> np.ndarray:
    """For each parent, whether its shrinking children are cut by size."""
    if placement == "uniform":
        return np.zeros(len(parents), dtype=bool)
    if placement == "by_size":
        return np.ones(len(parents), dtype=bool)
    sizes = np.array([analytic_num_params(arch) for arch in parents], dtype=float)
    below: np.ndarray = sizes < np.median(sizes)
    return below


def propose_by_size(
    operator: Operator, arch: Architecture, rng: np.random.Generator, space: SearchSpace
) -> tuple[Mutation, Architecture]:
    """:meth:`Operator.propose`, with a shrinking operator's place drawn by size.

    The place is drawn with probability proportional to the parameters its cut
    removes, so that a shrinking child is usually a large step down; places that remove
    nothing are not tried. Exact operators propose as usual.

    Raises:
        NotApplicable: If no place is valid within the limits.
    """
    if operator.exact:
        return operator.propose(arch, rng, space)
    candidates = operator.candidates(arch, space)
    if not candidates:
        raise NotApplicable(f"{operator.name}: no valid place in this network")
    order = _order_by_size(operator.name, arch, candidates, rng)
    return operator.first_valid(arch, space, candidates, order, rng)


def _order_by_size(
    name: str, arch: Architecture, candidates: Sequence[Mutation], rng: np.random.Generator
) -> np.ndarray:
    """Candidate indices drawn without replacement, weighted by parameters removed.

    Efraimidis-Spirakis keys ``log(u) / w``, largest first: the first index is drawn
    with probability proportional to its weight, and so on among the rest. Invalid
    candidates and those that remove nothing get weight 0 and are left out.
    """
    size = analytic_num_params(arch)
    removed = np.zeros(len(candidates))
    for index, candidate in enumerate(candidates):
        try:
            removed[index] = max(0, size - analytic_num_params(candidate.apply(arch)))
        except ValueError:
            continue
    usable = np.flatnonzero(removed > 0)
    if not len(usable):
        raise NotApplicable(f"{name}: no place in this network removes parameters")
    keys = np.log(rng.random(len(usable))) / removed[usable]
    return usable[np.argsort(-keys)]
