"""Fixtures shared by the sampler and distributed tests."""

from __future__ import annotations

import pathlib

import optuna
from optuna.artifacts import FileSystemArtifactStore
import pytest
import torch

from optuna_lemonade import SearchSpace
from tests.sampler.conftest import CLASSES
from tests.sampler.conftest import SHAPE


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
