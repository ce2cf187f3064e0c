"""Your own images: a folder in ImageFolder's layout, tensors, or any map-style Dataset."""

from __future__ import annotations

import pathlib
import warnings

import pytest
import torch
from torch.utils.data import TensorDataset

from optuna_lemonade import LemonadeWarning
from optuna_lemonade.training import DatasetSplits
from optuna_lemonade.training import load_dataset
from optuna_lemonade.training._image_folder import parse_image_size
from tests.conftest import write_image_folder


def test_a_folder_loads_at_its_size_with_fixed_test_and_seeded_validation(
    tmp_path: pathlib.Path,
) -> None:
    root = write_image_folder(tmp_path / "pets", classes=3, per_class=20, size=(12, 10))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean folder: nothing to say
        a = load_dataset(root, seed=0)
    assert a.name == "pets" and a.input_shape == (3, 12, 10) and a.num_classes == 3
    assert a.classes == ("class0", "class1", "class2")
    assert (len(a.train), len(a.validation), len(a.test)) == (36, 12, 12)
    b = load_dataset(str(root), seed=1)
    assert torch.equal(a.test.tensors[1], b.test.tensors[1])  # the test split never moves
    assert not torch.equal(a.validation.tensors[0], b.validation.tensors[0])
    x = a.train.tensors[0]
    assert abs(float(x.mean())) < 1e-5  # standardised with the training split's statistics
    assert set(a.train.tensors[1].tolist()) == {0, 1, 2}


def test_grayscale_images_give_one_channel(tmp_path: pathlib.Path) -> None:
    root = write_image_folder(tmp_path / "scans", mode="L", size=(9, 9))
    assert load_dataset(root).input_shape == (1, 9, 9)


def test_odd_files_are_skipped_and_counted_in_one_warning(tmp_path: pathlib.Path) -> None:
    root = write_image_folder(tmp_path / "data", per_class=10)
    (root / "class0" / "notes.txt").write_text("not an image")
    (root / "class1" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    (root / "class2" / "empty.jpg").write_bytes(b"")
    with pytest.warns(
        LemonadeWarning, match=r"skipped 3 file\(s\) that are not readable"
    ) as record:
        data = load_dataset(root)
    assert len(record) == 1
    assert len(data.train) + len(data.validation) + len(data.test) == 30


def test_mixed_sizes_are_resized_and_said_once(tmp_path: pathlib.Path) -> None:
    root = write_image_folder(tmp_path / "data", per_class=10, size=(12, 10))
    write_image_folder(tmp_path / "other", per_class=2, size=(20, 20))
    for label in range(3):  # two larger images per class
        for index in range(2):
            (tmp_path / "other" / f"class{label}" / f"{index}.png").rename(
                root / f"class{label}" / f"big{index}.png"
            )
    with pytest.warns(LemonadeWarning, match=r"resized 6 of 36 images to 12x10") as record:
        data = load_dataset(root)
    assert len(record) == 1 and data.input_shape == (3, 12, 10)
    with pytest.warns(LemonadeWarning, match="resized 36 of 36 images to 8x8"):
        assert load_dataset(root, image_size=8).input_shape == (3, 8, 8)
    with pytest.warns(LemonadeWarning, match="to 6x5"):
        assert load_dataset(root, image_size="6x5").input_shape == (3, 6, 5)


def test_large_images_are_scaled_down_by_default(tmp_path: pathlib.Path) -> None:
    root = write_image_folder(tmp_path / "photos", per_class=2, size=(128, 96))
    with pytest.warns(LemonadeWarning, match="to 64x48"):
        assert load_dataset(root).input_shape == (3, 64, 48)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda root: None, FileNotFoundError, "unknown data set"),
        (lambda root: root.mkdir(), FileNotFoundError, "no class folders in it"),
        (
            lambda root: write_image_folder(root, classes=1),
            ValueError,
            "one class folder .'class0'.; a classifier needs at least two",
        ),
        (
            lambda root: [
                (root / name).mkdir(parents=True) or (root / name / "a.txt").write_text("x")
                for name in ("a", "b")
            ],
            ValueError,
            r"no readable image in its 2 file\(s\)",
        ),
        (
            lambda root: write_image_folder(root) and (root / "zebra").mkdir(),
            ValueError,
            "class folder 'zebra' has no readable image",
        ),
    ],
)
def test_bad_folders_are_clear_errors(
    tmp_path: pathlib.Path, make: object, error: type[Exception], message: str
) -> None:
    root = tmp_path / "data"
    make(root)  # type: ignore[operator]
    with pytest.raises(error, match=message):
        load_dataset(root)


@pytest.mark.parametrize("value", [0, "x", "3x", "2000", (1, 2, 3), True, "4.5"])
def test_bad_image_sizes_are_named(value: object) -> None:
    with pytest.raises(ValueError, match="image size must be N or HxW"):
        parse_image_size(value)  # type: ignore[arg-type]


def test_image_size_is_for_folders_only() -> None:
    with pytest.raises(ValueError, match="image_size is for image folders"):
        load_dataset("digits", image_size=16)


def test_splits_from_tensors_and_from_a_dataset_agree() -> None:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (50, 1, 6, 6), dtype=torch.uint8, generator=generator)
    labels = torch.arange(50) % 5
    a = DatasetSplits.from_tensors(images, labels, name="mine", seed=3)
    b = DatasetSplits.from_dataset(TensorDataset(images, labels), name="mine", seed=3)
    assert a.input_shape == (1, 6, 6) and a.num_classes == 5
    assert (len(a.train), len(a.validation), len(a.test)) == (30, 10, 10)
    for split in ("train", "validation", "test"):
        assert torch.allclose(
            getattr(a, split).tensors[0], getattr(b, split).tensors[0], atol=1e-5
        )
    own_test = DatasetSplits.from_tensors(
        images.float(), labels, test=(images[:7].float(), labels[:7]), validation_size=5
    )
    assert (len(own_test.train), len(own_test.validation), len(own_test.test)) == (45, 5, 7)


def test_a_torchvision_dataset_of_pil_images_reads_once(tmp_path: pathlib.Path) -> None:
    from torchvision.datasets import ImageFolder

    root = write_image_folder(tmp_path / "data", per_class=10)
    data = DatasetSplits.from_dataset(ImageFolder(str(root)), name="folder")
    assert data.input_shape == (3, 12, 10) and data.classes == ("class0", "class1", "class2")


@pytest.mark.parametrize(
    ("images", "labels", "message"),
    [
        (torch.rand(10, 2), torch.zeros(10, dtype=torch.long), "must be N x C x H x W"),
        (torch.rand(10, 1, 4, 4), torch.zeros(9, dtype=torch.long), "10 images but labels"),
        (torch.rand(10, 1, 4, 4), torch.zeros(10), "labels must be integers"),
        (torch.rand(10, 1, 4, 4), -torch.ones(10, dtype=torch.long), "labels must be 0 or more"),
        (torch.full((10, 1, 4, 4), float("nan")), torch.zeros(10, dtype=torch.long), "NaN"),
        (torch.ones(10, 1, 4, 4, dtype=torch.int32), torch.zeros(10, dtype=torch.long), "uint8"),
        (torch.rand(3, 1, 4, 4), torch.zeros(3, dtype=torch.long), "too few to split"),
    ],
)
def test_bad_tensors_are_named(images: torch.Tensor, labels: torch.Tensor, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DatasetSplits.from_tensors(images, labels)


def test_a_dataset_of_mixed_shapes_is_refused() -> None:
    items = [(torch.rand(1, 4, 4), 0), (torch.rand(1, 5, 5), 1)]
    with pytest.raises(ValueError, match=r"item 1's image is \(1, 5, 5\), item 0's \(1, 4, 4\)"):
        DatasetSplits.from_dataset(items)  # type: ignore[arg-type]


def test_hidden_entries_are_not_read_and_links_count_once(tmp_path: pathlib.Path) -> None:
    root = write_image_folder(tmp_path / "data", per_class=10)
    for hidden in (".git", ".ipynb_checkpoints", "__MACOSX", "class0/.thumbnails"):
        write_image_folder(root / hidden, classes=1, per_class=2)
    (root / "class1" / ".DS_Store").write_bytes(b"\x00\x01")
    (root / "class2" / "again").symlink_to(root / "class2")  # a loop
    (root / "class2" / "up").symlink_to(root)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing skipped: the hidden file is not read
        data = load_dataset(root)
    assert data.classes == ("class0", "class1", "class2")
    assert len(data.train) + len(data.validation) + len(data.test) == 30


def test_orientation_bit_depth_and_oversized_images(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np
    from PIL import Image

    from optuna_lemonade.training._image_folder import _decode

    portrait = Image.new("RGB", (30, 20), (200, 10, 10))  # stored sideways, 20 high
    exif = portrait.getexif()
    exif[0x0112] = 6  # EXIF orientation: rotate 90 degrees to show
    portrait.save(tmp_path / "photo.jpg", exif=exif)
    decoded = _decode(str(tmp_path / "photo.jpg"))
    assert decoded is not None and tuple(decoded.shape) == (3, 30, 20)
    ramp = np.linspace(0, 65535, 64, dtype=np.uint16).reshape(8, 8)
    Image.fromarray(ramp).save(tmp_path / "deep.png")  # 16-bit gray
    deep = _decode(str(tmp_path / "deep.png"))
    assert deep is not None
    levels = deep[0].flatten()
    assert int(levels.min()) == 0 and int(levels.max()) == 255 and len(levels.unique()) > 32
    # 32-bit gray beyond 16 bits, and floating point in [0, 1]: scaled, not clipped.
    wide = np.linspace(0, 2**31 - 1, 64).astype(np.int32).reshape(8, 8)
    Image.fromarray(wide, mode="I").save(tmp_path / "wide.tif")
    unit = np.linspace(0.0, 1.0, 64, dtype=np.float32).reshape(8, 8)
    Image.fromarray(unit, mode="F").save(tmp_path / "unit.tif")
    for name in ("wide.tif", "unit.tif"):
        decoded = _decode(str(tmp_path / name))
        assert decoded is not None, name
        levels = decoded[0].flatten()
        assert int(levels.min()) == 0 and int(levels.max()) >= 254, name
        assert len(levels.unique()) > 32, name
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)  # 8x8 is then a "decompression bomb"
    assert _decode(str(tmp_path / "deep.png")) is None


def test_warnings_point_at_the_caller(tmp_path: pathlib.Path) -> None:
    root = write_image_folder(tmp_path / "data", per_class=10)
    (root / "class0" / "notes.txt").write_text("x")
    with pytest.warns(LemonadeWarning) as record:
        load_dataset(root)
    assert record[0].filename == __file__
