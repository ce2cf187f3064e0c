"""CheckpointStore keeps the weights of recent checkpoints in memory, never shared."""

from __future__ import annotations

import pathlib

import optuna
from optuna.artifacts import FileSystemArtifactStore
import pytest
import torch

from optuna_lemonade import build_model
from optuna_lemonade import SearchSpace
from optuna_lemonade.checkpoints import _store
from optuna_lemonade.checkpoints import CheckpointError
from optuna_lemonade.checkpoints import CheckpointStore


class _CountingStore(FileSystemArtifactStore):
    def __init__(self, base_path: pathlib.Path) -> None:
        base_path.mkdir(exist_ok=True)
        super().__init__(base_path)
        self.reads = 0

    def open_reader(self, artifact_id: str):
        self.reads += 1
        return super().open_reader(artifact_id)


@pytest.fixture
def arch():
    return SearchSpace((1, 8, 8), 3).initial_architectures()[0]


def _saved(store: CheckpointStore, arch, model) -> optuna.trial.FrozenTrial:
    study = optuna.create_study()
    trial = study.ask()
    store.save(trial, arch, model)
    study.tell(trial, 0.0)
    return study.trials[0]


def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_a_saved_checkpoint_loads_from_memory_as_a_copy(arch, tmp_path) -> None:
    files = _CountingStore(tmp_path / "a")
    store = CheckpointStore(files)
    model = build_model(arch, seed=0)
    trial = _saved(store, arch, model)
    saved = _weights(model)
    with torch.no_grad():  # training after save() must not change the checkpoint
        for parameter in model.parameters():
            parameter.add_(1.0)
    first = store.load(trial, arch)
    assert files.reads == 0
    assert all(torch.equal(first.state_dict()[k], v) for k, v in saved.items())
    with torch.no_grad():  # nor may changing a loaded model change the next one
        for parameter in first.parameters():
            parameter.zero_()
    second = store.load(trial, arch)
    assert all(torch.equal(second.state_dict()[k], v) for k, v in saved.items())


def test_another_worker_reads_a_checkpoint_once(arch, tmp_path) -> None:
    files = _CountingStore(tmp_path / "a")
    model = build_model(arch, seed=0)
    trial = _saved(CheckpointStore(files), arch, model)
    other = CheckpointStore(files)
    loaded = [other.load(trial, arch) for _ in range(3)]
    assert files.reads == 1
    for copy in loaded:
        assert all(torch.equal(copy.state_dict()[k], v) for k, v in model.state_dict().items())
    assert loaded[0].layers is not loaded[1].layers


def test_a_removed_checkpoint_is_forgotten(arch, tmp_path) -> None:
    files = _CountingStore(tmp_path / "a")
    store = CheckpointStore(files)
    trial = _saved(store, arch, build_model(arch, seed=0))
    assert store.remove(trial.system_attrs["lemonade:checkpoint"])
    with pytest.raises(CheckpointError, match="missing from the artifact store"):
        store.load(trial, arch)


def test_weights_over_the_limit_are_read_every_time(arch, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(_store, "RECENT_BYTES", 16)
    files = _CountingStore(tmp_path / "a")
    store = CheckpointStore(files)
    trial = _saved(store, arch, build_model(arch, seed=0))
    store.load(trial, arch)
    store.load(trial, arch)
    assert files.reads == 2


def test_the_oldest_weights_go_first(arch, tmp_path, monkeypatch) -> None:
    size = sum(v.numel() * v.element_size() for v in build_model(arch).state_dict().values())
    monkeypatch.setattr(_store, "RECENT_BYTES", 2 * size)
    files = _CountingStore(tmp_path / "a")
    store = CheckpointStore(files)
    trials = [_saved(store, arch, build_model(arch, seed=seed)) for seed in range(3)]
    store.load(trials[1], arch)
    store.load(trials[2], arch)
    assert files.reads == 0
    store.load(trials[0], arch)  # dropped when the third was saved
    assert files.reads == 1
