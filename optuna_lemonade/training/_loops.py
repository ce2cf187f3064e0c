"""Training and evaluation loops for any objective."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
import math
from typing import Any
from typing import cast

import torch
from torch import nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from optuna_lemonade.training._augment import augment_batch


Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]
StepCallback = Callable[[int, int], bool]
"""Called after each optimisation step with ``(steps done, total steps)``; returning True
ends the training there."""


def default_device() -> torch.device:
    """CUDA when available, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def distillation_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    teacher_logits: torch.Tensor,
    *,
    weight: float,
    temperature: float,
) -> torch.Tensor:
    """Hinton et al.'s knowledge distillation loss.

    ``(1 - weight) * cross_entropy + weight * T^2 * KL(teacher_T || student_T)``, with
    both distributions softened by the temperature ``T``.
    """
    hard = F.cross_entropy(logits, targets)
    soft = F.kl_div(
        F.log_softmax(logits / temperature, dim=1),
        F.log_softmax(teacher_logits / temperature, dim=1),
        log_target=True,
        reduction="batchmean",
    )
    return (1.0 - weight) * hard + weight * temperature**2 * soft


def batch_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    teacher: nn.Module | None,
    inputs: torch.Tensor,
    head: slice = slice(None),
    *,
    weight: float,
    temperature: float,
) -> torch.Tensor:
    """One batch's training loss: cross-entropy, or with a teacher distillation.

    The teacher's logits are taken from the same ``head`` (slice of its outputs) as
    ``logits`` are from the student's.
    """
    if teacher is None:
        return F.cross_entropy(logits, labels)
    with torch.no_grad():
        teacher_logits = teacher(inputs)[:, head]
    return distillation_loss(
        logits, labels, teacher_logits, weight=weight, temperature=temperature
    )


def fine_tune(
    model: nn.Module,
    train_loader: Batches,
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
    """Train ``model`` in place: SGD with momentum, cosine-annealed learning rate.

    Args:
        model: The network; moved to ``device`` and left there, in train mode.
        train_loader: Batches of ``(inputs, labels)``; re-iterated every epoch.
        epochs: Passes over the data; fractions train on the first part of an epoch.
        lr: Initial learning rate, annealed to zero along a cosine over all steps.
        momentum: SGD momentum (Nesterov).
        weight_decay: L2 penalty.
        teacher: If given, distil from it: the loss mixes cross-entropy with the KL
            divergence to the teacher's softened outputs (the teacher runs in eval mode
            and is not trained).
        distillation_weight: Weight of the distillation term, in [0, 1].
        temperature: Softening temperature of the distillation term.
        device: Where to train; default CUDA when available, else CPU.
        channels_last: Keep images and weights in the channels-last memory format,
            which makes convolutions, depthwise ones above all, several times faster on
            CPU (measured: a 5x5 depthwise convolution's forward and backward pass 4x);
            the values are the same.
        augment: Randomly crop (after zero padding of 1/8 of the side) and flip each
            training image left to right, per image and step
            (:func:`~optuna_lemonade.training.augment_batch`), on the device.
        progress: Show a tqdm progress bar.
        description: Label of the progress bar.
        callback: Called after every step with ``(steps done, total steps)``; when it
            returns True, training ends there (the schedule is not shortened: the
            learning rate stays where the cosine had it). It may evaluate the model
            (e.g. to stop a network that is clearly losing) on the training's
            ``device`` (:func:`evaluate` moves the model to the device it is given);
            the model is put back in train mode after each call.

    Returns:
        The mean training loss over the last (partial) epoch.

    Raises:
        ValueError: For a non-positive number of epochs or learning rate, a distillation
            weight outside [0, 1], or an empty loader.
    """
    check_training_options(epochs, lr, distillation_weight, temperature)
    try:
        steps_per_epoch = len(train_loader)  # type: ignore[arg-type]
    except TypeError:
        steps_per_epoch = sum(1 for _ in train_loader)
    if steps_per_epoch == 0:
        raise ValueError("the training loader yields no batches")
    total = max(1, math.ceil(epochs * steps_per_epoch))
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
    bar = tqdm(total=total, desc=description, disable=not progress, leave=False)
    step, epoch_loss, epoch_batches = 0, 0.0, 0
    while step < total:
        epoch_loss, epoch_batches = 0.0, 0
        for inputs, labels in train_loader:
            inputs, labels = move_batch(inputs, device, layout, augment), labels.to(device)
            loss = batch_loss(
                model(inputs),
                labels,
                teacher,
                inputs,
                weight=distillation_weight,
                temperature=temperature,
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            schedule.step()
            step += 1
            epoch_loss += float(loss.detach())
            epoch_batches += 1
            bar.update(1)
            bar.set_postfix(loss=f"{epoch_loss / epoch_batches:.3f}", refresh=False)
            if callback is not None and stop_here(model, callback, step, total):
                total = step
            if step == total:
                break
    bar.close()
    return epoch_loss / max(1, epoch_batches)


def stop_here(model: nn.Module, callback: StepCallback, step: int, total: int) -> bool:
    """Ask ``callback`` whether to stop after ``step``; the model goes back to train mode."""
    stop = bool(callback(step, total))
    model.train()
    return stop


def check_training_options(
    epochs: float, lr: float, distillation_weight: float, temperature: float
) -> None:
    """Refuse options no training can use, naming the option.

    Raises:
        ValueError: For non-positive (or infinite) epochs, a non-positive learning rate or
            temperature, or a distillation weight outside [0, 1].
    """
    if not epochs > 0 or not math.isfinite(epochs):
        raise ValueError(f"epochs must be positive, got {epochs!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    if not 0.0 <= distillation_weight <= 1.0:
        raise ValueError(f"distillation_weight must be in [0, 1], got {distillation_weight!r}")
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}")


def prepare_training(
    model: nn.Module,
    teacher: nn.Module | None,
    device: torch.device,
    layout: torch.memory_format,
    *,
    lr: float,
    momentum: float,
    weight_decay: float,
    total: int,
) -> tuple[torch.optim.SGD, torch.optim.lr_scheduler.CosineAnnealingLR]:
    """Move the model (train mode) and teacher (eval mode); make the optimizer.

    Returns:
        SGD with Nesterov momentum and its cosine schedule over ``total`` steps.
    """
    to_layout(model.to(device), layout).train()
    if teacher is not None:
        to_layout(teacher.to(device), layout).eval()
    optimizer = torch.optim.SGD(
        model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=True
    )
    return optimizer, torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)


def to_layout(module: nn.Module, layout: torch.memory_format) -> nn.Module:
    """``module.to(memory_format=layout)``: 4-d parameters and buffers in ``layout``.

    Through ``Any`` because torch's own type stubs before 2.14 lack the documented
    ``memory_format`` overload of ``Module.to``, and mypy would refuse the call.
    """
    converted: nn.Module = cast(Any, module).to(memory_format=layout)
    return converted


def move_batch(
    x: torch.Tensor, device: torch.device, layout: torch.memory_format, augment: bool = False
) -> torch.Tensor:
    """``x`` on ``device``, images in ``layout``, augmented if ``augment``."""
    x = x.to(device)
    if x.dim() != 4:
        return x
    return (augment_batch(x) if augment else x).contiguous(memory_format=layout)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: Batches,
    *,
    device: torch.device | str | None = None,
    channels_last: bool = True,
) -> float:
    """Error rate (fraction of wrong top-1 predictions) of ``model`` in eval mode.

    The model is moved to ``device`` (default CUDA when available; in the
    channels-last memory format unless ``channels_last`` is False, see
    :func:`fine_tune`) and left in eval mode.

    Raises:
        ValueError: If the loader yields no examples.
    """
    device = torch.device(device) if device is not None else default_device()
    layout = torch.channels_last if channels_last else torch.contiguous_format
    to_layout(model.to(device), layout).eval()
    wrong, total = 0, 0
    for inputs, labels in loader:
        predictions = model(move_batch(inputs, device, layout)).argmax(dim=1)
        wrong += int((predictions != labels.to(device)).sum())
        total += len(labels)
    if total == 0:
        raise ValueError("the evaluation loader yields no examples")
    return wrong / total
