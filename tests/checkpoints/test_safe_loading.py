"""Checkpoints are read with weights_only=True and validated; bad ones are refused."""

from __future__ import annotations

import io
import pathlib
import pickle

import pytest
import torch

from optuna_lemonade import build_model
from optuna_lemonade import SearchSpace
from optuna_lemonade.checkpoints import CheckpointError
from optuna_lemonade.checkpoints import from_bytes
from optuna_lemonade.checkpoints import to_bytes


@pytest.fixture
def arch():
    return SearchSpace((1, 8, 8), 3).initial_architectures()[0]


def _save(content: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(content, buffer)
    return buffer.getvalue()


def _valid(arch) -> dict:
    return torch.load(io.BytesIO(to_bytes(arch, build_model(arch, seed=0))), weights_only=True)


def test_round_trip(arch) -> None:
    model = build_model(arch, seed=0)
    loaded = from_bytes(to_bytes(arch, model), expected=arch)
    assert not loaded.training
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in model.state_dict().items())


def test_a_crafted_pickle_is_not_executed(arch, tmp_path: pathlib.Path) -> None:
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    for payload in (pickle.dumps(Exploit()), _save({"format": "x", "state_dict": Exploit()})):
        with pytest.raises(CheckpointError, match="unreadable"):
            from_bytes(payload)
    # torch.save of an object is an unsafe pickle too: refused by weights_only=True.
    with pytest.raises(CheckpointError, match="unreadable"):
        from_bytes(_save(build_model(arch)))
    assert not marker.exists()


@pytest.mark.parametrize("cut", [0, 10, 200, -50])
def test_truncated_or_garbage(arch, cut: int) -> None:
    data = to_bytes(arch, build_model(arch))
    with pytest.raises(CheckpointError):
        from_bytes(data[:cut])
    with pytest.raises(CheckpointError):
        from_bytes(b"not a checkpoint at all")


def test_wrong_content(arch) -> None:
    with pytest.raises(CheckpointError, match="not an optuna-lemonade checkpoint"):
        from_bytes(_save({"weights": torch.zeros(1)}))
    content = _valid(arch)
    content["version"] = 2
    with pytest.raises(CheckpointError, match="version"):
        from_bytes(_save(content))


def test_architecture_that_fails_validation(arch) -> None:
    content = _valid(arch)
    content["architecture"] = content["architecture"].replace('"kernel_size":3', '"kernel_size":4')
    with pytest.raises(CheckpointError, match=r"architecture is invalid.*odd"):
        from_bytes(_save(content))
    content["architecture"] = "__import__('os').system('true')"
    with pytest.raises(CheckpointError, match="architecture is invalid"):
        from_bytes(_save(content))


def test_other_architecture_than_expected(arch) -> None:
    other = SearchSpace((1, 8, 8), 3).initial_architectures()[1]
    with pytest.raises(CheckpointError, match="another architecture"):
        from_bytes(to_bytes(other, build_model(other)), expected=arch)


def test_state_dict_that_does_not_match(arch) -> None:
    content = _valid(arch)
    content["state_dict"]["layers.conv1.weight"] = torch.zeros(3, 3)
    with pytest.raises(CheckpointError, match="does not match"):
        from_bytes(_save(content))
    content = _valid(arch)
    del content["state_dict"]["layers.bn1.running_var"]
    with pytest.raises(CheckpointError, match="does not match"):
        from_bytes(_save(content))
    content = _valid(arch)
    content["state_dict"]["layers.bn1.running_var"] = [1.0]
    with pytest.raises(CheckpointError, match="names to tensors"):
        from_bytes(_save(content))


def test_saving_checks_the_model(arch) -> None:
    other = SearchSpace((1, 8, 8), 3).initial_architectures()[1]
    with pytest.raises(ValueError, match="does not match the architecture"):
        to_bytes(arch, build_model(other))
