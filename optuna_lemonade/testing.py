"""Helpers to test morphisms: random architectures, weight perturbation, comparison.

Used by this package's tests and benchmarks, and available to anyone who writes an
operator of their own and wants to check that it preserves the function. Like
``optuna.testing``, this module is not part of the stable API.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from optuna_lemonade.architecture import Architecture
from optuna_lemonade.architecture import Node
from optuna_lemonade.architecture import SearchSpace
from optuna_lemonade.network import build_model
from optuna_lemonade.network import GraphNetwork


INPUT_SHAPES = [(1, 28, 28), (3, 13, 17), (3, 8, 8), (2, 5, 7), (1, 1, 1), (4, 16, 16)]


def random_shape(rng: np.random.Generator) -> tuple[tuple[int, int, int], int]:
    """An input shape (odd and tiny ones included) and a class count."""
    shape = INPUT_SHAPES[int(rng.integers(len(INPUT_SHAPES)))]
    return shape, int(rng.integers(1, 13))


def random_architecture(
    rng: np.random.Generator,
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    steps: int = 12,
) -> Architecture:
    """A random valid DAG using every op: convs, separable convs, pooling, adds, concats.

    Unlike morphism chains, these graphs include things morphisms never build (adds of
    raw convolutions with the input, pooling of signed values, vector concatenations),
    which exercises the structural reasoning of the operators.
    """
    nodes = [Node("input", "input")]
    shapes: dict[str, tuple[int, ...]] = {"input": input_shape}
    consumed: set[str] = set()
    count = 0

    def add(op: str, inputs: tuple[str, ...], shape: tuple[int, ...], **kwargs: int) -> None:
        nonlocal count
        count += 1
        name = f"n{count}"
        nodes.append(Node(name, op, inputs, **kwargs))
        shapes[name] = shape
        consumed.update(inputs)

    for _ in range(steps):
        images = [name for name, shape in shapes.items() if len(shape) == 3]
        fresh = [name for name in images if name not in consumed]
        pool = fresh if fresh and rng.random() < 0.7 else images
        source = pool[int(rng.integers(len(pool)))]
        c, h, w = shapes[source]
        kind = rng.choice(
            ["conv", "sepconv", "bn", "relu", "relu", "maxpool", "avgpool", "add", "concat"]
        )
        if kind in ("conv", "sepconv"):
            filters = int(rng.integers(1, 9))
            add(
                str(kind),
                (source,),
                (filters, h, w),
                filters=filters,
                kernel_size=int(rng.choice([1, 3, 5])),
            )
        elif kind in ("bn", "relu"):
            add(str(kind), (source,), (c, h, w))
        elif kind in ("maxpool", "avgpool"):
            k = int(rng.choice([2, 3]))
            if h >= k and w >= k:
                add(str(kind), (source,), (c, h // k, w // k), kernel_size=k)
        elif kind == "add":
            others = [n for n in images if n != source and shapes[n] == (c, h, w)]
            if others:
                chosen = rng.choice(
                    others, size=min(len(others), int(rng.integers(1, 3))), replace=False
                )
                add("add", (source, *map(str, chosen)), (c, h, w))
        else:
            others = [n for n in images if n != source and shapes[n][1:] == (h, w)]
            if others:
                chosen = rng.choice(
                    others, size=min(len(others), int(rng.integers(1, 3))), replace=False
                )
                total = c + sum(shapes[str(n)][0] for n in chosen)
                add("concat", (source, *map(str, chosen)), (total, h, w))
    dangling = [n for n in shapes if n not in consumed]
    vectors = []
    for name in dangling:
        add("gap", (name,), (shapes[name][0],))
        vectors.append(f"n{count}")
        if rng.random() < 0.5:
            add("relu", (vectors[-1],), shapes[vectors[-1]])
            vectors[-1] = f"n{count}"
    if len(vectors) > 1:
        add("concat", tuple(vectors), (sum(shapes[v][0] for v in vectors),))
    last = f"n{count}"
    if rng.random() < 0.3:
        units = int(rng.integers(1, 9))
        add("linear", (last,), (units,), units=units)
        add("relu", (f"n{count}",), (units,))
        last = f"n{count}"
    add("linear", (last,), (num_classes,), units=num_classes)
    order = list(rng.permutation(len(nodes)))  # node order must not matter
    return Architecture(input_shape, num_classes, [nodes[i] for i in order])


def random_start(rng: np.random.Generator) -> tuple[Architecture, SearchSpace]:
    """Either an initial architecture or a random DAG, with an unbounded-ish space."""
    shape, classes = random_shape(rng)
    space = SearchSpace(
        shape,
        classes,
        max_params=2_000_000,
        max_filters=64,
        max_depth=60,
        max_nodes=400,
        kernel_sizes=(1, 3, 5),
    )
    if rng.random() < 0.5:
        initial = space.initial_architectures()
        return initial[int(rng.integers(len(initial)))], space
    return random_architecture(rng, shape, classes, steps=int(rng.integers(4, 16))), space


def perturb(model: GraphNetwork, rng: np.random.Generator, *, steps: int = 3) -> None:
    """Move weights and batch-norm statistics away from any initialisation.

    Batch-norm scales and shifts get random values (negative scales included), every
    parameter gets noise, and a few SGD steps in train mode on random data update the
    running statistics, as training would.
    """
    generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
    shape = model.architecture.input_shape
    classes = model.architecture.num_classes
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator))
                module.bias.copy_(0.5 * torch.randn(module.bias.shape, generator=generator))
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator))
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
    for _ in range(steps):
        x = torch.randn((8, *shape), generator=generator)
        y = torch.randint(0, classes, (8,), generator=generator)
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    model.eval()


def eval_outputs(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Outputs of ``model`` in eval mode, without gradients."""
    model.eval()
    with torch.no_grad():
        out: torch.Tensor = model(x)
    return out


def relative_deviation(parent: torch.Tensor, child: torch.Tensor) -> float:
    """Largest absolute difference, relative to the largest parent output."""
    assert torch.isfinite(parent).all() and torch.isfinite(child).all()
    scale = parent.abs().max().item()
    return (child - parent).abs().max().item() / max(scale, 1e-30)


def sample_inputs(arch: Architecture, rng: np.random.Generator, n: int = 6) -> torch.Tensor:
    """``n`` standard normal inputs for ``arch``."""
    generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
    return torch.randn((n, *arch.input_shape), generator=generator)


def fresh_model(arch: Architecture, rng: np.random.Generator) -> GraphNetwork:
    """A model of ``arch`` with perturbed weights and statistics."""
    model = build_model(arch, seed=int(rng.integers(2**31)))
    perturb(model, rng)
    return model
