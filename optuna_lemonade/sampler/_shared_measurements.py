"""Measured cheap objectives (latency) shared through the study by every worker."""

from __future__ import annotations

from collections.abc import Mapping
import threading
from typing import Any
import warnings

import optuna

from optuna_lemonade import _optuna_compat as compat
from optuna_lemonade._storage_keys import MEASURED_PREFIX
from optuna_lemonade._warning import LemonadeWarning
from optuna_lemonade.cheap_objectives import CheapObjective
from optuna_lemonade.cheap_objectives import SharedCheapObjective
from optuna_lemonade.latency import valid_entry
from optuna_lemonade.sampler._worker_log import WorkerLog


class SharedMeasurements:
    """Hands the study's measurements to the measuring objectives, and stores theirs.

    Each objective's log is a :class:`WorkerLog` per worker; a key is read again only
    when it grew (only the worker that owns a key appends to it), so a decision reads
    each entry once per process however many there are.
    """

    def __init__(self, objectives: Mapping[str, CheapObjective]) -> None:
        self._objectives = {
            name: objective
            for name, objective in objectives.items()
            if isinstance(objective, SharedCheapObjective)
        }
        self._logs = {
            name: WorkerLog(self._prefix(name, objective))
            for name, objective in self._objectives.items()
        }
        self._lock = threading.Lock()
        self._read: dict[tuple[int, str], int] = {}  # (study id, key) -> entries taken
        self._warned: set[str] = set()

    def __bool__(self) -> bool:
        return bool(self._objectives)

    @staticmethod
    def _prefix(name: str, objective: SharedCheapObjective) -> str:
        return f"{MEASURED_PREFIX}{name}:{objective.namespace}:"

    def load(self, study: optuna.Study, attrs: Mapping[str, Any]) -> None:
        """Give each objective the measurements in ``attrs`` it has not seen yet.

        Args:
            study: The study.
            attrs: The study's system attributes, as read for this decision.
        """
        study_id = compat.study_id(study)
        for name, objective in self._objectives.items():
            prefix = self._prefix(name, objective)
            for key, value in attrs.items():
                if not key.startswith(prefix):
                    continue
                if not isinstance(value, list):
                    self._ignore(key, "is not a list")
                    continue
                with self._lock:
                    start = self._read.get((study_id, key), 0)
                    self._read[(study_id, key)] = len(value)
                new = value[start:]
                good = [entry for entry in new if valid_entry(entry)]
                if len(good) < len(new):
                    self._ignore(key, "holds entries that are not [key, positive value]")
                objective.remember((entry[0], entry[1]) for entry in good)

    def save(self, study: optuna.Study) -> None:
        """Store in ``study`` what the objectives measured since the last call."""
        for name, objective in self._objectives.items():
            measured = objective.take_measured()
            self._logs[name].append(study, [[key, value] for key, value in measured])

    def _ignore(self, key: str, problem: str) -> None:
        if key in self._warned:
            return
        self._warned.add(key)
        warnings.warn(
            f"study system attribute {key[:100]!r} {problem}; those entries are ignored",
            LemonadeWarning,
            stacklevel=4,
        )
