"""Data sets as in-memory tensors with fixed, seeded train/validation/test splits.

The built-in ones, a folder of the user's images, or the user's tensors or ``Dataset``.
"""

from __future__ import annotations

from collections.abc import Sequence
import dataclasses
import gzip
import os
import pathlib
import shutil
import tempfile

import numpy as np
import torch
from torch.utils.data import DataLoader
from torch.utils.data import Dataset
from torch.utils.data import TensorDataset

from optuna_lemonade.training._image_folder import read_image_folder


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
    classes: tuple[str, ...] | None = None

    @classmethod
    def from_tensors(
        cls,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        name: str = "tensors",
        test: tuple[torch.Tensor, torch.Tensor] | None = None,
        classes: Sequence[str] | None = None,
        validation_size: int | None = None,
        train_size: int | None = None,
        seed: int = 0,
    ) -> DatasetSplits:
        """Splits of the user's own images and labels, as :func:`load_dataset` makes them.

        Args:
            images: ``N x C x H x W`` (or ``N x H x W``, one channel): float (any
                range) or uint8 (0-255, scaled to [0, 1]).
            labels: ``N`` integer class indices, ``0`` to ``num_classes - 1``.
            name: Names the data (in reports and the search command's study name).
            test: A test split of its own, ``(images, labels)``; default a fixed 20 % of
                ``images`` (the same whatever the seed).
            classes: The class names, one per class index.
            validation_size: Images held out for validation (default a quarter of what
                is not test).
            train_size: Use only this many of the remaining training images.
            seed: Seed of the validation split.

        Raises:
            ValueError: Naming what is wrong with the tensors or sizes.
        """
        images, labels = _checked_tensors(images, labels, "images")
        if test is None:
            # A fixed test split (not depending on the seed) of 20 %, as digits has.
            order = torch.from_numpy(np.random.default_rng(12345).permutation(len(images)))
            held, rest = order[: len(order) // 5], order[len(order) // 5 :]
            if len(held) == 0:
                raise ValueError(f"{name}: {len(images)} images are too few to split")
            test = (images[held], labels[held])
            images, labels = images[rest], labels[rest]
        test_images, test_labels = _checked_tensors(*test, "test images")
        if test_images.shape[1:] != images.shape[1:]:
            raise ValueError(
                f"{name}: test images are {tuple(test_images.shape[1:])}, the others "
                f"{tuple(images.shape[1:])}"
            )
        splits = _split(
            name,
            images,
            labels,
            test_images,
            test_labels,
            validation_size=validation_size or max(1, len(images) // 4),
            train_size=train_size,
            seed=seed,
        )
        if classes is not None:
            if len(classes) < splits.num_classes:
                raise ValueError(
                    f"{name}: {len(classes)} class names for labels up to {splits.num_classes - 1}"
                )
            splits = dataclasses.replace(splits, classes=tuple(classes), num_classes=len(classes))
        return splits

    @classmethod
    def from_dataset(
        cls,
        dataset: Dataset[tuple[object, int]],
        *,
        name: str = "dataset",
        test: Dataset[tuple[object, int]] | None = None,
        validation_size: int | None = None,
        train_size: int | None = None,
        seed: int = 0,
    ) -> DatasetSplits:
        """Splits of any map-style ``Dataset`` of ``(image, label)`` pairs, read once.

        Images may be tensors ``C x H x W`` or PIL images, all of one size (a torchvision
        data set with ``transform=transforms.Resize(...)`` makes them so); the pairs are
        read into memory once, then split as :meth:`from_tensors` splits.

        Raises:
            ValueError: If the data set is empty, an item is not an ``(image, label)``
                pair, or the images differ in shape.
        """
        images, labels = _read_dataset(dataset, "dataset")
        held = None if test is None else _read_dataset(test, "test")
        classes = getattr(dataset, "classes", None)
        return cls.from_tensors(
            images,
            labels,
            name=name,
            test=held,
            classes=list(classes) if isinstance(classes, Sequence) else None,
            validation_size=validation_size,
            train_size=train_size,
            seed=seed,
        )

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


def _checked_tensors(
    images: object, labels: object, what: str
) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(images, torch.Tensor) or not isinstance(labels, torch.Tensor):
        raise ValueError(f"{what} and their labels must be tensors")
    if images.dim() == 3:
        images = images.unsqueeze(1)
    if images.dim() != 4 or 0 in images.shape:
        raise ValueError(f"{what} must be N x C x H x W, got {tuple(images.shape)}")
    if labels.dim() != 1 or len(labels) != len(images):
        raise ValueError(f"{what}: {len(images)} images but labels of shape {tuple(labels.shape)}")
    if labels.dtype.is_floating_point or labels.dtype == torch.bool or labels.is_complex():
        raise ValueError(f"{what}: labels must be integers, got {labels.dtype}")
    if int(labels.min()) < 0:
        raise ValueError(f"{what}: labels must be 0 or more, got {int(labels.min())}")
    if images.dtype == torch.uint8:
        images = images.float() / 255.0
    elif not images.dtype.is_floating_point:
        raise ValueError(f"{what} must be float or uint8, got {images.dtype}")
    elif not bool(torch.isfinite(images).all()):
        raise ValueError(f"{what} hold NaN or infinite values")
    return images.float(), labels.long()


def _read_dataset(
    dataset: Dataset[tuple[object, int]], what: str
) -> tuple[torch.Tensor, torch.Tensor]:
    from torchvision.transforms.v2.functional import to_dtype
    from torchvision.transforms.v2.functional import to_image

    try:
        count = len(dataset)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(f"{what}: a map-style Dataset with a length is needed") from None
    if count == 0:
        raise ValueError(f"{what}: the data set is empty")
    images: list[torch.Tensor] = []
    labels: list[int] = []
    for index in range(count):
        item = dataset[index]
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise ValueError(f"{what}: item {index} is not an (image, label) pair")
        image, label = item
        try:
            tensor = image if isinstance(image, torch.Tensor) else to_image(image)
        except TypeError:
            raise ValueError(
                f"{what}: item {index}'s image is a {type(image).__name__}, not a tensor or "
                "PIL image"
            ) from None
        if tensor.dtype == torch.uint8:
            tensor = to_dtype(tensor, torch.float32, scale=True)
        if images and tensor.shape != images[0].shape:
            raise ValueError(
                f"{what}: item {index}'s image is {tuple(tensor.shape)}, item 0's "
                f"{tuple(images[0].shape)}; make them one size (e.g. a Resize transform)"
            )
        images.append(tensor.float())
        labels.append(int(label))
    return torch.stack(images), torch.tensor(labels, dtype=torch.long)


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


def is_builtin(name: str) -> bool:
    """Whether ``name`` is a built-in data set (else :func:`load_dataset` reads a folder)."""
    return name in DATASETS


def data_name(name: str | os.PathLike[str]) -> str:
    """The name :func:`load_dataset` gives the data: a built-in one's, a folder's own."""
    text = os.fspath(name)
    return text if is_builtin(text) else pathlib.Path(text).resolve().name or "images"


def _image_folder(
    path: str,
    seed: int,
    validation_size: int | None,
    train_size: int | None,
    image_size: int | Sequence[int] | str | None,
) -> DatasetSplits:
    images, labels, classes = read_image_folder(path, image_size=image_size)
    return DatasetSplits.from_tensors(
        images,
        labels,
        name=data_name(path),
        classes=classes,
        validation_size=validation_size,
        train_size=train_size,
        seed=seed,
    )


def load_dataset(
    name: str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = False,
    validation_size: int | None = None,
    train_size: int | None = None,
    image_size: int | Sequence[int] | str | None = None,
    seed: int = 0,
) -> DatasetSplits:
    """Load a built-in data set, or a folder of your images, into memory with splits.

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
    * any other name is a folder of images with one sub-folder per class, in
      torchvision's ``ImageFolder`` layout (``path/cat/1.png``, ``path/dog/2.jpg``): read
      once into memory at one size (``image_size``, default the most common size with
      its longer side capped at 64), grayscale when every image is, else RGB; a fixed
      20 % is the test split. Files that are not readable images are skipped, and
      images of another size resized, each said in one warning
      (:class:`~optuna_lemonade.LemonadeWarning`).

    Images are standardised with the mean and deviation of the training split. Your
    own tensors or ``Dataset``: :meth:`DatasetSplits.from_tensors`,
    :meth:`DatasetSplits.from_dataset`.

    Args:
        name: One of :data:`DATASETS`, or the path of an image folder.
        data_dir: Where a local copy of a built-in data set lies.
        download: Allow downloading a built-in data set when no local copy is found.
        validation_size: Images held out of the training data for validation (default
            a quarter of the training part of digits and of a folder, 10,000 for
            Fashion-MNIST, 5,000 for CIFAR).
        train_size: Use only this many of the remaining training images.
        image_size: An image folder's size, ``N`` or ``(H, W)`` or ``"HxW"``.
        seed: Seed of the validation split.

    Raises:
        ValueError: For sizes out of range, an image folder with fewer than two classes
            or without readable images, or ``image_size`` with a built-in data set.
        FileNotFoundError: If a built-in data set is neither found locally nor
            downloadable, or ``name`` is neither a built-in data set nor an existing
            directory, or the directory has no class folders.
    """
    directory = pathlib.Path(data_dir) if data_dir is not None else None
    name = os.fspath(name)
    if not is_builtin(name):
        if not os.path.exists(name):
            raise FileNotFoundError(
                f"unknown data set {name!r}: neither a built-in one ({', '.join(DATASETS)}) "
                "nor an existing directory of images"
            )
        return _image_folder(name, seed, validation_size, train_size, image_size)
    if image_size is not None:
        raise ValueError(f"image_size is for image folders; {name} has its own size")
    if name == "digits":
        return _digits(seed, validation_size, train_size)
    if name == "digits-28":
        return _digits(seed, validation_size, train_size, size=28)
    if name == "fashion-mnist":
        return _fashion_mnist(seed, validation_size, train_size, directory, download)
    return _cifar(name, seed, validation_size, train_size, directory, download)
