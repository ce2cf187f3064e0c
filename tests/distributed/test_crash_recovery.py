"""A worker killed with SIGKILL in the middle of a trial: the study recovers.

RDB storages (SQLite here, PostgreSQL in CI) use Optuna's heartbeats: a new worker fails
the dead trial and, with ``RetryHeartbeatStaleTrialCallback``, retries it with the same
decision. Journal files have no heartbeats: ``LemonadeSampler(heartbeat_interval=...,
grace_period=...)`` writes its own and fails the dead trial. In both cases nothing that
completed is lost and the dead trial is never a parent.
"""

from __future__ import annotations

import os
import pathlib
import signal
import time

import optuna
from optuna.storages import JournalStorage
from optuna.storages import RetryFailedTrialCallback
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState
import pytest

from optuna_lemonade._storage_keys import DECISION_KEY
from optuna_lemonade.sampler._decision import Decision
from tests.distributed.conftest import check_lineage
from tests.distributed.conftest import decisions
from tests.distributed.conftest import finish
from tests.distributed.conftest import start_worker
from tests.distributed.conftest import unique_name


pytestmark = [pytest.mark.distributed, pytest.mark.slow]


def _kill_mid_trial(storage_args: list[str], tmp_path: pathlib.Path, extra: list[str]) -> int:
    """Start a worker that hangs in its first child trial after trial 5; kill it there."""
    marker = tmp_path / "hanging"
    worker = start_worker(
        *storage_args,
        "--trials",
        "20",
        "--seed",
        "1",
        "--hang-after",
        "5",
        "--marker",
        str(marker),
        *extra,
    )
    deadline = time.time() + 120
    while not marker.exists():
        assert worker.poll() is None, worker.communicate()[0]
        assert time.time() < deadline, "the worker never reached its hanging trial"
        time.sleep(0.1)
    time.sleep(1.5)  # a few heartbeats into the trial
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    return int(marker.read_text())


def _snapshot(study: optuna.Study) -> dict[int, list[float]]:
    return {t.number: list(t.values) for t in study.trials if t.state == TrialState.COMPLETE}


def _check_recovered(
    study: optuna.Study,
    dead: int,
    before: dict[int, list[float]],
    artifacts: pathlib.Path,
    initial: list,
) -> None:
    trials = study.trials
    assert trials[dead].state == TrialState.FAIL
    for number, values in before.items():  # nothing that completed is lost
        assert (
            trials[number].state == TrialState.COMPLETE and list(trials[number].values) == values
        )
    found = decisions(trials)
    assert all(d.parent != dead for d in found.values())
    check_lineage(study, artifacts, initial)


def _check_retried(study: optuna.Study, dead: int) -> None:
    """The retry trained the same decision (same parent, same mutation) and finished."""
    retries = [t for t in study.trials if RetryFailedTrialCallback.retried_trial_number(t) == dead]
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE
    assert (
        retries[0].system_attrs[DECISION_KEY]["mutation"]
        == (study.trials[dead].system_attrs[DECISION_KEY]["mutation"])
    )
    assert retries[0].system_attrs["lemonade:checkpoint"] != study.trials[dead].system_attrs.get(
        "lemonade:checkpoint"
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_rdb_heartbeat_fails_and_retries_a_killed_trial(tmp_path, space, backend, request) -> None:
    url = (
        f"sqlite:///{tmp_path / 'study.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    name = unique_name()
    optuna.create_study(study_name=name, storage=url, directions=["minimize", "minimize"])
    try:
        args = ["--storage", url, "--artifacts", str(artifacts), "--study", name]
        heartbeat = ["--rdb-heartbeat", "1", "--rdb-grace", "3"]
        dead = _kill_mid_trial(args, tmp_path, heartbeat)
        study = optuna.load_study(study_name=name, storage=url)
        assert study.trials[dead].state == TrialState.RUNNING  # nobody knows yet
        before = _snapshot(study)
        time.sleep(4)  # past the grace period
        finish([start_worker(*args, *heartbeat, "--trials", "4", "--seed", "2")])
        study = optuna.load_study(study_name=name, storage=url)
        _check_recovered(study, dead, before, artifacts, space.initial_architectures())
        _check_retried(study, dead)
    finally:
        optuna.delete_study(study_name=name, storage=url)


def test_journal_lemonade_heartbeat_fails_a_killed_trial(tmp_path, space) -> None:
    journal = tmp_path / "journal.log"
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    storage = JournalStorage(JournalFileBackend(str(journal)))
    optuna.create_study(study_name="s", storage=storage, directions=["minimize", "minimize"])
    args = ["--journal", str(journal), "--artifacts", str(artifacts), "--study", "s"]
    heartbeat = ["--heartbeat", "0.5", "--grace", "3"]
    dead = _kill_mid_trial(args, tmp_path, heartbeat)
    study = optuna.load_study(study_name="s", storage=storage)
    assert study.trials[dead].state == TrialState.RUNNING
    assert "lemonade:heartbeat" in study.trials[dead].system_attrs
    before = _snapshot(study)
    # Judged on the new worker's clock: it fails the dead trial at its first decision
    # 3 s (the grace period) after it first saw it, then runs the retry.
    slow = ["--trial-seconds", "1"]
    finish([start_worker(*args, *heartbeat, *slow, "--trials", "7", "--seed", "2")])
    study = optuna.load_study(
        study_name="s", storage=JournalStorage(JournalFileBackend(str(journal)))
    )
    _check_recovered(study, dead, before, artifacts, space.initial_architectures())
    # The sampler's heartbeat_stale_trial_callback retried it, as Optuna's RDB one does.
    _check_retried(study, dead)
    assert len(study.trials) == len(before) + 1 + 7


class _Killed(BaseException):
    """The worker dies here (not an Exception: nothing catches it)."""


def test_a_trial_killed_during_the_decision_is_found_stale(
    tmp_path, space, store, monkeypatch
) -> None:
    """Optuna's heartbeat thread starts only after ask() returns, and RDBStorage never
    counts a RUNNING trial without a heartbeat as stale; the sampler beats first thing
    in before_trial (inside optimize), so a worker killed during the decision leaves no
    trial RUNNING."""
    import warnings

    from optuna.exceptions import ExperimentalWarning
    from optuna.storages import RDBStorage

    from optuna_lemonade.sampler import _population
    from optuna_lemonade.sampler import LemonadeSampler

    class DyingRandom(optuna.samplers.RandomSampler):
        def before_trial(self, study, trial) -> None:
            raise _Killed

    def die(study) -> None:
        raise _Killed

    monkeypatch.setattr(_population.Snapshot, "read", die)  # in the middle of the decision
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        storage = RDBStorage(
            f"sqlite:///{tmp_path}/heartbeat.db", heartbeat_interval=1, grace_period=1
        )
        optuna_only = optuna.create_study(
            storage=storage, study_name="optuna", sampler=DyingRandom()
        )
        lemonade = optuna.create_study(
            storage=storage,
            study_name="lemonade",
            sampler=LemonadeSampler(space, artifact_store=store),
            directions=["minimize", "minimize"],
        )
        for study in (optuna_only, lemonade):
            with pytest.raises(_Killed):
                study.optimize(lambda t: 0.0, n_trials=1)
        time.sleep(2.5)
        optuna.storages.fail_stale_trials(optuna_only)
        optuna.storages.fail_stale_trials(lemonade)
    states = [study.trials[0].state for study in (optuna_only, lemonade)]
    assert states == [TrialState.RUNNING, TrialState.FAIL]  # Optuna alone: stuck for good


def test_an_ask_and_tell_trial_gets_no_heartbeat(tmp_path, space, store) -> None:
    """Outside optimize Optuna writes no heartbeats, so the sampler writes none either:
    one would make a trial its owner still trains look dead after the grace period."""
    import warnings

    from optuna.exceptions import ExperimentalWarning
    from optuna.storages import RDBStorage

    from optuna_lemonade.sampler import LemonadeSampler

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        warnings.simplefilter("ignore", UserWarning)  # Optuna: heartbeats need optimize
        storage = RDBStorage(
            f"sqlite:///{tmp_path}/heartbeat.db", heartbeat_interval=1, grace_period=1
        )
        study = optuna.create_study(
            storage=storage,
            sampler=LemonadeSampler(space, artifact_store=store),
            directions=["minimize", "minimize"],
        )
        study.ask()
        time.sleep(2.5)
        optuna.storages.fail_stale_trials(study)
        study.ask()  # its sweep leaves trial 0 alone: it has its decision
    assert study.trials[0].state == TrialState.RUNNING


def test_a_trial_killed_before_the_decision_is_failed_and_retried(tmp_path, space, store):
    """Killed between Optuna creating the trial and the sampler's first heartbeat: no
    heartbeat, no decision. The next decision after the grace period fails it, and the
    storage's retry callback queues a retry, which decides anew."""
    import warnings

    from optuna.exceptions import ExperimentalWarning
    from optuna.storages import RDBStorage
    from optuna.storages import RetryHeartbeatStaleTrialCallback

    from optuna_lemonade.sampler import LemonadeSampler

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        storage = RDBStorage(
            f"sqlite:///{tmp_path}/heartbeat.db",
            heartbeat_interval=1,
            grace_period=2,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
        )
        sampler = LemonadeSampler(space, artifact_store=store, seed=0)
        study = optuna.create_study(
            storage=storage, sampler=sampler, directions=["minimize", "minimize"]
        )
        storage.create_new_trial(study._study_id)  # as ask() does, then the worker dies
        fresh = study.ask()  # within the grace period: trial 0 may still be deciding
        assert study.trials[0].state == TrialState.RUNNING
        study.tell(fresh, (0.5, 1.0))
        time.sleep(2.5)
        later = study.ask()
        assert study.trials[0].state == TrialState.FAIL
        retry = [t for t in study.trials if RetryFailedTrialCallback.retried_trial_number(t) == 0]
        assert [t.state for t in retry] == [TrialState.WAITING]  # queued by that decision
        study.tell(later, (0.5, 1.0))
        popped = study.ask()  # the next ask() runs the retry, which decides anew
    assert popped.number == retry[0].number
    assert DECISION_KEY in study.trials[popped.number].system_attrs
    # Trial 0 stood for the first initial network: its retry trains that one, so every
    # initial architecture is trained once (before, it decided as trial 3, a child).
    decisions = [Decision.from_dict(t.system_attrs[DECISION_KEY]) for t in study.trials[1:]]
    assert decisions[-1].kind == "initial"
    assert decisions[-1].architecture == space.initial_architectures()[0]
    trained = [d.architecture for d in decisions if d.kind == "initial"]
    assert sorted(map(str, trained)) == sorted(map(str, space.initial_architectures()))
