"""Every use of Optuna's private API, each with the reason no public API serves.

Written against Optuna 5 (``setup.cfg`` pins ``optuna>=5.0,<6``). A sampler has to read
and write trial and study state that Optuna's public API only exposes to the objective
(``Trial.set_user_attr``) or not at all since 5.0 (system attributes); Optuna's own
samplers do the same through ``study._storage``. Keeping every such call here means an
Optuna upgrade is checked in one file.
"""

from __future__ import annotations

from collections.abc import Callable
import functools
import json
from typing import Any
from typing import TYPE_CHECKING
import warnings

import optuna
from optuna.exceptions import ExperimentalWarning
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import BaseStorage
from optuna.storages import RetryFailedTrialCallback
from optuna.trial import FrozenTrial
from optuna.trial import TrialState


if TYPE_CHECKING:
    # Why: the protocol that every artifact store implements is defined only in a private
    # module (``optuna.artifacts`` exports the stores, not their type).
    from optuna.artifacts._protocol import ArtifactStore as ArtifactStore


# ``retried_trial_number`` is public but experimental, and warns at every call: once per
# trial here. ``warnings.catch_warnings`` around the call would not be thread-safe
# (``n_jobs``), so this one message is filtered for good, and only it.
warnings.filterwarnings(
    "ignore", message=r".*retried_trial_number is experimental", category=ExperimentalWarning
)


def retried_trial_number(trial: FrozenTrial) -> int | None:
    """The number of the failed trial that ``trial`` retries, or None.

    Optuna's ``RetryFailedTrialCallback`` and ``RetryHeartbeatStaleTrialCallback`` copy
    the failed trial's system attributes into the retry and add this number. It is read
    from the storage, so anything but a trial number counts as none.
    """
    number = RetryFailedTrialCallback.retried_trial_number(trial)
    return number if isinstance(number, int) and not isinstance(number, bool) else None


# Why private: ``optuna.artifacts.upload_artifact`` records each upload as the trial
# system attribute "artifacts:<artifact id>" (a JSON meta with the id), and the public
# reader, ``get_all_artifact_meta``, queries the storage again for every trial: one
# query per trial at every decision. The trials' system attributes are already loaded.
_ARTIFACTS_ATTR_PREFIX = "artifacts:"


def warn_experimental_argument(name: str) -> None:
    """Optuna's ExperimentalWarning for an option, worded as Optuna's own options are.

    Why private: ``optuna._experimental.warn_experimental_argument`` is how Optuna marks
    its experimental arguments, and there is no public form; users who filter Optuna's
    experimental warnings then filter these too.
    """
    from optuna._experimental import warn_experimental_argument as warn

    warn(name)


def uploaded_by(trial: FrozenTrial, artifact_id: str) -> bool:
    """Whether Optuna recorded ``artifact_id`` as uploaded by ``trial`` itself."""
    meta = trial.system_attrs.get(_ARTIFACTS_ATTR_PREFIX + artifact_id)
    return isinstance(meta, str) and _records(meta, artifact_id)


@functools.lru_cache(maxsize=1 << 16)
def _records(meta: str, artifact_id: str) -> bool:
    # Cached: every decision asks this of every trial with a checkpoint, and the
    # answer depends on these two strings alone.
    try:
        recorded = json.loads(meta)
    except ValueError:
        return False
    return isinstance(recorded, dict) and recorded.get("artifact_id") == artifact_id


def trial_id(trial: optuna.Trial | FrozenTrial) -> int:
    """The trial's storage id.

    Why: storages address trials by this id (trial numbers count within a study), and
    only the private ``_trial_id`` holds it.
    """
    return trial._trial_id


def storage(study: optuna.Study) -> BaseStorage:
    """The study's storage.

    Why: ``Study`` has no public accessor for it; heartbeat threads write through it.
    """
    return study._storage


def study_id(study: optuna.Study) -> int:
    """The study's storage id (optuna-dashboard's URLs name studies by it).

    Why: only the private ``_study_id`` holds it.
    """
    return study._study_id


def trial_storage(trial: optuna.Trial) -> BaseStorage:
    """A running trial's storage.

    Why: ``Trial.storage`` is an undocumented attribute; the objective's helpers (saving a
    checkpoint) have only the trial.
    """
    return trial.storage


def set_trial_system_attr(
    storage: BaseStorage, trial: optuna.Trial | FrozenTrial, key: str, value: Any
) -> None:
    """Write a trial system attribute.

    Why: Optuna 5 removed ``Trial.set_system_attr``; samplers write through the storage,
    as Optuna's own GA, CMA-ES and TPE samplers do.
    """
    storage.set_trial_system_attr(trial_id(trial), key, value)


def set_trial_attrs(
    storage: BaseStorage,
    trial: optuna.Trial | FrozenTrial,
    *,
    system: dict[str, Any],
    user: dict[str, Any],
) -> None:
    """Write several system and user attributes of a running trial at once.

    On an RDB storage they share one transaction; elsewhere each is a public call.

    Why private: the storage API writes one attribute per call, and on an RDB storage
    each call is a transaction of its own (about 4 ms on SQLite at 1,000 trials, where
    a decision writes its decision and three lineage attributes). ``RDBStorage``'s own
    setters write each attribute with the private ``_set_trial_attr_without_commit``
    inside the private ``_create_scoped_session``; here the writes share that session
    and its commit. The storage reaches the RDB through ``_CachedStorage``'s private
    ``_backend``, which caches nothing of a running trial's attributes. A storage
    without these names (another backend, another Optuna) gets the public calls.

    Raises:
        UpdateFinishedTrialError: If the trial has finished, as the public setters do;
            on an RDB storage nothing is then written.
    """
    key = trial_id(trial)
    backend = getattr(storage, "_backend", storage)
    write = getattr(backend, "_set_trial_attr_without_commit", None)
    sessions = getattr(backend, "scoped_session", None)
    if not isinstance(backend, optuna.storages.RDBStorage) or write is None or sessions is None:
        for name, value in system.items():
            storage.set_trial_system_attr(key, name, value)
        for name, value in user.items():
            storage.set_trial_user_attr(key, name, value)
        return
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session

    # True, as the public setters pass: a concurrent insert of the same key is no error.
    with _create_scoped_session(sessions, True) as session:
        for name, value in system.items():
            write(session, models.TrialSystemAttributeModel, key, name, value)
        for name, value in user.items():
            write(session, models.TrialUserAttributeModel, key, name, value)


def running_trial_system_attrs(trial: optuna.Trial) -> dict[str, Any]:
    """A running trial's system attributes as stored now.

    Why: ``Trial`` has no public view of them; ``before_trial`` writes the decision after
    the ``Trial`` object took its snapshot.
    """
    return trial.storage.get_trial_system_attrs(trial_id(trial))


def get_trial(storage: BaseStorage, trial_id: int) -> FrozenTrial:
    """A trial by storage id (a decision names its parent so).

    Why: ``Study.trials`` would read every trial to find one.
    """
    return storage.get_trial(trial_id)


def study_system_attrs(study: optuna.Study) -> dict[str, Any]:
    """The study's system attributes (the withdrawn-checkpoint marks).

    Why: ``Study.system_attrs`` was removed in Optuna 5.
    """
    return study._storage.get_study_system_attrs(study._study_id)


def set_study_system_attr(study: optuna.Study, key: str, value: Any) -> None:
    """Write a study system attribute.

    Why: ``Study.set_system_attr`` was removed in Optuna 5.
    """
    study._storage.set_study_system_attr(study._study_id, key, value)


def record_heartbeat(study: optuna.Study, trial: FrozenTrial) -> None:
    """Record Optuna's own heartbeat for ``trial`` now, on a storage that has them.

    Why: Optuna starts a trial's heartbeat thread only after ``ask()`` returns, that is
    after the sampler's ``before_trial``, and ``RDBStorage`` never counts a RUNNING trial
    without a heartbeat row as stale. A worker killed during the decision (loading a
    parent, tens of milliseconds) left its trial RUNNING for good: 6 of 328 trials in a
    chaos run of 30 kills on PostgreSQL (``benchmarks/chaos.py``). ``BaseHeartbeat`` and
    ``is_heartbeat_enabled`` are only in the private ``optuna.storages._heartbeat``.

    Only inside ``study.optimize`` (the private ``_thread_local.in_optimize_loop``, which
    Optuna's own ``ask()`` reads for the same distinction): an ask-and-tell trial never
    gets heartbeats from Optuna, so one beat would make it look dead after the grace
    period while its owner still trains it.
    """
    local = getattr(study, "_thread_local", None)
    if getattr(local, "in_optimize_loop", False) and rdb_heartbeat(study._storage) is not None:
        study._storage.record_heartbeat(trial_id(trial))  # type: ignore[attr-defined]


def rdb_heartbeat(
    storage: BaseStorage,
) -> tuple[float, Callable[[optuna.Study, FrozenTrial], None] | None] | None:
    """``(grace period, stale-trial callback)`` of a storage with Optuna's heartbeats.

    Why private: ``BaseHeartbeat`` and ``is_heartbeat_enabled`` live in
    ``optuna.storages._heartbeat``, and the grace period only in ``RDBStorage``'s
    attribute, behind ``_CachedStorage``'s private ``_backend``. ``None`` without
    heartbeats. The default grace period is Optuna's: twice the interval.
    """
    from optuna.storages._heartbeat import BaseHeartbeat
    from optuna.storages._heartbeat import is_heartbeat_enabled

    if not isinstance(storage, BaseHeartbeat) or not is_heartbeat_enabled(storage):
        return None
    interval = storage.get_heartbeat_interval()
    assert interval is not None
    backend = getattr(storage, "_backend", storage)
    grace = getattr(backend, "grace_period", None) or 2 * interval
    return float(grace), storage.get_heartbeat_stale_trial_callback()


def fail_running_trial(study: optuna.Study, trial: FrozenTrial) -> bool:
    """Mark a RUNNING trial FAIL; False if another worker finished it first.

    Why: Optuna fails trials of dead workers only inside
    ``optuna.storages.fail_stale_trials``, for RDB heartbeats; journal files need the
    same through the storage, as that function does.
    """
    try:
        return study._storage.set_trial_state_values(trial_id(trial), state=TrialState.FAIL)
    except UpdateFinishedTrialError:
        return False
