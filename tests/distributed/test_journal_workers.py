"""Three processes share a JournalFileBackend storage and a FileSystemArtifactStore."""

from __future__ import annotations

import pathlib

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState
import pytest

from optuna_lemonade._storage_keys import CHECKPOINT_KEY
from tests.distributed.conftest import check_lineage
from tests.distributed.conftest import decisions
from tests.distributed.conftest import finish
from tests.distributed.conftest import start_worker


pytestmark = [pytest.mark.distributed, pytest.mark.slow]


def test_three_processes_finish_one_study(tmp_path: pathlib.Path, space) -> None:
    journal = tmp_path / "journal.log"
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    storage = JournalStorage(JournalFileBackend(str(journal)))
    optuna.create_study(study_name="shared", storage=storage, directions=["minimize", "minimize"])
    finish(
        [
            start_worker(
                "--journal",
                str(journal),
                "--artifacts",
                str(artifacts),
                "--study",
                "shared",
                "--trials",
                "8",
                "--seed",
                str(seed),
            )
            for seed in (1, 2, 3)
        ]
    )
    study = optuna.load_study(study_name="shared", storage=storage)
    assert len(study.trials) == 24
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    check_lineage(study, artifacts, space.initial_architectures())
    for trial in study.trials:
        assert (artifacts / trial.system_attrs[CHECKPOINT_KEY]).exists()
    assert sum(d.kind == "child" for d in decisions(study.trials).values()) == 21
