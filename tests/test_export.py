"""Taking a network away: checkpoint files, ONNX and torch.export round trips, and the
``export`` and ``train`` commands."""

from __future__ import annotations

import pathlib

import optuna
from optuna.artifacts import FileSystemArtifactStore
import pytest
import torch

from optuna_lemonade import build_model
from optuna_lemonade import SearchSpace
from optuna_lemonade.checkpoints import CheckpointError
from optuna_lemonade.checkpoints import to_bytes
from optuna_lemonade.cli import main
from optuna_lemonade.export import export_onnx
from optuna_lemonade.export import export_program
from optuna_lemonade.export import load_checkpoint
from optuna_lemonade.export import onnx_deviation
from optuna_lemonade.export import program_deviation
from optuna_lemonade.network import GraphNetwork
from optuna_lemonade.sampler import LemonadeSampler
from tests.sampler.conftest import CLASSES
from tests.sampler.conftest import SHAPE


def network(seed: int = 0) -> GraphNetwork:
    space = SearchSpace(SHAPE, CLASSES, initial_widths=(4,))
    model = build_model(space.initial_architectures()[0], seed=seed)
    # random batch-norm statistics, so that eval mode differs from train mode
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            assert module.running_mean is not None and module.running_var is not None
            size = module.num_features
            module.running_mean.copy_(torch.rand(size, generator=generator) * 2 - 1)
            module.running_var.copy_(torch.rand(size, generator=generator) * 1.5 + 0.5)
    return model.eval()


@pytest.fixture
def checkpoint(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "trial-7.pt"
    model = network()
    path.write_bytes(to_bytes(model.architecture, model))
    return path


def test_load_checkpoint_round_trip(checkpoint: pathlib.Path) -> None:
    loaded = load_checkpoint(checkpoint)
    x = torch.randn(3, *SHAPE)
    with torch.no_grad():
        assert torch.equal(loaded(x), network()(x))
    assert not loaded.training


def test_load_checkpoint_refuses_bad_files(
    tmp_path: pathlib.Path, checkpoint: pathlib.Path
) -> None:
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(checkpoint.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"truncated\.pt"):
        load_checkpoint(truncated)


def test_export_program_round_trip(tmp_path: pathlib.Path) -> None:
    model = network()
    path = export_program(model, tmp_path / "net.pt2")
    assert program_deviation(model, path, batch=7) < 1e-5  # another batch size than traced
    with pytest.raises(TypeError, match="expected a GraphNetwork"):
        export_program(torch.nn.Linear(2, 2), tmp_path / "x.pt2")  # type: ignore[arg-type]


@pytest.mark.slow
def test_export_onnx_round_trip_with_onnxruntime(tmp_path: pathlib.Path) -> None:
    pytest.importorskip("onnxruntime")
    model = network()
    path = export_onnx(model, tmp_path / "net.onnx")  # checks against onnxruntime itself
    assert onnx_deviation(model, path, batch=1) < 1e-5
    assert onnx_deviation(model, path, batch=9) < 1e-5
    import onnx

    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == ["images"] and [o.name for o in graph.output] == [
        "logits"
    ]
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param  # a named, dynamic batch


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = int(exit_.code or 0)
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_export_command_from_a_file(
    checkpoint: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = run(["export", str(checkpoint), "--format", "pt2"], capsys)
    assert status == 0, out
    written = checkpoint.with_suffix(".pt2")
    assert written.exists() and f"wrote {written}" in out
    assert program_deviation(network(), written) < 1e-5


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["export"], "name the network: a checkpoint file, or --trial N"),
        (["export", "nope.pt"], "nope.pt: no such file"),
        (["export", "{checkpoint}", "--trial", "1"], "(one of them)"),
        (["export", "{checkpoint}", "--format", "tflite"], "invalid choice: 'tflite'"),
        (["export", "{checkpoint}", "--output", "/no/such/dir/x.onnx"], "does not exist"),
        (["export", "--trial", "0", "--storage", "sqlite:///{tmp}/none.db"], "no such database"),
        (["train", "{checkpoint}", "--epochs", "0"], "--epochs must be positive"),
        (["train", "{checkpoint}"], "the following arguments are required: --epochs"),
        (["train", "{checkpoint}", "--epochs", "1"], "the network takes (3, 8, 8)"),
    ],
)
def test_take_away_commands_refuse_bad_input(
    argv: list[str],
    message: str,
    checkpoint: pathlib.Path,
    tmp_path: pathlib.Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    filled = [a.format(checkpoint=checkpoint, tmp=tmp_path) for a in argv]
    status, out = run(filled, capsys)
    assert status == 2 and message in out, out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trial-7.pt"]  # nothing written


def test_export_and_train_a_trial_of_a_study(
    tmp_path: pathlib.Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A search's trial, by number: exported, trained further, trained from scratch."""
    status, out = run(
        [
            "search", "--dataset", "digits", "--trials", "4", "--train-size", "300",
            "--initial-epochs", "1", "--child-epochs", "1", "--quiet", "--no-dashboard",
            "--storage", f"sqlite:///{tmp_path}/s.db", "--checkpoint-dir", str(tmp_path / "ck"),
            "--plot", str(tmp_path / "p.png"), "--device", "cpu",
        ],
        capsys,
    )  # fmt: skip
    assert status == 0, out
    monkeypatch.chdir(tmp_path)
    source = ["--storage", "sqlite:///s.db", "--checkpoint-dir", "ck"]
    status, out = run(["export", "--trial", "3", "--format", "pt2", *source], capsys)
    assert status == 0 and (tmp_path / "trial-3.pt2").exists(), out
    study = optuna.load_study(study_name="lemonade-digits", storage=f"sqlite:///{tmp_path}/s.db")
    sampler = LemonadeSampler(
        SearchSpace((1, 8, 8), 10), artifact_store=FileSystemArtifactStore(tmp_path / "ck")
    )
    original = sampler.load_model(study.trials[3])
    assert program_deviation(original, tmp_path / "trial-3.pt2") < 1e-5

    status, out = run(["train", "--trial", "3", "--epochs", "1", "--test", *source], capsys)
    assert status == 0, out
    assert "validation error before:" in out and "test error:" in out
    trained = load_checkpoint(tmp_path / "trial-3-trained.pt")
    assert trained.architecture == original.architecture
    x = torch.randn(4, 1, 8, 8)
    with torch.no_grad():
        assert not torch.equal(trained(x), original(x))  # it did train
    assert not list(tmp_path.glob("*.part"))

    status, out = run(
        ["train", "--trial", "3", "--epochs", "1", "--from-scratch", *source], capsys
    )
    assert status == 0 and "new random weights" in out, out
    assert load_checkpoint(tmp_path / "trial-3-scratch.pt").architecture == original.architecture

    for argv, message in (
        (["export", "--trial", "99", *source], "has trials 0-3"),
        (["export", "--trial", "0", "--study-name", "other", *source], "not in --storage"),
        (["export", "--trial", "0", "--storage", "sqlite:///s.db", "--checkpoint-dir", "x"],
         "no such directory"),
    ):  # fmt: skip
        status, out = run(argv, capsys)
        assert status == 2 and message in out, out
