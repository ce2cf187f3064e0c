"""The search space: input and output of the networks, limits, and starting points."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from optuna_lemonade.architecture._architecture import Architecture
from optuna_lemonade.architecture._counting import analytic_num_params
from optuna_lemonade.architecture._node import _is_int
from optuna_lemonade.architecture._node import Node
from optuna_lemonade.architecture._ops import MAX_CHANNELS
from optuna_lemonade.architecture._ops import MAX_KERNEL_SIZE
from optuna_lemonade.architecture._ops import MAX_NODES
from optuna_lemonade.architecture._ops import MAX_RESOLUTION


class SearchSpace:
    """The networks LEMONADE may build for one task, and where it starts.

    Every architecture in the space takes ``input_shape`` images and produces
    ``num_classes`` logits, and stays within the limits below; morphisms never make a
    child outside them.

    Args:
        input_shape: ``(C, H, W)`` of one input image. Any size works, odd and tiny
            ones included (13x17, 8x8, 1x1).
        num_classes: Number of output logits.
        max_params: Largest number of trainable parameters, or ``None`` for no limit.
        max_filters: Largest number of channels of any convolution.
        max_depth: Largest number of weighted layers (conv, sepconv, linear) on the
            longest path from input to output.
        max_nodes: Largest number of nodes in the graph.
        kernel_sizes: Odd kernel sizes that inserted convolutions may use. The default
            keeps to 3x3: a 5x5 convolution inserted into a wide layer costs almost
            three times the parameters and multiply-adds.
        initial_widths: Filters in the first stage of each initial architecture; each
            pooling stage doubles them. One initial architecture per entry.
        initial_resolution: The initial architectures halve the resolution (2x2 max
            pooling) while the halved height and width are both at least this, at most
            four times: 3 gives stages at 28, 14, 7 and 3 for 28x28 images, 4 stops at
            7. The defaults (3, and widths 4, 8, 16) are what the search benchmark
            adopted (``benchmarks/README.md``).
        initial_depth: Conv-BN-ReLU layers in each stage of the initial architectures
            between the first (full resolution) and the last (lowest resolution),
            which keep one each: 2 gives two at 14x14 and 7x7 for 28x28 images, the
            shape of a plain hand-written CNN. One integer for every initial
            architecture, a sequence with one per entry of ``initial_widths``, or
            ``None`` (the default): 1 for the narrowest, 2 for the others (6.5k, 37k
            and 145k parameters on Fashion-MNIST with the default widths), as the
            search benchmark adopted.

    Raises:
        ValueError: If an argument is invalid.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        num_classes: int,
        *,
        max_params: int | None = 5_000_000,
        max_filters: int = 512,
        max_depth: int = 30,
        max_nodes: int = 500,
        kernel_sizes: Sequence[int] = (3,),
        initial_widths: Sequence[int] = (4, 8, 16),
        initial_resolution: int = 3,
        initial_depth: int | Sequence[int] | None = None,
    ) -> None:
        shape = tuple(input_shape) if isinstance(input_shape, Sequence) else input_shape
        if (
            not isinstance(shape, tuple)
            or len(shape) != 3
            or not all(_is_int(v) for v in shape)
            or not 1 <= shape[0] <= MAX_CHANNELS
            or not all(1 <= v <= MAX_RESOLUTION for v in shape[1:])
        ):
            raise ValueError(
                f"input_shape must be three positive integers (C, H, W) with C <= "
                f"{MAX_CHANNELS} and H, W <= {MAX_RESOLUTION}, got {input_shape!r}"
            )
        if not _is_int(num_classes) or not 1 <= num_classes <= MAX_CHANNELS:
            raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
        if max_params is not None and (not _is_int(max_params) or max_params < 1):
            raise ValueError(f"max_params must be a positive integer or None, got {max_params!r}")
        if not _is_int(max_filters) or not 1 <= max_filters <= MAX_CHANNELS:
            raise ValueError(f"max_filters must be in [1, {MAX_CHANNELS}], got {max_filters!r}")
        if not _is_int(max_depth) or max_depth < 2:
            raise ValueError(f"max_depth must be an integer >= 2, got {max_depth!r}")
        if not _is_int(max_nodes) or not 5 <= max_nodes <= MAX_NODES:
            raise ValueError(f"max_nodes must be in [5, {MAX_NODES}], got {max_nodes!r}")
        kernels = tuple(kernel_sizes)
        if not kernels or not all(
            _is_int(k) and k % 2 == 1 and 1 <= k <= MAX_KERNEL_SIZE for k in kernels
        ):
            raise ValueError(
                f"kernel_sizes must be a non-empty sequence of odd integers in "
                f"[1, {MAX_KERNEL_SIZE}], got {kernel_sizes!r}"
            )
        widths = tuple(initial_widths)
        if not widths or not all(_is_int(w) and w >= 1 for w in widths):
            raise ValueError(
                f"initial_widths must be a non-empty sequence of positive integers, "
                f"got {initial_widths!r}"
            )
        if not _is_int(initial_resolution) or not 1 <= initial_resolution <= MAX_RESOLUTION:
            raise ValueError(
                f"initial_resolution must be an integer in [1, {MAX_RESOLUTION}], "
                f"got {initial_resolution!r}"
            )
        if initial_depth is None:
            depths: tuple[Any, ...] = tuple(1 if w == min(widths) else 2 for w in widths)
        elif _is_int(initial_depth) or not isinstance(initial_depth, Sequence):
            depths = (initial_depth,) * len(widths)
        else:
            depths = tuple(initial_depth)
        if len(depths) != len(widths) or not all(
            _is_int(d) and 1 <= d <= max_depth for d in depths
        ):
            raise ValueError(
                f"initial_depth must be an integer in [1, max_depth={max_depth}] or a "
                f"sequence of them, one per initial width ({len(widths)}), "
                f"got {initial_depth!r}"
            )
        self.input_shape: tuple[int, int, int] = (shape[0], shape[1], shape[2])
        self.num_classes = num_classes
        self.max_params = max_params
        self.max_filters = max_filters
        self.max_depth = max_depth
        self.max_nodes = max_nodes
        self.kernel_sizes = tuple(sorted(set(kernels)))
        self.initial_widths = widths
        self.initial_resolution = initial_resolution
        self.initial_depth: tuple[int, ...] = depths

    def __repr__(self) -> str:
        return (
            f"SearchSpace(input_shape={self.input_shape}, num_classes={self.num_classes}, "
            f"max_params={self.max_params}, max_filters={self.max_filters}, "
            f"max_depth={self.max_depth}, max_nodes={self.max_nodes}, "
            f"kernel_sizes={self.kernel_sizes}, initial_widths={self.initial_widths}, "
            f"initial_resolution={self.initial_resolution}, "
            f"initial_depth={self.initial_depth})"
        )

    def violations(self, arch: Architecture) -> list[str]:
        """Return what keeps ``arch`` out of this space; empty if it belongs."""
        problems = []
        if arch.input_shape != self.input_shape:
            problems.append(f"input shape {arch.input_shape} != {self.input_shape}")
        if arch.num_classes != self.num_classes:
            problems.append(f"{arch.num_classes} classes != {self.num_classes}")
        if len(arch) > self.max_nodes:
            problems.append(f"{len(arch)} nodes > max_nodes={self.max_nodes}")
        if arch.depth > self.max_depth:
            problems.append(f"depth {arch.depth} > max_depth={self.max_depth}")
        widest = max((node.filters for node in arch.nodes if node.filters is not None), default=0)
        if widest > self.max_filters:
            problems.append(f"{widest} filters > max_filters={self.max_filters}")
        if self.max_params is not None:
            params = analytic_num_params(arch)
            if params > self.max_params:
                problems.append(f"{params} parameters > max_params={self.max_params}")
        return problems

    def contains(self, arch: Architecture) -> bool:
        """Whether ``arch`` lies in this space."""
        return not self.violations(arch)

    def initial_architectures(self) -> list[Architecture]:
        """A few simple networks of different sizes, as LEMONADE starts from.

        Each is a chain of Conv-BN-ReLU stages separated by 2x2 max pooling (halving
        the resolution while the halved one is at least ``initial_resolution``, at
        most four times), then global average pooling and a linear classifier. The
        first stage has ``initial_widths[i]`` filters and each further stage twice as
        many (capped at ``max_filters``); the stages between the first and the last
        have ``initial_depth[i]`` Conv-BN-ReLU each. Architectures outside the limits are
        left out.

        Raises:
            ValueError: If the limits admit none of them.
        """
        _, height, width = self.input_shape
        pools = 0
        while min(height, width) // 2 >= self.initial_resolution and pools < 4:
            height, width, pools = height // 2, width // 2, pools + 1
        result: list[Architecture] = []
        for base, depth in zip(self.initial_widths, self.initial_depth, strict=True):
            nodes = [Node("input", "input")]
            previous, count = "input", 0
            for stage in range(pools + 1):
                filters = min(base * 2**stage, self.max_filters)
                for _ in range(1 if stage in (0, pools) else depth):
                    count += 1
                    nodes += [
                        Node(f"conv{count}", "conv", (previous,), filters=filters, kernel_size=3),
                        Node(f"bn{count}", "bn", (f"conv{count}",)),
                        Node(f"relu{count}", "relu", (f"bn{count}",)),
                    ]
                    previous = f"relu{count}"
                if stage < pools:
                    index = stage + 1
                    nodes.append(Node(f"pool{index}", "maxpool", (previous,), kernel_size=2))
                    previous = f"pool{index}"
            nodes += [
                Node("gap", "gap", (previous,)),
                Node("classifier", "linear", ("gap",), units=self.num_classes),
            ]
            arch = Architecture(self.input_shape, self.num_classes, nodes)
            if arch not in result and self.contains(arch):
                result.append(arch)
        if not result:
            raise ValueError(
                "the search space's limits admit none of its initial architectures; "
                "raise max_params, max_filters, max_depth or max_nodes, or lower "
                "initial_widths"
            )
        return result
