"""Two processes share a JournalFileBackend storage and a FileSystemArtifactStore."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from optuna_lemonade.checkpoints import CHECKPOINT_KEY
from optuna_lemonade.sampler import Decision
from optuna_lemonade.sampler import DECISION_KEY


ROOT = pathlib.Path(__file__).parents[2]


def test_two_processes_finish_one_study(tmp_path: pathlib.Path, space) -> None:
    journal = tmp_path / "journal.log"
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    storage = JournalStorage(JournalFileBackend(str(journal)))
    optuna.create_study(study_name="shared", storage=storage, directions=["minimize", "minimize"])
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.sampler._worker",
                "--journal",
                str(journal),
                "--artifacts",
                str(artifacts),
                "--study",
                "shared",
                "--trials",
                "10",
                "--seed",
                str(seed),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for seed in (1, 2)
    ]
    for worker in workers:
        output, _ = worker.communicate(timeout=300)
        assert worker.returncode == 0, output

    study = optuna.load_study(study_name="shared", storage=storage)
    trials = study.trials
    assert len(trials) == 20
    assert all(t.state == TrialState.COMPLETE for t in trials)
    decisions = [Decision.from_dict(t.system_attrs[DECISION_KEY]) for t in trials]
    # The initial architectures were trained once each, by trial number.
    initial = [d for d in decisions if d.kind == "initial"]
    assert [d.architecture for d in initial] == space.initial_architectures()
    for trial, decision in zip(trials, decisions, strict=True):
        assert (artifacts / trial.system_attrs[CHECKPOINT_KEY]).exists()
        if decision.parent is not None:
            parent = trials[decision.parent]
            assert parent.state == TrialState.COMPLETE
            assert (artifacts / parent.system_attrs[CHECKPOINT_KEY]).exists()
            assert parent.datetime_complete <= trial.datetime_start
    assert sum(d.kind == "child" for d in decisions) >= 15
