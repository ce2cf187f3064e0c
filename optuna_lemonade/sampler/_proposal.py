"""Proposal: from the population's architectures and cheap objectives to one child.

Pure: no Optuna, no weights. The sampler reads the study and hands over what it found;
the random generator makes every choice, so the same inputs give the same child.
"""

from __future__ import annotations

from collections.abc import Collection
from collections.abc import Mapping
from collections.abc import Sequence
import dataclasses

import numpy as np

from optuna_lemonade.architecture import Architecture
from optuna_lemonade.architecture import SearchSpace
from optuna_lemonade.cheap_objectives import CheapObjective
from optuna_lemonade.morphisms import Mutation
from optuna_lemonade.morphisms import NotApplicable
from optuna_lemonade.morphisms import Operator
from optuna_lemonade.sampler._cut_placement import CutPlacement
from optuna_lemonade.sampler._cut_placement import cuts_by_size
from optuna_lemonade.sampler._cut_placement import propose_by_size
from optuna_lemonade.sampler._selection import SelectionStrategy


@dataclasses.dataclass(frozen=True)
class ProposalSettings:
    """What the sampler's options fix for every proposal.

    Attributes:
        space: The search space; children outside its limits are not proposed.
        operators: The morphism operators to draw from.
        cheap_objectives: The cheap objectives by name, in order.
        n_proposals: Candidate children per proposal, of which one is chosen.
        parent_selection: Probabilities of the parents, from their cheap objectives.
        child_selection: Probabilities of the candidates, against the population and
            the running trials.
        cut_placement: Where shrinking operators cut (experimental; see
            :mod:`~optuna_lemonade.sampler._cut_placement`).
    """

    space: SearchSpace
    operators: Sequence[Operator]
    cheap_objectives: Mapping[str, CheapObjective]
    n_proposals: int
    parent_selection: SelectionStrategy
    child_selection: SelectionStrategy
    cut_placement: CutPlacement

    def evaluate(self, arch: Architecture) -> dict[str, float]:
        """The cheap objectives of ``arch`` by name."""
        return {name: float(function(arch)) for name, function in self.cheap_objectives.items()}

    def values(self, arch: Architecture, known: Mapping[str, float]) -> list[float]:
        """The cheap objectives of ``arch`` in order, taken from ``known`` where there."""
        return [
            known[name] if name in known else float(function(arch))
            for name, function in self.cheap_objectives.items()
        ]


@dataclasses.dataclass(frozen=True)
class Proposal:
    """The chosen child: which parent (an index into the population), how, and its cost."""

    parent: int
    mutation: Mutation
    architecture: Architecture
    cheap_objectives: dict[str, float]


def propose_child(
    settings: ProposalSettings,
    parents: Sequence[Architecture],
    parent_values: np.ndarray,
    running_values: Sequence[Sequence[float]],
    made: Collection[tuple[int, Architecture]],
    rng: np.random.Generator,
    *,
    parent: int | None = None,
) -> Proposal | None:
    """LEMONADE's two-stage sampling of the next child to train.

    Draws up to ``n_proposals`` candidate children, each of a parent drawn by
    ``parent_selection`` (or of ``parent`` when given) and a random operator, and picks
    one with ``child_selection`` against the population and the running trials (so
    parallel workers spread out).

    Args:
        settings: The sampler's fixed options.
        parents: The population's architectures.
        parent_values: Their cheap objectives, ``len(parents) x d``.
        running_values: Cheap objectives of the trials being trained elsewhere.
        made: ``(parent index, child architecture)`` pairs already made or being made;
            such repeats are proposed only when nothing new can be.
        rng: Every random choice comes from it.
        parent: The parent of every candidate (an index into ``parents``), instead of
            drawing them by ``parent_selection``.

    Returns:
        The proposal, or None when no operator applies to any parent (to ``parent``).
    """
    if parent is None:
        parent_p = settings.parent_selection(parent_values, parent_values)
    else:
        parent_p = np.zeros(len(parents))
        parent_p[parent] = 1.0
    by_size = cuts_by_size(settings.cut_placement, parents)
    candidates: list[Proposal] = []
    repeats: list[Proposal] = []
    # A few tries per candidate: an operator may have no valid place in a parent.
    for _ in range(4 * settings.n_proposals):
        if len(candidates) == settings.n_proposals:
            break
        index = int(rng.choice(len(parents), p=parent_p))
        operator = settings.operators[int(rng.integers(len(settings.operators)))]
        try:
            if by_size[index]:
                mutation, child_arch = propose_by_size(
                    operator, parents[index], rng, settings.space
                )
            else:
                mutation, child_arch = operator.propose(parents[index], rng, settings.space)
        except NotApplicable:
            continue
        candidate = Proposal(index, mutation, child_arch, settings.evaluate(child_arch))
        # Training a child twice would only evaluate it again.
        (repeats if (index, child_arch) in made else candidates).append(candidate)
    candidates = candidates or repeats
    if not candidates:
        return None
    points = np.array(
        [[c.cheap_objectives[name] for name in settings.cheap_objectives] for c in candidates]
    )
    crowd = (
        np.vstack([parent_values, np.array(running_values)]) if running_values else parent_values
    )
    child_p = settings.child_selection(points, crowd)
    return candidates[int(rng.choice(len(candidates), p=child_p))]
