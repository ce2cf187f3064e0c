"""Checks and set-up against the machine before training: device, output paths, storage."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import pathlib
import sys
import tempfile
from typing import Any
import warnings

import optuna
from optuna.trial import TrialState
import sqlalchemy.engine
import torch

from optuna_lemonade._warning import LemonadeWarning
from optuna_lemonade.architecture import SearchSpace
from optuna_lemonade.checkpoints import CheckpointError
from optuna_lemonade.export import load_checkpoint
from optuna_lemonade.network import GraphNetwork
from optuna_lemonade.sampler import LemonadeSampler
from optuna_lemonade.training import DATASETS
from optuna_lemonade.training import DatasetSplits
from optuna_lemonade.training import default_device
from optuna_lemonade.training import load_dataset


def check_device(name: str, parser: argparse.ArgumentParser) -> torch.device:
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


def check_writable_file(path: str, option: str, parser: argparse.ArgumentParser) -> None:
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


def make_dir(path: str, option: str, parser: argparse.ArgumentParser) -> list[pathlib.Path]:
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
        remove_dirs(made)
        reason = "exists and is not a directory" if target.is_file() else error.strerror
        parser.error(f"{option} {path}: cannot write files there ({reason})")
    return made


def remove_dirs(folders: list[pathlib.Path]) -> None:
    for folder in folders:
        with contextlib.suppress(OSError):  # not empty, or already gone
            folder.rmdir()


def first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("(Background on this error")]
    return lines[0] if lines else type(error).__name__


def display_url(url: str) -> str:
    """The storage URL with any password hidden."""
    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: show it as given
        return url


def sqlite_file(url: str) -> pathlib.Path | None:
    try:
        parsed = sqlalchemy.engine.make_url(url)
    except Exception:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return None if parsed.database == ":memory:" else pathlib.Path(parsed.database)


def load_data(
    name: str,
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
    *,
    train_size: int | None = None,
    shrink: bool = False,
) -> DatasetSplits:
    """One data set of ``--dataset`` (a built-in one or an image folder), or a usage error.

    What an image folder's loading worked around (unreadable files skipped, images
    resized) is one line each on stderr, by the run and not again by each of its
    workers. ``shrink``: a data set with fewer training images than ``train_size``
    keeps all of them.
    """
    options: dict[str, Any] = (
        {"data_dir": args.data_dir, "download": args.download}
        if name in DATASETS
        else {"image_size": args.image_size}
    )
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", LemonadeWarning)
            try:
                data = load_dataset(name, train_size=train_size, seed=args.seed, **options)
            except ValueError:
                if not shrink or train_size is None:
                    raise
                data = load_dataset(name, seed=args.seed, **options)
    except FileNotFoundError as error:
        hint = (
            ""
            if args.download or name not in DATASETS
            else "; --data-dir DIR names a local copy, --download downloads it"
        )
        parser.error(f"--dataset {name}: {_without(name, error)}{hint}")
    except ValueError as error:
        parser.error(f"--dataset {name}: {_without(name, error)}")
    if getattr(args, "worker_index", None) is None:
        for warning in caught:
            if issubclass(warning.category, LemonadeWarning):
                print(f"optuna-lemonade: {warning.message}", file=sys.stderr, flush=True)
    return data


def _without(name: str, error: Exception) -> str:
    """The error's message without the data set's name in front (the line names it)."""
    message = str(error)
    return message[len(name) + 2 :] if message.startswith(f"{name}: ") else message


def check_outside_image_folders(
    datasets: list[str], checkpoint_dir: str, parser: argparse.ArgumentParser
) -> None:
    """The checkpoint directory must not lie in an image folder: it would be a class."""
    target = pathlib.Path(checkpoint_dir).resolve()
    for name in datasets:
        if name in DATASETS:
            continue
        folder = pathlib.Path(name).resolve()
        if target == folder or folder in target.parents:
            parser.error(
                f"--checkpoint-dir {checkpoint_dir}: inside the image folder {name}, where "
                "it would be read as a class; run from outside the folder or give "
                "--checkpoint-dir elsewhere"
            )


def load_datasets(
    args: argparse.Namespace, parser: argparse.ArgumentParser
) -> list[DatasetSplits]:
    """The data sets of ``--dataset``, or a usage error naming the problem.

    Several data sets must share an image shape and have distinct names: they are the
    tasks of one network. With several, ``--train-size`` caps each (a small data set
    such as digits-28 keeps all of its images); with one, more than it has is an error.
    """
    several = len(args.datasets) > 1
    datasets = [
        load_data(name, args, parser, train_size=args.train_size, shrink=several)
        for name in args.datasets
    ]
    shapes = {d.name: d.input_shape for d in datasets}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        parser.error(f"--dataset: the data sets of one search must share an image shape: {listed}")
    return datasets


def load_initial_models(
    files: list[str] | None, space: SearchSpace, parser: argparse.ArgumentParser
) -> list[GraphNetwork] | None:
    """The networks of ``--initial-model``, checked against the data and the limits."""
    if not files:
        return None
    networks: list[GraphNetwork] = []
    for file in files:
        try:
            network = load_checkpoint(file)
        except CheckpointError as error:  # its message starts with the file's name
            parser.error(f"--initial-model {error}")
        except OSError as error:
            parser.error(f"--initial-model {file}: {error.strerror or error}")
        arch = network.architecture
        if (arch.input_shape, arch.num_classes) != (space.input_shape, space.num_classes):
            parser.error(
                f"--initial-model {file}: takes {arch.input_shape} images to "
                f"{arch.num_classes} classes; the data has {space.input_shape} images in "
                f"{space.num_classes} classes"
            )
        problems = space.violations(arch)
        if problems:
            parser.error(
                f"--initial-model {file}: outside the search space ({'; '.join(problems)}); "
                "raise --max-params if it is the parameters"
            )
        if any(arch == other.architecture for other in networks):
            parser.error(f"--initial-model {file}: the same architecture as another one")
        networks.append(network)
    return networks


def open_storage(
    args: argparse.Namespace, parser: argparse.ArgumentParser
) -> optuna.storages.RDBStorage:
    """The RDB storage, or a usage error naming the problem.

    With heartbeats where ``args`` sets them (the search).
    """
    shown = display_url(args.storage)
    heartbeat = getattr(args, "heartbeat_interval", None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            # SQLite lets one writer in at a time; with several workers a writer may
            # wait for another's transaction: up to a minute, not SQLite's default 5 s.
            engine = {"connect_args": {"timeout": 60}} if args.storage.startswith("sqlite") else {}
            if heartbeat is None:
                return optuna.storages.RDBStorage(args.storage, engine_kwargs=engine)
            return optuna.storages.RDBStorage(
                args.storage,
                engine_kwargs=engine,
                heartbeat_interval=int(max(1, round(heartbeat))),
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
        parser.error(f"--storage {shown}: cannot open it: {first_line(error)}")


def _data_description(datasets: list[DatasetSplits]) -> list[dict[str, Any]]:
    return [
        {
            "name": d.name,
            "input_shape": list(d.input_shape),
            "classes": list(d.classes) if d.classes is not None else d.num_classes,
        }
        for d in datasets
    ]


def load_study(
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
    storage: optuna.storages.RDBStorage,
    sampler: LemonadeSampler,
    objectives: list[str],
    datasets: list[DatasetSplits],
) -> optuna.Study:
    """Create or load the study; refuse one made for other data or objectives.

    The data is compared by its image shape and classes (an image folder's class names),
    not only its name: two folders of one name would otherwise share a study.
    """
    study_name = args.study_name or f"lemonade-{args.dataset.replace(',', '+')}"
    # args.dataset: the data sets' names (an image folder's: its directory's name).
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=study_name,
            directions=["minimize"] * len(objectives),
            sampler=sampler,
            load_if_exists=True,
        )
    except Exception as error:  # e.g. a study of that name with other directions
        parser.error(f"study {study_name!r}: {first_line(error)}")
    described = _data_description(datasets)
    known = study.user_attrs.get("lemonade_data")
    if known is not None and known != described:
        parser.error(
            f"study {study_name!r} searches other data ({_shown(known)}) than this run's "
            f"({_shown(described)}): use another --study-name"
        )
    if known is None:
        study.set_user_attr("lemonade_data", described)
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
    if study.metric_names is None:  # optuna-dashboard shows "0", "1" without them
        with warnings.catch_warnings():  # experimental since Optuna 3.2, and stable
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(objectives)
    return study


def _shown(description: Any) -> str:
    if not isinstance(description, list):
        return repr(description)[:120]
    parts = []
    for entry in description:
        if not isinstance(entry, dict):
            return repr(description)[:120]
        classes = entry.get("classes")
        count = len(classes) if isinstance(classes, list) else classes
        shape = "x".join(map(str, entry.get("input_shape", [])))
        parts.append(f"{entry.get('name')}: {shape} images, {count} classes")
    return "; ".join(parts)


def dashboard_installed() -> bool:
    """Whether the dashboard pages' dependencies are installed (``[dashboard]`` extra)."""
    return all(
        importlib.util.find_spec(module) is not None for module in ("optuna_dashboard", "plotly")
    )


def fail_trials_left_running(study: optuna.Study, grace_period: float) -> None:
    """Fail, with a line each, the trials a stopped earlier run left RUNNING."""
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if not running:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    now = study.get_trials(deepcopy=False)  # a study's trials are listed by number
    for trial in (now[t.number] for t in running):
        if trial.state == TrialState.FAIL:
            print(
                f"trial {trial.number} was left RUNNING by a run that stopped (no heartbeat "
                f"for {grace_period:g} s): marked FAIL",
                flush=True,
            )
        elif trial.state == TrialState.RUNNING:  # else another process finished it meanwhile
            print(
                f"trial {trial.number} is RUNNING: in another process, or in a run stopped "
                f"less than {grace_period:g} s ago (it is marked FAIL once its heartbeat is "
                f"{grace_period:g} s old)",
                flush=True,
            )
