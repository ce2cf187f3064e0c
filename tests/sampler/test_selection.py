"""Selection by inverse density prefers sparse regions of the cheap objectives; shrinking
cuts are drawn by size where the cut placement says."""

from __future__ import annotations

import math
import pathlib
import warnings

import numpy as np
import optuna
from optuna.artifacts import FileSystemArtifactStore
from optuna.trial import TrialState
import pytest
from scipy.stats import binomtest

from optuna_lemonade import Architecture
from optuna_lemonade import count_params
from optuna_lemonade import Node
from optuna_lemonade import SearchSpace
from optuna_lemonade.morphisms import Mutation
from optuna_lemonade.morphisms import NotApplicable
from optuna_lemonade.morphisms import Operator
from optuna_lemonade.sampler import inverse_density
from optuna_lemonade.sampler import LemonadeSampler
from optuna_lemonade.sampler import LemonadeWarning
from optuna_lemonade.sampler import uniform
from optuna_lemonade.sampler._proposal import ProposalSettings
from optuna_lemonade.sampler._proposal import propose_child
from optuna_lemonade.sampler._selection import log_density
from optuna_lemonade.sampler._selection import reflected_inverse_density
from optuna_lemonade.sampler._selection import to_log_scale


def test_inverse_density_on_a_fixed_population() -> None:
    cluster = np.array([[1000.0 + 10 * i, 5000.0 + 40 * i] for i in range(9)])
    lonely = np.array([[100_000.0, 900_000.0]])
    population = np.vstack([cluster, lonely])
    p = inverse_density(population, population)
    assert p.shape == (10,) and math.isclose(p.sum(), 1.0)
    # Each cluster member shares its density with eight neighbours: the lonely network
    # is about nine times as likely as any of them, and as likely as all together.
    assert 8 * p[:-1].max() < p[-1] < 10 * p[:-1].min()
    assert p[-1] == pytest.approx(0.5, abs=0.05)
    assert np.allclose(uniform(population, population), 0.1)


def test_density_is_on_a_log_scale_for_counts() -> None:
    values = np.array([[10.0, -1.0], [1000.0, 2.0]])
    scaled = to_log_scale(values)
    assert np.allclose(scaled[:, 0], np.log([10.0, 1000.0]))
    assert np.allclose(scaled[:, 1], [-1.0, 2.0])
    # A point between two networks of 10 and 1000 parameters is at 100, not 505.
    reference = to_log_scale(np.array([[10.0], [1000.0]]))
    densities = log_density(np.log(np.array([[100.0], [505.0]])), reference)
    assert densities[0] > densities[1]


def test_density_of_one_network_or_identical_ones_is_finite() -> None:
    one = np.array([[5.0, 5.0]])
    assert np.isfinite(log_density(one, one)).all()
    same = np.array([[5.0, 5.0]] * 4)
    assert np.isfinite(inverse_density(same, same)).all()


def test_plain_density_favours_the_ends_and_reflection_does_not() -> None:
    """Ten networks evenly spread on a log scale: the plain estimate makes the cheapest
    and the costliest about twice as likely as the middle ones; mirrored, all are about
    equally likely."""
    front = np.logspace(3, 6, 10)[:, None]
    plain = inverse_density(front, front)
    assert plain[0] > 1.5 * plain[4] and plain[-1] > 1.5 * plain[5]
    reflected = reflected_inverse_density(front, front)
    assert math.isclose(reflected.sum(), 1.0)
    assert reflected.max() < 1.01 * reflected.min()


def test_reflection_makes_going_beyond_an_end_no_lonelier_than_inside() -> None:
    """A candidate a factor beyond the costliest network is as likely as one that factor
    inside (the mirror image), where the plain estimate prefers the one beyond."""
    front = np.logspace(3, 6, 10)[:, None]
    candidates = np.array([[1e6 / 1.5], [1e6 * 1.5]])
    plain = inverse_density(candidates, front)
    assert plain[1] > 1.3 * plain[0]
    reflected = reflected_inverse_density(candidates, front)
    assert reflected[1] == pytest.approx(reflected[0], rel=0.02)


def test_reflection_still_prefers_a_lonely_network() -> None:
    cluster = np.array([[1000.0 + 10 * i, 5000.0 + 40 * i] for i in range(9)])
    population = np.vstack([cluster, [[100_000.0, 900_000.0]]])
    p = reflected_inverse_density(population, population)
    assert p.shape == (10,) and math.isclose(p.sum(), 1.0)
    assert p[-1] > 8 * p[:-1].max()
    one = np.array([[5.0, 5.0]])
    assert np.allclose(reflected_inverse_density(one, one), 1.0)
    same = np.array([[5.0, 5.0]] * 4)
    assert np.allclose(reflected_inverse_density(same, same), 0.25)


def _chain(width: int) -> Architecture:
    return Architecture(
        (3, 8, 8),
        3,
        [
            Node("input", "input"),
            Node("conv1", "conv", ("input",), filters=width, kernel_size=3),
            Node("bn1", "bn", ("conv1",)),
            Node("relu1", "relu", ("bn1",)),
            Node("gap", "gap", ("relu1",)),
            Node("classifier", "linear", ("gap",), units=3),
        ],
    )


@pytest.mark.parametrize("selection", ["inverse_density", "reflected_inverse_density", "uniform"])
def test_sampler_prefers_sparse_parents(space, store, selection: str) -> None:
    """A population of five similar networks and one much larger: with inverse-density
    selection (plain or mirrored at the ends) the lonely one is the parent far more
    often than 1/6; with uniform selection it is not."""
    strategy = {
        "inverse_density": inverse_density,
        "reflected_inverse_density": reflected_inverse_density,
        "uniform": uniform,
    }[selection]
    widths = [8, 9, 10, 11, 12, 64]
    sampler = LemonadeSampler(
        space,
        artifact_store=store,
        initial_architectures=[_chain(w) for w in widths],
        parent_selection=strategy,
        child_selection=strategy,
        seed=0,
    )
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    for width in widths:  # all on the front: more parameters, lower error
        trial = study.ask()
        child = sampler.child(trial)
        child.save()
        study.tell(trial, (1.0 / width, child.cheap_objectives["params"]))
    assert len(sampler.population(study)) == 6
    draws = 150
    lonely = 0
    for _ in range(draws):
        trial = study.ask()
        lonely += sampler.decision(study.trials[trial.number]).parent == 5
        study.tell(trial, state=TrialState.FAIL)  # the population stays fixed
    test = binomtest(lonely, draws, 1 / 6)
    if selection != "uniform":
        assert lonely / draws > 0.4 and test.pvalue < 1e-6
    else:
        assert test.pvalue > 1e-3


@pytest.mark.parametrize("objectives", [1, 2, 3, 4])
def test_nondominated_mask_matches_the_definition(objectives: int) -> None:
    from optuna_lemonade.sampler._population import nondominated_mask

    rng = np.random.default_rng(objectives)
    for _ in range(200):
        losses = rng.integers(0, 5, size=(int(rng.integers(0, 40)), objectives)).astype(float)
        no_worse = np.all(losses[:, None, :] <= losses[None, :, :], axis=2)
        better = np.any(losses[:, None, :] < losses[None, :, :], axis=2)
        expected = ~np.any(no_worse & better, axis=0)
        assert np.array_equal(nondominated_mask(losses), expected)


class _Spy(Operator):
    """Records, per parent size, whether it was asked to cut by size.

    Cuts by size read the operator's candidates and order them; uniform cuts call its
    own ``propose``.
    """

    name = "spy"
    exact = False

    def __init__(self) -> None:
        self.calls: list[tuple[int, bool]] = []

    def candidates(self, arch: Architecture, space: SearchSpace) -> list[Mutation]:
        self.calls.append((count_params(arch), True))
        return []

    def propose(self, arch, rng, space):  # type: ignore[no-untyped-def]
        self.calls.append((count_params(arch), False))
        raise NotApplicable("spy")


@pytest.mark.parametrize(
    "placement, expected",
    [
        ("uniform", {0: False, 1: False, 2: False}),
        ("by_size", {0: True, 1: True, 2: True}),
        ("by_size_below_median", {0: True, 1: False, 2: False}),
    ],
)
def test_cut_placement_reaches_the_operators(placement: str, expected: dict[int, bool]) -> None:
    space = SearchSpace((1, 28, 28), 10)
    parents = space.initial_architectures()  # 6.5k, 37k, 145k parameters
    spy = _Spy()
    settings = ProposalSettings(
        space=space,
        operators=[spy],
        cheap_objectives={"params": count_params},
        n_proposals=16,
        parent_selection=uniform,
        child_selection=uniform,
        cut_placement=placement,  # type: ignore[arg-type]
    )
    values = np.array([[count_params(a)] for a in parents], dtype=float)
    assert propose_child(settings, parents, values, [], set(), np.random.default_rng(0)) is None
    sizes = [count_params(a) for a in parents]
    assert {sizes.index(size) for size, _ in spy.calls} == {0, 1, 2}
    for size, by_size in spy.calls:
        assert by_size == expected[sizes.index(size)]


def _synthetic_study(
    directory: pathlib.Path, largest_initial_first: bool, seed: int
) -> tuple[optuna.Study, LemonadeSampler]:
    """A study of 1x28x28 networks, checkpoints in ``directory/seed``."""
    sampler = LemonadeSampler(
        SearchSpace((1, 28, 28), 10),
        artifact_store=FileSystemArtifactStore(str(directory)),
        largest_initial_first=largest_initial_first,
        seed=seed,
    )
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    return study, sampler


def _run(study: optuna.Study, sampler: LemonadeSampler, errors: dict[int, float], n: int) -> None:
    """``n`` trials whose error falls with the parameters, or is ``errors[params]``."""

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        child = sampler.child(trial)
        child.save()
        params = child.cheap_objectives["params"]
        return errors.get(int(params), 1.0 / math.log(params)), params

    study.optimize(objective, n_trials=n)


def test_largest_initial_first_makes_the_first_child_of_the_largest_initial_network(
    tmp_path: pathlib.Path,
) -> None:
    """The first child's parent is trial 2 (145k parameters) on every seed; without the
    option it is drawn by density, and not always trial 2; after the first child the
    option draws by density again."""
    parents_without = set()
    later = set()
    for seed in range(6):
        study, sampler = _synthetic_study(tmp_path, True, seed)
        _run(study, sampler, {}, 8)
        decisions = [sampler.decision(t) for t in study.trials]
        assert decisions[3].kind == "child" and decisions[3].parent == 2, seed
        later.update(d.parent for d in decisions[4:])
        study, sampler = _synthetic_study(tmp_path, False, seed)
        _run(study, sampler, {}, 4)
        parents_without.add(sampler.decision(study.trials[3]).parent)
    assert parents_without != {2}
    assert len(later) > 1


def test_largest_initial_first_skips_a_dominated_or_already_parent_network(
    tmp_path: pathlib.Path,
) -> None:
    # The 145k network worse than the 37k one: off the front, not a parent.
    study, sampler = _synthetic_study(tmp_path, True, 0)
    sizes = [count_params(a) for a in SearchSpace((1, 28, 28), 10).initial_architectures()]
    _run(study, sampler, {sizes[1]: 0.10, sizes[2]: 0.20}, 5)
    assert all(sampler.decision(t).parent != 2 for t in study.trials[3:])
    # A child of it running (ask and tell, two workers): the next child is not forced.
    parents = set()
    for seed in range(6):
        study, sampler = _synthetic_study(tmp_path, True, seed)
        _run(study, sampler, {}, 3)
        first, second = study.ask(), study.ask()
        assert sampler.decision(first).parent == 2
        parents.add(sampler.decision(second).parent)
    assert parents != {2}


class _NotForTheLargest(Operator):
    """``widen``, but with no valid place in networks of 100k parameters or more."""

    name = "widen_small"
    exact = True

    def __init__(self) -> None:
        from optuna_lemonade.morphisms import get_operator

        self._widen = get_operator("widen")

    def candidates(self, arch: Architecture, space: SearchSpace) -> list[Mutation]:
        return [] if count_params(arch) >= 100_000 else self._widen.candidates(arch, space)


def test_largest_initial_first_falls_back_when_no_operator_applies_to_it(
    tmp_path: pathlib.Path,
) -> None:
    """The 145k initial network cannot be a parent with these operators: the first
    child is drawn from the others, with no warning and no restart."""
    sampler = LemonadeSampler(
        SearchSpace((1, 28, 28), 10),
        operators=[_NotForTheLargest()],
        artifact_store=FileSystemArtifactStore(str(tmp_path)),
        largest_initial_first=True,
        seed=0,
    )
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LemonadeWarning)
        _run(study, sampler, {}, 5)
    decisions = [sampler.decision(t) for t in study.trials[3:]]
    assert all(d.kind == "child" and d.parent in (0, 1) for d in decisions)
