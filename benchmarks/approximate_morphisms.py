"""Accuracy of approximate (shrinking) morphisms on a trained Fashion-MNIST network.

A parent network is grown from the second initial architecture by a fixed sequence of
exact morphisms (so that every shrinking operator has places to act) and trained. For
each approximate operator, several distinct mutations of it are applied; for each
child the validation error is measured right after the mutation, and after a short
fine-tune without and with knowledge distillation from the parent (same data, same
steps, same seed). Reports the medians of the error increase over the parent, in
percentage points, and writes JSON and a PNG to the output directory.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time

from _common import RESULTS
from _common import write_json
from _search_methods import STAGES3
import numpy as np
import torch

from optuna_lemonade import count_params
from optuna_lemonade import SearchSpace
from optuna_lemonade.morphisms import apply_mutation
from optuna_lemonade.morphisms import APPROXIMATE_OPERATORS
from optuna_lemonade.morphisms import NotApplicable
from optuna_lemonade.morphisms import propose
from optuna_lemonade.network import build_model
from optuna_lemonade.training import evaluate
from optuna_lemonade.training import fine_tune
from optuna_lemonade.training import load_dataset


GROWTH = ("insert_conv", "insert_conv", "add_skip", "concat_skip", "insert_sepconv", "widen")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--train-size", type=int, default=10_000)
    parser.add_argument("--validation-size", type=int, default=10_000)
    parser.add_argument("--parent-epochs", type=float, default=8)
    parser.add_argument("--child-epochs", type=float, default=1)
    parser.add_argument("--mutations", type=int, default=8, help="per operator")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a few minutes less: small data")
    parser.add_argument("--output-dir", type=pathlib.Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.train_size, args.validation_size = 2000, 1000
        args.parent_epochs, args.child_epochs, args.mutations = 2, 0.5, 2
    start = time.perf_counter()
    data = load_dataset(
        args.dataset,
        train_size=args.train_size,
        validation_size=args.validation_size,
        seed=args.seed,
    )
    train, validation, _ = data.loaders(batch_size=128, seed=args.seed)
    # The three-stage initial networks of the earlier defaults, from which the
    # committed results were measured.
    space = SearchSpace(data.input_shape, data.num_classes, **STAGES3)
    rng = np.random.default_rng(args.seed)
    arch = space.initial_architectures()[1]
    parent = build_model(arch, seed=args.seed)
    for operator in GROWTH:
        mutation, _ = propose(arch, operator, rng, search_space=space)
        arch, parent = apply_mutation(arch, parent, mutation)
    fine_tune(parent, train, epochs=args.parent_epochs, device="cpu", progress=False)
    parent_error = evaluate(parent, validation, device="cpu")
    print(
        f"parent: {count_params(arch)} params, {len(arch)} nodes, validation error "
        f"{parent_error:.4f} after {args.parent_epochs} epochs on {len(data.train)} images"
    )
    # The parent trained as long as a child is fine-tuned, for comparison.
    _, continued = apply_mutation(arch, parent, propose(arch, "add_skip", rng)[0])
    torch.manual_seed(args.seed)
    fine_tune(continued, train, epochs=args.child_epochs, device="cpu", progress=False)
    continued_error = evaluate(continued, validation, device="cpu")

    rows = []
    for operator in APPROXIMATE_OPERATORS:
        seen = set()
        for attempt in range(20 * args.mutations):
            if len(seen) == args.mutations:
                break
            try:
                mutation, child_arch = propose(
                    arch, operator, np.random.default_rng([args.seed, attempt]), search_space=space
                )
            except NotApplicable:
                break
            key = json.dumps({k: v for k, v in mutation.to_dict().items() if k != "seed"})
            if key in seen:
                continue
            seen.add(key)
            errors = {}
            _, child = apply_mutation(arch, parent, mutation)
            errors["after mutation"] = evaluate(child, validation, device="cpu")
            for distil in (False, True):
                _, child = apply_mutation(arch, parent, mutation)
                torch.manual_seed(args.seed)
                fine_tune(
                    child,
                    train,
                    epochs=args.child_epochs,
                    teacher=parent if distil else None,
                    device="cpu",
                    progress=False,
                )
                label = "fine-tuned with distillation" if distil else "fine-tuned"
                errors[label] = evaluate(child, validation, device="cpu")
            rows.append(
                {
                    "operator": operator,
                    "mutation": mutation.to_dict(),
                    "params": count_params(child_arch),
                    "errors": errors,
                }
            )
            print(
                f"{operator:14} {count_params(child_arch):7d} params  "
                + "  ".join(f"{k}: {v:.4f}" for k, v in errors.items()),
                flush=True,
            )
    elapsed = time.perf_counter() - start
    stages = ["after mutation", "fine-tuned", "fine-tuned with distillation"]
    summary = {}
    print(
        f"\nmedian error increase over the parent ({parent_error:.4f}), percentage points; "
        f"{args.child_epochs} epoch(s) of fine-tuning (parent trained as long: "
        f"{continued_error:.4f})"
    )
    print(f"{'operator':14} {'n':>3} " + " ".join(f"{s:>29}" for s in stages))
    for operator in APPROXIMATE_OPERATORS:
        chosen = [r for r in rows if r["operator"] == operator]
        summary[operator] = {
            "mutations": len(chosen),
            **{
                stage: 100 * float(np.median([r["errors"][stage] - parent_error for r in chosen]))
                if chosen
                else None
                for stage in stages
            },
        }
        cells = " ".join(
            f"{summary[operator][s]:29.2f}" if chosen else f"{'n/a':>29}" for s in stages
        )
        print(f"{operator:14} {len(chosen):3d} {cells}")
    print(f"\n{elapsed:.0f} s")
    result = {
        "dataset": args.dataset,
        "train_images": len(data.train),
        "validation_images": len(data.validation),
        "parent": {
            "params": count_params(arch),
            "nodes": len(arch),
            "error": parent_error,
            "epochs": args.parent_epochs,
            "architecture": arch.to_dict(),
        },
        "parent_trained_as_long_as_a_child_error": continued_error,
        "child_epochs": args.child_epochs,
        "median_error_increase_percentage_points": summary,
        "rows": rows,
        "seconds": elapsed,
    }
    name = "approximate_morphisms" + ("_quick" if args.quick else "")
    write_json(args.output_dir, name, result)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    width = 0.27
    for index, stage in enumerate(stages):
        values = [summary[op][stage] or 0.0 for op in APPROXIMATE_OPERATORS]
        ax.bar(
            np.arange(len(APPROXIMATE_OPERATORS)) + (index - 1) * width, values, width, label=stage
        )
    ax.axhline(
        100 * (continued_error - parent_error),
        color="grey",
        linestyle="--",
        label="parent trained as long",
    )
    ax.set_xticks(range(len(APPROXIMATE_OPERATORS)), APPROXIMATE_OPERATORS)
    ax.set_ylabel("median error increase (pp)")
    ax.set_yscale("symlog", linthresh=1)
    ax.set_title(
        f"Shrinking morphisms on a trained {args.dataset} network "
        f"({count_params(arch) / 1e3:.0f}k params, error {parent_error:.3f})"
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.output_dir / f"{name}.png", dpi=120)


if __name__ == "__main__":
    main()
