"""Does training a network further help once the search's short schedules have converged
it, and at which learning rate?

Issue 37's final phase (``lemonade-final``: the last fifth of the budget trains the
front's best networks further, a fresh cosine from 0.05) made all five networks of its
pilot worse on validation. Two readings were not told apart: a fresh schedule from a
high rate undoes a converged network (then a lower rate, 0.01, would help), or the front's
best validation errors are the luckiest of many draws and any retraining regresses to
the mean (then nothing trained further looks better on validation). This benchmark
takes selection out: each initial network of the defaults (6.5k / 37k / 145k
parameters on Fashion-MNIST) is trained as a lineage of the search trains it (3 epochs
from scratch, then two fine-tunes of 2 epochs, each a cosine from 0.05), then copies of
it train further on fresh cosine schedules (from 0.05 or 0.01, for 3 or 8 epochs).
Validation and test errors before and after, per seed. Epochs, not seconds: the
machine's speed does not enter the errors.

Run: ``python benchmarks/continued_training.py`` (seeds 0-2, about 25 minutes on 2
cores at 2 s per calibration step); ``--quick`` for a smoke run on digits.
"""

from __future__ import annotations

import argparse
import copy
import json
import pathlib
import time
from typing import Any

from _common import RESULTS
from _common import write_json
import torch

from optuna_lemonade import build_model
from optuna_lemonade import count_params
from optuna_lemonade import SearchSpace
from optuna_lemonade.training import evaluate
from optuna_lemonade.training import fine_tune
from optuna_lemonade.training import load_dataset


LINEAGE = (3.0, 2.0, 2.0)
"""Epochs of the training from scratch and of each fine-tune after it, each a cosine from
the search's 0.05: the lineage of a network three generations deep (``--generations``
sets the number of fine-tunes)."""
ARMS = ((0.05, 3.0), (0.01, 3.0), (0.05, 8.0), (0.01, 8.0))
"""(initial learning rate, epochs) of each further training."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--generations",
        type=int,
        default=2,
        help="fine-tunes of 2 epochs after the 3 from scratch (default 2; the front's "
        "largest networks in the 20-minute searches had lineages of 10-25 epochs)",
    )
    parser.add_argument("--quick", action="store_true", help="digits, 1 seed, a smoke run")
    parser.add_argument("--output-dir", type=pathlib.Path, default=RESULTS)
    config = parser.parse_args()
    if config.seeds < 1 or config.threads < 1 or config.generations < 0:
        parser.error("--seeds and --threads must be at least 1, --generations at least 0")
    lineage = (LINEAGE[0],) + (LINEAGE[1],) * config.generations
    torch.set_num_threads(config.threads)
    dataset, sizes = ("digits", (600, 400)) if config.quick else ("fashion-mnist", (10000, 10000))
    data = load_dataset(dataset, train_size=sizes[0], validation_size=sizes[1], seed=0)
    space = SearchSpace(data.input_shape, data.num_classes)
    name = (
        "continued_training"
        + (f"_g{config.generations}" if config.generations != 2 else "")
        + ("_quick" if config.quick else "")
    )
    partial = config.output_dir / f"{name}.partial.json"
    # Saved after every network: an interrupted invocation keeps what finished.
    networks: list[dict[str, Any]] = []
    done: set[tuple[int, int]] = set()
    if partial.exists():
        try:
            networks = json.loads(partial.read_text())["networks"]
            done = {(n["seed"], n["params"]) for n in networks}
        except (ValueError, KeyError, TypeError) as error:
            parser.error(f"{partial} is not a readable partial result ({error!r}); move it away")
    started = time.perf_counter()
    seeds = 1 if config.quick else config.seeds
    for seed in range(config.first_seed, config.first_seed + seeds):
        train, validation, test = data.loaders(batch_size=128, seed=seed)
        for arch in space.initial_architectures():
            params = count_params(arch)
            if (seed, params) in done:
                print(f"seed {seed} {params:7d} params: kept from {partial}", flush=True)
                continue
            model = build_model(arch, seed=seed)
            for epochs in lineage:
                fine_tune(model, train, epochs=epochs, lr=0.05, progress=False)
            entry: dict[str, Any] = {
                "seed": seed,
                "params": params,
                "lineage_epochs": list(lineage),
                "validation_error": evaluate(model, validation),
                "test_error": evaluate(model, test),
                "further": [],
            }
            for lr, epochs in ARMS:
                further = copy.deepcopy(model)
                fine_tune(further, train, epochs=epochs, lr=lr, progress=False)
                entry["further"].append(
                    {
                        "lr": lr,
                        "epochs": epochs,
                        "validation_error": evaluate(further, validation),
                        "test_error": evaluate(further, test),
                    }
                )
            networks.append(entry)
            cells = "  ".join(
                f"{f['lr']}x{f['epochs']:.0f}: {100 * f['validation_error']:.2f}/"
                f"{100 * f['test_error']:.2f}"
                for f in entry["further"]
            )
            print(
                f"seed {seed} {params:7d} params: lineage {100 * entry['validation_error']:.2f}/"
                f"{100 * entry['test_error']:.2f}  further {cells}  (val/test %, "
                f"{time.perf_counter() - started:.0f} s)",
                flush=True,
            )
            write_json(config.output_dir, partial.stem, {"networks": networks})
    path = write_json(
        config.output_dir,
        name,
        {"dataset": dataset, "sizes": list(sizes), "arms": [list(a) for a in ARMS],
         "networks": networks},
    )  # fmt: skip
    partial.unlink(missing_ok=True)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
