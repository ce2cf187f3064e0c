"""The first minute of many workers: compute spent training a network twice, before and
after a change of the sampler.

Starts ``--workers`` worker processes at once on a fresh SQLite study (the same small
worker script for every version: scikit-learn's digits, initial networks trained 10
epochs, children 2, each worker ``--trials`` trials), once with this checkout's
sampler and once with the sampler of ``--before`` (a git revision, checked out in a
temporary worktree). Counts, from the study, the networks trained from scratch whose
architecture another trial had already trained or was training, and the seconds spent
on them. Exits 1 if this checkout's sampler trained a network twice.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
from typing import Any

from _common import RESULTS
from _common import write_json
import optuna


ROOT = pathlib.Path(__file__).resolve().parents[1]

WORKER = """
import sys
import optuna
from optuna.artifacts import FileSystemArtifactStore
from optuna_lemonade import LemonadeSampler, SearchSpace
from optuna_lemonade.training import load_dataset

storage, artifacts, start, trials = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
data = load_dataset("digits")
train, validation, _ = data.loaders(batch_size=32)
store = FileSystemArtifactStore(artifacts)
sampler = LemonadeSampler(SearchSpace(data.input_shape, data.num_classes), artifact_store=store)
study = optuna.load_study(study_name="startup", storage=storage, sampler=sampler)
import time
time.sleep(max(0.0, start - time.time()))  # every worker asks for its first trial at once


def objective(trial):
    child = sampler.child(trial)
    error = child.fit(train, validation, epochs=10 if child.parent is None else 2)
    return error, child.cheap_objectives["params"]


study.optimize(objective, n_trials=trials)
"""


def run(code: pathlib.Path, workers: int, trials: int, directory: pathlib.Path) -> dict[str, Any]:
    storage = f"sqlite:///{directory / 'study.db'}"
    engine = {"connect_args": {"timeout": 60}}
    optuna.create_study(
        study_name="startup",
        storage=optuna.storages.RDBStorage(storage, engine_kwargs=engine),
        directions=["minimize", "minimize"],
    )
    (directory / "artifacts").mkdir()
    script = directory / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "PYTHONPATH": str(code), "OMP_NUM_THREADS": "1"}
    start = time.time() + 10 + workers  # after every worker has imported torch
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                str(script),
                storage,
                str(directory / "artifacts"),
                str(start),
                str(trials),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    for process in processes:
        _, err = process.communicate(timeout=1200)
        if process.returncode != 0:
            raise SystemExit(f"a worker failed:\n{err[-2000:]}")
    study = optuna.load_study(study_name="startup", storage=storage)
    scratch: dict[str, list[optuna.trial.FrozenTrial]] = collections.defaultdict(list)
    for trial in study.trials:
        decision = trial.system_attrs.get("lemonade:decision")
        if decision is not None and decision["parent"] is None:
            scratch[json.dumps(decision["architecture"], sort_keys=True)].append(trial)
    twice = [t for group in scratch.values() for t in sorted(group, key=lambda t: t.number)[1:]]

    def seconds(trial: optuna.trial.FrozenTrial) -> float:
        assert trial.datetime_start is not None and trial.datetime_complete is not None
        return (trial.datetime_complete - trial.datetime_start).total_seconds()

    complete = [t for t in study.trials if t.datetime_complete is not None]
    return {
        "workers": workers,
        "trials": len(study.trials),
        "from_scratch": sum(len(group) for group in scratch.values()),
        "architectures_from_scratch": len(scratch),
        "trained_twice": len(twice),
        "seconds_trained_twice": sum(seconds(t) for t in twice),
        "seconds_in_all": sum(seconds(t) for t in complete),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="5820072", help="the revision to compare with")
    parser.add_argument("--workers", default="4,8", help="comma-separated worker counts")
    parser.add_argument("--trials", type=int, default=3, help="trials per worker")
    parser.add_argument("--quick", action="store_true", help="4 workers, 2 trials each")
    parser.add_argument("--output-dir", type=pathlib.Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.workers, args.trials = "4", 2
    results: dict[str, Any] = {
        "before": args.before,
        "trials_per_worker": args.trials,
        "date": datetime.date.today().isoformat(),
        "runs": [],
    }
    with tempfile.TemporaryDirectory(prefix="lemonade-startup-") as temp:
        before = pathlib.Path(temp) / "before"
        added = subprocess.run(
            ["git", "worktree", "add", "--detach", str(before), args.before],
            cwd=ROOT,
            check=False,
            capture_output=True,
            text=True,
        )
        versions = [("before", before), ("after", ROOT)]
        if added.returncode != 0:  # e.g. a shallow clone without that revision
            print(
                f"--before {args.before}: not checked out ({added.stderr.strip()}); "
                "this checkout only",
                flush=True,
            )
            versions = versions[1:]
        try:
            for workers in (int(w) for w in args.workers.split(",")):
                for version, code in versions:
                    with tempfile.TemporaryDirectory(dir=temp) as directory:
                        outcome = run(code, workers, args.trials, pathlib.Path(directory))
                    results["runs"].append({"version": version, **outcome})
                    print(
                        f"{workers} workers, {version}: {outcome['from_scratch']} networks from "
                        f"scratch ({outcome['architectures_from_scratch']} architectures), "
                        f"{outcome['trained_twice']} trained twice: "
                        f"{outcome['seconds_trained_twice']:.0f} s of "
                        f"{outcome['seconds_in_all']:.0f} s of training",
                        flush=True,
                    )
                    write_json(
                        args.output_dir, "startup" + ("_quick" if args.quick else ""), results
                    )
        finally:
            if added.returncode == 0:
                subprocess.run(
                    ["git", "worktree", "remove", "--force", str(before)], cwd=ROOT, check=False
                )
    if any(r["version"] == "after" and r["trained_twice"] for r in results["runs"]):
        sys.exit(1)  # this checkout trained a network twice at start-up


if __name__ == "__main__":
    main()
