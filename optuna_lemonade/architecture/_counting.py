"""Analytic parameter and multiply-accumulate counts of an architecture."""

from __future__ import annotations

from optuna_lemonade.architecture._architecture import Architecture


def analytic_num_params(arch: Architecture) -> int:
    """Number of trainable parameters of ``build_model(arch)``, from shapes alone.

    Convolutions have no bias; batch norm has a scale and a shift per channel (running
    statistics are buffers, not parameters); linear layers have a bias.
    """
    total = 0
    for node in arch.nodes:
        if not node.inputs:
            continue
        source = arch.shape(node.inputs[0])
        if node.op == "conv":
            assert node.kernel_size is not None and node.filters is not None
            total += node.kernel_size**2 * source[0] * node.filters
        elif node.op == "sepconv":
            assert node.kernel_size is not None and node.filters is not None
            total += node.kernel_size**2 * source[0] + source[0] * node.filters
        elif node.op == "bn":
            total += 2 * source[0]
        elif node.op == "linear":
            assert node.units is not None
            total += (source[0] + 1) * node.units
    return total


def analytic_num_macs(arch: Architecture) -> int:
    """Multiply-accumulates of one forward pass of one image, from shapes alone.

    Counts what ptflops' ``aten`` backend counts: convolutions (``k*k*C_in*C_out*H*W``,
    depthwise ``k*k*C*H*W``) and linear layers (``in*out`` plus ``out`` bias additions).
    Batch norm (foldable into the preceding convolution at inference), ReLU, pooling
    and additions are element-wise and not counted.
    """
    total = 0
    for node in arch.nodes:
        if not node.inputs:
            continue
        source = arch.shape(node.inputs[0])
        if node.op in ("conv", "sepconv"):
            assert node.kernel_size is not None and node.filters is not None
            channels, height, width = source
            pixels = height * width
            if node.op == "conv":
                total += node.kernel_size**2 * channels * node.filters * pixels
            else:
                total += (node.kernel_size**2 * channels + channels * node.filters) * pixels
        elif node.op == "linear":
            assert node.units is not None
            total += (source[0] + 1) * node.units
    return total
