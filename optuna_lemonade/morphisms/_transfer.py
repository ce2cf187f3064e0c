"""Applying a mutation to a trained model: the child inherits the parent's weights."""

from __future__ import annotations

import torch
from torch import nn

from optuna_lemonade.architecture import Architecture
from optuna_lemonade.morphisms._base import Mutation
from optuna_lemonade.morphisms._channels import ChannelMap
from optuna_lemonade.morphisms._channels import ChannelMaps
from optuna_lemonade.morphisms._channels import propagate_channel_maps
from optuna_lemonade.network import build_model
from optuna_lemonade.network import check_model
from optuna_lemonade.network import GraphNetwork
from optuna_lemonade.network import SeparableConv2d


def _split(mapping: ChannelMap) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    indices = torch.tensor(mapping, dtype=torch.long)
    old = torch.nonzero(indices >= 0).flatten()
    new = torch.nonzero(indices < 0).flatten()
    return old, indices[old], new


def _keeps_order(mapping: ChannelMap) -> bool:
    """Whether child channel ``i`` is parent channel ``i`` for every ``i`` (no new ones).

    Most layers of a child are untouched by its mutation; copying them as a slice
    instead of through index tensors (``index_select`` on both dimensions, then an
    indexed assignment) saves a few milliseconds of a decision (about an eighth of
    it was the transfer, at 1,000 trials). The values copied are the same.
    """
    return all(source == index for index, source in enumerate(mapping))


def _copy_matrix(
    target: torch.Tensor, source: torch.Tensor, out_map: ChannelMap, in_map: ChannelMap
) -> None:
    """Copy ``source[out, in, ...]`` into ``target`` through the maps.

    Rows of new output channels keep their fresh initialisation; columns of new input
    channels are zeroed in the rows of old output channels, so new inputs do not change
    old outputs.
    """
    if _keeps_order(out_map) and _keeps_order(in_map):
        target.copy_(source[: len(out_map), : len(in_map)])
        return
    rows, row_sources, _ = _split(out_map)
    cols, col_sources, new_cols = _split(in_map)
    block = source.index_select(0, row_sources).index_select(1, col_sources)
    target[rows.unsqueeze(1), cols.unsqueeze(0)] = block
    if len(new_cols):
        target[rows.unsqueeze(1), new_cols.unsqueeze(0)] = 0.0


def _copy_vector(target: torch.Tensor, source: torch.Tensor, mapping: ChannelMap) -> None:
    if _keeps_order(mapping):
        target.copy_(source[: len(mapping)])
        return
    positions, sources, _ = _split(mapping)
    target[positions] = source.index_select(0, sources)


def transfer_weights(
    parent: Architecture,
    parent_model: nn.Module,
    child: Architecture,
    child_model: GraphNetwork,
    maps: ChannelMaps,
) -> None:
    """Copy every weight and running statistic of the parent into the child.

    For each weighted child node that exists in the parent under the same name and with
    the same operation and kernel size, parent values are copied through the channel
    maps. Other child layers are left for the mutation to initialise.
    """
    parent_layers = dict(parent_model.named_modules())
    with torch.no_grad():
        for node in child.nodes:
            if node.name not in child_model.layers or node.name not in parent:
                continue
            before = parent.node(node.name)
            if before.op != node.op or before.kernel_size != node.kernel_size:
                continue
            target = child_model.layers[node.name]
            source = parent_layers[f"layers.{node.name}"]
            out_map = maps.outputs[node.name]
            in_map = maps.input(node.name, node.inputs[0])
            if isinstance(target, nn.Conv2d) and isinstance(source, nn.Conv2d):
                _copy_matrix(target.weight, source.weight.detach().cpu(), out_map, in_map)
            elif isinstance(target, SeparableConv2d) and isinstance(source, SeparableConv2d):
                _copy_vector(
                    target.depthwise.weight, source.depthwise.weight.detach().cpu(), in_map
                )
                _copy_matrix(
                    target.pointwise.weight,
                    source.pointwise.weight.detach().cpu(),
                    out_map,
                    in_map,
                )
            elif isinstance(target, nn.BatchNorm2d) and isinstance(source, nn.BatchNorm2d):
                for attribute in ("weight", "bias", "running_mean", "running_var"):
                    _copy_vector(
                        getattr(target, attribute),
                        getattr(source, attribute).detach().cpu(),
                        out_map,
                    )
                assert target.num_batches_tracked is not None
                assert source.num_batches_tracked is not None
                target.num_batches_tracked.copy_(source.num_batches_tracked)
            elif isinstance(target, nn.Linear) and isinstance(source, nn.Linear):
                _copy_matrix(target.weight, source.weight.detach().cpu(), out_map, in_map)
                _copy_vector(target.bias, source.bias.detach().cpu(), out_map)
            else:  # pragma: no cover - check_model guarantees matching types
                raise AssertionError(f"layer {node.name!r}: {type(source)} -> {type(target)}")


def apply_mutation(
    arch: Architecture, model: nn.Module, mutation: Mutation
) -> tuple[Architecture, GraphNetwork]:
    """Apply ``mutation`` to ``arch`` and a model of it; the child inherits the weights.

    The parent model is not changed. The child is built on the parent's device, in the
    parent's training mode; its new layers are initialised from ``mutation.seed``, so
    replaying the same mutation on the same parent gives the same child.

    Args:
        arch: The parent architecture.
        model: A model of ``arch`` (its state dict must match ``build_model(arch)``).
        mutation: What to change, as proposed by an operator.

    Returns:
        The child architecture and the child model.

    Raises:
        ValueError: If the model does not match the architecture, or the mutation does
            not fit it.
    """
    check_model(arch, model)
    child = mutation.apply(arch)
    maps = propagate_channel_maps(
        arch, child, mutation.channel_maps(arch, child, model), mutation.edge_maps(arch, child)
    )
    reference = next(iter(model.parameters()), None)
    child_model = build_model(child, seed=mutation.seed)
    if reference is not None:
        child_model = child_model.to(dtype=reference.dtype)
    transfer_weights(arch, model, child, child_model, maps)
    with torch.no_grad():
        mutation.initialize_new(arch, child, model, child_model)
    if reference is not None:
        child_model = child_model.to(device=reference.device)
    child_model.train(model.training)
    return child, child_model
