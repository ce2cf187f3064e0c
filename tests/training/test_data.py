"""Built-in data sets: offline digits, local Fashion-MNIST, clear errors otherwise."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
import torch

from optuna_lemonade.training import load_dataset
from optuna_lemonade.training._data import _FASHION_FILES
from optuna_lemonade.training._data import DEBIAN_FASHION_MNIST


def test_digits_splits_are_fixed_and_seeded() -> None:
    a = load_dataset("digits", seed=0)
    assert a.input_shape == (1, 8, 8) and a.num_classes == 10
    sizes = (len(a.train), len(a.validation), len(a.test))
    assert sum(sizes) == 1797 and sizes[2] == 359
    b = load_dataset("digits", seed=0)
    assert torch.equal(a.validation.tensors[0], b.validation.tensors[0])
    c = load_dataset("digits", seed=1)
    assert not torch.equal(a.validation.tensors[0], c.validation.tensors[0])
    assert torch.equal(a.test.tensors[1], c.test.tensors[1])  # test split never moves
    x = a.train.tensors[0]
    assert abs(float(x.mean())) < 1e-5 and abs(float(x.std()) - 1) < 1e-2
    small = load_dataset("digits", train_size=100)
    assert len(small.train) == 100
    train, _validation, _test = a.loaders(batch_size=50)
    inputs, labels = next(iter(train))
    assert inputs.shape == (50, 1, 8, 8) and labels.dtype == torch.long


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(name="digits", train_size=0), "train_size"),
        (dict(name="digits", validation_size=5000), "validation_size"),
    ],
)
def test_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_dataset(**kwargs)


def test_an_unknown_name_is_neither_built_in_nor_a_folder() -> None:
    with pytest.raises(FileNotFoundError, match="unknown data set 'imagenet': neither"):
        load_dataset("imagenet")


def test_missing_data_is_a_clear_error(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("optuna_lemonade.training._data.DEBIAN_FASHION_MNIST", tmp_path / "none")
    monkeypatch.setenv("OPTUNA_LEMONADE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        load_dataset("fashion-mnist", data_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="CIFAR-10 not found"):
        load_dataset("cifar10", data_dir=tmp_path)


@pytest.mark.skipif(
    not DEBIAN_FASHION_MNIST.exists(), reason="needs the Debian package dataset-fashion-mnist"
)
def test_fashion_mnist_from_the_debian_package(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPTUNA_LEMONADE_CACHE", str(tmp_path / "cache"))
    data = load_dataset("fashion-mnist", train_size=1000, validation_size=500)
    assert data.input_shape == (1, 28, 28) and data.num_classes == 10
    assert (len(data.train), len(data.validation), len(data.test)) == (1000, 500, 10_000)


def test_cifar_data_sets_through_torchvision(cifar_stand_ins: pathlib.Path) -> None:
    for name, classes in (("cifar10", 10), ("cifar100", 100)):
        data = load_dataset(name, data_dir=cifar_stand_ins, train_size=300)
        assert data.input_shape == (3, 32, 32) and data.num_classes == classes
        assert (len(data.train), len(data.validation), len(data.test)) == (300, 5_000, 200)


def _idx_files(directory: pathlib.Path, images: int) -> None:
    """A stand-in for Fashion-MNIST's gzip'd idx files, with ``images`` random images."""
    import gzip
    import struct

    directory.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, count in (("train", images), ("t10k", images // 4)):
        pixels = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        labels = np.arange(count, dtype=np.uint8) % 10
        with gzip.open(directory / f"{split}-images-idx3-ubyte.gz", "wb", compresslevel=1) as f:
            f.write(struct.pack(">IIII", 2051, count, 28, 28) + pixels.tobytes())
        with gzip.open(directory / f"{split}-labels-idx1-ubyte.gz", "wb", compresslevel=1) as f:
            f.write(struct.pack(">II", 2049, count) + labels.tobytes())


_LOAD_AT_ONCE = """
import sys, time
import torchvision.datasets  # imported by load_dataset: before the start, not in the race
from optuna_lemonade.training import load_dataset

start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))  # every process loads at the same moment
data = load_dataset("fashion-mnist", data_dir=sys.argv[1], train_size=100, validation_size=50)
print(len(data.train), len(data.test))
"""


@pytest.mark.slow
def test_workers_fill_an_empty_data_cache_at_once(tmp_path: pathlib.Path) -> None:
    """Several workers started together on a fresh machine each copy the data set into
    the empty cache: each writes its own temporary file and renames it into place (one
    shared '.partial' name made all but one fail)."""
    import subprocess
    import sys
    import time

    from tests.conftest import subprocess_env

    source = tmp_path / "source"
    _idx_files(source, images=60_000)  # 47 MB, as Fashion-MNIST: copies that overlap
    cache = tmp_path / "cache"
    env = subprocess_env(OPTUNA_LEMONADE_CACHE=str(cache))
    script = tmp_path / "load.py"
    script.write_text(_LOAD_AT_ONCE)
    start = time.time() + 8  # after every process has imported torch
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), str(source), str(start)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [worker.communicate(timeout=300)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0] * 4, outputs
    assert all(output.split() == ["100", "15000"] for output in outputs), outputs
    raw = cache / "torchvision" / "FashionMNIST" / "raw"
    # Every file in place, and no temporary file left behind.
    assert sorted(p.name for p in raw.iterdir()) == sorted(_FASHION_FILES)
