"""The population, and the marks on trials whose checkpoints can no longer be used.

The population is the non-dominated set of COMPLETE trials with a checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Sequence
import math
import warnings

import numpy as np
import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_lemonade import _optuna_compat as compat
from optuna_lemonade._warning import LemonadeWarning
from optuna_lemonade.architecture import Architecture
from optuna_lemonade.checkpoints import CheckpointError
from optuna_lemonade.checkpoints import CheckpointStore
from optuna_lemonade.sampler._decision import Decision


UNREADABLE_PREFIX = "lemonade:unreadable:"
"""Study system attribute prefix marking a trial whose checkpoint could not be used."""

DELETED_PREFIX = "lemonade:deleted:"
"""Study system attribute prefix marking a trial whose checkpoint was deleted because it
could no longer be a parent (``keep_checkpoints="population"``)."""


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


def withdrawn(study: optuna.Study) -> set[int]:
    """Ids of the trials whose checkpoints were found unreadable or were deleted."""
    result = set()
    for key in compat.study_system_attrs(study):
        for prefix in (UNREADABLE_PREFIX, DELETED_PREFIX):
            if key.startswith(prefix):
                suffix = key[len(prefix) :]
                if suffix.isdigit():
                    result.add(int(suffix))
                else:  # only optuna-lemonade writes these keys, always with a trial id
                    warnings.warn(
                        f"study system attribute {key[:100]!r} does not name a trial; "
                        "it is ignored",
                        LemonadeWarning,
                        stacklevel=2,
                    )
    return result


def mark_unreadable(study: optuna.Study, trial: FrozenTrial, error: CheckpointError) -> None:
    """Make ``trial`` ineligible as a parent for every worker, with a warning."""
    if compat.trial_id(trial) in withdrawn(study):
        return  # another worker got there first (or deleted a dominated checkpoint)
    warnings.warn(
        f"{error}; trial {trial.number} can no longer be a parent",
        LemonadeWarning,
        stacklevel=5,
    )
    compat.set_study_system_attr(study, f"{UNREADABLE_PREFIX}{compat.trial_id(trial)}", str(error))


def mark_deleted(study: optuna.Study, trial: FrozenTrial, artifact_id: str) -> None:
    """Record that ``trial``'s checkpoint is being deleted, before the file goes."""
    compat.set_study_system_attr(study, f"{DELETED_PREFIX}{compat.trial_id(trial)}", artifact_id)


def population(
    trials: Sequence[FrozenTrial],
    directions: Sequence[StudyDirection],
    decision_of: Callable[[FrozenTrial], Decision | None],
    excluded: Collection[int],
) -> list[tuple[FrozenTrial, Decision]]:
    """The population: the Pareto front of the COMPLETE trials that can be parents.

    A trial can be a parent when it saved a checkpoint, has finite values for every
    objective, a valid decision, and its id is not in ``excluded`` (withdrawn, or found
    unreadable during this decision).
    """
    eligible = []
    decisions = {}
    for trial in trials:
        if trial.state != TrialState.COMPLETE or compat.trial_id(trial) in excluded:
            continue
        if CheckpointStore.artifact_id(trial) is None or trial.values is None:
            continue
        if len(trial.values) != len(directions):
            continue
        if not all(math.isfinite(v) for v in trial.values):
            continue
        decision = decision_of(trial)
        if decision is None:
            continue
        eligible.append(trial)
        decisions[compat.trial_id(trial)] = decision
    front = pareto_front(eligible, directions)
    return [(trial, decisions[compat.trial_id(trial)]) for trial in front]


def made_and_running(
    trials: Sequence[FrozenTrial],
    current: FrozenTrial,
    parents: Sequence[FrozenTrial],
    decision_of: Callable[[FrozenTrial], Decision | None],
) -> tuple[set[tuple[int, Architecture]], list[Decision]]:
    """What the other trials already made of ``parents``, and what is being trained.

    Returns:
        ``(index into parents, child architecture)`` of every decision made from one of
        ``parents``, and the decisions of the RUNNING trials other than ``current``.
    """
    index_of = {compat.trial_id(trial): i for i, trial in enumerate(parents)}
    made: set[tuple[int, Architecture]] = set()
    running = []
    for other in trials:
        decision = decision_of(other) if other.number != current.number else None
        if decision is None:
            continue
        if decision.parent_trial_id in index_of:
            made.add((index_of[decision.parent_trial_id], decision.architecture))
        if other.state == TrialState.RUNNING:
            running.append(decision)
    return made, running
