"""Several tasks at once: one network, a shared body, one classifier head per task.

A network for tasks A (``a`` classes) and B (``b`` classes) is an architecture with
``a + b`` outputs: logits ``[0, a)`` are A's head and ``[a, a + b)`` B's. The final linear
layer with ``a + b`` outputs *is* two heads, each its own rows of weights and biases,
on the features the body computes for both; so nothing in the architectures, morphisms
or checkpoints changes, every exact morphism keeps every head's function (they keep the
whole output), a child inherits every task's weights with its parent's, and one
checkpoint holds them all.

Why the body is shared, and not a copy of the network per task: the cost objectives
then describe the network that serves every task (parameters and multiply-adds counted
once for the body, latency measured once), one forward pass of the body serves each
task's batch, and training on several tasks regularises the body; the price is that
the tasks compete for the body's capacity, which the search then trades off like any
other objective. An objective that wants separate networks can run one study per task.
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Sequence
import dataclasses
import math

import torch
from torch import nn
from tqdm.auto import tqdm

from optuna_lemonade.training._loops import batch_loss
from optuna_lemonade.training._loops import Batches
from optuna_lemonade.training._loops import check_training_options
from optuna_lemonade.training._loops import default_device
from optuna_lemonade.training._loops import move_batch
from optuna_lemonade.training._loops import prepare_training
from optuna_lemonade.training._loops import StepCallback
from optuna_lemonade.training._loops import stop_here
from optuna_lemonade.training._loops import to_layout


@dataclasses.dataclass(frozen=True)
class Task:
    """One classification task of a multi-task network.

    Attributes:
        name: Names the task (e.g. the data set); unique among the tasks.
        num_classes: The task's classes: its head's number of outputs.
        train: Batches of ``(images, labels)`` to train on, labels in
            ``[0, num_classes)``.
        validation: Batches to measure the task's error on.
        test: Batches for a final, single evaluation, if any.
    """

    name: str
    num_classes: int
    train: Batches
    validation: Batches
    test: Batches | None = None


def task_heads(tasks: Sequence[Task]) -> dict[str, slice]:
    """Each task's logits among the network's outputs, in the order of ``tasks``.

    Raises:
        ValueError: If there are no tasks, two share a name, or one has no classes.
    """
    if not tasks:
        raise ValueError("give at least one task")
    heads: dict[str, slice] = {}
    start = 0
    for task in tasks:
        if not isinstance(task, Task):
            raise ValueError(f"tasks must be Task objects, got {type(task).__name__}")
        if task.name in heads:
            raise ValueError(f"two tasks are named {task.name!r}")
        if isinstance(task.num_classes, bool) or not (
            isinstance(task.num_classes, int) and task.num_classes >= 1
        ):
            raise ValueError(
                f"task {task.name!r}: num_classes must be a positive integer, "
                f"got {task.num_classes!r}"
            )
        heads[task.name] = slice(start, start + task.num_classes)
        start += task.num_classes
    return heads


def num_outputs(tasks: Sequence[Task]) -> int:
    """The outputs a network for ``tasks`` has: the sum of their classes."""
    return sum(head.stop - head.start for head in task_heads(tasks).values())


def _batches(loader: Batches) -> int:
    try:
        return len(loader)  # type: ignore[arg-type]
    except TypeError:
        return sum(1 for _ in loader)


def _forever(loader: Batches) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    while True:  # a new pass (a new shuffle) whenever one ends
        yield from loader


def fine_tune_tasks(
    model: nn.Module,
    tasks: Sequence[Task],
    *,
    epochs: float = 1.0,
    lr: float = 0.05,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    teacher: nn.Module | None = None,
    distillation_weight: float = 0.5,
    temperature: float = 4.0,
    device: torch.device | str | None = None,
    channels_last: bool = True,
    augment: bool = False,
    progress: bool = True,
    description: str = "training",
    callback: StepCallback | None = None,
) -> float:
    """Train ``model`` on every task at once, as :func:`fine_tune` trains on one.

    Each step takes one batch of every task and minimises the sum of the tasks' losses,
    each on its own head: a task's cross-entropy over its own logits (with a teacher,
    distillation from the teacher's logits of that head). The sum, not the mean: each
    head gets the gradient it would get alone, so ``lr`` means what it means for one
    task. An epoch is as many steps as the largest task has batches; smaller tasks start
    another pass when theirs ends.

    Args:
        model: The network, with :func:`num_outputs` outputs; moved to ``device`` and
            left there, in train mode.
        tasks: The tasks, in the order of their heads.
        epochs: Passes over the largest task's batches; fractions allowed.
        lr: Initial learning rate, annealed to zero along a cosine over all steps.
        momentum: SGD momentum (Nesterov).
        weight_decay: L2 penalty.
        teacher: If given, distil every head from the teacher's same head.
        distillation_weight: Weight of the distillation term, in [0, 1].
        temperature: Softening temperature of the distillation term.
        device: Where to train; default CUDA when available, else CPU.
        channels_last: Train in the channels-last memory format (see :func:`fine_tune`).
        augment: Random crop and flip of every task's training images (see
            :func:`fine_tune`).
        progress: Show a tqdm progress bar.
        description: Label of the progress bar.
        callback: Called after every step with ``(steps done, total steps)``; True ends
            training there (see :func:`fine_tune`).

    Returns:
        The mean training loss (summed over tasks) of the last (partial) epoch.

    Raises:
        ValueError: For bad options (as :func:`fine_tune`), bad tasks (:func:`task_heads`),
            a task without training batches, or a model whose outputs do not match the
            tasks.
    """
    heads = task_heads(tasks)
    check_training_options(epochs, lr, distillation_weight, temperature)
    sizes = [_batches(task.train) for task in tasks]
    empty = [task.name for task, size in zip(tasks, sizes, strict=True) if size == 0]
    if empty:
        raise ValueError(f"the training batches of task {empty[0]!r} are empty")
    total = max(1, math.ceil(epochs * max(sizes)))
    device = torch.device(device) if device is not None else default_device()
    layout = torch.channels_last if channels_last else torch.contiguous_format
    optimizer, schedule = prepare_training(
        model,
        teacher,
        device,
        layout,
        lr=lr,
        momentum=momentum,
        weight_decay=weight_decay,
        total=total,
    )
    streams = [_forever(task.train) for task in tasks]
    bar = tqdm(total=total, desc=description, disable=not progress, leave=False)
    epoch_loss, epoch_steps = 0.0, 0
    for step in range(total):
        if step % max(sizes) == 0:
            epoch_loss, epoch_steps = 0.0, 0
        loss = torch.zeros((), device=device)
        for task, stream in zip(tasks, streams, strict=True):
            head = heads[task.name]
            inputs, labels = next(stream)
            inputs, labels = move_batch(inputs, device, layout, augment), labels.to(device)
            loss = loss + batch_loss(
                _outputs(model(inputs), heads)[:, head],
                labels,
                teacher,
                inputs,
                head,
                weight=distillation_weight,
                temperature=temperature,
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        schedule.step()
        epoch_loss += float(loss.detach())
        epoch_steps += 1
        bar.update(1)
        bar.set_postfix(loss=f"{epoch_loss / epoch_steps:.3f}", refresh=False)
        if callback is not None and stop_here(model, callback, step + 1, total):
            break
    bar.close()
    return epoch_loss / max(1, epoch_steps)


def _outputs(logits: torch.Tensor, heads: dict[str, slice]) -> torch.Tensor:
    """``logits``, checked against the heads."""
    expected = max(head.stop for head in heads.values())
    if logits.dim() != 2 or logits.shape[1] != expected:
        raise ValueError(
            f"the model has {logits.shape[1] if logits.dim() == 2 else tuple(logits.shape)} "
            f"outputs; {len(heads)} tasks need {expected} (the sum of their classes)"
        )
    return logits


@torch.no_grad()
def evaluate_tasks(
    model: nn.Module,
    tasks: Sequence[Task],
    *,
    split: str = "validation",
    device: torch.device | str | None = None,
    channels_last: bool = True,
) -> dict[str, float]:
    """Each task's error rate (top-1 over its own head's logits), model in eval mode.

    Args:
        model: The network, with :func:`num_outputs` outputs.
        tasks: The tasks, in the order of their heads.
        split: ``"validation"`` or ``"test"``.
        device: Where to evaluate; default CUDA when available, else CPU.
        channels_last: Evaluate in the channels-last memory format.

    Raises:
        ValueError: For an unknown split, a task without that split or whose batches
            are empty, or a model whose outputs do not match the tasks.
    """
    if split not in ("validation", "test"):
        raise ValueError(f"split must be 'validation' or 'test', got {split!r}")
    heads = task_heads(tasks)
    device = torch.device(device) if device is not None else default_device()
    layout = torch.channels_last if channels_last else torch.contiguous_format
    to_layout(model.to(device), layout).eval()
    errors: dict[str, float] = {}
    for task in tasks:
        loader = getattr(task, split)
        if loader is None:
            raise ValueError(f"task {task.name!r} has no {split} batches")
        wrong, total = 0, 0
        for inputs, labels in loader:
            logits = _outputs(model(move_batch(inputs, device, layout)), heads)
            predictions = logits[:, heads[task.name]].argmax(dim=1)
            wrong += int((predictions != labels.to(device)).sum())
            total += len(labels)
        if total == 0:
            raise ValueError(f"the {split} batches of task {task.name!r} are empty")
        errors[task.name] = wrong / total
    return errors
