"""Helpers shared by the benchmark scripts (run as ``python benchmarks/<script>.py``)."""

from __future__ import annotations

import json
import pathlib
import platform
import sys
from typing import Any

import numpy as np
import torch


RESULTS = pathlib.Path(__file__).parent / "results"


def synthetic_error(params: float, trial_number: int) -> float:
    """An error that falls with the parameter count, with seeded noise: it makes the
    Pareto front evolve as in a search, without training anything."""
    noise = np.random.default_rng(trial_number).normal(0, 0.01)
    return float(0.4 * (params / 1e3) ** -0.25 + noise)


def cpu_name() -> str:
    """The processor's model name (Linux's /proc/cpuinfo; elsewhere what ``platform``
    knows) and the instruction set torch's CPU kernels use (AVX2, AVX512...): machines
    here differ in both, and their speeds by up to three times."""
    name = platform.processor()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    return f"{name or 'unknown'} ({torch.backends.cpu.get_cpu_capability()})"


def machine() -> dict[str, Any]:
    """What the benchmark ran on."""
    return {
        "platform": platform.platform(),
        "cpu": cpu_name(),
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


def search_command(directory: pathlib.Path, *options: str) -> tuple[list[str], str]:
    """``optuna-lemonade search`` as a user runs it, with its study, checkpoints and plot
    in ``directory`` and ``--quiet``; returns the command and the study's storage URL."""
    storage = f"sqlite:///{directory / 'study.db'}"
    command = [
        sys.executable,
        "-m",
        "optuna_lemonade.cli",
        "search",
        *options,
        "--storage",
        storage,
        "--checkpoint-dir",
        str(directory / "checkpoints"),
        "--plot",
        str(directory / "front.png"),
        "--quiet",
    ]
    return command, storage
