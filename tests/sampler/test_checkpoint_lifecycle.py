"""keep_checkpoints="population": disk use bounded by the population, nothing needed lost."""

from __future__ import annotations

import pathlib
import warnings

import optuna
from optuna.trial import TrialState
import pytest

from optuna_lemonade import _storage_keys
from optuna_lemonade._storage_keys import CHECKPOINT_KEY
from optuna_lemonade.sampler import _worker_log
from optuna_lemonade.sampler import deleted_checkpoints
from optuna_lemonade.sampler import LemonadeSampler
from optuna_lemonade.sampler import LemonadeWarning
from tests.sampler.conftest import make_objective


def _files(store) -> set[str]:
    return {path.name for path in pathlib.Path(store._base_path).iterdir()}


@pytest.mark.parametrize("n_jobs", [1, 3])
def test_only_the_population_keeps_checkpoints(space, store, data, n_jobs: int) -> None:
    sampler = LemonadeSampler(space, artifact_store=store, seed=0, keep_checkpoints="population")
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    objective = make_objective(sampler, data)

    def failing(trial: optuna.Trial) -> tuple[float, float]:
        values = objective(trial)
        if trial.number % 7 == 6:
            raise RuntimeError("failed after saving")
        return values

    with warnings.catch_warnings():
        warnings.simplefilter("error", LemonadeWarning)  # no parent may go missing
        study.optimize(failing, n_trials=40, n_jobs=n_jobs, catch=(RuntimeError,))
    states = [t.state for t in study.trials]
    assert states.count(TrialState.COMPLETE) == 40 - states.count(TrialState.FAIL)
    assert states.count(TrialState.FAIL) >= 4
    # One more decision releases what the last trials made obsolete.
    trial = study.ask()
    population = sampler.population(study)
    parent = sampler.decision(study.trials[-1]).parent_trial_id
    kept = _files(store)
    expected = {t.system_attrs[CHECKPOINT_KEY] for t in population}
    parent_checkpoints = {
        t.system_attrs[CHECKPOINT_KEY] for t in study.trials if t._trial_id == parent
    }
    assert expected <= kept
    assert kept <= expected | parent_checkpoints
    assert len(kept) < 40 // 2
    study.tell(trial, state=TrialState.FAIL)


def test_keep_all_keeps_everything(space, store, data) -> None:
    sampler = LemonadeSampler(space, artifact_store=store, seed=0)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    study.optimize(make_objective(sampler, data), n_trials=15)
    assert len(_files(store)) == 15


def test_a_running_childs_parent_is_never_deleted(space, store, data) -> None:
    """A parent chosen by a running trial keeps its checkpoint even after it is
    dominated, until that trial has finished."""
    sampler = LemonadeSampler(space, artifact_store=store, seed=1, keep_checkpoints="population")
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    objective = make_objective(sampler, data)
    study.optimize(objective, n_trials=6)
    slow = study.ask()  # decided now; trained last
    parent = study.trials[sampler.decision(study.trials[slow.number]).parent]
    # Make every current network dominated: a trial that beats all on both objectives.
    best = study.ask()
    sampler.child(best).save()
    study.tell(best, (0.0, 1.0))
    for _ in range(3):
        study.optimize(objective, n_trials=1)
    assert parent.number not in {t.number for t in sampler.population(study)}
    assert parent.system_attrs[CHECKPOINT_KEY] in _files(store)
    child = sampler.child(slow)  # still loads its parent
    child.save()
    study.tell(slow, (0.5, child.cheap_objectives["params"]))
    study.optimize(objective, n_trials=1)
    assert parent.system_attrs[CHECKPOINT_KEY] not in _files(store)


def test_bad_option(space) -> None:
    with pytest.raises(ValueError, match="keep_checkpoints"):
        LemonadeSampler(space, keep_checkpoints="some")


def test_removal_through_backoff(tmp_path: pathlib.Path) -> None:
    """optuna.artifacts.Backoff around a store: a deleted file is gone and no error is
    raised, whatever Backoff reports after a successful delete."""
    import io

    from optuna.artifacts import Backoff
    from optuna.artifacts import FileSystemArtifactStore

    from optuna_lemonade.checkpoints import CheckpointStore

    backend = FileSystemArtifactStore(str(tmp_path))
    store = CheckpointStore(Backoff(backend, max_retries=2, min_delay=0.001, max_delay=0.002))
    backend.write("a", io.BytesIO(b"x"))
    store.remove("a")
    assert not (tmp_path / "a").exists()
    assert store.remove("a") is False  # already gone: not an error


def _lemonade_attrs(study: optuna.Study) -> dict:
    attrs = study._storage.get_study_system_attrs(study._study_id)
    return {k: v for k, v in attrs.items() if k.startswith("lemonade:")}


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_deletions_are_logged_in_few_keys_one_per_worker_chunk(
    space, store, data, monkeypatch, n_jobs: int
) -> None:
    monkeypatch.setattr(_worker_log, "CHUNK", 4)
    samplers = [
        LemonadeSampler(space, artifact_store=store, seed=s, keep_checkpoints="population")
        for s in range(2)
    ]
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=samplers[0])
    for worker in [0, 1, 0]:  # two workers (sampler objects) take turns on one study
        study.sampler = samplers[worker]
        study.optimize(make_objective(samplers[worker], data), n_trials=8, n_jobs=n_jobs)
    deleted = deleted_checkpoints(study)
    attrs = _lemonade_attrs(study)
    logs = [k for k in attrs if k.startswith(_storage_keys.DELETION_LOG_PREFIX)]
    workers = {k.split(":")[2] for k in logs}
    assert len(workers) == 2
    assert len(logs) <= sum(-(-n // 4) for n in _entries_per_worker(attrs).values())
    assert not [k for k in attrs if k.startswith(_storage_keys.DELETED_PREFIX)]
    # Every checkpoint file gone is in a log with its id, none twice; the rest are kept.
    ids = {t.number: t.system_attrs.get(CHECKPOINT_KEY) for t in study.trials}
    gone = {i for i, a in ids.items() if a is not None and a not in _files(store)}
    assert set(deleted) == gone and len(deleted) >= 8
    assert all(deleted[i] == ids[i] for i in deleted)
    entries = [e[0] for k in logs for e in attrs[k]]
    assert len(entries) == len(set(entries))


def _entries_per_worker(attrs: dict) -> dict[str, int]:
    counts: dict[str, int] = {}
    for key, value in attrs.items():
        if key.startswith(_storage_keys.DELETION_LOG_PREFIX):
            worker = key.split(":")[2]
            counts[worker] = counts.get(worker, 0) + len(value)
    return counts


def test_marks_of_earlier_versions_still_withdraw(space, store, data) -> None:
    sampler = LemonadeSampler(space, artifact_store=store, seed=0)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    study.optimize(make_objective(sampler, data), n_trials=6)
    front = sampler.population(study)
    marked = front[0]
    artifact_id = marked.system_attrs[CHECKPOINT_KEY]
    key = f"lemonade:deleted:{marked._trial_id}"
    study._storage.set_study_system_attr(study._study_id, key, artifact_id)
    assert marked.number not in {t.number for t in sampler.population(study)}
    assert deleted_checkpoints(study) == {marked.number: artifact_id}


@pytest.mark.parametrize(
    "value",
    [
        "not a list",
        [[1, 2, 3]],
        [["1", "x"]],
        [[True, "x"]],
        [[-1, "x"]],
        [[1, None]],
        None,
    ],
)
def test_a_tampered_deletion_log_is_ignored_with_a_warning(space, store, data, value) -> None:
    sampler = LemonadeSampler(space, artifact_store=store, seed=0, keep_checkpoints="population")
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    objective = make_objective(sampler, data)
    study.optimize(objective, n_trials=4)
    key = f"{_storage_keys.DELETION_LOG_PREFIX}forged:0"
    study._storage.set_study_system_attr(study._study_id, key, value)
    with pytest.warns(LemonadeWarning, match="forged:0' holds an entry that is not"):
        study.optimize(objective, n_trials=4)
    assert [t.state for t in study.trials].count(TrialState.COMPLETE) == 8


def test_a_deletion_interrupted_by_a_kill_is_redone_by_the_next_worker(
    space, store, data, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker killed between logging a deletion and removing the file left the file
    behind; the next worker's first decision removes it."""
    first = LemonadeSampler(space, artifact_store=store, seed=0, keep_checkpoints="population")
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=first)
    study.optimize(make_objective(first, data), n_trials=12)
    before = deleted_checkpoints(study)
    with monkeypatch.context() as patch:  # "killed" after each log entry, before the delete
        patch.setattr(first._store, "remove", lambda artifact_id: False)
        study.optimize(make_objective(first, data), n_trials=4)
    left = {a for n, a in deleted_checkpoints(study).items() if n not in before}
    assert left and left <= _files(store)  # logged as deleted, still there
    second = LemonadeSampler(space, artifact_store=store, seed=1, keep_checkpoints="population")
    study = optuna.load_study(study_name=study.study_name, storage=study._storage, sampler=second)
    study.tell(study.ask(), state=TrialState.FAIL)
    assert not left & _files(store)
    assert set(deleted_checkpoints(study).values()).isdisjoint(_files(store))
