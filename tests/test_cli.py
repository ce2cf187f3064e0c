"""The optuna-lemonade search command, end to end on digits."""

from __future__ import annotations

import pathlib

import optuna
import pytest

from optuna_lemonade.cli import main


def _run(tmp_path: pathlib.Path, *extra: str) -> int:
    return main(
        [
            "search",
            "--dataset",
            "digits",
            "--storage",
            f"sqlite:///{tmp_path / 's.db'}",
            "--checkpoint-dir",
            str(tmp_path / "ckpt"),
            "--plot",
            str(tmp_path / "front.png"),
            "--initial-epochs",
            "2",
            "--child-epochs",
            "1",
            "--quiet",
            *extra,
        ]
    )


def test_search_runs_and_continues(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(tmp_path, "--trials", "5") == 0
    out = capsys.readouterr().out
    assert "Pareto front" in out and "from scratch" in out
    assert (tmp_path / "front.png").stat().st_size > 0
    assert any((tmp_path / "ckpt").iterdir())
    assert _run(tmp_path, "--trials", "3", "--test") == 0
    out = capsys.readouterr().out
    assert "(5 trials so far)" in out and "test error" in out
    study = optuna.load_study(
        study_name="lemonade-digits", storage=f"sqlite:///{tmp_path / 's.db'}"
    )
    assert len(study.trials) == 8
    assert study.trials[-1].user_attrs["lemonade_parent"] is not None


def test_search_refuses_other_objectives_on_the_same_study(tmp_path: pathlib.Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert _run(tmp_path, "--trials", "1") == 0
    assert _run(tmp_path, "--trials", "1", "--objectives", "error,params,macs") == 2
    assert "Use another --study-name" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["search", "--dataset", "digits"],
        ["search", "--trials", "2", "--objectives", "params"],
        ["search", "--trials", "0"],
        ["search", "--trials", "1", "--dataset", "mnist"],
        ["search", "--minutes", "-1"],
        ["search", "--trials", "1", "--child-epochs", "0"],
        ["search", "--trials", "1", "--operators", "widen,fly"],
    ],
)
def test_bad_arguments(args: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2


def test_missing_data_set(tmp_path: pathlib.Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code = main(
        [
            "search",
            "--dataset",
            "cifar10",
            "--data-dir",
            str(tmp_path),
            "--trials",
            "1",
            "--storage",
            f"sqlite:///{tmp_path / 's.db'}",
        ]
    )
    assert code == 2
    assert "CIFAR-10 not found" in capsys.readouterr().err
