"""Heartbeats and stale trials for storages without their own (journal files, memory).

Optuna's RDB storages detect dead workers through heartbeats (``heartbeat_interval``,
``grace_period``, ``heartbeat_stale_trial_callback``); ``JournalStorage`` has none, so a
trial whose worker was killed stays RUNNING for ever. Here a worker's sampler writes a
heartbeat into a trial system attribute while the trial runs, and any worker can fail
the RUNNING trials whose heartbeat stopped.
"""

from __future__ import annotations

from collections.abc import Iterable
import threading
import time

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState


HEARTBEAT_KEY = "lemonade:heartbeat"
"""Trial system attribute: the time (seconds since the epoch) of the last heartbeat."""


def last_sign_of_life(trial: optuna.trial.FrozenTrial) -> float | None:
    """The trial's last heartbeat, else its start time, as seconds since the epoch."""
    beat = trial.system_attrs.get(HEARTBEAT_KEY)
    if isinstance(beat, (int, float)) and not isinstance(beat, bool):
        return float(beat)
    if trial.datetime_start is not None:
        return trial.datetime_start.timestamp()
    return None


def fail_stale_trials(
    study: optuna.Study, *, grace_period: float, now: float | None = None
) -> list[int]:
    """Mark FAIL the RUNNING trials with no heartbeat for ``grace_period`` seconds.

    A trial without a heartbeat counts from its start, so use this only when every
    worker of the study writes heartbeats (``LemonadeSampler(heartbeat_interval=...)``)
    or no trial legitimately runs longer than ``grace_period``. Several workers may call
    it at once: a trial another worker already finished is skipped.

    Args:
        study: The study.
        grace_period: Seconds of silence after which a RUNNING trial is dead.
        now: The current time (seconds since the epoch); default ``time.time()``.

    Returns:
        The numbers of the trials this call failed.
    """
    if not grace_period > 0:
        raise ValueError(f"grace_period must be positive, got {grace_period!r}")
    now = time.time() if now is None else now
    failed = []
    storage = study._storage
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        last = last_sign_of_life(trial)
        if last is None or now - last <= grace_period:
            continue
        try:
            if storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                failed.append(trial.number)
        except UpdateFinishedTrialError:
            pass  # another worker finished or failed it meanwhile
    return failed


class Heartbeats:
    """Background threads that write a heartbeat for each running trial of a worker."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._lock = threading.Lock()
        self._stops: dict[int, threading.Event] = {}

    def start(self, storage: optuna.storages.BaseStorage, trial_id: int) -> None:
        """Beat now and every ``interval`` seconds until :meth:`stop`."""
        stop = threading.Event()
        with self._lock:
            self._stops[trial_id] = stop
        self._beat(storage, trial_id)

        def run() -> None:
            while not stop.wait(self._interval):
                if not self._beat(storage, trial_id):
                    return

        threading.Thread(target=run, name=f"lemonade-heartbeat-{trial_id}", daemon=True).start()

    def stop(self, trial_id: int) -> None:
        """Stop beating for ``trial_id`` (no-op if not beating)."""
        with self._lock:
            stop = self._stops.pop(trial_id, None)
        if stop is not None:
            stop.set()

    def running(self) -> Iterable[int]:
        """Trial ids with a heartbeat thread."""
        with self._lock:
            return list(self._stops)

    @staticmethod
    def _beat(storage: optuna.storages.BaseStorage, trial_id: int) -> bool:
        try:
            storage.set_trial_system_attr(trial_id, HEARTBEAT_KEY, time.time())
        except (UpdateFinishedTrialError, KeyError, RuntimeError):
            return False  # the trial finished (or vanished): stop beating
        return True
