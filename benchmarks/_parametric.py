"""The baselines' search spaces, parametric CNNs built as Architectures.

``plain`` (the default): what a competent Optuna user writes for small images. A stem
convolution (8-64 filters) and 2x2 max pooling halve the resolution at once, then 1-3
stages of 1-2 Conv-BN-ReLU blocks (8-128 filters, log scale; kernel 3 or 5), with 2x2
max pooling between stages, global average pooling and a linear classifier. Cheap to
train (no convolution at full resolution beyond the stem), from about 1k to 1M
parameters.

``staged`` (the committed runs before it): stages as in the search space's initial
networks (2x2 max pooling between them while the resolution is at least 8); per stage
1-3 blocks of (separable) convolution, batch norm and ReLU, 4-128 filters (log scale),
kernel 3 or 5, and an optional residual addition from the stage's first block to its
last. Sizes range from a few hundred parameters to a few million, like LEMONADE's
default search space; its full-resolution first stage makes some networks slow.

Every parameter is always sampled (no conditional parameters), which NSGA-II needs.
"""

from __future__ import annotations

from _search_methods import STAGES3
import optuna

from optuna_lemonade import Architecture
from optuna_lemonade import Node
from optuna_lemonade import SearchSpace


def stages_for(input_shape: tuple[int, int, int]) -> int:
    _, height, width = input_shape
    pools = 0
    while min(height, width) >= 8 and pools < 4:
        height, width, pools = height // 2, width // 2, pools + 1
    return pools + 1


def plain_architecture(
    trial: optuna.Trial, input_shape: tuple[int, int, int], num_classes: int
) -> Architecture:
    """Sample an architecture of the ``plain`` space through ``trial.suggest_*``.

    Every parameter is sampled, also those of stages a network does not use (NSGA-II
    needs a fixed set of parameters); they are ignored.
    """
    nodes = [Node("input", "input")]
    count = 0

    def block(source: str, filters: int, kernel: int) -> str:
        nonlocal count
        count += 1
        nodes.extend(
            [
                Node(f"conv{count}", "conv", (source,), filters=filters, kernel_size=kernel),
                Node(f"bn{count}", "bn", (f"conv{count}",)),
                Node(f"relu{count}", "relu", (f"bn{count}",)),
            ]
        )
        return f"relu{count}"

    previous = block("input", trial.suggest_int("stem_filters", 8, 64, log=True), 3)
    nodes.append(Node("pool0", "maxpool", (previous,), kernel_size=2))
    previous = "pool0"
    stages = trial.suggest_int("stages", 1, 3)
    _, height, _ = input_shape
    height //= 2
    for stage in range(3):
        blocks = trial.suggest_int(f"blocks{stage}", 1, 2)
        filters = trial.suggest_int(f"filters{stage}", 8, 128, log=True)
        kernel = trial.suggest_categorical(f"kernel{stage}", [3, 5])
        if stage >= stages:
            continue
        for _ in range(blocks):
            previous = block(previous, filters, kernel)
        if stage < stages - 1 and height >= 4:
            nodes.append(Node(f"pool{stage + 1}", "maxpool", (previous,), kernel_size=2))
            previous, height = f"pool{stage + 1}", height // 2
    nodes += [
        Node("gap", "gap", (previous,)),
        Node("classifier", "linear", ("gap",), units=num_classes),
    ]
    return Architecture(input_shape, num_classes, nodes)


def parametric_architecture(
    trial: optuna.Trial, input_shape: tuple[int, int, int], num_classes: int
) -> Architecture:
    """Sample an architecture of the ``staged`` space through ``trial.suggest_*``."""
    stages = stages_for(input_shape)
    nodes = [Node("input", "input")]
    previous = "input"
    count = 0

    def block(source: str, op: str, filters: int, kernel: int) -> str:
        nonlocal count
        count += 1
        nodes.extend(
            [
                Node(f"conv{count}", op, (source,), filters=filters, kernel_size=kernel),
                Node(f"bn{count}", "bn", (f"conv{count}",)),
                Node(f"relu{count}", "relu", (f"bn{count}",)),
            ]
        )
        return f"relu{count}"

    for stage in range(stages):
        blocks = trial.suggest_int(f"blocks{stage}", 1, 3)
        filters = trial.suggest_int(f"filters{stage}", 4, 128, log=True)
        kernel = trial.suggest_categorical(f"kernel{stage}", [3, 5])
        separable = trial.suggest_categorical(f"separable{stage}", [False, True])
        skip = trial.suggest_categorical(f"skip{stage}", [False, True])
        first = block(previous, "conv", filters, kernel)  # changes the channel count
        last = first
        for _ in range(blocks - 1):
            last = block(last, "sepconv" if separable else "conv", filters, kernel)
        if skip and blocks > 1:
            nodes.append(Node(f"add{stage + 1}", "add", (first, last)))
            last = f"add{stage + 1}"
        previous = last
        if stage < stages - 1:
            nodes.append(Node(f"pool{stage + 1}", "maxpool", (previous,), kernel_size=2))
            previous = f"pool{stage + 1}"
    nodes += [
        Node("gap", "gap", (previous,)),
        Node("classifier", "linear", ("gap",), units=num_classes),
    ]
    return Architecture(input_shape, num_classes, nodes)


def reference_architectures(
    input_shape: tuple[int, int, int], num_classes: int
) -> dict[str, Architecture]:
    """Hand-designed CNNs drawn on the benchmark's plots, trained from scratch."""
    # The three-stage initial networks of the search space's earlier defaults: the
    # plain references the runs have always been compared with.
    space = SearchSpace(input_shape, num_classes, **STAGES3)
    result = {
        f"plain-{arch.node('conv1').filters}": arch for arch in space.initial_architectures()
    }

    class Fixed:
        """Stands in for a trial with fixed parameters."""

        def __init__(self, params: dict[str, object]) -> None:
            self.params = params

        def suggest_int(self, name: str, *args: object, **kwargs: object) -> object:
            return self.params[name]

        suggest_categorical = suggest_int

    def residual_stages(base_filters: int, separable: bool) -> dict[str, object]:
        """3 blocks per stage with a skip, filters doubling per stage."""
        params: dict[str, object] = {}
        for stage in range(stages_for(input_shape)):
            params |= {
                f"blocks{stage}": 3,
                f"filters{stage}": base_filters * 2**stage,
                f"kernel{stage}": 3,
                f"separable{stage}": separable,
                f"skip{stage}": True,
            }
        return params

    for name, params in (
        ("resnet-like", residual_stages(16, separable=False)),
        ("mobilenet-like", residual_stages(32, separable=True)),
    ):
        result[name] = parametric_architecture(Fixed(params), input_shape, num_classes)
    return result


SPACES = {"plain": plain_architecture, "staged": parametric_architecture}
"""The baselines' spaces by name (``--baseline-space``)."""
