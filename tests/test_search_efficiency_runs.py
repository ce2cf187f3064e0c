"""The search-efficiency benchmark's ablation helpers: the retrain operator, the
half-way check, parent selection by time spent, child selection by parameters per
multiply-add, the initial networks' children first and cuts drawn by size."""

from __future__ import annotations

import datetime
import pathlib
import sys

import numpy as np
import optuna
import pytest
import torch

from optuna_lemonade import build_model
from optuna_lemonade import count_params
from optuna_lemonade import SearchSpace
from optuna_lemonade.morphisms import apply_mutation
from optuna_lemonade.morphisms import APPROXIMATE_OPERATORS
from optuna_lemonade.morphisms import Mutation
from optuna_lemonade.morphisms import NotApplicable
from optuna_lemonade.morphisms import OPERATORS


sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "benchmarks"))
import _cut_operators  # benchmarks/ is not a package
import _retrain_operator
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


def test_spent_time_density_prefers_sizes_that_took_least_time() -> None:
    """Two sizes on the front: the one whose region took 40 s of training is drawn far
    less often than the one whose region took 10 s, whatever the counts of trials."""
    study = optuna.create_study(directions=["minimize", "minimize"])
    start = datetime.datetime(2026, 1, 1)
    # Five 2 s trials near 5k parameters, one 40 s trial at 500k.
    for params, seconds in [
        (5000, 2),
        (5200, 2),
        (4800, 2),
        (5100, 2),
        (4900, 2),
        (500_000, 40),
    ]:
        trial = optuna.trial.create_trial(values=[0.1, params])
        trial.datetime_start = start
        trial.datetime_complete = start + datetime.timedelta(seconds=seconds)
        study.add_trial(trial)
    spent = _search_runs.SpentTimeDensity()
    spent.study = study
    front = np.array([[5000.0], [500_000.0]])
    p = spent(front, front)
    assert p.sum() == pytest.approx(1.0)
    assert p[0] > 3 * p[1]
    # Plain inverse density (counts, not seconds) prefers the lonely large network.
    reference = np.array([[5000.0], [5200.0], [4800.0], [5100.0], [4900.0], [500_000.0]])
    assert _search_runs.inverse_density(front, reference)[1] > 0.5


def test_params_per_mac_prefers_cheap_growth_and_ignores_macs_in_the_density() -> None:
    population = np.array([[6_000.0, 500_000.0], [24_000.0, 2_000_000.0], [94_000.0, 7_500_000.0]])
    # Two children of the 94k network of the same size: one grown at 28x28 (many
    # multiply-adds), one at 7x7.
    children = np.array([[240_000.0, 30_000_000.0], [240_000.0, 15_000_000.0]])
    p = _search_runs.params_per_mac(children, population)
    assert p.sum() == pytest.approx(1.0)
    assert p[1] == pytest.approx(2 * p[0])
    # Without the factor the density sees parameters only: equal.
    assert np.allclose(_search_runs.params_density(children, population), 0.5)


def test_initial_first_gives_every_initial_network_a_child_before_density() -> None:
    """The initial networks (trials 0-2) are parents in turn, each until it has a child;
    one missing from the population is skipped; then inverse density decides."""
    study = optuna.create_study(directions=["minimize", "minimize"])
    for error, params in [(0.17, 6534), (0.11, 36770), (0.10, 144954)]:
        study.add_trial(optuna.trial.create_trial(values=[error, params]))
    first = _search_runs.InitialFirst(3)
    first.study = study
    population = np.array([[144954.0], [6534.0], [36770.0], [218842.0]])
    assert first(population, population).tolist() == [0, 1, 0, 0]
    child = optuna.trial.create_trial(values=[0.15, 8870], user_attrs={"lemonade_parent": 0})
    study.add_trial(child)
    assert first(population, population).tolist() == [0, 0, 1, 0]
    # Trial 1 dominated (gone from the population): trial 2 next.
    without_1 = population[[0, 1, 3]]
    assert first(without_1, without_1).tolist() == [1, 0, 0]
    for parent, params in [(1, 27490), (2, 218842)]:
        attrs = {"lemonade_parent": parent}
        study.add_trial(optuna.trial.create_trial(values=[0.1, params], user_attrs=attrs))
    p = first(population, population)
    assert np.allclose(p, _search_runs.inverse_density(population, population))


def test_cut_by_size_draws_places_by_parameters_removed() -> None:
    space = SearchSpace((1, 28, 28), 10)
    arch = space.initial_architectures()[0]
    operators = {
        op.name: op for op in _cut_operators.cut_by_size_operators() if not isinstance(op, str)
    }
    assert set(operators) == set(APPROXIMATE_OPERATORS)  # the exact ones stay by name
    operator = operators["prune_filters"]
    uniform = OPERATORS["prune_filters"]
    size = count_params(arch)
    removed: dict[str, list[int]] = {"by size": [], "uniform": []}
    rng, rng_uniform = np.random.default_rng(0), np.random.default_rng(0)
    for _ in range(200):
        mutation, child = operator.propose(arch, rng, space)
        assert child == mutation.apply(arch)  # the operator's own mutations
        removed["by size"].append(size - count_params(child))
        _, other = uniform.propose(arch, rng_uniform, space)
        removed["uniform"].append(size - count_params(other))
    assert min(removed["by size"]) > 0
    # Every place stays possible, but the largest cut is drawn most often.
    largest = max(removed["uniform"])
    assert removed["by size"].count(largest) > 1.5 * removed["uniform"].count(largest)
    assert np.mean(removed["by size"]) > 1.2 * np.mean(removed["uniform"])
    with pytest.raises(NotApplicable):  # no skip to remove in a plain network
        operators["remove_skip"].propose(arch, rng, space)


def test_median_gate_draws_by_size_only_below_the_median() -> None:
    space = SearchSpace((1, 28, 28), 10)
    small, middle, large = space.initial_architectures()
    gate = _cut_operators.MedianGate()
    population = np.array([[count_params(a)] for a in (small, middle, large)], dtype=float)
    p = gate(population, population)
    np.testing.assert_allclose(p.sum(), 1.0)
    assert gate.median == count_params(middle)
    gated = {
        op.name: op for op in _cut_operators.cut_by_size_operators(gate) if not isinstance(op, str)
    }
    by_size = {
        op.name: op for op in _cut_operators.cut_by_size_operators() if not isinstance(op, str)
    }
    for arch, same in ((small, True), (middle, False), (large, False)):
        # Same generator state: a gated operator proposes what the by-size one does
        # below the median and what the package's (uniform) one does from it on.
        expected = (by_size if same else OPERATORS)["prune_filters"]
        for seed in range(5):
            got = gated["prune_filters"].propose(arch, np.random.default_rng(seed), space)
            want = expected.propose(arch, np.random.default_rng(seed), space)
            assert got[1] == want[1]
