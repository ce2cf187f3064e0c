"""The command line's arguments: parsers, per-data-set defaults, checks of the values."""

from __future__ import annotations

import argparse
from typing import Any

from optuna_lemonade.morphisms import OPERATORS
from optuna_lemonade.sampler._cut_placement import CUT_PLACEMENTS
from optuna_lemonade.training import DATASETS
from optuna_lemonade.training._data import data_name
from optuna_lemonade.training._image_folder import parse_image_size


OBJECTIVES = ("error", "params", "macs", "latency")
"""Objective names of the search command; with several data sets, ``error:<data set>``
names each task's error."""

# Per data set: batch size, epochs of initial networks, epochs of children, learning
# rate, augmentation (random crop and horizontal flip) on (1) or off (0). Digits: off, a
# flipped digit is another symbol or none. Fashion-MNIST: off, measured (20-minute
# searches, seeds 0-2 and the confirmation seeds 10-12: worse on the mean at every size,
# on 28 of 30 seed and size pairs; benchmarks/README.md). CIFAR: on, as in every CIFAR
# recipe; not measured here.
DEFAULTS: dict[str, dict[str, float]] = {
    "digits": {
        "batch_size": 32,
        "initial_epochs": 10,
        "child_epochs": 4,
        "lr": 0.05,
        "augment": 0,
    },
    "digits-28": {
        "batch_size": 32,
        "initial_epochs": 10,
        "child_epochs": 4,
        "lr": 0.05,
        "augment": 0,
    },
    "fashion-mnist": {
        "batch_size": 128,
        "initial_epochs": 3,
        "child_epochs": 2,
        "lr": 0.05,
        "augment": 0,
    },
    "cifar10": {
        "batch_size": 128,
        "initial_epochs": 5,
        "child_epochs": 2,
        "lr": 0.05,
        "augment": 1,
    },
    "cifar100": {
        "batch_size": 128,
        "initial_epochs": 5,
        "child_epochs": 2,
        "lr": 0.05,
        "augment": 1,
    },
}

SMALL_FOLDER = 5_000
"""An image folder with fewer training images than this trains as digits does (small
batches, more epochs), a larger one as fashion-mnist does; both without augmentation:
it made the search's networks worse on the one data set measured (its short fine-tunes
do not converge under crops and flips), and a flip changes the label of some images
(text, digits, arrows). ``--augment`` turns it on."""


def defaults_for(name: str, train_images: int) -> dict[str, float]:
    """The training defaults of a built-in data set, or of an image folder by its size."""
    if name in DEFAULTS:
        return DEFAULTS[name]
    return DEFAULTS["digits" if train_images < SMALL_FOLDER else "fashion-mnist"]


# Exit statuses of a run stopped by a signal, as a shell reports them (128 + signal).
def per_dataset(key: str) -> str:
    """``"32 for digits, 128 for fashion-mnist and cifar10"`` for the --help texts."""
    groups: dict[str, list[str]] = {}
    for dataset, values in DEFAULTS.items():
        value = values[key]
        groups.setdefault(f"{value:g}", []).append(dataset)
    if len(groups) == 1:
        return f"default: {next(iter(groups))}"
    parts = [f"{value} for {' and '.join(names)}" for value, names in groups.items()]
    return (
        "default: "
        + ", ".join(parts)
        + f"; for an image folder as digits below {SMALL_FOLDER:,} training images, else as "
        "fashion-mnist"
    )


def parsers() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The top-level parser and the ``search`` sub-command's parser."""
    parser, commands = command_parsers()
    return parser, commands["search"]


def command_parsers() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser and each sub-command's parser by name."""
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
        "--dataset",
        default="digits",
        help=f"data set (default: digits) from {', '.join(DATASETS)}, or a directory of "
        "your images with one sub-folder per class (PATH/cat/1.png, PATH/dog/2.jpg: "
        "torchvision's ImageFolder layout; 20%% held out for test); or several with one "
        "image shape, separated by commas (e.g. fashion-mnist,digits-28): one network with "
        "a head per data set, trained on all, with an error objective per data set; the "
        "first one's defaults apply",
    )
    data.add_argument(
        "--image-size",
        help="size of an image folder's images, N or HxW (default: the most common size, "
        "scaled down to at most 64 on the longer side); others are resized",
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
        help="use only this many training images (default: all of the training split); with "
        "several data sets, of each, and a smaller one keeps all of its images",
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
        "--no-dashboard",
        action="store_true",
        help="write no optuna-dashboard pages (by default, when optuna-lemonade[dashboard] "
        "is installed: a lineage note and an architecture diagram per trial, and the "
        "genealogy figure on the study page)",
    )
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
    processes = search.add_argument_group("workers")
    processes.add_argument(
        "--workers",
        type=int,
        help="worker processes training networks at once on the study, one progress "
        "display and one report for all (default: one per CPU core on the CPU; 1 on CUDA "
        "and when latency is measured on the CPU; LEMONADE's networks are small, so "
        "separate processes use the cores better than threads inside one network)",
    )
    processes.add_argument(
        "--threads",
        type=int,
        help="PyTorch threads of each worker (default: 1 with several workers; with one, "
        "PyTorch's default)",
    )
    # A worker process of a run with --workers N (set by that run, not by users).
    processes.add_argument("--worker-index", type=int, help=argparse.SUPPRESS)
    searching = search.add_argument_group("search")
    searching.add_argument(
        "--objectives",
        default=None,
        help=f"comma-separated, all minimised, from {', '.join(OBJECTIVES)}; must include "
        "error, or with several data sets error:DATASET for each (default: error,params, "
        "or each data set's error and params)",
    )
    searching.add_argument(
        "--operators",
        default=",".join(OPERATORS),
        help="comma-separated morphism operators (default: all: " + ", ".join(OPERATORS) + ")",
    )
    searching.add_argument(
        "--initial-model",
        action="append",
        metavar="FILE",
        help="start from this trained network instead of the three initial networks trained "
        "from scratch: a checkpoint file, as the search saves them or as "
        "optuna_lemonade.export.save_checkpoint(optuna_lemonade.from_module(model, "
        "input_shape), FILE) writes one from your PyTorch model; it is measured as it is, "
        "and its children inherit its weights; repeat for several",
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
        "--cut-placement",
        choices=CUT_PLACEMENTS,
        default="uniform",
        help="where shrinking morphisms cut: any place alike (uniform), places drawn by the "
        "parameters they remove (by_size), or by size in networks smaller than the "
        "population's median only (default: uniform)",
    )
    searching.add_argument(
        "--largest-initial-first",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="make the first child a child of the largest initial network, so that the "
        "front keeps its large end; meant with --cut-placement by_size_below_median "
        "(default: off)",
    )
    searching.add_argument(
        "--seed", type=int, default=0, help="seed of the data split and decisions (default: 0)"
    )
    latency = search.add_argument_group(
        "latency objective (measured inference time, milliseconds; kept in the study)"
    )
    latency.add_argument(
        "--latency-device", default="cpu", help="device to measure on (default: cpu)"
    )
    latency.add_argument(
        "--latency-batch-size", type=int, default=1, help="images per forward pass (default: 1)"
    )
    latency.add_argument(
        "--latency-threads", type=int, default=1, help="PyTorch threads (default: 1)"
    )
    latency.add_argument(
        "--latency-warmup", type=int, default=3, help="untimed passes first (default: 3)"
    )
    latency.add_argument(
        "--latency-repeats",
        type=int,
        default=15,
        help="timed passes; the median is the objective (default: 15)",
    )
    training = search.add_argument_group("training")
    training.add_argument(
        "--initial-epochs",
        type=float,
        help="epochs of the initial networks, from scratch ("
        + per_dataset("initial_epochs")
        + ")",
    )
    training.add_argument(
        "--child-epochs",
        type=float,
        help="fine-tuning epochs of children (" + per_dataset("child_epochs") + "); a "
        "child with fewer multiply-adds than half the largest initial network's trains "
        "longer, up to 3 times, by sqrt(that / its multiply-adds)",
    )
    training.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="random crop (zero padding of 1/8 of the side) and horizontal flip of the "
        "training images (default: on for cifar10 and cifar100; off for digits, "
        "fashion-mnist and image folders)",
    )
    training.add_argument(
        "--flat-child-epochs",
        action="store_true",
        help="every child trains exactly --child-epochs (no longer for cheap children)",
    )
    training.add_argument(
        "--batch-size", type=int, help="batch size (" + per_dataset("batch_size") + ")"
    )
    training.add_argument(
        "--lr", type=float, help="initial learning rate (" + per_dataset("lr") + ")"
    )
    training.add_argument(
        "--device",
        default="auto",
        help="auto, cpu, cuda, cuda:1, ... (default: auto, CUDA when available)",
    )
    export, train = _take_away_parsers(commands)
    return parser, {"search": search, "export": export, "train": train}


def _network_source(command: argparse.ArgumentParser) -> None:
    """Where ``export`` and ``train`` find the network: a file, or a trial of a study."""
    source = command.add_argument_group("the network (a checkpoint file, or --trial N of a study)")
    source.add_argument(
        "checkpoint",
        nargs="?",
        help="a checkpoint file, e.g. trial-12.pt as optuna-dashboard downloads it",
    )
    source.add_argument("--trial", type=int, help="the number of a trial of the study")
    source.add_argument(
        "--storage",
        default="sqlite:///lemonade.db",
        help="with --trial: the study's storage (default: sqlite:///lemonade.db)",
    )
    source.add_argument(
        "--study-name", help="with --trial: the study (default: the storage's only study)"
    )
    source.add_argument(
        "--checkpoint-dir",
        default="lemonade-checkpoints",
        help="with --trial: the search's checkpoint directory (default: lemonade-checkpoints)",
    )


def _take_away_parsers(commands: Any) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    export = commands.add_parser(
        "export",
        help="export a network for deployment (ONNX, torch.export)",
        usage="optuna-lemonade export (CHECKPOINT | --trial N) [--format F] [--output FILE]",
        description=(
            "Export a searched network with its weights: ONNX (checked against "
            "onnxruntime; needs optuna-lemonade[export]) or a torch.export program (.pt2). "
            "Both take N x C x H x W float images of any batch size N and return logits."
        ),
    )
    _network_source(export)
    export.add_argument(
        "--format", choices=("onnx", "pt2"), default="onnx", help="file format (default: onnx)"
    )
    export.add_argument(
        "--output",
        help="the file to write (default: the checkpoint's name, or trial-N, with .onnx or .pt2)",
    )
    train = commands.add_parser(
        "train",
        help="train a network further (or from scratch) and save it",
        usage="optuna-lemonade train (CHECKPOINT | --trial N) --epochs E [options]",
        description=(
            "Train a searched network further from its weights, or from scratch with "
            "--from-scratch (a final training run of the architecture), on a data set; "
            "report validation (and with --test, test) error, and save a checkpoint."
        ),
    )
    _network_source(train)
    train.add_argument("--epochs", type=float, required=True, help="epochs to train")
    train.add_argument(
        "--dataset",
        default="digits",
        help=f"data set (default: digits): {', '.join(DATASETS)} or a directory of images, "
        "as for search",
    )
    train.add_argument("--image-size", help="an image folder's image size, as for search")
    train.add_argument("--data-dir", help="local copy of the data set, as for search")
    train.add_argument(
        "--download", action="store_true", help="download the data set if not found locally"
    )
    train.add_argument(
        "--from-scratch", action="store_true", help="new random weights instead of the saved"
    )
    train.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="random crop and horizontal flip of the training images (default as for search)",
    )
    train.add_argument(
        "--lr", type=float, help="initial learning rate (" + per_dataset("lr") + ")"
    )
    train.add_argument(
        "--batch-size", type=int, help="batch size (" + per_dataset("batch_size") + ")"
    )
    train.add_argument("--device", default="auto", help="auto, cpu, cuda, ... (default: auto)")
    train.add_argument("--seed", type=int, default=0, help="seed of data order and weights")
    train.add_argument(
        "--test", action="store_true", help="evaluate once on the test split at the end"
    )
    train.add_argument(
        "--output", help="checkpoint file to write (default: the input's name + -trained.pt)"
    )
    return export, train


def check_image_size(
    datasets: list[str], image_size: str | None, parser: argparse.ArgumentParser
) -> None:
    """``--image-size`` is well formed, and there is an image folder for it.

    Whether each data set exists is for loading it to say (it needs the file system).
    """
    if image_size is None:
        return
    try:
        parse_image_size(image_size)
    except ValueError as error:
        parser.error(f"--image-size: {error}")
    if all(name in DATASETS for name in datasets):
        parser.error("--image-size is for image folders; built-in data sets have their size")


def check_options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[str]:
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
        "--latency-batch-size": args.latency_batch_size,
        "--latency-threads": args.latency_threads,
        "--latency-repeats": args.latency_repeats,
        "--workers": args.workers,
        "--threads": args.threads,
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
    if args.latency_warmup < 0:
        parser.error(f"--latency-warmup must be 0 or more, got {args.latency_warmup}")
    datasets = [name.strip() for name in args.dataset.split(",") if name.strip()]
    if not datasets or len(set(datasets)) != len(datasets):
        parser.error(
            f"--dataset must name distinct data sets from {', '.join(DATASETS)} or "
            f"directories, got {args.dataset!r}"
        )
    check_image_size(datasets, args.image_size, parser)
    # Objectives, studies and reports name the data by name: an image folder by its own
    # name, however the path to it is written.
    names = [data_name(name) for name in datasets]
    if len(set(names)) != len(names):
        parser.error(f"--dataset: two data sets are named alike ({', '.join(names)})")
    args.datasets = datasets
    args.dataset = ",".join(names)
    errors = ["error"] if len(datasets) == 1 else [f"error:{name}" for name in names]
    if args.objectives is None:
        args.objectives = ",".join([*errors, "params"])
    objectives = [name.strip() for name in args.objectives.split(",") if name.strip()]
    known = [*errors, *OBJECTIVES[1:]]
    unknown = [name for name in objectives if name not in known]
    if unknown or not set(errors) <= set(objectives) or len(set(objectives)) != len(objectives):
        parser.error(
            f"--objectives must list distinct names from {', '.join(known)} including "
            f"{' and '.join(errors)}, got {args.objectives!r}"
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
