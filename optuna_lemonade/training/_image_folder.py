"""A folder of the user's own images (torchvision's ImageFolder layout) as tensors.

Every image is decoded once, converted to one size and one colour mode, and kept in
memory as a tensor, as the built-in data sets are: a search trains many small networks
for a few epochs each, and decoding image files in every epoch of every network would
cost more than the training.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
import os
import pathlib
import warnings

import numpy as np
import torch

from optuna_lemonade._warning import LemonadeWarning


MAX_DEFAULT_SIDE = 64
"""The default image size keeps the folder's most common size, scaled down (aspect kept)
so that its longer side is at most this: the networks of a search train on CPU in
seconds at 64 x 64, in minutes at 224 x 224. ``image_size`` overrides it."""

MAX_SIDE = 1024
"""The largest ``image_size`` accepted."""


def parse_image_size(value: int | Sequence[int] | str | None) -> tuple[int, int] | None:
    """``32``, ``(32, 48)``, ``"32"`` or ``"32x48"`` as ``(height, width)``; None stays None.

    Raises:
        ValueError: Naming the value, if it is not one or two integers in [1, 1024].
    """
    if value is None:
        return None
    size: tuple[int, ...]
    try:
        if isinstance(value, str):
            size = tuple(int(part) for part in value.lower().split("x"))
        elif isinstance(value, int):
            size = () if isinstance(value, bool) else (value,)
        else:
            size = tuple(value)
            if any(isinstance(v, bool) or not isinstance(v, int) for v in size):
                raise ValueError
    except (TypeError, ValueError):
        size = ()
    if len(size) == 1:
        size = size * 2
    if len(size) != 2 or not all(1 <= side <= MAX_SIDE for side in size):
        raise ValueError(
            f"image size must be N or HxW with sides in [1, {MAX_SIDE}], got {value!r}"
        )
    return size[0], size[1]


def _gray_scale(top: float, *, floating: bool) -> float:
    """The factor that brings a deep gray image whose largest value is ``top`` to 0-255.

    By the range its values fit, not by ``top`` itself, so that every image of a folder
    keeps its brightness: 8 bits as they are, else 16 bits, else 32 (PIL's signed ``I``);
    floating-point images with values up to 1 are taken as 0-1.
    """
    if floating and top <= 1.0:
        return 255.0
    for bits in (8, 16, 31):
        if top <= 2**bits - 1:
            return 255.0 / (2**bits - 1)
    return 255.0 / (2**31 - 1)  # beyond 32 bits: only a floating-point image, clipped


def _decode(path: str) -> torch.Tensor | None:
    """The image at ``path`` as ``3 x H x W`` uint8 (RGB), or None if it is not one.

    PIL, as ImageFolder's own loader: it reads every format of torchvision's
    ``IMG_EXTENSIONS`` (``torchvision.io`` decodes neither BMP, PPM nor TIFF). Unlike
    that loader, a photo's EXIF orientation is applied (a camera's portrait shot is
    stored sideways), and 16- and 32-bit gray images are scaled to 8 bits rather than
    clipped (:func:`_gray_scale`). An alpha channel is dropped, as there.
    """
    from PIL import Image
    from PIL import ImageOps
    from PIL import UnidentifiedImageError
    from torchvision.transforms.v2.functional import pil_to_tensor

    try:
        with Image.open(path) as opened:
            opened.load()
            image = ImageOps.exif_transpose(opened)
            if image.mode.startswith("I") or image.mode == "F":
                values = np.asarray(image, dtype=np.float64)
                top = float(values.max()) if values.size else 0.0
                scale = _gray_scale(top, floating=image.mode == "F")
                image = Image.fromarray((values * scale).clip(0, 255).astype(np.uint8))
            rgb = image.convert("RGB")
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        OSError,
        ValueError,
        SyntaxError,
    ):
        # SyntaxError: what some of PIL's plugins raise for a corrupt header;
        # DecompressionBombError: an image of more pixels than PIL's safety limit.
        return None
    tensor: torch.Tensor = pil_to_tensor(rgb)
    return tensor


def _walk_once(directory: str, class_to_idx: dict[str, int]) -> list[tuple[str, int]]:
    """``(file, class index)`` for every file that is not hidden, each real folder once.

    torchvision's ``make_dataset`` walks with ``os.walk(followlinks=True)``, which has no
    loop check: a link to a parent folder is walked again and again until paths grow too
    long, and two such links make that exponential (a CI run was killed at that). This is
    the same walk, in the same sorted order, entering each real folder once and leaving
    out hidden folders and files (``.git``, ``.ipynb_checkpoints``, ``.DS_Store``) and
    macOS's ``__MACOSX``.
    """
    visited = {os.path.realpath(directory)}
    visited.update(os.path.realpath(os.path.join(directory, name)) for name in class_to_idx)
    samples: list[tuple[str, int]] = []
    for name, index in sorted(class_to_idx.items()):
        found = []
        for folder, subfolders, files in os.walk(os.path.join(directory, name), followlinks=True):
            kept = []
            for subfolder in sorted(subfolders):
                real = os.path.realpath(os.path.join(folder, subfolder))
                if not _left_out(subfolder) and real not in visited:
                    visited.add(real)
                    kept.append(subfolder)
            subfolders[:] = kept
            found.append((folder, sorted(file for file in files if not file.startswith("."))))
        for folder, files in sorted(found):
            samples.extend((os.path.join(folder, file), index) for file in files)
    return samples


def _left_out(name: str) -> bool:
    """Whether a folder of this name is not part of the data (hidden, or ``__MACOSX``)."""
    return name.startswith(".") or name == "__MACOSX"


def _layout(root: pathlib.Path) -> tuple[list[str], list[tuple[str, int]]]:
    """The classes and ``(file, class index)`` of ImageFolder's layout under ``root``.

    torchvision's ImageFolder with its walk replaced by :func:`_walk_once` (no loops, no
    hidden entries), and each file taken once when links reach it twice (a link to a
    parent folder would repeat the whole folder across the splits). Every file that is
    not hidden is offered, so that odd ones are counted and reported, not silently left
    out.
    """
    from torchvision.datasets import ImageFolder

    class Folder(ImageFolder):  # type: ignore[misc]  # torchvision ships no type hints
        def find_classes(self, directory: str | pathlib.Path) -> tuple[list[str], dict[str, int]]:
            classes = sorted(
                entry.name
                for entry in os.scandir(directory)
                if entry.is_dir() and not _left_out(entry.name)
            )
            if not classes:
                raise FileNotFoundError(f"no class folders in {directory}")
            return classes, {name: index for index, name in enumerate(classes)}

        @staticmethod
        def make_dataset(
            directory: str | pathlib.Path,
            class_to_idx: dict[str, int],
            *args: object,
            **kwargs: object,
        ) -> list[tuple[str, int]]:
            return _walk_once(str(directory), class_to_idx)

    folder = Folder(str(root), allow_empty=True)
    seen: set[str] = set()
    samples = []
    for file, label in folder.samples:
        real = os.path.realpath(file)
        if real not in seen:
            seen.add(real)
            samples.append((file, label))
    return list(folder.classes), samples


def _default_size(sizes: Counter[tuple[int, int]]) -> tuple[int, int]:
    (height, width), _ = sizes.most_common(1)[0]
    longer = max(height, width)
    if longer <= MAX_DEFAULT_SIDE:
        return height, width
    scale = MAX_DEFAULT_SIDE / longer
    return max(1, round(height * scale)), max(1, round(width * scale))


def read_image_folder(
    path: str | os.PathLike[str], *, image_size: int | Sequence[int] | str | None = None
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Decode a folder with one sub-folder of images per class.

    Files that are not readable images are skipped, with one warning that counts them;
    images of another size than the chosen one are resized (antialiased bilinear), said
    in one warning. The images are grayscale (one channel) when every image is, else
    RGB. Hidden files and folders (``.name``) and ``__MACOSX`` are not read.

    Args:
        path: The folder: ``path/<class>/<image>``, as ``torchvision.datasets.ImageFolder``
            reads it (classes sorted by name, sub-folders of a class included).
        image_size: ``N`` or ``(H, W)``; default the most common size, scaled down so that
            its longer side is at most :data:`MAX_DEFAULT_SIDE`.

    Returns:
        Images ``N x C x H x W`` in [0, 1] (float32), labels ``N`` (int64) and the class
        names.

    Raises:
        FileNotFoundError: If ``path`` is not a directory, or holds no class folder.
        ValueError: If it has one class only, no readable image, a class without a
            readable image, or ``image_size`` is bad.
    """
    from torchvision.transforms.v2.functional import resize

    size = parse_image_size(image_size)
    root = pathlib.Path(path)
    if not root.is_dir():
        what = "is not a directory" if root.exists() else "does not exist"
        raise FileNotFoundError(f"{path}: {what}")
    try:
        classes, samples = _layout(root)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path}: no class folders in it; put each class's images in a sub-folder "
            "named after the class (path/cat/1.png, path/dog/2.png, ...)"
        ) from None
    if len(classes) < 2:
        raise ValueError(
            f"{path}: one class folder ({classes[0]!r}); a classifier needs at least two"
        )
    images: list[torch.Tensor] = []
    labels: list[int] = []
    skipped: list[str] = []
    for file, label in samples:
        image = _decode(file)
        if image is None:
            skipped.append(os.path.relpath(file, root))
            continue
        images.append(image)
        labels.append(label)
    if not images:
        raise ValueError(f"{path}: no readable image in its {len(skipped)} file(s)")
    found = set(labels)
    empty = [name for index, name in enumerate(classes) if index not in found]
    if empty:
        raise ValueError(
            f"{path}: class folder {empty[0]!r} has no readable image"
            + (f" (and {len(empty) - 1} more)" if len(empty) > 1 else "")
        )
    if skipped:
        warnings.warn(
            f"{path}: skipped {len(skipped)} file(s) that are not readable images "
            f"(e.g. {skipped[0]!r})",
            LemonadeWarning,
            stacklevel=4,  # the caller of load_dataset
        )
    sizes = Counter((image.shape[1], image.shape[2]) for image in images)
    target = size or _default_size(sizes)
    resized = sum(count for shape, count in sizes.items() if shape != target)
    if resized:
        warnings.warn(
            f"{path}: resized {resized} of {len(images)} images to "
            f"{target[0]}x{target[1]} (sizes found: "
            + ", ".join(f"{h}x{w}" for (h, w), _ in sizes.most_common(3))
            + (", ..." if len(sizes) > 3 else "")
            + ")",
            LemonadeWarning,
            stacklevel=4,  # the caller of load_dataset
        )
    stacked = torch.stack(
        [
            image if image.shape[1:] == target else resize(image, list(target), antialias=True)
            for image in images
        ]
    )
    grayscale = bool(
        (stacked[:, 0] == stacked[:, 1]).all() and (stacked[:, 1] == stacked[:, 2]).all()
    )
    if grayscale:
        stacked = stacked[:, :1]
    return stacked.float() / 255.0, torch.tensor(labels, dtype=torch.long), classes
