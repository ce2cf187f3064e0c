"""Heartbeats and stale trials for storages without their own (journal files, memory).

Optuna's RDB storages detect dead workers through heartbeats (``heartbeat_interval``,
``grace_period``, ``heartbeat_stale_trial_callback``); ``JournalStorage`` has none, so a
trial whose worker was killed stays RUNNING for ever. Here a worker's sampler writes a
heartbeat into a trial system attribute while the trial runs, and any worker can fail
the RUNNING trials whose heartbeat stopped.

Staleness is judged on one clock, the watching worker's own (:class:`SilenceWatch`):
comparing a time that another worker wrote (its heartbeat, a trial's start) with this
worker's clock mixes two clocks, and machines' clocks differ: a watcher whose clock runs
a minute ahead would fail every live trial under a 30-second grace period, one whose clock
runs behind would keep dead trials RUNNING (both tested in tests/sampler/test_stale.py).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Mapping
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
from optuna_lemonade.sampler._per_storage import PerStorage


StaleTrialCallback = Callable[[optuna.Study, FrozenTrial], None]
"""Called with each trial failed for lack of heartbeats, as ``RDBStorage``'s
``heartbeat_stale_trial_callback`` is (e.g. ``RetryHeartbeatStaleTrialCallback``)."""


class SilenceWatch:
    """How long each trial has shown the same sign of life, on this process's clock.

    A watcher notes when it first saw a trial's sign (its heartbeat's value, or that it
    has no decision yet) and counts the silence on its own monotonic clock until the
    sign changes: every time compared is measured here, none written by another worker.
    The price: a watcher that starts after a worker died waits a grace period of its
    own before it fails that worker's trial. Kept per storage (trial ids repeat across
    storages) and, within it, per study.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # study id -> trial id -> (sign, since)
        self._seen: dict[int, dict[int, tuple[Hashable, float]]] = {}

    def silent_for(
        self, study_id: int, signs: Mapping[int, Hashable], now: float
    ) -> dict[int, float]:
        """Seconds each trial of ``signs`` (by trial id) has shown its current sign.

        The study's trials not in ``signs`` (finished, decided) are forgotten.
        """
        with self._lock:
            before = self._seen.get(study_id, {})
            seen = {}
            for key, sign in signs.items():
                previous = before.get(key)
                since = previous[1] if previous is not None and previous[0] == sign else now
                seen[key] = (sign, since)
            self._seen[study_id] = seen
            return {key: now - since for key, (_, since) in seen.items()}


def heartbeat_sign(trial: FrozenTrial) -> Hashable:
    """What changes while ``trial``'s worker lives: its heartbeat, or None before the first.

    Compared for change only, never with a clock. A retry
    (``RetryHeartbeatStaleTrialCallback``) copies the dead trial's last heartbeat, but
    it is another trial, watched from when it is first seen.
    """
    beat = trial.system_attrs.get(HEARTBEAT_KEY)
    return beat if isinstance(beat, (int, float, str)) and not isinstance(beat, bool) else None


def fail_undecided_trials(
    study: optuna.Study,
    trials: list[FrozenTrial],
    *,
    grace_period: float,
    callback: StaleTrialCallback | None,
    watch: SilenceWatch,
    now: float | None = None,
) -> list[int]:
    """Mark FAIL the RUNNING trials seen without a decision for ``grace_period`` seconds.

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
        watch: This worker's watch of the undecided trials of the study's storage.
        now: This process's ``time.monotonic()``; default: read now.

    Returns:
        The numbers of the trials this call failed.
    """
    undecided = [
        trial
        for trial in trials
        if trial.state == TrialState.RUNNING and DECISION_KEY not in trial.system_attrs
    ]
    return _fail_silent(
        study, undecided, lambda _: "undecided", watch, grace_period, callback, now
    )


def _fail_silent(
    study: optuna.Study,
    trials: list[FrozenTrial],
    sign: Callable[[FrozenTrial], Hashable],
    watch: SilenceWatch,
    grace_period: float,
    callback: StaleTrialCallback | None,
    now: float | None,
) -> list[int]:
    """Fail the ``trials`` whose ``sign`` has stood still past ``grace_period``.

    Silence is what ``watch`` saw on this process's clock; ``callback`` gets each failed
    trial. Returns their numbers.
    """
    by_id = {compat.trial_id(trial): trial for trial in trials}
    silent = watch.silent_for(
        compat.study_id(study),
        {key: sign(trial) for key, trial in by_id.items()},
        time.monotonic() if now is None else now,
    )
    stale = [by_id[key] for key, seconds in silent.items() if seconds > grace_period]
    failed = [trial for trial in stale if compat.fail_running_trial(study, trial)]
    if callback is not None:
        for trial in failed:
            callback(
                study,
                copy.deepcopy(compat.get_trial(compat.storage(study), compat.trial_id(trial))),
            )
    return [trial.number for trial in failed]


_WATCHES: PerStorage[SilenceWatch] = PerStorage(SilenceWatch)
"""The watches of :func:`fail_trials_without_heartbeat` called by hand, per storage."""


def fail_trials_without_heartbeat(
    study: optuna.Study,
    *,
    grace_period: float,
    now: float | None = None,
    callback: StaleTrialCallback | None = None,
) -> list[int]:
    """Mark FAIL the RUNNING trials whose heartbeat stood still for ``grace_period`` s.

    The counterpart, for the sampler's own heartbeats, of Optuna's
    ``optuna.storages.fail_stale_trials`` (which serves RDB heartbeats only). Judged on
    this process's clock alone, so that workers whose clocks differ agree: a trial
    counts as silent from the first call that saw its current heartbeat (or saw it
    without one), and is failed by a later call ``grace_period`` seconds on, if its
    heartbeat has not changed. Call it repeatedly (the sampler does before each
    trial): the first call in a process only starts watching. A trial without a
    heartbeat is silent too, so use this only when every worker of the study writes
    heartbeats (``LemonadeSampler(heartbeat_interval=...)``) or no trial legitimately
    runs longer than ``grace_period``. Several workers may call it at once: a trial
    another worker already finished is skipped.

    Args:
        study: The study.
        grace_period: Seconds of silence after which a RUNNING trial is dead.
        now: This process's ``time.monotonic()``; default: read now.
        callback: Called with each trial this call failed, after all are failed, as
            Optuna calls a storage's ``heartbeat_stale_trial_callback``; e.g.
            ``optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=2)`` retries it.

    Returns:
        The numbers of the trials this call failed.
    """
    if not grace_period > 0:
        raise ValueError(f"grace_period must be positive, got {grace_period!r}")
    return fail_silent_trials(
        study,
        grace_period=grace_period,
        callback=callback,
        watch=_WATCHES(compat.storage(study)),
        now=now,
    )


def fail_silent_trials(
    study: optuna.Study,
    *,
    grace_period: float,
    callback: StaleTrialCallback | None,
    watch: SilenceWatch,
    now: float | None = None,
) -> list[int]:
    """:func:`fail_trials_without_heartbeat` with a watch of the caller's own."""
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    return _fail_silent(study, running, heartbeat_sign, watch, grace_period, callback, now)


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
    before their first one (:func:`fail_undecided_trials`). One of these per storage
    (trial ids repeat across storages).
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
        self._silent = SilenceWatch()  # heartbeats that stopped
        self._undecided = SilenceWatch()  # trials killed before Optuna's first heartbeat

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """Fail the trials whose heartbeat stopped, and start beating for ``trial``."""
        if self._grace_period is not None:
            fail_silent_trials(
                study,
                grace_period=self._grace_period,
                callback=self._callback,
                watch=self._silent,
            )
        if self._heartbeats is not None:
            self._heartbeats.start(compat.storage(study), trial)

    @staticmethod
    def reads_trials(study: optuna.Study) -> bool:
        """Whether :meth:`fail_undecided` needs the study's trials."""
        return compat.rdb_heartbeat(compat.storage(study)) is not None

    def fail_undecided(self, study: optuna.Study, trials: list[FrozenTrial]) -> None:
        """:func:`fail_undecided_trials` with the storage's own heartbeat settings."""
        heartbeat = compat.rdb_heartbeat(compat.storage(study))
        if heartbeat is not None:
            grace, callback = heartbeat
            fail_undecided_trials(
                study, trials, grace_period=grace, callback=callback, watch=self._undecided
            )

    def after_trial(self, trial: FrozenTrial) -> None:
        """Stop beating for ``trial``."""
        if self._heartbeats is not None:
            self._heartbeats.stop(trial)
