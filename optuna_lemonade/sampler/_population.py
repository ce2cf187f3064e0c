"""The population, and the marks on trials whose checkpoints can no longer be used.

The population is the non-dominated set of COMPLETE trials with a checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Sequence
import dataclasses
import math
import threading
from typing import Any
from typing import TypeGuard
import warnings

import numpy as np
import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_lemonade import _optuna_compat as compat
from optuna_lemonade._storage_keys import DELETED_PREFIX
from optuna_lemonade._storage_keys import DELETION_LOG_PREFIX
from optuna_lemonade._storage_keys import UNREADABLE_PREFIX
from optuna_lemonade._warning import LemonadeWarning
from optuna_lemonade.architecture import Architecture
from optuna_lemonade.checkpoints import CheckpointError
from optuna_lemonade.checkpoints import CheckpointStore
from optuna_lemonade.sampler._decision import Decision


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
    return withdrawn_in(compat.study_system_attrs(study))


def withdrawn_in(attrs: dict[str, Any]) -> set[int]:
    """:func:`withdrawn` from the study system attributes ``attrs``."""
    return set(_deleted(attrs)) | unreadable(attrs)


def deleted_checkpoints(study: optuna.Study) -> dict[int, str]:
    """The checkpoints that retention (``keep_checkpoints="population"``) deleted.

    Returns:
        Trial number -> artifact id of the deleted checkpoint, from every worker's
        deletion log (and the marks of earlier versions).
    """
    deleted = _deleted(compat.study_system_attrs(study))
    return {
        trial.number: deleted[compat.trial_id(trial)]
        for trial in study.get_trials(deepcopy=False)
        if compat.trial_id(trial) in deleted
    }


def _deleted(attrs: dict[str, Any]) -> dict[int, str]:
    deleted: dict[int, str] = {}
    for key, value in attrs.items():
        if key.startswith(DELETION_LOG_PREFIX):
            entries = value if isinstance(value, list) else [None]
            for entry in entries:
                if is_log_entry(entry):
                    deleted[entry[0]] = entry[1]
                else:  # only optuna-lemonade writes these keys, always so
                    _ignore(key, "holds an entry that is not [trial id, artifact id]")
                    break
        elif key.startswith(DELETED_PREFIX):
            trial = _trial_in_key(key, DELETED_PREFIX)
            if trial is not None:
                deleted[trial] = value if isinstance(value, str) else ""
    return deleted


def unreadable(attrs: dict[str, Any]) -> set[int]:
    """Ids of the trials marked unreadable in the study system attributes ``attrs``."""
    result = set()
    for key in attrs:
        if key.startswith(UNREADABLE_PREFIX):
            trial = _trial_in_key(key, UNREADABLE_PREFIX)
            if trial is not None:
                result.add(trial)
    return result


def _is_trial_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def is_log_entry(entry: object) -> TypeGuard[list[Any]]:
    """Whether ``entry`` of a deletion log is ``[trial id, artifact id]``."""
    return (
        isinstance(entry, list)
        and len(entry) == 2
        and _is_trial_id(entry[0])
        and isinstance(entry[1], str)
    )


def _trial_in_key(key: str, prefix: str) -> int | None:
    suffix = key[len(prefix) :]
    if suffix.isdigit():
        return int(suffix)
    _ignore(key, "does not name a trial")  # only optuna-lemonade writes these keys
    return None


def _ignore(key: str, problem: str) -> None:
    warnings.warn(
        f"study system attribute {key[:100]!r} {problem}; it is ignored",
        LemonadeWarning,
        stacklevel=4,
    )


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


@dataclasses.dataclass
class Snapshot:
    """What a decision reads from the study, once: its trials and system attributes.

    Attributes:
        trials: All trials of the study (not copies: do not modify).
        withdrawn: Ids of the trials whose checkpoints were deleted or found unreadable;
            a decision adds the ones it finds unreadable.
        attrs: The study's system attributes (do not modify).
    """

    trials: list[FrozenTrial]
    withdrawn: set[int]
    attrs: dict[str, Any]

    @classmethod
    def read(cls, study: optuna.Study) -> Snapshot:
        """Read the study: one query each for trials and study attributes on an RDB."""
        attrs = compat.study_system_attrs(study)
        return cls(study.get_trials(deepcopy=False), withdrawn_in(attrs), attrs)


class Eligibility:
    """Whether each trial can be a parent, worked out once per finished trial.

    A trial can be a parent when it is COMPLETE, saved a checkpoint (a valid id Optuna
    recorded as its own upload), has finite values for every objective and a valid
    decision. None of this changes once a trial has finished: Optuna's storages refuse
    to update a finished trial and its cached RDB storage never reads one again. So the
    answer is kept by trial id, and a decision at 1,000 trials costs a lookup per trial
    instead of validating every id, value and decision again.
    """

    def __init__(self, decision_of: Callable[[FrozenTrial], Decision | None]) -> None:
        self._decision_of = decision_of
        self._lock = threading.Lock()
        self._known: dict[int, Decision | None] = {}

    def __call__(self, trial: FrozenTrial, n_objectives: int) -> Decision | None:
        """The decision of ``trial`` if it can be a parent, else None."""
        if trial.state != TrialState.COMPLETE:
            return None
        key = compat.trial_id(trial)
        with self._lock:
            if key in self._known:
                return self._known[key]
        decision = self._check(trial, n_objectives)
        with self._lock:
            self._known[key] = decision
        return decision

    def _check(self, trial: FrozenTrial, n_objectives: int) -> Decision | None:
        if CheckpointStore.artifact_id(trial) is None or trial.values is None:
            return None
        if len(trial.values) != n_objectives:
            return None
        if not all(math.isfinite(v) for v in trial.values):
            return None
        return self._decision_of(trial)


def population(
    trials: Sequence[FrozenTrial],
    directions: Sequence[StudyDirection],
    eligible: Callable[[FrozenTrial, int], Decision | None],
    excluded: Collection[int],
) -> list[tuple[FrozenTrial, Decision]]:
    """The population: the Pareto front of the trials that can be parents.

    Args:
        trials: The study's trials.
        directions: The study's directions.
        eligible: The decision of a trial if it can be a parent (an
            :class:`Eligibility`), else None.
        excluded: Ids of trials that cannot be parents any more (withdrawn, or found
            unreadable during this decision).
    """
    candidates = []
    decisions = {}
    for trial in trials:
        if compat.trial_id(trial) in excluded:
            continue
        decision = eligible(trial, len(directions))
        if decision is None:
            continue
        candidates.append(trial)
        decisions[compat.trial_id(trial)] = decision
    front = pareto_front(candidates, directions)
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
