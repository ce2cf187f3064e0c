"""Cheap objectives: costs of an architecture known without training it.

LEMONADE samples parents and children by a density estimate over these, so they must
be fast: both are computed from the architecture alone.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
import functools
import io
from typing import Protocol
from typing import runtime_checkable

import torch

from optuna_lemonade.architecture import analytic_num_macs
from optuna_lemonade.architecture import analytic_num_params
from optuna_lemonade.architecture import Architecture
from optuna_lemonade.latency import Latency
from optuna_lemonade.network import build_model


CheapObjective = Callable[[Architecture], float]
"""A cheap objective: maps an architecture to a cost, without training."""


@runtime_checkable
class SharedCheapObjective(Protocol):
    """A cheap objective that measures (e.g. :class:`~optuna_lemonade.latency.Latency`).

    Measuring costs enough that every result is worth sharing: the sampler hands what
    other workers measured to :meth:`remember` before each decision and stores what
    :meth:`take_measured` returns in the study afterwards, under :attr:`namespace`
    (workers with another namespace, e.g. another device, do not share results).
    """

    @property
    def namespace(self) -> str:
        """Which measurements may be shared: a short string of ``[0-9a-z]``."""

    def __call__(self, arch: Architecture) -> float:
        """The cost of ``arch``."""

    def key(self, arch: Architecture) -> str:
        """The architecture's key under which its result is shared."""

    def remember(self, entries: Iterable[tuple[str, float]]) -> None:
        """Take results measured elsewhere, as ``(key, value)`` pairs."""

    def take_measured(self) -> list[tuple[str, float]]:
        """Results measured here since the last call, as ``(key, value)`` pairs."""


def count_params(arch: Architecture) -> int:
    """Exact number of trainable parameters of ``build_model(arch)``.

    Computed from the architecture's shapes (equal, by test, to summing
    ``numel()`` over the built model's parameters) so that no model is built.
    """
    return analytic_num_params(arch)


@functools.lru_cache(maxsize=4096)
def count_macs(arch: Architecture) -> int:
    """Multiply-accumulates of one forward pass of one image, counted by ptflops.

    Uses ptflops' ``aten`` backend, which counts at the level of PyTorch operators
    (``aten.convolution``, ``aten.addmm``...). The alternative ``pytorch`` backend hooks
    ``nn.Module`` calls and would miss the functional operations the built network
    uses for pooling, additions and concatenations, while counting batch norm, which
    folds into the preceding convolution at inference. So the count is: convolutions
    (depthwise ones included, ``k*k*C_in/groups*C_out*H*W``) and linear layers (with
    the bias additions). The model is built on PyTorch's ``meta`` device, so no weights
    are allocated and no arithmetic is done; results are cached per architecture.

    Raises:
        RuntimeError: If ptflops fails to count the network.
    """
    # Imported here: ptflops is only needed for this count.
    from ptflops import get_model_complexity_info

    with torch.device("meta"):
        model = build_model(arch)
    log = io.StringIO()
    macs, _ = get_model_complexity_info(
        model,
        arch.input_shape,
        as_strings=False,
        backend="aten",
        print_per_layer_stat=False,
        verbose=False,
        ost=log,
    )
    if macs is None:
        raise RuntimeError(f"ptflops could not count the MACs of {arch!r}: {log.getvalue()}")
    return int(macs)


CHEAP_OBJECTIVES: dict[str, CheapObjective] = {
    "params": count_params,
    # The analytic count, not ptflops': the sampler evaluates it for every proposed
    # child, and ptflops takes tens of milliseconds per network (it traces a forward
    # pass) where the analytic count takes tens of microseconds. The two are equal on
    # every network by test (tests/test_cheap_objectives.py).
    "macs": analytic_num_macs,
}
"""Cheap objectives available by name: ``params`` (:func:`count_params`) and ``macs``
(multiply-accumulates, equal to :func:`count_macs`)."""

MEASURED_OBJECTIVES: dict[str, Callable[[], CheapObjective]] = {"latency": Latency}
"""Cheap objectives that measure, by name, made anew for each sampler: ``latency``
(:class:`~optuna_lemonade.latency.Latency` with its default settings)."""
