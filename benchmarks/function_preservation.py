"""Measure how exactly the exact morphisms preserve the function, over random chains.

For each chain: a random start (an initial architecture or a random DAG, with random
input shape and class count), weights and batch-norm statistics perturbed by a few
train-mode steps, then a chain of random exact morphisms with more perturbation after
each. At every step the child's eval-mode outputs are compared with the parent's on
random inputs: relative deviation = max |child - parent| / max |parent|.

Writes ``function_preservation.json`` and ``function_preservation.png`` to the output
directory and prints a table per operator.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import platform
import time

import numpy as np
import torch

from optuna_lemonade.morphisms import apply_mutation
from optuna_lemonade.morphisms import EXACT_OPERATORS
from optuna_lemonade.morphisms import NotApplicable
from optuna_lemonade.morphisms import propose
from optuna_lemonade.testing import eval_outputs
from optuna_lemonade.testing import fresh_model
from optuna_lemonade.testing import perturb
from optuna_lemonade.testing import random_start
from optuna_lemonade.testing import relative_deviation
from optuna_lemonade.testing import sample_inputs


def run_chain(seed: int, length: int) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    arch, space = random_start(rng)
    model = fresh_model(arch, rng)
    steps: list[dict[str, object]] = []
    for _ in range(4 * length):
        operator = EXACT_OPERATORS[int(rng.integers(len(EXACT_OPERATORS)))]
        try:
            mutation, _ = propose(arch, operator, rng, search_space=space)
        except NotApplicable:
            continue
        x = sample_inputs(arch, rng, n=8)
        expected = eval_outputs(model, x)
        arch, model = apply_mutation(arch, model, mutation)
        steps.append(
            {
                "operator": operator,
                "deviation": relative_deviation(expected, eval_outputs(model, x)),
                "nodes": len(arch),
                "input_shape": list(arch.input_shape),
            }
        )
        perturb(model, rng, steps=2)
        if len(steps) == length:
            break
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chains", type=int, default=300, help="number of random chains")
    parser.add_argument("--length", type=int, default=15, help="morphisms per chain")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first chain")
    parser.add_argument("--quick", action="store_true", help="20 chains of 10 (for CI)")
    parser.add_argument(
        "--output-dir", type=pathlib.Path, default=pathlib.Path(__file__).parent / "results"
    )
    args = parser.parse_args()
    if args.quick:
        args.chains, args.length = 20, 10
    torch.set_num_threads(max(1, torch.get_num_threads()))
    start = time.perf_counter()
    steps = []
    short = 0
    for index in range(args.chains):
        chain = run_chain(args.seed + index, args.length)
        short += len(chain) < args.length
        steps += [{**step, "chain": index} for step in chain]
        if (index + 1) % max(1, args.chains // 10) == 0:
            print(f"  {index + 1}/{args.chains} chains, {len(steps)} morphisms", flush=True)
    elapsed = time.perf_counter() - start

    summary = {}
    print(f"\n{'operator':16} {'count':>6} {'max':>10} {'median':>10} {'exactly 0':>10}")
    for operator in EXACT_OPERATORS:
        values = [float(s["deviation"]) for s in steps if s["operator"] == operator]
        summary[operator] = {
            "count": len(values),
            "max": max(values, default=math.nan),
            "median": float(np.median(values)) if values else math.nan,
            "exactly_zero": sum(v == 0.0 for v in values),
        }
        s = summary[operator]
        print(
            f"{operator:16} {s['count']:6d} {s['max']:10.2e} {s['median']:10.2e} "
            f"{s['exactly_zero']:10d}"
        )
    worst = max(float(s["deviation"]) for s in steps)
    print(
        f"\n{args.chains} chains ({short} shorter than {args.length}), {len(steps)} morphisms, "
        f"largest relative deviation {worst:.3e}, {elapsed:.0f} s"
    )
    result = {
        "what": "relative deviation of eval-mode outputs, child vs parent, exact morphisms",
        "chains": args.chains,
        "chain_length": args.length,
        "chains_shorter_than_length": short,
        "morphisms": len(steps),
        "largest_deviation": worst,
        "per_operator": summary,
        "seconds": elapsed,
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        },
        "steps": steps,
    }
    args.output_dir.mkdir(parents=True, exist_ok=True)
    name = "function_preservation" + ("_quick" if args.quick else "")
    (args.output_dir / f"{name}.json").write_text(json.dumps(result, indent=1))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot")
        return
    floor = 1e-10
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for row, operator in enumerate(EXACT_OPERATORS):
        values = np.array(
            [max(float(s["deviation"]), floor) for s in steps if s["operator"] == operator]
        )
        jitter = np.random.default_rng(row).uniform(-0.3, 0.3, len(values))
        ax.scatter(values, row + jitter, s=4, alpha=0.4)
    ax.axvline(1e-5, color="red", linestyle="--", label="tolerance 1e-5")
    ax.set_xscale("log")
    ax.set_xlim(floor / 2, 1e-3)
    ax.set_yticks(range(len(EXACT_OPERATORS)), EXACT_OPERATORS)
    ax.set_xlabel("relative deviation, child vs parent (eval mode; 0 drawn at 1e-10)")
    ax.set_title(f"{len(steps)} exact morphisms in {args.chains} random chains (float32)")
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(args.output_dir / f"{name}.png", dpi=120)
    print(f"wrote {args.output_dir / name}.json and .png")


if __name__ == "__main__":
    main()
