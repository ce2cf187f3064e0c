"""The sampler's own time per trial, as the study grows: LEMONADE against TPE and NSGA-II.

For each sampler, a history of finished trials is made once in memory (LEMONADE: its
own trials, with decisions and checkpoints of 1x28x28 networks; TPE and NSGA-II: random
points of the parametric CNN space of the search-efficiency benchmark), each with a
synthetic error that falls with the parameter count, and parameter count as second
objective. Then, for each study size (100, 1,000, 5,000 finished trials) and storage
(in-memory, SQLite), a fresh study gets that many trials of the history
(``add_trials``) and the sampler runs a few more trials, timed:

* LEMONADE: ``before_trial`` (selection, proposals, loading the parent's checkpoint)
  plus ``child()`` (the morphism on the weights). Saving the checkpoint is excluded.
  ``lemonade-retention`` runs with ``keep_checkpoints="population"`` on a copy of the
  checkpoints (its first decision deletes every one the population does not need, as
  the first decision of a resumed study would); ``lemonade-notes`` on a study with a
  dashboard note per trial.
* TPE, NSGA-II: ``ask()`` plus all ``suggest_*`` calls of the parametric space.

No training anywhere. Prints medians and writes JSON.
"""

from __future__ import annotations

import argparse
import copy
import os
import pathlib
import pickle
import shutil
import tempfile
import time
from typing import Any

from _common import RESULTS
from _common import synthetic_error
from _common import write_json
from _parametric import parametric_architecture
import numpy as np
import optuna
from optuna.artifacts import FileSystemArtifactStore
from optuna.trial import FrozenTrial
import torch

from optuna_lemonade import _optuna_compat as compat
from optuna_lemonade import count_params
from optuna_lemonade import SearchSpace
from optuna_lemonade.sampler import LemonadeSampler


SHAPE = (1, 28, 28)
STORAGES = ("memory", "sqlite", "postgresql")
SAMPLERS = ("lemonade", "lemonade-notes", "lemonade-retention", "tpe", "nsga2")
CLASSES = 10


class TimedLemonade(LemonadeSampler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.before: dict[int, float] = {}

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        start = time.perf_counter()
        super().before_trial(study, trial)
        self.before[trial.number] = time.perf_counter() - start


def lemonade_history(trials: int, directory: str, keep: str = "all") -> list[FrozenTrial]:
    sampler = LemonadeSampler(
        SearchSpace(SHAPE, CLASSES),
        artifact_store=FileSystemArtifactStore(directory),
        seed=0,
        keep_checkpoints=keep,  # type: ignore[arg-type]
    )
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        child = sampler.child(trial)
        child.save()
        params = child.cheap_objectives["params"]
        return synthetic_error(params, trial.number), params

    start = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    print(
        f"  LEMONADE history: {trials} trials in {time.perf_counter() - start:.0f} s", flush=True
    )
    return study.get_trials(deepcopy=False)


def kept_history(
    kept: pathlib.Path | None, trials: int, directory: str, keep: str = "all"
) -> list[FrozenTrial]:
    """The LEMONADE history with its checkpoints in ``directory``, from ``kept`` if there."""
    if kept is not None and (kept / f"history-{trials}.pkl").exists():
        shutil.copytree(kept / f"checkpoints-{trials}", directory)
        with open(kept / f"history-{trials}.pkl", "rb") as file:
            return pickle.load(file)  # written by this script, below
    os.mkdir(directory)
    history = lemonade_history(trials, directory, keep)
    if kept is not None:
        kept.mkdir(parents=True, exist_ok=True)
        shutil.copytree(directory, kept / f"checkpoints-{trials}")
        with open(kept / f"history-{trials}.pkl", "wb") as file:
            pickle.dump(history, file)
    return history


def parametric_history(trials: int) -> list[FrozenTrial]:
    study = optuna.create_study(
        directions=["minimize", "minimize"], sampler=optuna.samplers.RandomSampler(seed=0)
    )

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        params = count_params(parametric_architecture(trial, SHAPE, CLASSES))
        return synthetic_error(params, trial.number), params

    study.optimize(objective, n_trials=trials)
    return study.get_trials(deepcopy=False)


def add_dashboard_notes(study: optuna.Study) -> None:
    """Give every trial a dashboard note as the search command writes them.

    optuna-dashboard keeps notes in the study's system attributes (a version and the
    text per trial), which the sampler reads at every decision; a 600-character note,
    the size of a lineage note, stands for each. Written directly, not with
    ``save_note``, which reads all study system attributes per note (quadratic).
    """
    for trial in study.get_trials(deepcopy=False):
        key = f"dashboard:{compat.trial_id(trial)}"
        compat.set_study_system_attr(study, f"{key}:note_ver", 1)
        compat.set_study_system_attr(study, f"{key}:note_str:0", "x" * 600)


def measure(
    kind: str,
    history: list[FrozenTrial],
    size: int,
    storage_kind: str,
    repeats: int,
    directory: str,
) -> list[float]:
    storage = {
        "memory": None,
        "sqlite": f"sqlite:///{directory}/{kind}-{size}.db",
        "postgresql": os.environ.get("OPTUNA_LEMONADE_BENCH_POSTGRES"),
    }[storage_kind]
    if storage_kind == "postgresql" and storage is None:
        raise SystemExit("storage postgresql needs OPTUNA_LEMONADE_BENCH_POSTGRES=<url>")
    study = optuna.create_study(
        directions=["minimize", "minimize"],
        storage=storage,
        study_name=f"overhead-{kind}-{size}-{time.time_ns()}",
    )
    study.add_trials(copy.deepcopy(history[:size]))
    if kind == "lemonade-notes":
        add_dashboard_notes(study)
    times: list[float] = []
    if kind.startswith("lemonade"):
        checkpoints = f"{directory}/history"
        if kind == "lemonade-retention":  # it deletes checkpoints: give it a copy
            checkpoints = f"{directory}/copy-{storage_kind}-{size}"
            shutil.copytree(f"{directory}/history", checkpoints)
        sampler = TimedLemonade(
            SearchSpace(SHAPE, CLASSES),
            artifact_store=FileSystemArtifactStore(checkpoints),
            seed=1,
            keep_checkpoints="population" if kind == "lemonade-retention" else "all",
        )
        study.sampler = sampler
        for _ in range(repeats):
            trial = study.ask()
            start = time.perf_counter()
            child = sampler.child(trial)
            times.append(sampler.before[trial.number] + time.perf_counter() - start)
            child.save()
            params = child.cheap_objectives["params"]
            study.tell(trial, (synthetic_error(params, trial.number), params))
    else:
        study.sampler = (
            optuna.samplers.TPESampler(seed=1)
            if kind == "tpe"
            else optuna.samplers.NSGAIISampler(seed=1)
        )
        for _ in range(repeats):
            start = time.perf_counter()
            trial = study.ask()
            params = count_params(parametric_architecture(trial, SHAPE, CLASSES))
            times.append(time.perf_counter() - start)
            study.tell(trial, (synthetic_error(params, trial.number), params))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument(
        "--storages",
        default="memory,sqlite",
        help="of memory, sqlite, postgresql (URL in OPTUNA_LEMONADE_BENCH_POSTGRES)",
    )
    parser.add_argument(
        "--history",
        type=pathlib.Path,
        default=None,
        help="keep the LEMONADE history (trials and checkpoints) in this folder and reuse it",
    )
    parser.add_argument(
        "--history-checkpoints",
        choices=("all", "population"),
        default="all",
        help="'population' keeps only the final front's checkpoints of the LEMONADE history "
        "(about 2.5 MB each: 10,000 trials would need 25 GB, and a copy per retention run)",
    )
    parser.add_argument("--name", default=None, help="results file name (default from --quick)")
    parser.add_argument(
        "--samplers",
        default="lemonade,tpe,nsga2",
        help="of lemonade, lemonade-notes (a study with a dashboard note per trial), "
        "lemonade-retention (keep_checkpoints='population'), tpe, nsga2",
    )
    parser.add_argument("--repeats", type=int, default=15, help="timed trials per setting")
    parser.add_argument(
        "--warmup", type=int, default=0, help="untimed trials first (a worker's first decisions)"
    )
    parser.add_argument("--quick", action="store_true", help="sizes 30 and 100, 5 repeats")
    parser.add_argument("--output-dir", type=pathlib.Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.repeats = "30,100", 5
    sizes = [int(s) for s in args.sizes.split(",")]
    storages = args.storages.split(",")
    samplers = args.samplers.split(",")
    for given, known, option in (
        (storages, STORAGES, "--storages"),
        (samplers, SAMPLERS, "--samplers"),
    ):
        unknown = sorted(set(given) - set(known))
        if unknown:
            parser.error(f"{option}: unknown {', '.join(unknown)}; choose from {', '.join(known)}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(1)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as directory:
        histories = {}
        lemonades = {"lemonade", "lemonade-notes", "lemonade-retention"}
        if lemonades & set(samplers):
            history = kept_history(
                args.history, max(sizes), f"{directory}/history", args.history_checkpoints
            )
            histories |= dict.fromkeys(lemonades, history)
        if {"tpe", "nsga2"} & set(samplers):
            parametric = parametric_history(max(sizes))
            histories |= {"tpe": parametric, "nsga2": parametric}
        for storage_kind in storages:
            for size in sizes:
                for kind in samplers:
                    times = measure(
                        kind,
                        histories[kind],
                        size,
                        storage_kind,
                        args.warmup + args.repeats,
                        directory,
                    )[args.warmup :]
                    result = {
                        "sampler": kind,
                        "storage": storage_kind,
                        "finished_trials": size,
                        "median_ms": 1e3 * float(np.median(times)),
                        "times_ms": [1e3 * t for t in times],
                    }
                    results.append(result)
                    print(
                        f"{storage_kind:7} {size:5d} finished  {kind:9} median "
                        f"{result['median_ms']:8.1f} ms per trial",
                        flush=True,
                    )
    print(f"\n{'storage':8} {'finished':>8} " + " ".join(f"{k:>12}" for k in samplers))
    for storage_kind in storages:
        for size in sizes:
            cells = [
                next(
                    r["median_ms"]
                    for r in results
                    if r["sampler"] == k
                    and r["storage"] == storage_kind
                    and r["finished_trials"] == size
                )
                for k in samplers
            ]
            print(f"{storage_kind:8} {size:8d} " + " ".join(f"{c:10.1f}ms" for c in cells))
    name = args.name or "sampler_overhead" + ("_quick" if args.quick else "")
    write_json(
        args.output_dir,
        name,
        {
            "what": "sampler time per trial (LEMONADE: before_trial + child(); TPE/NSGA-II: "
            "ask + suggest), median over repeats, no training",
            "repeats": args.repeats,
            "warmup": args.warmup,
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
