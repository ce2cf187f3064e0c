"""Search efficiency: LEMONADE against Optuna's samplers at equal wall-clock budgets.

On Fashion-MNIST (a fixed subset, the same for every method), objectives validation
error and parameter count (``--objectives error,params,macs`` adds multiply-adds), each
method gets the same wall-clock budget on this machine, one after the other, in one
invocation:

* ``lemonade``: LemonadeSampler with default settings; initial networks trained from
  scratch, children fine-tuned from their parents (approximate ones with distillation);
* ``tpe``, ``nsga2``, ``random``: Optuna's TPESampler (multivariate), NSGAIISampler
  (population 10) and RandomSampler over a fixed-length parametric CNN space of the
  same range of sizes (benchmarks/_parametric.py), every network trained from scratch
  with the same training code and epochs as LEMONADE's initial networks;
* ``lemonade-scratch``: LEMONADE's choices, but every child trained from scratch like a
  baseline (no inheritance);
* ``lemonade-uniform``: LEMONADE with uniform instead of density-based parent and child
  selection.

Hypervolume against wall-clock time is computed with moocore on normalised objectives:
error as is, log10(params) mapped from [2, 7] to [0, 1], log10(MACs) from [3, 9] to
[0, 1], reference point all ones; only trials finished within the budget count. The
final fronts are evaluated once on the test split. Hand-designed reference CNNs,
trained from scratch, are drawn on the fronts plot. Because a log-scaled hypervolume
rewards tiny networks, the summary also gives each method's best validation and test
error with at most 10k, 100k or any number of parameters. Writes JSON and PNGs; every
finished run is saved at once, so ``--resume`` continues an interrupted invocation, and
``--replot`` summarises and plots a results file again.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import tempfile
import time
from typing import Any

from _common import RESULTS
from _common import write_json
from _parametric import parametric_architecture
from _parametric import reference_architectures
import numpy as np
import optuna
from optuna.artifacts import FileSystemArtifactStore
from optuna.trial import TrialState
import torch

from optuna_lemonade import count_params
from optuna_lemonade import SearchSpace
from optuna_lemonade.architecture import analytic_num_macs
from optuna_lemonade.checkpoints import from_bytes
from optuna_lemonade.checkpoints import to_bytes
from optuna_lemonade.network import build_model
from optuna_lemonade.sampler import LemonadeSampler
from optuna_lemonade.sampler import uniform
from optuna_lemonade.sampler._population import nondominated_mask  # tested against the definition
from optuna_lemonade.training import evaluate
from optuna_lemonade.training import fine_tune
from optuna_lemonade.training import load_dataset


METHODS = ("lemonade", "tpe", "nsga2", "random", "lemonade-scratch", "lemonade-uniform")
BASELINES = ("tpe", "nsga2", "random")
LOG_RANGES = {"params": (2.0, 7.0), "macs": (3.0, 9.0)}


def normalise(values: np.ndarray, objectives: list[str]) -> np.ndarray:
    result = np.array(values, dtype=float)
    for column, name in enumerate(objectives):
        if name in LOG_RANGES:
            low, high = LOG_RANGES[name]
            result[:, column] = (np.log10(np.maximum(result[:, column], 1.0)) - low) / (high - low)
    return np.clip(result, 0.0, 1.0)


def hypervolume(values: list[list[float]], objectives: list[str]) -> float:
    if not values:
        return 0.0
    # Imported here: moocore is the benchmarks' extra, and the summary (and its tests,
    # which run with the test extra only) needs no hypervolume.
    import moocore

    points = normalise(np.array(values), objectives)
    return float(moocore.hypervolume(points, ref=np.ones(len(objectives))))


class Run:
    """One method, one seed: trains until the budget ends and records every trial."""

    def __init__(
        self,
        method: str,
        seed: int,
        config: argparse.Namespace,
        data: Any,
        loaders: tuple[Any, Any, Any],
        objectives: list[str],
    ) -> None:
        self.method, self.seed, self.config = method, seed, config
        self.data, self.objectives = data, objectives
        self.train, self.validation, self.test = loaders
        self.directory = pathlib.Path(tempfile.mkdtemp(prefix=f"bench-{method}-"))
        self.records: list[dict[str, Any]] = []
        self.sampler: optuna.samplers.BaseSampler
        self.lemonade = method.startswith("lemonade")
        if self.lemonade:
            selection = {"parent_selection": uniform, "child_selection": uniform}
            self.sampler = LemonadeSampler(
                SearchSpace(data.input_shape, data.num_classes),
                cheap_objectives=[o for o in objectives if o != "error"],
                artifact_store=FileSystemArtifactStore(str(self.directory)),
                seed=seed,
                **(selection if method == "lemonade-uniform" else {}),
            )
        elif method == "tpe":
            self.sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True)
        elif method == "nsga2":
            self.sampler = optuna.samplers.NSGAIISampler(seed=seed, population_size=10)
        else:
            self.sampler = optuna.samplers.RandomSampler(seed=seed)

    def _values(self, arch: Any, error: float) -> list[float]:
        table = {"error": error, "params": count_params(arch), "macs": analytic_num_macs(arch)}
        return [float(table[name]) for name in self.objectives]

    def objective(self, trial: optuna.Trial) -> list[float]:
        config = self.config
        if self.lemonade:
            assert isinstance(self.sampler, LemonadeSampler)
            child = self.sampler.child(trial)
            arch = child.architecture
            if self.method == "lemonade-scratch" or child.parent is None:
                model = (
                    child.model
                    if child.parent is None
                    else build_model(arch, seed=1000 * self.seed + trial.number)
                )
                epochs, teacher = config.scratch_epochs, None
            else:
                model, epochs, teacher = child.model, config.child_epochs, child.teacher
            origin = "scratch" if child.parent is None else f"{child.operator} of {child.parent}"
        else:
            arch = parametric_architecture(trial, self.data.input_shape, self.data.num_classes)
            model = build_model(arch, seed=1000 * self.seed + trial.number)
            epochs, teacher, origin = config.scratch_epochs, None, "scratch"
        torch.manual_seed(1000 * self.seed + trial.number)
        fine_tune(
            model,
            self.train,
            epochs=epochs,
            lr=config.lr,
            teacher=teacher,
            device=config.device,
            progress=False,
        )
        error = evaluate(model, self.validation, device=config.device)
        if self.lemonade:
            child.save(model)
        else:
            (self.directory / f"{trial.number}.pt").write_bytes(to_bytes(arch, model))
        self.records.append({"number": trial.number, "origin": origin, "epochs": epochs})
        return self._values(arch, error)

    def run(self) -> dict[str, Any]:
        study = optuna.create_study(
            directions=["minimize"] * len(self.objectives), sampler=self.sampler
        )
        start = time.perf_counter()
        finished: dict[int, float] = {}

        def record(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            finished[trial.number] = time.perf_counter() - start

        study.optimize(self.objective, timeout=self.config.budget, callbacks=[record])
        elapsed = time.perf_counter() - start
        origins = {r["number"]: r for r in self.records}
        trials = [
            {
                "number": t.number,
                "values": list(t.values),
                "seconds": finished[t.number],
                "within_budget": finished[t.number] <= self.config.budget,
                "origin": origins.get(t.number, {}).get("origin"),
            }
            for t in study.trials
            if t.state == TrialState.COMPLETE
        ]
        counted = [t for t in trials if t["within_budget"]]
        values = np.array([t["values"] for t in counted]) if counted else np.zeros((0, 2))
        front = [t for t, keep in zip(counted, nondominated_mask(values), strict=True) if keep]
        for entry in front:  # test error, once, at the end
            if self.lemonade:
                assert isinstance(self.sampler, LemonadeSampler)
                model = self.sampler.load_model(study.trials[entry["number"]])
            else:
                model = from_bytes((self.directory / f"{entry['number']}.pt").read_bytes())
            entry["test_error"] = evaluate(model, self.test, device=self.config.device)
        grid = np.linspace(0, self.config.budget, 101)
        curve = [
            hypervolume([t["values"] for t in counted if t["seconds"] <= s], self.objectives)
            for s in grid
        ]
        return {
            "method": self.method,
            "seed": self.seed,
            "wall_seconds": elapsed,
            "trials": trials,
            "front": front,
            "hypervolume_curve": {"seconds": grid.tolist(), "hypervolume": curve},
            "final_hypervolume": curve[-1],
        }


def train_references(
    config: argparse.Namespace, data: Any, loaders: Any, objectives: list[str]
) -> list[dict[str, Any]]:
    train, validation, test = loaders
    result = []
    for name, arch in reference_architectures(data.input_shape, data.num_classes).items():
        model = build_model(arch, seed=0)
        start = time.perf_counter()
        fine_tune(
            model,
            train,
            epochs=config.reference_epochs,
            lr=config.lr,
            device=config.device,
            progress=False,
        )
        result.append(
            {
                "name": name,
                "params": count_params(arch),
                "macs": analytic_num_macs(arch),
                "epochs": config.reference_epochs,
                "seconds": time.perf_counter() - start,
                "validation_error": evaluate(model, validation, device=config.device),
                "test_error": evaluate(model, test, device=config.device),
            }
        )
    return result


SIZE_CAPS = {"10k": 1e4, "100k": 1e5, "any": float("inf")}


def best_error_by_size(
    runs: list[dict[str, Any]], objectives: list[str]
) -> dict[str, dict[str, Any]]:
    """Per method and parameter cap: the lowest validation error of a trial finished in
    the budget with at most that many parameters (fewest parameters among ties, so the
    trial is on the front and has a test error), averaged over seeds.

    A second view next to the hypervolume, which, with log-scaled parameters, rewards
    tiny networks of high error as much as gains among useful ones.
    """
    params = objectives.index("params")
    result: dict[str, dict[str, Any]] = {}
    for method in sorted({r["method"] for r in runs}, key=METHODS.index):
        entry: dict[str, Any] = {}
        for cap_name, cap in SIZE_CAPS.items():
            per_seed = []
            for run in (r for r in runs if r["method"] == method):
                fitting = [t for t in run["front"] if t["values"][params] <= cap]
                if fitting:
                    best = min(fitting, key=lambda t: (t["values"][0], t["values"][params]))
                    per_seed.append(
                        {
                            "seed": run["seed"],
                            "validation_error": best["values"][0],
                            "test_error": best["test_error"],
                            "params": best["values"][params],
                        }
                    )
            entry[cap_name] = {
                "seeds": per_seed,
                "n_seeds_with_a_network": len(per_seed),
                "mean_validation_error": (
                    float(np.mean([e["validation_error"] for e in per_seed])) if per_seed else None
                ),
                "mean_test_error": (
                    float(np.mean([e["test_error"] for e in per_seed])) if per_seed else None
                ),
            }
        result[method] = entry
    return result


def summarise(runs: list[dict[str, Any]], budget: float, objectives: list[str]) -> dict[str, Any]:
    methods = sorted({r["method"] for r in runs}, key=METHODS.index)
    mean_curve = {
        m: np.mean(
            [r["hypervolume_curve"]["hypervolume"] for r in runs if r["method"] == m], axis=0
        )
        for m in methods
    }
    final = {m: float(mean_curve[m][-1]) for m in methods}
    grid = np.array(runs[0]["hypervolume_curve"]["seconds"])
    baselines = [m for m in methods if m in BASELINES]
    headline: dict[str, Any] = {}
    if "lemonade" in methods and baselines:
        best = max(baselines, key=final.__getitem__)
        reached = np.nonzero(mean_curve["lemonade"] >= final[best])[0]
        headline = {
            "best_baseline": best,
            "best_baseline_final_hypervolume": final[best],
            "lemonade_final_hypervolume": final["lemonade"],
            "lemonade_seconds_to_reach_it": float(grid[reached[0]]) if len(reached) else None,
            "fraction_of_budget": float(grid[reached[0]] / budget) if len(reached) else None,
        }
    return {
        "mean_final_hypervolume": final,
        "headline": headline,
        "best_error_by_size": best_error_by_size(runs, objectives),
        "trials_within_budget": {
            m: float(
                np.mean(
                    [
                        sum(t["within_budget"] for t in r["trials"])
                        for r in runs
                        if r["method"] == m
                    ]
                )
            )
            for m in methods
        },
    }


def plot(
    runs: list[dict[str, Any]],
    references: list[dict[str, Any]],
    summary: dict[str, Any],
    objectives: list[str],
    config: argparse.Namespace,
    name: str,
) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    colours = dict(zip(METHODS, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False))
    fig, ax = plt.subplots(figsize=(7, 4))
    for method in [m for m in METHODS if any(r["method"] == m for r in runs)]:
        curves = [r for r in runs if r["method"] == method]
        grid = np.array(curves[0]["hypervolume_curve"]["seconds"]) / 60
        for run in curves:
            ax.plot(
                grid,
                run["hypervolume_curve"]["hypervolume"],
                color=colours[method],
                alpha=0.25,
                lw=1,
            )
        mean = np.mean([r["hypervolume_curve"]["hypervolume"] for r in curves], axis=0)
        ax.plot(grid, mean, color=colours[method], lw=2, label=f"{method} ({len(curves)} seed(s))")
    headline = summary["headline"]
    if headline.get("lemonade_seconds_to_reach_it") is not None:
        ax.axvline(
            headline["lemonade_seconds_to_reach_it"] / 60,
            color="grey",
            ls=":",
            label=f"LEMONADE reaches {headline['best_baseline']}'s final HV",
        )
    ax.set_xlabel("wall-clock minutes")
    ax.set_ylabel("hypervolume (normalised)")
    ax.set_title(f"{config.dataset}, objectives {', '.join(objectives)}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(config.output_dir / f"{name}_hypervolume.png", dpi=120)
    plt.close(fig)

    costs = objectives[1:]
    fig, axes = plt.subplots(1, len(costs), figsize=(7 * len(costs), 4.5), squeeze=False)
    for ax, cost in zip(axes[0], costs, strict=True):
        index = objectives.index(cost)
        for method in [m for m in METHODS if any(r["method"] == m for r in runs)]:
            run = next(r for r in runs if r["method"] == method)  # first seed
            front = sorted(run["front"], key=lambda t: t["values"][index])
            xs = [t["values"][index] for t in front]
            ys = [t["test_error"] for t in front]
            if len(costs) == 1:  # a 2-objective front is a staircase; 3-objective: points
                ax.step(xs, ys, where="post", color=colours[method], alpha=0.8)
            ax.scatter(xs, ys, color=colours[method], s=12, label=method)
        for reference in references:
            ax.scatter(reference[cost], reference["test_error"], marker="*", s=120, color="black")
            ax.annotate(
                reference["name"],
                (reference[cost], reference["test_error"]),
                fontsize=6,
                xytext=(3, 3),
                textcoords="offset points",
            )
        ax.set_xscale("log")
        ax.set_xlabel({"params": "parameters", "macs": "multiply-adds"}[cost])
        ax.set_ylabel("test error")
        ax.set_title(
            f"Final fronts (seed {runs[0]['seed']}), test split; stars: hand-designed, "
            f"{config.reference_epochs} epochs",
            fontsize=9,
        )
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(config.output_dir / f"{name}_fronts.png", dpi=120)
    plt.close(fig)


def report(summary: dict[str, Any]) -> None:
    """Print the summary: hypervolumes, the headline and the best errors by size."""
    print(
        "\nmean final hypervolume: "
        + ", ".join(f"{m} {v:.4f}" for m, v in summary["mean_final_hypervolume"].items())
    )
    headline = summary["headline"]
    if headline:
        if headline["fraction_of_budget"] is not None:
            print(
                f"headline: LEMONADE reaches {headline['best_baseline']}'s final hypervolume "
                f"({headline['best_baseline_final_hypervolume']:.4f}) after "
                f"{headline['lemonade_seconds_to_reach_it']:.0f} s, "
                f"{headline['fraction_of_budget']:.2f} of the budget"
            )
        else:
            print(
                f"headline: LEMONADE does not reach {headline['best_baseline']}'s final "
                f"hypervolume ({headline['best_baseline_final_hypervolume']:.4f}); its own "
                f"final is {headline['lemonade_final_hypervolume']:.4f}"
            )
    print("best validation / test error (mean over seeds) with at most 10k / 100k / any params:")
    for method, entry in summary["best_error_by_size"].items():
        cells = [
            "-"
            if entry[cap]["mean_validation_error"] is None
            else f"{entry[cap]['mean_validation_error']:.4f}/{entry[cap]['mean_test_error']:.4f}"
            for cap in SIZE_CAPS
        ]
        print(f"  {method:17} " + "  ".join(f"{c:>13}" for c in cells))


def replot(path: pathlib.Path) -> None:
    """Summarise and plot a results JSON again (after a change to either)."""
    results = json.loads(path.read_text())
    config = argparse.Namespace(**results["config"])
    config.output_dir = path.parent
    results["summary"] = summarise(results["runs"], config.budget, results["objectives"])
    report(results["summary"])
    path.write_text(json.dumps(results, indent=1))
    plot(
        results["runs"],
        results["references"],
        results["summary"],
        results["objectives"],
        config,
        path.stem,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--objectives", default="error,params")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--minutes", type=float, default=10.0, help="budget per method and seed")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--train-size", type=int, default=10_000)
    parser.add_argument("--validation-size", type=int, default=10_000)
    parser.add_argument(
        "--scratch-epochs",
        type=float,
        default=3.0,
        help="epochs of networks trained from scratch (baselines, initial)",
    )
    parser.add_argument("--child-epochs", type=float, default=2.0, help="LEMONADE children")
    parser.add_argument("--reference-epochs", type=float, default=10.0)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a few minutes in all: 30 s per method, 2,000 training images",
    )
    parser.add_argument("--output-dir", type=pathlib.Path, default=RESULTS)
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the runs already saved in <output>.partial.json by an interrupted "
        "invocation with the same settings (written after every run)",
    )
    parser.add_argument(
        "--references-from",
        type=pathlib.Path,
        default=None,
        help="take the reference CNNs' results from an earlier results JSON instead of "
        "training them again (same dataset, sizes and epochs)",
    )
    parser.add_argument(
        "--replot",
        type=pathlib.Path,
        default=None,
        metavar="JSON",
        help="run nothing: summarise and plot a results JSON again (it is rewritten)",
    )
    config = parser.parse_args()
    if config.replot is not None:
        try:
            replot(config.replot)
        except (OSError, ValueError, KeyError, TypeError) as error:
            parser.error(f"--replot: {config.replot} is not a readable results file ({error!r})")
        return
    if config.quick:
        config.minutes, config.seeds, config.train_size, config.validation_size = (
            0.5,
            1,
            2000,
            1000,
        )
        config.scratch_epochs, config.child_epochs, config.reference_epochs = 1.0, 1.0, 1.0
    config.budget = 60 * config.minutes
    objectives = [o.strip() for o in config.objectives.split(",")]
    if (
        objectives[0] != "error"
        or not set(objectives[1:]) <= {"params", "macs"}
        or "params" not in objectives
    ):
        parser.error("--objectives: error first, then params and optionally macs")
    methods = [m.strip() for m in config.methods.split(",")]
    if not set(methods) <= set(METHODS):
        parser.error(f"--methods from {', '.join(METHODS)}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    started = time.perf_counter()
    data = load_dataset(
        config.dataset,
        train_size=config.train_size,
        validation_size=config.validation_size,
        seed=0,
    )
    loaders = data.loaders(batch_size=128, seed=0)
    print(
        f"{config.dataset}: {len(data.train)} train / {len(data.validation)} validation / "
        f"{len(data.test)} test; objectives {objectives}; {config.minutes} min per method "
        f"and seed; {config.seeds} seed(s); methods {methods}",
        flush=True,
    )
    name = (
        "search_efficiency"
        + ("_macs" if "macs" in objectives else "")
        + ("_quick" if config.quick else "")
    )
    config_dict = {
        k: (str(v) if isinstance(v, pathlib.Path) else v) for k, v in vars(config).items()
    }
    comparable = (
        "dataset",
        "train_size",
        "validation_size",
        "scratch_epochs",
        "child_epochs",
        "reference_epochs",
        "lr",
        "budget",
    )
    partial = config.output_dir / f"{name}.partial.json"
    previous: dict[str, Any] = {}
    if config.resume and partial.exists():
        previous = json.loads(partial.read_text())
        if any(previous["config"].get(k) != config_dict[k] for k in comparable):
            parser.error(f"--resume: {partial} was written with other settings")
    if previous.get("references"):
        references = previous["references"]
    elif config.references_from is not None:
        earlier = json.loads(config.references_from.read_text())
        if (
            any(earlier["config"].get(k) != config_dict[k] for k in (*comparable[:3], "lr"))
            or earlier["config"].get("reference_epochs") != config.reference_epochs
        ):
            parser.error(f"--references-from: {config.references_from} used other settings")
        references = earlier["references"]
    else:
        references = train_references(config, data, loaders, objectives)
    for reference in references:
        print(
            f"  reference {reference['name']:15} {reference['params']:8d} params  "
            f"val {reference['validation_error']:.4f}  test {reference['test_error']:.4f}",
            flush=True,
        )
    runs: list[dict[str, Any]] = [
        r for r in previous.get("runs", []) if r["method"] in methods and r["seed"] < config.seeds
    ]
    done = {(r["method"], r["seed"]) for r in runs}
    for seed in range(config.seeds):
        for method in methods:
            if (method, seed) in done:
                print(f"seed {seed} {method:17} kept from {partial}", flush=True)
                continue
            result = Run(method, seed, config, data, loaders, objectives).run()
            runs.append(result)
            counted = sum(t["within_budget"] for t in result["trials"])
            print(
                f"seed {seed} {method:17} {counted:4d} trials in budget, final HV "
                f"{result['final_hypervolume']:.4f}, front {len(result['front'])} "
                f"({result['wall_seconds']:.0f} s)",
                flush=True,
            )
            # Saved after every run: a crash or restart loses at most one run (--resume).
            write_json(
                config.output_dir,
                f"{name}.partial",
                {"config": config_dict, "references": references, "runs": runs},
            )
    summary = summarise(runs, config.budget, objectives)
    report(summary)
    write_json(
        config.output_dir,
        name,
        {
            "config": config_dict,
            "objectives": objectives,
            "normalisation": {
                "error": "as is",
                **{k: f"log10 mapped from {v} to [0, 1]" for k, v in LOG_RANGES.items()},
                "reference_point": [1.0] * len(objectives),
            },
            "references": references,
            "summary": summary,
            "runs": runs,
            "seconds": time.perf_counter() - started,
        },
    )
    plot(runs, references, summary, objectives, config, name)
    partial.unlink(missing_ok=True)
    print(
        f"wrote {config.output_dir / name}.json and plots ({time.perf_counter() - started:.0f} s)"
    )


if __name__ == "__main__":
    main()
