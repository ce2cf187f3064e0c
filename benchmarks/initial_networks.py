"""Initial networks: how good each family of starting networks gets in a few epochs.

LEMONADE grows every network from its initial ones, so what they reach in their first
epochs, for their size and training time, bounds what the search can build on. Each
network here is trained from scratch (the seed's weights, the same data order),
``--epochs`` epochs with the search's settings (SGD, cosine schedule from lr 0.05,
batch 128) on Fashion-MNIST (the search-efficiency benchmark's 10k/10k split), and its
parameters, multiply-adds, training seconds and validation error are recorded. Families:

* ``stages3-W``: the search space's earlier defaults (``initial_resolution=4``): one
  Conv-BN-ReLU per stage at 28, 14, 7, first-stage width W, doubling per stage;
* ``stages4-W``: today's defaults (``initial_resolution=3``): one more stage, at 3x3;
* ``double4-W``: as ``stages4`` with two Conv-BN-ReLU in the stages at 14 and 7, the
  shape of the plain baseline space's good networks.

Writes ``initial_networks.json``.
"""

from __future__ import annotations

import argparse
import pathlib
import time
from typing import Any

from _common import RESULTS
from _common import write_json
from _search_methods import STAGES3
import torch

from optuna_lemonade import Architecture
from optuna_lemonade import count_params
from optuna_lemonade import SearchSpace
from optuna_lemonade.architecture import analytic_num_macs
from optuna_lemonade.network import build_model
from optuna_lemonade.training import evaluate
from optuna_lemonade.training import fine_tune
from optuna_lemonade.training import load_dataset


def networks(shape: tuple[int, int, int], classes: int) -> dict[str, Architecture]:
    result = {}
    for name, options in (("stages3", STAGES3), ("stages4", {"initial_widths": (4, 8, 16, 32)})):
        space = SearchSpace(shape, classes, **options)
        for width, arch in zip(space.initial_widths, space.initial_architectures(), strict=True):
            result[f"{name}-{width}"] = arch
    space = SearchSpace(shape, classes, initial_depth=2)
    for width, arch in zip(space.initial_widths, space.initial_architectures(), strict=True):
        result[f"double4-{width}"] = arch
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--networks", default=None, help="comma-separated names (default: all)")
    parser.add_argument("--quick", action="store_true", help="2k images, 1 epoch, 3 networks")
    parser.add_argument("--output-dir", type=pathlib.Path, default=RESULTS)
    config = parser.parse_args()
    # Before anything runs: a bad value must not end in a traceback, or write an empty
    # results file over the committed one (--seeds 0).
    for option, value in (("--seeds", config.seeds), ("--threads", config.threads)):
        if value < 1:
            parser.error(f"{option} must be at least 1, got {value}")
    if not config.epochs > 0:
        parser.error(f"--epochs must be positive, got {config.epochs}")
    torch.set_num_threads(config.threads)
    sizes = (2000, 1000) if config.quick else (10_000, 10_000)
    data = load_dataset("fashion-mnist", train_size=sizes[0], validation_size=sizes[1], seed=0)
    candidates = networks(data.input_shape, data.num_classes)
    names = (
        ["stages3-16", "stages4-8", "double4-8"]
        if config.quick
        else (config.networks.split(",") if config.networks else list(candidates))
    )
    unknown = sorted(set(names) - set(candidates))
    if unknown:
        parser.error(f"--networks: unknown {', '.join(unknown)}; known: {', '.join(candidates)}")
    epochs = 1.0 if config.quick else config.epochs
    rows: list[dict[str, Any]] = []
    for seed in range(config.seeds):
        for name in names:
            arch = candidates[name]
            train, validation, _ = data.loaders(batch_size=128, seed=seed)
            model = build_model(arch, seed=seed)
            torch.manual_seed(seed)
            start = time.perf_counter()
            fine_tune(model, train, epochs=epochs, lr=0.05, device="cpu", progress=False)
            seconds = time.perf_counter() - start
            row = {
                "network": name,
                "seed": seed,
                "params": count_params(arch),
                "macs": analytic_num_macs(arch),
                "epochs": epochs,
                "seconds": seconds,
                "validation_error": evaluate(model, validation, device="cpu"),
            }
            rows.append(row)
            print(
                f"seed {seed} {name:12} {row['params']:8d} params {row['macs'] / 1e6:6.2f}M MACs "
                f"{seconds:5.1f} s  val {row['validation_error']:.4f}",
                flush=True,
            )
    name = "initial_networks_quick" if config.quick else "initial_networks"
    path = write_json(
        config.output_dir,
        name,
        {"config": {**vars(config), "output_dir": str(config.output_dir)}, "rows": rows},
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
