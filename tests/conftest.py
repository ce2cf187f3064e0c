"""Fixtures shared by the sampler and distributed tests."""

from __future__ import annotations

import os
import pathlib

import optuna
from optuna.artifacts import FileSystemArtifactStore
import pytest
import torch

from optuna_lemonade import SearchSpace
from tests.sampler.conftest import CLASSES
from tests.sampler.conftest import SHAPE


@pytest.fixture(autouse=True)
def _quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture
def space() -> SearchSpace:
    return SearchSpace(SHAPE, CLASSES, max_params=200_000, initial_widths=(4, 8, 16))


@pytest.fixture
def store(tmp_path: pathlib.Path) -> FileSystemArtifactStore:
    directory = tmp_path / "artifacts"
    directory.mkdir()
    return FileSystemArtifactStore(directory)


@pytest.fixture
def data() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(96, *SHAPE, generator=generator)
    w = torch.randn(SHAPE[0] * SHAPE[1] * SHAPE[2], CLASSES, generator=generator)
    return x, (x.flatten(1) @ w).argmax(1)


def write_cifar_stand_in(root: pathlib.Path, name: str, *, train: int, test: int) -> None:
    """Random images in the files and format torchvision reads CIFAR-10/-100 from."""
    import pickle

    import numpy as np

    rng = np.random.default_rng(0)
    classes = 10 if name == "cifar10" else 100
    labels_key = "labels" if name == "cifar10" else "fine_labels"

    def batch(n: int) -> dict:
        return {
            "data": rng.integers(0, 256, (n, 3 * 32 * 32), dtype=np.uint8),
            labels_key: [int(i % classes) for i in range(n)],
        }

    if name == "cifar10":
        folder = root / "cifar-10-batches-py"
        folder.mkdir(parents=True)
        files = {f"data_batch_{i}": batch(train // 5) for i in range(1, 6)}
        files |= {"test_batch": batch(test), "batches.meta": {"label_names": ["c"] * classes}}
    else:
        folder = root / "cifar-100-python"
        folder.mkdir(parents=True)
        files = {"train": batch(train), "test": batch(test)}
        files["meta"] = {"fine_label_names": ["c"] * classes}
    for file, content in files.items():
        (folder / file).write_bytes(pickle.dumps(content))


@pytest.fixture
def cifar_stand_ins(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """CIFAR-10 and CIFAR-100 stand-ins; torchvision's MD5 check is the only thing skipped
    (the files are not the real ones)."""
    monkeypatch.setattr("torchvision.datasets.cifar.check_integrity", lambda *_, **__: True)
    for name in ("cifar10", "cifar100"):
        write_cifar_stand_in(tmp_path / "cifar", name, train=5_500, test=200)
    return tmp_path / "cifar"


ROOT = pathlib.Path(__file__).parents[1]


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment of a Python subprocess of the tests: this checkout first on
    ``PYTHONPATH``, before whatever the caller had there (packages installed with
    ``pip install --target`` and found through it, as on a machine whose own Python
    holds torch, stay importable)."""
    path = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, **extra, "PYTHONPATH": os.pathsep.join(path)}


def write_image_folder(
    root: pathlib.Path,
    *,
    classes: int = 3,
    per_class: int = 12,
    size: tuple[int, int] = (12, 10),
    mode: str = "RGB",
) -> pathlib.Path:
    """A folder of small PNGs in ImageFolder's layout: ``root/class<k>/<i>.png``.

    Each class has its own mean colour, so that a network can tell them apart.
    """
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    channels = 3 if mode == "RGB" else 1
    for label in range(classes):
        folder = root / f"class{label}"
        folder.mkdir(parents=True)
        for index in range(per_class):
            base = 20 + 180 * label // classes  # below 256 however many classes
            pixels = rng.integers(base, base + 40, (size[0], size[1], channels), dtype=np.uint8)
            image = Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode=mode)
            image.save(folder / f"{index}.png")
    return root
