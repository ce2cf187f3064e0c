"""Analytic parameter and multiply-accumulate counts of an architecture."""

from __future__ import annotations

from optuna_lemonade.architecture._architecture import Architecture
from optuna_lemonade.architecture._ops import OP_KINDS


def analytic_num_params(arch: Architecture) -> int:
    """Number of trainable parameters of ``build_model(arch)``, from shapes alone.

    Convolutions have no bias; batch norm has a scale and a shift per channel (running
    statistics are buffers, not parameters); linear layers have a bias.
    """
    return sum(
        OP_KINDS[node.op].params(node, arch.shape(node.inputs[0]))
        for node in arch.nodes
        if node.inputs
    )


def analytic_num_macs(arch: Architecture) -> int:
    """Multiply-accumulates of one forward pass of one image, from shapes alone.

    Counts what ptflops' ``aten`` backend counts: convolutions (``k*k*C_in*C_out*H*W``,
    depthwise ``k*k*C*H*W``) and linear layers (``in*out`` plus ``out`` bias additions).
    Batch norm (foldable into the preceding convolution at inference), ReLU, pooling
    and additions are element-wise and not counted.
    """
    return sum(
        OP_KINDS[node.op].macs(node, arch.shape(node.inputs[0]))
        for node in arch.nodes
        if node.inputs
    )
