from __future__ import annotations

from collections.abc import Callable
import pathlib

import optuna
from optuna.artifacts import FileSystemArtifactStore
import pytest
import torch

from optuna_lemonade import SearchSpace
from optuna_lemonade.sampler import LemonadeSampler


SHAPE = (3, 8, 8)
CLASSES = 3


@pytest.fixture(autouse=True)
def _quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture
def space() -> SearchSpace:
    return SearchSpace(SHAPE, CLASSES, max_params=200_000, initial_widths=(4, 8, 16))


@pytest.fixture
def store(tmp_path: pathlib.Path) -> FileSystemArtifactStore:
    directory = tmp_path / "artifacts"
    directory.mkdir()
    return FileSystemArtifactStore(directory)


@pytest.fixture
def data() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(96, *SHAPE, generator=generator)
    w = torch.randn(SHAPE[0] * SHAPE[1] * SHAPE[2], CLASSES, generator=generator)
    return x, (x.flatten(1) @ w).argmax(1)


def train_briefly(
    model: torch.nn.Module, data: tuple[torch.Tensor, torch.Tensor], steps: int = 4
) -> float:
    x, y = data
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) != y).float().mean())


def make_objective(
    sampler: LemonadeSampler, data: tuple[torch.Tensor, torch.Tensor]
) -> Callable[[optuna.Trial], tuple[float, float]]:
    def objective(trial: optuna.Trial) -> tuple[float, float]:
        child = sampler.child(trial)
        error = train_briefly(child.model, data)
        child.save()
        return error, child.cheap_objectives["params"]

    return objective
