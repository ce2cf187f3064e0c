"""Child: the network a trial trains, built from its decision and its parent's weights."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
import threading

import optuna
from optuna.trial import FrozenTrial
import torch
from torch import nn

from optuna_lemonade import _optuna_compat as compat
from optuna_lemonade.architecture import Architecture
from optuna_lemonade.checkpoints import CheckpointStore
from optuna_lemonade.morphisms import apply_mutation
from optuna_lemonade.network import build_model
from optuna_lemonade.network import from_state_dict
from optuna_lemonade.network import GraphNetwork
from optuna_lemonade.sampler._decision import Decision
from optuna_lemonade.training import Batches
from optuna_lemonade.training import child_epochs
from optuna_lemonade.training import evaluate
from optuna_lemonade.training import evaluate_tasks
from optuna_lemonade.training import fine_tune
from optuna_lemonade.training import fine_tune_tasks
from optuna_lemonade.training import num_outputs
from optuna_lemonade.training import StepCallback
from optuna_lemonade.training import Task


Weights = dict[str, torch.Tensor]


def build_networks(
    decision: Decision, parent: GraphNetwork | None, pretrained: dict[Architecture, Weights]
) -> tuple[GraphNetwork, GraphNetwork | None]:
    """The model a decision trains (train mode) and its teacher, if any.

    A child replays its mutation on the parent's weights; when the mutation only
    approximates the parent's function, the parent (eval mode) is the teacher for
    distillation. An initial network given with weights (``pretrained``) starts from
    them; anything else is built from scratch with the decision's seed.
    """
    if decision.kind != "child":
        weights = pretrained.get(decision.architecture)
        if weights is not None:
            return from_state_dict(decision.architecture, weights).train(), None
        return build_model(decision.architecture, seed=decision.seed), None
    assert decision.mutation is not None and parent is not None
    _, model = apply_mutation(parent.architecture, parent, decision.mutation)
    model.train()
    return model, None if decision.exact else parent.eval()


class Child:
    """The network a trial trains, with its lineage; from :meth:`LemonadeSampler.child`.

    Attributes:
        model: The ``nn.Module`` to train (on CPU, in train mode). A child inherits its
            parent's trained weights; an initial network starts from scratch, or from
            the weights it was given with (``pretrained``).
        architecture: Its :class:`~optuna_lemonade.Architecture`.
        parent: Trial number of the parent, or None for a network trained from scratch.
        operator: Name of the morphism that made it, or None.
        teacher: The parent's model (eval mode) when the morphism was approximate, for
            knowledge distillation; None otherwise.
        cheap_objectives: The architecture's cheap objectives by name.
        exact: Whether the model computes its parent's function before fine-tuning
            (in eval mode); True without a parent.
        pretrained: Whether it is an initial network given with trained weights
            (``LemonadeSampler(initial_architectures=[network])``): :meth:`fit` then
            evaluates and saves it without training.
        checkpoint: The artifact id of the saved checkpoint, or None before
            :meth:`save`.
    """

    def __init__(
        self,
        *,
        trial: optuna.Trial,
        decision: Decision,
        model: nn.Module,
        teacher: nn.Module | None,
        store: CheckpointStore,
        reference_macs: float,
        pretrained: bool = False,
    ) -> None:
        self.model = model
        self.pretrained = pretrained
        self.architecture: Architecture = decision.architecture
        self.parent = decision.parent
        self.operator = decision.operator
        self.exact = decision.exact
        self.teacher = teacher
        self.cheap_objectives = dict(decision.cheap_objectives)
        self._trial = trial
        self._store = store
        self._reference_macs = reference_macs
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

    def fine_tune_epochs(self, epochs: float) -> float:
        """The epochs :meth:`fit` trains this network for, given base ``epochs``.

        An initial network trains ``epochs``, one given with trained weights 0. A
        child cheaper than half the largest
        initial network (in multiply-adds) trains longer, ``epochs * sqrt(reference /
        its MACs)``, at most 3 times as long: it costs little per epoch and is far from
        converged after a short fine-tune (:func:`~optuna_lemonade.training.child_epochs`,
        the rule the search benchmark adopted).
        """
        if self.parent is None:
            return 0.0 if self.pretrained else epochs
        return child_epochs(epochs, self.architecture, self._reference_macs)

    def fit(
        self,
        train_loader: Batches,
        validation_loader: Batches,
        *,
        epochs: float,
        scale_epochs: bool = True,
        lr: float = 0.05,
        distillation_weight: float = 0.5,
        temperature: float = 4.0,
        device: torch.device | str | None = None,
        augment: bool = False,
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
            epochs: Epochs of training (fractions allowed); a cheap child trains
                longer, a pretrained initial network not at all
                (:meth:`fine_tune_epochs`); 0 evaluates and saves without training.
            scale_epochs: False trains exactly ``epochs``.
            lr: Initial learning rate of the cosine schedule.
            distillation_weight: Weight of the distillation loss, with a teacher.
            temperature: Softmax temperature of the distillation loss.
            device: Where to train; default CUDA when available.
            augment: Random crop and horizontal flip of the training images (see
                :func:`~optuna_lemonade.training.fine_tune`).
            progress: Show a progress bar.
            callback: Called after every training step with ``(steps done, total
                steps)``; True ends the training there (see
                :func:`~optuna_lemonade.training.fine_tune`). The child is evaluated and
                saved all the same.

        Returns:
            The validation error, in ``[0, 1]``.
        """
        epochs = self.fine_tune_epochs(epochs) if scale_epochs else epochs
        if epochs > 0:  # 0: a pretrained initial network, measured as given
            fine_tune(
                self.model,
                train_loader,
                epochs=epochs,
                lr=lr,
                teacher=self.teacher,
                distillation_weight=distillation_weight,
                temperature=temperature,
                device=device,
                augment=augment,
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
        scale_epochs: bool = True,
        lr: float = 0.05,
        distillation_weight: float = 0.5,
        temperature: float = 4.0,
        device: torch.device | str | None = None,
        augment: bool = False,
        progress: bool = False,
        callback: StepCallback | None = None,
    ) -> dict[str, float]:
        """:meth:`fit` for a network with one head per task: train on all, measure, save.

        Trains on every task at once (:func:`~optuna_lemonade.training.fine_tune_tasks`),
        measures each task's error and saves the checkpoint. The search space's
        ``num_classes`` must be the sum of the tasks' classes
        (:func:`~optuna_lemonade.training.num_outputs`); the child inherits every head
        with its parent's weights, and the checkpoint holds them all.

        Args:
            tasks: The tasks, in the order of their heads (the same in every trial).
            epochs: Epochs of training; an epoch is a pass over the largest task. A
                cheap child trains longer (:meth:`fine_tune_epochs`).
            scale_epochs: False trains exactly ``epochs``.
            lr: Initial learning rate of the cosine schedule.
            distillation_weight: Weight of the distillation loss, with a teacher.
            temperature: Softmax temperature of the distillation loss.
            device: Where to train; default CUDA when available.
            augment: Random crop and horizontal flip of every task's training images.
            progress: Show a progress bar.
            callback: Called after every training step, as in :meth:`fit`.

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
        epochs = self.fine_tune_epochs(epochs) if scale_epochs else epochs
        if epochs > 0:  # 0: a pretrained initial network, measured as given
            fine_tune_tasks(
                self.model,
                tasks,
                epochs=epochs,
                lr=lr,
                teacher=self.teacher,
                distillation_weight=distillation_weight,
                temperature=temperature,
                device=device,
                augment=augment,
                progress=progress,
                callback=callback,
            )
        errors = evaluate_tasks(self.model, tasks, device=device)
        self.save()
        return errors

    def __repr__(self) -> str:
        origin = (
            ("pretrained" if self.pretrained else "from scratch")
            if self.parent is None
            else f"{self.operator} of trial {self.parent}"
        )
        return f"Child(trial={self._trial.number}, {origin}, {self.cheap_objectives})"


class Children:
    """The children this process handed out, and the parents loaded for them.

    ``before_trial`` loads a child's parent while deciding (:meth:`hold_parent`); the
    objective's ``child()`` builds the child from it (:meth:`build`) and gets the same
    :class:`Child` on later calls; ``after_trial`` lets both go (:meth:`finish`).
    Shared by a sampler's threads (``n_jobs``).
    """

    def __init__(
        self,
        store: CheckpointStore,
        reference_macs: float,
        pretrained: dict[Architecture, Weights],
    ) -> None:
        self._store = store
        self._reference_macs = reference_macs
        self._pretrained = pretrained
        self._lock = threading.Lock()
        self._parents: dict[int, GraphNetwork] = {}  # trial id -> loaded parent model
        self._children: dict[int, Child] = {}  # trial id -> child handed out

    def hold_parent(self, trial: FrozenTrial, parent: GraphNetwork | None) -> None:
        """Keep ``trial``'s loaded parent until its child is built."""
        if parent is not None:
            with self._lock:
                self._parents[compat.trial_id(trial)] = parent

    def handed_out(self, trial: optuna.Trial) -> Child | None:
        """The child already built for ``trial``, or None."""
        with self._lock:
            return self._children.get(compat.trial_id(trial))

    def build(
        self,
        trial: optuna.Trial,
        decision: Decision,
        load_model: Callable[[FrozenTrial], GraphNetwork],
    ) -> Child:
        """Build ``trial``'s child from the held parent, or from ``load_model``'s."""
        key = compat.trial_id(trial)
        with self._lock:
            parent = self._parents.pop(key, None)
        if decision.kind == "child" and parent is None:  # decided by another process
            assert decision.parent_trial_id is not None
            storage = compat.trial_storage(trial)
            parent = load_model(compat.get_trial(storage, decision.parent_trial_id))
        model, teacher = build_networks(decision, parent, self._pretrained)
        child = Child(
            trial=trial,
            decision=decision,
            model=model,
            teacher=teacher,
            store=self._store,
            reference_macs=self._reference_macs,
            pretrained=decision.kind != "child" and decision.architecture in self._pretrained,
        )
        with self._lock:
            self._children[key] = child
        return child

    def finish(self, trial: FrozenTrial) -> Child | None:
        """Forget ``trial``'s parent and child; return the child, if one was built."""
        with self._lock:
            self._parents.pop(compat.trial_id(trial), None)
            return self._children.pop(compat.trial_id(trial), None)
