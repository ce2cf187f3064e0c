"""LEMONADE through OptunaHub on scikit-learn's bundled digits: eight trials, seconds on a CPU.

Three initial networks are trained from scratch, then children made from them by network
morphisms inherit their parent's weights and are only fine-tuned. Checkpoints go to
``./lemonade-checkpoints``.
"""

from __future__ import annotations

import os

import optuna
import optunahub

from optuna_lemonade.training import load_dataset


# This file's package in a local registry (a clone of optunahub-registry, or optuna-lemonade's
# hub/ folder). From the published registry: optunahub.load_module("samplers/lemonade").
registry_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
lemonade = optunahub.load_local_module(package="samplers/lemonade", registry_root=registry_root)

data = load_dataset("digits", train_size=300)  # 8x8 images, 10 classes, offline
train, validation, _ = data.loaders(batch_size=32)
space = lemonade.SearchSpace(data.input_shape, data.num_classes, max_params=100_000)
sampler = lemonade.LemonadeSampler(space, seed=0)
study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)


def objective(trial: optuna.Trial) -> tuple[float, float]:
    """Train the trial's network; its validation error and its parameter count."""
    child = sampler.child(trial)  # the network of this trial, and where it came from
    epochs = 10 if child.parent is None else 3  # a child only fine-tunes inherited weights
    error = child.fit(train, validation, epochs=epochs)  # trains, evaluates, saves
    return error, child.cheap_objectives["params"]


study.optimize(objective, n_trials=8)
for trial in study.best_trials:
    error, params = trial.values
    parent = trial.user_attrs["lemonade_parent"]
    origin = "trained from scratch" if parent is None else f"child of trial {parent}"
    print(f"trial {trial.number}: error {error:.3f}, {params:,.0f} parameters, {origin}")
