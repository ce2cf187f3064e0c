from __future__ import annotations

from collections.abc import Iterator
import os
import pathlib
import subprocess
import sys
from typing import TYPE_CHECKING
import uuid

import optuna
from optuna.artifacts.exceptions import ArtifactNotFound
from optuna.trial import FrozenTrial
from optuna.trial import TrialState
import pytest

from optuna_lemonade._storage_keys import CHECKPOINT_KEY
from optuna_lemonade._storage_keys import DECISION_KEY
from optuna_lemonade.checkpoints import CheckpointStore
from optuna_lemonade.sampler._decision import Decision
from tests.conftest import subprocess_env


if TYPE_CHECKING:
    from optuna_lemonade._optuna_compat import ArtifactStore


ROOT = pathlib.Path(__file__).parents[2]
POSTGRES_ENV = "OPTUNA_LEMONADE_TEST_POSTGRES"
REQUIRE_ENV = "OPTUNA_LEMONADE_REQUIRE_POSTGRES"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL from the environment; CI sets it and requires it."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {POSTGRES_ENV} is not set")
        pytest.skip(f"set {POSTGRES_ENV} to a PostgreSQL URL to run this test")
    yield url


def unique_name() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def start_worker(*args: str) -> subprocess.Popen[str]:
    env = subprocess_env()
    return subprocess.Popen(
        [sys.executable, "-m", "tests.distributed._worker", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(workers: list[subprocess.Popen[str]], timeout: float = 300) -> None:
    for worker in workers:
        output, _ = worker.communicate(timeout=timeout)
        assert worker.returncode == 0, output


def decisions(trials: list[FrozenTrial]) -> dict[int, Decision]:
    return {
        t.number: Decision.from_dict(t.system_attrs[DECISION_KEY])
        for t in trials
        if DECISION_KEY in t.system_attrs
    }


def check_lineage(
    study: optuna.Study, artifacts: pathlib.Path | ArtifactStore, initial: list
) -> None:
    """The invariants every finished multi-worker study must satisfy.

    ``artifacts`` is a FileSystemArtifactStore's folder or any artifact store.
    """
    trials = study.trials
    assert not [t.number for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    found = decisions(trials)
    assert len(found) == len(trials)  # every trial has its decision, in one attribute
    for trial in trials:
        assert not [
            k
            for k in trial.system_attrs
            if k.startswith("lemonade:decision") and k != DECISION_KEY
        ]
    # The initial architectures were each trained once, by trial number.
    first = [d for d in found.values() if d.kind == "initial"]
    assert sorted(d.architecture.to_json() for d in first) == sorted(a.to_json() for a in initial)
    if isinstance(artifacts, pathlib.Path):
        artifacts = optuna.artifacts.FileSystemArtifactStore(str(artifacts))
    store = CheckpointStore(artifacts)
    by_number = {t.number: t for t in trials}
    for number, decision in found.items():
        if decision.parent is None:
            continue
        parent = by_number[decision.parent]
        child = by_number[number]
        # The parent was COMPLETE, with a checkpoint, when the child was decided.
        assert parent.state == TrialState.COMPLETE
        assert decision.decided_at is not None
        assert parent.datetime_complete.timestamp() <= decision.decided_at
        assert decision.decided_at <= child.datetime_complete.timestamp()
        assert CHECKPOINT_KEY in parent.system_attrs
    for trial in trials:
        checkpoint = trial.system_attrs.get(CHECKPOINT_KEY)
        if trial.state == TrialState.COMPLETE and checkpoint and exists(artifacts, checkpoint):
            store.load(trial, found[trial.number].architecture)  # readable


def exists(store: ArtifactStore, artifact_id: str) -> bool:
    try:
        store.open_reader(artifact_id).close()
    except ArtifactNotFound:
        return False
    return True
