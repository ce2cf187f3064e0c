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
import time
from typing import Any

from _common import RESULTS
from _common import write_json
from _search_plots import plot
from _search_runs import Run
from _search_runs import train_references
from _search_summary import hypervolume_curves
from _search_summary import LOG_RANGES
from _search_summary import METHODS
from _search_summary import report
from _search_summary import summarise
import numpy as np
import optuna

from optuna_lemonade.training import load_dataset


def replot(path: pathlib.Path) -> None:
    """Summarise and plot a results JSON again (after a change to either)."""
    results = json.loads(path.read_text())
    config = argparse.Namespace(**results["config"])
    config.output_dir = path.parent
    for run in results["runs"]:  # results from before the useful-network hypervolume
        if "useful_hypervolume" not in run["hypervolume_curve"]:
            grid = np.array(run["hypervolume_curve"]["seconds"])
            curves = hypervolume_curves(run["trials"], results["objectives"], grid)
            run["hypervolume_curve"]["useful_hypervolume"] = curves["useful_hypervolume"]
            run["final_useful_hypervolume"] = curves["useful_hypervolume"][-1]
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
