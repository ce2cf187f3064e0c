"""Architecture: validation of graphs, equality, structural analysis."""

from __future__ import annotations

import numpy as np
import pytest

from optuna_lemonade import Architecture
from optuna_lemonade import Node
from optuna_lemonade.testing import random_architecture
from optuna_lemonade.testing import random_shape


def chain(
    *middle: Node, shape: tuple[int, int, int] = (3, 8, 8), classes: int = 4
) -> Architecture:
    nodes = [Node("input", "input"), *middle]
    last = nodes[-1].name
    nodes += [Node("gap", "gap", (last,)), Node("out", "linear", ("gap",), units=classes)]
    return Architecture(shape, classes, nodes)


def test_simple_chain() -> None:
    arch = chain(
        Node("c", "conv", ("input",), filters=5, kernel_size=3),
        Node("b", "bn", ("c",)),
        Node("r", "relu", ("b",)),
        Node("p", "maxpool", ("r",), kernel_size=3),
    )
    assert arch.shape("p") == (5, 2, 2)
    assert arch.shape("out") == (4,)
    assert arch.input_name == "input" and arch.output_name == "out"
    assert arch.consumers("r") == ("p",)
    assert arch.ancestors("r") == {"input", "c", "b"}
    assert [n.name for n in arch.nodes][:2] == ["input", "c"]
    assert arch.depth == 2
    assert arch.is_nonnegative("r") and arch.is_nonnegative("p")
    assert not arch.is_nonnegative("b") and not arch.is_nonnegative("input")
    assert "c" in arch and "zzz" not in arch and len(arch) == 7
    with pytest.raises(KeyError, match="zzz"):
        arch.node("zzz")


def test_node_order_does_not_matter() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        shape, classes = random_shape(rng)
        arch = random_architecture(rng, shape, classes)
        shuffled = Architecture(
            shape, classes, [arch.nodes[i] for i in rng.permutation(len(arch))]
        )
        assert shuffled == arch and hash(shuffled) == hash(arch)
        assert shuffled.to_json() == Architecture.from_json(shuffled.to_json()).to_json()
        # Topological order: every input comes before its consumer.
        seen: set[str] = set()
        for node in shuffled.nodes:
            assert set(node.inputs) <= seen
            seen.add(node.name)


def test_inequality() -> None:
    a = chain(Node("c", "conv", ("input",), filters=5, kernel_size=3))
    b = chain(Node("c", "conv", ("input",), filters=6, kernel_size=3))
    c = chain(Node("c", "conv", ("input",), filters=5, kernel_size=3), classes=5)
    assert a != b and a != c and a != "a"
    assert len({a, b, c, chain(Node("c", "conv", ("input",), filters=5, kernel_size=3))}) == 3


def test_nonnegativity_rules() -> None:
    arch = chain(
        Node("c", "conv", ("input",), filters=3, kernel_size=1),
        Node("r", "relu", ("c",)),
        Node("pr", "avgpool", ("r",), kernel_size=2),
        Node("pc", "maxpool", ("c",), kernel_size=2),
        Node("sum_pos", "add", ("pr", "pr2")),
        Node("pr2", "maxpool", ("r",), kernel_size=2),
        Node("sum_mixed", "add", ("pr", "pc")),
        Node("cat", "concat", ("sum_pos", "sum_mixed")),
        Node("cat_pos", "concat", ("sum_pos", "pr")),
        Node("all", "concat", ("cat", "cat_pos")),
    )
    assert arch.is_nonnegative("sum_pos") and arch.is_nonnegative("cat_pos")
    assert not arch.is_nonnegative("pc") and not arch.is_nonnegative("sum_mixed")
    assert not arch.is_nonnegative("cat") and not arch.is_nonnegative("all")


@pytest.mark.parametrize(
    "nodes, message",
    [
        ([], "at least"),
        (
            [Node("input", "input"), Node("i2", "input"), Node("a", "add", ("input", "i2"))],
            "exactly one 'input'",
        ),
        (
            [
                Node("input", "input"),
                Node("g", "gap", ("input",)),
                Node("o", "linear", ("g",), units=4),
                Node("o2", "linear", ("g",), units=4),
            ],
            "exactly one output",
        ),
        (
            [
                Node("input", "input"),
                Node("g", "gap", ("input",)),
                Node("o", "linear", ("g",), units=5),
            ],
            r"expected \(4,\) logits",
        ),
        ([Node("input", "input"), Node("o", "linear", ("input",), units=4)], "vector input"),
        (
            [
                Node("input", "input"),
                Node("g", "gap", ("input",)),
                Node("c", "conv", ("g",), filters=4, kernel_size=1),
                Node("o", "linear", ("c",), units=4),
            ],
            "image input",
        ),
        (
            [
                Node("input", "input"),
                Node("g", "gap", ("x",)),
                Node("o", "linear", ("g",), units=4),
            ],
            "unknown input 'x'",
        ),
        (
            [
                Node("input", "input"),
                Node("g", "gap", ("input",)),
                Node("g", "gap", ("input",)),
                Node("o", "linear", ("g",), units=4),
            ],
            "duplicate node name",
        ),
        (
            [
                Node("input", "input"),
                Node("a", "relu", ("b",)),
                Node("b", "relu", ("a",)),
                Node("g", "gap", ("input",)),
                Node("o", "linear", ("g",), units=4),
            ],
            "exactly one output|cycle",
        ),
        (
            [
                Node("input", "input"),
                Node("c", "conv", ("input",), filters=4, kernel_size=1),
                Node("a", "add", ("c", "input")),
                Node("g", "gap", ("a",)),
                Node("o", "linear", ("g",), units=4),
            ],
            "equal shapes",
        ),
        (
            [
                Node("input", "input"),
                Node("p", "maxpool", ("input",), kernel_size=2),
                Node("a", "concat", ("p", "input")),
                Node("g", "gap", ("a",)),
                Node("o", "linear", ("g",), units=4),
            ],
            "agree in everything but channels",
        ),
        (
            [
                Node("input", "input"),
                Node("p", "maxpool", ("input",), kernel_size=9),
                Node("g", "gap", ("p",)),
                Node("o", "linear", ("g",), units=4),
            ],
            "larger than its input resolution",
        ),
        (
            [
                Node("input", "input"),
                Node("train", "relu", ("input",)),
                Node("g", "gap", ("train",)),
                Node("o", "linear", ("g",), units=4),
            ],
            "reserved",
        ),
    ],
)
def test_invalid_graphs(nodes: list[Node], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Architecture((3, 8, 8), 4, nodes)


def test_cycle_is_reported() -> None:
    nodes = [
        Node("input", "input"),
        Node("a", "add", ("input", "b")),
        Node("b", "relu", ("a",)),
        Node("g", "gap", ("b",)),
        Node("o", "linear", ("g",), units=4),
    ]
    with pytest.raises(ValueError, match="cycle"):
        Architecture((3, 8, 8), 4, nodes)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(name="1a", op="relu", inputs=("x",)), "node name"),
        (dict(name="a.b", op="relu", inputs=("x",)), "node name"),
        (dict(name="a" * 65, op="relu", inputs=("x",)), "longer than"),
        (dict(name="a", op="softmax", inputs=("x",)), "unknown op"),
        (dict(name="a", op="relu", inputs=()), "takes 1 input"),
        (dict(name="a", op="add", inputs=("x",)), "at least 2"),
        (dict(name="a", op="add", inputs=("x", "x")), "twice"),
        (dict(name="a", op="relu", inputs=("a",)), "its own input"),
        (dict(name="a", op="relu", inputs="x"), "sequence"),
        (dict(name="a", op="conv", inputs=("x",), filters=4), "'kernel_size' must be an integer"),
        (dict(name="a", op="conv", inputs=("x",), filters=4, kernel_size=2), "odd"),
        (dict(name="a", op="conv", inputs=("x",), filters=0, kernel_size=3), "filters must be"),
        (dict(name="a", op="conv", inputs=("x",), filters=True, kernel_size=3), "integer"),
        (dict(name="a", op="conv", inputs=("x",), filters=4.0, kernel_size=3), "integer"),
        (dict(name="a", op="maxpool", inputs=("x",), kernel_size=1), "pooling kernel_size"),
        (dict(name="a", op="relu", inputs=("x",), units=3), "takes no 'units'"),
        (dict(name="a", op="linear", inputs=("x",), units=-1), "units must be"),
    ],
)
def test_invalid_nodes(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Node(**kwargs)


@pytest.mark.parametrize(
    "shape, classes, message",
    [
        ((3, 8), 4, "three integers"),
        ((3, 0, 8), 4, "out of range"),
        ((3, 8, 8), 0, "num_classes"),
        ((3.0, 8, 8), 4, "three integers"),
    ],
)
def test_invalid_shapes(shape: tuple, classes: int, message: str) -> None:
    nodes = [
        Node("input", "input"),
        Node("g", "gap", ("input",)),
        Node("o", "linear", ("g",), units=4),
    ]
    with pytest.raises(ValueError, match=message):
        Architecture(shape, classes, nodes)


def test_fresh_names() -> None:
    arch = chain(Node("conv1", "conv", ("input",), filters=4, kernel_size=3))
    assert arch.fresh_name("conv") == "conv2"
    assert arch.fresh_name("conv", taken={"conv2"}) == "conv3"
    assert arch.fresh_name("bn") == "bn1"
