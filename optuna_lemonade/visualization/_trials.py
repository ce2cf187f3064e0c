"""What the figures read from a study: each finished trial's values and lineage."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import optuna
from optuna.trial import TrialState


@dataclasses.dataclass(frozen=True)
class Point:
    """One COMPLETE trial as the figures show it."""

    number: int
    values: tuple[float, ...]
    parent: int | None
    operator: str | None
    summary: str | None


def objective_names(study: optuna.Study) -> list[str]:
    """The study's metric names, or ``objective 0``, ``objective 1``, ... without them."""
    names = study.metric_names
    if names is None:
        return [f"objective {i}" for i in range(len(study.directions))]
    return list(names)


def objective_index(study: optuna.Study, objective: int | str, what: str) -> int:
    """Index of an objective given by index or metric name.

    Raises:
        ValueError: If there is no such objective.
    """
    names = objective_names(study)
    if isinstance(objective, str):
        if objective not in names:
            raise ValueError(f"{what}={objective!r} is not one of the objectives {names}")
        return names.index(objective)
    if isinstance(objective, bool) or not isinstance(objective, int):
        raise ValueError(f"{what} must be an objective's index or name, got {objective!r}")
    if not 0 <= objective < len(names):
        raise ValueError(f"{what}={objective} is out of range for {len(names)} objectives")
    return objective


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def completed_points(study: optuna.Study) -> list[Point]:
    """Every COMPLETE trial with finite values, with its lineage.

    The lineage is what the user attributes ``lemonade_parent``, ``lemonade_operator``
    and ``lemonade_summary`` record.

    Attributes of the wrong type (a study written by other code) read as missing: a
    figure shows what it can rather than failing.
    """
    points = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        values = trial.values
        if values is None or not all(math.isfinite(v) for v in values):
            continue
        attrs = trial.user_attrs
        points.append(
            Point(
                number=trial.number,
                values=tuple(float(v) for v in values),
                parent=_int_or_none(attrs.get("lemonade_parent")),
                operator=_str_or_none(attrs.get("lemonade_operator")),
                summary=_str_or_none(attrs.get("lemonade_summary")),
            )
        )
    return points


def front_numbers(study: optuna.Study) -> set[int]:
    """Numbers of the study's Pareto-optimal trials (``study.best_trials``)."""
    return {trial.number for trial in study.best_trials}


def wide_range(values: list[float]) -> bool:
    """Whether an axis should be logarithmic.

    Yes when all values are positive and span 1.5 decades or more (costs such as parameters and
    multiply-adds; errors are left linear).
    """
    return bool(values) and min(values) > 0 and max(values) / min(values) >= 10**1.5
