"""Optuna's own sampler test suite, run against LemonadeSampler."""

from __future__ import annotations

from collections.abc import Callable

from optuna.artifacts import FileSystemArtifactStore
from optuna.samplers import BaseSampler
from optuna.testing.pytest_samplers import BasicSamplerTestCase
from optuna.testing.pytest_samplers import MultiObjectiveSamplerTestCase
import pytest

from optuna_lemonade import SearchSpace
from optuna_lemonade.sampler import LemonadeSampler


class TestLemonadeSampler(BasicSamplerTestCase, MultiObjectiveSamplerTestCase):
    @pytest.fixture
    def sampler(self, tmp_path) -> Callable[[], BaseSampler]:
        def factory() -> BaseSampler:
            return LemonadeSampler(
                SearchSpace((1, 8, 8), 3),
                artifact_store=FileSystemArtifactStore(tmp_path),
                seed=0,
            )

        return factory
