"""Cuts by size (the sampler's experimental ``cut_placement``): where shrinking
operators cut, drawn by the parameters a cut removes."""

from __future__ import annotations

import json
import warnings

import numpy as np
from optuna.exceptions import ExperimentalWarning
import pytest

from optuna_lemonade import Architecture
from optuna_lemonade import count_params
from optuna_lemonade import SearchSpace
from optuna_lemonade.morphisms import EXACT_OPERATORS
from optuna_lemonade.morphisms import Mutation
from optuna_lemonade.morphisms import NotApplicable
from optuna_lemonade.morphisms import Operator
from optuna_lemonade.morphisms import OPERATORS
from optuna_lemonade.sampler import LemonadeSampler
from optuna_lemonade.sampler._cut_placement import propose_by_size


def _removed(arch: Architecture, proposals: list[tuple[Mutation, Architecture]]) -> list[int]:
    return [count_params(arch) - count_params(child) for _, child in proposals]


@pytest.mark.parametrize("operator", ["prune_filters", "to_sepconv"])
def test_cuts_by_size_are_larger_and_stay_the_operators_own(operator: str) -> None:
    space = SearchSpace((1, 28, 28), 10)
    arch = space.initial_architectures()[0]
    by_size = [
        propose_by_size(OPERATORS[operator], arch, np.random.default_rng(seed), space)
        for seed in range(200)
    ]
    uniform = [
        OPERATORS[operator].propose(arch, np.random.default_rng(seed), space)
        for seed in range(200)
    ]
    places = {
        json.dumps(m.to_dict() | {"seed": 0}, sort_keys=True)
        for m in OPERATORS[operator].candidates(arch, space)
    }
    for mutation, child in by_size:
        assert child == mutation.apply(arch)  # one of the operator's own places
        assert json.dumps(mutation.to_dict() | {"seed": 0}, sort_keys=True) in places
    removed, removed_uniform = _removed(arch, by_size), _removed(arch, uniform)
    assert min(removed) > 0
    # Every place stays possible, but the largest cut is drawn most often.
    largest = max(removed_uniform)
    assert removed.count(largest) > 1.5 * removed_uniform.count(largest)
    assert np.mean(removed) > 1.2 * np.mean(removed_uniform)


@pytest.mark.parametrize("operator", sorted(EXACT_OPERATORS))
def test_exact_operators_propose_as_usual(operator: str) -> None:
    space = SearchSpace((1, 28, 28), 10)
    arch = space.initial_architectures()[1]
    for seed in range(3):
        try:
            expected = OPERATORS[operator].propose(arch, np.random.default_rng(seed), space)
        except NotApplicable:
            continue
        got = propose_by_size(OPERATORS[operator], arch, np.random.default_rng(seed), space)
        assert got == expected


class _GrowingApproximate(Operator):
    """An approximate operator whose places all add parameters (insert_conv's)."""

    name = "growing"
    exact = False

    def candidates(self, arch: Architecture, space: SearchSpace) -> list[Mutation]:
        return OPERATORS["insert_conv"].candidates(arch, space)


def test_cuts_by_size_without_a_place_are_not_applicable() -> None:
    space = SearchSpace((1, 28, 28), 10)
    arch = space.initial_architectures()[0]
    with pytest.raises(NotApplicable, match="remove_skip"):  # no skip in a plain network
        propose_by_size(OPERATORS["remove_skip"], arch, np.random.default_rng(0), space)
    growing = _GrowingApproximate()
    assert growing.candidates(arch, space)  # places exist, but none removes parameters
    with pytest.raises(NotApplicable, match="no place in this network removes parameters"):
        propose_by_size(growing, arch, np.random.default_rng(0), space)


@pytest.mark.parametrize(
    "options, name",
    [
        ({"cut_placement": "by_size"}, "cut_placement"),
        ({"cut_placement": "by_size_below_median"}, "cut_placement"),
        ({"largest_initial_first": True}, "largest_initial_first"),
    ],
)
def test_options_the_benchmarks_did_not_adopt_are_experimental(
    options: dict[str, object], name: str, tmp_path: object
) -> None:
    from optuna.artifacts import FileSystemArtifactStore

    space = SearchSpace((1, 28, 28), 10)
    store = FileSystemArtifactStore(str(tmp_path))
    with pytest.warns(ExperimentalWarning, match=f"``{name}`` is an experimental"):
        LemonadeSampler(space, artifact_store=store, **options)  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExperimentalWarning)  # the defaults do not warn
        LemonadeSampler(space, artifact_store=store, cut_placement="uniform")
