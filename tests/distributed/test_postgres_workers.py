"""Three processes share a PostgreSQL RDBStorage and a FileSystemArtifactStore.

Runs when ``OPTUNA_LEMONADE_TEST_POSTGRES`` holds a PostgreSQL URL (``.ci/run`` starts
a server on loopback and sets it, with ``OPTUNA_LEMONADE_REQUIRE_POSTGRES=1`` so that
the test cannot be skipped there).
"""

from __future__ import annotations

import pathlib

import optuna
from optuna.trial import TrialState
import pytest

from tests.distributed.conftest import check_lineage
from tests.distributed.conftest import decisions
from tests.distributed.conftest import finish
from tests.distributed.conftest import start_worker
from tests.distributed.conftest import unique_name


pytestmark = [pytest.mark.distributed, pytest.mark.slow]


def test_three_processes_on_postgres(tmp_path: pathlib.Path, space, postgres_url: str) -> None:
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    name = unique_name()
    optuna.create_study(study_name=name, storage=postgres_url, directions=["minimize", "minimize"])
    try:
        finish(
            [
                start_worker(
                    "--storage",
                    postgres_url,
                    "--artifacts",
                    str(artifacts),
                    "--study",
                    name,
                    "--trials",
                    "8",
                    "--seed",
                    str(seed),
                )
                for seed in (1, 2, 3)
            ]
        )
        study = optuna.load_study(study_name=name, storage=postgres_url)
        assert len(study.trials) == 24
        assert all(t.state == TrialState.COMPLETE for t in study.trials)
        check_lineage(study, artifacts, space.initial_architectures())
        assert sum(d.kind == "child" for d in decisions(study.trials).values()) == 21
    finally:
        optuna.delete_study(study_name=name, storage=postgres_url)
