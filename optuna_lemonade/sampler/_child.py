"""What the objective gets from the sampler: the network to train in this trial."""

from __future__ import annotations

import optuna
from torch import nn

from optuna_lemonade.architecture import Architecture
from optuna_lemonade.checkpoints import CheckpointStore
from optuna_lemonade.sampler._decision import Decision


class Child:
    """The network a trial trains, with its lineage; from :meth:`LemonadeSampler.child`.

    Attributes:
        model: The ``nn.Module`` to train (on CPU, in train mode). A child inherits its
            parent's trained weights; an initial network starts from scratch.
        architecture: Its :class:`~optuna_lemonade.Architecture`.
        parent: Trial number of the parent, or None for a network trained from scratch.
        operator: Name of the morphism that made it, or None.
        teacher: The parent's model (eval mode) when the morphism was approximate, for
            knowledge distillation; None otherwise.
        cheap_objectives: The architecture's cheap objectives by name.
        exact: Whether the model computes its parent's function before fine-tuning
            (in eval mode); True without a parent.
    """

    def __init__(
        self,
        *,
        trial: optuna.Trial,
        decision: Decision,
        model: nn.Module,
        teacher: nn.Module | None,
        store: CheckpointStore,
    ) -> None:
        self.model = model
        self.architecture: Architecture = decision.architecture
        self.parent = decision.parent
        self.operator = decision.operator
        self.exact = decision.exact
        self.teacher = teacher
        self.cheap_objectives = dict(decision.cheap_objectives)
        self._trial = trial
        self._store = store
        self.checkpoint: str | None = None

    def save(self, model: nn.Module | None = None) -> str:
        """Save the trained network as this trial's checkpoint (an Optuna artifact).

        Only trials that saved a checkpoint can become parents. Saving again replaces
        the trial's checkpoint and deletes the previous file (its artifact entry stays
        listed on the trial).

        Args:
            model: The trained model; default :attr:`model`. Its state dict must match
                :attr:`architecture`.

        Returns:
            The artifact id.

        Raises:
            ValueError: If the model does not match the architecture.
        """
        previous = self.checkpoint
        self.checkpoint = self._store.save(
            self._trial, self.architecture, self.model if model is None else model
        )
        if previous is not None:
            self._store.remove(previous)
        return self.checkpoint

    def __repr__(self) -> str:
        origin = (
            "from scratch" if self.parent is None else f"{self.operator} of trial {self.parent}"
        )
        return f"Child(trial={self._trial.number}, {origin}, {self.cheap_objectives})"
