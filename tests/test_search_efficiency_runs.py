"""The search-efficiency benchmark's ablation helpers: the retrain operator, the
half-way check, parent selection by time spent, child selection by parameters per
multiply-add and the initial networks' children first."""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import subprocess
import sys

import numpy as np
import optuna
import pytest
import torch

from optuna_lemonade import build_model
from optuna_lemonade import SearchSpace
from optuna_lemonade.morphisms import apply_mutation
from optuna_lemonade.morphisms import Mutation


sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "benchmarks"))
import _machine_speed  # benchmarks/ is not a package
import _retrain_operator
import _search_runs


SPACE = SearchSpace((1, 8, 8), 3)


def _config(budget: float, *, workers: int = 1, parallel: str = "processes") -> argparse.Namespace:
    """A search-efficiency configuration for runs of a few seconds on 300 digits."""
    return argparse.Namespace(
        dataset="digits",
        data_dir=None,
        train_size=300,
        validation_size=200,
        budget=budget,
        scratch_epochs=1.0,
        child_epochs=1.0,
        lr=0.05,
        device="cpu",
        workers=workers,
        parallel=parallel,
        baseline_parallel=parallel,
        threads=1,
        report_at=[budget / 60],
        baseline_space="plain",
    )


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
    for params, seconds in [(5000, 2), (5200, 2), (4800, 2), (5100, 2), (4900, 2), (500_000, 40)]:
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


def test_halves_by_time_draws_from_the_half_with_less_time() -> None:
    """The population split at its median size: parents come from the half whose
    networks took less wall-clock so far, by inverse density within it."""
    study = optuna.create_study(directions=["minimize", "minimize"])
    start = datetime.datetime(2026, 1, 1)

    def add(params: float, seconds: float) -> None:
        trial = optuna.trial.create_trial(values=[0.1, params])
        trial.datetime_start = start
        trial.datetime_complete = start + datetime.timedelta(seconds=seconds)
        study.add_trial(trial)

    # The initial networks: 6.5k and 37k (the median, small half) took 5 + 8 s; 145k 15 s.
    for params, seconds in [(6534, 5), (36770, 8), (144954, 15)]:
        add(params, seconds)
    halves = _search_runs.HalvesByTime()
    halves.study = study
    population = np.array([[6534.0], [36770.0], [144954.0]])
    p = halves(population, population)
    assert p[2] == 0.0 and p.sum() == pytest.approx(1.0)
    assert np.allclose(p[:2], _search_runs.inverse_density(population[:2], population))
    # Three small children (3 s each): the small half has 22 s, the large 15 s.
    for params in (4000, 5000, 9000):
        add(params, 3)
    assert halves(population, population).tolist() == [0.0, 0.0, 1.0]
    # A dominated large trial counts too: 40 s more for the large half.
    add(300_000, 40)
    assert halves(population, population)[2] == 0.0
    # One network: nothing to split.
    assert halves(population[:1], population[:1]).tolist() == [1.0]
    # lemonade-halves2: split at 37k, a half only outside 1.5 times. Tiny networks on
    # the front move the median, not this split: with two of 300 parameters (1 s each),
    # 24 s up to 37k against 55 s over it: the small half.
    for params in (300, 300):
        add(params, 1)
    halves2 = _search_runs.HalvesByTime(1.5, split=36770)
    halves2.study = study
    tiny = np.array([[300.0], [300.0], [300.0], [6534.0], [36770.0], [144954.0]])
    p = halves2(tiny, tiny)
    assert p[5] == 0.0 and p[:5].sum() == pytest.approx(1.0)
    # The median split (3.4k) sets the 300-parameter networks' 2 s against all the rest.
    assert np.all(halves(tiny, tiny)[3:] == 0.0)
    # 24 s more at 12-15k: 48 s against 55, within 1.5 times: density over everything.
    for params in (12_000, 15_000):
        add(params, 12)
    assert np.allclose(halves2(tiny, tiny), _search_runs.inverse_density(tiny, tiny))
    # Only networks on one side of the split: density.
    assert np.allclose(
        halves2(tiny[:3], tiny[:3]), _search_runs.inverse_density(tiny[:3], tiny[:3])
    )
    large = np.array([[50_000.0], [144954.0]])
    assert np.allclose(halves2(large, large), _search_runs.inverse_density(large, large))


@pytest.mark.parametrize(
    ("objectives", "workers"), [(["error", "params", "macs"], 1), (["error", "params"], 2)]
)
def test_halves_needs_two_objectives_and_one_worker(objectives: list[str], workers: int) -> None:
    """``lemonade-halves`` reads parameters as the second value of one worker's study:
    other objectives or workers stop the run before any training, naming both needs."""
    config = _config(5.0, workers=workers)
    data = _search_runs.load_benchmark_data(config)
    loaders = data.loaders(batch_size=64, seed=0)
    with pytest.raises(SystemExit, match="--objectives error,params and --workers 1"):
        _search_runs.Run("lemonade-halves2", 0, config, data, loaders, objectives)


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


def test_largest_first_gives_only_the_largest_initial_network_a_child_first() -> None:
    """``lemonade-largefirst``: the initial network with the most parameters is the
    parent until it has a child, whatever its trial number; the others are left to
    inverse density, as is everything once it is gone from the population."""
    study = optuna.create_study(directions=["minimize", "minimize"])
    for error, params in [(0.10, 144954), (0.17, 6534), (0.11, 36770)]:
        study.add_trial(optuna.trial.create_trial(values=[error, params]))
    first = _search_runs.InitialFirst(3, largest_only=True)
    first.study = study
    population = np.array([[6534.0], [36770.0], [144954.0]])
    assert first(population, population).tolist() == [0, 0, 1]
    # Dominated before its first child: density decides, not the next initial network.
    without_largest = population[:2]
    p = first(without_largest, without_largest)
    assert np.allclose(p, _search_runs.inverse_density(without_largest, without_largest))
    child = optuna.trial.create_trial(values=[0.09, 181978], user_attrs={"lemonade_parent": 0})
    study.add_trial(child)
    grown = np.vstack([population, [[181978.0]]])
    assert np.allclose(first(grown, grown), _search_runs.inverse_density(grown, grown))


@pytest.mark.parametrize("parallel", ["processes", "threads"])
def test_a_run_with_two_workers_records_the_trials_of_both(parallel: str) -> None:
    """``--workers 2``: the baselines use the cores as LEMONADE does. Worker processes
    share one journal-file study, each baseline worker with a seed of its own (with one
    seed both would sample the same networks); every trial keeps its origin and time."""
    # 15 s: worker processes start in a few seconds (torch's import, the data).
    config = _config(15.0, workers=2, parallel=parallel)
    data = _search_runs.load_benchmark_data(config)
    loaders = data.loaders(batch_size=64, seed=0)
    for method in ("random-1", "lemonade"):
        result = _search_runs.Run(method, 0, config, data, loaders, ["error", "params"]).run()
        trials = result["trials"]
        assert (result["workers"], result["parallel"]) == (2, parallel)
        assert len(trials) >= 4, method
        assert len({t["number"] for t in trials}) == len(trials)
        assert all(t["origin"] is not None and t["seconds"] > 0 for t in trials)
        assert all(0.0 <= t["values"][0] <= 1.0 for t in trials)
        assert result["front"] and all("test_error" in t for t in result["front"])
        if method == "lemonade":
            assert any(t["origin"] != "scratch" for t in trials)  # children were made


def test_the_final_phase_takes_the_best_network_of_each_cap_once() -> None:
    import _final_phase

    study = optuna.create_study(directions=["minimize", "minimize"])
    networks = [(0.30, 900), (0.20, 4000), (0.12, 9000), (0.15, 60_000), (0.10, 200_000)]
    for error, params in networks:
        study.add_trial(optuna.trial.create_trial(values=[error, params]))
    chosen = _final_phase.best_per_cap(study.trials, params=1)
    # any: 200k; <= 100k and <= 25k and <= 10k: the 9k network; <= 5k: the 4k one.
    assert [t.values[1] for t in chosen] == [200_000, 9000, 4000]


def test_a_run_with_a_final_phase_records_the_networks_it_trained_further() -> None:
    """``lemonade-final``: the search stops at 80 % of the budget, then the best
    networks train on; each is a trial of its own, with the parameters of the trial it
    continued, finished by the end of the budget; each, the network it continued and
    every front network have a test error."""
    import _final_phase

    config = _config(20.0)
    data = _search_runs.load_benchmark_data(config)
    loaders = data.loaders(batch_size=64, seed=0)
    run = _search_runs.Run("lemonade-final", 0, config, data, loaders, ["error", "params"])
    # Half the budget instead of the variant's 20 %: a network of digits trains an
    # epoch in 1-2 s here, and the test must not depend on the machine's speed.
    run.final = _final_phase.FinalPhase(0.5)
    result = run.run()
    trials = {t["number"]: t for t in result["trials"]}
    final = [t for t in trials.values() if t["origin"].startswith("final of ")]
    assert final
    for trial in final:
        continued = trials[int(trial["origin"].split()[-1])]
        assert trial["values"][1] == continued["values"][1]
        assert continued["seconds"] <= 0.5 * config.budget + 5.0  # the search's last trial
        # Each network's share is estimated from its own trial's seconds per epoch; on a
        # loaded machine the last one may end a little late (then it does not count).
        assert trial["seconds"] <= 1.5 * config.budget and trial["epochs"] >= 0.5
        assert 0.0 <= trial["test_error"] <= 1.0 and 0.0 <= continued["test_error"] <= 1.0
    assert all("test_error" in t for t in result["front"])


def test_a_grown_child_trains_longer_by_how_much_it_grew_at_most_twice() -> None:
    parent = optuna.trial.create_trial(values=[0.1, 10_000])
    assert _search_runs.growth_factor(parent, 15_000, 1, 2.0) == 1.5
    assert _search_runs.growth_factor(parent, 50_000, 1, 2.0) == 2.0
    assert _search_runs.growth_factor(parent, 8_000, 1, 2.0) == 1.0  # a cut: the rule's own


def test_the_margin_front_keeps_a_network_beaten_by_less_than_the_margin() -> None:
    import _error_margin

    minimize = [optuna.study.StudyDirection.MINIMIZE] * 2
    # (error, params): the large network is 0.8 points behind a third of its size.
    trials = [
        optuna.trial.create_trial(values=list(values))
        for values in [(0.20, 1_000), (0.102, 47_000), (0.110, 145_000), (0.130, 60_000)]
    ]
    plain = _error_margin.pareto_front(trials, minimize)
    assert [t.values[1] for t in plain] == [1_000, 47_000]
    kept = _error_margin.margin_front(0.01)(trials, minimize)
    # 145k: 0.8 points behind, kept; 60k: 2.8 points behind the 47k network, out.
    assert [t.values[1] for t in kept] == [1_000, 47_000, 145_000]
    assert [t.values[1] for t in _error_margin.margin_front(0.005)(trials, minimize)] == [
        1_000,
        47_000,
    ]
    # Directions count: accuracy maximised instead of error minimised.
    accuracy = [optuna.trial.create_trial(values=[1 - t.values[0], t.values[1]]) for t in trials]
    directions = [optuna.study.StudyDirection.MAXIMIZE, optuna.study.StudyDirection.MINIMIZE]
    kept = _error_margin.margin_front(0.01)(accuracy, directions)
    assert [t.values[1] for t in kept] == [1_000, 47_000, 145_000]
    with pytest.raises(ValueError, match="margin"):
        _error_margin.margin_front(-0.1)


def test_the_largest_within_the_margin_is_kept_beside_the_front_and_no_other() -> None:
    import _error_margin

    minimize = [optuna.study.StudyDirection.MINIMIZE] * 2
    # (error, params): 145k and 300k are both within a point of the 47k network.
    trials = [
        optuna.trial.create_trial(values=list(values))
        for values in [
            (0.20, 1_000),
            (0.102, 47_000),
            (0.110, 145_000),
            (0.108, 300_000),
            (0.130, 600_000),
        ]
    ]
    assert [t.values[1] for t in _error_margin.margin_front(0.01)(trials, minimize)] == [
        1_000,
        47_000,
        145_000,
        300_000,
    ]
    keep = _error_margin.largest_within_margin_front(0.01)
    assert [t.values[1] for t in keep(trials, minimize)] == [1_000, 47_000, 300_000]
    # Nothing within the margin beyond the front: the front alone.
    assert [t.values[1] for t in keep(trials[:2], minimize)] == [1_000, 47_000]
    # Ties in size: the lower error.
    tied = [*trials[:2], optuna.trial.create_trial(values=[0.109, 300_000]), trials[3]]
    assert [t.values for t in keep(tied, minimize)][-1] == [0.108, 300_000]
    assert keep([], minimize) == []
    with pytest.raises(ValueError, match="margin"):
        _error_margin.largest_within_margin_front(-0.1)


def test_a_variant_names_one_population_filter_at_most() -> None:
    import _error_margin

    assert _error_margin.population_filter({}) is None
    assert _error_margin.population_filter({"error_margin": 0.01}).__qualname__.startswith(
        "margin_front."
    )
    assert _error_margin.population_filter({"keep_largest": 0.01}).__qualname__.startswith(
        "largest_within_margin_front."
    )
    with pytest.raises(ValueError, match="not both"):
        _error_margin.population_filter({"error_margin": 0.01, "keep_largest": 0.01})


@pytest.mark.parametrize(
    ("method", "factory"),
    [("lemonade-margin", "margin_front"), ("lemonade-keeplarge", "largest_within_margin_front")],
)
def test_a_run_with_a_margin_filters_its_population_by_it_only_while_it_optimises(
    method: str, factory: str
) -> None:
    """``lemonade-margin`` and ``-keeplarge``: while the run optimises, the sampler's
    population is their filter; afterwards the library's own filter is back."""
    from optuna_lemonade.sampler import _population

    original = _population.pareto_front
    seen: list[int] = []

    class Probe(_search_runs.Run):
        def objective(self, trial: optuna.Trial) -> list[float]:
            assert isinstance(self.sampler, _search_runs.LemonadeSampler)
            seen.append(len(self.sampler.population(trial.study)))
            assert _population.pareto_front.__qualname__.startswith(f"{factory}.")
            return super().objective(trial)

    config = _config(8.0)
    data = _search_runs.load_benchmark_data(config)
    loaders = data.loaders(batch_size=64, seed=0)
    result = Probe(method, 0, config, data, loaders, ["error", "params"]).run()
    assert result["trials"] and seen  # how many the 8 s allow depends on the machine
    assert _population.pareto_front is original


def test_a_machine_of_another_speed_is_named_and_one_alike_passes() -> None:
    runs = [{"calibration_seconds": s} for s in (0.6, 0.67, 0.8)] + [{"method": "old"}]
    assert _machine_speed.kept_calibration(runs) == pytest.approx(0.67)
    assert _machine_speed.speed_mismatch(1.0, runs) is None  # 1.5 times: within 1.6
    assert _machine_speed.speed_mismatch(0.45, runs) is None
    slow = _machine_speed.speed_mismatch(1.76, runs)
    assert slow is not None and "1.76 s" in slow and "0.67 s" in slow and "2.6 times" in slow
    fast = _machine_speed.speed_mismatch(0.2, runs)
    assert fast is not None and "3.4 times faster" in fast
    assert _machine_speed.speed_mismatch(5.0, [{"method": "old"}]) is None  # nothing to go by
    with pytest.raises(ValueError, match="positive"):
        _machine_speed.speed_mismatch(0.0, runs)
    with pytest.raises(ValueError, match="at least 1"):
        _machine_speed.speed_mismatch(1.0, runs, tolerance=0.5)


def test_resuming_on_a_machine_of_another_speed_stops_before_any_run(
    tmp_path: pathlib.Path,
) -> None:
    script = pathlib.Path(__file__).parents[1] / "benchmarks" / "search_efficiency.py"
    common = [
        sys.executable, str(script), "--dataset", "digits", "--train-size", "300",
        "--validation-size", "200", "--minutes", "0.02", "--methods", "random-3",
        "--no-references", "--threads", "1", "--output-dir", str(tmp_path), "--name", "t",
    ]  # fmt: skip
    subprocess.run([*common, "--seeds", "1"], check=True, capture_output=True, timeout=300)
    path = tmp_path / "t.json"
    results = json.loads(path.read_text())
    assert results["runs"][0]["cpu"] and results["machine"]["cpu"]
    # The kept run as if from a machine a thousand times faster than this one.
    results["runs"][0]["calibration_seconds"] /= 1000
    path.write_text(json.dumps(results))
    refused = subprocess.run(
        [*common, "--seeds", "2", "--resume"], capture_output=True, text=True, timeout=300
    )
    assert refused.returncode == 2
    assert "--resume: the calibration step took" in refused.stderr
    assert "--any-speed" in refused.stderr
    assert len(json.loads(path.read_text())["runs"]) == 1  # nothing ran, nothing written
    anyway = subprocess.run(
        [*common, "--seeds", "2", "--resume", "--any-speed"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert "running anyway (--any-speed)" in anyway.stdout
    assert "warning: seed 1 random-3" in anyway.stdout  # the run itself is named too
    assert [r["seed"] for r in json.loads(path.read_text())["runs"]] == [0, 1]
