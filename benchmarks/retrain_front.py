"""Retrain the front: a search's best networks trained again from scratch.

What limits LEMONADE's best networks: the architectures the search found, or the
weights they inherited and fine-tuned a few epochs at a time? For every run of a
search-efficiency results file that saved its front's architectures (runs since
2026-11-29) and every size cap of ``--caps``, the front network with the lowest
validation error within the cap is trained again from scratch for each of ``--epochs``,
with the baselines' settings (the run's data, SGD with a cosine schedule from the run's
learning rate, batch 128, weights seeded as a baseline's), and its validation and test
errors are set next to the search's. The search's figure comes with the epochs its
network was trained along its lineage (the initial network's plus every fine-tune's).

Writes ``retrain_<results stem>.json``; it is saved after every network, and
``--resume`` keeps what it holds.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys
import time
from typing import Any

from _common import RESULTS
from _common import write_json
from _search_runs import load_benchmark_data
import torch

from optuna_lemonade import Architecture
from optuna_lemonade import count_params
from optuna_lemonade.architecture import analytic_num_macs
from optuna_lemonade.network import build_model
from optuna_lemonade.training import evaluate
from optuna_lemonade.training import fine_tune


def lineage(trials: dict[int, dict[str, Any]], number: int) -> tuple[float, int]:
    """The epochs a network was trained along its lineage, and the lineage's length."""
    epochs, steps = 0.0, 0
    while True:
        trial = trials[number]
        epochs, steps = epochs + trial["epochs"], steps + 1
        origin = trial["origin"]
        if origin == "scratch":
            return epochs, steps
        number = int(origin.rsplit(" of ", 1)[1])


def choose(run: dict[str, Any], caps: list[float]) -> list[dict[str, Any]]:
    """Per cap, the front's network of lowest validation error within it; a network
    that is the best under several caps comes once, with all of them."""
    chosen: dict[int, dict[str, Any]] = {}
    for cap in sorted(caps):
        within = [e for e in run["front"] if e["values"][1] <= cap]
        if within:
            best = min(within, key=lambda e: e["values"][0])
            chosen.setdefault(best["number"], {"entry": best, "caps": []})["caps"].append(cap)
    return list(chosen.values())


def label(cap: float) -> float | str:
    """A cap as JSON holds it: "any" for no cap."""
    return "any" if math.isinf(cap) else cap


def save(config: argparse.Namespace, name: str, rows: list[dict[str, Any]]) -> None:
    settings = {
        **vars(config),
        "results": str(config.results),
        "output_dir": str(config.output_dir),
        "caps": [label(c) for c in config.caps],
    }
    write_json(config.output_dir, name, {"config": settings, "rows": rows})


def parse_arguments() -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--results", type=pathlib.Path, required=True, help="a search_efficiency results JSON"
    )
    parser.add_argument(
        "--methods",
        default=None,
        help="comma-separated (default: LEMONADE's runs, every variant, with architectures)",
    )
    parser.add_argument(
        "--caps", default="25000,100000,inf", help="size caps in parameters, comma-separated"
    )
    parser.add_argument("--epochs", default="6,10", help="epochs from scratch, comma-separated")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="1 epoch, one cap (any size)")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--output-dir", type=pathlib.Path, default=RESULTS)
    config = parser.parse_args()
    try:
        config.caps = [float(c) for c in config.caps.split(",")]
        config.epochs = [float(e) for e in config.epochs.split(",")]
    except ValueError:
        parser.error("--caps and --epochs: numbers separated by commas")
    if config.quick:
        config.caps, config.epochs = [math.inf], [1.0]
    if not all(c > 0 for c in config.caps) or not all(e > 0 for e in config.epochs):
        parser.error("--caps and --epochs must be positive")
    if config.threads < 1:
        parser.error(f"--threads must be at least 1, got {config.threads}")
    return parser, config


def main() -> None:
    parser, config = parse_arguments()
    try:
        results = json.loads(config.results.read_text())
        runs, search = results["runs"], argparse.Namespace(**results["config"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        parser.error(f"--results: {config.results} is not a search results file ({error!r})")
    if results.get("objectives", ["error", "params"])[:2] != ["error", "params"]:
        parser.error("--results: the objectives must start with error, params")
    methods = config.methods.split(",") if config.methods else None
    runs = [
        r
        for r in runs
        if (r["method"] in methods if methods else r["method"].startswith("lemonade"))
        and r["front"]
        and all("architecture" in e for e in r["front"])
    ]
    if not runs:
        parser.error(
            f"--results: no run{' of ' + config.methods if methods else ''} in "
            f"{config.results} saved its front's architectures (runs since 2026-11-29 do)"
        )
    torch.set_num_threads(config.threads)
    data = load_benchmark_data(search)
    name = f"retrain_{config.results.stem}"
    path = config.output_dir / f"{name}.json"
    rows: list[dict[str, Any]] = []
    if config.resume and path.exists():
        rows = json.loads(path.read_text())["rows"]
    done = {(r["method"], r["seed"], r["number"], r["epochs"]) for r in rows}
    for run in runs:
        trials = {t["number"]: t for t in run["trials"]}
        for choice in choose(run, config.caps):
            entry = choice["entry"]
            arch = Architecture.from_dict(entry["architecture"])
            lineage_epochs, steps = lineage(trials, entry["number"])
            for epochs in config.epochs:
                if (run["method"], run["seed"], entry["number"], epochs) in done:  # --resume
                    continue
                train, validation, test = data.loaders(batch_size=128, seed=0)
                model = build_model(arch, seed=1000 * run["seed"] + entry["number"])
                torch.manual_seed(1000 * run["seed"] + entry["number"])
                start = time.perf_counter()
                fine_tune(
                    model, train, epochs=epochs, lr=search.lr, device=search.device, progress=False
                )
                row = {
                    "method": run["method"],
                    "seed": run["seed"],
                    "number": entry["number"],
                    "caps": [label(cap) for cap in choice["caps"]],
                    "params": count_params(arch),
                    "macs": analytic_num_macs(arch),
                    "search_validation_error": entry["values"][0],
                    "search_test_error": entry["test_error"],
                    "lineage_epochs": lineage_epochs,
                    "lineage_steps": steps,
                    "epochs": epochs,
                    "seconds": time.perf_counter() - start,
                    "validation_error": evaluate(model, validation, device=search.device),
                    "test_error": evaluate(model, test, device=search.device),
                }
                rows.append(row)
                print(
                    f"{row['method']} seed {row['seed']} #{row['number']:<4d} "
                    f"{row['params']:8d} params  search val {row['search_validation_error']:.4f}"
                    f" test {row['search_test_error']:.4f} ({lineage_epochs:g} epochs, "
                    f"{steps} steps)  scratch {epochs:g} epochs val "
                    f"{row['validation_error']:.4f} test {row['test_error']:.4f} "
                    f"({row['seconds']:.0f} s)",
                    flush=True,
                )
                # Saved after every network: a kill loses at most the one in training.
                save(config, name, rows)
    save(config, name, rows)
    print(f"wrote {path}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # every finished network is saved already
        sys.exit("interrupted: the networks finished so far are saved; --resume goes on")
