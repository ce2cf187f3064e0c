"""The optuna-lemonade search command, end to end on digits."""

from __future__ import annotations

from collections.abc import Iterator
import itertools
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time
from typing import Any

import optuna
from optuna.trial import TrialState
import pytest
import torch

from optuna_lemonade import build_model
from optuna_lemonade import SearchSpace
from optuna_lemonade._storage_keys import CHECKPOINT_KEY
from optuna_lemonade._storage_keys import DECISION_KEY
from optuna_lemonade.cli import main
from optuna_lemonade.cli._arguments import parsers
from optuna_lemonade.sampler import Child
from optuna_lemonade.sampler._decision import Decision
from optuna_lemonade.training._data import DEBIAN_FASHION_MNIST
from tests.conftest import subprocess_env
from tests.conftest import write_image_folder


ROOT = pathlib.Path(__file__).parents[1]
# One worker: in this process, as the tests that patch it need (--workers N: below).
FAST = ["--initial-epochs", "2", "--child-epochs", "1", "--quiet", "--workers", "1"]


@pytest.fixture
def workdir(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """An empty current directory, where the command's default outputs would go."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


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
            *FAST,
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


def test_largest_initial_first_reaches_the_sampler(tmp_path: pathlib.Path) -> None:
    argv = ["--trials", "4", "--largest-initial-first", "--cut-placement", "by_size"]
    assert _run(tmp_path, *argv) == 0
    study = optuna.load_study(
        study_name="lemonade-digits", storage=f"sqlite:///{tmp_path / 's.db'}"
    )
    initial = study.trials[:3]
    largest = max(initial, key=lambda t: t.values[1])
    # It is on the front of the initial networks (else nothing is forced).
    assert all(t.values[0] > largest.values[0] for t in initial if t is not largest)
    assert study.trials[3].user_attrs["lemonade_parent"] == largest.number


@pytest.mark.parametrize("objectives", ["error,macs", "error,params,macs", "macs,error"])
def test_every_objective_combination_runs(
    workdir: pathlib.Path, capsys: pytest.CaptureFixture[str], objectives: str
) -> None:
    assert main(["search", "--trials", "4", "--objectives", objectives, *FAST]) == 0
    out = capsys.readouterr().out
    names = objectives.split(",")
    assert "macs " in out.split("Pareto front")[0]  # the per-trial lines show the costs
    assert ("params " in out.split("Pareto front")[0]) == ("params" in names)
    study = optuna.load_study(study_name="lemonade-digits", storage="sqlite:///lemonade.db")
    assert len(study.best_trials) >= 1
    assert all(len(t.values) == len(names) for t in study.best_trials)


def _usage_error(
    capsys: pytest.CaptureFixture[str], workdir: pathlib.Path, argv: list[str]
) -> str:
    """Run argv, which must fail as a usage error; returns the error line."""
    before = sorted(workdir.rglob("*"))
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert lines[0].startswith("usage: optuna-lemonade search"), captured.err
    assert len(lines) == 2, captured.err  # the usage, and one line naming the problem
    assert lines[1].startswith("optuna-lemonade search: error: ")
    assert "Traceback" not in captured.err
    assert sorted(workdir.rglob("*")) == before, "a refused run left files behind"
    return lines[1]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "give a budget"),
        (["--trials", "0"], "--trials must be positive"),
        (["--minutes", "-1"], "--minutes must be positive"),
        (["--trials", "1", "--lr", "nan"], "--lr must be positive"),
        (["--trials", "1", "--child-epochs", "0"], "--child-epochs must be positive"),
        (["--trials", "1", "--objectives", "params"], "--objectives must list"),
        (["--trials", "1", "--objectives", "error,error"], "--objectives must list"),
        (["--trials", "1", "--operators", "widen,fly"], "--operators: unknown fly"),
        (["--trials", "1", "--dataset", "mnist"], "--dataset mnist: unknown data set 'mnist'"),
        (["--trials", "1", "--image-size", "0"], "--image-size: image size must be N or HxW"),
        (["--trials", "1", "--image-size", "8"], "--image-size is for image folders"),
        (
            ["--trials", "1", "--initial-model", "missing.pt"],
            "--initial-model missing.pt: No such",
        ),
        (["--trials", "1", "--dataset", "digits,digits"], "--dataset must name distinct"),
        (["--trials", "1", "--dataset", "digits,digits-28"], "must share an image shape"),
        (
            ["--trials", "1", "--dataset", "digits,digits-28", "--objectives", "error,params"],
            "including error:digits and error:digits-28",
        ),
        (["--trials", "1", "--objectives", "error:digits,params,speed"], "--objectives must"),
        (["--trials", "1", "--latency-repeats", "0"], "--latency-repeats must be positive"),
        (["--trials", "1", "--latency-warmup", "-1"], "--latency-warmup must be 0 or more"),
        (
            ["--trials", "1", "--objectives", "error,latency", "--latency-device", "tpu:9"],
            "--latency-device tpu:9",
        ),
        (["--trials", "1", "--device", "foo"], "--device foo: not usable"),
        (["--trials", "1", "--plot", "missing/front.png"], "directory missing does not exist"),
        (["--trials", "1", "--plot", "."], "is a directory"),
        (["--trials", "1", "--storage", "nonsense"], "--storage nonsense: cannot open it"),
        (
            ["--trials", "1", "--storage", "sqlite:///missing/dir/s.db"],
            "--storage sqlite:///missing/dir/s.db: cannot open it",
        ),
        (
            ["--trials", "1", "--storage", "postgresql+pg8000://user:secret@127.0.0.1/db"],
            "pip install 'optuna-lemonade[postgres]'",
        ),
        (["--trials", "1", "--grace-period", "5", "--heartbeat-interval", "10"], "longer"),
        (["--trials", "1", "--workers", "0"], "--workers must be positive"),
        (["--trials", "1", "--threads", "-2"], "--threads must be positive"),
    ],
)
def test_bad_input_is_one_line_with_usage_and_leaves_nothing(
    workdir: pathlib.Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert message in _usage_error(capsys, workdir, ["search", *extra])


def test_latency_objective_is_measured_and_kept_in_the_study(
    workdir: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["search", "--trials", "4", "--objectives", "error,params,latency", *FAST]
    assert main([*argv, "--latency-repeats", "3", "--test"]) == 0
    out = capsys.readouterr().out
    assert " ms" in out.split("Pareto front")[1] and "test error" in out
    study = optuna.load_study(study_name="lemonade-digits", storage="sqlite:///lemonade.db")
    assert all(t.values[2] > 0 for t in study.trials)
    attrs = study._storage.get_study_system_attrs(study._study_id)
    logged = [k for k in attrs if k.startswith("lemonade:measured:latency:")]
    assert len(logged) == 1


@pytest.mark.skipif(
    not DEBIAN_FASHION_MNIST.exists(), reason="needs the Debian package dataset-fashion-mnist"
)
def test_two_data_sets_and_five_objectives(
    workdir: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    objectives = "error:fashion-mnist,error:digits-28,params,macs,latency"
    argv = ["search", "--dataset", "fashion-mnist,digits-28", "--objectives", objectives]
    # Batches of 32: 20 steps per network, so that the initial networks learn whatever
    # child the measured latency picks (with 128, 6 steps left all three at chance, and
    # the test passed only when the child drawn happened to learn).
    argv += ["--train-size", "300", "--batch-size", "32", "--trials", "4"]
    argv += ["--latency-repeats", "3", "--test", *FAST]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "test error:fashion-mnist" in out and "test error:digits-28" in out
    assert (workdir / "lemonade-pareto.png").stat().st_size > 0
    study = optuna.load_study(
        study_name="lemonade-fashion-mnist+digits-28", storage="sqlite:///lemonade.db"
    )
    assert study.metric_names == objectives.split(",")
    assert all(
        len(t.values) == 5 and all(0.0 <= error <= 1.0 for error in t.values[:2])
        for t in study.trials
    )
    # Something was learned on Fashion-MNIST (chance: 0.9) by the initial networks,
    # which do not depend on the measured latency (0.39-0.62 when this was written).
    assert min(t.values[0] for t in study.trials[:3]) < 0.85
    assert study.trials[0].user_attrs["lemonade_summary"].endswith("MACs")


def test_password_is_not_shown(workdir: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["search", "--trials", "1", "--storage", "postgresql+pg8000://u:secret@127.0.0.1/db"]
    line = _usage_error(capsys, workdir, argv)
    assert "secret" not in line and "u:***@127.0.0.1" in line


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present here")
def test_cuda_without_cuda_is_refused(
    workdir: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _usage_error(capsys, workdir, ["search", "--trials", "1", "--device", "cuda"])
    assert "--device cuda: not usable" in line and "use cpu or auto" in line


def test_checkpoint_dir_that_is_a_file(
    workdir: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "taken").write_text("")
    line = _usage_error(capsys, workdir, ["search", "--trials", "1", "--checkpoint-dir", "taken"])
    assert "--checkpoint-dir taken: cannot write files there" in line


def test_missing_data_set_names_the_download_option(
    workdir: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["search", "--dataset", "cifar10", "--data-dir", str(workdir), "--trials", "1"]
    line = _usage_error(capsys, workdir, argv)
    assert "CIFAR-10 not found" in line and "--download" in line
    assert "download=True" not in line


def test_other_objectives_on_the_same_study_are_refused(
    workdir: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", "--trials", "1", *FAST]) == 0
    capsys.readouterr()
    line = _usage_error(
        capsys, workdir, ["search", "--trials", "1", "--objectives", "error,params,macs"]
    )
    assert "use another --study-name" in line


FOLDER = ";foranimagefolderasdigitsbelow5,000trainingimages,elseasfashion-mnist)"


def test_help_states_every_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["search", "--help"])
    assert exit_info.value.code == 0
    text = "".join(capsys.readouterr().out.split())  # help wraps lines anywhere, even in words
    assert "None" not in text
    expected = [
        "epochsoftheinitialnetworks,fromscratch(default:10fordigitsanddigits-28,3for"
        "fashion-mnist,5forcifar10andcifar100" + FOLDER,
        "fine-tuningepochsofchildren(default:4fordigitsanddigits-28,2forfashion-mnistand"
        "cifar10andcifar100" + FOLDER,
        "batchsize(default:32fordigitsanddigits-28,128forfashion-mnistandcifar10andcifar100"
        + FOLDER,
        "(default:onforcifar10andcifar100;offfordigits,fashion-mnistandimagefolders)",
        "initiallearningrate(default:0.05)",
        "dataset(default:digits)",
        "(default:sqlite:///lemonade.db)",
        "(default:lemonade-<dataset>)",
        "(default:16)",
    ]
    for default in expected:
        assert default in text


def test_a_run_whose_every_trial_failed_exits_1(
    workdir: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def out_of_memory(*args: object, **kwargs: object) -> float:
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(Child, "fit", out_of_memory)
    assert main(["search", "--trials", "2", *FAST]) == 1
    err = capsys.readouterr().err
    assert "all 2 trials of this run failed" in err


def test_a_plot_that_cannot_be_written_at_the_end_is_one_line(
    workdir: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / "plots").mkdir()
    real_fit = Child.fit

    def fit_and_remove_the_plot_directory(self: Child, *args: Any, **kwargs: Any) -> float:
        shutil.rmtree(workdir / "plots", ignore_errors=True)
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(Child, "fit", fit_and_remove_the_plot_directory)
    assert main(["search", "--trials", "2", "--plot", "plots/front.png", *FAST]) == 1
    captured = capsys.readouterr()
    assert "Pareto front (" in captured.out  # the results were still reported
    assert "cannot write --plot plots/front.png" in captured.err
    assert "Traceback" not in captured.err


@pytest.mark.parametrize(
    ("where", "state"),
    # In the sampler's storage writes the trial has not trained yet: it fails. In the
    # checkpoint's save it has: it completes, saved, and the study stops after it.
    [("child", TrialState.FAIL), ("save", TrialState.COMPLETE)],
)
def test_a_signal_during_a_storage_write_waits_for_a_safe_point(
    workdir: pathlib.Path, monkeypatch: pytest.MonkeyPatch, where: str, state: TrialState
) -> None:
    from optuna_lemonade import LemonadeSampler

    owner, name = (LemonadeSampler, "child") if where == "child" else (Child, "save")
    real = getattr(owner, name)
    sent = []

    def signalled(self: Any, *args: Any, **kwargs: Any) -> Any:
        trials = optuna.load_study(study_name="lemonade-digits", storage=storage).trials
        if len(trials) == 2 and not sent:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.1)  # the handler runs in here, between two storage calls
        return real(self, *args, **kwargs)

    storage = f"sqlite:///{workdir / 'lemonade.db'}"
    monkeypatch.setattr(owner, name, signalled)
    assert main(["search", "--trials", "4", *FAST]) == 143
    trials = _trials(workdir)
    assert [t.state for t in trials] == [TrialState.COMPLETE, state]
    assert (trials[1].system_attrs.get(CHECKPOINT_KEY) is not None) == (where == "save")


# Signals and killed runs: the command in a process of its own, as a user runs it.


def _start(workdir: pathlib.Path, *extra: str, quiet: bool = True) -> subprocess.Popen[str]:
    env = subprocess_env(PYTHONUNBUFFERED="1")
    training = FAST if quiet else [a for a in FAST if a != "--quiet"]
    return subprocess.Popen(
        [sys.executable, "-m", "optuna_lemonade.cli", "search", *training, *extra],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _lines_until(process: subprocess.Popen[str], marker: str) -> Iterator[str]:
    assert process.stdout is not None
    for line in process.stdout:
        yield line
        if marker in line:
            return
    raise AssertionError(f"the command ended before printing {marker!r}")


def _trials(workdir: pathlib.Path) -> list[optuna.trial.FrozenTrial]:
    storage = f"sqlite:///{workdir / 'lemonade.db'}"
    return optuna.load_study(study_name="lemonade-digits", storage=storage).trials


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "code", "quiet"),
    # With the progress bar, Optuna logs through a handler of the bar's own.
    [(signal.SIGINT, 130, False), (signal.SIGTERM, 143, True)],
)
def test_a_signal_fails_the_running_trial_and_reports_the_front(
    tmp_path: pathlib.Path, signum: signal.Signals, code: int, quiet: bool
) -> None:
    # Children train 40 epochs (seconds): a second after the initial networks, the
    # first child is being trained.
    process = _start(tmp_path, "--trials", "500", "--child-epochs", "40", quiet=quiet)
    list(_lines_until(process, "trial    2 "))
    time.sleep(1.0)
    process.send_signal(signum)
    out, err = process.communicate(timeout=120)
    assert process.returncode == code, err
    assert "Traceback" not in err and "Traceback" not in out
    stopped = [line for line in out.splitlines() if line.startswith("stopped by")]
    assert len(stopped) == 1, out
    assert "Pareto front" in out and (tmp_path / "lemonade-pareto.png").stat().st_size > 0
    trials = _trials(tmp_path)
    assert not [t.number for t in trials if t.state == TrialState.RUNNING]
    assert stopped[0] == f"stopped by {signum.name}; trial 3 marked FAIL"
    assert trials[3].state == TrialState.FAIL
    assert "Trial 3 failed" not in out + err  # Optuna's own log of it is not shown


@pytest.mark.slow
def test_a_killed_run_leaves_no_running_trial_behind(tmp_path: pathlib.Path) -> None:
    beats = ["--heartbeat-interval", "1", "--grace-period", "2"]
    process = _start(tmp_path, "--trials", "500", *beats)
    list(_lines_until(process, "trial    1 "))
    process.kill()  # SIGKILL: no handler runs, the trial stays RUNNING
    process.communicate(timeout=60)
    running = [t.number for t in _trials(tmp_path) if t.state == TrialState.RUNNING]
    assert running, "the killed run should have left its trial RUNNING"
    # The heartbeat clock is the database's: the grace period has to pass for real.
    time.sleep(2.5)
    process = _start(tmp_path, "--trials", "1", *beats)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    for number in running:
        assert f"trial {number} was left RUNNING by a run that stopped" in out
    trials = _trials(tmp_path)
    assert all(trials[n].state == TrialState.FAIL for n in running)
    assert not [t for t in trials if t.state == TrialState.RUNNING]


def test_cifar10_and_cifar100_as_two_tasks(
    workdir: pathlib.Path, capsys: pytest.CaptureFixture[str], cifar_stand_ins: pathlib.Path
) -> None:
    argv = ["search", "--dataset", "cifar10,cifar100", "--data-dir", str(cifar_stand_ins)]
    argv += ["--train-size", "200", "--trials", "3", "--initial-epochs", "1", "--quiet"]
    argv += ["--workers", "1"]  # in this process, where the stand-ins' check is patched
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "cifar10 200 train / 5000 validation, cifar100 200 train" in out
    study = optuna.load_study(
        study_name="lemonade-cifar10+cifar100", storage="sqlite:///lemonade.db"
    )
    assert study.metric_names == ["error:cifar10", "error:cifar100", "params"]
    assert all(t.state.name == "COMPLETE" for t in study.trials)
    model = build_model(
        Decision.from_dict(study.trials[0].system_attrs[DECISION_KEY]).architecture
    )
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 110)  # a head of 10 and one of 100


@pytest.mark.parametrize(
    ("names", "x", "y"),
    [
        (["error", "params"], 1, 0),
        (["macs", "error"], 0, 1),
        (["error:a", "error:b", "macs", "params", "latency"], 3, 0),
        (["error:a", "error:b", "latency"], 2, 0),
    ],
)
def test_the_genealogy_figure_puts_the_error_up_and_a_cost_across(
    monkeypatch: pytest.MonkeyPatch, names: list[str], x: int, y: int
) -> None:
    from optuna_lemonade.cli._pages import Pages

    study = optuna.create_study(directions=["minimize"] * len(names))
    study.set_metric_names(names)
    drawn = []
    monkeypatch.setattr(
        "optuna_lemonade.dashboard.save_genealogy", lambda study, **kwargs: drawn.append(kwargs)
    )
    pages = Pages(study, None, enabled=True)
    if not pages.enabled:
        pytest.skip("optuna-lemonade[dashboard] is not installed")
    pages.save_genealogy()
    assert drawn == [{"x": x, "y": y}]


# --workers N: several processes on one study.


def _overlapping(trials: list[optuna.trial.FrozenTrial]) -> bool:
    """Whether two trials ran at the same time (in two processes)."""
    spans = sorted((t.datetime_start, t.datetime_complete) for t in trials)
    return any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))


@pytest.mark.slow
@pytest.mark.distributed
def test_two_workers_share_the_trials_and_report_once(tmp_path: pathlib.Path) -> None:
    process = _start(tmp_path, "--trials", "7", "--workers", "2", quiet=False)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert "Traceback" not in err + out
    headers = [line for line in out.splitlines() if line.startswith("study ")]
    assert len(headers) == 1 and "; 2 workers x 1 thread;" in headers[0], out
    assert len(re.findall(r"^trial +\d+  error", out, flags=re.MULTILINE)) == 7
    assert out.count("Pareto front (") == 1
    assert (tmp_path / "lemonade-pareto.png").stat().st_size > 0
    trials = _trials(tmp_path)
    assert len(trials) == 7 and all(t.state == TrialState.COMPLETE for t in trials)
    assert _overlapping(trials)  # two processes trained at once
    assert sum(t.user_attrs["lemonade_parent"] is None for t in trials) == 3  # once each


@pytest.mark.slow
@pytest.mark.distributed
def test_a_signal_stops_every_worker_cleanly(tmp_path: pathlib.Path) -> None:
    process = _start(tmp_path, "--trials", "500", "--child-epochs", "40", "--workers", "2")
    list(_lines_until(process, "trial    3 "))  # both workers are on a child now
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 143, err
    assert "Traceback" not in err + out
    stopped = [line for line in out.splitlines() if line.startswith("stopped by")]
    assert "stopped by SIGTERM" in stopped  # the run's own line
    assert len([line for line in stopped if "marked FAIL" in line]) == 2  # one per worker
    assert out.count("Pareto front (") == 1
    trials = _trials(tmp_path)
    assert not [t.number for t in trials if t.state == TrialState.RUNNING]
    assert sum(t.state == TrialState.FAIL for t in trials) == 2


@pytest.mark.slow
@pytest.mark.distributed
def test_workers_stop_when_their_run_is_killed(tmp_path: pathlib.Path) -> None:
    """SIGKILL leaves the run no chance to forward anything: its workers get SIGTERM
    from the kernel (Linux) and stop as after Ctrl-C, leaving no trial RUNNING."""
    if sys.platform != "linux":
        pytest.skip("PR_SET_PDEATHSIG is Linux's")
    process = _start(tmp_path, "--trials", "500", "--child-epochs", "40", "--workers", "2")
    list(_lines_until(process, "trial    3 "))
    process.kill()
    process.communicate(timeout=60)
    deadline = time.monotonic() + 120  # a loaded machine: the workers' last writes wait
    while time.monotonic() < deadline:
        trials = _trials(tmp_path)
        if not [t for t in trials if t.state == TrialState.RUNNING]:
            break
        time.sleep(1.0)
    count = len(trials)
    time.sleep(3.0)
    assert not [t.number for t in trials if t.state == TrialState.RUNNING], trials
    assert len(_trials(tmp_path)) == count  # no worker goes on


def test_workers_options_resolve_and_reach_each_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from optuna_lemonade.cli import _workers

    monkeypatch.setattr(_workers, "cores", lambda: 4)
    parser, _ = parsers()
    cpu, cuda = torch.device("cpu"), torch.device("cuda")

    def resolved(*argv: str, device: torch.device = cpu) -> tuple[int, int | None]:
        args = parser.parse_args(["search", *argv])
        objectives = (args.objectives or "error,params").split(",")
        return _workers.resolve(args, device, objectives)

    assert resolved("--minutes", "5") == (4, 1)  # a process per core, one thread each
    assert resolved("--minutes", "5", device=cuda) == (1, None)
    assert resolved("--minutes", "5", "--objectives", "error,latency") == (1, None)
    assert resolved("--trials", "3") == (3, 1)  # no idle worker
    assert resolved("--minutes", "5", "--workers", "2", "--threads", "2") == (2, 2)
    assert resolved("--minutes", "5", "--workers", "1") == (1, None)
    assert _workers.shares(7, 3) == [3, 2, 2] and _workers.shares(None, 2) == [None, None]
    argv = ["search", "--trials", "7", "--workers", "3", "--quiet"]
    for index, share in enumerate(_workers.shares(7, 3)):
        args = parser.parse_args(_workers.worker_argv(argv, index, 1, share))
        assert (args.workers, args.worker_index, args.threads, args.trials) == (
            1,
            index,
            1,
            share,
        )
        assert _workers.resolve(args, cpu, ["error", "params"]) == (1, 1)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda root: root.mkdir(), "no class folders in it"),
        (lambda root: write_image_folder(root, classes=1), "a classifier needs at least two"),
        (
            lambda root: [
                (root / name).mkdir(parents=True) or (root / name / "a.txt").write_text("x")
                for name in ("a", "b")
            ],
            "no readable image",
        ),
        (lambda root: root.write_text("x"), "is not a directory"),
    ],
)
def test_a_bad_image_folder_is_one_line_and_leaves_nothing(
    workdir: pathlib.Path, capsys: pytest.CaptureFixture[str], make: Any, message: str
) -> None:
    make(workdir / "images")
    line = _usage_error(capsys, workdir, ["search", "--dataset", "images", "--trials", "1"])
    assert line.startswith("optuna-lemonade search: error: --dataset images: ") and message in line


@pytest.mark.parametrize(("flags", "said"), [([], "off"), (["--augment"], "on")])
def test_augmentation_is_off_for_a_folder_unless_asked(
    workdir: pathlib.Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    flags: list[str],
    said: str,
) -> None:
    from optuna_lemonade.training import _loops

    calls = []

    def counted(images: torch.Tensor) -> torch.Tensor:
        calls.append(images.shape)
        return images

    monkeypatch.setattr(_loops, "augment_batch", counted)
    root = write_image_folder(workdir / "pets", classes=2, per_class=10, size=(8, 8))
    assert main(["search", "--dataset", str(root), "--trials", "1", *flags, *FAST]) == 0
    assert f"augmentation {said}" in capsys.readouterr().out
    assert bool(calls) == (said == "on")  # the training saw it, not only the start line


def test_a_search_on_a_folder_of_images(
    workdir: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_image_folder(workdir / "my-pets", classes=3, per_class=14, size=(10, 10))
    (root / "class0" / "Thumbs.db").write_bytes(b"\x00" * 10)
    (root / "class1" / "big.png").write_bytes((root / "class1" / "0.png").read_bytes())
    write_image_folder(workdir / "big", classes=1, per_class=1, size=(16, 16))
    (workdir / "big" / "class0" / "0.png").replace(root / "class1" / "big.png")
    argv = ["search", "--dataset", str(root), "--trials", "4", "--test", *FAST]
    assert main(argv) == 0
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if line.startswith("optuna-lemonade:")]
    assert len(warnings) == 2, captured.err  # one line each: skipped files, resized images
    assert "skipped 1 file(s)" in warnings[0] and "resized 1 of 43 images to 10x10" in warnings[1]
    assert "augmentation off" in captured.out and "test error" in captured.out
    study = optuna.load_study(study_name="lemonade-my-pets", storage="sqlite:///lemonade.db")
    assert study.user_attrs["lemonade_dataset"] == "my-pets"
    assert len(study.trials) == 4 and all(t.state == TrialState.COMPLETE for t in study.trials)
    # Continued from another directory, the folder named by another path: the same study.
    (workdir / "elsewhere").mkdir()
    monkeypatch.chdir(workdir / "elsewhere")
    storage = f"sqlite:///{workdir / 'lemonade.db'}"
    argv = ["search", "--dataset", "../my-pets", "--trials", "1", "--storage", storage]
    argv += ["--checkpoint-dir", "../lemonade-checkpoints", *FAST]
    assert main(argv) == 0
    assert len(optuna.load_study(study_name="lemonade-my-pets", storage=storage).trials) == 5


def test_a_search_from_a_model_of_yours(
    workdir: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from optuna_lemonade.export import save_checkpoint
    from optuna_lemonade.network import from_module
    from optuna_lemonade.training import evaluate
    from optuna_lemonade.training import load_dataset

    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 3, padding=1, bias=False),
        torch.nn.BatchNorm2d(6),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(6, 10),
    )
    save_checkpoint(from_module(model, (1, 8, 8)), "mine.pt")
    expected = evaluate(model, load_dataset("digits").loaders()[1], device="cpu")
    argv = ["search", "--initial-model", "mine.pt", "--trials", "3", *FAST]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "pretrained" in out
    study = optuna.load_study(study_name="lemonade-digits", storage="sqlite:///lemonade.db")
    assert study.trials[0].values[0] == pytest.approx(expected)  # measured, not trained
    assert [t.user_attrs["lemonade_parent"] for t in study.trials] == [None, 0, 0]


def test_an_initial_model_that_does_not_fit_the_data_is_one_line(
    workdir: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from optuna_lemonade.export import save_checkpoint

    arch = SearchSpace((1, 28, 28), 10).initial_architectures()[0]
    save_checkpoint(build_model(arch), "other.pt")
    (workdir / "junk.pt").write_bytes(b"not a checkpoint")
    line = _usage_error(
        capsys, workdir, ["search", "--initial-model", "other.pt", "--trials", "1"]
    )
    assert "--initial-model other.pt: takes (1, 28, 28) images" in line
    line = _usage_error(capsys, workdir, ["search", "--initial-model", "junk.pt", "--trials", "1"])
    assert line.startswith("optuna-lemonade search: error: --initial-model junk.pt: ")
    big = SearchSpace(
        (1, 8, 8), 10, max_params=None, initial_widths=(64,)
    ).initial_architectures()[0]
    save_checkpoint(build_model(big), "big.pt")
    argv = ["search", "--initial-model", "big.pt", "--trials", "1", "--max-params", "1000"]
    assert "raise --max-params" in _usage_error(capsys, workdir, argv)


def test_folders_by_path_as_two_tasks_and_one_name_for_two_folders(
    workdir: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_image_folder(workdir / "a" / "pets", classes=2, per_class=12, size=(8, 8))
    write_image_folder(workdir / "b" / "toys", classes=3, per_class=12, size=(8, 8))
    argv = ["search", "--dataset", f"{workdir}/a/pets,./b/toys", "--trials", "2", *FAST]
    assert main(argv) == 0
    study = optuna.load_study(study_name="lemonade-pets+toys", storage="sqlite:///lemonade.db")
    assert study.metric_names == ["error:pets", "error:toys", "params"]
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    # Another folder of the same name, with other data: refused, not mixed in.
    write_image_folder(workdir / "c" / "pets", classes=4, per_class=6, size=(8, 8))
    assert main(["search", "--dataset", "a/pets", "--trials", "1", *FAST]) == 0
    capsys.readouterr()
    line = _usage_error(capsys, workdir, ["search", "--dataset", "c/pets", "--trials", "1"])
    assert "study 'lemonade-pets' searches other data (pets: 3x8x8 images, 2 classes)" in line
    assert "(pets: 3x8x8 images, 4 classes): use another --study-name" in line


def test_a_checkpoint_dir_inside_the_image_folder_is_refused(
    workdir: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_image_folder(workdir / "pets", classes=2)
    monkeypatch.chdir(workdir / "pets")
    line = _usage_error(capsys, workdir, ["search", "--dataset", ".", "--trials", "1"])
    assert "--checkpoint-dir lemonade-checkpoints: inside the image folder ." in line
