"""``optuna-lemonade export`` and ``optuna-lemonade train``: take a network away."""

from __future__ import annotations

import argparse
import pathlib

import optuna
from optuna.artifacts import FileSystemArtifactStore
from optuna.trial import TrialState
import torch

from optuna_lemonade._storage_keys import DECISION_KEY
from optuna_lemonade.architecture import summarize
from optuna_lemonade.checkpoints import CheckpointError
from optuna_lemonade.checkpoints import CheckpointStore
from optuna_lemonade.cli._arguments import check_image_size
from optuna_lemonade.cli._arguments import defaults_for
from optuna_lemonade.cli._environment import check_device
from optuna_lemonade.cli._environment import check_writable_file
from optuna_lemonade.cli._environment import display_url
from optuna_lemonade.cli._environment import first_line
from optuna_lemonade.cli._environment import load_data
from optuna_lemonade.cli._environment import open_storage
from optuna_lemonade.cli._environment import sqlite_file
from optuna_lemonade.export import export_onnx
from optuna_lemonade.export import export_program
from optuna_lemonade.export import load_checkpoint
from optuna_lemonade.export import onnx_deviation
from optuna_lemonade.export import program_deviation
from optuna_lemonade.export import save_checkpoint
from optuna_lemonade.network import build_model
from optuna_lemonade.network import GraphNetwork
from optuna_lemonade.sampler._decision import Decision
from optuna_lemonade.training import evaluate
from optuna_lemonade.training import fine_tune


ONNX_TOLERANCE = 1e-4
"""Largest difference of logits between onnxruntime and PyTorch that export accepts."""


def _load_from_study(args: argparse.Namespace, parser: argparse.ArgumentParser) -> GraphNetwork:
    database = sqlite_file(args.storage)
    if database is not None and not database.exists():  # RDBStorage would create it
        parser.error(f"--storage {display_url(args.storage)}: no such database file")
    storage = open_storage(args, parser)
    try:
        names = optuna.get_all_study_names(storage=storage)
        name = args.study_name
        if name is None:
            if len(names) != 1:
                parser.error(
                    f"--storage holds {len(names)} studies ({', '.join(names) or 'none'}): "
                    "name one with --study-name"
                )
            name = names[0]
        elif name not in names:
            parser.error(f"--study-name {name!r}: not in --storage (it holds: {', '.join(names)})")
        trials = optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
        if not 0 <= args.trial < len(trials):
            parser.error(f"--trial {args.trial}: study {name!r} has trials 0-{len(trials) - 1}")
        trial = trials[args.trial]
        if trial.state != TrialState.COMPLETE:
            parser.error(f"--trial {args.trial} is {trial.state.name}, not COMPLETE")
        try:
            architecture = Decision.from_dict(trial.system_attrs[DECISION_KEY]).architecture
        except (KeyError, TypeError, ValueError) as error:
            parser.error(
                f"--trial {args.trial}: no readable LEMONADE decision ({first_line(error)}); "
                "was the study searched with optuna-lemonade?"
            )
        if not pathlib.Path(args.checkpoint_dir).is_dir():
            parser.error(f"--checkpoint-dir {args.checkpoint_dir}: no such directory")
        store = CheckpointStore(FileSystemArtifactStore(args.checkpoint_dir))
        try:
            return store.load(trial, architecture)
        except CheckpointError as error:
            parser.error(f"--trial {args.trial}: {error}")
    finally:
        storage.remove_session()


def load_network(
    args: argparse.Namespace, parser: argparse.ArgumentParser
) -> tuple[GraphNetwork, pathlib.Path]:
    """The network and the stem of default output names (``trial-12``)."""
    if (args.checkpoint is None) == (args.trial is None):
        parser.error("name the network: a checkpoint file, or --trial N of a study (one of them)")
    if args.checkpoint is not None:
        try:
            model = load_checkpoint(args.checkpoint)
        except FileNotFoundError:
            parser.error(f"{args.checkpoint}: no such file")
        except IsADirectoryError:
            parser.error(f"{args.checkpoint}: is a directory, give a checkpoint file")
        except CheckpointError as error:
            parser.error(str(error))
        return model, pathlib.Path(args.checkpoint).with_suffix("")
    return _load_from_study(args, parser), pathlib.Path(f"trial-{args.trial}")


def export_main(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    model, stem = load_network(args, parser)
    output = pathlib.Path(args.output or f"{stem}.{args.format}")
    check_writable_file(str(output), "--output", parser)
    shape = "x".join(str(v) for v in model.architecture.input_shape)
    print(f"{summarize(model.architecture)}; input N x {shape}", flush=True)
    if args.format == "onnx":
        try:
            export_onnx(model, output, check=False)
            deviation = onnx_deviation(model, output)
        except ImportError as error:
            parser.error(str(error))
        if deviation > ONNX_TOLERANCE:
            print(
                f"optuna-lemonade: {output}: onnxruntime's logits differ from PyTorch's by "
                f"{deviation:.3g} (> {ONNX_TOLERANCE:g}); the file is kept for inspection",
                flush=True,
            )
            return 1
        check = f"onnxruntime's logits match PyTorch's within {deviation:.1e}"
    else:
        export_program(model, output)
        deviation = program_deviation(model, output)
        check = f"torch.export.load(...).module() matches PyTorch within {deviation:.1e}"
    print(f"wrote {output} ({output.stat().st_size / 1e3:.1f} kB): {check}", flush=True)
    return 0


def train_main(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    for option, value in (
        ("--epochs", args.epochs),
        ("--lr", args.lr),
        ("--batch-size", args.batch_size),
    ):
        if value is not None and not value > 0:
            parser.error(f"{option} must be positive, got {value}")
    model, stem = load_network(args, parser)
    architecture = model.architecture
    suffix = "-scratch.pt" if args.from_scratch else "-trained.pt"
    output = pathlib.Path(args.output or f"{stem}{suffix}")
    check_writable_file(str(output), "--output", parser)
    device = check_device(args.device, parser)
    check_image_size([args.dataset], args.image_size, parser)
    data = load_data(args.dataset, args, parser)
    if (data.input_shape, data.num_classes) != (
        architecture.input_shape,
        architecture.num_classes,
    ):
        parser.error(
            f"--dataset {args.dataset} has {data.input_shape} images in {data.num_classes} "
            f"classes; the network takes {architecture.input_shape} and has "
            f"{architecture.num_classes} outputs"
        )
    defaults = defaults_for(args.dataset, len(data.train))
    augment = bool(defaults["augment"]) if args.augment is None else args.augment
    train, validation, test = data.loaders(
        batch_size=int(args.batch_size or defaults["batch_size"]), seed=args.seed
    )
    if args.from_scratch:
        model = build_model(architecture, seed=args.seed)
        print(f"{summarize(architecture)}; new random weights", flush=True)
    else:
        before = evaluate(model, validation, device=device)
        print(f"{summarize(architecture)}; validation error before: {before:.4f}", flush=True)
    torch.manual_seed(args.seed)
    fine_tune(
        model,
        train,
        epochs=args.epochs,
        lr=args.lr or defaults["lr"],
        device=device,
        augment=augment,
        description=f"training {args.epochs:g} epochs",
    )
    validation_error = evaluate(model, validation, device=device)
    line = f"validation error after {args.epochs:g} epochs: {validation_error:.4f}"
    if args.test:
        line += f"; test error: {evaluate(model, test, device=device):.4f}"
    save_checkpoint(model, output)  # renamed into place: never half a file
    print(f"{line}\nwrote {output}", flush=True)
    return 0
