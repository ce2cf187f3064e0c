"""The start of a search: what a trial trains while no network has finished yet.

With more workers than initial architectures, the trials after the initial ones are
asked for while those are still training: the population is empty. Training an initial
architecture a second time (a restart) would spend a worker on a network that is
already being trained; such a trial trains one that no trial trains yet, first an
initial architecture whose trial failed, then further networks like the initial ones
with their filters scaled. Only when every one is taken does it restart.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
import dataclasses

from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_lemonade import _optuna_compat as compat
from optuna_lemonade.architecture import analytic_num_params
from optuna_lemonade.architecture import Architecture
from optuna_lemonade.architecture import SearchSpace
from optuna_lemonade.sampler._decision import Decision


WIDTH_FACTORS = (1.5, 0.75, 2.0, 3.0)
"""The filters of every convolution of each initial architecture are scaled by each of
these, for the further networks (1.5 puts them between the default widths 4, 8, 16)."""

_CLAIMING = (TrialState.RUNNING, TrialState.WAITING, TrialState.COMPLETE)


def stands_for(trial: FrozenTrial) -> int:
    """The trial number whose decision ``trial`` makes: its own, or a retry's original.

    Optuna's retry callbacks keep the first failed trial's number through every retry.
    A retry of an initial network killed before its decision was written decides as
    that initial network, so that every initial architecture is trained once; its
    random choices are that number's too.
    """
    original = compat.retried_trial_number(trial)
    return trial.number if original is None else original


def extra_architectures(initial: Sequence[Architecture], space: SearchSpace) -> list[Architecture]:
    """Networks like ``initial`` with their filters scaled, within ``space``, no repeats."""
    result: list[Architecture] = []
    for factor in WIDTH_FACTORS:
        for arch in initial:
            scaled = _scaled(arch, factor)
            if (
                scaled is not None
                and scaled not in initial
                and scaled not in result
                and space.contains(scaled)
            ):
                result.append(scaled)
    return sorted(result, key=analytic_num_params)


def _scaled(arch: Architecture, factor: float) -> Architecture | None:
    nodes = [
        node
        if node.filters is None
        else dataclasses.replace(node, filters=max(1, round(node.filters * factor)))
        for node in arch.nodes
    ]
    try:
        return Architecture(arch.input_shape, arch.num_classes, nodes)
    except ValueError:  # e.g. a depthwise convolution whose groups no longer divide
        return None


def unclaimed(
    initial: Sequence[Architecture],
    extra: Sequence[Architecture],
    trials: Sequence[FrozenTrial],
    decision_of: Callable[[FrozenTrial], Decision | None],
    current: FrozenTrial,
) -> Architecture | None:
    """A network of ``initial``, then ``extra``, that no other trial has, for ``current``.

    A running or waiting trial that stands for an initial network but has no decision
    yet (being decided by another worker, or a retry queued before its decision was
    written) claims that network too. Other undecided trials with lower numbers may be
    choosing from the same list at this moment: the k-th of them by number takes the
    k-th free network, so ``current`` skips one free network for each.
    """
    claimed = set()
    ahead = 0
    for trial in trials:
        if trial.state not in _CLAIMING or trial.number == current.number:
            continue
        decision = decision_of(trial)
        if decision is not None:
            claimed.add(decision.architecture)
        elif trial.state != TrialState.COMPLETE:
            if stands_for(trial) < len(initial):
                claimed.add(initial[stands_for(trial)])
            elif trial.number < current.number:
                ahead += 1
    free = [arch for arch in [*initial, *extra] if arch not in claimed]
    return free[ahead] if ahead < len(free) else None
