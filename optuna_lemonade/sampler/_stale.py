"""Heartbeats and stale trials for storages without their own (journal files, memory).

Optuna's RDB storages detect dead workers through heartbeats (``heartbeat_interval``,
``grace_period``, ``heartbeat_stale_trial_callback``); ``JournalStorage`` has none, so a
trial whose worker was killed stays RUNNING for ever. Here a worker's sampler writes a
heartbeat into a trial system attribute while the trial runs, and any worker can fail
the RUNNING trials whose heartbeat stopped.
"""

from __future__ import annotations

from collections.abc import Callable
import copy
import threading
import time

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_lemonade import _optuna_compat as compat
from optuna_lemonade._storage_keys import DECISION_KEY
from optuna_lemonade._storage_keys import HEARTBEAT_KEY


StaleTrialCallback = Callable[[optuna.Study, FrozenTrial], None]
"""Called with each trial failed for lack of heartbeats, as ``RDBStorage``'s
``heartbeat_stale_trial_callback`` is (e.g. ``RetryHeartbeatStaleTrialCallback``)."""


def last_sign_of_life(trial: optuna.trial.FrozenTrial) -> float | None:
    """The later of the trial's last heartbeat and its start, as seconds since the epoch.

    The start counts too because a retry (``RetryHeartbeatStaleTrialCallback``) copies
    the dead trial's system attributes, its last heartbeat included, and starts later.
    """
    times = []
    beat = trial.system_attrs.get(HEARTBEAT_KEY)
    if isinstance(beat, (int, float)) and not isinstance(beat, bool):
        times.append(float(beat))
    if trial.datetime_start is not None:
        times.append(trial.datetime_start.timestamp())
    return max(times) if times else None


def fail_undecided_trials(
    study: optuna.Study,
    trials: list[FrozenTrial],
    *,
    grace_period: float,
    callback: StaleTrialCallback | None,
    now: float | None = None,
) -> list[int]:
    """Mark FAIL the RUNNING trials still without a decision ``grace_period`` after start.

    For storages with Optuna's own heartbeats, which never find a RUNNING trial stale
    that has no heartbeat yet: a worker killed after Optuna created its trial but
    before the sampler's first heartbeat (a few milliseconds, in ``ask()``) left the
    trial RUNNING for good (1 of 411 trials in a chaos run of 40 kills on PostgreSQL).
    A live worker writes the decision within moments of the start, and Optuna itself
    fails a trial whose decision took longer than the grace period (its heartbeat
    thread starts only after the decision), so no live trial is failed here that
    Optuna would not fail.

    Args:
        study: The study.
        trials: Its trials as just read.
        grace_period: The storage's grace period.
        callback: The storage's stale-trial callback (e.g. a retry), as Optuna calls it.
        now: The current time (seconds since the epoch); default ``time.time()``.

    Returns:
        The numbers of the trials this call failed.
    """
    now = time.time() if now is None else now
    failed = []
    for trial in trials:
        if trial.state != TrialState.RUNNING or DECISION_KEY in trial.system_attrs:
            continue
        start = trial.datetime_start
        if start is None or now - start.timestamp() <= grace_period:
            continue
        if compat.fail_running_trial(study, trial):
            failed.append(trial)
    _report(study, failed, callback)
    return [trial.number for trial in failed]


def _report(
    study: optuna.Study, failed: list[FrozenTrial], callback: StaleTrialCallback | None
) -> None:
    if callback is not None:
        for trial in failed:
            callback(
                study,
                copy.deepcopy(compat.get_trial(compat.storage(study), compat.trial_id(trial))),
            )


def fail_trials_without_heartbeat(
    study: optuna.Study,
    *,
    grace_period: float,
    now: float | None = None,
    callback: StaleTrialCallback | None = None,
) -> list[int]:
    """Mark FAIL the RUNNING trials with no heartbeat for ``grace_period`` seconds.

    The counterpart, for the sampler's own heartbeats, of Optuna's
    ``optuna.storages.fail_stale_trials`` (which serves RDB heartbeats only). A trial
    without a heartbeat counts from its start, so use this only when every worker of the
    study writes heartbeats (``LemonadeSampler(heartbeat_interval=...)``) or no trial
    legitimately runs longer than ``grace_period``. Several workers may call it at once:
    a trial another worker already finished is skipped.

    Args:
        study: The study.
        grace_period: Seconds of silence after which a RUNNING trial is dead.
        now: The current time (seconds since the epoch); default ``time.time()``.
        callback: Called with each trial this call failed, after all are failed, as
            Optuna calls a storage's ``heartbeat_stale_trial_callback``; e.g.
            ``optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=2)`` retries it.

    Returns:
        The numbers of the trials this call failed.
    """
    if not grace_period > 0:
        raise ValueError(f"grace_period must be positive, got {grace_period!r}")
    now = time.time() if now is None else now
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        last = last_sign_of_life(trial)
        if last is None or now - last <= grace_period:
            continue
        if compat.fail_running_trial(study, trial):
            failed.append(trial)
    _report(study, failed, callback)
    return [trial.number for trial in failed]


class Heartbeats:
    """Background threads that write a heartbeat for each running trial of a worker."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._lock = threading.Lock()
        self._stops: dict[int, threading.Event] = {}

    def start(self, storage: BaseStorage, trial: FrozenTrial) -> None:
        """Beat now and every ``interval`` seconds until :meth:`stop`."""
        stop = threading.Event()
        key = compat.trial_id(trial)
        with self._lock:
            self._stops[key] = stop
        self._beat(storage, trial)

        def run() -> None:
            while not stop.wait(self._interval):
                if not self._beat(storage, trial):
                    return

        threading.Thread(target=run, name=f"lemonade-heartbeat-{key}", daemon=True).start()

    def stop(self, trial: FrozenTrial) -> None:
        """Stop beating for ``trial`` (no-op if not beating)."""
        with self._lock:
            stop = self._stops.pop(compat.trial_id(trial), None)
        if stop is not None:
            stop.set()

    @staticmethod
    def _beat(storage: BaseStorage, trial: FrozenTrial) -> bool:
        try:
            compat.set_trial_system_attr(storage, trial, HEARTBEAT_KEY, time.time())
        except (UpdateFinishedTrialError, KeyError, RuntimeError):
            return False  # the trial finished (or vanished): stop beating
        return True


class StaleTrials:
    """Fails the trials whose workers died, before each decision, on any storage.

    With ``heartbeat_interval`` and ``grace_period`` (journal files, in-memory), the
    sampler's own heartbeats; on a storage with Optuna's heartbeats, the trials killed
    before their first one (:func:`fail_undecided_trials`).
    """

    def __init__(
        self,
        interval: float | None,
        grace_period: float | None,
        callback: StaleTrialCallback | None,
    ) -> None:
        self._heartbeats = Heartbeats(interval) if interval else None
        self._grace_period = grace_period
        self._callback = callback

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """Fail the trials whose heartbeat stopped, and start beating for ``trial``."""
        if self._grace_period is not None:
            fail_trials_without_heartbeat(
                study, grace_period=self._grace_period, callback=self._callback
            )
        if self._heartbeats is not None:
            self._heartbeats.start(compat.storage(study), trial)

    @staticmethod
    def reads_trials(study: optuna.Study) -> bool:
        """Whether :meth:`fail_undecided` needs the study's trials."""
        return compat.rdb_heartbeat(compat.storage(study)) is not None

    @staticmethod
    def fail_undecided(study: optuna.Study, trials: list[FrozenTrial]) -> None:
        """:func:`fail_undecided_trials` with the storage's own heartbeat settings."""
        heartbeat = compat.rdb_heartbeat(compat.storage(study))
        if heartbeat is not None:
            grace, callback = heartbeat
            fail_undecided_trials(study, trials, grace_period=grace, callback=callback)

    def after_trial(self, trial: FrozenTrial) -> None:
        """Stop beating for ``trial``."""
        if self._heartbeats is not None:
            self._heartbeats.stop(trial)
