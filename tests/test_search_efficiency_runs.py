"""The search-efficiency benchmark's ablation helpers: the retrain operator and the
half-way check."""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import torch

from optuna_lemonade import build_model
from optuna_lemonade import SearchSpace
from optuna_lemonade.morphisms import apply_mutation
from optuna_lemonade.morphisms import Mutation


sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "benchmarks"))
import _retrain_operator  # benchmarks/ is not a package
import _search_runs


SPACE = SearchSpace((1, 8, 8), 3)


def test_retrain_keeps_the_architecture_and_the_weights() -> None:
    arch = SPACE.initial_architectures()[0]
    parent = build_model(arch, seed=0).eval()
    mutation, child_arch = _retrain_operator.Retrain().propose(
        arch, np.random.default_rng(0), SPACE
    )
    assert child_arch == arch
    assert Mutation.from_dict(mutation.to_dict()) == mutation  # replayable from JSON
    _, child = apply_mutation(arch, parent, mutation)
    x = torch.randn(4, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(parent(x), child.eval()(x))
    assert child is not parent


def test_halfway_check_evaluates_once_half_way_and_never_stops() -> None:
    model = build_model(SPACE.initial_architectures()[0], seed=0)
    probe = [(torch.randn(8, 1, 8, 8), torch.randint(3, (8,)))]
    check = _search_runs.HalfwayCheck(model, probe, 0.5, at=0.5, device="cpu")
    assert not any(check(step, 10) for step in range(1, 5))
    assert check.error is None
    assert not check(5, 10)
    assert check.error is not None and 0.0 <= check.error <= 1.0
    first = check.error
    assert not any(check(step, 10) for step in range(6, 11))
    assert check.error == first
