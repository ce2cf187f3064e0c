"""One worker of the chaos run (``chaos.py`` starts and kills these).

Searches small networks on scikit-learn's digits (offline), one trial at a time, with
retention on and heartbeats with retries of dead workers' trials, until the stop file
appears. Run by the controller; arguments as in :func:`main`.
"""

from __future__ import annotations

import argparse
import pathlib
from typing import Any
import warnings

import optuna
from optuna.artifacts import FileSystemArtifactStore
from optuna.exceptions import ExperimentalWarning
from optuna.storages import BaseStorage
from optuna.storages import JournalStorage
from optuna.storages import RDBStorage
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend
import torch

from optuna_lemonade import SearchSpace
from optuna_lemonade.checkpoints import CheckpointError
from optuna_lemonade.sampler import LemonadeSampler
from optuna_lemonade.training import load_dataset


HEARTBEAT = 1  # seconds between heartbeats
# Seconds of silence after which a RUNNING trial counts as dead. On a journal file it
# must exceed the journal lock's own grace period (30 s): a worker killed while holding
# the lock makes every worker wait that long, heartbeats included.
GRACE = {"postgresql": 5, "journal": 40}
MAX_RETRY = 3  # retries of a dead worker's trial


def search_space() -> tuple[SearchSpace, Any]:
    """The search space and data (600 training images of digits) of every worker."""
    data = load_dataset("digits", train_size=600)
    return SearchSpace(data.input_shape, data.num_classes, max_params=50_000), data


def storage(args: argparse.Namespace) -> BaseStorage:
    """PostgreSQL with Optuna's own heartbeats, or a journal file (the sampler's)."""
    if args.journal:
        return JournalStorage(JournalFileBackend(args.journal))
    return RDBStorage(
        args.storage,
        heartbeat_interval=HEARTBEAT,
        grace_period=GRACE["postgresql"],
        heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY),
    )


def sampler(args: argparse.Namespace, space: SearchSpace) -> LemonadeSampler:
    journal = bool(args.journal)  # the sampler's heartbeats only where Optuna has none
    return LemonadeSampler(
        space,
        artifact_store=FileSystemArtifactStore(args.artifacts),
        seed=args.seed,
        keep_checkpoints="population",
        heartbeat_interval=HEARTBEAT if journal else None,
        grace_period=GRACE["journal"] if journal else None,
        heartbeat_stale_trial_callback=(
            RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY) if journal else None
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--storage", help="RDB URL")
    parser.add_argument("--journal", help="journal file")
    parser.add_argument("--artifacts", required=True)
    parser.add_argument("--study", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--stop-file", type=pathlib.Path, required=True)
    parser.add_argument("--trials", type=int, help="run this many trials, then stop")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=ExperimentalWarning)  # Optuna's heartbeats
    torch.set_num_threads(1)
    space, data = search_space()
    train, validation, _ = data.loaders(batch_size=64)
    lemonade = sampler(args, space)
    study = optuna.load_study(study_name=args.study, storage=storage(args), sampler=lemonade)

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        child = lemonade.child(trial)
        error = child.fit(train, validation, epochs=1, scale_epochs=False, device="cpu")
        return error, child.cheap_objectives["params"]

    done = 0
    while not args.stop_file.exists() and (args.trials is None or done < args.trials):
        # A failed save fails the trial, not the worker (as the search command does).
        study.optimize(objective, n_trials=1, catch=(CheckpointError,))
        done += 1


if __name__ == "__main__":
    main()
