"""The population: non-dominated completed trials that saved a checkpoint."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial


def nondominated_mask(losses: np.ndarray) -> np.ndarray:
    """Which rows of ``losses`` (``n x k``, all minimised) no other row dominates.

    Written here because Optuna's own Pareto-front helpers are private. Rows that are
    equal do not dominate each other, so ties all stay.
    """
    n = len(losses)
    if n == 0:
        return np.zeros(0, dtype=bool)
    no_worse = np.all(losses[:, None, :] <= losses[None, :, :], axis=2)  # i no worse than j
    better = np.any(losses[:, None, :] < losses[None, :, :], axis=2)
    dominated: np.ndarray = np.any(no_worse & better, axis=0)
    return ~dominated


def pareto_front(
    trials: Sequence[FrozenTrial], directions: Sequence[StudyDirection]
) -> list[FrozenTrial]:
    """The trials no other trial dominates, over all objectives and their directions."""
    if not trials:
        return []
    signs = np.array([1.0 if d == StudyDirection.MINIMIZE else -1.0 for d in directions])
    losses = np.array([trial.values for trial in trials], dtype=float) * signs
    mask = nondominated_mask(losses)
    return [trial for trial, keep in zip(trials, mask, strict=True) if keep]
