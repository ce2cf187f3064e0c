"""build_model: shapes, stable parameter names, seeds, devices, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from optuna_lemonade import Architecture
from optuna_lemonade import build_model
from optuna_lemonade import SearchSpace
from optuna_lemonade.testing import random_architecture
from optuna_lemonade.testing import random_shape


@pytest.mark.parametrize("seed", range(25))
def test_random_architectures_build_and_reload(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape, classes = random_shape(rng)
    arch = random_architecture(rng, shape, classes)
    model = build_model(arch)
    x = torch.randn(3, *shape)
    out = model(x)
    assert out.shape == (3, classes)
    model.eval()
    # A state dict saved from one model loads into another model of an equal
    # architecture (here parsed back from JSON) and computes the same.
    other = build_model(Architecture.from_json(arch.to_json()))
    other.load_state_dict(model.state_dict())
    other.eval()
    with torch.no_grad():
        assert torch.equal(model(x), other(x))
    out.sum().backward()  # the graph is differentiable


def test_parameter_names_are_node_names() -> None:
    arch = SearchSpace((1, 8, 8), 2).initial_architectures()[0]
    names = set(build_model(arch).state_dict())
    assert "layers.conv1.weight" in names
    assert {
        "layers.bn1.running_mean",
        "layers.bn1.running_var",
        "layers.bn1.num_batches_tracked",
    } <= names
    assert {"layers.classifier.weight", "layers.classifier.bias"} <= names
    assert not any("relu" in n or "pool" in n for n in names)


def test_seed_gives_same_weights_without_touching_global_rng() -> None:
    arch = SearchSpace((1, 8, 8), 2).initial_architectures()[1]
    torch.manual_seed(0)
    expected_next = torch.rand(1)
    torch.manual_seed(0)
    a = build_model(arch, seed=3)
    b = build_model(arch, seed=3)
    assert torch.equal(torch.rand(1), expected_next)
    c = build_model(arch, seed=4)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["layers.conv1.weight"], sc["layers.conv1.weight"])


def test_wrong_input_shape() -> None:
    model = build_model(SearchSpace((1, 28, 28), 10).initial_architectures()[0])
    with pytest.raises(
        ValueError, match="expected input of shape N x 1 x 28 x 28, got 2 x 3 x 28 x 28"
    ):
        model(torch.randn(2, 3, 28, 28))
    with pytest.raises(ValueError, match="expected input"):
        model(torch.randn(1, 28, 28))


def test_build_model_rejects_non_architectures() -> None:
    with pytest.raises(TypeError):
        build_model("{}")


def test_device_argument() -> None:
    arch = SearchSpace((1, 8, 8), 2).initial_architectures()[0]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = build_model(arch, device=device)
    assert next(model.parameters()).device.type == device
    assert model(torch.randn(2, 1, 8, 8, device=device)).shape == (2, 2)
