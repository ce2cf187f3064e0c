from __future__ import annotations

from collections.abc import Callable

import optuna
import torch

from optuna_lemonade.sampler import LemonadeSampler


SHAPE = (3, 8, 8)
CLASSES = 3


def train_briefly(
    model: torch.nn.Module, data: tuple[torch.Tensor, torch.Tensor], steps: int = 4
) -> float:
    x, y = data
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) != y).float().mean())


def make_objective(
    sampler: LemonadeSampler, data: tuple[torch.Tensor, torch.Tensor]
) -> Callable[[optuna.Trial], tuple[float, float]]:
    def objective(trial: optuna.Trial) -> tuple[float, float]:
        child = sampler.child(trial)
        # One full batch: a few steps of training, then the error on the same batch.
        error = child.fit([data], [data], epochs=4, lr=0.05, device="cpu")
        return error, child.cheap_objectives["params"]

    return objective
