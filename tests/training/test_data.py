"""Built-in data sets: offline digits, local Fashion-MNIST, clear errors otherwise."""

from __future__ import annotations

import pathlib

import pytest
import torch

from optuna_lemonade.training import load_dataset
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
        (dict(name="imagenet"), "unknown data set"),
        (dict(name="digits", train_size=0), "train_size"),
        (dict(name="digits", validation_size=5000), "validation_size"),
    ],
)
def test_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_dataset(**kwargs)


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
