"""The trial parameter ``lemonade_operator``: how each trial's network was made."""

from __future__ import annotations

import threading

import optuna
from optuna.trial import FrozenTrial

from optuna_lemonade import _optuna_compat as compat
from optuna_lemonade._storage_keys import OPERATOR_PARAM
from optuna_lemonade.morphisms import OPERATORS


OPERATOR_CHOICES: tuple[str, ...] = ("initial", *OPERATORS)
"""``"initial"`` or the name of the morphism (the parameter's choices are fixed, so that
every trial of a study has the same distribution; a custom operator's trials do not get
the parameter)."""


class OperatorParam:
    """Records the operator as the trial's categorical parameter ``lemonade_operator``.

    A real parameter, not only a user attribute: optuna-dashboard's parameter
    importance (PED-ANOVA over the trials' parameters) then tells which morphisms made
    good networks, where a study without parameters made it fail with a
    ZeroDivisionError; and the trials table can be filtered by it. The value goes
    through ``Trial.suggest_categorical``, which asks the sampler's
    ``sample_independent``: :meth:`take` hands it back there.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[int, str] = {}  # trial id -> the value being recorded

    def record(self, trial: optuna.Trial, operator: str) -> None:
        """Make ``operator`` the trial's parameter (once; a custom operator: never)."""
        if operator not in OPERATOR_CHOICES or OPERATOR_PARAM in trial.params:
            return
        key = compat.trial_id(trial)
        with self._lock:
            self._pending[key] = operator
        try:
            trial.suggest_categorical(OPERATOR_PARAM, OPERATOR_CHOICES)
        finally:
            with self._lock:
                self._pending.pop(key, None)

    def take(self, trial: FrozenTrial, param_name: str) -> str | None:
        """The value being recorded for ``param_name`` of ``trial``, or None."""
        if param_name != OPERATOR_PARAM:
            return None
        with self._lock:
            return self._pending.pop(compat.trial_id(trial), None)
