"""Bad input end to end: non-finite values, double saves, invalid stored decisions."""

from __future__ import annotations

import math
import pathlib

import optuna
from optuna.artifacts import FileSystemArtifactStore
from optuna.trial import TrialState
import pytest

from optuna_lemonade import SearchSpace
from optuna_lemonade._storage_keys import CHECKPOINT_KEY
from optuna_lemonade._storage_keys import DECISION_KEY
from optuna_lemonade.sampler import LemonadeSampler
from optuna_lemonade.sampler import LemonadeWarning
from tests.sampler.conftest import train_briefly


def _study(sampler: LemonadeSampler) -> optuna.Study:
    return optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_values_never_make_a_parent(space, store, data, bad: float) -> None:
    sampler = LemonadeSampler(space, artifact_store=store, seed=0)
    study = _study(sampler)

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        child = sampler.child(trial)
        error = train_briefly(child.model, data)
        child.save()
        if trial.number % 3 == 1:
            return bad, child.cheap_objectives["params"]  # NaN fails; inf completes
        return error, child.cheap_objectives["params"]

    study.optimize(objective, n_trials=15)
    bad_trials = {t.number for t in study.trials if t.number % 3 == 1}
    expected = TrialState.FAIL if math.isnan(bad) else TrialState.COMPLETE
    assert all(study.trials[n].state == expected for n in bad_trials)
    for trial in study.trials:
        assert sampler.decision(trial).parent not in bad_trials
    assert not bad_trials & {t.number for t in sampler.population(study)}


def test_save_twice_replaces_the_checkpoint(space, store, data) -> None:
    sampler = LemonadeSampler(space, artifact_store=store, seed=0)
    study = _study(sampler)
    trial = study.ask()
    child = sampler.child(trial)
    first = child.save()
    train_briefly(child.model, data)
    second = child.save()
    assert first != second
    files = {p.name for p in pathlib.Path(store._base_path).iterdir()}
    assert second in files and first not in files
    study.tell(trial, (0.5, 100.0))
    assert study.trials[0].system_attrs[CHECKPOINT_KEY] == second
    loaded = sampler.load_model(study.trials[0])
    assert all(v.equal(child.model.state_dict()[k].cpu()) for k, v in loaded.state_dict().items())


def test_an_invalid_stored_decision_is_ignored_with_a_warning(space, store, data) -> None:
    sampler = LemonadeSampler(space, artifact_store=store, seed=0)
    study = _study(sampler)
    for _ in range(4):
        trial = study.ask()
        child = sampler.child(trial)
        child.save()
        study.tell(trial, (0.5 - 0.1 * trial.number, child.cheap_objectives["params"]))
    # Someone writes a broken decision into a finished trial's storage record.
    forged = study.ask()
    sampler.child(forged).save()
    decision = dict(study.trials[forged.number].system_attrs[DECISION_KEY])
    decision["architecture"] = {"format": "nope"}
    study._storage.set_trial_system_attr(forged._trial_id, DECISION_KEY, decision)
    study.tell(forged, (0.0, 1.0))  # would dominate everything
    fresh = LemonadeSampler(space, artifact_store=store, seed=0)
    study = optuna.load_study(study_name=study.study_name, storage=study._storage, sampler=fresh)
    with pytest.warns(LemonadeWarning, match="invalid decision"):
        population = fresh.population(study)
    assert forged.number not in {t.number for t in population}
    with pytest.raises(RuntimeError), pytest.warns(LemonadeWarning):
        fresh.load_model(study.trials[forged.number])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(heartbeat_interval=1.0), "both"),
        (dict(grace_period=3.0), "both"),
        (dict(heartbeat_interval=2.0, grace_period=1.0), "longer"),
        (dict(heartbeat_interval=-1.0, grace_period=3.0), "positive"),
    ],
)
def test_bad_heartbeat_options(space, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        LemonadeSampler(space, **kwargs)


@pytest.mark.parametrize("value", ["median", "", None, True])
def test_bad_cut_placement(space, value) -> None:
    with pytest.raises(ValueError, match="cut_placement must be one of"):
        LemonadeSampler(space, cut_placement=value)


def test_the_default_artifact_store_announces_its_directory(
    space: SearchSpace,
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    optuna.logging.set_verbosity(optuna.logging.INFO)
    LemonadeSampler(space)
    assert f"checkpoints go to {tmp_path / 'lemonade-checkpoints'}" in capfd.readouterr().err
    LemonadeSampler(space, artifact_store=FileSystemArtifactStore(tmp_path))
    assert "checkpoints go to" not in capfd.readouterr().err
    assert not (tmp_path / "lemonade-checkpoints").exists()  # made on the first save only


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_bad_largest_initial_first(space, value) -> None:
    with pytest.raises(TypeError, match="largest_initial_first must be True or False"):
        LemonadeSampler(space, largest_initial_first=value)
