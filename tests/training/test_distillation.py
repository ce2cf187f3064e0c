"""Distillation repairs an approximate child: it ends closer to its parent."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from torch.utils.data import TensorDataset

from optuna_lemonade import build_model
from optuna_lemonade import SearchSpace
from optuna_lemonade.morphisms import apply_mutation
from optuna_lemonade.morphisms import propose
from optuna_lemonade.morphisms import PruneFilters
from optuna_lemonade.training import fine_tune


def _kl(teacher: torch.nn.Module, student: torch.nn.Module, x: torch.Tensor) -> float:
    teacher.eval()
    student.eval()
    with torch.no_grad():
        log_p = torch.log_softmax(teacher(x), 1)
        log_q = torch.log_softmax(student(x), 1)
        return float(
            torch.nn.functional.kl_div(log_q, log_p, log_target=True, reduction="batchmean")
        )


@pytest.mark.parametrize("seed", [0, 1])
def test_distillation_reduces_a_pruned_childs_divergence(seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(512, 1, 8, 8, generator=generator)
    w = torch.randn(64, 4, generator=generator)
    y = (x.flatten(1) @ w).argmax(1)  # a 4-class linear rule
    space = SearchSpace((1, 8, 8), 4)
    arch = space.initial_architectures()[2]
    parent = build_model(arch, seed=seed)
    fine_tune(
        parent,
        DataLoader(
            TensorDataset(x[:384], y[:384]),
            batch_size=32,
            shuffle=True,
            generator=torch.Generator().manual_seed(seed),
        ),
        epochs=15,
        device="cpu",
        progress=False,
    )
    mutation, _ = propose(
        arch, PruneFilters(fraction=0.75), np.random.default_rng(seed), search_space=space
    )
    held_out = x[384:]
    divergences = {}
    for distil in (False, True):
        _, child = apply_mutation(arch, parent, mutation)
        if distil is False:
            divergences["right after the mutation"] = _kl(parent, child, held_out)
        few = DataLoader(
            TensorDataset(x[:64], y[:64]),
            batch_size=16,
            shuffle=True,
            generator=torch.Generator().manual_seed(seed),
        )
        fine_tune(
            child,
            few,
            epochs=10,
            teacher=parent if distil else None,
            distillation_weight=0.9,
            device="cpu",
            progress=False,
        )
        divergences[distil] = _kl(parent, child, held_out)
    assert divergences[True] < 0.7 * divergences[False], divergences
