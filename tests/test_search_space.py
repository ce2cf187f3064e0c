"""SearchSpace: initial architectures for any input size, limits, bad configuration."""

from __future__ import annotations

import pytest
import torch

from optuna_lemonade import build_model
from optuna_lemonade import count_params
from optuna_lemonade import SearchSpace


@pytest.mark.parametrize(
    "shape", [(1, 28, 28), (3, 32, 32), (3, 13, 17), (1, 8, 8), (3, 1, 1), (2, 3, 40), (3, 64, 64)]
)
@pytest.mark.parametrize("classes", [1, 2, 10])
def test_initial_architectures_for_any_input(shape: tuple[int, int, int], classes: int) -> None:
    space = SearchSpace(shape, classes)
    initial = space.initial_architectures()
    assert len(initial) == 3
    sizes = [count_params(arch) for arch in initial]
    assert sizes == sorted(sizes) and len(set(sizes)) == 3  # different sizes
    for arch in initial:
        assert space.contains(arch)
        assert {node.op for node in arch.nodes} <= {
            "input",
            "conv",
            "bn",
            "relu",
            "maxpool",
            "gap",
            "linear",
        }
        out = build_model(arch)(torch.randn(2, *shape))
        assert out.shape == (2, classes)


def test_pooling_follows_resolution() -> None:
    def pools(shape: tuple[int, int, int]) -> int:
        arch = SearchSpace(shape, 10).initial_architectures()[0]
        return sum(node.op == "maxpool" for node in arch.nodes)

    # While the halved resolution is at least 3: 28 -> 14 -> 7 -> 3; 32 -> 16 -> 8 -> 4.
    assert pools((1, 28, 28)) == 3
    assert pools((3, 32, 32)) == 3
    assert pools((3, 13, 17)) == 2
    assert pools((1, 8, 8)) == 1
    assert pools((3, 4, 4)) == 0
    assert pools((3, 512, 512)) == 4  # at most four times


def test_fashion_mnist_sizes() -> None:
    """The default: the narrowest network with one Conv-BN-ReLU per stage, the others
    with two in the middle stages."""
    space = SearchSpace((1, 28, 28), 10)
    assert space.initial_depth == (1, 2, 2)
    sizes = [count_params(a) for a in space.initial_architectures()]
    assert sizes == [6534, 36770, 144954]
    # The narrowest, wherever it stands in the widths, keeps depth 1.
    assert SearchSpace((1, 28, 28), 10, initial_widths=(16, 4, 8)).initial_depth == (2, 1, 2)
    assert SearchSpace((1, 28, 28), 10, initial_widths=(8,)).initial_depth == (1,)


def test_initial_resolution_adds_a_stage_at_3x3() -> None:
    space = SearchSpace((1, 28, 28), 10, initial_depth=1)
    stopping_at_7 = SearchSpace((1, 28, 28), 10, initial_resolution=4, initial_depth=1)
    for deeper, shallower in zip(
        space.initial_architectures(), stopping_at_7.initial_architectures(), strict=True
    ):
        assert space.contains(deeper)
        pools = sum(node.op == "maxpool" for node in deeper.nodes)
        assert pools == 3 and pools == sum(node.op == "maxpool" for node in shallower.nodes) + 1
        filters = [node.filters for node in deeper.nodes if node.op == "conv"]
        assert filters == [filters[0] * 2**stage for stage in range(4)]
        assert build_model(deeper, seed=0)(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    # The earlier defaults: three stages of widths 8, 16, 32.
    earlier = SearchSpace(
        (1, 28, 28), 10, initial_widths=(8, 16, 32), initial_resolution=4, initial_depth=1
    )
    assert [count_params(a) for a in earlier.initial_architectures()] == [6274, 24058, 94186]
    # 8x8 pools once with either (4 is at least 3 and 4; 2 is neither).
    for resolution in (3, 4):
        arch = SearchSpace((1, 8, 8), 3, initial_resolution=resolution).initial_architectures()[0]
        assert sum(node.op == "maxpool" for node in arch.nodes) == 1
    assert "initial_resolution=3" in repr(space)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3", 20_000])
def test_initial_resolution_must_be_a_resolution(bad: object) -> None:
    with pytest.raises(ValueError, match="initial_resolution"):
        SearchSpace((1, 28, 28), 10, initial_resolution=bad)  # type: ignore[arg-type]


def test_initial_depth_doubles_the_middle_stages() -> None:
    """``initial_depth=2``: two Conv-BN-ReLU at 14x14 and 7x7, one at 28x28 and 3x3, the
    widths of each stage as with ``initial_depth=1``."""
    space = SearchSpace((1, 28, 28), 10, initial_depth=2)
    networks = space.initial_architectures()
    assert [count_params(a) for a in networks] == [9462, 36770, 144954]
    for arch in networks:
        filters = [node.filters for node in arch.nodes if node.op == "conv"]
        base = filters[0]
        assert filters == [base, 2 * base, 2 * base, 4 * base, 4 * base, 8 * base]
        assert build_model(arch, seed=0)(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    shallow = SearchSpace((1, 28, 28), 10, initial_depth=1).initial_architectures()
    assert [count_params(a) for a in shallow] == [6534, 25154, 98682]
    # Two stages (8x8 pools once): no middle stage, nothing to deepen.
    small = SearchSpace((1, 8, 8), 3, initial_depth=3).initial_architectures()[0]
    assert sum(node.op == "conv" for node in small.nodes) == 2
    assert "initial_depth=(2, 2, 2)" in repr(space)


def test_initial_depth_per_initial_network() -> None:
    """A sequence gives each initial network its own depth: the smallest keeps one
    Conv-BN-ReLU per stage, the larger two get two in the middle stages, the same
    networks as ``initial_depth=1`` and ``initial_depth=2`` build for those widths."""
    space = SearchSpace((1, 28, 28), 10, initial_depth=[1, 2, 2])
    networks = space.initial_architectures()
    assert [count_params(a) for a in networks] == [6534, 36770, 144954]
    shallow = SearchSpace((1, 28, 28), 10, initial_depth=1).initial_architectures()
    deep = SearchSpace((1, 28, 28), 10, initial_depth=2).initial_architectures()
    assert networks == [shallow[0], deep[1], deep[2]]
    assert space.initial_depth == (1, 2, 2)
    assert "initial_depth=(1, 2, 2)" in repr(space)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2", 31, (1, 2), (1, 2, 0), (1, 2, 2.0), ()])
def test_initial_depth_must_be_a_depth(bad: object) -> None:
    with pytest.raises(ValueError, match="initial_depth"):
        SearchSpace((1, 28, 28), 10, initial_depth=bad)  # type: ignore[arg-type]


def test_limits_filter_initial_architectures() -> None:
    space = SearchSpace((1, 28, 28), 10, max_params=40_000)
    assert [count_params(a) for a in space.initial_architectures()] == [6534, 36770]
    capped = SearchSpace((1, 28, 28), 10, max_filters=16, initial_widths=(16,))
    assert max(n.filters or 0 for n in capped.initial_architectures()[0].nodes) == 16


def test_violations_name_the_problem() -> None:
    big = SearchSpace((1, 28, 28), 10).initial_architectures()[2]
    small = SearchSpace(
        (1, 28, 28), 10, max_params=10_000, max_filters=64, max_depth=3, max_nodes=10
    )
    problems = small.violations(big)
    assert any("parameters" in p for p in problems)
    assert any("max_filters" in p for p in problems)
    assert any("max_depth" in p for p in problems)
    assert any("max_nodes" in p for p in problems)
    other = SearchSpace((1, 28, 28), 5)
    assert any("classes" in p for p in other.violations(big))
    assert not other.contains(big)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(input_shape=(28, 28), num_classes=10), "input_shape"),
        (dict(input_shape=(1, 0, 28), num_classes=10), "input_shape"),
        (dict(input_shape="1x28x28", num_classes=10), "input_shape"),
        (dict(input_shape=(1, 28, 28), num_classes=0), "num_classes"),
        (dict(input_shape=(1, 28, 28), num_classes=10, max_params=0), "max_params"),
        (dict(input_shape=(1, 28, 28), num_classes=10, max_filters=0), "max_filters"),
        (dict(input_shape=(1, 28, 28), num_classes=10, max_depth=1), "max_depth"),
        (dict(input_shape=(1, 28, 28), num_classes=10, max_nodes=2), "max_nodes"),
        (dict(input_shape=(1, 28, 28), num_classes=10, kernel_sizes=(2,)), "kernel_sizes"),
        (dict(input_shape=(1, 28, 28), num_classes=10, kernel_sizes=()), "kernel_sizes"),
        (dict(input_shape=(1, 28, 28), num_classes=10, initial_widths=(0,)), "initial_widths"),
    ],
)
def test_bad_configuration(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SearchSpace(**kwargs)


def test_limits_that_admit_no_initial_architecture() -> None:
    space = SearchSpace((1, 28, 28), 10, max_params=100)
    with pytest.raises(ValueError, match="admit none"):
        space.initial_architectures()


def test_keyword_only_options() -> None:
    with pytest.raises(TypeError):
        SearchSpace((1, 28, 28), 10, 1000)
