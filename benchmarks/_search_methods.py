"""The search-efficiency benchmark's methods by name: LEMONADE's variants (the
ablations) and Optuna's samplers at a number of epochs per network."""

from __future__ import annotations

from typing import Any


VARIANTS: dict[str, dict[str, Any]] = {
    "lemonade": {},
    "lemonade-scratch": {"children_from_scratch": True},
    "lemonade-uniform": {"uniform_selection": True},
    "lemonade-lr02": {"child_lr": 0.02},
    "lemonade-lr01": {"child_lr": 0.01},
    "lemonade-init6": {"initial_epochs": 6.0},
    "lemonade-cheapmore": {"cheap_more": True},
    "lemonade-init6-cheapmore": {"initial_epochs": 6.0, "cheap_more": True},
    "lemonade-costsel": {"cost_selection": True},
    "lemonade-child4": {"child_epochs": 4.0},
}
"""LEMONADE's variants: the defaults, and one change each (the ablations):

* ``lemonade-scratch``: LEMONADE's choices, every child trained from scratch like a
  baseline (no inheritance);
* ``lemonade-uniform``: uniform instead of density-based parent and child selection;
* ``lemonade-lr02``, ``lemonade-lr01``: children's cosine schedule starts at 0.02 or
  0.01 instead of the initial networks' ``--lr``;
* ``lemonade-init6``: initial networks trained 6 epochs instead of ``--scratch-epochs``;
* ``lemonade-cheapmore``: a child with fewer multiply-adds than ``_search_runs.CHEAP_MACS`` trains
  longer, ``--child-epochs`` times ``sqrt(CHEAP_MACS / MACs)``, at most 3 times as long
  (small networks are cheap to train and far from converged after 2 epochs);
* ``lemonade-init6-cheapmore``: both;
* ``lemonade-child4``: children fine-tuned 4 epochs instead of ``--child-epochs``;
* ``lemonade-costsel``: children accepted with probability proportional to inverse
  density divided by the square root of their parameter count (a stand-in for the
  wall-clock they will cost), instead of inverse density alone.
"""

SAMPLERS = ("tpe", "nsga2", "random")
"""Optuna's samplers as baselines; a method ``tpe-6`` is TPE with 6 epochs per network,
plain ``tpe`` uses ``--scratch-epochs``."""
LEMONADE_VARIANTS = tuple(VARIANTS)
"""LEMONADE with its defaults first, then the ablations."""
METHODS = ("lemonade", "tpe-3", "tpe-6", "nsga2-3", "nsga2-6", "random-3", "random-6")
"""The default set: LEMONADE against every baseline at 3 and 6 epochs per network."""


def parse_baseline(method: str) -> tuple[str, float | None] | None:
    """``("tpe", 6.0)`` for ``tpe-6``, ``("tpe", None)`` for ``tpe``; None for LEMONADE."""
    sampler, dash, epochs = method.partition("-")
    if sampler not in SAMPLERS or (dash and not epochs):
        return None
    try:
        return sampler, (float(epochs) if epochs else None)
    except ValueError:
        return None


def is_method(method: str) -> bool:
    if method in LEMONADE_VARIANTS:
        return True
    parsed = parse_baseline(method)
    return parsed is not None and (parsed[1] is None or parsed[1] > 0)


def is_baseline(method: str) -> bool:
    return parse_baseline(method) is not None


def method_order(method: str) -> tuple[int, int, float]:
    """Sort key: LEMONADE's variants in their order, then baselines by sampler, epochs."""
    if method in LEMONADE_VARIANTS:
        return (0, LEMONADE_VARIANTS.index(method), 0.0)
    parsed = parse_baseline(method)
    assert parsed is not None
    return (1, SAMPLERS.index(parsed[0]), parsed[1] or 0.0)
