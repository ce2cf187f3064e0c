"""Prototypes for the ablations ``lemonade-margin`` (a network stays in the population
unless another is no more costly in every cheap objective and lower in error by more than
a margin) and ``lemonade-keeplarge`` (the Pareto front, plus the largest network within
the margin: one large lineage kept, not every one).

Why (issue 37's large end): in the 20-minute runs of the defaults the front's largest
network shrinks early on the seeds that end worst at any size (seeds 0, 2 and 4: no
network over 100k parameters on the front after 20 trials). The largest initial network
trains fewest epochs (cheap ones train longer) and a network grown from a large parent is
fine-tuned as briefly as any; a smaller network trained longer soon dominates it by a
fraction of a point, and the large lineage ends. A margin keeps such a network while it
is within the margin of the smaller one. Prototyped here, in the benchmark, by replacing
the sampler's Pareto filter for the run (``Run.optimize``); the library takes it only if
it wins. ``lemonade-margin`` kept the large end on every seed but spent half the budget
above 100k parameters (its front grew to 779k): every network within the margin stays a
parent, and each grown child within the margin too. ``lemonade-keeplarge`` keeps only
the largest of them, so the population is the front and one network more.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

import numpy as np
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial

from optuna_lemonade.sampler._population import pareto_front


Front = Callable[[Sequence[FrozenTrial], Sequence[StudyDirection]], list[FrozenTrial]]


def _within_margin(
    trials: Sequence[FrozenTrial],
    directions: Sequence[StudyDirection],
    pareto: Sequence[FrozenTrial],
    margin: float,
    error: int,
) -> list[FrozenTrial]:
    """The trials that no trial of ``pareto`` beats by more than ``margin`` in objective
    ``error`` while no worse in every other objective, in their order."""
    if not pareto:
        return []
    signs = np.array([1.0 if d == StudyDirection.MINIMIZE else -1.0 for d in directions])
    losses = np.array([t.values for t in trials], dtype=float) * signs
    best = np.array([t.values for t in pareto], dtype=float) * signs
    costs = [i for i in range(len(directions)) if i != error]
    no_costlier = np.all(best[None, :, costs] <= losses[:, None, costs], axis=2)
    clearly_better = best[None, :, error] < losses[:, None, error] - margin
    beaten = np.any(no_costlier & clearly_better, axis=1)
    return [trial for trial, out in zip(trials, beaten, strict=True) if not out]


def _check(margin: float) -> None:
    if not margin >= 0:
        raise ValueError(f"the margin must be >= 0, got {margin!r}")


def margin_front(margin: float, *, error: int = 0) -> Front:
    """A replacement for ``optuna_lemonade.sampler._population.pareto_front``: the trials
    that no trial on the Pareto front beats by more than ``margin`` in objective ``error``
    while no worse in every other objective (a superset of the Pareto front: a trial that
    some trial beats so is also beaten so by one on the front). Trials keep their order.
    """
    _check(margin)

    def front(
        trials: Sequence[FrozenTrial], directions: Sequence[StudyDirection]
    ) -> list[FrozenTrial]:
        return _within_margin(trials, directions, pareto_front(trials, directions), margin, error)

    return front


def largest_within_margin_front(margin: float, *, error: int = 0, size: int = 1) -> Front:
    """A replacement for ``optuna_lemonade.sampler._population.pareto_front``: the Pareto
    front and, if it is not on the front, the trial of the margin front
    (:func:`margin_front`) that is largest in objective ``size`` (ties: the lowest
    error, then the earliest). Trials keep their order.
    """
    _check(margin)

    def front(
        trials: Sequence[FrozenTrial], directions: Sequence[StudyDirection]
    ) -> list[FrozenTrial]:
        pareto = pareto_front(trials, directions)
        kept = _within_margin(trials, directions, pareto, margin, error)
        if not kept:
            return pareto
        sign = 1.0 if directions[error] == StudyDirection.MINIMIZE else -1.0
        grow = 1.0 if directions[size] == StudyDirection.MINIMIZE else -1.0
        largest = min(kept, key=lambda t: (-grow * t.values[size], sign * t.values[error]))
        keep = {id(t) for t in pareto} | {id(largest)}  # the same objects as ``trials``
        return [trial for trial in trials if id(trial) in keep]

    return front


def population_filter(variant: dict[str, Any]) -> Front | None:
    """The Pareto filter a benchmark variant puts in the sampler's place while it runs
    (``error_margin``: :func:`margin_front`; ``keep_largest``:
    :func:`largest_within_margin_front`), or None for the library's own."""
    if "error_margin" in variant and "keep_largest" in variant:
        raise ValueError("a variant takes error_margin or keep_largest, not both")
    if "error_margin" in variant:
        return margin_front(variant["error_margin"])
    if "keep_largest" in variant:
        return largest_within_margin_front(variant["keep_largest"])
    return None
