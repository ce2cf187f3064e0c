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

from optuna_lemonade.sampler import DECISION_KEY
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
    time.sleep(3.5)
    finish([start_worker(*args, *heartbeat, "--trials", "4", "--seed", "2")])
    study = optuna.load_study(
        study_name="s", storage=JournalStorage(JournalFileBackend(str(journal)))
    )
    _check_recovered(study, dead, before, artifacts, space.initial_architectures())
    # The sampler's heartbeat_stale_trial_callback retried it, as Optuna's RDB one does.
    _check_retried(study, dead)
    assert len(study.trials) == len(before) + 1 + 4
