"""Take a network away: load a checkpoint, export it for deployment, check the export.

A checkpoint downloaded from optuna-dashboard (``trial-12.pt``), or found in the
search's checkpoint directory, loads in one call (and :func:`save_checkpoint` writes
one, e.g. of a model of yours converted by
:func:`~optuna_lemonade.network.from_module`, for ``search --initial-model``)::

    from optuna_lemonade.export import load_checkpoint, export_onnx

    model = load_checkpoint("trial-12.pt")        # GraphNetwork, CPU, eval mode
    export_onnx(model, "trial-12.onnx")           # checked against onnxruntime

Formats: ONNX (``pip install "optuna-lemonade[export]"`` for onnx, onnxscript and
onnxruntime), and ``torch.export``'s ExportedProgram (``.pt2``, PyTorch only), the
successor of TorchScript, which is in maintenance mode.
"""

from __future__ import annotations

import os
import pathlib
import tempfile
from typing import Any

import torch

from optuna_lemonade.checkpoints import CheckpointError
from optuna_lemonade.checkpoints import from_bytes
from optuna_lemonade.checkpoints import to_bytes
from optuna_lemonade.network import GraphNetwork


INPUT_NAME = "images"
OUTPUT_NAME = "logits"


def load_checkpoint(path: str | os.PathLike[str]) -> GraphNetwork:
    """The network saved in a checkpoint file, with its weights (CPU, eval mode).

    Reads with ``torch.load(weights_only=True)``: a crafted file cannot run code.

    Raises:
        FileNotFoundError: If there is no such file.
        optuna_lemonade.checkpoints.CheckpointError: If it is not a readable checkpoint.
    """
    file = pathlib.Path(path)
    data = file.read_bytes()
    try:
        return from_bytes(data)
    except CheckpointError as error:
        raise CheckpointError(f"{file}: {error}") from None


def save_checkpoint(model: GraphNetwork, path: str | os.PathLike[str]) -> pathlib.Path:
    """Write ``model`` (architecture and weights) as a checkpoint file.

    The format of the search's checkpoints, which :func:`load_checkpoint`, ``optuna-lemonade
    export``, ``train`` and ``search --initial-model`` read. Written next to ``path`` and
    renamed into place: a failure or a kill never leaves half a file under its name.

    Returns:
        The path written.

    Raises:
        TypeError: If ``model`` is not a :class:`GraphNetwork`.
    """
    if not isinstance(model, GraphNetwork):
        raise TypeError(
            f"save_checkpoint expects a GraphNetwork (from_module converts a module), got "
            f"{type(model).__name__}"
        )
    target = pathlib.Path(path)
    data = to_bytes(model.architecture, model)
    with tempfile.NamedTemporaryFile(
        dir=target.absolute().parent, prefix=f".{target.name}.", suffix=".part", delete=False
    ) as part:
        part.write(data)
    os.replace(part.name, target)
    return target


def _example(model: GraphNetwork, batch: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, *model.architecture.input_shape, generator=generator)


def _check_model(model: Any) -> GraphNetwork:
    if not isinstance(model, GraphNetwork):
        raise TypeError(
            f"expected a GraphNetwork (from load_checkpoint or build_model), got "
            f"{type(model).__name__}"
        )
    return model


def export_onnx(
    model: GraphNetwork,
    path: str | os.PathLike[str],
    *,
    check: bool = True,
    atol: float = 1e-4,
) -> pathlib.Path:
    """Write ``model`` as an ONNX file with a dynamic batch dimension.

    Input ``images`` (``N x C x H x W``, float32), output ``logits`` (``N x classes``).
    Exported with PyTorch's ``torch.export``-based exporter (``dynamo=True``; the
    TorchScript-based one is deprecated), in eval mode on CPU.

    Args:
        model: The network.
        path: The ``.onnx`` file to write.
        check: Run the file with onnxruntime on a batch of random images and compare
            with PyTorch.
        atol: Largest absolute difference of logits that ``check`` accepts.

    Returns:
        The path written.

    Raises:
        ImportError: If onnx / onnxscript (or, with ``check``, onnxruntime) is missing.
        RuntimeError: If ``check`` finds a difference above ``atol``.
    """
    model = _check_model(model)
    try:
        import onnx  # noqa: F401 - the exporter needs it
        import onnxscript  # noqa: F401
    except ImportError as error:
        raise ImportError(
            'ONNX export needs onnx and onnxscript: pip install "optuna-lemonade[export]"'
        ) from error
    target = pathlib.Path(path)
    model = model.cpu().eval()
    batch = torch.export.Dim("batch", min=1, max=65_536)
    program = torch.onnx.export(
        model,
        (_example(model, 2),),
        dynamo=True,
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        dynamic_shapes=({0: batch},),
        external_data=False,
        verbose=False,
    )
    assert program is not None
    program.save(str(target))
    if check:
        deviation = onnx_deviation(model, target)
        if deviation > atol:
            raise RuntimeError(
                f"{target}: onnxruntime's logits differ from PyTorch's by {deviation:.3g} "
                f"> atol={atol:g}"
            )
    return target


def onnx_deviation(model: GraphNetwork, path: str | os.PathLike[str], *, batch: int = 5) -> float:
    """Largest absolute difference between ``model``'s logits and the ONNX file's.

    The file runs in onnxruntime on ``batch`` random images (a batch size other than
    the one exported with, to exercise the dynamic dimension).

    Raises:
        ImportError: If onnxruntime is not installed.
    """
    try:
        import onnxruntime
    except ImportError as error:
        raise ImportError(
            'checking an ONNX export needs onnxruntime: pip install "optuna-lemonade[export]"'
        ) from error
    images = _example(model, batch, seed=1)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (logits,) = session.run([OUTPUT_NAME], {INPUT_NAME: images.numpy()})
    with torch.no_grad():
        expected = model.cpu().eval()(images)
    return float((torch.from_numpy(logits) - expected).abs().max())


def export_program(model: GraphNetwork, path: str | os.PathLike[str]) -> pathlib.Path:
    """Write ``model`` as a ``torch.export`` ExportedProgram (``.pt2``).

    With a dynamic batch dimension; load it with ``torch.export.load(path).module()``.

    Returns:
        The path written.
    """
    model = _check_model(model).cpu().eval()
    batch = torch.export.Dim("batch", min=1, max=65_536)
    program = torch.export.export(model, (_example(model, 2),), dynamic_shapes=({0: batch},))
    target = pathlib.Path(path)
    torch.export.save(program, str(target))
    return target


def program_deviation(
    model: GraphNetwork, path: str | os.PathLike[str], *, batch: int = 5
) -> float:
    """Largest absolute difference between ``model``'s logits and a saved program's."""
    images = _example(model, batch, seed=1)
    loaded = torch.export.load(str(path)).module()
    with torch.no_grad():
        return float((loaded(images) - model.cpu().eval()(images)).abs().max())
