"""The sampler's decision for one trial, kept in one trial system attribute."""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses
from typing import Any

from optuna_lemonade.architecture import Architecture
from optuna_lemonade.morphisms import Mutation


DECISION_KEY = "lemonade:decision"
"""Trial system attribute that holds the decision, written once in ``before_trial``."""

KINDS = ("initial", "child", "restart")


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

    kind: str
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
            kind=kind,
            architecture=Architecture.from_dict(data.get("architecture")),  # type: ignore[arg-type]
            cheap_objectives={k: float(v) for k, v in cheap.items()},
            seed=seed,
            parent=parent,
            parent_trial_id=parent_id,
            mutation=None if mutation is None else Mutation.from_dict(mutation),
            decided_at=None if decided_at is None else float(decided_at),
        )
