"""The checkpoint file format: an architecture and its state dict, safely loadable."""

from __future__ import annotations

import io
from typing import Any

import torch
from torch import nn

from optuna_lemonade.architecture import Architecture
from optuna_lemonade.network import check_model
from optuna_lemonade.network import from_state_dict
from optuna_lemonade.network import GraphNetwork


FORMAT = "optuna-lemonade.checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, or does not match its architecture."""


class StoreUnavailableError(CheckpointError):
    """The artifact store failed to read a checkpoint (unreachable, refused, timed out).

    Unlike the other checkpoint errors, this says nothing about the checkpoint,
    which may be fine: it is not withdrawn from the population.
    """


def to_bytes(arch: Architecture, model: nn.Module) -> bytes:
    """Serialise ``model``'s state dict with ``arch``'s JSON.

    Raises:
        ValueError: If the model does not match the architecture.
    """
    check_model(arch, model)
    return serialise(arch, cpu_state(model))


def cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """``model``'s state dict on the CPU (sharing memory with a CPU model)."""
    return {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}


def serialise(arch: Architecture, state: dict[str, torch.Tensor]) -> bytes:
    """The checkpoint bytes of ``arch`` and a state dict that fits it."""
    buffer = io.BytesIO()
    torch.save(
        {
            "format": FORMAT,
            "version": VERSION,
            "architecture": arch.to_json(),
            "state_dict": state,
        },
        buffer,
    )
    return buffer.getvalue()


def from_bytes(data: bytes, *, expected: Architecture | None = None) -> GraphNetwork:
    """Load a model from :func:`to_bytes` output.

    The bytes are read with ``torch.load(..., weights_only=True)``: only tensors and
    plain containers are accepted, so a crafted pickle cannot run code. The
    architecture is parsed with :meth:`Architecture.from_json`, which evaluates nothing.

    Args:
        data: The checkpoint.
        expected: If given, the checkpoint's architecture must equal it.

    Returns:
        The model on CPU, in eval mode.

    Raises:
        CheckpointError: If the bytes are not a valid checkpoint, hold another
            architecture than ``expected``, or a state dict that does not fit.
    """
    return model_of(*read_state(data, expected=expected))


def read_state(
    data: bytes, *, expected: Architecture | None = None
) -> tuple[Architecture, dict[str, torch.Tensor]]:
    """The architecture and state dict of :func:`to_bytes` output, read safely.

    Raises:
        CheckpointError: As :func:`from_bytes`, except that the state dict is checked
            against the architecture only by :func:`model_of`.
    """
    try:
        content: Any = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for corrupt or unsafe input
        # One line: torch's own text runs to paragraphs, and for a file that is not
        # weights only it suggests weights_only=False, which a crafted file exploits.
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        reason = lines[0][:160] if lines else ""
        if "Weights only load failed" in reason:
            reason = "not a file torch.load reads with weights_only=True"
        raise CheckpointError(
            f"unreadable checkpoint ({type(error).__name__}: {reason})"
        ) from None
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise CheckpointError("not an optuna-lemonade checkpoint")
    if content.get("version") != VERSION:
        raise CheckpointError(f"unsupported checkpoint version {content.get('version')!r}")
    try:
        arch = Architecture.from_json(content["architecture"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"checkpoint architecture is invalid: {error}") from None
    if expected is not None and arch != expected:
        raise CheckpointError("checkpoint holds another architecture than its trial")
    state = content.get("state_dict")
    if not isinstance(state, dict) or not all(
        isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in state.items()
    ):
        raise CheckpointError("checkpoint state_dict is not a mapping of names to tensors")
    return arch, state


def model_of(arch: Architecture, state: dict[str, torch.Tensor]) -> GraphNetwork:
    """A model of ``arch`` (CPU, eval mode) with a copy of the weights in ``state``.

    Raises:
        CheckpointError: If the state dict does not fit the architecture.
    """
    try:
        model = from_state_dict(arch, state)
    except ValueError as error:
        raise CheckpointError(
            f"checkpoint state_dict does not match its architecture: {error}"
        ) from None
    except RuntimeError as error:
        raise CheckpointError(f"checkpoint state_dict does not load: {error}") from None
    return model.eval()
