"""Approximate (shrinking) morphisms: valid smaller children that keep untouched weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from optuna_lemonade import Architecture
from optuna_lemonade import build_model
from optuna_lemonade import count_params
from optuna_lemonade import Node
from optuna_lemonade import SearchSpace
from optuna_lemonade.morphisms import apply_mutation
from optuna_lemonade.morphisms import APPROXIMATE_OPERATORS
from optuna_lemonade.morphisms import EXACT_OPERATORS
from optuna_lemonade.morphisms import mutate
from optuna_lemonade.morphisms import NotApplicable
from optuna_lemonade.morphisms import OPERATORS
from optuna_lemonade.morphisms import propose
from optuna_lemonade.morphisms import PruneFilters
from optuna_lemonade.morphisms._channels import propagate_channel_maps
from optuna_lemonade.morphisms._prune import PruneFiltersMutation
from optuna_lemonade.morphisms._remove import RemoveLayerMutation
from optuna_lemonade.morphisms._remove import RemoveSkipMutation
from optuna_lemonade.morphisms._separable import separable_factors
from optuna_lemonade.morphisms._separable import ToSepConvMutation
from optuna_lemonade.testing import eval_outputs
from optuna_lemonade.testing import fresh_model
from optuna_lemonade.testing import perturb
from optuna_lemonade.testing import random_start
from optuna_lemonade.testing import relative_deviation
from optuna_lemonade.testing import sample_inputs


def test_registry() -> None:
    assert set(APPROXIMATE_OPERATORS) == {
        "remove_layer",
        "prune_filters",
        "remove_skip",
        "to_sepconv",
    }
    assert not set(APPROXIMATE_OPERATORS) & set(EXACT_OPERATORS)
    assert set(OPERATORS) == set(APPROXIMATE_OPERATORS) | set(EXACT_OPERATORS)


def _grown(rng: np.random.Generator):
    """A random start grown by a few exact morphisms, with perturbed weights."""
    arch, space = random_start(rng)
    model = fresh_model(arch, rng)
    for _ in range(5):
        operator = EXACT_OPERATORS[int(rng.integers(len(EXACT_OPERATORS)))]
        try:
            arch, model = mutate(arch, model, operator, rng, search_space=space)
        except NotApplicable:
            continue
    perturb(model, rng)
    return arch, model, space


@pytest.mark.parametrize("operator", APPROXIMATE_OPERATORS)
def test_children_are_valid_smaller_and_keep_untouched_weights(operator: str) -> None:
    rng = np.random.default_rng(100 + APPROXIMATE_OPERATORS.index(operator))
    applied = 0
    shapes = set()
    for _ in range(60):
        arch, model, space = _grown(rng)
        try:
            mutation, child_arch = propose(arch, operator, rng, search_space=space)
        except NotApplicable:
            continue
        before = {k: v.clone() for k, v in model.state_dict().items()}
        same_arch, child = apply_mutation(arch, model, mutation)
        assert same_arch == child_arch
        assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
        # Valid, buildable, JSON round-trippable, smaller.
        assert Architecture.from_json(child_arch.to_json()) == child_arch
        assert count_params(child_arch) < count_params(arch)
        assert space.contains(child_arch)
        x = sample_inputs(arch, rng)
        assert torch.isfinite(eval_outputs(child, x)).all()
        rebuilt = build_model(child_arch)
        rebuilt.load_state_dict(child.state_dict())
        # Untouched weights are the parent's: unchanged tensors are identical, pruned
        # ones hold the parent's values at the kept channels.
        maps = propagate_channel_maps(
            arch,
            child_arch,
            mutation.channel_maps(arch, child_arch, model),
            mutation.edge_maps(arch, child_arch),
        )
        state = child.state_dict()
        identical = 0
        for key, value in state.items():
            node = key.split(".")[1]
            if node not in arch or arch.node(node).op != child_arch.node(node).op:
                continue  # a new layer (to_sepconv)
            old = before[key]
            if value.dim() == 0:  # num_batches_tracked
                assert torch.equal(value, old)
                continue
            out_map = torch.tensor(maps.outputs[node])
            in_map = torch.tensor(maps.input(node, child_arch.node(node).inputs[0]))
            assert (out_map >= 0).all() and (in_map >= 0).all()  # shrinking adds nothing
            if key.endswith("depthwise.weight"):
                expected = old[in_map]
            elif value.dim() == 1:
                expected = old[out_map]
            else:
                expected = old[out_map][:, in_map]
            assert torch.equal(value, expected), key
            identical += torch.equal(value, old) if value.shape == old.shape else 0
        assert identical > 0
        shapes.add(arch.input_shape)
        applied += 1
        if applied == 12:
            break
    assert applied == 12 and len(shapes) >= 3


@pytest.mark.parametrize("operator", APPROXIMATE_OPERATORS)
def test_not_applicable_without_a_site(operator: str) -> None:
    arch = Architecture(
        (3, 8, 8),
        4,
        [
            Node("input", "input"),
            Node("c", "conv", ("input",), filters=1, kernel_size=1),
            Node("gap", "gap", ("c",)),
            Node("out", "linear", ("gap",), units=4),
        ],
    )
    with pytest.raises(NotApplicable):
        propose(arch, operator, np.random.default_rng(0))


def _trained(arch: Architecture, seed: int = 0) -> torch.nn.Module:
    model = build_model(arch, seed=seed)
    perturb(model, np.random.default_rng(seed), steps=5)
    return model


def test_undoing_an_exact_morphism_is_exact() -> None:
    """remove_layer after insert_conv, remove_skip after add_skip or concat_skip: the
    removed part computed the identity or zero, so the grandchild computes what the
    original network did. This checks that removal maps the weights right."""
    rng = np.random.default_rng(0)
    space = SearchSpace((3, 16, 16), 5)
    for arch in space.initial_architectures():
        model = _trained(arch)
        x = sample_inputs(arch, rng)
        expected = eval_outputs(model, x)
        for grow in ("insert_conv", "insert_sepconv", "add_skip", "concat_skip"):
            try:
                grow_mutation, grown = propose(arch, grow, rng, search_space=space)
            except NotApplicable:
                continue
            _, grown_model = apply_mutation(arch, model, grow_mutation)
            new = [n for n in grown.nodes if n.name not in arch]
            if grow.startswith("insert"):
                layer = next(n for n in new if n.op in ("conv", "sepconv"))
                undo = RemoveLayerMutation(seed=0, node=layer.name)
            else:
                merge = next(n for n in new if n.op in ("add", "concat"))
                undo = RemoveSkipMutation(seed=0, merge=merge.name, operand=merge.inputs[1])
            back, back_model = apply_mutation(grown, grown_model, undo)
            assert relative_deviation(expected, eval_outputs(back_model, x)) <= 1e-5, grow
            assert count_params(back) == count_params(arch), grow


def test_remove_skip_of_a_concatenation_keeps_the_right_columns() -> None:
    arch = Architecture(
        (2, 6, 6),
        3,
        [
            Node("input", "input"),
            Node("a", "conv", ("input",), filters=3, kernel_size=3),
            Node("b", "conv", ("input",), filters=4, kernel_size=3),
            Node("cat", "concat", ("a", "b")),
            Node("bn", "bn", ("cat",)),
            Node("y", "conv", ("bn",), filters=5, kernel_size=1),
            Node("gap", "gap", ("y",)),
            Node("out", "linear", ("gap",), units=3),
        ],
    )
    model = _trained(arch)
    for dropped, kept, columns in (("a", "b", slice(3, 7)), ("b", "a", slice(0, 3))):
        child, child_model = apply_mutation(
            arch, model, RemoveSkipMutation(seed=0, merge="cat", operand=dropped)
        )
        assert child.node("bn").inputs == (kept,)
        assert torch.equal(child_model.layers["y"].weight, model.layers["y"].weight[:, columns])
        assert torch.equal(
            child_model.layers["bn"].running_mean, model.layers["bn"].running_mean[columns]
        )


def test_prune_keeps_the_largest_filters_of_tied_convolutions() -> None:
    arch = Architecture(
        (1, 6, 6),
        2,
        [
            Node("input", "input"),
            Node("a", "conv", ("input",), filters=4, kernel_size=3),
            Node("r", "relu", ("a",)),
            Node("b", "conv", ("r",), filters=4, kernel_size=3),
            Node("sum", "add", ("a", "b")),
            Node("gap", "gap", ("sum",)),
            Node("out", "linear", ("gap",), units=2),
        ],
    )
    model = build_model(arch, seed=0)
    with torch.no_grad():
        for i, scale in enumerate([1.0, 5.0, 0.1, 3.0]):
            model.layers["a"].weight[i] = scale
        for i, scale in enumerate([1.0, 0.0, 0.0, 4.0]):
            model.layers["b"].weight[i] = scale / 4  # b's filters see 4 input channels
    mutation, child = propose(arch, PruneFilters(fraction=0.5), np.random.default_rng(0))
    assert isinstance(mutation, PruneFiltersMutation) and mutation.filters == 2
    assert child.node("a").filters == child.node("b").filters == 2
    _, child_model = apply_mutation(arch, model, mutation)
    # Summed L1 norms per filter: 9+9, 45+0, 0.9+0, 27+36 -> keep filters 1 and 3.
    assert torch.equal(child_model.layers["a"].weight, model.layers["a"].weight[[1, 3]])
    assert torch.equal(child_model.layers["b"].weight, model.layers["b"].weight[[1, 3]][:, [1, 3]])
    assert torch.equal(child_model.layers["out"].weight, model.layers["out"].weight[:, [1, 3]])


def test_to_sepconv_is_exact_for_rank_one_filters_and_optimal_otherwise() -> None:
    arch = Architecture(
        (3, 8, 8),
        4,
        [
            Node("input", "input"),
            Node("c", "conv", ("input",), filters=6, kernel_size=3),
            Node("bn", "bn", ("c",)),
            Node("gap", "gap", ("bn",)),
            Node("out", "linear", ("gap",), units=4),
        ],
    )
    model = _trained(arch)
    torch.manual_seed(0)
    with torch.no_grad():  # W[o, i] = p[o, i] * d[i]: separable by construction
        p, d = torch.randn(6, 3), torch.randn(3, 3, 3)
        model.layers["c"].weight.copy_(p[:, :, None, None] * d[None])
    x = sample_inputs(arch, np.random.default_rng(1))
    child, child_model = apply_mutation(arch, model, ToSepConvMutation(seed=0, node="c"))
    assert [n.op for n in child.nodes].count("sepconv") == 1
    assert relative_deviation(eval_outputs(model, x), eval_outputs(child_model, x)) <= 1e-5

    weight = torch.randn(8, 5, 3, 3, dtype=torch.float64)
    depthwise, pointwise = separable_factors(weight)
    approximation = pointwise[:, :, 0, 0, None, None] * depthwise[None, :, 0]
    error = (weight - approximation).pow(2).sum()
    singular = torch.linalg.svdvals(weight.permute(1, 0, 2, 3).reshape(5, 8, 9))
    assert torch.allclose(error, singular[:, 1:].pow(2).sum())


def test_mutation_json_round_trip_and_replay() -> None:
    rng = np.random.default_rng(3)
    arch, model, space = _grown(rng)
    from optuna_lemonade.morphisms import Mutation

    for operator in APPROXIMATE_OPERATORS:
        try:
            mutation, _ = propose(arch, operator, rng, search_space=space)
        except NotApplicable:
            continue
        again = Mutation.from_dict(mutation.to_dict())
        assert again == mutation
        _, a = apply_mutation(arch, model, mutation)
        _, b = apply_mutation(arch, model, again)
        assert all(torch.equal(a.state_dict()[k], v) for k, v in b.state_dict().items())


def test_prune_fraction_is_checked() -> None:
    for bad in (0, 1, 1.5, True):
        with pytest.raises(ValueError, match="fraction"):
            PruneFilters(fraction=bad)
