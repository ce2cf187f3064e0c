"""A prototype for the ablation ``lemonade-final``: the last part of the budget trains the
front's best networks further instead of making more children.

The paper trains its final front longer after the search; issue 37 asks whether doing
so inside the budget lifts the large end, where every network the search finds had a
few epochs of fine-tuning per generation and the reference CNNs, trained 10 epochs from
scratch, still win. The search stops at ``1 - fraction`` of the budget; the best network
at each size cap (distinct ones, the largest cap first) then trains from its own
weights on a fresh cosine schedule, each given an equal share of what is left of the
budget (its epochs estimated from the seconds per epoch its own trial took), and is
recorded as a trial of its own. A prototype for the benchmark only: it runs outside the
sampler, in one process.
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
import time
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial
from optuna.trial import TrialState
from torch import nn

from optuna_lemonade.training import evaluate
from optuna_lemonade.training import fine_tune


CAPS = (float("inf"), 1e5, 2.5e4, 1e4, 5e3)
"""The benchmark's size caps, the largest first: the large end gets its share first."""


@dataclasses.dataclass
class FinalPhase:
    """The settings of the final phase.

    Args:
        fraction: The share of the budget it takes, at the end.
        max_epochs: At most this many epochs per network (the reference CNNs' 10).
        lr: Initial learning rate of each network's cosine schedule.
    """

    fraction: float
    max_epochs: float = 10.0
    lr: float = 0.05


def best_per_cap(trials: list[FrozenTrial], params: int) -> list[FrozenTrial]:
    """The lowest-error COMPLETE trial at each cap (fewest parameters among ties), each
    once, the largest cap first."""
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.values is not None]
    chosen: list[FrozenTrial] = []
    for cap in CAPS:
        fitting = [t for t in done if t.values[params] <= cap]
        if fitting:
            best = min(fitting, key=lambda t: (t.values[0], t.values[params]))
            if all(best.number != c.number for c in chosen):
                chosen.append(best)
    return chosen


def seconds_per_epoch(trial: FrozenTrial, epochs: float | None) -> float | None:
    """What one epoch of ``trial``'s network cost, from its own trial (training, the
    evaluation and the save included); None when it cannot be told."""
    if not epochs or trial.datetime_start is None or trial.datetime_complete is None:
        return None
    return (trial.datetime_complete - trial.datetime_start).total_seconds() / epochs


def run_final_phase(
    study: optuna.Study,
    phase: FinalPhase,
    *,
    deadline: float,
    params: int,
    load: Callable[[FrozenTrial], nn.Module],
    epochs_of: Callable[[int], float | None],
    values_of: Callable[[FrozenTrial, float], list[float]],
    train: Any,
    validation: Any,
    device: str,
) -> list[tuple[int, int, float, float, nn.Module]]:
    """Train the front's best networks until ``deadline`` (``time.time()``).

    Each becomes a COMPLETE trial of ``study`` (``study.add_trial``: no sampler hook
    runs) with its new validation error.

    Returns:
        ``(new trial number, the trial it continued, epochs, when it finished as a
        time.time(), model)`` for each.
    """
    chosen = best_per_cap(study.get_trials(deepcopy=False), params)
    done = []
    for index, trial in enumerate(chosen):
        share = (deadline - time.time()) / (len(chosen) - index)
        per_epoch = seconds_per_epoch(trial, epochs_of(trial.number))
        if share <= 0 or per_epoch is None:
            continue
        # 0.9: the estimate includes the evaluation; the last network must end in time.
        epochs = min(phase.max_epochs, 0.9 * share / per_epoch)
        if epochs < 0.5:
            continue
        model = load(trial)
        fine_tune(model, train, epochs=epochs, lr=phase.lr, device=device, progress=False)
        error = evaluate(model, validation, device=device)
        distributions: dict[str, BaseDistribution] = dict(trial.distributions)
        study.add_trial(
            optuna.trial.create_trial(
                values=values_of(trial, error),
                params=dict(trial.params),
                distributions=distributions,
                user_attrs={"final_phase_of": trial.number},
            )
        )
        done.append((study.trials[-1].number, trial.number, epochs, time.time(), model))
    return done
