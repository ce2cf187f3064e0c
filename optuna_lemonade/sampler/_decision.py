"""The sampler's decision for one trial, kept in one trial system attribute."""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses
import threading
import time
from typing import Any
from typing import cast
from typing import Literal
import warnings

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial

from optuna_lemonade import _optuna_compat as compat
from optuna_lemonade._storage_keys import DECISION_KEY
from optuna_lemonade._storage_keys import OPERATOR_ATTR
from optuna_lemonade._storage_keys import PARENT_ATTR
from optuna_lemonade._storage_keys import SUMMARY_ATTR
from optuna_lemonade._warning import LemonadeWarning
from optuna_lemonade.architecture import Architecture
from optuna_lemonade.architecture import summarize
from optuna_lemonade.morphisms import Mutation


DecisionKind = Literal["initial", "child", "restart"]
KINDS: tuple[DecisionKind, ...] = ("initial", "child", "restart")


@dataclasses.dataclass(frozen=True)
class Decision:
    """What a trial trains: an architecture, and where its weights come from.

    Attributes:
        kind: ``"initial"`` (one of the initial architectures, trained from scratch),
            ``"child"`` (a mutation of a parent, inheriting its weights) or
            ``"restart"`` (an initial architecture again, when no parent is usable).
        architecture: The network to train.
        cheap_objectives: Its cheap objectives by name.
        seed: Seed of the weights of a network trained from scratch.
        parent: Trial number of the parent, or None.
        parent_trial_id: Storage id of the parent trial, or None.
        mutation: The mutation that makes the child from the parent, or None.
        decided_at: When the decision was made (seconds since the epoch).
    """

    kind: DecisionKind
    architecture: Architecture
    cheap_objectives: dict[str, float]
    seed: int
    parent: int | None = None
    parent_trial_id: int | None = None
    mutation: Mutation | None = None
    decided_at: float | None = None

    @property
    def operator(self) -> str | None:
        """The name of the mutation's operator, or None."""
        return None if self.mutation is None else self.mutation.operator

    @property
    def exact(self) -> bool:
        """Whether the child computes its parent's function (True without parent)."""
        return self.mutation is None or self.mutation.exact

    def lineage(self) -> dict[str, Any]:
        """The trial user attributes that show the lineage in optuna-dashboard."""
        return {
            PARENT_ATTR: self.parent,
            OPERATOR_ATTR: self.operator,
            SUMMARY_ATTR: summarize(self.architecture),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, stored as the trial system attribute."""
        return {
            "version": 1,
            "kind": self.kind,
            "architecture": self.architecture.to_dict(),
            "cheap_objectives": dict(self.cheap_objectives),
            "seed": self.seed,
            "parent": self.parent,
            "parent_trial_id": self.parent_trial_id,
            "mutation": None if self.mutation is None else self.mutation.to_dict(),
            "decided_at": self.decided_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        """Parse and validate a stored decision.

        Raises:
            ValueError: If it is malformed.
        """
        if not isinstance(data, Mapping) or data.get("version") != 1:
            raise ValueError("not a version-1 LEMONADE decision")
        kind = data.get("kind")
        if kind not in KINDS:
            raise ValueError(f"unknown decision kind {kind!r}")
        cheap = data.get("cheap_objectives")
        if not isinstance(cheap, Mapping) or not all(
            isinstance(k, str) and isinstance(v, (int, float)) for k, v in cheap.items()
        ):
            raise ValueError("decision cheap_objectives must map names to numbers")
        seed, parent, parent_id = data.get("seed"), data.get("parent"), data.get("parent_trial_id")
        if not isinstance(seed, int):
            raise ValueError("decision seed must be an integer")
        mutation = data.get("mutation")
        decided_at = data.get("decided_at")
        if decided_at is not None and (
            isinstance(decided_at, bool) or not isinstance(decided_at, (int, float))
        ):
            raise ValueError("decision decided_at must be a number")
        if kind == "child":
            if not isinstance(parent, int) or not isinstance(parent_id, int) or mutation is None:
                raise ValueError("a child decision needs a parent and a mutation")
        elif parent is not None or parent_id is not None or mutation is not None:
            raise ValueError(f"a {kind} decision has no parent")
        return cls(
            kind=cast(DecisionKind, kind),
            architecture=Architecture.from_dict(data.get("architecture")),  # type: ignore[arg-type]
            cheap_objectives={k: float(v) for k, v in cheap.items()},
            seed=seed,
            parent=parent,
            parent_trial_id=parent_id,
            mutation=None if mutation is None else Mutation.from_dict(mutation),
            decided_at=None if decided_at is None else float(decided_at),
        )


class DecisionCache:
    """Parsed decisions by trial id, of one storage, shared by a sampler's threads.

    A decision never changes once written, so a parsed one is kept for good; a stored
    decision that fails validation is ignored with a :class:`LemonadeWarning`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._decisions: dict[int, Decision] = {}

    def put(self, trial: FrozenTrial, decision: Decision) -> None:
        """Remember the decision this process made for ``trial``."""
        with self._lock:
            self._decisions[compat.trial_id(trial)] = decision

    def made_here(self, trial_id: int) -> Decision | None:
        """The decision for ``trial_id`` if it is cached, without reading the trial."""
        with self._lock:
            return self._decisions.get(trial_id)

    def get(self, trial: FrozenTrial) -> Decision | None:
        """The decision stored on ``trial``, or None if it has none (or an invalid one)."""
        cached = self.made_here(compat.trial_id(trial))
        if cached is not None:
            return cached
        decision = parse(trial, stacklevel=5)
        if decision is not None:
            self.put(trial, decision)
        return decision


def parse(trial: FrozenTrial, *, stacklevel: int = 3) -> Decision | None:
    """The decision stored on ``trial``, or None if it has none.

    An invalid one is ignored with a :class:`LemonadeWarning`.
    """
    data = trial.system_attrs.get(DECISION_KEY)
    if data is None:
        return None
    try:
        return Decision.from_dict(data)
    except ValueError as error:
        warnings.warn(
            f"trial {trial.number} has an invalid decision and is ignored: {error}",
            LemonadeWarning,
            stacklevel=stacklevel,
        )
        return None


def write(storage: BaseStorage, trial: FrozenTrial, decision: Decision) -> Decision:
    """Store ``decision`` and its lineage on ``trial``; return it with its time stamped.

    One transaction on an RDB storage: the decision and the lineage that
    optuna-dashboard shows (four separate writes were a fifth of a decision). The
    asking ``Trial`` sees the lineage in its own user attributes too.

    Raises:
        RuntimeError: If another worker failed the trial meanwhile (a stale heartbeat).
    """
    decision = dataclasses.replace(decision, decided_at=time.time())
    lineage = decision.lineage()
    try:
        compat.set_trial_attrs(
            storage, trial, system={DECISION_KEY: decision.to_dict()}, user=lineage
        )
    except UpdateFinishedTrialError as error:
        raise RuntimeError(
            f"trial {trial.number} was failed by another worker while this one was "
            "deciding: its heartbeat looked older than the grace period. Make the grace "
            "period longer than any pause of a live worker (on a journal file, longer "
            "than the journal lock's own grace period, 30 s by default, which a worker "
            "killed while holding the lock makes every worker wait)"
        ) from error
    for key, value in lineage.items():  # the asking Trial's own view of them
        trial.set_user_attr(key, value)
    return decision


def stored(trial: optuna.Trial) -> Decision:
    """The decision stored on the running ``trial`` (made by another process).

    Raises:
        RuntimeError: If no LemonadeSampler decided for ``trial``.
        ValueError: If the stored decision is malformed.
    """
    attrs = compat.running_trial_system_attrs(trial)
    if DECISION_KEY not in attrs:
        raise RuntimeError(
            f"trial {trial.number} was not started by a LemonadeSampler: create the "
            "study with sampler=LemonadeSampler(...) and call child() on its own trials"
        )
    return Decision.from_dict(attrs[DECISION_KEY])


def fill_lineage(trial: optuna.Trial, decision: Decision) -> None:
    """Write the lineage user attributes that ``trial`` lacks.

    :func:`write` wrote them with the decision; a retry of a trial decided by an older
    version, or one whose attributes were lost, gets what is missing.
    """
    stored_attrs = trial.user_attrs
    for name, value in decision.lineage().items():
        if name not in stored_attrs or stored_attrs[name] != value:
            trial.set_user_attr(name, value)
