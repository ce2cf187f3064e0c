"""The sampler's own time per trial: before_trial through child(), no training.

The objective builds the child (loading its parent's checkpoint and applying the
morphism), saves it as the trial's checkpoint, and returns a synthetic error that
falls with the network's size, so that the Pareto front keeps changing as in a real
search. Timed per trial: ``before_trial`` (selection, proposals, loading the parent)
plus ``child()`` (the morphism on the weights). Saving the checkpoint is reported
separately. Prints medians per block of trials and writes JSON to the output directory.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import tempfile
import time
from typing import Any

from _common import RESULTS
from _common import synthetic_error
from _common import write_json
import numpy as np
import optuna
from optuna.artifacts import FileSystemArtifactStore
from optuna.trial import FrozenTrial
import torch

from optuna_lemonade import SearchSpace
from optuna_lemonade.sampler import LemonadeSampler


class TimedSampler(LemonadeSampler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.before: dict[int, float] = {}

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        start = time.perf_counter()
        super().before_trial(study, trial)
        self.before[trial.number] = time.perf_counter() - start


def run(trials: int, storage_kind: str, shape: tuple[int, int, int], directory: str) -> dict:
    space = SearchSpace(shape, 10)
    sampler = TimedSampler(space, artifact_store=FileSystemArtifactStore(directory), seed=0)
    storage = None if storage_kind == "memory" else f"sqlite:///{directory}/study.db"
    study = optuna.create_study(
        directions=["minimize", "minimize"], sampler=sampler, storage=storage
    )
    child_time: dict[int, float] = {}
    save_time: dict[int, float] = {}

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        start = time.perf_counter()
        child = sampler.child(trial)
        child_time[trial.number] = time.perf_counter() - start
        start = time.perf_counter()
        child.save()
        save_time[trial.number] = time.perf_counter() - start
        params = child.cheap_objectives["params"]
        return synthetic_error(params, trial.number), params

    start = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    total = time.perf_counter() - start
    per_trial = [sampler.before[n] + child_time[n] for n in range(trials)]
    blocks = {}
    size = max(1, trials // 5)
    for begin in range(0, trials, size):
        chunk = per_trial[begin : begin + size]
        blocks[f"{begin}-{begin + len(chunk) - 1}"] = float(np.median(chunk))
    return {
        "storage": storage_kind,
        "trials": trials,
        "median_ms": 1e3 * float(np.median(per_trial)),
        "median_ms_by_block": {k: 1e3 * v for k, v in blocks.items()},
        "median_save_ms": 1e3 * float(np.median(list(save_time.values()))),
        "population_at_end": len(sampler.population(study)),
        "largest_network_nodes": max(len(sampler.decision(t).architecture) for t in study.trials),
        "total_s": total,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--storages", default="memory,sqlite")
    parser.add_argument("--quick", action="store_true", help="30 trials")
    parser.add_argument("--output-dir", type=pathlib.Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.trials = 30
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(1)
    results = []
    for kind in args.storages.split(","):
        with tempfile.TemporaryDirectory() as directory:
            result = run(args.trials, kind, (1, 28, 28), directory)
        results.append(result)
        print(
            f"{kind:7} {args.trials} trials: median {result['median_ms']:.1f} ms per trial "
            f"(before_trial + child), by block {json.dumps(result['median_ms_by_block'])}, "
            f"save {result['median_save_ms']:.1f} ms, population {result['population_at_end']}"
        )
    name = "sampler_overhead" + ("_quick" if args.quick else "")
    write_json(args.output_dir, name, {"results": results})


if __name__ == "__main__":
    main()
