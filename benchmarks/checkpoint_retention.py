"""Disk used by checkpoints over a search, keeping all of them or only the population's.

Runs the same seeded 200-trial study twice (``keep_checkpoints="all"`` and
``"population"``) with Fashion-MNIST-sized networks (1x28x28, 10 classes) and a
synthetic objective (no training: an error that falls with the parameter count, plus
noise), so that the front and the population evolve as in a search. Measures the bytes
in the artifact directory after every trial. Prints a summary and writes JSON and a PNG.
"""

from __future__ import annotations

import argparse
import pathlib
import tempfile
import time

from _common import RESULTS
from _common import synthetic_error
from _common import write_json
import numpy as np
import optuna
from optuna.artifacts import FileSystemArtifactStore

from optuna_lemonade import SearchSpace
from optuna_lemonade.sampler import LemonadeSampler


def run(trials: int, keep: str, directory: pathlib.Path) -> dict:
    sampler = LemonadeSampler(
        SearchSpace((1, 28, 28), 10),
        artifact_store=FileSystemArtifactStore(str(directory)),
        seed=0,
        keep_checkpoints=keep,
    )
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    disk: list[int] = []
    population: list[int] = []

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        child = sampler.child(trial)
        child.save()
        params = child.cheap_objectives["params"]
        return synthetic_error(params, trial.number), params

    def measure(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        disk.append(sum(p.stat().st_size for p in directory.iterdir()))
        population.append(len(sampler.population(study)))

    start = time.perf_counter()
    study.optimize(objective, n_trials=trials, callbacks=[measure])
    return {
        "keep_checkpoints": keep,
        "trials": trials,
        "bytes_after_each_trial": disk,
        "population_after_each_trial": population,
        "final_mb": disk[-1] / 1e6,
        "peak_mb": max(disk) / 1e6,
        "files_at_end": len(list(directory.iterdir())),
        "seconds": time.perf_counter() - start,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="30 trials")
    parser.add_argument("--output-dir", type=pathlib.Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.trials = 30
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    results = []
    for keep in ("all", "population"):
        with tempfile.TemporaryDirectory() as directory:
            result = run(args.trials, keep, pathlib.Path(directory))
        results.append(result)
        print(
            f"keep_checkpoints={keep!r:13} {args.trials} trials: {result['final_mb']:.1f} MB in "
            f"{result['files_at_end']} files at the end, peak {result['peak_mb']:.1f} MB, "
            f"population {result['population_after_each_trial'][-1]}"
        )
    name = "checkpoint_retention" + ("_quick" if args.quick else "")
    write_json(args.output_dir, name, {"results": results})
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    for result in results:
        mb = np.array(result["bytes_after_each_trial"]) / 1e6
        ax.plot(
            np.arange(1, len(mb) + 1), mb, label=f"keep_checkpoints={result['keep_checkpoints']!r}"
        )
    ax.set_xlabel("trials")
    ax.set_ylabel("checkpoints on disk (MB)")
    ax.set_title("Disk use of checkpoints, 1x28x28 networks, seed 0")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.output_dir / f"{name}.png", dpi=120)


if __name__ == "__main__":
    main()
