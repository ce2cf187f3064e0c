"""Helpers shared by the benchmark scripts (run as ``python benchmarks/<script>.py``)."""

from __future__ import annotations

import json
import pathlib
import platform
from typing import Any

import numpy as np
import torch


RESULTS = pathlib.Path(__file__).parent / "results"


def synthetic_error(params: float, trial_number: int) -> float:
    """An error that falls with the parameter count, with seeded noise: it makes the
    Pareto front evolve as in a search, without training anything."""
    noise = np.random.default_rng(trial_number).normal(0, 0.01)
    return float(0.4 * (params / 1e3) ** -0.25 + noise)


def machine() -> dict[str, Any]:
    """What the benchmark ran on."""
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }


def write_json(output_dir: pathlib.Path, name: str, payload: dict[str, Any]) -> pathlib.Path:
    """Write ``payload`` plus the machine description to ``output_dir/name.json``."""
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **payload}, indent=1))
    return path
