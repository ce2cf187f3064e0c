"""The paper's five objectives on CPU: error on two tasks, parameters, MACs, latency.

Runs the search command (``optuna-lemonade search``, in this process) on Fashion-MNIST
and scikit-learn's digits upsampled to 28x28 (``--dataset fashion-mnist,digits-28``:
one network, a head per data set) with objectives ``error:fashion-mnist``,
``error:digits-28``, ``params``, ``macs`` and ``latency`` (median of 15 timed batch-1
forward passes on one CPU thread, measured by the sampler for every proposed child),
for a wall-clock budget. Then, from the study:

* Optuna's parallel-coordinate plot of the five objectives (the four others as the
  plot's axes, Fashion-MNIST's error as its colour) and every 2-D projection with the
  five-dimensional front marked;
* how well multiply-adds and parameters predict the measured latency across the
  searched networks (Spearman's and Kendall's rank correlations);
* the latency measurement itself: the time the sampler spent measuring (every call
  timed), and, for up to 12 networks of the study spread over its latency range,
  five fresh measurements each: cost per measurement and the spread between them.

Writes ``results/<name>.json``, ``<name>_parallel.png`` and ``<name>_pairs.png``;
``--quick`` is a one-minute run on 1,000 training images for CI.
"""

from __future__ import annotations

import argparse
import pathlib
import tempfile
import time
from typing import Any

from _common import RESULTS
from _common import write_json
import numpy as np
import optuna
from optuna.trial import TrialState
from scipy import stats  # type: ignore[import-untyped]
import torch

from optuna_lemonade._storage_keys import DECISION_KEY
from optuna_lemonade.cli import main as command
from optuna_lemonade.latency import Latency
from optuna_lemonade.sampler._decision import Decision


OBJECTIVES = ["error:fashion-mnist", "error:digits-28", "params", "macs", "latency"]


def run_search(config: argparse.Namespace, workdir: pathlib.Path) -> tuple[list[float], float]:
    """The search command's run; returns the seconds of every latency measurement."""
    spent: list[float] = []
    real = Latency.measure

    def timed(self: Latency, arch: Any) -> Any:
        measurement = real(self, arch)
        spent.append(measurement.seconds)
        return measurement

    Latency.measure = timed  # type: ignore[method-assign]
    started = time.perf_counter()
    try:
        status = command(
            [
                "search",
                "--dataset",
                "fashion-mnist,digits-28",
                "--objectives",
                ",".join(OBJECTIVES),
                "--minutes",
                str(config.minutes),
                "--train-size",
                str(config.train_size),
                "--storage",
                f"sqlite:///{workdir / 'study.db'}",
                "--checkpoint-dir",
                str(workdir / "checkpoints"),
                "--plot",
                str(workdir / "front.png"),
                "--seed",
                str(config.seed),
                "--test",
                "--quiet",
                "--no-dashboard",
            ]
        )
    finally:
        Latency.measure = real  # type: ignore[method-assign]
    if status != 0:
        raise SystemExit(f"the search command exited with status {status}")
    return spent, time.perf_counter() - started


def derived_study(trials: list[optuna.trial.FrozenTrial]) -> optuna.Study:
    """The trials with four objectives as parameters, so that Optuna's parallel-coordinate
    plot (which draws parameters against one objective) draws all five."""
    columns = np.array([t.values for t in trials])
    distributions: dict[str, optuna.distributions.BaseDistribution] = {
        name: optuna.distributions.FloatDistribution(
            float(columns[:, i].min()),
            float(columns[:, i].max()) * 1.0001 + 1e-12,
            log=name in ("params", "macs", "latency"),
        )
        for i, name in enumerate(OBJECTIVES)
        if i > 0
    }
    study = optuna.create_study(direction="minimize")
    for trial in trials:
        study.add_trial(
            optuna.trial.create_trial(
                params={name: trial.values[OBJECTIVES.index(name)] for name in distributions},
                distributions=dict(distributions),
                value=trial.values[0],
            )
        )
    return study


def plots(
    study: optuna.Study,
    trials: list[optuna.trial.FrozenTrial],
    output_dir: pathlib.Path,
    name: str,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from optuna_lemonade.visualization.matplotlib import plot_objective_pairs

    ax = optuna.visualization.matplotlib.plot_parallel_coordinate(
        derived_study(trials), target_name=OBJECTIVES[0]
    )
    ax.set_title(f"{len(trials)} networks, five objectives (colour: {OBJECTIVES[0]})")
    figure = ax.get_figure(root=True)
    assert figure is not None
    figure.set_size_inches(10, 5)
    figure.tight_layout()
    figure.savefig(output_dir / f"{name}_parallel.png", dpi=110)
    plt.close(figure)
    figure = plot_objective_pairs(study, log_axes=["params", "macs", "latency"], columns=5)
    figure.suptitle("every pair of the five objectives; red: the five-dimensional front", y=1.0)
    figure.savefig(output_dir / f"{name}_pairs.png", dpi=100, bbox_inches="tight")
    plt.close(figure)


def remeasure(
    trials: list[optuna.trial.FrozenTrial], count: int, repeats: int
) -> list[dict[str, Any]]:
    """Fresh measurements of up to ``count`` networks spread over the latency range."""
    order = sorted(trials, key=lambda t: t.values[OBJECTIVES.index("latency")])
    picks = sorted({round(i) for i in np.linspace(0, len(order) - 1, count)})
    latency = Latency()
    rows = []
    for index in picks:
        trial = order[index]
        arch = Decision.from_dict(trial.system_attrs[DECISION_KEY]).architecture
        measurements = [latency.measure(arch) for _ in range(repeats)]
        medians = [m.median_ms for m in measurements]
        rows.append(
            {
                "trial": trial.number,
                "params": trial.values[OBJECTIVES.index("params")],
                "macs": trial.values[OBJECTIVES.index("macs")],
                "in_study_ms": trial.values[OBJECTIVES.index("latency")],
                "medians_ms": medians,
                "max_over_min": max(medians) / min(medians),
                "iqr_over_median": [m.iqr_ms / m.median_ms for m in measurements],
                "seconds_per_measurement": [m.seconds for m in measurements],
            }
        )
        print(
            f"  trial {trial.number:4d}  {trial.values[3] / 1e6:7.2f}M MACs  medians "
            f"{', '.join(f'{v:.3f}' for v in medians)} ms  cost "
            f"{np.mean(rows[-1]['seconds_per_measurement']) * 1000:.0f} ms",
            flush=True,
        )
    return rows


def correlations(trials: list[optuna.trial.FrozenTrial]) -> dict[str, Any]:
    values = np.array([t.values for t in trials])
    latency = values[:, OBJECTIVES.index("latency")]
    result: dict[str, Any] = {"networks": len(trials)}
    for name in ("macs", "params"):
        column = values[:, OBJECTIVES.index(name)]
        result[f"spearman_{name}_latency"] = float(stats.spearmanr(column, latency).statistic)
        result[f"kendall_{name}_latency"] = float(stats.kendalltau(column, latency).statistic)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--train-size", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--remeasure", type=int, default=12, help="networks measured again")
    parser.add_argument("--quick", action="store_true", help="1 minute, 1,000 images (CI)")
    parser.add_argument("--name", default=None)
    parser.add_argument("--output-dir", type=pathlib.Path, default=RESULTS)
    config = parser.parse_args()
    if config.quick:
        config.minutes, config.train_size, config.remeasure = 1.0, 1000, 3
    if not config.minutes > 0 or config.train_size < 1 or config.remeasure < 1:
        parser.error("--minutes must be positive, --train-size and --remeasure at least 1")
    name = config.name or ("five_objectives_quick" if config.quick else "five_objectives")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as directory:
        workdir = pathlib.Path(directory)
        spent, seconds = run_search(config, workdir)
        study = optuna.load_study(
            study_name="lemonade-fashion-mnist+digits-28",
            storage=f"sqlite:///{workdir / 'study.db'}",
        )
        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        front = study.best_trials
        config.output_dir.mkdir(parents=True, exist_ok=True)
        plots(study, trials, config.output_dir, name)
        print(f"\n{len(trials)} networks, front {len(front)}; re-measuring latency:", flush=True)
        rows = remeasure(trials, config.remeasure, repeats=5)
    correlation = correlations(trials)
    ratios = [row["max_over_min"] for row in rows]
    iqr = [v for row in rows for v in row["iqr_over_median"]]
    cost = [v for row in rows for v in row["seconds_per_measurement"]]
    summary = {
        "search_seconds": seconds,
        "networks": len(trials),
        "front": len(front),
        "latency_measurements_in_search": len(spent),
        "latency_seconds_in_search": sum(spent),
        "latency_share_of_search": sum(spent) / seconds,
        "median_seconds_per_measurement_in_search": float(np.median(spent)) if spent else None,
        "remeasured_networks": len(rows),
        "median_seconds_per_measurement": float(np.median(cost)),
        "max_seconds_per_measurement": float(np.max(cost)),
        "median_max_over_min_of_5": float(np.median(ratios)),
        "worst_max_over_min_of_5": float(np.max(ratios)),
        "median_iqr_over_median": float(np.median(iqr)),
        **correlation,
    }
    for key, value in summary.items():
        print(f"  {key:42} {value:.4g}" if isinstance(value, float) else f"  {key:42} {value}")
    write_json(
        config.output_dir,
        name,
        {
            "config": {
                k: str(v) if isinstance(v, pathlib.Path) else v for k, v in vars(config).items()
            },
            "objectives": OBJECTIVES,
            "threads": torch.get_num_threads(),
            "summary": summary,
            "remeasured": rows,
            "trials": [
                {
                    "number": t.number,
                    "values": t.values,
                    "operator": t.user_attrs.get("lemonade_operator"),
                    "parent": t.user_attrs.get("lemonade_parent"),
                    "on_front": t.number in {f.number for f in front},
                }
                for t in trials
            ],
        },
    )
    print(f"wrote {config.output_dir / name}.json, {name}_parallel.png, {name}_pairs.png")


if __name__ == "__main__":
    main()
