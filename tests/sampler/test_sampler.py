"""LemonadeSampler in real small studies: lineage, inheritance, population, errors."""

from __future__ import annotations

import math
import os
import pathlib
import pickle
import re
import warnings

import numpy as np
import optuna
from optuna.artifacts import FileSystemArtifactStore
from optuna.samplers import RandomSampler
from optuna.trial import TrialState
import pytest
import sqlalchemy
import torch

from optuna_lemonade import _optuna_compat as compat
from optuna_lemonade import SearchSpace
from optuna_lemonade._storage_keys import CHECKPOINT_KEY
from optuna_lemonade._storage_keys import DECISION_KEY
from optuna_lemonade.architecture import summarize
from optuna_lemonade.morphisms import APPROXIMATE_OPERATORS
from optuna_lemonade.morphisms import EXACT_OPERATORS
from optuna_lemonade.morphisms import OPERATORS
from optuna_lemonade.sampler import LemonadeSampler
from optuna_lemonade.sampler import LemonadeWarning
from optuna_lemonade.sampler._population import pareto_front
from optuna_lemonade.testing import relative_deviation
from optuna_lemonade.training import child_epochs
from optuna_lemonade.training import reference_macs
from tests.sampler.conftest import make_objective
from tests.sampler.conftest import train_briefly


def _study(
    sampler: LemonadeSampler, storage: str | None = None, name: str | None = None
) -> optuna.Study:
    return optuna.create_study(
        directions=["minimize", "minimize"],
        sampler=sampler,
        storage=storage,
        study_name=name,
        load_if_exists=name is not None,
    )


def test_initial_architectures_first_then_children(space, store, data) -> None:
    sampler = LemonadeSampler(space, artifact_store=store, seed=0)
    study = _study(sampler)
    study.optimize(make_objective(sampler, data), n_trials=12)
    initial = space.initial_architectures()
    for trial in study.trials:
        decision = sampler.decision(trial)
        assert decision is not None
        assert trial.state == TrialState.COMPLETE
        assert CHECKPOINT_KEY in trial.system_attrs
        if trial.number < len(initial):
            assert decision.kind == "initial" and decision.parent is None
            assert decision.architecture == initial[trial.number]
        else:
            assert decision.kind == "child"
            assert decision.operator in OPERATORS
            # Lineage is mirrored into user attributes for optuna-dashboard.
            assert trial.user_attrs["lemonade_parent"] == decision.parent
            assert trial.user_attrs["lemonade_operator"] == decision.operator
            assert trial.user_attrs["lemonade_summary"] == summarize(decision.architecture)
            assert decision.cheap_objectives["params"] == trial.values[1]


def test_every_parent_was_on_the_front(space, store, data) -> None:
    sampler = LemonadeSampler(space, artifact_store=store, seed=1)
    study = _study(sampler)
    study.optimize(make_objective(sampler, data), n_trials=25)
    trials = study.trials
    children = 0
    for trial in trials:
        decision = sampler.decision(trial)
        assert decision is not None
        if decision.parent is None:
            continue
        children += 1
        before = [t for t in trials[: trial.number] if t.state == TrialState.COMPLETE]
        front = pareto_front(before, study.directions)
        assert decision.parent in {t.number for t in front}
        parent = trials[decision.parent]
        assert parent.state == TrialState.COMPLETE and CHECKPOINT_KEY in parent.system_attrs
    assert children == 25 - 3


def test_children_inherit_the_trained_parent(space, store, data) -> None:
    """With exact operators, a child before fine-tuning computes what its parent
    computed after training (eval mode)."""
    sampler = LemonadeSampler(space, artifact_store=store, seed=2, operators=EXACT_OPERATORS)
    study = _study(sampler)
    x = data[0][:16]
    checked = []

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        child = sampler.child(trial)
        if child.parent is not None:
            parent = sampler.load_model(study.trials[child.parent])
            with torch.no_grad():
                expected = parent(x)
                child.model.eval()
                actual = child.model(x)
            checked.append(relative_deviation(expected, actual))
        error = train_briefly(child.model, data)
        child.save()
        return error, child.cheap_objectives["params"]

    study.optimize(objective, n_trials=15)
    assert len(checked) == 12
    assert max(checked) <= 1e-5


def test_approximate_children_get_their_parent_as_teacher(space, store, data) -> None:
    sampler = LemonadeSampler(space, artifact_store=store, seed=5)
    study = _study(sampler)
    x = data[0][:16]
    seen = {True: 0, False: 0}

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        child = sampler.child(trial)
        if child.parent is not None:
            seen[child.exact] += 1
            if child.exact:
                assert child.teacher is None
            else:
                assert child.operator in APPROXIMATE_OPERATORS
                parent = sampler.load_model(study.trials[child.parent])
                with torch.no_grad():
                    assert torch.equal(child.teacher(x), parent(x))
                assert not child.teacher.training
                assert child.cheap_objectives["params"] < study.trials[child.parent].values[1]
        else:
            assert child.teacher is None
        error = train_briefly(child.model, data)
        child.save()
        return error, child.cheap_objectives["params"]

    study.optimize(objective, n_trials=30)
    assert seen[True] > 3 and seen[False] > 3


def test_same_seed_same_decisions(space, tmp_path) -> None:
    def run(directory: str) -> list[dict]:
        os.makedirs(directory)
        sampler = LemonadeSampler(space, artifact_store=FileSystemArtifactStore(directory), seed=7)
        study = _study(sampler)

        def objective(trial: optuna.Trial) -> tuple[float, float]:
            child = sampler.child(trial)
            child.save()
            params = child.cheap_objectives["params"]
            return 1.0 / np.log(params), params  # deterministic, no training

        study.optimize(objective, n_trials=15)
        return [
            {k: v for k, v in t.system_attrs[DECISION_KEY].items() if k != "decided_at"}
            for t in study.trials
        ]

    first = run(str(tmp_path / "a"))
    assert first == run(str(tmp_path / "b"))
    assert len({str(d["mutation"]) for d in first[3:]}) > 1


def test_decision_is_one_attribute(space, store, data) -> None:
    sampler = LemonadeSampler(space, artifact_store=store, seed=0)
    study = _study(sampler)
    study.optimize(make_objective(sampler, data), n_trials=5)
    for trial in study.trials:
        lemonade_keys = [k for k in trial.system_attrs if k.startswith("lemonade:")]
        assert sorted(lemonade_keys) == [CHECKPOINT_KEY, DECISION_KEY]


def test_load_model_returns_saved_weights(space, store, data) -> None:
    sampler = LemonadeSampler(space, artifact_store=store, seed=0)
    study = _study(sampler)
    saved = {}

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        child = sampler.child(trial)
        error = train_briefly(child.model, data)
        child.save()
        saved[trial.number] = {k: v.clone() for k, v in child.model.state_dict().items()}
        return error, child.cheap_objectives["params"]

    study.optimize(objective, n_trials=6)
    for trial in study.best_trials:
        model = sampler.load_model(trial)
        assert not model.training
        state = model.state_dict()
        assert all(torch.equal(state[k], v) for k, v in saved[trial.number].items())


def test_ask_and_tell_and_child_twice(space, store, data) -> None:
    sampler = LemonadeSampler(space, artifact_store=store, seed=0)
    study = _study(sampler)
    for _ in range(6):
        trial = study.ask()
        child = sampler.child(trial)
        assert sampler.child(trial) is child
        error = train_briefly(child.model, data)
        child.save()
        study.tell(trial, (error, child.cheap_objectives["params"]))
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert sampler.decision(study.trials[-1]).kind == "child"


def _lineage(trial: optuna.trial.FrozenTrial | optuna.Trial) -> tuple[object, ...]:
    names = ("lemonade_parent", "lemonade_operator", "lemonade_summary")
    return tuple(trial.user_attrs.get(name) for name in names)


def test_lineage_is_stored_with_the_decision_in_one_transaction(
    space, store, data, tmp_path
) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    sampler = LemonadeSampler(space, artifact_store=store, seed=0)
    study = _study(sampler, url, "lineage")
    study.optimize(make_objective(sampler, data), n_trials=4)
    engine = compat.storage(study)._backend.engine  # type: ignore[attr-defined]
    commits: list[str] = []  # the tables written by each commit that wrote
    written: set[str] = set()

    def statement(connection, cursor, sql: str, *args: object) -> None:
        table = re.match(r"\s*(?:INSERT INTO|UPDATE|DELETE FROM)\s+(\w+)", sql, re.IGNORECASE)
        if table is not None:
            written.add(table.group(1))

    def commit(connection) -> None:
        if written:
            commits.append(" ".join(sorted(written)))
            written.clear()

    sqlalchemy.event.listen(engine, "before_cursor_execute", statement)
    sqlalchemy.event.listen(engine, "commit", commit)
    trial = study.ask()
    decision = sampler.decision(study.trials[-1])
    assert decision is not None and decision.kind == "child"
    expected = (decision.parent, decision.operator, summarize(decision.architecture))
    # Asked, not yet built: the storage and the asking Trial both hold the lineage.
    stored = study.trials[-1]
    assert _lineage(stored) == expected and _lineage(trial) == expected
    assert stored.system_attrs[DECISION_KEY] == decision.to_dict()
    # Asked: Optuna's commits creating the trial, then one with the decision and lineage.
    assert commits[-1] == "trial_system_attributes trial_user_attributes", commits
    del commits[:]
    sampler.child(trial)
    assert commits == ["trial_params"]  # the operator parameter; no attribute again


def test_child_writes_a_lineage_the_storage_lacks(
    space, store, data, monkeypatch, tmp_path
) -> None:
    sampler = LemonadeSampler(space, artifact_store=store, seed=0)
    study = _study(sampler, f"sqlite:///{tmp_path / 'study.db'}", "lacks")
    study.optimize(make_objective(sampler, data), n_trials=4)

    def decision_only(storage, trial, *, system, user) -> None:
        for key, value in system.items():
            storage.set_trial_system_attr(compat.trial_id(trial), key, value)

    # As if decided by a version that wrote the lineage only in child().
    monkeypatch.setattr(compat, "set_trial_attrs", decision_only)
    asked = study.ask()
    monkeypatch.undo()
    assert _lineage(study.trials[-1]) == (None, None, None)
    trial = optuna.Trial(study, compat.trial_id(asked))  # reads the storage again
    sampler.child(trial)
    decision = sampler.decision(study.trials[-1])
    assert decision is not None and decision.parent is not None
    expected = (decision.parent, decision.operator, summarize(decision.architecture))
    assert _lineage(study.trials[-1]) == expected


def test_fit_calls_back_after_every_step_and_saves_when_stopped(space, store, data) -> None:
    sampler = LemonadeSampler(space, artifact_store=store, seed=0)
    study = _study(sampler)
    trial = study.ask()
    child = sampler.child(trial)
    steps: list[tuple[int, int]] = []

    def stop_after_two(step: int, total: int) -> bool:
        steps.append((step, total))
        return step == 2

    error = child.fit([data], [data], epochs=4, lr=0.05, device="cpu", callback=stop_after_two)
    assert steps == [(1, 4), (2, 4)]
    assert 0.0 <= error <= 1.0 and child.checkpoint is not None
    study.tell(trial, (error, child.cheap_objectives["params"]))
    assert sampler.load_model(study.trials[0]) is not None


def test_parallel_threads(space, store, data) -> None:
    sampler = LemonadeSampler(space, artifact_store=store, seed=0)
    study = _study(sampler)
    study.optimize(make_objective(sampler, data), n_trials=12, n_jobs=3)
    assert sum(t.state == TrialState.COMPLETE for t in study.trials) == 12
    initial = [sampler.decision(t).architecture for t in study.trials[:3]]
    assert initial == space.initial_architectures()


def test_sqlite_storage_resumes_with_a_new_sampler(space, store, data, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    sampler = LemonadeSampler(space, artifact_store=store, seed=0)
    study = _study(sampler, url, "resume")
    study.optimize(make_objective(sampler, data), n_trials=5)
    # A new process would have a new sampler object: all state comes from storage.
    sampler2 = LemonadeSampler(space, artifact_store=store, seed=0)
    study2 = _study(sampler2, url, "resume")
    study2.optimize(make_objective(sampler2, data), n_trials=5)
    assert len(study2.trials) == 10
    for trial in study2.trials[5:]:
        decision = sampler2.decision(trial)
        assert decision.kind == "child"
        assert decision.parent < trial.number


def test_failed_and_unsaved_trials_are_never_parents(space, store, data) -> None:
    sampler = LemonadeSampler(space, artifact_store=store, seed=3)
    study = _study(sampler)

    def objective(trial: optuna.Trial) -> tuple[float, ...]:
        child = sampler.child(trial)
        error = train_briefly(child.model, data)
        if trial.number % 4 == 1:
            raise RuntimeError("simulated crash")
        if trial.number % 4 == 2:
            return (error,)  # wrong number of values: Optuna marks the trial FAIL
        if trial.number % 4 == 3:
            return 0.0, 1.0  # the best possible values, but no checkpoint
        child.save()
        return error, child.cheap_objectives["params"]

    with pytest.warns(LemonadeWarning, match="without child.save"):
        study.optimize(objective, n_trials=20, catch=(RuntimeError,))
    bad = {t.number for t in study.trials if t.number % 4 != 0}
    assert all(study.trials[n].state == TrialState.FAIL for n in bad if n % 4 in (1, 2))
    for trial in study.trials:
        decision = sampler.decision(trial)
        if decision.parent is not None:
            assert decision.parent not in bad


def test_wrong_number_of_values_is_named(space, store, data, caplog) -> None:
    sampler = LemonadeSampler(space, artifact_store=store)
    study = _study(sampler)
    trial = study.ask()
    sampler.child(trial).save()
    with pytest.raises(ValueError, match="number of the values 1 did not match"):
        study.tell(trial, 0.5, state=TrialState.COMPLETE)  # ask-and-tell: an error
    with pytest.warns(UserWarning, match="number of the values 1 did not match"):
        study.tell(trial, 0.5)  # without a state: the trial fails, with the reason
    assert study.trials[-1].state == TrialState.FAIL
    optuna.logging.enable_propagation()
    try:
        with caplog.at_level("WARNING"):
            study.optimize(lambda t: (sampler.child(t).save(), 0.5)[1], n_trials=1)
    finally:
        optuna.logging.disable_propagation()
    assert "number of the values 1 did not match" in caplog.text  # optimize: FAIL, named
    assert study.trials[-1].state == TrialState.FAIL
    assert sampler.population(study) == []


def test_unreadable_parent_checkpoints_are_skipped(space, store, data, tmp_path) -> None:
    sampler = LemonadeSampler(space, artifact_store=store, seed=4)
    study = _study(sampler)
    objective = make_objective(sampler, data)
    study.optimize(objective, n_trials=8)
    while len(sampler.population(study)) < 3 and len(study.trials) < 40:
        study.optimize(objective, n_trials=1)
    front = sampler.population(study)
    assert len(front) >= 3
    start = len(study.trials)
    # Break every checkpoint of the front but one: delete, truncate, or replace by a
    # pickle that would run code when unpickled.
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    survivor = front[0]
    for index, trial in enumerate(front[1:]):
        path = pathlib.Path(store._base_path) / trial.system_attrs[CHECKPOINT_KEY]
        if index % 3 == 0:
            path.unlink()
        elif index % 3 == 1:
            path.write_bytes(path.read_bytes()[:100])
        else:
            path.write_bytes(pickle.dumps(Exploit()))
    broken = {t.number for t in front[1:]}
    # Another worker: this one keeps the weights it saved in memory (not read again).
    sampler = LemonadeSampler(space, artifact_store=store, seed=5)
    study.sampler = sampler
    objective = make_objective(sampler, data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study.optimize(objective, n_trials=10)
    assert not marker.exists()
    messages = [str(w.message) for w in caught if issubclass(w.category, LemonadeWarning)]
    assert messages and all("can no longer be a parent" in m for m in messages)
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    parents = [sampler.decision(t).parent for t in study.trials[start:]]
    assert not broken & set(parents)
    assert survivor.number in parents
    # Each broken checkpoint was reported once, then marked for all workers.
    attrs = study._storage.get_study_system_attrs(study._study_id)
    marks = [k for k in attrs if k.startswith("lemonade:unreadable:")]
    assert len(marks) == len(messages) <= len(broken)


def test_child_on_a_foreign_trial(space, store) -> None:
    sampler = LemonadeSampler(space, artifact_store=store)
    study = optuna.create_study(sampler=RandomSampler())
    trial = study.ask()
    with pytest.raises(RuntimeError, match="not started by a LemonadeSampler"):
        sampler.child(trial)


def test_save_checks_the_model(space, store) -> None:
    sampler = LemonadeSampler(space, artifact_store=store)
    study = _study(sampler)
    trial = study.ask()
    child = sampler.child(trial)
    other = space.initial_architectures()[2]
    from optuna_lemonade import build_model

    with pytest.raises(ValueError, match="does not match the architecture"):
        child.save(build_model(other))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(operators=["grow_wings"]), ValueError, "unknown operator"),
        (dict(operators=[]), ValueError, "non-empty"),
        (dict(cheap_objectives=["speed"]), ValueError, "unknown cheap objective"),
        (dict(cheap_objectives=["params", len, len]), ValueError, "two cheap objectives"),
        (dict(cheap_objectives=[]), ValueError, "non-empty"),
        (dict(cheap_objectives=[3]), ValueError, "name or a callable"),
        (dict(n_proposals=0), ValueError, "n_proposals"),
        (dict(seed="0"), ValueError, "seed"),
        (dict(initial_architectures=[]), ValueError, "must not be empty"),
    ],
)
def test_bad_options(space, kwargs, error, message) -> None:
    with pytest.raises(error, match=message):
        LemonadeSampler(space, **kwargs)


def test_bad_search_space_and_initial_architectures(space) -> None:
    with pytest.raises(TypeError, match="SearchSpace"):
        LemonadeSampler((3, 8, 8))
    small = SearchSpace((3, 8, 8), 3, max_params=1000)
    with pytest.raises(ValueError, match="outside the search space"):
        LemonadeSampler(small, initial_architectures=space.initial_architectures())


def test_callable_cheap_objective(space, store, data) -> None:
    def depth(arch) -> float:
        return float(arch.depth)

    sampler = LemonadeSampler(space, artifact_store=store, cheap_objectives=["params", depth])
    study = _study(sampler)
    study.optimize(make_objective(sampler, data), n_trials=5)
    for trial in study.trials:
        decision = sampler.decision(trial)
        assert decision.cheap_objectives["depth"] == decision.architecture.depth


def test_a_trial_failed_by_another_worker_while_deciding(space, store, monkeypatch) -> None:
    """Another worker's stale-trial sweep fails this trial during its decision (its
    heartbeat looked too old): a RuntimeError says why, not the storage's own error."""
    from optuna_lemonade.sampler import _population

    # Retention on, so that even an initial trial's decision reads the study.
    sampler = LemonadeSampler(space, artifact_store=store, seed=0, keep_checkpoints="population")
    study = _study(sampler)
    read = _population.Snapshot.read

    def read_then_failed_elsewhere(study: optuna.Study) -> _population.Snapshot:
        snapshot = read(study)
        running = [t for t in snapshot.trials if t.state == TrialState.RUNNING]
        study._storage.set_trial_state_values(running[-1]._trial_id, state=TrialState.FAIL)
        return snapshot

    monkeypatch.setattr(_population.Snapshot, "read", read_then_failed_elsewhere)
    with pytest.raises(RuntimeError, match=r"trial 0 was failed by another worker .* grace"):
        study.ask()
    assert study.trials[0].state == TrialState.FAIL


def _steps_of_fit(child, data, **options) -> int:  # type: ignore[no-untyped-def]
    """How many steps ``child.fit`` trains for (one batch per epoch)."""
    totals: list[int] = []

    def record(step: int, total: int) -> bool:
        totals.append(total)
        return False

    child.fit([data], [data], lr=0.05, device="cpu", callback=record, **options)
    return totals[-1]


def test_fit_trains_cheap_children_longer_as_the_search_command_does(space, store, data) -> None:
    """The adopted child-epochs rule is Child.fit's: scaled by cheapness, at most 3x."""
    sampler = LemonadeSampler(space, artifact_store=store, seed=0)
    study = _study(sampler)
    study.optimize(make_objective(sampler, data), n_trials=len(space.initial_architectures()))
    reference = reference_macs(space.initial_architectures())
    longer = flat = 0
    for number in range(16):
        trial = study.ask()
        child = sampler.child(trial)
        scaled = child.parent is not None and number % 2 == 0
        expected = child_epochs(2.0, child.architecture, reference) if scaled else 2.0
        if child.parent is not None:
            assert child.fine_tune_epochs(2.0) == pytest.approx(
                child_epochs(2.0, child.architecture, reference)
            )
        # Odd trials ask for flat epochs; an initial network always trains as asked.
        assert _steps_of_fit(child, data, epochs=2, scale_epochs=scaled) == math.ceil(expected)
        longer += expected > 2.0
        flat += not scaled and child.fine_tune_epochs(2.0) > 2.0
        study.tell(trial, (0.5, child.cheap_objectives["params"]))
    assert longer and flat  # cheap children trained longer, and flat when asked
