"""Built-in data sets with fixed, seeded train/validation/test splits."""

from __future__ import annotations

import dataclasses
import gzip
import os
import pathlib
import shutil
import tempfile

import numpy as np
import torch
from torch.utils.data import DataLoader
from torch.utils.data import TensorDataset


DATASETS = ("digits", "digits-28", "fashion-mnist", "cifar10", "cifar100")
"""Names accepted by :func:`load_dataset`."""

DEBIAN_FASHION_MNIST = pathlib.Path("/usr/share/datasets/fashion-mnist")
_FASHION_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@dataclasses.dataclass(frozen=True)
class DatasetSplits:
    """A data set as in-memory tensors, split for search.

    The validation split is carved out of the training data by a seeded permutation,
    so objectives are comparable across trials; select architectures on it and keep
    ``test`` for a final, single evaluation.
    """

    name: str
    train: TensorDataset
    validation: TensorDataset
    test: TensorDataset
    input_shape: tuple[int, int, int]
    num_classes: int

    def loaders(
        self, *, batch_size: int = 128, seed: int = 0
    ) -> tuple[DataLoader[tuple[torch.Tensor, ...]], ...]:
        """Train (shuffled, seeded), validation and test loaders."""
        generator = torch.Generator().manual_seed(seed)
        return (
            DataLoader(self.train, batch_size=batch_size, shuffle=True, generator=generator),
            DataLoader(self.validation, batch_size=4 * batch_size),
            DataLoader(self.test, batch_size=4 * batch_size),
        )


def default_cache_dir() -> pathlib.Path:
    """``$OPTUNA_LEMONADE_CACHE`` or ``~/.cache/optuna-lemonade``."""
    return pathlib.Path(
        os.environ.get("OPTUNA_LEMONADE_CACHE", pathlib.Path.home() / ".cache" / "optuna-lemonade")
    )


def _standardise(train: torch.Tensor, *others: torch.Tensor) -> tuple[torch.Tensor, ...]:
    mean = train.mean(dim=(0, 2, 3), keepdim=True)
    std = train.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    return tuple((x - mean) / std for x in (train, *others))


def _split(
    name: str,
    images: torch.Tensor,
    labels: torch.Tensor,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
    *,
    validation_size: int,
    train_size: int | None,
    seed: int,
) -> DatasetSplits:
    if not 0 < validation_size < len(images):
        raise ValueError(
            f"validation_size must be in [1, {len(images) - 1}] for {name}, got {validation_size}"
        )
    order = torch.from_numpy(np.random.default_rng(seed).permutation(len(images)))
    val_index, train_index = order[:validation_size], order[validation_size:]
    if train_size is not None:
        if not 0 < train_size <= len(train_index):
            raise ValueError(
                f"train_size must be in [1, {len(train_index)}] for {name}, got {train_size}"
            )
        train_index = train_index[:train_size]
    train_x, val_x, test_x = _standardise(images[train_index], images[val_index], test_images)
    num_classes = int(max(labels.max(), test_labels.max())) + 1
    return DatasetSplits(
        name=name,
        train=TensorDataset(train_x, labels[train_index]),
        validation=TensorDataset(val_x, labels[val_index]),
        test=TensorDataset(test_x, test_labels),
        input_shape=(images.shape[1], images.shape[2], images.shape[3]),
        num_classes=num_classes,
    )


def _digits(
    seed: int, validation_size: int | None, train_size: int | None, *, size: int = 8
) -> DatasetSplits:
    from sklearn.datasets import load_digits  # bundled with scikit-learn: works offline

    data = load_digits()
    images = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 16.0
    if size != 8:  # e.g. 28 x 28, a second task next to Fashion-MNIST
        images = torch.nn.functional.interpolate(
            images, size=(size, size), mode="bilinear", align_corners=False
        )
    labels = torch.tensor(data.target, dtype=torch.long)
    # No official test split: a fixed one (not depending on the seed) of 20 %.
    order = torch.from_numpy(np.random.default_rng(12345).permutation(len(images)))
    test, rest = order[: len(order) // 5], order[len(order) // 5 :]
    return _split(
        "digits" if size == 8 else f"digits-{size}",
        images[rest],
        labels[rest],
        images[test],
        labels[test],
        validation_size=validation_size or len(rest) // 4,
        train_size=train_size,
        seed=seed,
    )


def _find_fashion_mnist(data_dir: pathlib.Path | None) -> pathlib.Path | None:
    candidates = []
    if data_dir is not None:
        candidates += [data_dir, data_dir / "FashionMNIST" / "raw", data_dir / "fashion-mnist"]
    candidates.append(DEBIAN_FASHION_MNIST)
    for directory in candidates:
        if all(
            (directory / f).exists() or (directory / f"{f}.gz").exists() for f in _FASHION_FILES
        ):
            return directory
    return None


def _copy_atomically(source: pathlib.Path, target: pathlib.Path) -> None:
    """Copy ``source`` (or ``source.gz``, uncompressed) to ``target``, all or nothing.

    Several workers may fill an empty cache at once: each writes its own temporary file
    (a unique name in the target's directory) and renames it into place, which is
    atomic; the last rename wins, and every copy is the same.
    """
    with tempfile.NamedTemporaryFile(
        dir=target.parent, prefix=f"{target.name}.", suffix=".partial", delete=False
    ) as partial:
        try:
            if source.exists():
                with open(source, "rb") as src:
                    shutil.copyfileobj(src, partial)
            else:
                with gzip.open(source.with_name(f"{source.name}.gz"), "rb") as src:
                    shutil.copyfileobj(src, partial)
        except BaseException:
            partial.close()
            os.unlink(partial.name)
            raise
    os.replace(partial.name, target)


def _fashion_mnist(
    seed: int,
    validation_size: int | None,
    train_size: int | None,
    data_dir: pathlib.Path | None,
    download: bool,
) -> DatasetSplits:
    from torchvision.datasets import FashionMNIST

    root = default_cache_dir() / "torchvision"
    local = _find_fashion_mnist(data_dir)
    if local is not None:
        # torchvision reads the uncompressed idx files from <root>/FashionMNIST/raw.
        raw = root / "FashionMNIST" / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        for name in _FASHION_FILES:
            target = raw / name
            if target.exists():
                continue
            _copy_atomically(local / name, target)
    elif not download:
        raise FileNotFoundError(
            "Fashion-MNIST not found: looked in "
            f"{data_dir or '(no --data-dir)'} and {DEBIAN_FASHION_MNIST}. Install the Debian "
            "package dataset-fashion-mnist, pass the directory holding the idx files, or "
            "allow downloading."
        )
    try:
        train = FashionMNIST(str(root), train=True, download=download and local is None)
        test = FashionMNIST(str(root), train=False, download=download and local is None)
    except (RuntimeError, OSError) as error:  # OSError: a failed download
        raise FileNotFoundError(f"Fashion-MNIST could not be loaded: {error}") from None
    images = train.data.unsqueeze(1).float() / 255.0
    test_images = test.data.unsqueeze(1).float() / 255.0
    return _split(
        "fashion-mnist",
        images,
        train.targets.long(),
        test_images,
        test.targets.long(),
        validation_size=validation_size or 10_000,
        train_size=train_size,
        seed=seed,
    )


def _cifar(
    name: str,
    seed: int,
    validation_size: int | None,
    train_size: int | None,
    data_dir: pathlib.Path | None,
    download: bool,
) -> DatasetSplits:
    from torchvision.datasets import CIFAR10
    from torchvision.datasets import CIFAR100

    dataset_class, folder, title = (
        (CIFAR10, "cifar-10-batches-py", "CIFAR-10")
        if name == "cifar10"
        else (CIFAR100, "cifar-100-python", "CIFAR-100")
    )
    root = data_dir or default_cache_dir() / "torchvision"
    try:
        train = dataset_class(str(root), train=True, download=download)
        test = dataset_class(str(root), train=False, download=download)
    except RuntimeError:  # torchvision's "not found or corrupted"
        raise FileNotFoundError(
            f"{title} not found in {root}: put the extracted {folder} folder "
            "there, or allow downloading"
        ) from None
    except OSError as error:  # a failed download
        raise FileNotFoundError(f"{title} could not be downloaded to {root}: {error}") from None

    def images(dataset: CIFAR10) -> torch.Tensor:
        return torch.from_numpy(dataset.data).permute(0, 3, 1, 2).float() / 255.0

    return _split(
        name,
        images(train),
        torch.tensor(train.targets, dtype=torch.long),
        images(test),
        torch.tensor(test.targets, dtype=torch.long),
        validation_size=validation_size or 5_000,
        train_size=train_size,
        seed=seed,
    )


def load_dataset(
    name: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = False,
    validation_size: int | None = None,
    train_size: int | None = None,
    seed: int = 0,
) -> DatasetSplits:
    """Load a built-in data set into memory, standardised, with seeded splits.

    * ``digits``: scikit-learn's bundled 8x8 digits (1,797 images, 10 classes); works
      offline anywhere. A fixed 20 % is the test split.
    * ``digits-28``: the same digits upsampled (bilinear) to 28x28: a second task of
      Fashion-MNIST's input shape that works offline.
    * ``fashion-mnist``: read through torchvision from a local copy (``data_dir``, or the
      Debian package ``dataset-fashion-mnist`` in ``/usr/share/datasets/fashion-mnist``),
      else downloaded if ``download``. Official test split.
    * ``cifar10``, ``cifar100``: through torchvision from ``data_dir``
      (``cifar-10-batches-py``, ``cifar-100-python``), else downloaded if ``download``.
      Official test split; CIFAR-100's 100 fine labels.

    Images are standardised with the mean and deviation of the training split.

    Args:
        name: One of :data:`DATASETS`.
        data_dir: Where a local copy lies.
        download: Allow downloading when no local copy is found.
        validation_size: Images held out of the training data for validation (default
            a quarter of digits' training part, 10,000 for Fashion-MNIST, 5,000 for
            CIFAR).
        train_size: Use only this many of the remaining training images.
        seed: Seed of the validation split.

    Raises:
        ValueError: For an unknown name or sizes out of range.
        FileNotFoundError: If the data is neither found locally nor downloadable.
    """
    directory = pathlib.Path(data_dir) if data_dir is not None else None
    if name == "digits":
        return _digits(seed, validation_size, train_size)
    if name == "digits-28":
        return _digits(seed, validation_size, train_size, size=28)
    if name == "fashion-mnist":
        return _fashion_mnist(seed, validation_size, train_size, directory, download)
    if name in ("cifar10", "cifar100"):
        return _cifar(name, seed, validation_size, train_size, directory, download)
    raise ValueError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")
