"""The code of README and docs/ runs as written: Python blocks, worker scripts, commands.

Every page (README.md and each docs/**/*.md) is read the same way: its ```python blocks
are executed, except the worker scripts marked ``<!-- readme-test: run as a script in two
processes at once ... -->``, which run in two processes each; its ```bash blocks'
``optuna-lemonade`` command lines are parsed by the command's own parser, and their
``pip install -e ".[extra]"`` lines must name extras of setup.cfg.
"""

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
DOCS = ROOT / "docs"
PAGES = [README, *sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts)]
SCRIPT_MARK = "<!-- readme-test: run as a script in two processes at once"
BLOCK = re.compile(r"(<!-- readme-test:[^\n]*-->\n)?```(\w+)\n(.*?)```", flags=re.DOTALL)


def _name(page: pathlib.Path) -> str:
    return page.relative_to(ROOT).as_posix()


def _blocks(language: str, pages: list[pathlib.Path] = PAGES) -> list[tuple[str, str, str]]:
    """(page, marker comment or "", code) of the pages' blocks in ``language``.

    The code is preceded by as many empty lines as come before it in the page, so that
    a traceback's line numbers are the page's.
    """
    blocks: list[tuple[str, str, str]] = []
    for page in pages:
        text = page.read_text()
        for match in BLOCK.finditer(text):
            mark, lang, code = match.groups()
            if lang == language:
                offset = text.count("\n", 0, match.start(3))
                blocks.append((_name(page), mark or "", "\n" * offset + code))
    return blocks


def _ids(blocks: list[tuple[str, str, str]]) -> list[str]:
    """``page:n``, n counting that page's blocks in the list from 1."""
    seen: dict[str, int] = {}
    ids = []
    for page, _, _ in blocks:
        seen[page] = seen.get(page, 0) + 1
        ids.append(f"{page}:{seen[page]}")
    return ids


PYTHON = _blocks("python")
INLINE = [(page, code) for page, mark, code in PYTHON if not mark.startswith(SCRIPT_MARK)]
SCRIPTS = [
    (page, code.lstrip("\n")) for page, mark, code in PYTHON if mark.startswith(SCRIPT_MARK)
]


def test_pages_have_their_blocks() -> None:
    assert (DOCS / "index.md").exists() and len(PAGES) > 2
    assert len(_blocks("python", [README])) >= 1  # README's own example
    assert len(INLINE) >= 2
    assert len(SCRIPTS) == 2
    assert "JournalFileBackend" in SCRIPTS[0][1] and "RDBStorage" in SCRIPTS[1][1]


@pytest.mark.parametrize(("page", "mark", "code"), PYTHON, ids=_ids(PYTHON))
def test_every_function_a_block_defines_is_used(page: str, mark: str, code: str) -> None:
    for name in re.findall(r"^def (\w+)\(", code, flags=re.MULTILINE):
        uses = re.findall(rf"\b{name}\b", code)
        assert len(uses) >= 2, f"{page} defines {name}() and never calls or passes it"


@pytest.mark.parametrize(
    ("page", "code"), INLINE, ids=_ids([(page, "", code) for page, code in INLINE])
)
def test_python_blocks_run(
    page: str, code: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the examples write checkpoints and studies
    if "trial-12.pt" in code:  # a checkpoint downloaded from the dashboard, as users have
        model = build_model(SearchSpace((1, 28, 28), 10).initial_architectures()[0], seed=0)
        (tmp_path / "trial-12.pt").write_bytes(to_bytes(model.architecture, model))
    exec(compile(code, str(ROOT / page), "exec"), {"__name__": "readme"})


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
    _run_twice(SCRIPTS[0][1], tmp_path, {})
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
    _run_twice(SCRIPTS[1][1], tmp_path, {**env, "LEMONADE_STUDY": name})
    study = optuna.load_study(study_name=name, storage=postgres_url)
    try:
        _check_shared_study(study, shared)
    finally:
        optuna.delete_study(study_name=name, storage=postgres_url)


def _command_lines() -> list[tuple[str, str]]:
    """(page, command) of every line of the pages' bash blocks, split at ``&&``."""
    lines: list[tuple[str, str]] = []
    for page, _, code in _blocks("bash"):
        for line in code.splitlines():
            command = line.split("#")[0].strip()
            if command:
                lines.extend((page, part.strip()) for part in command.split("&&"))
    return lines


def test_search_commands_are_valid() -> None:
    commands = [(p, c) for p, c in _command_lines() if c.startswith("optuna-lemonade ")]
    assert any(page == "README.md" for page, _ in commands)
    assert any(page != "README.md" for page, _ in commands)
    parser, search_parser = parsers()
    for page, command in commands:
        try:
            args = parser.parse_args(shlex.split(command)[1:])  # exits on a refused option
            if args.command == "search":
                check_options(args, search_parser)
        except SystemExit as error:
            raise AssertionError(f"{page}: {command}") from error


def test_install_extras_exist() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    extras = set(config["options.extras_require"])
    installs = [(p, c) for p, c in _command_lines() if c.startswith("pip install -e")]
    assert any(page == "README.md" for page, _ in installs)
    for page, line in installs:
        for extra in re.findall(r"\.\[([\w,]+)\]", line):
            assert set(extra.split(",")) <= extras, f"{page}: {line}"
