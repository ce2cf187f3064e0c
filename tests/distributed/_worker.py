"""A worker process for the distributed tests: ``python -m tests.distributed._worker``.

Trains small networks on synthetic data. With ``--hang-after K`` the worker, once the
study has K trials, writes the number of the next child trial it runs to ``--marker``
and sleeps in the middle of it, for the test to kill it.
"""

from __future__ import annotations

import argparse
import pathlib
import time
from typing import TYPE_CHECKING

import optuna
from optuna.artifacts import Boto3ArtifactStore
from optuna.artifacts import FileSystemArtifactStore
from optuna.storages import BaseStorage
from optuna.storages import JournalStorage
from optuna.storages import RDBStorage
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend
import torch

from optuna_lemonade import SearchSpace
from optuna_lemonade.sampler import LemonadeSampler
from tests.sampler.conftest import CLASSES
from tests.sampler.conftest import SHAPE


if TYPE_CHECKING:
    from optuna_lemonade._optuna_compat import ArtifactStore


def storage(args: argparse.Namespace) -> BaseStorage:
    if args.journal:
        return JournalStorage(JournalFileBackend(args.journal))
    if args.rdb_heartbeat:
        return RDBStorage(
            args.storage,
            heartbeat_interval=args.rdb_heartbeat,
            grace_period=args.rdb_grace,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
        )
    return RDBStorage(args.storage)


def artifact_store(args: argparse.Namespace) -> ArtifactStore:
    if args.bucket:
        from tests.s3.conftest import s3_client

        return Boto3ArtifactStore(args.bucket, client=s3_client(args.s3_endpoint))
    return FileSystemArtifactStore(args.artifacts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--storage", help="RDB URL")
    parser.add_argument("--journal", help="journal file")
    parser.add_argument("--artifacts", help="FileSystemArtifactStore folder")
    parser.add_argument("--s3-endpoint", help="an S3 API's URL (with --bucket)")
    parser.add_argument("--bucket", help="bucket of a Boto3ArtifactStore")
    parser.add_argument("--study", required=True)
    parser.add_argument("--trials", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--keep", default="all")
    parser.add_argument("--heartbeat", type=float, help="lemonade heartbeat interval")
    parser.add_argument("--grace", type=float, help="lemonade grace period")
    parser.add_argument("--rdb-heartbeat", type=int, help="Optuna RDB heartbeat interval")
    parser.add_argument("--rdb-grace", type=int, help="Optuna RDB grace period")
    parser.add_argument("--hang-after", type=int)
    parser.add_argument(
        "--trial-seconds", type=float, default=0.0, help="each trial lasts at least this"
    )
    parser.add_argument("--marker")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(1)
    space = SearchSpace(SHAPE, CLASSES, max_params=200_000, initial_widths=(4, 8, 16))
    sampler = LemonadeSampler(
        space,
        artifact_store=artifact_store(args),
        seed=args.seed,
        keep_checkpoints=args.keep,
        heartbeat_interval=args.heartbeat,
        grace_period=args.grace,
        heartbeat_stale_trial_callback=(
            RetryHeartbeatStaleTrialCallback(max_retry=1) if args.heartbeat else None
        ),
    )
    study = optuna.load_study(study_name=args.study, storage=storage(args), sampler=sampler)
    generator = torch.Generator().manual_seed(args.seed)
    x = torch.randn(96, *SHAPE, generator=generator)
    y = torch.randint(0, CLASSES, (96,), generator=generator)

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        child = sampler.child(trial)
        if (
            args.hang_after is not None
            and child.parent is not None
            and len(study.trials) >= args.hang_after
        ):
            pathlib.Path(args.marker).write_text(str(trial.number))
            time.sleep(600)  # killed here, in the middle of the trial
        started = time.monotonic()
        error = child.fit([(x, y)], [(x, y)], epochs=4, device="cpu")
        time.sleep(max(0.0, args.trial_seconds - (time.monotonic() - started)))
        return error, child.cheap_objectives["params"]

    study.optimize(objective, n_trials=args.trials)


if __name__ == "__main__":
    main()
