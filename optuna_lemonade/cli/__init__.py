"""The ``optuna-lemonade`` command: run a complete LEMONADE search end to end."""

from __future__ import annotations

from collections.abc import Sequence
import os
import signal
import sys
import time
import warnings

import optuna
from optuna.artifacts import FileSystemArtifactStore
import torch
from tqdm.auto import tqdm

from optuna_lemonade.architecture import SearchSpace
from optuna_lemonade.cli._arguments import check_options
from optuna_lemonade.cli._arguments import command_parsers
from optuna_lemonade.cli._arguments import defaults_for
from optuna_lemonade.cli._arguments import parsers
from optuna_lemonade.cli._environment import check_device
from optuna_lemonade.cli._environment import check_outside_image_folders
from optuna_lemonade.cli._environment import check_writable_file
from optuna_lemonade.cli._environment import display_url
from optuna_lemonade.cli._environment import fail_trials_left_running
from optuna_lemonade.cli._environment import load_datasets
from optuna_lemonade.cli._environment import load_initial_models
from optuna_lemonade.cli._environment import load_study
from optuna_lemonade.cli._environment import make_dir
from optuna_lemonade.cli._environment import open_storage
from optuna_lemonade.cli._environment import remove_dirs
from optuna_lemonade.cli._environment import sqlite_file
from optuna_lemonade.cli._pages import Pages
from optuna_lemonade.cli._report import format_cost
from optuna_lemonade.cli._report import report
from optuna_lemonade.cli._signals import Interrupted
from optuna_lemonade.cli._signals import quiet_interrupts
from optuna_lemonade.cli._signals import SIGNAL_EXIT
from optuna_lemonade.cli._signals import Stopper
from optuna_lemonade.cli._take_away import export_main
from optuna_lemonade.cli._take_away import train_main
from optuna_lemonade.cli._workers import resolve as resolve_workers
from optuna_lemonade.cli._workers import Workers
from optuna_lemonade.latency import Latency
from optuna_lemonade.sampler import LemonadeSampler
from optuna_lemonade.training import Task


def search(argv: Sequence[str] | None = None) -> int:
    """Run ``optuna-lemonade search`` with ``argv``; return the exit status.

    Problems found before training (options, device, output paths, data set, storage)
    print ``search``'s usage and one line, and exit with status 2, leaving nothing behind.
    SIGINT and SIGTERM stop the search cleanly (see :class:`Stopper`): exit status 130
    or 143.
    """
    stopper = Stopper()
    with stopper.installed(), quiet_interrupts(stopper):
        return _search(argv, stopper)


def _search(argv: Sequence[str] | None, stopper: Stopper) -> int:
    parser, search_parser = parsers()
    args = parser.parse_args(argv)
    objectives = check_options(args, search_parser)
    device = check_device(args.device, search_parser)
    workers, threads = resolve_workers(args, device, objectives)
    if threads is not None:
        torch.set_num_threads(threads)
    is_worker = args.worker_index is not None  # one of the processes of a --workers run
    check_writable_file(args.plot, "--plot", search_parser)

    check_outside_image_folders(args.datasets, args.checkpoint_dir, search_parser)

    # From here on, a problem undoes what this run made: the checkpoint directory and a
    # new SQLite file.
    made_dirs = make_dir(args.checkpoint_dir, "--checkpoint-dir", search_parser)
    database = sqlite_file(args.storage)
    new_file = database if database is not None and not database.exists() else None
    storage: optuna.storages.RDBStorage | None = None
    try:
        datasets = load_datasets(args, search_parser)
        storage = open_storage(args, search_parser)
        data = datasets[0]
        num_classes = sum(d.num_classes for d in datasets)
        space = SearchSpace(data.input_shape, num_classes, max_params=args.max_params)
        initial = load_initial_models(args.initial_model, space, search_parser)
        cheap = [name for name in objectives if not name.startswith("error")] or ["params"]
        try:
            measured = {}
            if "latency" in objectives:
                measured["latency"] = Latency(
                    device=args.latency_device,
                    batch_size=args.latency_batch_size,
                    threads=args.latency_threads,
                    warmup=args.latency_warmup,
                    repeats=args.latency_repeats,
                )
        except ValueError as error:
            search_parser.error(f"--latency-device {args.latency_device}: {error}")
        artifact_store = FileSystemArtifactStore(args.checkpoint_dir)
        sampler = LemonadeSampler(
            space,
            # The density estimate runs over the cost objectives the study minimises.
            cheap_objectives=[measured.get(name, name) for name in cheap],
            artifact_store=artifact_store,
            n_proposals=args.n_proposals,
            operators=args.operators,
            cut_placement=args.cut_placement,
            largest_initial_first=args.largest_initial_first,
            seed=args.seed,
            initial_architectures=initial,
        )
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = load_study(args, search_parser, storage, sampler, objectives, datasets)
    except BaseException:  # a usage error, or a signal
        if storage is not None:
            storage.remove_session()
        if new_file is not None:
            new_file.unlink(missing_ok=True)
        remove_dirs(made_dirs)
        raise
    defaults = defaults_for(args.datasets[0], len(datasets[0].train))
    batch_size = int(args.batch_size or defaults["batch_size"])
    initial_epochs = args.initial_epochs or defaults["initial_epochs"]
    child_epochs = args.child_epochs or defaults["child_epochs"]
    lr = args.lr or defaults["lr"]
    augment = bool(defaults["augment"]) if args.augment is None else args.augment
    tasks = [
        Task(d.name, d.num_classes, *d.loaders(batch_size=batch_size, seed=args.seed))
        for d in datasets
    ]
    before = len(study.trials)
    sizes = ", ".join(
        f"{d.name} {len(d.train)} train / {len(d.validation)} validation" for d in datasets
    )
    if not is_worker:
        each = threads or torch.get_num_threads()
        print(
            f"study {study.study_name!r} in {display_url(args.storage)} ({before} trials so "
            f"far), data {data.input_shape}: {sizes}; device {device}, objectives "
            f"{', '.join(objectives)}; {workers} worker{'s' if workers > 1 else ''} x "
            f"{each} thread{'s' if each > 1 else ''}; augmentation {'on' if augment else 'off'}",
            flush=True,
        )
        fail_trials_left_running(study, args.grace_period)
    if workers > 1:
        words = list(sys.argv[1:] if argv is None else argv)
        run = Workers(words, workers, threads, args.trials, args.minutes, progress=not args.quiet)
        run.run()
        if run.signum is not None:
            stopper.signum = run.signum
            print(f"\nstopped by {signal.Signals(run.signum).name}", flush=True)
        for index, code in run.failed:
            print(f"optuna-lemonade: worker {index} exited with status {code}", file=sys.stderr)
        Pages(study, artifact_store, enabled=not args.no_dashboard).save_genealogy()
        problem = report(args, study, sampler, objectives, before, tasks, device, stopper)
        status = SIGNAL_EXIT[signal.Signals(run.signum)] if run.signum is not None else 0
        return status or problem or (1 if run.failed else 0)
    pages = Pages(study, artifact_store, enabled=not args.no_dashboard)

    def objective(trial: optuna.Trial) -> list[float]:
        stopper.in_objective = trial.number
        try:
            stopper.check()
            child = sampler.child(trial)
            pages.annotate(trial, child)
            epochs = initial_epochs if child.parent is None else child_epochs
            epochs = 0.0 if child.pretrained else epochs  # measured as it was given
            scale = not args.flat_child_epochs  # Child.fit trains cheap children longer
            start = time.perf_counter()
            if len(tasks) == 1:
                train, validation = tasks[0].train, tasks[0].validation
                errors = {
                    "error": child.fit(
                        train,
                        validation,
                        epochs=epochs,
                        scale_epochs=scale,
                        lr=lr,
                        device=device,
                        augment=augment,
                        callback=stopper.step,
                    )
                }
            else:
                by_task = child.fit_tasks(
                    tasks,
                    epochs=epochs,
                    scale_epochs=scale,
                    lr=lr,
                    device=device,
                    augment=augment,
                    callback=stopper.step,
                )
                errors = {f"error:{name}": value for name, value in by_task.items()}
        finally:
            stopper.in_objective = None
        values = {**errors, **child.cheap_objectives}
        origin = (
            ("pretrained" if child.pretrained else "from scratch")
            if child.parent is None
            else f"{child.operator} of {child.parent}"
        )
        costs = "  ".join(
            f"{name} {format_cost(name, values[name]):>7}"
            for name in objectives
            if not name.startswith("error")
        )
        shown = "  ".join(f"{name} {value:.4f}" for name, value in errors.items())
        tqdm.write(
            f"trial {trial.number:4d}  {shown}  {costs}  {origin:28} "
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
                show_progress_bar=not args.quiet and not is_worker,
                catch=(RuntimeError, ValueError),
                callbacks=[stopper.callback, pages.callback],
            )
    except Interrupted:
        pass  # Optuna marked the running trial FAIL before re-raising
    finally:
        stopper.in_optimize = False
    if stopper.signum is not None:
        status = SIGNAL_EXIT[signal.Signals(stopper.signum)]
        marked = (
            "" if stopper.stopped_trial is None else f"; trial {stopper.stopped_trial} marked FAIL"
        )
        print(f"\nstopped by {signal.Signals(stopper.signum).name}{marked}", flush=True)
    if is_worker:  # the run that started it reports for all its workers
        return status
    pages.save_genealogy()
    problem = report(args, study, sampler, objectives, before, tasks, device, stopper)
    return status or problem


def take_away(argv: Sequence[str] | None = None) -> int:
    """Run ``optuna-lemonade export`` or ``optuna-lemonade train``; return the exit status."""
    parser, commands = command_parsers()
    args = parser.parse_args(argv)
    if args.command == "export":
        return export_main(args, commands["export"])
    return train_main(args, commands["train"])


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``optuna-lemonade`` command."""
    try:
        words = list(sys.argv[1:] if argv is None else argv)
        if words and words[0] in ("export", "train"):
            return take_away(words)
        return search(argv)
    except BrokenPipeError:  # the output went to a pager or ``head`` that closed
        # Python would complain again when flushing stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt as error:  # a signal before or after the search itself
        signum = error.signum if isinstance(error, Interrupted) else signal.SIGINT
        print(f"\nstopped by {signal.Signals(signum).name}", file=sys.stderr)
        return SIGNAL_EXIT[signal.Signals(signum)]
