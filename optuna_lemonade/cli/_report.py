"""The end of a run: the Pareto front as a table, the plot, the exit status."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import sys
import warnings

import optuna
from optuna.trial import FrozenTrial
from optuna.trial import TrialState
import torch

from optuna_lemonade.cli._environment import display_url
from optuna_lemonade.cli._signals import Stopper
from optuna_lemonade.sampler import LemonadeSampler
from optuna_lemonade.training import evaluate
from optuna_lemonade.training import evaluate_tasks
from optuna_lemonade.training import Task


def format_count(value: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:.0f}"


def format_cost(name: str, value: float) -> str:
    """A cost objective's value as the tables show it: counts with k/M/G, latency in ms."""
    return f"{value:.3g} ms" if name == "latency" else format_count(value)


def _is_error(name: str) -> bool:
    return name == "error" or name.startswith("error:")


def front_table(
    front: Sequence[FrozenTrial],
    objectives: list[str],
    test_errors: dict[int, dict[str, float]],
) -> str:
    """The front as a table; ``test_errors``: trial number -> task -> test error."""
    tasks = list(next(iter(test_errors.values()))) if test_errors else []
    test_header = ["test error" if task == "" else f"test error:{task}" for task in tasks]
    rows = [["trial", *objectives, *test_header, "origin"]]
    first_error = next(i for i, name in enumerate(objectives) if _is_error(name))
    for trial in sorted(front, key=lambda t: t.values[first_error]):
        values = dict(zip(objectives, trial.values, strict=True))
        cells = [str(trial.number)]
        for name in objectives:
            value = values[name]
            cells.append(f"{value:.4f}" if _is_error(name) else format_cost(name, value))
        for task in tasks:
            cells.append(f"{test_errors[trial.number][task]:.4f}")
        parent = trial.user_attrs.get("lemonade_parent")
        operator = trial.user_attrs.get("lemonade_operator")
        cells.append("from scratch" if parent is None else f"{operator} of {parent}")
        rows.append(cells)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    )


def plot(study: optuna.Study, objectives: list[str], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from optuna_lemonade.visualization.matplotlib import plot_objective_pairs
    from optuna_lemonade.visualization.matplotlib import plot_pareto_front

    costs = [i for i, name in enumerate(objectives) if not _is_error(name)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if len(objectives) <= 3 and len(costs) == len(objectives) - 1:
            # error up, every cost on a log axis
            axes = plot_pareto_front(
                study,
                error=next(i for i in range(len(objectives)) if i not in costs),
                log_axes=costs,
            )
            axes.set_title(f"{study.study_name}: Pareto front")
            figure = axes.get_figure(root=True)
        else:  # more than three objectives, or several errors: every pair
            figure = plot_objective_pairs(study, log_axes=costs)
            figure.suptitle(f"{study.study_name}: every pair of objectives, Pareto front in red")
    assert figure is not None
    figure.tight_layout()
    try:
        figure.savefig(path, dpi=120)
    finally:
        plt.close(figure)


def report(
    args: argparse.Namespace,
    study: optuna.Study,
    sampler: LemonadeSampler,
    objectives: list[str],
    before: int,
    tasks: Sequence[Task],
    device: torch.device,
    stopper: Stopper,
) -> int:
    """Print the front, write the plot; 1 if that failed or every trial of the run failed."""
    this_run = study.get_trials(deepcopy=False)[before:]
    finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    failed = sum(t.state == TrialState.FAIL for t in this_run)
    front = study.best_trials
    test_errors: dict[int, dict[str, float]] = {}
    if args.test and front and stopper.signum is None:
        for trial in front:
            model = sampler.load_model(trial)
            if len(tasks) == 1:
                assert tasks[0].test is not None
                test_errors[trial.number] = {"": evaluate(model, tasks[0].test, device=device)}
            else:
                test_errors[trial.number] = evaluate_tasks(
                    model, tasks, split="test", device=device
                )
    print(
        f"\n{len(this_run)} trials this run ({failed} failed), "
        f"{len(finished)} complete in the study; Pareto front ({len(front)}):"
    )
    print(front_table(front, objectives, test_errors))
    if args.test and stopper.signum is not None:
        print("(--test skipped: the run was stopped; run again with --trials 1 --test)")
    status = 0
    if finished:
        try:
            plot(study, objectives, args.plot)
            print(f"\nplot: {args.plot}")
        except OSError as error:
            print(f"optuna-lemonade: cannot write --plot {args.plot}: {error}", file=sys.stderr)
            status = 1
    print(
        f"dashboard: optuna-dashboard {display_url(args.storage)} --artifact-dir "
        f"{args.checkpoint_dir}"
    )
    if stopper.signum is None and this_run and failed == len(this_run):
        print(
            f"optuna-lemonade: all {failed} trials of this run failed (see the messages above)",
            file=sys.stderr,
        )
        status = 1
    return status
