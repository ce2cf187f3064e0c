"""The chaos run's checks (benchmarks/chaos.py) on small real studies: when the search
is past its start, and a network whose checkpoint is gone counted as lost."""

from __future__ import annotations

import pathlib
import sys

import optuna
from optuna.artifacts import FileSystemArtifactStore

from optuna_lemonade.checkpoints import CheckpointStore
from optuna_lemonade.sampler import LemonadeSampler
from tests.sampler.conftest import make_objective


sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "benchmarks"))
import chaos  # benchmarks/ is not a package


def test_past_start_needs_every_initial_network_and_the_children(space, store, data) -> None:
    sampler = LemonadeSampler(space, artifact_store=store, seed=0)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    initial = space.initial_architectures()
    objective = make_objective(sampler, data)
    study.optimize(objective, n_trials=len(initial) - 1)
    assert not chaos.past_start(study, initial, 0)  # one initial network not trained
    study.optimize(objective, n_trials=1)
    assert chaos.past_start(study, initial, 0)
    assert not chaos.past_start(study, initial, 1)  # no child yet
    study.optimize(objective, n_trials=2)
    assert chaos.past_start(study, initial, 2)
    assert not chaos.past_start(study, initial, 3)


def test_check_counts_a_missing_checkpoint_as_a_lost_network(
    space, store: FileSystemArtifactStore, data, tmp_path: pathlib.Path
) -> None:
    sampler = LemonadeSampler(space, artifact_store=store, seed=0)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    initial = space.initial_architectures()
    study.optimize(make_objective(sampler, data), n_trials=len(initial) + 2)
    seen = {t.number: list(t.values) for t in study.trials}
    artifacts = tmp_path / "artifacts"
    found = chaos.check(study, CheckpointStore(store), artifacts, seen, initial)
    assert found["problems"] == [] and found["networks_lost"] == 0
    assert found["checkpoints_loaded"] == len(initial) + 2

    for path in artifacts.iterdir():  # every checkpoint file gone
        path.unlink()
    found = chaos.check(study, CheckpointStore(store), artifacts, seen, initial)
    assert found["networks_lost"] == len(initial) + 2
    assert all("lost" in problem for problem in found["problems"])


def test_check_names_an_initial_network_never_trained(space, store, data, tmp_path) -> None:
    sampler = LemonadeSampler(space, artifact_store=store, seed=0)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    initial = space.initial_architectures()
    study.optimize(make_objective(sampler, data), n_trials=len(initial) - 1)
    seen = {t.number: list(t.values) for t in study.trials}
    found = chaos.check(study, CheckpointStore(store), tmp_path / "artifacts", seen, initial)
    assert found["problems"] == ["an initial architecture completed 0 times: []"]
