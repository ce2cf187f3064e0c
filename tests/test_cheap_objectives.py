"""Cheap objectives: parameters exactly, MACs by ptflops against independent counts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from optuna_lemonade import Architecture
from optuna_lemonade import build_model
from optuna_lemonade import count_macs
from optuna_lemonade import count_params
from optuna_lemonade import Node
from optuna_lemonade import SearchSpace
from optuna_lemonade.architecture import analytic_num_macs
from optuna_lemonade.cheap_objectives import CHEAP_OBJECTIVES
from optuna_lemonade.morphisms import EXACT_OPERATORS
from optuna_lemonade.morphisms import NotApplicable
from optuna_lemonade.morphisms import propose
from optuna_lemonade.testing import random_architecture
from optuna_lemonade.testing import random_shape


def _torch_macs(arch: Architecture) -> int:
    """Independent count: PyTorch's own FLOP counter (2 FLOPs per MAC, no bias)."""
    model = build_model(arch).eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.randn(1, *arch.input_shape))
    biases = sum(node.units or 0 for node in arch.nodes if node.op == "linear")
    return counter.get_total_flops() // 2 + biases


def test_hand_counted_network_with_skips_and_separable_convs() -> None:
    # input 3x8x8 -> conv 3x3 to 4 -> relu -> sepconv 5x5 to 6 -> concat(relu, sep) = 10
    # -> maxpool 2 -> conv 1x1 to 10 -> add with pool -> gap -> linear 10 -> 5
    arch = Architecture(
        (3, 8, 8),
        5,
        [
            Node("input", "input"),
            Node("c1", "conv", ("input",), filters=4, kernel_size=3),
            Node("r1", "relu", ("c1",)),
            Node("s1", "sepconv", ("r1",), filters=6, kernel_size=5),
            Node("cat", "concat", ("r1", "s1")),
            Node("p", "maxpool", ("cat",), kernel_size=2),
            Node("c2", "conv", ("p",), filters=10, kernel_size=1),
            Node("b2", "bn", ("c2",)),
            Node("sum", "add", ("p", "b2")),
            Node("g", "gap", ("sum",)),
            Node("out", "linear", ("g",), units=5),
        ],
    )
    params = 3 * 3 * 3 * 4 + (5 * 5 * 4 + 4 * 6) + 10 * 10 + 2 * 10 + (10 * 5 + 5)
    macs = (
        3 * 3 * 3 * 4 * 64  # c1 on 8x8
        + 5 * 5 * 4 * 64
        + 4 * 6 * 64  # depthwise + pointwise on 8x8
        + 10 * 10 * 16  # c2 on 4x4
        + 10 * 5
        + 5  # linear with bias
    )
    assert count_params(arch) == params
    assert sum(p.numel() for p in build_model(arch).parameters()) == params
    assert count_macs(arch) == macs
    assert _torch_macs(arch) == macs


@pytest.mark.parametrize("seed", range(20))
def test_counts_on_random_architectures(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape, classes = random_shape(rng)
    arch = random_architecture(rng, shape, classes)
    assert count_params(arch) == sum(p.numel() for p in build_model(arch).parameters())
    macs = count_macs(arch)
    assert macs == analytic_num_macs(arch) == _torch_macs(arch)


def test_counts_on_grown_architectures() -> None:
    """Networks grown by morphisms: skips, concatenations, separable convolutions."""
    rng = np.random.default_rng(0)
    space = SearchSpace((3, 16, 16), 10)
    arch = space.initial_architectures()[0]
    ops = set()
    for _ in range(40):
        operator = EXACT_OPERATORS[int(rng.integers(len(EXACT_OPERATORS)))]
        try:
            _, arch = propose(arch, operator, rng, search_space=space)
        except NotApplicable:
            continue
        ops |= {node.op for node in arch.nodes}
        assert count_macs(arch) == _torch_macs(arch)
        assert count_params(arch) == sum(p.numel() for p in build_model(arch).parameters())
    assert {"add", "concat", "sepconv"} <= ops


def test_registry() -> None:
    arch = SearchSpace((1, 8, 8), 2).initial_architectures()[0]
    assert CHEAP_OBJECTIVES["params"](arch) == count_params(arch)
    assert CHEAP_OBJECTIVES["macs"](arch) == count_macs(arch)
