"""Checks of LemonadeSampler's options; each returns the value or names the problem."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from optuna_lemonade import _optuna_compat as compat
from optuna_lemonade.architecture import Architecture
from optuna_lemonade.architecture import SearchSpace
from optuna_lemonade.cheap_objectives import CHEAP_OBJECTIVES
from optuna_lemonade.cheap_objectives import CheapObjective
from optuna_lemonade.cheap_objectives import MEASURED_OBJECTIVES
from optuna_lemonade.morphisms import get_operator
from optuna_lemonade.morphisms import Operator
from optuna_lemonade.morphisms import OPERATORS
from optuna_lemonade.network import GraphNetwork
from optuna_lemonade.sampler._cut_placement import CUT_PLACEMENTS
from optuna_lemonade.sampler._cut_placement import CutPlacement
from optuna_lemonade.sampler._retention import KEEP_CHECKPOINTS
from optuna_lemonade.sampler._retention import KeepCheckpoints


def search_space(value: object) -> SearchSpace:
    if not isinstance(value, SearchSpace):
        raise TypeError(f"search_space must be a SearchSpace, got {type(value).__name__}")
    return value


def cheap_objectives(value: Sequence[str | CheapObjective]) -> dict[str, CheapObjective]:
    """Named cheap objectives; a callable is named by its ``__name__``."""
    if isinstance(value, str) or not value:
        raise ValueError("cheap_objectives must be a non-empty sequence")
    result: dict[str, CheapObjective] = {}
    for objective in value:
        if isinstance(objective, str):
            if objective in MEASURED_OBJECTIVES:
                result[objective] = MEASURED_OBJECTIVES[objective]()
            elif objective in CHEAP_OBJECTIVES:
                result[objective] = CHEAP_OBJECTIVES[objective]
            else:
                raise ValueError(
                    f"unknown cheap objective {objective!r}; known: "
                    f"{', '.join([*CHEAP_OBJECTIVES, *MEASURED_OBJECTIVES])}, or pass a callable"
                )
        elif callable(objective):
            name = getattr(objective, "__name__", repr(objective))
            if name in result:
                raise ValueError(f"two cheap objectives are named {name!r}")
            result[name] = objective
        else:
            raise ValueError(f"a cheap objective must be a name or a callable, got {objective!r}")
    return result


def operators(value: Sequence[str | Operator] | None) -> list[Operator]:
    if value is None:
        value = list(OPERATORS)
    if isinstance(value, str) or not value:
        raise ValueError("operators must be a non-empty sequence")
    return [get_operator(operator) for operator in value]


def n_proposals(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"n_proposals must be a positive integer, got {value!r}")
    return value


def initial_architectures(
    space: SearchSpace, value: Sequence[Architecture | GraphNetwork] | None
) -> tuple[list[Architecture], dict[Architecture, dict[str, torch.Tensor]]]:
    """The initial architectures, and the weights of those given as trained networks."""
    given = space.initial_architectures() if value is None else list(value)
    if not given:
        raise ValueError("initial_architectures must not be empty")
    initial: list[Architecture] = []
    weights: dict[Architecture, dict[str, torch.Tensor]] = {}
    for item in given:
        arch = item.architecture if isinstance(item, GraphNetwork) else item
        if not isinstance(arch, Architecture):
            raise TypeError(
                f"initial architectures must be Architectures or GraphNetworks, got {item!r}"
            )
        problems = space.violations(arch)
        if problems:
            raise ValueError(f"an initial architecture is outside the search space: {problems}")
        if arch in initial:
            raise ValueError(f"initial_architectures lists one architecture twice: {arch!r}")
        initial.append(arch)
        if isinstance(item, GraphNetwork):
            # A copy on the CPU: the caller may go on training or moving its network.
            weights[arch] = {
                key: value.detach().to("cpu", copy=True)
                for key, value in item.state_dict().items()
            }
    return initial, weights


def keep_checkpoints(value: KeepCheckpoints) -> KeepCheckpoints:
    if value not in KEEP_CHECKPOINTS:
        raise ValueError(f"keep_checkpoints must be one of {KEEP_CHECKPOINTS}, got {value!r}")
    return value


def cut_placement(value: CutPlacement) -> CutPlacement:
    if value not in CUT_PLACEMENTS:
        raise ValueError(f"cut_placement must be one of {CUT_PLACEMENTS}, got {value!r}")
    if value != "uniform":
        compat.warn_experimental_argument("cut_placement")
    return value


def largest_initial_first(value: bool) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"largest_initial_first must be True or False, got {value!r}")
    if value:
        compat.warn_experimental_argument("largest_initial_first")
    return value


def heartbeats(interval: float | None, grace_period: float | None) -> None:
    for name, value in (("heartbeat_interval", interval), ("grace_period", grace_period)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0
        ):
            raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    if (interval is None) != (grace_period is None):
        raise ValueError("give both heartbeat_interval and grace_period, or neither")
    if interval is not None and grace_period is not None and not grace_period > interval:
        raise ValueError("grace_period must be longer than heartbeat_interval")


def seed_entropy(seed: int | None) -> int:
    """The entropy that, with a trial number, seeds that trial's decisions."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(f"seed must be an integer or None, got {seed!r}")
    return int(np.random.SeedSequence(seed).entropy)  # type: ignore[arg-type]
