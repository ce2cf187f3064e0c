"""Checkpoint retention: which checkpoints can no longer serve as parents, and deleting them."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Sequence
import threading
from typing import Any
from typing import Literal

import optuna
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_lemonade import _optuna_compat as compat
from optuna_lemonade._storage_keys import DELETION_LOG_PREFIX
from optuna_lemonade.checkpoints import CheckpointStore
from optuna_lemonade.sampler._decision import Decision
from optuna_lemonade.sampler._population import is_log_entry
from optuna_lemonade.sampler._population import population
from optuna_lemonade.sampler._population import Snapshot
from optuna_lemonade.sampler._worker_log import WorkerLog


KeepCheckpoints = Literal["all", "population"]
KEEP_CHECKPOINTS: tuple[KeepCheckpoints, ...] = ("all", "population")


class DeletionLog:
    """One worker's record of the checkpoints it deleted, kept in the study.

    A :class:`~optuna_lemonade.sampler._worker_log.WorkerLog` of ``[trial id, artifact
    id]`` entries: with retention on, nearly every trial's checkpoint is deleted in the
    end, and one study attribute per deletion (as earlier versions wrote) made a
    decision at 1,000 SQLite trials about 3x slower.
    """

    def __init__(self) -> None:
        self._log = WorkerLog(DELETION_LOG_PREFIX)
        self._lock = threading.Lock()
        self._logged: dict[int, set[int]] = {}  # study id -> trial ids in the entries
        self._swept: set[int] = set()  # study ids whose interrupted deletions were redone

    def record(self, study: optuna.Study, trial: FrozenTrial, artifact_id: str) -> bool:
        """Record that ``trial``'s checkpoint is being deleted, before the file goes.

        Returns:
            False if this worker had already recorded it (two threads of one worker
            released it at once): then only the first deletes the file.
        """
        with self._lock:
            logged = self._logged.setdefault(compat.study_id(study), set())
            if compat.trial_id(trial) in logged:
                return False
            logged.add(compat.trial_id(trial))
        self._log.append(study, [[compat.trial_id(trial), artifact_id]])
        return True

    def first_look(self, study: optuna.Study) -> bool:
        """True the first time this worker asks about ``study``, then False."""
        with self._lock:
            seen = compat.study_id(study) in self._swept
            self._swept.add(compat.study_id(study))
        return not seen

    def interrupted(self, attrs: dict[str, Any]) -> list[str]:
        """Artifact ids that other workers logged as deleted last, and may not have removed.

        The last :data:`INTERRUPTED_TAIL` valid entries of each other worker's log in
        ``attrs`` (the study's system attributes).
        """
        return [
            entry[1]
            for entry in self._log.others_last(attrs, INTERRUPTED_TAIL)
            if is_log_entry(entry)
        ]


INTERRUPTED_TAIL = 8
"""Entries at the end of each worker's deletion log that a kill may have left logged
but not deleted: a worker logs a deletion, then removes the file, then logs the next,
so a kill leaves at most one per thread (``n_jobs``), the last of its log."""


def releasable(
    trials: Sequence[FrozenTrial],
    population: Collection[int],
    withdrawn: Collection[int],
    decision_of: Callable[[FrozenTrial], Decision | None],
    in_use: Collection[int | None] = (),
) -> list[tuple[FrozenTrial, str]]:
    """The finished trials whose checkpoints no trial can take as a parent any more.

    A checkpoint stays while its trial is in ``population`` (trial ids), while a
    running or waiting trial's decision names it as the parent, or while its id is in
    ``in_use``; withdrawn ones are already being deleted.

    Returns:
        ``(trial, artifact id)`` pairs.
    """
    in_use = set(in_use)
    candidates = []
    kept: set[str] = set()
    for trial in trials:
        if trial.state in (TrialState.RUNNING, TrialState.WAITING):
            other = decision_of(trial)
            if other is not None:
                in_use.add(other.parent_trial_id)
            continue
        artifact_id = CheckpointStore.artifact_id(trial)
        if artifact_id is None or compat.trial_id(trial) in withdrawn:
            continue
        if trial.state == TrialState.COMPLETE and compat.trial_id(trial) in population:
            kept.add(artifact_id)
            continue
        candidates.append((trial, artifact_id))
    # in_use is complete only after the loop (a running trial may come after its parent).
    kept |= {a for t, a in candidates if compat.trial_id(t) in in_use}
    # Each trial's id is one Optuna recorded as its own upload (CheckpointStore), so two
    # trials share one only if the storage was forged: then the kept one wins.
    return [(t, a) for t, a in candidates if compat.trial_id(t) not in in_use and a not in kept]


def release(
    study: optuna.Study,
    store: CheckpointStore,
    log: DeletionLog,
    checkpoints: Sequence[tuple[FrozenTrial, str]],
) -> None:
    """Delete checkpoints, each logged in the study first so no worker picks it any more."""
    for trial, artifact_id in checkpoints:
        if log.record(study, trial, artifact_id):
            store.remove(artifact_id)


def release_unused(
    study: optuna.Study,
    store: CheckpointStore,
    log: DeletionLog,
    snapshot: Snapshot,
    eligible: Callable[[FrozenTrial, int], Decision | None],
    decision_of: Callable[[FrozenTrial], Decision | None],
    in_use: Collection[int | None],
) -> None:
    """Delete the checkpoints of the study's trials that can no longer be parents.

    Args:
        study: The study.
        store: Where the checkpoints are.
        log: This worker's deletion log.
        snapshot: The study as the decision just made read it.
        eligible: Whether a trial can be a parent (see :func:`population`).
        decision_of: The decision of any trial.
        in_use: Trial ids whose checkpoints must stay (the decision's parent).
    """
    if log.first_look(study):
        # A worker killed between logging a deletion and removing the file left the file
        # behind, and no worker releases a logged checkpoint again: each worker redoes
        # the last deletions of the others' logs once (a missing file is no error).
        for artifact_id in log.interrupted(snapshot.attrs):
            store.remove(artifact_id)
    front = population(snapshot.trials, study.directions, eligible, snapshot.withdrawn)
    checkpoints = releasable(
        snapshot.trials,
        {compat.trial_id(trial) for trial, _ in front},
        snapshot.withdrawn,
        decision_of,
        in_use,
    )
    release(study, store, log, checkpoints)


class Retention:
    """``keep_checkpoints``: after each decision, delete what can no longer be a parent.

    Args:
        keep: ``"all"`` keeps every checkpoint; ``"population"`` deletes the others.
        store: Where the checkpoints are.
        eligible: Whether a trial can be a parent (see :func:`population`).
        decision_of: The decision of any trial.
    """

    def __init__(
        self,
        keep: KeepCheckpoints,
        store: CheckpointStore,
        eligible: Callable[[FrozenTrial, int], Decision | None],
        decision_of: Callable[[FrozenTrial], Decision | None],
    ) -> None:
        self.active = keep == "population"
        self._store = store
        self._eligible = eligible
        self._decision_of = decision_of
        self._log = DeletionLog()

    def after_decision(
        self, study: optuna.Study, snapshot: Snapshot | None, decision: Decision
    ) -> None:
        """Delete the unused checkpoints, keeping the parent that ``decision`` names."""
        if not self.active or snapshot is None:
            return
        release_unused(
            study,
            self._store,
            self._log,
            snapshot,
            self._eligible,
            self._decision_of,
            in_use=(decision.parent_trial_id,),
        )
