"""The ``optuna-lemonade`` command: run a complete LEMONADE search end to end."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from collections.abc import Sequence
import contextlib
import logging
import os
import pathlib
import signal
import sys
import tempfile
import time
import types
from typing import Any
import warnings

import optuna
from optuna.artifacts import FileSystemArtifactStore
from optuna.trial import FrozenTrial
from optuna.trial import TrialState
import sqlalchemy.engine
import torch
from tqdm.auto import tqdm

from optuna_lemonade.architecture import SearchSpace
from optuna_lemonade.morphisms import OPERATORS
from optuna_lemonade.sampler import LemonadeSampler
from optuna_lemonade.training import DATASETS
from optuna_lemonade.training import default_device
from optuna_lemonade.training import evaluate
from optuna_lemonade.training import load_dataset


OBJECTIVES = ("error", "params", "macs")

# Per data set: batch size, epochs of initial networks, epochs of children, learning rate.
DEFAULTS: dict[str, dict[str, float]] = {
    "digits": {"batch_size": 32, "initial_epochs": 10, "child_epochs": 4, "lr": 0.05},
    "fashion-mnist": {"batch_size": 128, "initial_epochs": 3, "child_epochs": 2, "lr": 0.05},
    "cifar10": {"batch_size": 128, "initial_epochs": 5, "child_epochs": 2, "lr": 0.05},
}

# Exit statuses of a run stopped by a signal, as a shell reports them (128 + signal).
_SIGNAL_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}


def _per_dataset(key: str) -> str:
    """``"32 for digits, 128 for fashion-mnist and cifar10"`` for the --help texts."""
    groups: dict[str, list[str]] = {}
    for dataset, values in DEFAULTS.items():
        value = values[key]
        groups.setdefault(f"{value:g}", []).append(dataset)
    if len(groups) == 1:
        return f"default: {next(iter(groups))}"
    parts = [f"{value} for {' and '.join(names)}" for value, names in groups.items()]
    return "default: " + ", ".join(parts)


def _parsers() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The top-level parser and the ``search`` sub-command's parser."""
    parser = argparse.ArgumentParser(
        prog="optuna-lemonade", description="LEMONADE neural architecture search on Optuna."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    search = commands.add_parser(
        "search",
        help="run (or continue) a search",
        usage="optuna-lemonade search (--minutes M | --trials N) [options]",
        description=(
            "Run a LEMONADE search: train the initial networks, then children made by "
            "network morphisms that inherit their parents' weights, until the budget ends. "
            "Running it again with the same storage and study name continues the study. "
            "Ctrl-C or SIGTERM stops it: the running trial is marked failed and the front "
            "so far is printed and plotted."
        ),
    )
    data = search.add_argument_group("data")
    data.add_argument(
        "--dataset", choices=DATASETS, default="digits", help="data set (default: digits)"
    )
    data.add_argument(
        "--data-dir",
        help="directory with a local copy of the data set (default: for fashion-mnist, the "
        "Debian package's /usr/share/datasets/fashion-mnist; else a cache directory)",
    )
    data.add_argument(
        "--download", action="store_true", help="download the data set if not found locally"
    )
    data.add_argument(
        "--train-size",
        type=int,
        help="use only this many training images (default: all of the training split)",
    )
    budget = search.add_argument_group("budget (at least one; the first reached ends the run)")
    budget.add_argument("--minutes", type=float, help="wall-clock budget of this run")
    budget.add_argument("--trials", type=int, help="number of trials of this run")
    output = search.add_argument_group("study and outputs")
    output.add_argument(
        "--storage",
        default="sqlite:///lemonade.db",
        help="Optuna RDB storage URL; postgresql:// needs optuna-lemonade[postgres] "
        "(default: sqlite:///lemonade.db)",
    )
    output.add_argument("--study-name", help="study name (default: lemonade-<dataset>)")
    output.add_argument(
        "--checkpoint-dir",
        default="lemonade-checkpoints",
        help="directory of the networks' checkpoints (default: lemonade-checkpoints)",
    )
    output.add_argument(
        "--plot",
        default="lemonade-pareto.png",
        help="Pareto-front plot file (default: lemonade-pareto.png)",
    )
    output.add_argument(
        "--test", action="store_true", help="evaluate the final front once on the test split"
    )
    output.add_argument("--quiet", action="store_true", help="no progress bar")
    output.add_argument(
        "--heartbeat-interval",
        type=float,
        default=10.0,
        help="seconds between a running trial's heartbeats (default: 10)",
    )
    output.add_argument(
        "--grace-period",
        type=float,
        default=30.0,
        help="a RUNNING trial without a heartbeat for this many seconds was left by a "
        "stopped run and is marked failed (default: 30)",
    )
    searching = search.add_argument_group("search")
    searching.add_argument(
        "--objectives",
        default="error,params",
        help=f"comma-separated, all minimised, from {', '.join(OBJECTIVES)}; must include "
        "error (default: error,params)",
    )
    searching.add_argument(
        "--operators",
        default=",".join(OPERATORS),
        help="comma-separated morphism operators (default: all: " + ", ".join(OPERATORS) + ")",
    )
    searching.add_argument(
        "--max-params",
        type=int,
        default=5_000_000,
        help="largest network of the search space, in parameters (default: 5000000)",
    )
    searching.add_argument(
        "--n-proposals",
        type=int,
        default=16,
        help="candidate children proposed per trial, of which one is trained (default: 16)",
    )
    searching.add_argument(
        "--seed", type=int, default=0, help="seed of the data split and decisions (default: 0)"
    )
    training = search.add_argument_group("training")
    training.add_argument(
        "--initial-epochs",
        type=float,
        help="epochs of the initial networks, from scratch ("
        + _per_dataset("initial_epochs")
        + ")",
    )
    training.add_argument(
        "--child-epochs",
        type=float,
        help="fine-tuning epochs of children (" + _per_dataset("child_epochs") + ")",
    )
    training.add_argument(
        "--batch-size", type=int, help="batch size (" + _per_dataset("batch_size") + ")"
    )
    training.add_argument(
        "--lr", type=float, help="initial learning rate (" + _per_dataset("lr") + ")"
    )
    training.add_argument(
        "--device",
        default="auto",
        help="auto, cpu, cuda, cuda:1, ... (default: auto, CUDA when available)",
    )
    return parser, search


def _check_options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[str]:
    """Check the options that need nothing outside; returns the objective names."""
    if args.minutes is None and args.trials is None:
        parser.error("give a budget: --minutes and/or --trials")
    positive = {
        "--minutes": args.minutes,
        "--trials": args.trials,
        "--initial-epochs": args.initial_epochs,
        "--child-epochs": args.child_epochs,
        "--lr": args.lr,
        "--batch-size": args.batch_size,
        "--train-size": args.train_size,
        "--max-params": args.max_params,
        "--n-proposals": args.n_proposals,
        "--heartbeat-interval": args.heartbeat_interval,
        "--grace-period": args.grace_period,
    }
    for name, value in positive.items():
        # ``not value > 0`` also refuses NaN.
        if value is not None and not value > 0:
            parser.error(f"{name} must be positive, got {value}")
    if not args.grace_period > args.heartbeat_interval:
        parser.error(
            f"--grace-period ({args.grace_period:g}) must be longer than --heartbeat-interval "
            f"({args.heartbeat_interval:g})"
        )
    objectives = [name.strip() for name in args.objectives.split(",") if name.strip()]
    unknown = [name for name in objectives if name not in OBJECTIVES]
    if unknown or "error" not in objectives or len(set(objectives)) != len(objectives):
        parser.error(
            f"--objectives must list distinct names from {', '.join(OBJECTIVES)} including "
            f"error, got {args.objectives!r}"
        )
    operators = [name.strip() for name in args.operators.split(",") if name.strip()]
    unknown = [name for name in operators if name not in OPERATORS]
    if not operators or unknown:
        parser.error(
            f"--operators: unknown {', '.join(unknown) or '(none given)'}; choose from "
            f"{', '.join(OPERATORS)}"
        )
    args.operators = operators
    return objectives


def _check_device(name: str, parser: argparse.ArgumentParser) -> torch.device:
    """The device to train on, after a tensor was placed on it."""
    if name == "auto":
        return default_device()
    try:
        device = torch.device(name)
        # The one check that covers every device type: put something on it.
        torch.empty(1, device=device)
    except (RuntimeError, AssertionError, ValueError) as error:
        # torch raises AssertionError("Torch not compiled with CUDA enabled") on CPU builds.
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        available = "cuda" if torch.cuda.is_available() else "no CUDA device here"
        parser.error(f"--device {name}: not usable ({reason}); use cpu or auto ({available})")
    return device


def _check_writable_file(path: str, option: str, parser: argparse.ArgumentParser) -> None:
    target = pathlib.Path(path)
    if target.is_dir():
        parser.error(f"{option} {path}: is a directory, give a file name")
    folder = target.parent
    if not folder.is_dir():
        parser.error(f"{option} {path}: directory {folder} does not exist")
    # A real write, not os.access: root passes os.access on a read-only directory.
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
        if target.exists():
            with open(target, "ab"):
                pass
    except OSError as error:
        parser.error(f"{option} {path}: not writable ({error.strerror})")


def _make_dir(path: str, option: str, parser: argparse.ArgumentParser) -> list[pathlib.Path]:
    """Make the directory and check that it takes files; returns the folders it made."""
    target = pathlib.Path(path).absolute()
    made = []
    folder = target
    while not folder.exists():
        made.append(folder)  # deepest first, the order to remove them in
        folder = folder.parent
    try:
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=target):
            pass
    except OSError as error:
        _remove_dirs(made)
        reason = "exists and is not a directory" if target.is_file() else error.strerror
        parser.error(f"{option} {path}: cannot write files there ({reason})")
    return made


def _remove_dirs(folders: list[pathlib.Path]) -> None:
    for folder in folders:
        with contextlib.suppress(OSError):  # not empty, or already gone
            folder.rmdir()


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("(Background on this error")]
    return lines[0] if lines else type(error).__name__


def _display_url(url: str) -> str:
    """The storage URL with any password hidden."""
    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: show it as given
        return url


def _sqlite_file(url: str) -> pathlib.Path | None:
    try:
        parsed = sqlalchemy.engine.make_url(url)
    except Exception:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return None if parsed.database == ":memory:" else pathlib.Path(parsed.database)


def _open_storage(
    args: argparse.Namespace, parser: argparse.ArgumentParser
) -> optuna.storages.RDBStorage:
    """The RDB storage with heartbeats, or a usage error naming the problem."""
    shown = _display_url(args.storage)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                args.storage,
                heartbeat_interval=int(max(1, round(args.heartbeat_interval))),
                grace_period=int(max(2, round(args.grace_period))),
            )
    except ImportError:
        if args.storage.startswith("postgresql"):
            hint = (
                "install the PostgreSQL driver with pip install 'optuna-lemonade[postgres]' "
                "(psycopg 3, which postgresql:// URLs use), or name the driver you have, "
                "e.g. postgresql+psycopg2://"
            )
        else:
            hint = "install the database driver this URL names"
        parser.error(f"--storage {shown}: its database driver is not installed; {hint}")
    except Exception as error:  # SQLAlchemy's errors: bad URL, unreachable server, ...
        parser.error(f"--storage {shown}: cannot open it: {_first_line(error)}")


def _load_study(
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
    storage: optuna.storages.RDBStorage,
    sampler: LemonadeSampler,
    objectives: list[str],
) -> optuna.Study:
    study_name = args.study_name or f"lemonade-{args.dataset}"
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=study_name,
            directions=["minimize"] * len(objectives),
            sampler=sampler,
            load_if_exists=True,
        )
    except Exception as error:  # e.g. a study of that name with other directions
        parser.error(f"study {study_name!r}: {_first_line(error)}")
    stored = study.user_attrs.get("lemonade_objectives")
    if stored is None:
        study.set_user_attr("lemonade_objectives", objectives)
        study.set_user_attr("lemonade_dataset", args.dataset)
    elif stored != objectives or study.user_attrs.get("lemonade_dataset") != args.dataset:
        dataset = study.user_attrs.get("lemonade_dataset")
        parser.error(
            f"study {study_name!r} searches {dataset} with objectives {','.join(stored)}; this "
            f"run asks for {args.dataset} with {','.join(objectives)}: use another --study-name"
        )
    return study


def _fail_stale_trials(study: optuna.Study, grace_period: float) -> None:
    """Fail, with a line each, the trials a stopped earlier run left RUNNING."""
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if not running:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.FAIL, TrialState.RUNNING)):
        if trial.number not in {t.number for t in running}:
            continue
        if trial.state == TrialState.FAIL:
            print(
                f"trial {trial.number} was left RUNNING by a run that stopped (no heartbeat "
                f"for {grace_period:g} s): marked FAIL",
                flush=True,
            )
        else:
            print(
                f"trial {trial.number} is RUNNING: in another process, or in a run stopped "
                f"less than {grace_period:g} s ago (it is marked FAIL once its heartbeat is "
                f"{grace_period:g} s old)",
                flush=True,
            )


class _Interrupted(KeyboardInterrupt):
    """Raised in the objective by Ctrl-C or SIGTERM; Optuna then marks the trial FAIL.

    A ``KeyboardInterrupt`` because that is what ``study.optimize`` fails the running trial
    for and then re-raises, whatever ``catch`` says.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class _Stopper:
    """Turns SIGINT and SIGTERM into a clean stop of ``study.optimize``.

    In the objective (training: seconds to minutes) a signal raises :class:`_Interrupted`
    at once. Elsewhere inside ``optimize`` (the sampler choosing a child, Optuna recording a
    trial: milliseconds) raising could leave a trial RUNNING, so the signal is noted and the
    next objective call or the end-of-trial callback stops the study. Outside ``optimize``
    it raises at once.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self.in_optimize = False
        self.in_objective: int | None = None  # the number of the trial being trained
        self.stopped_trial: int | None = None

    def handle(self, signum: int, frame: types.FrameType | None) -> None:
        first = self.signum is None
        self.signum = signum
        if self.in_objective is not None or not self.in_optimize or not first:
            self.stopped_trial = self.in_objective
            raise _Interrupted(signum)

    def check(self) -> None:
        if self.signum is not None:
            self.stopped_trial = self.in_objective
            raise _Interrupted(self.signum)

    def callback(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if self.signum is not None:
            study.stop()

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        previous = {s: signal.signal(s, self.handle) for s in _SIGNAL_EXIT}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


class _DropInterruptLogs(logging.Filter):
    """Optuna logs a stopped trial's failure with a traceback; one line of ours says it."""

    def __init__(self, stopper: _Stopper) -> None:
        super().__init__()
        self._stopper = stopper

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], _Interrupted):
            return False
        trial = self._stopper.stopped_trial
        return trial is None or not record.getMessage().startswith(f"Trial {trial} failed")


@contextlib.contextmanager
def _quiet_interrupts(stopper: _Stopper) -> Iterator[None]:
    # On Optuna's loggers themselves, not their handlers: the progress bar swaps in a
    # handler of its own while it runs.
    loggers = [
        logger
        for name, logger in logging.Logger.manager.loggerDict.items()
        if (name == "optuna" or name.startswith("optuna.")) and isinstance(logger, logging.Logger)
    ]
    drop = _DropInterruptLogs(stopper)
    for logger in loggers:
        logger.addFilter(drop)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(drop)


def _format_count(value: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:.0f}"


def _front_table(
    front: Sequence[FrozenTrial], objectives: list[str], test_errors: dict[int, float]
) -> str:
    header = ["trial", *objectives, "test error" if test_errors else None, "origin"]
    rows = [[h for h in header if h is not None]]
    for trial in sorted(front, key=lambda t: t.values[objectives.index("error")]):
        values = dict(zip(objectives, trial.values, strict=True))
        cells = [str(trial.number)]
        for name in objectives:
            cells.append(f"{values[name]:.4f}" if name == "error" else _format_count(values[name]))
        if test_errors:
            cells.append(f"{test_errors[trial.number]:.4f}")
        parent = trial.user_attrs.get("lemonade_parent")
        operator = trial.user_attrs.get("lemonade_operator")
        cells.append("from scratch" if parent is None else f"{operator} of {parent}")
        rows.append(cells)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    )


def _plot(study: optuna.Study, objectives: list[str], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        axes = optuna.visualization.matplotlib.plot_pareto_front(study, target_names=objectives)
    if len(objectives) == 2:
        for index, name in enumerate(objectives):
            if name != "error":
                (axes.set_xscale if index == 0 else axes.set_yscale)("log")
    axes.set_title(f"{study.study_name}: Pareto front")
    figure = axes.get_figure(root=True)
    assert figure is not None
    figure.tight_layout()
    try:
        figure.savefig(path, dpi=120)
    finally:
        plt.close(figure)


def search(argv: Sequence[str] | None = None) -> int:
    """Run ``optuna-lemonade search`` with ``argv``; return the exit status.

    Problems found before training (options, device, output paths, data set, storage)
    print ``search``'s usage and one line, and exit with status 2, leaving nothing behind.
    SIGINT and SIGTERM stop the search cleanly (see :class:`_Stopper`): exit status 130
    or 143.
    """
    stopper = _Stopper()
    with stopper.installed(), _quiet_interrupts(stopper):
        return _search(argv, stopper)


def _search(argv: Sequence[str] | None, stopper: _Stopper) -> int:
    parser, search_parser = _parsers()
    args = parser.parse_args(argv)
    objectives = _check_options(args, search_parser)
    device = _check_device(args.device, search_parser)
    _check_writable_file(args.plot, "--plot", search_parser)
    defaults = DEFAULTS[args.dataset]
    batch_size = int(args.batch_size or defaults["batch_size"])
    initial_epochs = args.initial_epochs or defaults["initial_epochs"]
    child_epochs = args.child_epochs or defaults["child_epochs"]
    lr = args.lr or defaults["lr"]

    # From here on, a problem undoes what this run made: the checkpoint directory and a
    # new SQLite file.
    made_dirs = _make_dir(args.checkpoint_dir, "--checkpoint-dir", search_parser)
    sqlite_file = _sqlite_file(args.storage)
    new_file = sqlite_file if sqlite_file is not None and not sqlite_file.exists() else None
    storage: optuna.storages.RDBStorage | None = None
    try:
        try:
            data = load_dataset(
                args.dataset,
                data_dir=args.data_dir,
                download=args.download,
                train_size=args.train_size,
                seed=args.seed,
            )
        except (FileNotFoundError, ValueError) as error:
            hint = (
                ""
                if args.download
                else "; --data-dir DIR names a local copy, --download downloads it"
            )
            search_parser.error(f"--dataset {args.dataset}: {error}{hint}")
        storage = _open_storage(args, search_parser)
        space = SearchSpace(data.input_shape, data.num_classes, max_params=args.max_params)
        sampler = LemonadeSampler(
            space,
            # The density estimate runs over the cost objectives the study minimises.
            cheap_objectives=[name for name in objectives if name != "error"] or ["params"],
            artifact_store=FileSystemArtifactStore(args.checkpoint_dir),
            n_proposals=args.n_proposals,
            operators=args.operators,
            seed=args.seed,
        )
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = _load_study(args, search_parser, storage, sampler, objectives)
    except BaseException:  # a usage error, or a signal
        if storage is not None:
            storage.remove_session()
        if new_file is not None:
            new_file.unlink(missing_ok=True)
        _remove_dirs(made_dirs)
        raise
    train_loader, val_loader, test_loader = data.loaders(batch_size=batch_size, seed=args.seed)
    before = len(study.trials)
    print(
        f"study {study.study_name!r} in {_display_url(args.storage)} ({before} trials so far), "
        f"data {args.dataset} {data.input_shape} x {len(data.train)} train / "
        f"{len(data.validation)} validation, device {device}, objectives "
        f"{', '.join(objectives)}",
        flush=True,
    )
    _fail_stale_trials(study, args.grace_period)

    def objective(trial: optuna.Trial) -> list[float]:
        stopper.in_objective = trial.number
        try:
            stopper.check()
            child = sampler.child(trial)
            epochs = initial_epochs if child.parent is None else child_epochs
            start = time.perf_counter()
            error = child.fit(train_loader, val_loader, epochs=epochs, lr=lr, device=device)
        finally:
            stopper.in_objective = None
        values = {"error": error, **child.cheap_objectives}
        origin = "from scratch" if child.parent is None else f"{child.operator} of {child.parent}"
        costs = "  ".join(
            f"{name} {_format_count(values[name]):>7}" for name in objectives if name != "error"
        )
        tqdm.write(
            f"trial {trial.number:4d}  error {error:.4f}  {costs}  {origin:28} "
            f"{time.perf_counter() - start:5.1f} s"
        )
        return [values[name] for name in objectives]

    status = 0
    try:
        stopper.in_optimize = True
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.optimize(
                objective,
                n_trials=args.trials,
                timeout=None if args.minutes is None else args.minutes * 60,
                show_progress_bar=not args.quiet,
                catch=(RuntimeError, ValueError),
                callbacks=[stopper.callback],
            )
    except _Interrupted:
        pass  # Optuna marked the running trial FAIL before re-raising
    finally:
        stopper.in_optimize = False
    if stopper.signum is not None:
        status = _SIGNAL_EXIT[signal.Signals(stopper.signum)]
        marked = (
            "" if stopper.stopped_trial is None else f"; trial {stopper.stopped_trial} marked FAIL"
        )
        print(f"\nstopped by {signal.Signals(stopper.signum).name}{marked}", flush=True)
    problem = _report(args, study, sampler, objectives, before, test_loader, device, stopper)
    return status or problem


def _report(
    args: argparse.Namespace,
    study: optuna.Study,
    sampler: LemonadeSampler,
    objectives: list[str],
    before: int,
    test_loader: Any,
    device: torch.device,
    stopper: _Stopper,
) -> int:
    """Print the front, write the plot; 1 if that failed or every trial of the run failed."""
    this_run = study.get_trials(deepcopy=False)[before:]
    finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    failed = sum(t.state == TrialState.FAIL for t in this_run)
    front = study.best_trials
    test_errors: dict[int, float] = {}
    if args.test and front and stopper.signum is None:
        for trial in front:
            test_errors[trial.number] = evaluate(
                sampler.load_model(trial), test_loader, device=device
            )
    print(
        f"\n{len(this_run)} trials this run ({failed} failed), "
        f"{len(finished)} complete in the study; Pareto front ({len(front)}):"
    )
    print(_front_table(front, objectives, test_errors))
    if args.test and stopper.signum is not None:
        print("(--test skipped: the run was stopped; run again with --trials 1 --test)")
    status = 0
    if finished:
        try:
            _plot(study, objectives, args.plot)
            print(f"\nplot: {args.plot}")
        except OSError as error:
            print(f"optuna-lemonade: cannot write --plot {args.plot}: {error}", file=sys.stderr)
            status = 1
    print(
        f"dashboard: optuna-dashboard {_display_url(args.storage)} --artifact-dir "
        f"{args.checkpoint_dir}"
    )
    if stopper.signum is None and this_run and failed == len(this_run):
        print(
            f"optuna-lemonade: all {failed} trials of this run failed (see the messages above)",
            file=sys.stderr,
        )
        status = 1
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``optuna-lemonade`` command."""
    try:
        return search(argv)
    except BrokenPipeError:  # the output went to a pager or ``head`` that closed
        # Python would complain again when flushing stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt as error:  # a signal before or after the search itself
        signum = error.signum if isinstance(error, _Interrupted) else signal.SIGINT
        print(f"\nstopped by {signal.Signals(signum).name}", file=sys.stderr)
        return _SIGNAL_EXIT[signal.Signals(signum)]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
