"""The start of a search with more workers than initial networks: no network is trained
twice while the population is empty."""

from __future__ import annotations

import threading
import time

import optuna
from optuna.storages import RetryFailedTrialCallback
from optuna.trial import TrialState

from optuna_lemonade import count_params
from optuna_lemonade.sampler import LemonadeSampler
from optuna_lemonade.sampler._start import extra_architectures
from optuna_lemonade.sampler._start import stands_for
from optuna_lemonade.sampler._start import unclaimed


def test_extra_architectures_are_new_valid_and_smallest_first(space) -> None:
    initial = space.initial_architectures()
    extra = extra_architectures(initial, space)
    assert len(extra) >= len(initial)
    assert not set(extra) & set(initial) and len(set(extra)) == len(extra)
    assert all(space.contains(arch) for arch in extra)
    sizes = [count_params(arch) for arch in extra]
    assert sizes == sorted(sizes)
    widths = {node.filters for arch in extra for node in arch.nodes if node.filters}
    assert 6 in widths and 12 in widths  # 1.5 times the first widths, 4 and 8


def test_four_workers_at_the_start_train_no_network_twice(space, store, data) -> None:
    """Four threads, three initial networks that take a while: the fourth trial used to
    find the population empty and train an initial network again (a restart)."""
    sampler = LemonadeSampler(space, artifact_store=store, seed=0)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    started = threading.Barrier(4, timeout=60)

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        child = sampler.child(trial)
        if trial.number < 4:
            started.wait()  # the first four trials are all running at once
        if child.parent is None:
            time.sleep(0.5)  # training from scratch takes a while
        error = child.fit([data], [data], epochs=1, device="cpu")
        return error, child.cheap_objectives["params"]

    study.optimize(objective, n_trials=12, n_jobs=4)
    trials = study.trials
    assert all(t.state == TrialState.COMPLETE for t in trials)
    decisions = [sampler.decision(t) for t in trials]
    assert all(d is not None for d in decisions)
    from_scratch = [d.architecture for d in decisions if d is not None and d.parent is None]
    assert "restart" not in {d.kind for d in decisions if d is not None}
    assert len(from_scratch) == len(set(from_scratch))  # none trained twice
    initial = space.initial_architectures()
    assert set(initial) <= set(from_scratch)  # every initial network trained
    assert len(from_scratch) > len(initial)  # the fourth worker trained a new one
    assert any(d is not None and d.parent is not None for d in decisions)  # then children


def test_trials_not_decided_yet_claim_the_initial_network_they_stand_for(space) -> None:
    """Eight workers start at once: trials 0-2 may not have written their decisions when
    trial 3 decides; a retry queued before its trial's decision claims it too."""
    initial = space.initial_architectures()
    extra = extra_architectures(initial, space)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(6):
        study.ask()  # RUNNING, no decision: trials 0-5

    def free_for(number: int) -> object:
        trials = study.get_trials(deepcopy=False)
        return unclaimed(initial, extra, trials, lambda t: None, trials[number])

    # Trials 3, 4 and 5 decide at the same moment: each takes its own network.
    assert [free_for(n) for n in (3, 4, 5)] == extra[:3]
    study.tell(0, state=TrialState.FAIL)  # trial 0 died before its decision ...
    assert free_for(3) == initial[0]
    RetryFailedTrialCallback()(study, study.trials[0])  # ... and its retry is queued
    retry = study.trials[-1]
    assert retry.state == TrialState.WAITING and stands_for(retry) == 0
    assert free_for(3) == extra[0]
