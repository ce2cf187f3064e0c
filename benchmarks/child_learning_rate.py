"""Child learning rate: how much of a parent's training a child's fine-tune keeps.

A lineage as the search makes one: an initial network (plain-16 of the search space)
trained from scratch, then a few generations, each one morphism drawn at random (the
same draws for every learning rate) and a short fine-tune with a cosine schedule that
starts at the learning rate under test (approximate morphisms distil from the parent).
Validation error after every generation, per learning rate and seed, on Fashion-MNIST
(the search-efficiency benchmark's 10k/10k split). The question it answers: does
restarting every child at the initial networks' learning rate (0.05) throw away what
the parent learnt, and which starting rate keeps the most?
"""

from __future__ import annotations

import argparse
import pathlib
import time

from _common import RESULTS
from _common import write_json
from _search_methods import STAGES3
import numpy as np
import torch

from optuna_lemonade import count_params
from optuna_lemonade import SearchSpace
from optuna_lemonade.morphisms import get_operator
from optuna_lemonade.morphisms import mutate
from optuna_lemonade.morphisms import NotApplicable
from optuna_lemonade.network import build_model
from optuna_lemonade.training import evaluate
from optuna_lemonade.training import fine_tune
from optuna_lemonade.training import load_dataset


OPERATORS = ("insert_conv", "widen", "add_skip", "insert_sepconv", "prune_filters")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lrs", default="0.05,0.02,0.01")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--generations", type=int, default=3)
    parser.add_argument("--initial-epochs", type=float, default=3.0)
    parser.add_argument("--child-epochs", type=float, default=2.0)
    parser.add_argument("--quick", action="store_true", help="2k images, 1 seed, 1 generation")
    parser.add_argument("--output-dir", type=pathlib.Path, default=RESULTS)
    config = parser.parse_args()
    sizes = (2000, 1000) if config.quick else (10_000, 10_000)
    if config.quick:
        config.seeds, config.generations, config.initial_epochs, config.child_epochs = 1, 1, 1, 1
    lrs = [float(x) for x in config.lrs.split(",")]
    data = load_dataset("fashion-mnist", train_size=sizes[0], validation_size=sizes[1], seed=0)
    train, validation, _ = data.loaders(batch_size=128, seed=0)
    # plain-16: the three-stage initial networks of the earlier defaults.
    space = SearchSpace(data.input_shape, data.num_classes, **STAGES3)
    parent_arch = space.initial_architectures()[1]
    started = time.perf_counter()
    rows = []
    for seed in range(config.seeds):
        torch.manual_seed(seed)
        parent = build_model(parent_arch, seed=seed)
        fine_tune(parent, train, epochs=config.initial_epochs, lr=0.05, progress=False)
        initial_error = evaluate(parent, validation)
        print(f"seed {seed}: initial {count_params(parent_arch)} params, val {initial_error:.4f}")
        for lr in lrs:
            rng = np.random.default_rng(seed)  # the same lineage for every learning rate
            arch, model = parent_arch, build_model(parent_arch)
            model.load_state_dict(parent.state_dict())
            errors = [initial_error]
            operators = []
            for _ in range(config.generations):
                while True:
                    name = OPERATORS[int(rng.integers(len(OPERATORS)))]
                    try:
                        child_arch, child = mutate(
                            arch, model.eval(), name, rng, search_space=space
                        )
                        break
                    except NotApplicable:  # no place for it: draw another operator
                        continue
                teacher = None if get_operator(name).exact else model.eval()
                torch.manual_seed(seed)
                fine_tune(
                    child,
                    train,
                    epochs=config.child_epochs,
                    lr=lr,
                    teacher=teacher,
                    progress=False,
                )
                arch, model = child_arch, child
                errors.append(evaluate(model, validation))
                operators.append(name)
            print(f"  lr {lr:<6} {' -> '.join(f'{e:.4f}' for e in errors)}  {operators}")
            rows.append(
                {
                    "seed": seed,
                    "lr": lr,
                    "errors": errors,
                    "operators": operators,
                    "final_params": count_params(arch),
                }
            )
    means = {
        lr: np.mean([r["errors"][-1] for r in rows if r["lr"] == lr], axis=0).item() for lr in lrs
    }
    print("mean final error: " + ", ".join(f"lr {lr}: {e:.4f}" for lr, e in means.items()))
    write_json(
        config.output_dir,
        "child_learning_rate" + ("_quick" if config.quick else ""),
        {
            "config": {k: str(v) for k, v in vars(config).items()},
            "rows": rows,
            "mean_final_error": means,
            "seconds": time.perf_counter() - started,
        },
    )


if __name__ == "__main__":
    main()
