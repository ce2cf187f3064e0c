"""A worker process for the multi-process tests: python -m tests.sampler._worker."""

from __future__ import annotations

import argparse

import optuna
from optuna.artifacts import FileSystemArtifactStore
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
import torch

from optuna_lemonade import SearchSpace
from optuna_lemonade.sampler import LemonadeSampler
from tests.sampler.conftest import CLASSES
from tests.sampler.conftest import make_objective
from tests.sampler.conftest import SHAPE


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--journal", required=True)
    parser.add_argument("--artifacts", required=True)
    parser.add_argument("--study", required=True)
    parser.add_argument("--trials", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(1)
    space = SearchSpace(SHAPE, CLASSES, max_params=200_000, initial_widths=(4, 8, 16))
    sampler = LemonadeSampler(
        space, artifact_store=FileSystemArtifactStore(args.artifacts), seed=args.seed
    )
    storage = JournalStorage(JournalFileBackend(args.journal))
    study = optuna.load_study(study_name=args.study, storage=storage, sampler=sampler)
    generator = torch.Generator().manual_seed(args.seed)
    x = torch.randn(96, *SHAPE, generator=generator)
    y = torch.randint(0, CLASSES, (96,), generator=generator)
    study.optimize(make_objective(sampler, (x, y)), n_trials=args.trials)


if __name__ == "__main__":
    main()
