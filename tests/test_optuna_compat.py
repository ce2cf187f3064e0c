"""The private-API shims of ``optuna_lemonade._optuna_compat`` on every kind of storage."""

from __future__ import annotations

import pathlib

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages.journal import JournalFileBackend
import pytest

from optuna_lemonade import _optuna_compat as compat


def _storages(tmp_path: pathlib.Path) -> dict[str, optuna.storages.BaseStorage | str | None]:
    return {
        "memory": None,
        "sqlite": f"sqlite:///{tmp_path / 'study.db'}",
        "journal": optuna.storages.JournalStorage(
            JournalFileBackend(str(tmp_path / "journal.log"))
        ),
    }


@pytest.mark.parametrize("kind", ["memory", "sqlite", "journal"])
def test_set_trial_attrs_writes_every_attribute(kind: str, tmp_path: pathlib.Path) -> None:
    study = optuna.create_study(storage=_storages(tmp_path)[kind])
    trial = study.ask()
    compat.set_trial_attrs(
        compat.storage(study),
        trial,
        system={"a": {"nested": [1, 2]}, "b": None},
        user={"c": "text", "d": 3},
    )
    stored = study.trials[0]
    assert stored.system_attrs["a"] == {"nested": [1, 2]} and stored.system_attrs["b"] is None
    assert stored.user_attrs == {"c": "text", "d": 3}


@pytest.mark.parametrize("kind", ["memory", "sqlite", "journal"])
def test_set_trial_attrs_refuses_a_finished_trial(kind: str, tmp_path: pathlib.Path) -> None:
    study = optuna.create_study(storage=_storages(tmp_path)[kind])
    trial = study.ask()
    study.tell(trial, 1.0)
    with pytest.raises(UpdateFinishedTrialError):
        compat.set_trial_attrs(compat.storage(study), trial, system={"a": 1}, user={"b": 2})
    assert study.trials[0].user_attrs == {}
    assert "a" not in study.trials[0].system_attrs
