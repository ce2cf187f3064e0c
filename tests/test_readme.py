"""README's code runs as written: Python blocks, worker scripts, and command lines."""

from __future__ import annotations

import configparser
import pathlib
import re
import shlex
import subprocess
import sys
import uuid

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState
import pytest

from optuna_lemonade import build_model
from optuna_lemonade import SearchSpace
from optuna_lemonade.checkpoints import to_bytes
from optuna_lemonade.cli._arguments import check_options
from optuna_lemonade.cli._arguments import parsers
from tests.conftest import subprocess_env
from tests.distributed.conftest import postgres_url  # noqa: F401  (a fixture)


ROOT = pathlib.Path(__file__).parents[1]
README = ROOT / "README.md"
SCRIPT_MARK = "<!-- readme-test: run as a script in two processes at once"
BLOCK = re.compile(r"(<!-- readme-test:[^\n]*-->\n)?```(\w+)\n(.*?)```", flags=re.DOTALL)


def _blocks(language: str) -> list[tuple[str, str]]:
    """(marker comment or "", code) of README's blocks in ``language``."""
    return [
        (mark, code) for mark, lang, code in BLOCK.findall(README.read_text()) if lang == language
    ]


def _inline_blocks() -> list[str]:
    return [code for mark, code in _blocks("python") if not mark.startswith(SCRIPT_MARK)]


def _script_blocks() -> list[str]:
    return [code for mark, code in _blocks("python") if mark.startswith(SCRIPT_MARK)]


def test_readme_has_its_blocks() -> None:
    assert len(_inline_blocks()) >= 2
    scripts = _script_blocks()
    assert len(scripts) == 2
    assert "JournalFileBackend" in scripts[0] and "RDBStorage" in scripts[1]


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_every_function_a_block_defines_is_used(index: int) -> None:
    code = _blocks("python")[index][1]
    for name in re.findall(r"^def (\w+)\(", code, flags=re.MULTILINE):
        uses = re.findall(rf"\b{name}\b", code)
        assert len(uses) >= 2, f"README defines {name}() and never calls or passes it"


@pytest.mark.parametrize("index", range(len(_inline_blocks())))
def test_readme_python_blocks_run(
    index: int, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the examples write checkpoints and studies
    code = _inline_blocks()[index]
    if "trial-12.pt" in code:  # a checkpoint downloaded from the dashboard, as users have
        model = build_model(SearchSpace((1, 28, 28), 10).initial_architectures()[0], seed=0)
        (tmp_path / "trial-12.pt").write_bytes(to_bytes(model.architecture, model))
    exec(compile(code, str(README), "exec"), {"__name__": "readme"})


def _run_twice(script: str, workdir: pathlib.Path, env: dict[str, str]) -> None:
    path = workdir / "lemonade_worker.py"
    path.write_text(script)
    full_env = subprocess_env(**env)
    workers = [
        subprocess.Popen(
            [sys.executable, str(path)],
            cwd=workdir,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    for worker in workers:
        output, _ = worker.communicate(timeout=300)
        assert worker.returncode == 0, output


def _check_shared_study(study: optuna.Study, checkpoints: pathlib.Path) -> None:
    trials = study.trials
    assert len(trials) == 8  # two workers, four trials each
    assert all(t.state == TrialState.COMPLETE for t in trials)
    # The three initial networks are trained once between the two workers.
    assert sum(t.user_attrs["lemonade_parent"] is None for t in trials) == 3
    parents = {t.user_attrs["lemonade_parent"] for t in trials} - {None}
    assert parents <= {t.number for t in trials}
    assert any(checkpoints.rglob("*"))


@pytest.mark.distributed
@pytest.mark.slow
def test_journal_worker_runs_in_two_processes(tmp_path: pathlib.Path) -> None:
    _run_twice(_script_blocks()[0], tmp_path, {})
    storage = JournalStorage(JournalFileBackend(str(tmp_path / "lemonade-journal.log")))
    study = optuna.load_study(study_name="lemonade", storage=storage)
    _check_shared_study(study, tmp_path / "lemonade-checkpoints")


@pytest.mark.distributed
@pytest.mark.slow
def test_postgres_worker_runs_in_two_processes(
    tmp_path: pathlib.Path,
    postgres_url: str,  # noqa: F811
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    name = f"readme-{uuid.uuid4().hex[:12]}"
    env = {"LEMONADE_STORAGE": postgres_url, "LEMONADE_ARTIFACTS": str(shared)}
    _run_twice(_script_blocks()[1], tmp_path, {**env, "LEMONADE_STUDY": name})
    study = optuna.load_study(study_name=name, storage=postgres_url)
    try:
        _check_shared_study(study, shared)
    finally:
        optuna.delete_study(study_name=name, storage=postgres_url)


def _command_lines() -> list[str]:
    lines = []
    for _, code in _blocks("bash"):
        for line in code.splitlines():
            command = line.split("#")[0].strip()
            if command:
                lines.extend(part.strip() for part in command.split("&&"))
    return lines


def test_readme_search_commands_are_valid() -> None:
    commands = [line for line in _command_lines() if line.startswith("optuna-lemonade ")]
    assert commands
    parser, search_parser = parsers()
    for command in commands:
        args = parser.parse_args(shlex.split(command)[1:])  # exits on a refused option
        if args.command == "search":
            check_options(args, search_parser)


def test_readme_install_extras_exist() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    extras = set(config["options.extras_require"])
    installs = [line for line in _command_lines() if line.startswith("pip install -e")]
    assert installs
    for line in installs:
        for extra in re.findall(r"\.\[([\w,]+)\]", line):
            assert set(extra.split(",")) <= extras, line
