"""A trained ``torch.nn.Module`` as a :class:`GraphNetwork`: the IR, with the same weights.

torch.fx traces the module into a graph of calls; each call is matched to an operation
of :data:`~optuna_lemonade.architecture.OP_KINDS` (or passed through, as a flatten of a
pooled vector is), its weights copied under the IR's parameter names, and the converted
network checked against the module on random input.
"""

from __future__ import annotations

from collections.abc import Sequence
import copy
import dataclasses
import operator
import re
from typing import Any

import torch
from torch import fx
from torch import nn
import torch.fx.passes.shape_prop
import torch.nn.functional as F

from optuna_lemonade.architecture import Architecture
from optuna_lemonade.architecture import Node
from optuna_lemonade.architecture._architecture import _reserved_names
from optuna_lemonade.network._builder import from_state_dict
from optuna_lemonade.network._builder import GraphNetwork


TOLERANCE = 1e-5
"""Largest deviation of the converted network's logits from the module's, relative to
the largest logit, on random input in eval mode."""

_BN_EPS = nn.BatchNorm2d(1).eps  # what the IR's batch norms use


@dataclasses.dataclass
class _Converted:
    nodes: list[Node] = dataclasses.field(default_factory=list)
    state: dict[str, torch.Tensor] = dataclasses.field(default_factory=dict)
    names: dict[fx.Node, str] = dataclasses.field(default_factory=dict)  # fx node -> IR
    fused: set[fx.Node] = dataclasses.field(default_factory=set)  # done with another


def _where(node: fx.Node, module: nn.Module | None = None) -> str:
    if node.op == "call_module":
        return f"module {node.target!r} ({type(module).__name__})"
    target = getattr(node.target, "__name__", str(node.target))
    return f"{node.op} {target!r} (at {node.name!r})"


def _unsupported(node: fx.Node, module: nn.Module | None, why: str) -> ValueError:
    return ValueError(f"{_where(node, module)}: {why}")


def _pair(value: Any) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _shape(node: fx.Node) -> tuple[int, ...]:
    meta = node.meta.get("tensor_meta")
    if meta is None or not hasattr(meta, "shape"):
        raise ValueError(f"{_where(node)}: its output is not a tensor")
    return tuple(meta.shape)


def _ir_name(node: fx.Node, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_]", "_", node.name)[:56]
    if not base or not base[0].isalpha() or base in _reserved_names():
        base = f"n_{base}"[:56]
    name, count = base, 1
    while name in taken:
        count += 1
        name = f"{base}_{count}"
    taken.add(name)
    return name


def _conv_checks(node: fx.Node, conv: nn.Conv2d) -> None:
    kernel = _pair(conv.kernel_size)
    problems = []
    if kernel[0] != kernel[1] or kernel[0] % 2 == 0:
        problems.append(f"kernel {kernel} (the IR's are square and odd)")
    if _pair(conv.stride) != (1, 1):
        problems.append(f"stride {conv.stride} (the IR's are 1; resolution falls by pooling)")
    if _pair(conv.dilation) != (1, 1):
        problems.append(f"dilation {conv.dilation}")
    if isinstance(conv.padding, str):
        if conv.padding != "same":
            problems.append(f"padding {conv.padding!r} (the IR's is 'same')")
    elif _pair(conv.padding) != (kernel[0] // 2, kernel[1] // 2):
        problems.append(f"padding {conv.padding} (the IR's is 'same', {kernel[0] // 2})")
    if conv.padding_mode != "zeros":
        problems.append(f"padding_mode {conv.padding_mode!r}")
    if problems:
        raise _unsupported(node, conv, "not expressible: " + ", ".join(problems))


def _single_user(node: fx.Node) -> fx.Node | None:
    return next(iter(node.users)) if len(node.users) == 1 else None


def _module(gm: fx.GraphModule, node: fx.Node | None) -> nn.Module | None:
    if node is None or node.op != "call_module":
        return None
    return gm.get_submodule(str(node.target))


def _pointwise_after(gm: fx.GraphModule, node: fx.Node, conv: nn.Conv2d) -> nn.Conv2d | None:
    """The 1x1 convolution that alone reads a depthwise ``conv``'s output, if any."""
    user = _single_user(node)
    pointwise = _module(gm, user)
    if (
        isinstance(pointwise, nn.Conv2d)
        and pointwise.groups == 1
        and _pair(pointwise.kernel_size) == (1, 1)
        and pointwise.bias is None
        and conv.bias is None
    ):
        return pointwise
    return None


class _Converter:
    def __init__(self, gm: fx.GraphModule, input_shape: tuple[int, int, int]) -> None:
        self.gm = gm
        self.input_shape = input_shape
        self.out = _Converted()
        self.taken: set[str] = set()
        self.conv_bias: dict[fx.Node, torch.Tensor] = {}  # folded into the next batch norm

    def add(self, node: fx.Node, op: str, inputs: Sequence[fx.Node], **attributes: Any) -> str:
        name = _ir_name(node, self.taken)
        sources = tuple(self.out.names[source] for source in inputs)
        self.out.nodes.append(Node(name, op, sources, **attributes))
        self.out.names[node] = name
        return name

    def alias(self, node: fx.Node, source: fx.Node) -> None:
        self.out.names[node] = self.out.names[source]

    def tensor_input(self, node: fx.Node, index: int = 0) -> fx.Node:
        argument = node.args[index] if len(node.args) > index else None
        if not isinstance(argument, fx.Node) or argument not in self.out.names:
            raise _unsupported(
                node, _module(self.gm, node), "its input is not a tensor of the network"
            )
        return argument

    def run(self) -> _Converted:
        for node in self.gm.graph.nodes:
            if node in self.out.fused:
                continue
            if node.op == "placeholder":
                if self.out.names:
                    raise _unsupported(node, None, "the network must take one input")
                name = _ir_name(node, self.taken) if node.name != "input" else "input"
                self.taken.add(name)
                self.out.nodes.append(Node(name, "input"))
                self.out.names[node] = name
            elif node.op == "call_module":
                self.call_module(node, self.gm.get_submodule(str(node.target)))
            elif node.op in ("call_function", "call_method"):
                self.call_function(node)
            elif node.op == "output":
                result = node.args[0]
                if not isinstance(result, fx.Node) or result not in self.out.names:
                    raise _unsupported(node, None, "the network must return one tensor of logits")
                self.output = self.out.names[result]
            else:  # get_attr: a parameter or buffer used outside a module
                raise _unsupported(
                    node, None, "parameters used outside a module are not expressible"
                )
        return self.out

    # ------------------------------------------------------------------ modules
    def call_module(self, node: fx.Node, module: nn.Module) -> None:
        source = self.tensor_input(node)
        if isinstance(module, (nn.Identity, nn.Dropout, nn.Dropout2d)):
            self.alias(node, source)  # identities at inference
        elif isinstance(module, nn.Conv2d):
            self.conv(node, source, module)
        elif isinstance(module, nn.BatchNorm2d):
            self.batch_norm(node, source, module)
        elif isinstance(module, nn.ReLU):
            self.add(node, "relu", [source])
        elif isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
            kind = "maxpool" if isinstance(module, nn.MaxPool2d) else "avgpool"
            self.pool(
                node, source, module, kind, module.kernel_size, module.stride, module.padding
            )
        elif isinstance(module, nn.AdaptiveAvgPool2d):
            if _pair(module.output_size) != (1, 1):
                raise _unsupported(
                    node, module, "only output size 1 (global average pooling) is expressible"
                )
            self.add(node, "gap", [source])
        elif isinstance(module, nn.Flatten):
            if module.start_dim != 1 or module.end_dim != -1:
                raise _unsupported(node, module, "only Flatten(start_dim=1) is expressible")
            self.flatten(node, source)
        elif isinstance(module, nn.Linear):
            self.linear(node, source, module)
        else:
            raise _unsupported(
                node,
                module,
                "not expressible in the IR (Conv2d, BatchNorm2d, ReLU, MaxPool2d, AvgPool2d, "
                "AdaptiveAvgPool2d(1), Flatten, Linear, Identity, Dropout, + and torch.cat)",
            )

    def conv(self, node: fx.Node, source: fx.Node, conv: nn.Conv2d) -> None:
        _conv_checks(node, conv)
        kernel = _pair(conv.kernel_size)[0]
        if conv.groups == 1:
            name = self.add(node, "conv", [source], filters=conv.out_channels, kernel_size=kernel)
            self.out.state[f"layers.{name}.weight"] = conv.weight.detach()
            if conv.bias is not None:
                self.fold_bias(node, conv)
            return
        depthwise = conv.groups == conv.in_channels == conv.out_channels
        pointwise = _pointwise_after(self.gm, node, conv) if depthwise else None
        if pointwise is None:
            raise _unsupported(
                node,
                conv,
                f"groups={conv.groups} is expressible only as a depthwise convolution without "
                "bias followed directly by a 1x1 convolution without bias (a sepconv)",
            )
        user = _single_user(node)
        assert user is not None
        name = self.add(
            user, "sepconv", [source], filters=pointwise.out_channels, kernel_size=kernel
        )
        self.out.fused.add(user)
        self.out.state[f"layers.{name}.depthwise.weight"] = conv.weight.detach()
        self.out.state[f"layers.{name}.pointwise.weight"] = pointwise.weight.detach()

    def fold_bias(self, node: fx.Node, conv: nn.Conv2d) -> None:
        assert conv.bias is not None
        user = _single_user(node)
        if isinstance(_module(self.gm, user), nn.BatchNorm2d):
            assert user is not None
            # A batch norm subtracts its input's mean, in training (the batch's) and at
            # inference (the running one, shifted here by the bias): a bias before it
            # changes nothing once the running mean absorbs it.
            self.conv_bias[user] = conv.bias.detach()
        elif bool((conv.bias != 0).any()):
            raise _unsupported(
                node,
                conv,
                "a bias is expressible only before a BatchNorm2d (the IR's convolutions "
                "have none; the batch norm's running mean absorbs it)",
            )

    def batch_norm(self, node: fx.Node, source: fx.Node, bn: nn.BatchNorm2d) -> None:
        if not bn.affine or not bn.track_running_stats:
            raise _unsupported(node, bn, "needs affine=True and track_running_stats=True")
        if bn.eps != _BN_EPS:
            raise _unsupported(node, bn, f"eps {bn.eps:g} (the IR's batch norms use {_BN_EPS:g})")
        name = self.add(node, "bn", [source])
        assert bn.running_mean is not None and bn.running_var is not None
        mean = bn.running_mean.detach()
        if node in self.conv_bias:
            mean = mean - self.conv_bias[node]
        prefix = f"layers.{name}"
        self.out.state |= {
            f"{prefix}.weight": bn.weight.detach(),
            f"{prefix}.bias": bn.bias.detach(),
            f"{prefix}.running_mean": mean,
            f"{prefix}.running_var": bn.running_var.detach(),
        }
        if bn.num_batches_tracked is not None:
            self.out.state[f"{prefix}.num_batches_tracked"] = bn.num_batches_tracked.detach()

    def pool(
        self,
        node: fx.Node,
        source: fx.Node,
        module: Any,
        kind: str,
        kernel: Any,
        stride: Any,
        padding: Any,
        **extra: Any,
    ) -> None:
        size = _pair(kernel)
        problems = []
        if size[0] != size[1] or size[0] < 2:
            problems.append(f"kernel {kernel} (the IR's are square, at least 2)")
        if stride is not None and _pair(stride) != size:
            problems.append(f"stride {stride} (the IR's equals the kernel)")
        if _pair(padding) != (0, 0):
            problems.append(f"padding {padding}")
        for option, allowed in (("dilation", 1), ("ceil_mode", False), ("divisor_override", None)):
            value = extra.get(option, getattr(module, option, allowed))
            if value != allowed and not (option == "dilation" and _pair(value) == (1, 1)):
                problems.append(f"{option} {value}")
        if getattr(module, "return_indices", False) or extra.get("return_indices"):
            problems.append("return_indices")
        if problems:
            raise _unsupported(node, module, "not expressible: " + ", ".join(problems))
        self.add(node, kind, [source], kernel_size=size[0])

    def flatten(self, node: fx.Node, source: fx.Node) -> None:
        shape = _shape(source)
        if len(shape) == 2:  # already a vector (after global average pooling)
            self.alias(node, source)
        elif len(shape) == 4 and shape[2:] == (1, 1):
            ir = self.out.names[source]
            if any(n.name == ir and n.op == "gap" for n in self.out.nodes):
                self.alias(node, source)  # AdaptiveAvgPool2d(1) then flatten: one gap
            else:
                self.add(node, "gap", [source])  # a 1x1 map's mean is itself
        else:
            raise _unsupported(
                node,
                _module(self.gm, node),
                f"flattens a {' x '.join(map(str, shape[1:]))} map; the IR's classifier reads "
                "globally average-pooled features (AdaptiveAvgPool2d(1) first)",
            )

    def linear(self, node: fx.Node, source: fx.Node, linear: nn.Linear) -> None:
        name = self.add(node, "linear", [source], units=linear.out_features)
        self.out.state[f"layers.{name}.weight"] = linear.weight.detach()
        bias = linear.bias if linear.bias is not None else torch.zeros(linear.out_features)
        self.out.state[f"layers.{name}.bias"] = bias.detach()

    # ---------------------------------------------------------------- functions
    def call_function(self, node: fx.Node) -> None:
        target = node.target
        kwargs = dict(node.kwargs)
        if target in ("size", getattr, operator.getitem, "dim") and not isinstance(
            node.meta.get("tensor_meta"), torch.fx.passes.shape_prop.TensorMetadata
        ):
            return  # a size (as in x.view(x.size(0), -1)): no value of the network
        if target in (F.relu, torch.relu, "relu", torch.relu_, "relu_"):
            self.add(node, "relu", [self.tensor_input(node)])
        elif target in (operator.add, torch.add, "add", operator.iadd, "add_"):
            inputs = [arg for arg in node.args if isinstance(arg, fx.Node)]
            if len(inputs) != 2 or len(node.args) != 2 or kwargs.get("alpha", 1) != 1:
                raise _unsupported(node, None, "only the sum of two tensors is expressible")
            if _shape(inputs[0]) != _shape(inputs[1]):
                raise _unsupported(node, None, "adds tensors of different shapes (broadcasting)")
            self.add(node, "add", inputs)
        elif target is torch.cat:
            tensors = node.args[0] if node.args else kwargs.get("tensors")
            dim = node.args[1] if len(node.args) > 1 else kwargs.get("dim", 0)
            if not isinstance(tensors, (list, tuple)) or dim not in (1, -3) or len(tensors) < 2:
                raise _unsupported(
                    node, None, "only torch.cat of 2+ tensors along dim 1 is expressible"
                )
            if any(not isinstance(t, fx.Node) or t not in self.out.names for t in tensors):
                raise _unsupported(
                    node, None, "concatenates something that is not a tensor of the network"
                )
            self.add(node, "concat", list(tensors))
        elif target in (torch.flatten, "flatten"):
            start = node.args[1] if len(node.args) > 1 else kwargs.get("start_dim", 0)
            end = node.args[2] if len(node.args) > 2 else kwargs.get("end_dim", -1)
            if start != 1 or end != -1:
                raise _unsupported(node, None, "only flatten(x, 1) is expressible")
            self.flatten(node, self.tensor_input(node))
        elif target in ("view", "reshape", torch.reshape) and len(_shape(node)) == 2:
            self.flatten(node, self.tensor_input(node))
        elif target in (torch.mean, "mean"):
            dims = node.args[1] if len(node.args) > 1 else kwargs.get("dim")
            if (
                not isinstance(dims, (list, tuple))
                or sorted(d % 4 for d in dims) != [2, 3]
                or kwargs.get("keepdim", False)
            ):
                raise _unsupported(node, None, "only the mean over dims (2, 3) is expressible")
            self.add(node, "gap", [self.tensor_input(node)])
        elif target in (F.max_pool2d, F.avg_pool2d):
            names = ("kernel_size", "stride", "padding")
            values = dict(zip(names, node.args[1:4], strict=False)) | {
                k: v for k, v in kwargs.items() if k in names
            }
            extra = {k: v for k, v in kwargs.items() if k not in names}
            kind = "maxpool" if target is F.max_pool2d else "avgpool"
            self.pool(
                node,
                self.tensor_input(node),
                None,
                kind,
                values["kernel_size"],
                values.get("stride"),
                values.get("padding", 0),
                **extra,
            )
        elif target in (F.adaptive_avg_pool2d,):
            size = node.args[1] if len(node.args) > 1 else kwargs.get("output_size")
            if _pair(size) != (1, 1):
                raise _unsupported(node, None, "only output size 1 is expressible")
            self.add(node, "gap", [self.tensor_input(node)])
        else:
            raise _unsupported(
                node,
                None,
                "not expressible in the IR (relu, +, torch.cat(dim=1), flatten, mean over "
                "(2, 3), max/avg pooling and the modules listed in from_module's docstring)",
            )


def _deviation(model: nn.Module, network: GraphNetwork, shape: tuple[int, int, int]) -> float:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(4, *shape, generator=generator)
    with torch.no_grad():
        expected = model(x)
        got = network(x)
    if not isinstance(expected, torch.Tensor) or expected.shape != got.shape:
        return float("inf")
    scale = float(expected.abs().max().clamp_min(1e-12))
    return float((expected - got).abs().max()) / scale


def from_module(model: nn.Module, input_shape: Sequence[int]) -> GraphNetwork:
    """Convert a trained PyTorch classifier to a :class:`GraphNetwork` with its weights.

    The network the search can start from (``LemonadeSampler(initial_architectures=
    [network])``) and grow or shrink by morphisms, its children inheriting these
    weights. ``torch.fx.symbolic_trace`` reads the module's forward pass; what it may
    hold:

    * ``nn.Conv2d`` with stride 1, "same" zero padding, an odd square kernel; a bias
      only right before a ``BatchNorm2d`` (folded into its running mean). A depthwise
      convolution (``groups`` = channels, no bias) followed directly by a 1x1 one
      without bias is the IR's ``sepconv``.
    * ``nn.BatchNorm2d`` (affine, running statistics, default eps), ``nn.ReLU`` /
      ``F.relu``, ``nn.MaxPool2d`` / ``nn.AvgPool2d`` / their functions with stride
      equal to the kernel and no padding.
    * ``nn.AdaptiveAvgPool2d(1)`` or a mean over dims (2, 3), then ``nn.Flatten``,
      ``torch.flatten(x, 1)`` or ``x.view(len(x), -1)``; ``nn.Linear``.
    * ``a + b`` of equal shapes, ``torch.cat([...], dim=1)``; ``nn.Identity`` and
      ``nn.Dropout`` (identities at inference: dropped).

    Args:
        model: The module; not changed (a copy is traced, on the CPU, in eval mode).
        input_shape: ``(C, H, W)`` of one input image.

    Returns:
        The network on the CPU in eval mode, computing the module's logits in eval mode
        within :data:`TOLERANCE` (checked here on random input).

    Raises:
        ValueError: Naming the module (or function) and its type, for anything the IR
            cannot express or a model that torch.fx cannot trace.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"from_module expects a torch.nn.Module, got {type(model).__name__}")
    shape = tuple(input_shape)
    if len(shape) != 3 or not all(isinstance(v, int) and v >= 1 for v in shape):
        raise ValueError(f"input_shape must be (C, H, W), got {input_shape!r}")
    shape3 = (int(shape[0]), int(shape[1]), int(shape[2]))
    model = copy.deepcopy(model).cpu().eval()
    try:
        gm = fx.symbolic_trace(model)
    except Exception as error:  # torch.fx's errors on data-dependent control flow etc.
        raise ValueError(
            f"torch.fx cannot trace {type(model).__name__}: {str(error).splitlines()[0]}"
        ) from None
    try:
        with torch.no_grad():
            torch.fx.passes.shape_prop.ShapeProp(gm).propagate(torch.zeros(1, *shape3))
    except Exception as error:
        raise ValueError(
            f"{type(model).__name__} does not run on a 1 x {' x '.join(map(str, shape3))} "
            f"input: {str(error).splitlines()[0]}"
        ) from None
    converter = _Converter(gm, shape3)
    converted = converter.run()
    logits = _shape(next(n for n in gm.graph.nodes if n.op == "output").args[0])
    if len(logits) != 2:
        raise ValueError(f"{type(model).__name__} returns {logits[1:]} per image, not logits")
    try:
        architecture = Architecture(shape3, logits[1], converted.nodes)
    except ValueError as error:
        raise ValueError(f"{type(model).__name__} is not expressible: {error}") from None
    if architecture.output_name != converter.output:
        raise ValueError(f"{type(model).__name__}: computes values its output does not use")
    network = from_state_dict(
        architecture, {key: value.clone() for key, value in converted.state.items()}
    ).eval()
    deviation = _deviation(model, network, shape3)
    if not deviation <= TOLERANCE:
        raise ValueError(
            f"{type(model).__name__}: the converted network's logits deviate by "
            f"{deviation:.2g} (relative), more than {TOLERANCE:g}: something in the module "
            "is not what it was read as; please report it"
        )
    return network
