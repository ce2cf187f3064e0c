"""The OptunaHub package in hub/samplers/lemonade, loaded as optunahub loads it."""

from __future__ import annotations

import configparser
import pathlib
import re
import shutil
import subprocess
import sys
import types

import optuna
from optuna.artifacts import FileSystemArtifactStore
from optuna.trial import TrialState
import optunahub
from packaging.requirements import Requirement
import pytest
import torch
import yaml

import optuna_lemonade
from optuna_lemonade.training import load_dataset
from tests.conftest import subprocess_env


ROOT = pathlib.Path(__file__).parents[1]
REGISTRY = ROOT / "hub"
PACKAGE = "samplers/lemonade"
DIRECTORY = REGISTRY / PACKAGE
MODULE_NAME = "optunahub_registry.package.samplers.lemonade"


def _load() -> types.ModuleType:
    return optunahub.load_local_module(package=PACKAGE, registry_root=str(REGISTRY))


@pytest.fixture
def hub_module(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    # load_local_module puts the package in sys.modules (again at every call); undone after.
    monkeypatch.setitem(sys.modules, MODULE_NAME, None)
    return _load()


def test_package_reexports_optuna_lemonade(hub_module: types.ModuleType) -> None:
    assert hub_module.__name__ == MODULE_NAME
    assert sys.modules[MODULE_NAME] is hub_module
    assert sorted(hub_module.__all__) == ["LemonadeSampler", "SearchSpace"]
    assert hub_module.LemonadeSampler is optuna_lemonade.LemonadeSampler
    assert hub_module.SearchSpace is optuna_lemonade.SearchSpace
    # Every call executes __init__.py again, into a new module object; the classes stay
    # optuna_lemonade's, so objects made from either load are alike (isinstance, pickle).
    again = _load()
    assert again is not hub_module
    assert again.LemonadeSampler is hub_module.LemonadeSampler


def test_loaded_sampler_runs_a_study(
    hub_module: types.ModuleType, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = load_dataset("digits", train_size=200)
    train, validation, _ = data.loaders(batch_size=50)
    space = hub_module.SearchSpace(data.input_shape, data.num_classes, max_params=20_000)
    store = FileSystemArtifactStore(str(tmp_path))
    sampler = hub_module.LemonadeSampler(space, artifact_store=store, n_proposals=4, seed=0)
    assert isinstance(sampler, optuna_lemonade.LemonadeSampler)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    children = {}

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        child = sampler.child(trial)
        children[trial.number] = child
        error = child.fit(train, validation, epochs=1 if child.parent is None else 0.5)
        return error, child.cheap_objectives["params"]

    study.optimize(objective, n_trials=4)

    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
    assert all(0.0 <= t.values[0] <= 1.0 and t.values[1] > 0 for t in trials)
    parents = [t.user_attrs["lemonade_parent"] for t in trials]
    assert parents[:3] == [None, None, None]  # the search space's three initial networks
    assert parents[3] in {0, 1, 2}  # a child of one of them, by a morphism
    assert children[3].parent == parents[3]
    assert children[3].operator == trials[3].user_attrs["lemonade_operator"]
    assert children[3].architecture != children[parents[3]].architecture
    assert len([path for path in tmp_path.iterdir() if path.is_file()]) == 4  # checkpoints
    for trial in trials:  # each trial's network, with its trained weights
        model = sampler.load_model(trial)
        assert model.architecture == children[trial.number].architecture
        assert model(torch.zeros(2, *data.input_shape)).shape == (2, data.num_classes)


def test_missing_optuna_lemonade_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, MODULE_NAME, None)
    monkeypatch.setitem(sys.modules, "optuna_lemonade", None)  # as if not installed
    with pytest.raises(ModuleNotFoundError, match="needs the optuna-lemonade package"):
        _load()


def test_package_files_follow_the_registry_template() -> None:
    readme = (DIRECTORY / "README.md").read_text()
    match = re.match(r"---\n(.*?)\n---\n", readme, flags=re.DOTALL)
    assert match, "README.md starts with the front matter"
    header = yaml.safe_load(match.group(1))
    assert set(header) == {
        "author",
        "title",
        "description",
        "tags",
        "optuna_versions",
        "license",
    }
    assert all(isinstance(header[key], str) for key in ("author", "title", "description"))
    assert "sampler" in header["tags"]
    assert header["license"] == "MIT License"
    # The versions claimed are ones setup.cfg allows (read as strings, not floats).
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    requires = config["options"]["install_requires"].split()
    optuna_requirement = Requirement(next(r for r in requires if r.startswith("optuna")))
    versions = re.search(r"^optuna_versions: \[(.*)\]$", match.group(1), flags=re.MULTILINE)
    assert versions
    for version in versions.group(1).split(","):
        assert optuna_requirement.specifier.contains(version.strip().strip("'\""))
    for section in ("Abstract", "APIs", "Installation", "Example", "Others"):
        assert f"\n## {section}\n" in readme
    assert (DIRECTORY / "LICENSE").read_text() == (ROOT / "LICENSE").read_text()
    requirements = (DIRECTORY / "requirements.txt").read_text().split()
    assert [Requirement(line).name for line in requirements] == ["optuna-lemonade"]


def _readme_example() -> str:
    readme = (DIRECTORY / "README.md").read_text()
    example = readme.split("\n## Example\n")[1].split("\n## ")[0]
    blocks = re.findall(r"```python\n(.*?)```", example, flags=re.DOTALL)
    assert len(blocks) == 1
    return blocks[0]


@pytest.mark.slow
def test_readme_example_runs(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # load_module("samplers/lemonade") as written, served from optunahub's cache (it
    # downloads nothing when the package is there): the published registry's place.
    cache = tmp_path / "optunahub-cache"
    published = cache / "github.com/optuna/optunahub-registry/main/package" / PACKAGE
    shutil.copytree(DIRECTORY, published)
    monkeypatch.setenv("OPTUNAHUB_CACHE_HOME", str(cache))
    monkeypatch.setenv("OPTUNAHUB_NO_ANALYTICS", "1")
    monkeypatch.setitem(sys.modules, MODULE_NAME, None)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # the example writes ./lemonade-checkpoints
    namespace: dict[str, object] = {"__name__": "hub_readme"}
    exec(compile(_readme_example(), str(DIRECTORY / "README.md"), "exec"), namespace)
    study = namespace["study"]
    assert isinstance(study, optuna.Study)
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert isinstance(namespace["model"], torch.nn.Module)
    assert any((work / "lemonade-checkpoints").iterdir())


@pytest.mark.slow
def test_example_script_runs(tmp_path: pathlib.Path) -> None:
    result = subprocess.run(
        [sys.executable, str(DIRECTORY / "example.py")],
        cwd=tmp_path,
        env=subprocess_env(OPTUNAHUB_NO_ANALYTICS="1"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = re.findall(r"^trial \d+: error [\d.]+, [\d,]+ parameters, .*$", result.stdout, re.M)
    assert lines, result.stdout
    assert any((tmp_path / "lemonade-checkpoints").iterdir())
