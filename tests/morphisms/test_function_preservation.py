"""Exact morphisms preserve the function, on random perturbed networks, in eval mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from optuna_lemonade import Architecture
from optuna_lemonade import build_model
from optuna_lemonade.morphisms import apply_mutation
from optuna_lemonade.morphisms import EXACT_OPERATORS
from optuna_lemonade.morphisms import NotApplicable
from optuna_lemonade.morphisms import propose
from optuna_lemonade.morphisms._channels import propagate_channel_maps
from optuna_lemonade.testing import eval_outputs
from optuna_lemonade.testing import fresh_model
from optuna_lemonade.testing import perturb
from optuna_lemonade.testing import random_start
from optuna_lemonade.testing import relative_deviation
from optuna_lemonade.testing import sample_inputs


TOLERANCE = 1e-5  # float32 round-off, relative to the largest output


def _snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in model.state_dict().items()}


def check_step(
    arch: Architecture,
    model: torch.nn.Module,
    operator: str,
    rng: np.random.Generator,
    space,
) -> tuple[Architecture, torch.nn.Module, float]:
    """Mutate once and check every promise of an exact morphism; return the child."""
    before = _snapshot(model)
    x = sample_inputs(arch, rng)
    expected = eval_outputs(model, x)
    mutation, child_arch = propose(arch, operator, rng, search_space=space)
    child_arch2, child = apply_mutation(arch, model, mutation)
    assert child_arch2 == child_arch
    assert child_arch != arch
    assert space.contains(child_arch), space.violations(child_arch)

    # The parent is untouched.
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)

    # Same outputs in eval mode.
    deviation = relative_deviation(expected, eval_outputs(child, x))
    assert deviation <= TOLERANCE, (operator, mutation, deviation)

    # A model rebuilt from the JSON-round-tripped architecture and the child's state
    # dict computes the same.
    rebuilt = build_model(Architecture.from_json(child_arch.to_json()))
    rebuilt.load_state_dict(child.state_dict())
    assert torch.equal(eval_outputs(rebuilt, x), eval_outputs(child, x))

    # Every weight and running statistic is inherited: tensors of unchanged shape are
    # identical, changed ones hold the parent's values at the mapped channels.
    maps = propagate_channel_maps(
        arch,
        child_arch,
        mutation.channel_maps(arch, child_arch, model),
        mutation.edge_maps(arch, child_arch),
    )
    child_state = child.state_dict()
    for key, value in before.items():
        assert key in child_state, key
        new = child_state[key]
        if new.shape == value.shape:
            assert torch.equal(new, value), key
            continue
        node = key.split(".")[1]
        out_map = torch.tensor(maps.outputs[node])
        in_map = torch.tensor(maps.input(node, child_arch.node(node).inputs[0]))
        rows = torch.nonzero(out_map >= 0).flatten()
        if key.endswith("depthwise.weight"):
            rows = torch.nonzero(in_map >= 0).flatten()
            assert torch.equal(new[rows], value[in_map[rows]]), key
        elif new.dim() == 1:
            assert torch.equal(new[rows], value[out_map[rows]]), key
        else:
            cols = torch.nonzero(in_map >= 0).flatten()
            new_cols = torch.nonzero(in_map < 0).flatten()
            block = value[out_map[rows]][:, in_map[cols]]
            assert torch.equal(new[rows][:, cols], block), key
            assert (new[rows][:, new_cols] == 0).all(), key
    return child_arch, child, deviation


@pytest.mark.parametrize("operator", EXACT_OPERATORS)
def test_each_exact_operator_preserves_function(operator: str) -> None:
    rng = np.random.default_rng(EXACT_OPERATORS.index(operator))
    applied = 0
    worst = 0.0
    for _ in range(60):
        arch, space = random_start(rng)
        model = fresh_model(arch, rng)
        try:
            _, _, deviation = check_step(arch, model, operator, rng, space)
        except NotApplicable:
            continue
        worst = max(worst, deviation)
        applied += 1
        if applied == 12:
            break
    assert applied == 12, f"{operator} applied only {applied} times"
    assert worst <= TOLERANCE


N_CHAINS = 24
CHAIN_LENGTH = 12


@pytest.mark.parametrize("seed", range(N_CHAINS))
def test_random_chains_of_exact_operators(seed: int) -> None:
    """Chains of >= 10 random exact morphisms, training (perturbing) in between."""
    rng = np.random.default_rng(1000 + seed)
    arch, space = random_start(rng)
    model = fresh_model(arch, rng)
    applied = 0
    for _ in range(4 * CHAIN_LENGTH):
        operator = EXACT_OPERATORS[int(rng.integers(len(EXACT_OPERATORS)))]
        try:
            arch, model, _ = check_step(arch, model, operator, rng, space)
        except NotApplicable:
            continue
        perturb(model, rng, steps=2)
        applied += 1
        if applied == CHAIN_LENGTH:
            break
    assert applied >= 10


def test_check_detects_a_wrong_morphism(monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness can fail: an identity Conv-BN-ReLU inserted where values can be
    negative (between a convolution and its batch norm) clips them."""
    monkeypatch.setattr(Architecture, "is_nonnegative", lambda self, name: True)
    rng = np.random.default_rng(7)
    from optuna_lemonade import SearchSpace
    from optuna_lemonade.morphisms._insert import InsertLayerMutation

    space = SearchSpace((3, 8, 8), 4)
    arch = space.initial_architectures()[0]
    model = fresh_model(arch, rng)
    wrong = InsertLayerMutation(seed=0, after="conv1", before="bn1", kernel_size=3)
    x = sample_inputs(arch, rng)
    _, child = apply_mutation(arch, model, wrong)
    assert relative_deviation(eval_outputs(model, x), eval_outputs(child, x)) > 1e-3


def test_function_preserved_in_eval_not_train_mode() -> None:
    """Inserted identity batch norms use batch statistics in train mode (documented)."""
    rng = np.random.default_rng(3)
    from optuna_lemonade import SearchSpace

    space = SearchSpace((1, 28, 28), 10)
    arch = space.initial_architectures()[0]
    model = fresh_model(arch, rng)
    mutation, _ = propose(arch, "insert_conv", rng, search_space=space)
    _, child = apply_mutation(arch, model, mutation)
    x = sample_inputs(arch, rng, n=16)
    assert relative_deviation(eval_outputs(model, x), eval_outputs(child, x)) <= TOLERANCE
    model.train()
    child.train()
    with torch.no_grad():
        assert relative_deviation(model(x), child(x)) > 1e-3
