"""Storage contents are input: forged checkpoint ids and marks never stop the study,
make a worker read a file outside the store, or make retention delete a front network;
and a store that fails mid-upload fails only that trial."""

from __future__ import annotations

import pathlib
import warnings

import optuna
from optuna.artifacts import FileSystemArtifactStore
from optuna.trial import TrialState
import pytest

from optuna_lemonade._storage_keys import CHECKPOINT_KEY
from optuna_lemonade.sampler import LemonadeSampler
from optuna_lemonade.sampler import LemonadeWarning
from tests.sampler.conftest import make_objective


def _search(space, store, data, n_trials: int) -> tuple[LemonadeSampler, optuna.Study]:
    sampler = LemonadeSampler(space, artifact_store=store, seed=0, keep_checkpoints="population")
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    study.optimize(make_objective(sampler, data), n_trials=n_trials)
    return sampler, study


def _tampered_trial(
    sampler: LemonadeSampler, study: optuna.Study, data, values, **attrs: object
) -> optuna.trial.FrozenTrial:
    """One more trial that trains and saves normally; then its system attributes are
    overwritten in the storage (as a buggy script could) before it finishes."""
    trial = study.ask()
    child = sampler.child(trial)
    child.fit([data], [data], epochs=1, lr=0.05, device="cpu")
    for key, value in attrs.items():
        study._storage.set_trial_system_attr(trial._trial_id, key, value)
    study.tell(trial, values)
    return study.trials[trial.number]


@pytest.mark.parametrize(
    "forged, problem",
    [
        ("../victim.txt", "is not an artifact id Optuna makes"),
        ("/etc/passwd", "is not an artifact id Optuna makes"),
        (42, "is not a string"),
        ("0b8a5f02-3c1e-4a6b-9d2c-5e7f8a9b0c1d", "is not an artifact this trial uploaded"),
    ],
)
def test_a_forged_checkpoint_id_is_ignored_and_the_search_goes_on(
    space, tmp_path: pathlib.Path, data, forged: object, problem: str
) -> None:
    (tmp_path / "store").mkdir()
    store = FileSystemArtifactStore(tmp_path / "store")
    victim = tmp_path / "victim.txt"
    victim.write_text("not a checkpoint")
    sampler, study = _search(space, store, data, n_trials=4)
    # Values that would dominate every other trial: the forged trial would be the
    # population's favourite parent.
    forged_trial = _tampered_trial(sampler, study, data, (0.0, 1.0), **{CHECKPOINT_KEY: forged})
    with pytest.warns(LemonadeWarning, match=f"trial {forged_trial.number}: .*{problem}"):
        study.optimize(make_objective(sampler, data), n_trials=4)
    assert [t.state for t in study.trials].count(TrialState.COMPLETE) == 9
    assert forged_trial.number not in {t.number for t in sampler.population(study)}
    assert all(sampler.decision(t).parent != forged_trial.number for t in study.trials)
    assert victim.read_text() == "not a checkpoint"


@pytest.mark.parametrize("forge_meta", [False, True])
def test_a_dominated_trial_naming_a_front_checkpoint_cannot_get_it_deleted(
    space, store, data, forge_meta: bool
) -> None:
    sampler, study = _search(space, store, data, n_trials=5)
    front = sampler.population(study)
    target = front[0]
    target_id = target.system_attrs[CHECKPOINT_KEY]
    attrs: dict[str, object] = {CHECKPOINT_KEY: target_id}
    if forge_meta:  # also forge Optuna's record that the trial uploaded that artifact
        attrs[f"artifacts:{target_id}"] = target.system_attrs[f"artifacts:{target_id}"]
    dominated = _tampered_trial(sampler, study, data, (1.0, 1e9), **attrs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trial = study.ask()  # one decision: retention releases what left the population
    assert target.number in {t.number for t in sampler.population(study)}
    assert (pathlib.Path(store._base_path) / target_id).exists()
    assert sampler.load_model(study.trials[target.number]) is not None
    messages = [str(w.message) for w in caught if issubclass(w.category, LemonadeWarning)]
    if forge_meta:
        assert not messages  # indistinguishable from a real upload, yet still kept
    else:
        assert any(f"trial {dominated.number}: " in m for m in messages)
    study.tell(trial, state=TrialState.FAIL)


def test_a_mark_that_names_no_trial_is_ignored(space, store, data) -> None:
    sampler, study = _search(space, store, data, n_trials=3)
    study._storage.set_study_system_attr(study._study_id, "lemonade:deleted:../x", "junk")
    study._storage.set_study_system_attr(study._study_id, "lemonade:unreadable:", "junk")
    with pytest.warns(LemonadeWarning, match="does not name a trial"):
        study.optimize(make_objective(sampler, data), n_trials=3)
    assert [t.state for t in study.trials].count(TrialState.COMPLETE) == 6


def test_a_forged_retry_number_is_not_a_retry(space, store, data) -> None:
    sampler, study = _search(space, store, data, n_trials=3)
    # A waiting trial as Optuna's retry callbacks make one, with a forged retry number.
    template = optuna.trial.create_trial(
        state=TrialState.WAITING, system_attrs={"failed_trial": "x"}
    )
    study._storage.create_new_trial(study._study_id, template_trial=template)
    study.optimize(make_objective(sampler, data), n_trials=2)
    assert [t.state for t in study.trials].count(TrialState.COMPLETE) == 5
    assert sampler.decision(study.trials[3]).parent is not None  # decided as a new child


class _FullStore(FileSystemArtifactStore):
    """A file-system store whose disk fills up in the middle of every third write."""

    def __init__(self, base_path: pathlib.Path) -> None:
        super().__init__(base_path)
        self.writes = 0

    def write(self, artifact_id: str, content_body) -> None:
        self.writes += 1
        if self.writes % 3:
            return super().write(artifact_id, content_body)
        half = content_body.read(1000)
        (pathlib.Path(self._base_path) / artifact_id).write_bytes(half)
        raise OSError(28, "No space left on device")


def test_a_failed_save_fails_the_trial_and_offers_nothing_half_written(
    space, tmp_path: pathlib.Path, data
) -> None:
    from optuna_lemonade.checkpoints import CheckpointError

    (tmp_path / "store").mkdir()
    store = _FullStore(tmp_path / "store")
    sampler = LemonadeSampler(space, artifact_store=store, seed=0, keep_checkpoints="population")
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    with pytest.raises(CheckpointError, match=r"trial 2 could not be saved .*No space left"):
        study.optimize(make_objective(sampler, data), n_trials=3)
    assert study.trials[2].state == TrialState.FAIL
    # The search goes on when the objective's caller catches it, as the search command does.
    study.optimize(make_objective(sampler, data), n_trials=9, catch=(CheckpointError,))
    failed = {t.number for t in study.trials if t.state == TrialState.FAIL}
    assert len(failed) == 4  # every third save
    assert all(CHECKPOINT_KEY not in study.trials[n].system_attrs for n in failed)
    assert all(sampler.decision(t).parent not in failed for t in study.trials)
    for trial in sampler.population(study):
        assert sampler.load_model(trial) is not None


class _UndeletableStore(FileSystemArtifactStore):
    """A store that refuses every delete (a read-only bucket policy, say)."""

    def remove(self, artifact_id: str) -> None:
        raise PermissionError(13, "Permission denied", artifact_id)


def test_a_store_that_refuses_deletes_only_warns(space, tmp_path: pathlib.Path, data) -> None:
    (tmp_path / "store").mkdir()
    store = _UndeletableStore(tmp_path / "store")
    sampler = LemonadeSampler(space, artifact_store=store, seed=0, keep_checkpoints="population")
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    with pytest.warns(LemonadeWarning, match=r"could not be deleted .*Permission denied"):
        study.optimize(make_objective(sampler, data), n_trials=12)
    assert [t.state for t in study.trials].count(TrialState.COMPLETE) == 12
    assert len(list((tmp_path / "store").iterdir())) == 12  # all still there
