"""The ``optuna-lemonade`` command: run a complete LEMONADE search end to end."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import os
import sys
import time
import warnings

import optuna
from optuna.artifacts import FileSystemArtifactStore
from optuna.trial import FrozenTrial
from optuna.trial import TrialState
import torch
from tqdm.auto import tqdm

from optuna_lemonade.architecture import SearchSpace
from optuna_lemonade.morphisms import OPERATORS
from optuna_lemonade.sampler import LemonadeSampler
from optuna_lemonade.training import DATASETS
from optuna_lemonade.training import default_device
from optuna_lemonade.training import evaluate
from optuna_lemonade.training import fine_tune
from optuna_lemonade.training import load_dataset


OBJECTIVES = ("error", "params", "macs")

# Per data set: batch size, epochs of initial networks, epochs of children, learning rate.
DEFAULTS: dict[str, dict[str, float]] = {
    "digits": {"batch_size": 32, "initial_epochs": 10, "child_epochs": 4, "lr": 0.05},
    "fashion-mnist": {"batch_size": 128, "initial_epochs": 3, "child_epochs": 2, "lr": 0.05},
    "cifar10": {"batch_size": 128, "initial_epochs": 5, "child_epochs": 2, "lr": 0.05},
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="optuna-lemonade", description="LEMONADE neural architecture search on Optuna."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    search = commands.add_parser(
        "search",
        help="run (or continue) a search",
        description=(
            "Run a LEMONADE search: train the initial networks, then children made by "
            "network morphisms that inherit their parents' weights, until the budget ends. "
            "Running it again with the same storage and study name continues the study."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    search.add_argument("--dataset", choices=DATASETS, default="digits")
    search.add_argument("--data-dir", help="directory with a local copy of the data set")
    search.add_argument(
        "--download", action="store_true", help="download the data set if not found locally"
    )
    budget = search.add_argument_group("budget (at least one; the first reached ends)")
    budget.add_argument("--minutes", type=float, help="wall-clock budget of this run")
    budget.add_argument("--trials", type=int, help="number of trials of this run")
    search.add_argument("--storage", default="sqlite:///lemonade.db", help="Optuna storage URL")
    search.add_argument("--study-name", help="default: lemonade-<dataset>")
    search.add_argument(
        "--checkpoint-dir", default="lemonade-checkpoints", help="artifact directory"
    )
    search.add_argument(
        "--objectives",
        default="error,params",
        help=f"comma-separated, all minimised, from {', '.join(OBJECTIVES)}; must include error",
    )
    search.add_argument("--initial-epochs", type=float, help="epochs of initial networks")
    search.add_argument("--child-epochs", type=float, help="fine-tuning epochs of children")
    search.add_argument("--batch-size", type=int)
    search.add_argument("--lr", type=float, help="initial learning rate")
    search.add_argument("--train-size", type=int, help="use only this many training images")
    search.add_argument("--max-params", type=int, default=5_000_000)
    search.add_argument("--n-proposals", type=int, default=16)
    search.add_argument(
        "--operators",
        default=",".join(OPERATORS),
        help="comma-separated morphism operators",
    )
    search.add_argument("--seed", type=int, default=0)
    search.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    search.add_argument("--plot", default="lemonade-pareto.png", help="Pareto-front plot file")
    search.add_argument(
        "--test", action="store_true", help="evaluate the final front once on the test split"
    )
    search.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _check(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[str]:
    if args.minutes is None and args.trials is None:
        parser.error("give a budget: --minutes and/or --trials")
    if args.minutes is not None and not args.minutes > 0:
        parser.error("--minutes must be positive")
    if args.trials is not None and args.trials < 1:
        parser.error("--trials must be positive")
    objectives = [name.strip() for name in args.objectives.split(",") if name.strip()]
    unknown = [name for name in objectives if name not in OBJECTIVES]
    if unknown or "error" not in objectives or len(set(objectives)) != len(objectives):
        parser.error(
            f"--objectives must list distinct names from {', '.join(OBJECTIVES)} including "
            f"error, got {args.objectives!r}"
        )
    for name, value in (
        ("--initial-epochs", args.initial_epochs),
        ("--child-epochs", args.child_epochs),
        ("--lr", args.lr),
    ):
        if value is not None and not value > 0:
            parser.error(f"{name} must be positive")
    if args.batch_size is not None and args.batch_size < 1:
        parser.error("--batch-size must be positive")
    operators = [name.strip() for name in args.operators.split(",") if name.strip()]
    if not operators or any(name not in OPERATORS for name in operators):
        parser.error(f"--operators must name operators from {', '.join(OPERATORS)}")
    args.operators = operators
    return objectives


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
    figure.savefig(path, dpi=120)
    plt.close(figure)


def search(argv: Sequence[str] | None = None) -> int:
    """Run ``optuna-lemonade search`` with ``argv``; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    objectives = _check(args, parser)
    defaults = DEFAULTS[args.dataset]
    batch_size = int(args.batch_size or defaults["batch_size"])
    initial_epochs = args.initial_epochs or defaults["initial_epochs"]
    child_epochs = args.child_epochs or defaults["child_epochs"]
    lr = args.lr or defaults["lr"]
    device = default_device() if args.device == "auto" else torch.device(args.device)
    study_name = args.study_name or f"lemonade-{args.dataset}"

    try:
        data = load_dataset(
            args.dataset,
            data_dir=args.data_dir,
            download=args.download,
            train_size=args.train_size,
            seed=args.seed,
        )
    except (FileNotFoundError, ValueError) as error:
        print(f"optuna-lemonade: {error}", file=sys.stderr)
        return 2
    train_loader, val_loader, test_loader = data.loaders(batch_size=batch_size, seed=args.seed)

    os.makedirs(args.checkpoint_dir, exist_ok=True)
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
    try:
        study = optuna.create_study(
            storage=args.storage,
            study_name=study_name,
            directions=["minimize"] * len(objectives),
            sampler=sampler,
            load_if_exists=True,
        )
    except Exception as error:  # any storage error: bad URL, unreachable server...
        print(f"optuna-lemonade: cannot open storage {args.storage!r}: {error}", file=sys.stderr)
        return 2
    stored = study.user_attrs.get("lemonade_objectives")
    if stored is None:
        study.set_user_attr("lemonade_objectives", objectives)
        study.set_user_attr("lemonade_dataset", args.dataset)
    elif stored != objectives or study.user_attrs.get("lemonade_dataset") != args.dataset:
        dataset = study.user_attrs.get("lemonade_dataset")
        print(
            f"optuna-lemonade: study {study_name!r} searches {dataset} with objectives "
            f"{stored}; this run asks for {args.dataset} with {objectives}. "
            "Use another --study-name.",
            file=sys.stderr,
        )
        return 2
    before = len(study.trials)
    print(
        f"study {study_name!r} in {args.storage} ({before} trials so far), data {args.dataset} "
        f"{data.input_shape} x {len(data.train)} train / {len(data.validation)} validation, "
        f"device {device}, objectives {', '.join(objectives)}",
        flush=True,
    )

    def objective(trial: optuna.Trial) -> list[float]:
        child = sampler.child(trial)
        epochs = initial_epochs if child.parent is None else child_epochs
        start = time.perf_counter()
        fine_tune(
            child.model,
            train_loader,
            epochs=epochs,
            lr=lr,
            teacher=child.teacher,
            device=device,
            progress=False,
        )
        error = evaluate(child.model, val_loader, device=device)
        child.save(child.model)
        values = {"error": error, **child.cheap_objectives}
        origin = "from scratch" if child.parent is None else f"{child.operator} of {child.parent}"
        seconds = time.perf_counter() - start
        params = _format_count(values["params"])
        tqdm.write(
            f"trial {trial.number:4d}  error {error:.4f}  params {params:>7}  {origin:28} "
            f"{seconds:5.1f} s"
        )
        return [values[name] for name in objectives]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.optimize(
            objective,
            n_trials=args.trials,
            timeout=None if args.minutes is None else args.minutes * 60,
            show_progress_bar=not args.quiet,
            catch=(RuntimeError, ValueError),
        )

    finished = [t for t in study.trials if t.state == TrialState.COMPLETE]
    failed = sum(t.state == TrialState.FAIL for t in study.trials[before:])
    front = study.best_trials
    test_errors: dict[int, float] = {}
    if args.test:
        for trial in front:
            test_errors[trial.number] = evaluate(
                sampler.load_model(trial), test_loader, device=device
            )
    print(
        f"\n{len(study.trials) - before} trials this run ({failed} failed), "
        f"{len(finished)} complete in the study; Pareto front ({len(front)}):"
    )
    print(_front_table(front, objectives, test_errors))
    if finished:
        _plot(study, objectives, args.plot)
        print(f"\nplot: {args.plot}")
    print(f"dashboard: optuna-dashboard {args.storage} --artifact-dir {args.checkpoint_dir}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``optuna-lemonade`` command."""
    return search(argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
