"""How long to fine-tune a child: longer for cheap ones."""

from __future__ import annotations

from collections.abc import Sequence
import math

from optuna_lemonade.architecture import analytic_num_macs
from optuna_lemonade.architecture import Architecture


MOST = 3.0
"""A child trains at most this many times its base epochs."""


def reference_macs(initial_architectures: Sequence[Architecture]) -> float:
    """The multiply-adds below which children train longer.

    Half the largest initial network's (3.1M for the default initial networks on
    Fashion-MNIST).

    Raises:
        ValueError: If there are no initial architectures.
    """
    if not initial_architectures:
        raise ValueError("reference_macs needs at least one initial architecture")
    return max(analytic_num_macs(arch) for arch in initial_architectures) / 2


def child_epochs(epochs: float, architecture: Architecture, reference: float) -> float:
    """Fine-tune epochs for a child: longer for a cheap one.

    ``epochs`` times ``sqrt(reference / MACs)`` for a child cheaper than ``reference``
    multiply-adds, at most :data:`MOST` times.

    Why: a cheap child costs little wall-clock per epoch and is far from converged
    after a short fine-tune. :meth:`optuna_lemonade.Child.fit` applies it; the search
    benchmark adopted it over flat epochs (``benchmarks/README.md``).
    """
    macs = max(analytic_num_macs(architecture), 1)
    return epochs * min(MOST, max(1.0, math.sqrt(reference / macs)))
