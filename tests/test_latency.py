"""The latency objective: measurement, its caches, and its sharing through the study."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import optuna
import pytest
import torch

from optuna_lemonade import SearchSpace
from optuna_lemonade._storage_keys import MEASURED_PREFIX
from optuna_lemonade.cheap_objectives import analytic_num_macs
from optuna_lemonade.cheap_objectives import SharedCheapObjective
from optuna_lemonade.latency import Latency
from optuna_lemonade.sampler import LemonadeSampler
from optuna_lemonade.sampler import LemonadeWarning
from tests.conftest import subprocess_env


SPREAD = 3.0
"""Repeated measurements of one architecture (each a median of 15 runs) agree within
this factor, max / min, here and on shared CI machines; on an idle machine they agree
far better (benchmarks/README.md, "Latency objective")."""


@pytest.fixture(scope="module")
def small_and_large() -> tuple:
    space = SearchSpace((1, 28, 28), 10, initial_widths=(4, 96), initial_depth=1)
    small, large = space.initial_architectures()
    assert analytic_num_macs(large) > 100 * analytic_num_macs(small)
    return small, large


def test_options_are_checked() -> None:
    for options, message in [
        ({"batch_size": 0}, "batch_size"),
        ({"repeats": 0}, "repeats"),
        ({"warmup": -1}, "warmup"),
        ({"threads": 0}, "threads"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"repeats": True}, "repeats"),
        ({"device": "nowhere"}, "not a PyTorch device"),
    ]:
        with pytest.raises(ValueError, match=message):
            Latency(**options)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            Latency(device="cuda")


def test_a_measurement_reports_every_run_and_its_cost(small_and_large) -> None:
    small, _ = small_and_large
    measurement = Latency(repeats=7, warmup=1).measure(small)
    assert len(measurement.times_ms) == 7
    assert all(t > 0 for t in measurement.times_ms)
    assert min(measurement.times_ms) <= measurement.median_ms
    assert measurement.median_ms <= float(np.median(measurement.times_ms))
    assert measurement.iqr_ms >= 0
    assert measurement.seconds * 1000 >= sum(measurement.times_ms)


def test_repeated_measurements_agree_within_the_stated_spread(small_and_large) -> None:
    _, large = small_and_large
    latency = Latency()
    medians = [latency.measure(large).median_ms for _ in range(5)]
    assert max(medians) / min(medians) <= SPREAD, medians


def test_a_network_with_far_more_multiply_adds_measures_slower(small_and_large) -> None:
    small, large = small_and_large
    latency = Latency()
    # Interleaved, so that a burst of load elsewhere hits both.
    pairs = [
        (latency.measure(small).median_ms, latency.measure(large).median_ms) for _ in range(3)
    ]
    assert all(fast < slow for fast, slow in pairs), pairs


def test_threads_are_restored(small_and_large) -> None:
    small, _ = small_and_large
    before = torch.get_num_threads()
    Latency(threads=1, repeats=2).measure(small)
    assert torch.get_num_threads() == before


def test_each_architecture_is_measured_once(small_and_large, monkeypatch) -> None:
    small, large = small_and_large
    latency = Latency(repeats=2)
    calls = []
    real = latency.measure
    monkeypatch.setattr(latency, "measure", lambda arch: calls.append(arch) or real(arch))
    values = [latency(small), latency(large), latency(small), latency(large)]
    assert calls == [small, large]
    assert values[0] == values[2] and values[1] == values[3]
    assert [key for key, _ in latency.take_measured()] == [latency.key(small), latency.key(large)]
    assert latency.take_measured() == []


def test_keys_follow_the_architecture_not_the_object(small_and_large) -> None:
    small, large = small_and_large
    again = type(small).from_json(small.to_json())
    reordered = small.replace_nodes(reversed(small.nodes))
    assert Latency.key(again) == Latency.key(small) == Latency.key(reordered)
    assert Latency.key(small) != Latency.key(large)


def test_namespace_separates_settings() -> None:
    assert Latency().namespace == Latency().namespace
    assert Latency().namespace != Latency(batch_size=8).namespace
    assert Latency().namespace != Latency(threads=2).namespace
    assert isinstance(Latency(), SharedCheapObjective)
    assert not isinstance(analytic_num_macs, SharedCheapObjective)


def test_remember_skips_malformed_entries(small_and_large, monkeypatch) -> None:
    small, _ = small_and_large
    latency = Latency()
    key = latency.key(small)
    latency.remember([("not hex!", 1.0), (key, float("nan")), (key, -2.0), (key, True)])
    monkeypatch.setattr(latency, "measure", lambda arch: pytest.fail("measured again"))
    latency.remember([(key, 0.25)])
    assert latency(small) == 0.25


def _objective(sampler: LemonadeSampler):
    def objective(trial: optuna.Trial) -> tuple[float, float, float]:
        child = sampler.child(trial)
        child.save()
        return (
            float(trial.number % 3),
            child.cheap_objectives["params"],
            child.cheap_objectives["latency"],
        )

    return objective


def test_the_sampler_selects_on_latency_and_stores_measurements(tmp_path) -> None:
    space = SearchSpace((1, 8, 8), 4, initial_widths=(4, 8))
    sampler = LemonadeSampler(
        space,
        cheap_objectives=["params", Latency(repeats=3, warmup=1)],
        artifact_store=optuna.artifacts.FileSystemArtifactStore(str(tmp_path)),
        seed=0,
    )
    study = optuna.create_study(directions=["minimize"] * 3, sampler=sampler)
    study.optimize(_objective(sampler), n_trials=6)
    attrs = study._storage.get_study_system_attrs(study._study_id)
    logs = {k: v for k, v in attrs.items() if k.startswith(MEASURED_PREFIX)}
    assert len(logs) == 1  # one worker, one chunk
    entries = dict(map(tuple, next(iter(logs.values()))))
    for trial in study.trials:
        decision = sampler.decision(trial)
        assert decision is not None
        assert entries[Latency.key(decision.architecture)] == trial.values[2]


def test_tampered_measurements_are_ignored_with_a_warning(tmp_path) -> None:
    space = SearchSpace((1, 8, 8), 4, initial_widths=(4, 8))
    latency = Latency(repeats=2, warmup=0)
    sampler = LemonadeSampler(
        space,
        cheap_objectives=["params", latency],
        artifact_store=optuna.artifacts.FileSystemArtifactStore(str(tmp_path)),
        seed=0,
    )
    study = optuna.create_study(directions=["minimize"] * 3, sampler=sampler)
    prefix = f"{MEASURED_PREFIX}latency:{latency.namespace}:"
    storage, study_id = study._storage, study._study_id
    storage.set_study_system_attr(study_id, f"{prefix}forged:0", {"not": "a list"})
    storage.set_study_system_attr(study_id, f"{prefix}forged:1", [["abc", "fast"], [1, 2], None])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study.optimize(_objective(sampler), n_trials=4)
    assert len([t for t in study.trials if t.state.name == "COMPLETE"]) == 4
    messages = [str(w.message) for w in caught if issubclass(w.category, LemonadeWarning)]
    assert any("forged:0" in m and "is not a list" in m for m in messages)
    assert any("forged:1" in m and "ignored" in m for m in messages)


WORKER = textwrap.dedent(
    """
    import json, sys
    import optuna
    from optuna_lemonade import SearchSpace
    from optuna_lemonade.latency import Latency
    from optuna_lemonade.sampler import LemonadeSampler

    storage, artifacts, trials = sys.argv[1], sys.argv[2], int(sys.argv[3])
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    latency = Latency(repeats=3, warmup=1)
    measured = []
    real = latency.measure
    def counting(arch):
        measured.append(Latency.key(arch))
        return real(arch)
    latency.measure = counting
    space = SearchSpace((1, 8, 8), 4, initial_widths=(4, 8))
    sampler = LemonadeSampler(
        space,
        cheap_objectives=["params", latency],
        artifact_store=optuna.artifacts.FileSystemArtifactStore(artifacts),
        seed=len(sys.argv),
    )
    study = optuna.load_study(study_name="latency", storage=storage, sampler=sampler)
    def objective(trial):
        child = sampler.child(trial)
        child.save()
        costs = child.cheap_objectives
        return float(trial.number % 3), costs["params"], costs["latency"]
    study.optimize(objective, n_trials=trials)
    before = len(measured)
    # every architecture any trial of the study trained, asked again
    values = {}
    for trial in study.trials:
        arch = sampler.decision(trial).architecture
        values[Latency.key(arch)] = latency(arch)
    print(json.dumps({"measured": measured, "asked_after": len(measured) - before,
                      "values": values}))
    """
)


def _worker(tmp_path: pathlib.Path, storage: str, trials: int) -> dict:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    result = subprocess.run(
        [sys.executable, str(script), storage, str(tmp_path / "artifacts"), str(trials)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=subprocess_env(),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_measurements_are_shared_by_processes_and_survive_a_restart(tmp_path) -> None:
    (tmp_path / "artifacts").mkdir()
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    optuna.create_study(study_name="latency", storage=storage, directions=["minimize"] * 3)
    first = _worker(tmp_path, storage, trials=5)
    assert first["measured"] and first["asked_after"] == 0
    # A second process on the same study: it trains more, and every architecture the
    # first process measured is taken from the study, never measured again.
    second = _worker(tmp_path, storage, trials=3)
    assert not set(second["measured"]) & set(first["measured"])
    assert second["asked_after"] == 0
    for key, value in first["values"].items():
        assert second["values"][key] == value
