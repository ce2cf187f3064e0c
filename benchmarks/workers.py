"""Throughput and front quality of the search command against workers and threads.

Runs ``optuna-lemonade search`` as a user runs it (a subprocess) on a fresh SQLite study
for each configuration (``--workers`` x ``--threads``) and seed, one after another with
nothing else running, on the same data and budget. From the study: the networks
completed within the budget (counted from the command's start, data loading and worker
start-up included), both hypervolumes of the search benchmark and the best validation
error under each parameter cap. Saves after every run; ``--resume`` skips the runs
already saved.
"""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import subprocess
import tempfile
import time
from typing import Any

from _common import RESULTS
from _common import search_command
from _common import write_json
from _search_summary import hypervolume
from _search_summary import SIZE_CAPS
from _search_summary import useful_hypervolume
import optuna
from optuna.trial import TrialState

from optuna_lemonade.cli._workers import cores


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="budget of each run")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (default: 0)")
    parser.add_argument(
        "--configs",
        default="1x2,1x1,2x1",
        help="comma-separated WORKERSxTHREADS (default: 1x2,1x1,2x1: one process with both "
        "cores' threads, one with one thread, two with one thread each)",
    )
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--train-size", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="digits, 0.5 min, 1x1 and 2x1")
    parser.add_argument("--resume", action="store_true", help="skip the runs already saved")
    parser.add_argument("--output-dir", type=pathlib.Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.minutes, args.dataset, args.train_size, args.configs = 0.5, "digits", 600, "1x1,2x1"
    return args


def configs(text: str) -> list[tuple[int, int]]:
    result = []
    for item in text.split(","):
        workers, _, threads = item.strip().partition("x")
        result.append((int(workers), int(threads)))
    return result


def run(
    args: argparse.Namespace, workers: int, threads: int, seed: int, directory: pathlib.Path
) -> dict[str, Any]:
    command, storage = search_command(
        directory,
        *("--dataset", args.dataset, "--train-size", str(args.train_size)),
        *("--minutes", str(args.minutes), "--workers", str(workers)),
        *("--threads", str(threads), "--seed", str(seed), "--no-dashboard"),
    )
    started = datetime.datetime.now()
    clock = time.perf_counter()
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - clock
    if finished.returncode != 0:
        raise SystemExit(
            f"{' '.join(command[2:])} exited {finished.returncode}:\n{finished.stderr}"
        )
    study = optuna.load_study(study_name=f"lemonade-{args.dataset}", storage=storage)
    budget = started + datetime.timedelta(minutes=args.minutes)
    trials = [
        t
        for t in study.get_trials(states=(TrialState.COMPLETE,))
        if t.datetime_complete is not None and t.datetime_complete <= budget
    ]
    values = [list(t.values) for t in trials]
    objectives = ["error", "params"]
    best = {}
    for cap_name, cap in SIZE_CAPS.items():
        fitting = [v[0] for v in values if v[1] <= cap]
        best[cap_name] = min(fitting) if fitting else None
    return {
        "workers": workers,
        "threads": threads,
        "seed": seed,
        "networks": len(trials),
        "trials_failed": sum(t.state == TrialState.FAIL for t in study.trials),
        "hypervolume": hypervolume(values, objectives),
        "useful_hypervolume": useful_hypervolume(values, objectives),
        "best_validation_error": best,
        "wall_seconds": wall,
    }


def report(results: dict[str, Any]) -> None:
    runs = results["runs"]
    print(
        f"\n{results['dataset']} ({results['train_size']} training images), "
        f"{results['minutes']:g} min per run, {results['cores']} cores"
    )
    print("config       seed  networks  vs 1 worker  HV     useful  <=10k   <=25k   <=100k  any")
    for r in runs:
        same_seed = [
            o for o in runs if o["seed"] == r["seed"] and o["workers"] == 1 and o["threads"] > 1
        ] or [o for o in runs if o["seed"] == r["seed"] and o["workers"] == 1]
        ratio = r["networks"] / same_seed[0]["networks"] if same_seed else float("nan")
        cells = [
            "  -   "
            if r["best_validation_error"][cap] is None
            else f"{100 * r['best_validation_error'][cap]:5.1f} "
            for cap in ("10k", "25k", "100k", "any")
        ]
        print(
            f"{r['workers']} x {r['threads']} thr   {r['seed']:4d}  {r['networks']:8d}  "
            f"{ratio:10.2f}x  {r['hypervolume']:.3f}  {r['useful_hypervolume']:.3f}  "
            + "  ".join(cells)
        )


def main() -> None:
    args = parse_args()
    name = "workers_quick" if args.quick else "workers"
    path = args.output_dir / f"{name}.json"
    results: dict[str, Any] = {
        "dataset": args.dataset,
        "train_size": args.train_size,
        "minutes": args.minutes,
        "cores": cores(),
        "runs": [],
    }
    if args.resume and path.exists():
        results["runs"] = json.loads(path.read_text())["runs"]
    done = {(r["workers"], r["threads"], r["seed"]) for r in results["runs"]}
    for seed in (int(s) for s in args.seeds.split(",")):
        for workers, threads in configs(args.configs):
            if (workers, threads, seed) in done:
                continue
            print(f"seed {seed}: {workers} worker(s) x {threads} thread(s) ...", flush=True)
            with tempfile.TemporaryDirectory(prefix="lemonade-workers-") as directory:
                outcome = run(args, workers, threads, seed, pathlib.Path(directory))
            results["runs"].append(outcome)
            results["date"] = datetime.date.today().isoformat()
            write_json(args.output_dir, name, results)  # after every run
            print(f"  {outcome['networks']} networks, HV {outcome['hypervolume']:.3f}")
    report(results)
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
