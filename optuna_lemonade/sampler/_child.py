"""Child: the network a trial trains, built from its decision and its parent's weights."""

from __future__ import annotations

from collections.abc import Sequence

import optuna
import torch
from torch import nn

from optuna_lemonade.architecture import Architecture
from optuna_lemonade.checkpoints import CheckpointStore
from optuna_lemonade.morphisms import apply_mutation
from optuna_lemonade.network import build_model
from optuna_lemonade.network import GraphNetwork
from optuna_lemonade.sampler._decision import Decision
from optuna_lemonade.training import Batches
from optuna_lemonade.training import evaluate
from optuna_lemonade.training import evaluate_tasks
from optuna_lemonade.training import fine_tune
from optuna_lemonade.training import fine_tune_tasks
from optuna_lemonade.training import num_outputs
from optuna_lemonade.training import StepCallback
from optuna_lemonade.training import Task


def build_networks(
    decision: Decision, parent: GraphNetwork | None
) -> tuple[GraphNetwork, GraphNetwork | None]:
    """The model a decision trains (train mode) and its teacher, if any.

    A child replays its mutation on the parent's weights; when the mutation only
    approximates the parent's function, the parent (eval mode) is the teacher for
    distillation. Anything else is built from scratch with the decision's seed.
    """
    if decision.kind != "child":
        return build_model(decision.architecture, seed=decision.seed), None
    assert decision.mutation is not None and parent is not None
    _, model = apply_mutation(parent.architecture, parent, decision.mutation)
    model.train()
    return model, None if decision.exact else parent.eval()


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
            optuna_lemonade.checkpoints.CheckpointError: If the artifact store fails to
                store it (full, unreachable); a ``ValueError`` too. The trial keeps its
                previous checkpoint, if any, and without one cannot be a parent.
        """
        previous = self.checkpoint
        self.checkpoint = self._store.save(
            self._trial, self.architecture, self.model if model is None else model
        )
        if previous is not None:
            self._store.remove(previous)
        return self.checkpoint

    def fit(
        self,
        train_loader: Batches,
        validation_loader: Batches,
        *,
        epochs: float,
        lr: float = 0.05,
        distillation_weight: float = 0.5,
        temperature: float = 4.0,
        device: torch.device | str | None = None,
        progress: bool = False,
        callback: StepCallback | None = None,
    ) -> float:
        """Train, evaluate and save the child as the search command does.

        Fine-tunes :attr:`model` with :func:`~optuna_lemonade.training.fine_tune`
        (distilling from :attr:`teacher` when the morphism was approximate), measures
        its top-1 error on ``validation_loader`` and saves it as this trial's checkpoint.
        An objective that needs more control writes these three steps itself.

        Args:
            train_loader: Batches of ``(inputs, labels)`` to train on.
            validation_loader: Batches to measure the error on.
            epochs: Epochs of training (fractions allowed).
            lr: Initial learning rate of the cosine schedule.
            distillation_weight: Weight of the distillation loss, with a teacher.
            temperature: Softmax temperature of the distillation loss.
            device: Where to train; default CUDA when available.
            progress: Show a progress bar.
            callback: Called after every training step with ``(steps done, total
                steps)``; True ends the training there (see
                :func:`~optuna_lemonade.training.fine_tune`). The child is evaluated and
                saved all the same.

        Returns:
            The validation error, in ``[0, 1]``.
        """
        fine_tune(
            self.model,
            train_loader,
            epochs=epochs,
            lr=lr,
            teacher=self.teacher,
            distillation_weight=distillation_weight,
            temperature=temperature,
            device=device,
            progress=progress,
            callback=callback,
        )
        error = evaluate(self.model, validation_loader, device=device)
        self.save()
        return error

    def fit_tasks(
        self,
        tasks: Sequence[Task],
        *,
        epochs: float,
        lr: float = 0.05,
        distillation_weight: float = 0.5,
        temperature: float = 4.0,
        device: torch.device | str | None = None,
        progress: bool = False,
    ) -> dict[str, float]:
        """:meth:`fit` for a network with one head per task: train on all, measure, save.

        Trains on every task at once (:func:`~optuna_lemonade.training.fine_tune_tasks`),
        measures each task's error and saves the checkpoint. The search space's
        ``num_classes`` must be the sum of the tasks' classes
        (:func:`~optuna_lemonade.training.num_outputs`); the child inherits every head
        with its parent's weights, and the checkpoint holds them all.

        Args:
            tasks: The tasks, in the order of their heads (the same in every trial).
            epochs: Epochs of training; an epoch is a pass over the largest task.
            lr: Initial learning rate of the cosine schedule.
            distillation_weight: Weight of the distillation loss, with a teacher.
            temperature: Softmax temperature of the distillation loss.
            device: Where to train; default CUDA when available.
            progress: Show a progress bar.

        Returns:
            Each task's validation error by name, in ``[0, 1]``.

        Raises:
            ValueError: If the tasks' classes do not add up to the network's outputs.
        """
        outputs = num_outputs(tasks)
        if outputs != self.architecture.num_classes:
            raise ValueError(
                f"the tasks have {outputs} classes in all, the network "
                f"{self.architecture.num_classes} outputs: make the search space's "
                "num_classes the sum of the tasks' classes"
            )
        fine_tune_tasks(
            self.model,
            tasks,
            epochs=epochs,
            lr=lr,
            teacher=self.teacher,
            distillation_weight=distillation_weight,
            temperature=temperature,
            device=device,
            progress=progress,
        )
        errors = evaluate_tasks(self.model, tasks, device=device)
        self.save()
        return errors

    def __repr__(self) -> str:
        origin = (
            "from scratch" if self.parent is None else f"{self.operator} of trial {self.parent}"
        )
        return f"Child(trial={self._trial.number}, {origin}, {self.cheap_objectives})"
