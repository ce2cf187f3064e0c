"""Parent and child selection strategies: inverse density (LEMONADE's) and uniform."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


SelectionStrategy = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""Maps candidates' cheap objectives (``m x d``) and a reference set (``n x d``) to
selection probabilities for the ``m`` candidates (summing to one)."""


def to_log_scale(values: np.ndarray) -> np.ndarray:
    """Return ``values`` with every all-positive column (counts, costs) on a log scale."""
    result = np.array(values, dtype=float)
    for column in range(result.shape[1]):
        if np.all(result[:, column] > 0):
            result[:, column] = np.log(result[:, column])
    return result


def log_density(
    points: np.ndarray,
    reference: np.ndarray,
    *,
    min_bandwidth: float = 0.1,
    reflect: bool = False,
) -> np.ndarray:
    """Log of a Gaussian kernel density estimate fitted on ``reference``, at ``points``.

    A product kernel with Scott's rule per dimension, each bandwidth at least
    ``min_bandwidth``. Written here rather than using ``scipy.stats.gaussian_kde``
    because that needs a non-singular covariance, which a population of one or two
    networks, or perfectly correlated objectives (parameters and MACs of networks that
    differ only in widths), do not have.

    With ``reflect``, the reference is mirrored at its range in every dimension: the
    reflection method for a kernel estimate's boundary bias (Schuster, 1985). The plain
    estimate halves towards the ends of the reference's range, which makes the two ends
    of a Pareto front (its cheapest and its costliest networks) look sparse however well
    populated, and a candidate beyond an end the sparsest of all. Mirroring every
    reference point at the lowest and the highest value of each dimension (but the
    points on it, their own images) gives the ends the density of the interior, and a
    candidate a distance beyond an end the density it would have that distance inside.
    Bandwidths are the unmirrored reference's.
    """
    n, dims = reference.shape
    spread = reference.std(axis=0, ddof=1) if n > 1 else np.zeros(dims)
    bandwidth = np.maximum(spread * n ** (-1.0 / (dims + 4)), min_bandwidth)
    kernels = [reference]
    for dim in range(dims if reflect else 0):
        for edge in (reference[:, dim].min(), reference[:, dim].max()):
            # A point on the edge is its own mirror image: counted once, as inside.
            mirrored = reference[reference[:, dim] != edge].copy()
            mirrored[:, dim] = 2 * edge - mirrored[:, dim]
            kernels.append(mirrored)
    z = (points[:, None, :] - np.vstack(kernels)[None, :, :]) / bandwidth
    log_kernels = -0.5 * np.sum(z * z, axis=2)
    peak = log_kernels.max(axis=1, keepdims=True)
    log_sum = peak[:, 0] + np.log(np.exp(log_kernels - peak).sum(axis=1))
    normaliser = np.log(n) + np.log(bandwidth).sum() + 0.5 * dims * np.log(2 * np.pi)
    result: np.ndarray = log_sum - normaliser
    return result


def _inverse_density(candidates: np.ndarray, reference: np.ndarray, reflect: bool) -> np.ndarray:
    scaled = to_log_scale(np.vstack([candidates, reference]))
    log_p = log_density(scaled[: len(candidates)], scaled[len(candidates) :], reflect=reflect)
    log_w = -log_p
    weights = np.exp(log_w - log_w.max())
    probabilities: np.ndarray = weights / weights.sum()
    return probabilities


def inverse_density(candidates: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """LEMONADE's selection: probability proportional to ``1 / p(candidate)``.

    ``p`` is a kernel density estimate over ``reference`` on a log scale for positive
    objectives, so a network in a sparsely populated region of the cheap objectives is
    more likely to be picked.
    """
    return _inverse_density(candidates, reference, reflect=False)


def reflected_inverse_density(candidates: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """:func:`inverse_density` with the estimate mirrored at the reference's ends.

    With the plain estimate, the cheapest and the costliest networks of the front, and
    candidates beyond them, are favoured for being at an end, not for being alone; at
    the costly end every such child costs the most wall-clock. Not exported: the
    search benchmark did not adopt it (ablation ``lemonade-reflect`` in
    ``benchmarks/JOURNAL.md``), and keeps it for that ablation.
    """
    return _inverse_density(candidates, reference, reflect=True)


def uniform(candidates: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Every candidate equally likely (the ablation without density estimation)."""
    return np.full(len(candidates), 1.0 / len(candidates))
