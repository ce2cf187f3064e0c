"""Search efficiency: LEMONADE against Optuna's samplers at equal wall-clock budgets.

On Fashion-MNIST (a fixed subset, the same for every method), objectives validation
error and parameter count (``--objectives error,params,macs`` adds multiply-adds), each
method gets the same wall-clock budget on this machine, one after the other, in one
invocation:

* ``lemonade``: LemonadeSampler with default settings; initial networks trained from
  scratch, children fine-tuned from their parents (approximate ones with distillation);
  its variants (``lemonade-scratch``, ``lemonade-uniform``, ...: _search_runs.VARIANTS)
  change one thing each, for the ablation table;
* ``tpe-E``, ``nsga2-E``, ``random-E``: Optuna's TPESampler (multivariate), NSGAIISampler
  (population 10) and RandomSampler over a parametric CNN space (``--baseline-space``,
  benchmarks/_parametric.py), every network trained from scratch for E epochs with the
  same training code as LEMONADE's initial networks (without ``-E``: ``--scratch-epochs``).
  The default set has each sampler at 3 and 6 epochs: the strongest of them, per budget
  and size cap, is what LEMONADE is measured against.

Runs go one after the other, or ``--jobs N`` at a time in processes of their own that
share the cores (``--threads`` each); either way every method of an invocation runs under
the same conditions. ``--workers N`` gives every run N trials at a time, as worker
processes on one journal-file study (``--parallel processes``, as the search command's
``--workers`` does) or as Optuna's ``n_jobs`` threads (``--parallel threads``;
``--baseline-parallel`` for the baselines), so that the baselines use the cores as
LEMONADE does. ``--report-at`` summarises shorter budgets
from the same runs (a sampler does not know the budget, so a 20-minute run's first 10
minutes are a 10-minute run); every trial on a reported front gets a test error.

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
import concurrent.futures
import json
import multiprocessing
import pathlib
import time
from typing import Any

from _common import RESULTS
from _common import write_json
from _machine_speed import speed_mismatch
from _machine_speed import SPEED_TOLERANCE
from _search_methods import is_method
from _search_methods import LEMONADE_VARIANTS
from _search_methods import method_order
from _search_methods import METHODS
from _search_methods import SAMPLERS
from _search_plots import plot
from _search_runs import calibration_seconds
from _search_runs import load_benchmark_data
from _search_runs import Run
from _search_runs import run_in_process
from _search_runs import train_references
from _search_summary import at_budget
from _search_summary import hypervolume_curves
from _search_summary import LOG_RANGES
from _search_summary import markdown_table
from _search_summary import report
from _search_summary import summarise
import numpy as np
import optuna
import torch


def summarise_budgets(
    runs: list[dict[str, Any]], config: argparse.Namespace, objectives: list[str]
) -> dict[str, Any]:
    """The summary at every reported budget, keyed like ``"10 min"``."""
    return {
        f"{minutes:g} min": summarise(at_budget(runs, 60 * minutes), 60 * minutes, objectives)
        for minutes in config.report_at
    }


class UnknownMethods(Exception):
    """``--replot`` with ``--methods`` that the results file has no runs of."""


def replot(path: pathlib.Path, methods: list[str] | None = None) -> None:
    """Summarise and plot a results JSON again (after a change to either); the plots
    draw ``methods`` only when given (the summaries keep every run)."""
    results = json.loads(path.read_text())
    present = {r["method"] for r in results["runs"]}
    if methods is not None and not set(methods) <= present:
        missing = ", ".join(sorted(set(methods) - present))
        raise UnknownMethods(f"no runs of {missing}; it holds {', '.join(sorted(present))}")
    config = argparse.Namespace(**results["config"])
    config.output_dir = path.parent
    config.report_at = getattr(config, "report_at", None) or [config.budget / 60]
    for run in results["runs"]:  # results from before the useful-network hypervolume
        if "useful_hypervolume" not in run["hypervolume_curve"]:
            grid = np.array(run["hypervolume_curve"]["seconds"])
            curves = hypervolume_curves(run["trials"], results["objectives"], grid)
            run["hypervolume_curve"]["useful_hypervolume"] = curves["useful_hypervolume"]
            run["final_useful_hypervolume"] = curves["useful_hypervolume"][-1]
        for trial in run["front"]:  # results from before test errors were kept per trial
            for entry in run["trials"]:
                if entry["number"] == trial["number"]:
                    entry.setdefault("test_error", trial["test_error"])
    results["summary"] = summarise(results["runs"], config.budget, results["objectives"])
    results["summaries_by_budget"] = summarise_budgets(
        results["runs"], config, results["objectives"]
    )
    for budget, summary in results["summaries_by_budget"].items():
        print(f"\n=== budget {budget} ===")
        report(summary)
        print(markdown_table(summary))
    path.write_text(json.dumps(results, indent=1))
    plot(
        [r for r in results["runs"] if methods is None or r["method"] in methods],
        results["references"],
        results["summary"],
        results["objectives"],
        config,
        path.stem,
    )


def parse_arguments() -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--data-dir", default=None, help="where a local copy of the data lies")
    parser.add_argument("--objectives", default="error,params")
    parser.add_argument(
        "--methods",
        default=None,
        help=f"comma-separated; LEMONADE's variants {', '.join(LEMONADE_VARIANTS)} and "
        f"baselines {'/'.join(SAMPLERS)}[-EPOCHS] (default: {','.join(METHODS)}; with "
        "--quick: lemonade,tpe,random)",
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="budget per method and seed")
    parser.add_argument(
        "--report-at",
        default=None,
        help="comma-separated budgets in minutes to summarise, each at most --minutes "
        "(default: --minutes)",
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--train-size", type=int, default=10_000)
    parser.add_argument("--validation-size", type=int, default=10_000)
    parser.add_argument(
        "--baseline-space",
        choices=("plain", "staged"),
        default="plain",
        help="the baselines' parametric space (benchmarks/_parametric.py)",
    )
    parser.add_argument(
        "--scratch-epochs",
        type=float,
        default=3.0,
        help="epochs of networks trained from scratch (LEMONADE's initial networks, "
        "baselines named without -EPOCHS)",
    )
    parser.add_argument("--child-epochs", type=float, default=2.0, help="LEMONADE children")
    parser.add_argument("--reference-epochs", type=float, default=10.0)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--jobs", type=int, default=1, help="runs at a time, each in a process of its own"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="trials at a time within a run (every method alike), as --parallel says",
    )
    parser.add_argument(
        "--parallel",
        choices=("processes", "threads"),
        default="processes",
        help="with --workers: LEMONADE's runs as worker processes on one journal-file "
        "study, or as Optuna's n_jobs threads in the run's process",
    )
    parser.add_argument(
        "--baseline-parallel",
        choices=("processes", "threads"),
        default=None,
        help="the same for the baselines (default: --parallel); each gets the way that "
        "serves it best (benchmarks/README.md)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads per worker (default: the cores divided by --jobs and --workers)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a few minutes in all: 30 s per method, 2,000 training images",
    )
    parser.add_argument("--output-dir", type=pathlib.Path, default=RESULTS)
    parser.add_argument(
        "--name",
        default=None,
        help="results file stem (default: search_efficiency[_macs][_quick])",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the runs already saved in <name>.partial.json by an interrupted "
        "invocation with the same settings (written after every run), or in <name>.json "
        "by a finished one, and run only the missing methods and seeds; every kept run "
        "stays in the results",
    )
    parser.add_argument(
        "--drop",
        default="",
        metavar="METHOD:SEED,...",
        help="with --resume: runs not to keep (e.g. disturbed by other work on the "
        "machine); they run again if --methods and --seeds ask for them",
    )
    parser.add_argument(
        "--any-speed",
        action="store_true",
        help="with --resume: run even on a machine whose calibration step takes more "
        f"than {SPEED_TOLERANCE} times as long as the kept runs' (or less than "
        f"1/{SPEED_TOLERANCE}); without it such an invocation stops before its first run",
    )
    parser.add_argument(
        "--references-from",
        type=pathlib.Path,
        default=None,
        help="take the reference CNNs' results from an earlier results JSON instead of "
        "training them again (same dataset, sizes and epochs)",
    )
    parser.add_argument(
        "--no-references", action="store_true", help="train no reference CNNs (ablations)"
    )
    parser.add_argument(
        "--replot",
        type=pathlib.Path,
        default=None,
        metavar="JSON",
        help="run nothing: summarise and plot a results JSON again (it is rewritten); "
        "with --methods, the plots draw those methods only",
    )
    return parser, parser.parse_args()


def check_arguments(parser: argparse.ArgumentParser, config: argparse.Namespace) -> list[str]:
    """Check and complete the settings; returns the objectives."""
    if config.quick:
        config.minutes, config.seeds, config.train_size, config.validation_size = (
            0.5,
            1,
            2000,
            1000,
        )
        config.scratch_epochs, config.child_epochs, config.reference_epochs = 1.0, 1.0, 1.0
    if config.methods is None:
        config.methods = "lemonade,tpe,random" if config.quick else ",".join(METHODS)
    methods = [m.strip() for m in config.methods.split(",")]
    unknown = [m for m in methods if not is_method(m)]
    if unknown or len(set(methods)) != len(methods):
        parser.error(
            f"--methods: {', '.join(unknown) or 'a method twice'}; use "
            f"{', '.join(LEMONADE_VARIANTS)} or {'/'.join(SAMPLERS)}[-EPOCHS]"
        )
    config.methods = methods
    if (
        not config.minutes > 0
        or min(config.seeds, config.jobs, config.workers) < 1
        or config.first_seed < 0
    ):
        parser.error("--minutes must be positive, --seeds, --jobs and --workers at least 1")
    if config.baseline_parallel is None:
        config.baseline_parallel = config.parallel
    if (
        config.jobs > 1
        and config.workers > 1
        and "processes" in (config.parallel, config.baseline_parallel)
    ):
        parser.error("--workers with --parallel processes runs one run at a time (--jobs 1)")
    try:
        config.report_at = sorted(
            {float(m) for m in (config.report_at or str(config.minutes)).split(",")}
        )
    except ValueError:
        parser.error(f"--report-at: minutes separated by commas, got {config.report_at!r}")
    if not all(0 < m <= config.minutes for m in config.report_at):
        parser.error("--report-at: every budget in (0, --minutes]")
    if config.minutes not in config.report_at:
        config.report_at.append(config.minutes)
    config.budget = 60 * config.minutes
    if config.threads is None:
        config.threads = max(1, torch.get_num_threads() // (config.jobs * config.workers))
    objectives = [o.strip() for o in config.objectives.split(",")]
    if (
        objectives[0] != "error"
        or not set(objectives[1:]) <= {"params", "macs"}
        or "params" not in objectives
    ):
        parser.error("--objectives: error first, then params and optionally macs")
    return objectives


def main() -> None:
    parser, config = parse_arguments()
    if config.replot is not None:
        try:
            replot(
                config.replot,
                [m.strip() for m in config.methods.split(",")] if config.methods else None,
            )
        except UnknownMethods as error:
            parser.error(f"--methods: {config.replot}: {error}")
        except (OSError, ValueError, KeyError, TypeError) as error:
            parser.error(f"--replot: {config.replot} is not a readable results file ({error!r})")
        return
    objectives = check_arguments(parser, config)
    methods = config.methods
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(config.threads)
    started = time.perf_counter()
    data = load_benchmark_data(config)
    loaders = data.loaders(batch_size=128, seed=0)
    print(
        f"{config.dataset}: {len(data.train)} train / {len(data.validation)} validation / "
        f"{len(data.test)} test; objectives {objectives}; {config.minutes} min per method "
        f"and seed (reported at {config.report_at}); seeds {config.first_seed}.."
        f"{config.first_seed + config.seeds - 1}; {config.jobs} run(s) at a time, "
        f"{config.workers} worker(s) each (LEMONADE: {config.parallel}, "
        f"baselines: {config.baseline_parallel}), {config.threads} thread(s) "
        f"per worker; baselines over the {config.baseline_space} space; "
        f"methods {methods}",
        flush=True,
    )
    name = config.name or (
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
        "baseline_space",
        "report_at",
        "threads",
        "workers",
        "parallel",
        "baseline_parallel",
    )
    partial = config.output_dir / f"{name}.partial.json"
    previous: dict[str, Any] = {}
    kept_from = next(
        (p for p in (partial, config.output_dir / f"{name}.json") if p.exists()), None
    )
    if config.resume and kept_from is not None:
        previous = json.loads(kept_from.read_text())
        # Files from before --workers ran one worker per run.
        before = {"workers": 1, "parallel": "processes", "baseline_parallel": "processes"}
        changed = [
            k for k in comparable if previous["config"].get(k, before.get(k)) != config_dict[k]
        ]
        if changed:
            parser.error(f"--resume: {kept_from} was written with other {', '.join(changed)}")
    if previous.get("references") is not None:
        references = previous["references"]
    elif config.no_references:
        references = []
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
    seeds = range(config.first_seed, config.first_seed + config.seeds)
    try:
        dropped = {
            (method, int(seed))
            for method, _, seed in (d.partition(":") for d in config.drop.split(",") if d)
        }
    except ValueError:
        parser.error(f"--drop: METHOD:SEED pairs separated by commas, got {config.drop!r}")
    runs: list[dict[str, Any]] = [
        r for r in previous.get("runs", []) if (r["method"], r["seed"]) not in dropped
    ]
    done = {(r["method"], r["seed"]) for r in runs}
    for method, seed in sorted(done):
        print(f"seed {seed} {method:17} kept from {kept_from}", flush=True)
    pending = [(m, s) for s in seeds for m in methods if (m, s) not in done]
    if pending and runs:
        # A results file may span sessions, and sessions land on machines of different
        # speeds: stop before 20 minutes are spent on a run that would not compare.
        mismatch = speed_mismatch(calibration_seconds(data.input_shape, data.num_classes), runs)
        if mismatch is not None and not config.any_speed:
            parser.error(
                f"--resume: {mismatch}. Run on a machine like theirs, or pass --any-speed "
                "to run anyway"
            )
        if mismatch is not None:
            print(f"warning: {mismatch}; running anyway (--any-speed)", flush=True)
    kept = list(runs)

    def finished(result: dict[str, Any]) -> None:
        runs.append(result)
        counted = sum(t["within_budget"] for t in result["trials"])
        print(
            f"seed {result['seed']} {result['method']:17} {counted:4d} trials in budget, "
            f"final HV {result['final_hypervolume']:.4f}, useful HV "
            f"{result['final_useful_hypervolume']:.4f}, front {len(result['front'])} "
            f"({result['wall_seconds']:.0f} s)",
            flush=True,
        )
        drift = speed_mismatch(result["calibration_seconds"], kept or runs[:-1])
        if drift is not None:
            print(
                f"warning: seed {result['seed']} {result['method']}: {drift}; disturbed? "
                f"(--resume --drop {result['method']}:{result['seed']} runs it again)",
                flush=True,
            )
        # Saved after every run: a crash or restart loses at most the runs in flight.
        write_json(
            config.output_dir,
            f"{name}.partial",
            {"config": config_dict, "references": references, "runs": runs},
        )

    if config.jobs == 1:
        for method, seed in pending:
            # Fresh loaders for every run: a run's data order must not depend on the
            # runs before it in this process (it did: seed 1 of a 3-seed invocation saw
            # another order than seed 1 run alone).
            fresh = data.loaders(batch_size=128, seed=0)
            finished(Run(method, seed, config, data, fresh, objectives).run())
    else:
        # Processes of their own: torch's thread pools and Optuna's global state are
        # per process; "spawn", because forking a process that has used torch's
        # threads can deadlock.
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(config.jobs, mp_context=context) as pool:
            futures = [pool.submit(run_in_process, m, s, config, objectives) for m, s in pending]
            for future in concurrent.futures.as_completed(futures):
                finished(future.result())
    runs.sort(key=lambda r: (r["seed"], method_order(r["method"])))
    # The results hold every kept run too: name what is in them, not what this
    # invocation was asked for.
    config_dict["methods"] = sorted({r["method"] for r in runs}, key=method_order)
    config_dict["seeds_run"] = sorted({r["seed"] for r in runs})
    summary = summarise(runs, config.budget, objectives)
    by_budget = summarise_budgets(runs, config, objectives)
    for budget, entry in by_budget.items():
        print(f"\n=== budget {budget} ===")
        report(entry)
        print(markdown_table(entry))
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
            "summaries_by_budget": by_budget,
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
