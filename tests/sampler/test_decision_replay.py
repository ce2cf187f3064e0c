"""The same seed gives the same decisions as recorded: refactors must keep the search.

``tests/sampler/data/decision_replay.json`` was recorded before the sampler was split
into modules (issue 10); the scenarios with cuts by size and with the largest initial
network's child first when they became options (issue 12). Every scenario names its
options, so that a change of the defaults leaves them as recorded. To record again
after a change that is meant to alter the decisions, run
``OPTUNA_LEMONADE_RECORD_DECISIONS=1 python -m pytest
tests/sampler/test_decision_replay.py`` and say why in the commit.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
from typing import Any

import numpy as np
import optuna
from optuna.artifacts import FileSystemArtifactStore
import pytest

from optuna_lemonade import SearchSpace
from optuna_lemonade.sampler import LemonadeSampler
from tests.sampler.conftest import CLASSES
from tests.sampler.conftest import SHAPE


RECORD = pathlib.Path(__file__).parent / "data" / "decision_replay.json"
SCENARIOS: dict[str, dict[str, Any]] = {
    # Recorded before cuts by size existed: uniform, still the default (issue 12).
    "defaults-seed0": {"seed": 0, "cheap": ("params",), "keep": "all", "cut": "uniform"},
    "macs-population-seed1": {
        "seed": 1,
        "cheap": ("params", "macs"),
        "keep": "population",
        "cut": "uniform",
    },
    "cuts-by-size-below-median-seed2": {
        "seed": 2,
        "cheap": ("params",),
        "keep": "all",
        "cut": "by_size_below_median",
    },
    # Recorded when largest_initial_first became an option (issue 12).
    "largest-initial-first-seed3": {
        "seed": 3,
        "cheap": ("params",),
        "keep": "all",
        "cut": "by_size_below_median",
        "first": True,
    },
}
N_TRIALS = 40


def _replay(name: str, tmp_path: pathlib.Path) -> list[dict[str, Any]]:
    options = SCENARIOS[name]
    store = tmp_path / "artifacts"
    store.mkdir()
    sampler = LemonadeSampler(
        SearchSpace(SHAPE, CLASSES, max_params=200_000, initial_widths=(4, 8, 16)),
        cheap_objectives=options["cheap"],
        artifact_store=FileSystemArtifactStore(store),
        keep_checkpoints=options["keep"],
        cut_placement=options["cut"],
        largest_initial_first=options.get("first", False),
        seed=options["seed"],
    )
    study = optuna.create_study(directions=["minimize"] * 3, sampler=sampler)

    def objective(trial: optuna.Trial) -> tuple[float, float, float]:
        # No training: a synthetic error that falls with size, with seeded noise.
        child = sampler.child(trial)
        child.save()
        params = child.cheap_objectives["params"]
        noise = np.random.default_rng(trial.number).random()
        error = (1.0 + 0.3 * noise) / (1.0 + np.log10(params))
        return float(error), params, float(trial.number % 7)

    study.optimize(objective, n_trials=N_TRIALS)
    rows = []
    for trial in study.trials:
        decision = sampler.decision(trial)
        assert decision is not None
        rows.append(
            {
                "number": trial.number,
                "kind": decision.kind,
                "parent": decision.parent,
                "mutation": None if decision.mutation is None else decision.mutation.to_dict(),
                "seed": decision.seed,
                "architecture": hashlib.sha256(
                    decision.architecture.to_json().encode()
                ).hexdigest(),
                "cheap_objectives": decision.cheap_objectives,
            }
        )
    return rows


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_seed_same_decisions_as_recorded(name: str, tmp_path: pathlib.Path) -> None:
    rows = json.loads(json.dumps(_replay(name, tmp_path)))  # tuples -> lists, as recorded
    if os.environ.get("OPTUNA_LEMONADE_RECORD_DECISIONS") == "1":
        recorded = json.loads(RECORD.read_text()) if RECORD.exists() else {}
        recorded[name] = rows
        RECORD.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
        pytest.skip("recorded")
    recorded = json.loads(RECORD.read_text())[name]
    assert len(rows) == len(recorded) == N_TRIALS
    for row, expected in zip(rows, recorded, strict=True):
        assert row == expected, f"trial {row['number']} decided differently"
    kinds = {row["kind"] for row in rows}
    assert "child" in kinds  # the replay exercises proposal, not only initial networks
    operators = {row["mutation"]["operator"] for row in rows if row["mutation"]}
    assert len(operators) >= 4
