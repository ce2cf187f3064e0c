"""Stale trials are judged on the watching worker's clock, and a sampler object on two
storages keeps their trials apart (issue 36)."""

from __future__ import annotations

import datetime

import optuna
from optuna.storages import InMemoryStorage
from optuna.trial import FrozenTrial
from optuna.trial import TrialState
import pytest

from optuna_lemonade._storage_keys import DECISION_KEY
from optuna_lemonade._storage_keys import HEARTBEAT_KEY
from optuna_lemonade.sampler import fail_trials_without_heartbeat
from optuna_lemonade.sampler import LemonadeSampler
from optuna_lemonade.sampler._per_storage import PerStorage
from optuna_lemonade.sampler._stale import fail_undecided_trials
from optuna_lemonade.sampler._stale import SilenceWatch
from tests.sampler.conftest import make_objective


HOUR = 3600.0


def _running_trial(study: optuna.Study) -> int:
    """A RUNNING trial as a worker's ask() leaves it; returns its id."""
    return study._storage.create_new_trial(study._study_id)


def _started(start: datetime.datetime) -> FrozenTrial:
    return FrozenTrial(
        number=0,
        state=TrialState.RUNNING,
        value=None,
        datetime_start=start,
        datetime_complete=None,
        params={},
        distributions={},
        user_attrs={},
        system_attrs={},
        intermediate_values={},
        trial_id=0,
    )


def _beat(study: optuna.Study, trial_id: int, value: float) -> None:
    study._storage.set_trial_system_attr(trial_id, HEARTBEAT_KEY, value)


def test_the_watch_counts_silence_from_the_first_sight_of_a_sign() -> None:
    watch = SilenceWatch()
    assert watch.silent_for(0, {1: "a", 2: None}, now=10.0) == {1: 0.0, 2: 0.0}
    assert watch.silent_for(0, {1: "a", 2: None}, now=14.0) == {1: 4.0, 2: 4.0}
    assert watch.silent_for(0, {1: "b", 2: None}, now=15.0) == {1: 0.0, 2: 5.0}  # 1 beat
    assert watch.silent_for(0, {1: "b"}, now=16.0) == {1: 1.0}  # 2 finished: forgotten
    assert watch.silent_for(0, {1: "b", 2: None}, now=20.0) == {1: 5.0, 2: 0.0}
    # Another study of the same storage: its sweeps forget none of the first's trials.
    assert watch.silent_for(1, {7: None}, now=21.0) == {7: 0.0}
    assert watch.silent_for(0, {1: "b", 2: None}, now=22.0) == {1: 7.0, 2: 2.0}


def test_two_studies_on_one_storage_are_watched_apart() -> None:
    """One sampler, two studies in one storage, their sweeps taking turns: each study's
    dead trial is failed once the grace period has passed."""
    storage = InMemoryStorage()
    studies = [
        optuna.create_study(storage=storage, directions=["minimize", "minimize"]) for _ in range(2)
    ]
    for study in studies:
        _beat(study, _running_trial(study), 1.0)
    for now in (0.0, 1.0, 2.0):
        for study in studies:
            assert fail_trials_without_heartbeat(study, grace_period=2.5, now=now) == []
    for study in studies:
        assert fail_trials_without_heartbeat(study, grace_period=2.5, now=3.0) == [0]


def test_heartbeats_from_a_clock_an_hour_off_are_judged_by_whether_they_change() -> None:
    """Before, a heartbeat was compared with this worker's clock: a live worker whose
    clock ran an hour behind was failed at once, a dead one whose clock ran ahead never."""
    study = optuna.create_study(directions=["minimize", "minimize"])
    wall = datetime.datetime.now().timestamp()
    behind, ahead = _running_trial(study), _running_trial(study)
    _beat(study, behind, wall - HOUR)  # alive, on a clock an hour behind
    _beat(study, ahead, wall + HOUR)  # dead from now on, its clock an hour ahead
    assert fail_trials_without_heartbeat(study, grace_period=5.0, now=100.0) == []
    _beat(study, behind, wall - HOUR + 4)
    assert fail_trials_without_heartbeat(study, grace_period=5.0, now=104.0) == []
    _beat(study, behind, wall - HOUR + 8)
    assert fail_trials_without_heartbeat(study, grace_period=5.0, now=108.0) == [1]
    states = [t.state for t in study.trials]
    assert states == [TrialState.RUNNING, TrialState.FAIL]


def test_the_first_call_only_starts_watching() -> None:
    """A process that has just started cannot tell a stopped heartbeat from a live one
    without looking twice: the first sweep fails nothing, however old the heartbeat."""
    study = optuna.create_study(directions=["minimize", "minimize"])
    _beat(study, _running_trial(study), 0.0)  # 1970, by the writer's clock
    assert fail_trials_without_heartbeat(study, grace_period=1.0, now=50.0) == []
    assert fail_trials_without_heartbeat(study, grace_period=1.0, now=50.5) == []
    assert fail_trials_without_heartbeat(study, grace_period=1.0, now=51.5) == [0]


def test_an_undecided_trial_is_failed_after_the_grace_period_on_this_clock() -> None:
    """A trial started by a worker whose clock runs an hour ahead (its start lies in the
    future here) is failed once it has been seen undecided for the grace period; one
    that just started on a clock an hour behind is not failed at first sight."""
    study = optuna.create_study(directions=["minimize", "minimize"])
    storage = study._storage
    now, hour = datetime.datetime.now(), datetime.timedelta(hours=1)
    # Started as the other workers' clocks said.
    ahead, behind, decided = (
        storage.create_new_trial(study._study_id, template_trial=_started(start))
        for start in (now + hour, now - hour, now)
    )
    storage.set_trial_system_attr(decided, DECISION_KEY, {"kind": "initial"})
    watch = SilenceWatch()

    def sweep(now: float) -> list[int]:
        trials = study.get_trials(deepcopy=False)
        return fail_undecided_trials(
            study, trials, grace_period=2.0, callback=None, watch=watch, now=now
        )

    assert sweep(10.0) == []
    assert sweep(11.5) == []
    assert sorted(sweep(12.5)) == [ahead, behind]
    assert study.trials[decided].state == TrialState.RUNNING


def test_one_sampler_on_two_storages_keeps_their_trials_apart(space, store, data) -> None:
    """Trial ids repeat across storages: the sampler's caches are kept per storage.
    Before, the second study's trials 0-2 (completed without a checkpoint) were taken
    for parents because the first study's trials 0-2 had been."""
    sampler = LemonadeSampler(space, artifact_store=store, seed=0)
    first = optuna.create_study(
        storage=InMemoryStorage(), sampler=sampler, directions=["minimize", "minimize"]
    )
    first.optimize(make_objective(sampler, data), n_trials=4)
    assert len(sampler.population(first)) >= 1
    second = optuna.create_study(
        storage=InMemoryStorage(), sampler=sampler, directions=["minimize", "minimize"]
    )
    for _ in range(3):  # completed, but without child.save(): no parents
        trial = second.ask()
        sampler.child(trial)
        with pytest.warns(UserWarning, match="without child.save"):
            second.tell(trial, (0.5, 1000.0))
    assert sampler.population(second) == []
    trial = second.ask()
    assert sampler.decision(trial).kind != "child"


def test_a_storage_that_cannot_be_weakly_referenced_keeps_its_own_state() -> None:
    """A user's storage class without ``__weakref__`` still gets one state of its own,
    the same on every call, and not another storage's."""

    class Slotted:
        __slots__ = ()

    states = PerStorage(SilenceWatch)
    first, second = Slotted(), Slotted()
    assert states(first) is states(first)  # type: ignore[arg-type]
    assert states(first) is not states(second)  # type: ignore[arg-type]
    storage = InMemoryStorage()
    assert states(storage) is states(storage)
    assert states(storage) is not states(first)  # type: ignore[arg-type]
