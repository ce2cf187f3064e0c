"""The population: non-dominated completed trials that saved a checkpoint."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial


def nondominated_mask(losses: np.ndarray) -> np.ndarray:
    """Which rows of ``losses`` (``n x k``, all minimised) no other row dominates.

    Written here because Optuna's own Pareto-front helpers are private. Rows that are
    equal do not dominate each other, so ties all stay. After a lexicographic sort a
    row can only be dominated by rows before it, and only by non-dominated ones: two
    objectives take one sweep (O(n log n)); more compare each row with the front so
    far (O(n x front)).
    """
    n, k = losses.shape if losses.ndim == 2 else (len(losses), 1)
    mask = np.zeros(n, dtype=bool)
    if n == 0:
        return mask
    order = np.lexsort(losses.T[::-1])
    ordered = losses[order]
    if k == 1:
        mask[order] = ordered[:, 0] == ordered[0, 0]
        return mask
    if k == 2:
        first, second = ordered[:, 0], ordered[:, 1]
        new_block = np.r_[True, first[1:] != first[:-1]]
        block = np.cumsum(new_block) - 1
        block_min = second[new_block]  # rows are sorted by the second objective within a block
        before = np.r_[np.inf, np.minimum.accumulate(block_min)[:-1]]
        keep = (second == block_min[block]) & (block_min[block] < before[block])
        mask[order] = keep
        return mask
    front = np.empty_like(ordered)
    size = 0
    keep = np.zeros(n, dtype=bool)
    for position, row in enumerate(ordered):
        current = front[:size]
        if size and np.any(np.all(current <= row, axis=1) & np.any(current < row, axis=1)):
            continue
        front[size] = row
        size += 1
        keep[position] = True
    mask[order] = keep
    return mask


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
