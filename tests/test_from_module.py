"""from_module: a trained PyTorch model as the IR with its weights, and a search from it."""

from __future__ import annotations

import pathlib

import optuna
from optuna.artifacts import FileSystemArtifactStore
import pytest
import torch
from torch import nn
import torch.nn.functional as F

import optuna_lemonade
from optuna_lemonade import LemonadeSampler
from optuna_lemonade import SearchSpace
from optuna_lemonade.export import load_checkpoint
from optuna_lemonade.export import save_checkpoint
from optuna_lemonade.network import from_module
from optuna_lemonade.network import GraphNetwork
from optuna_lemonade.training import evaluate


class Residual(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)  # bias: folded into bn2
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(x + self.bn2(self.conv2(y)))


class Net(nn.Module):
    """A residual block, a depthwise-separable block and a concatenating skip."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(inplace=True)
        )
        self.block = Residual(8)
        self.pool = nn.MaxPool2d(2)
        self.depthwise = nn.Conv2d(8, 8, 5, padding=2, groups=8, bias=False)
        self.pointwise = nn.Conv2d(8, 12, 1, bias=False)
        self.bn = nn.BatchNorm2d(12)
        self.side = nn.Conv2d(8, 4, 1, bias=False)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(16, classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.block(self.stem(x)))
        separable = F.relu(self.bn(self.pointwise(self.depthwise(x))))
        return self.head(torch.cat([separable, self.side(x)], dim=1))


def _trained_statistics(model: nn.Module) -> nn.Module:
    """Batch norms with running statistics and affine weights far from their defaults."""
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(torch.rand(n, generator=generator) * 2 - 1)
            module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(n, generator=generator) + 0.5)
            module.bias.data.copy_(torch.rand(n, generator=generator) - 0.5)
    return model.eval()


def _deviation(model: nn.Module, network: nn.Module, shape: tuple[int, ...]) -> float:
    x = torch.randn(16, *shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = model.eval()(x), network.eval()(x)
    return float((expected - got).abs().max() / expected.abs().max())


def test_a_residual_separable_concatenating_model_round_trips() -> None:
    model = _trained_statistics(Net())
    network = from_module(model, (1, 28, 28))
    assert isinstance(network, GraphNetwork)
    counts = {op: sum(n.op == op for n in network.architecture.nodes) for op in ("add", "concat")}
    assert counts == {"add": 1, "concat": 1}
    assert [n.op for n in network.architecture.nodes].count("sepconv") == 1
    assert _deviation(model, network, (1, 28, 28)) <= 1e-5
    model.train()
    before = {key: value.clone() for key, value in model.state_dict().items()}
    from_module(model, (1, 28, 28))
    assert model.training  # the model itself is left as it was
    assert all(torch.equal(before[key], value) for key, value in model.state_dict().items())
    assert optuna_lemonade.from_module is from_module


class Functional(nn.Module):
    """The same operations written as functions and methods."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 6, 3, padding="same", bias=False)
        self.b = nn.Conv2d(3, 6, 1, bias=False)
        self.fc1 = nn.Linear(6, 8)
        self.fc2 = nn.Linear(8, 4, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.a(x)) + self.b(x)
        y = F.avg_pool2d(F.max_pool2d(y, 2), kernel_size=2)
        y = y.mean((2, 3))
        return self.fc2(self.fc1(y.view(y.size(0), -1)).relu())


def test_functions_and_methods_convert_too() -> None:
    model = Functional().eval()
    network = from_module(model, (3, 12, 12))
    ops = [node.op for node in network.architecture.nodes]
    assert ops.count("maxpool") == ops.count("avgpool") == ops.count("gap") == 1
    assert _deviation(model, network, (3, 12, 12)) <= 1e-5


@pytest.mark.parametrize(
    ("module", "message"),
    [
        (nn.Conv2d(1, 4, 3, stride=2, padding=1, bias=False), r"module '0' \(Conv2d\).*stride"),
        (nn.Conv2d(1, 4, 3, padding=0, bias=False), r"module '0' \(Conv2d\).*padding"),
        (nn.Conv2d(1, 4, 4, padding=2, bias=False), r"module '0' \(Conv2d\).*kernel"),
        (nn.GELU(), r"module '0' \(GELU\): not expressible"),
        (nn.MaxPool2d(3, stride=2), r"module '0' \(MaxPool2d\).*stride"),
        (nn.Conv2d(1, 4, 3, padding=1), r"module '0' \(Conv2d\): a bias is expressible only"),
    ],
)
def test_what_the_ir_cannot_express_names_the_module_and_its_type(
    module: nn.Module, message: str
) -> None:
    model = nn.Sequential(module, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.LazyLinear(3))
    model(torch.zeros(1, 1, 8, 8))  # materialise the lazy layer
    with pytest.raises(ValueError, match=message):
        from_module(model, (1, 8, 8))


def test_flattening_a_map_and_untraceable_models_are_named() -> None:
    flat = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1, bias=False), nn.Flatten(), nn.Linear(128, 3)
    )
    with pytest.raises(ValueError, match=r"module '1' \(Flatten\): flattens a 2 x 8 x 8 map"):
        from_module(flat, (1, 8, 8))

    class Branching(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x if x.sum() > 0 else -x

    with pytest.raises(ValueError, match=r"torch\.fx cannot trace Branching"):
        from_module(Branching(), (1, 8, 8))
    with pytest.raises(ValueError, match=r"input_shape must be \(C, H, W\)"):
        from_module(Net(), (28, 28))


def test_a_search_starts_from_the_converted_network_with_its_weights(
    tmp_path: pathlib.Path,
) -> None:
    torch.manual_seed(0)
    model = _trained_statistics(Net(classes=3))
    shape = (1, 28, 28)
    x = torch.randn(48, *shape)
    with torch.no_grad():
        y = model(x).argmax(1)  # labels the model gets right: its error is 0
    y[:12] = (y[:12] + 1) % 3  # and a quarter it gets wrong
    loader = [(x, y)]
    network = from_module(model, shape)
    # Through a checkpoint file, as search --initial-model reads it.
    network = load_checkpoint(save_checkpoint(network, tmp_path / "mine.pt"))
    expected = evaluate(model, loader, device="cpu")
    assert expected == pytest.approx(0.25)

    space = SearchSpace(shape, 3, max_params=100_000)
    sampler = LemonadeSampler(
        space,
        initial_architectures=[network],
        artifact_store=FileSystemArtifactStore(str(tmp_path)),
        seed=0,
    )
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    children = []

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        child = sampler.child(trial)
        children.append(child)
        error = child.fit(loader, loader, epochs=1, lr=0.01, device="cpu")
        return error, child.cheap_objectives["params"]

    study.optimize(objective, n_trials=3)
    first = study.trials[0]
    assert children[0].pretrained and children[0].parent is None
    assert first.values[0] == pytest.approx(expected)  # measured as given: no training
    assert first.user_attrs["lemonade_parent"] is None
    assert all(t.user_attrs["lemonade_parent"] == 0 for t in study.trials[1:])
    assert not any(child.pretrained for child in children[1:])
    saved = sampler.load_model(first)
    assert all(
        torch.equal(saved.state_dict()[key], value) for key, value in network.state_dict().items()
    )


class TwoHeads(nn.Module):
    """Two pooled branches, flattened after both are pooled, then concatenated."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(1, 3, 3, padding=1, bias=False)
        self.b = nn.Conv2d(1, 5, 1, bias=False)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.pool(self.a(x)), self.pool(F.relu(self.b(x)))
        return self.fc(torch.cat([a.flatten(1), torch.flatten(b, 1)], dim=1))


def test_a_flatten_of_a_pooled_vector_is_no_second_pooling() -> None:
    model = TwoHeads().eval()
    network = from_module(model, (1, 6, 6))
    assert [node.op for node in network.architecture.nodes].count("gap") == 2
    assert _deviation(model, network, (1, 6, 6)) <= 1e-5
