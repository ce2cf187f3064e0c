"""Several tasks in one network: a head per task, trained together, kept by morphisms."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
import torch

from optuna_lemonade import SearchSpace
from optuna_lemonade.morphisms import apply_mutation
from optuna_lemonade.morphisms import EXACT_OPERATORS
from optuna_lemonade.morphisms import NotApplicable
from optuna_lemonade.morphisms import propose
from optuna_lemonade.network import build_model
from optuna_lemonade.sampler import LemonadeSampler
from optuna_lemonade.testing import eval_outputs
from optuna_lemonade.testing import relative_deviation
from optuna_lemonade.training import evaluate_tasks
from optuna_lemonade.training import fine_tune_tasks
from optuna_lemonade.training import num_outputs
from optuna_lemonade.training import Task
from optuna_lemonade.training import task_heads


SHAPE = (1, 8, 8)


def _task(name: str, classes: int, seed: int, n: int = 128) -> Task:
    """An easily learnt synthetic task: class k is noise with a bright patch at a place
    of its own (each task its own places)."""
    generator = torch.Generator().manual_seed(seed)
    y = torch.randint(classes, (n,), generator=generator)
    x = 0.5 * torch.randn(n, *SHAPE, generator=generator)
    places = torch.randperm(SHAPE[1] * SHAPE[2] // 4, generator=generator)[:classes]
    for i, label in enumerate(y.tolist()):
        row, column = divmod(int(places[label]), SHAPE[2] // 2)
        x[i, :, 2 * row : 2 * row + 2, 2 * column : 2 * column + 2] += 2.0
    batches = [(x[i : i + 32], y[i : i + 32]) for i in range(0, n, 32)]
    return Task(name, classes, batches, batches, test=batches[:1])


@pytest.fixture
def tasks() -> list[Task]:
    # Different sizes: B has fewer batches and starts new passes within an epoch.
    return [_task("a", 4, seed=0), _task("b", 3, seed=1, n=64)]


def test_heads_are_consecutive_slices(tasks) -> None:
    assert task_heads(tasks) == {"a": slice(0, 4), "b": slice(4, 7)}
    assert num_outputs(tasks) == 7


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([], "at least one task"),
        ([_task("a", 2, 0), _task("a", 3, 1)], "two tasks are named 'a'"),
        ([Task("a", 0, [], [])], "num_classes must be a positive integer"),
        ([Task("a", True, [], [])], "num_classes must be a positive integer"),
        (["a"], "must be Task objects"),
    ],
)
def test_bad_tasks_are_named(bad, message) -> None:
    with pytest.raises(ValueError, match=message):
        task_heads(bad)


def test_training_on_both_tasks_learns_both(tasks) -> None:
    space = SearchSpace(SHAPE, num_outputs(tasks), initial_widths=(8,))
    model = build_model(space.initial_architectures()[0], seed=0)
    before = evaluate_tasks(model, tasks, device="cpu")
    fine_tune_tasks(model, tasks, epochs=15, lr=0.05, device="cpu", progress=False)
    after = evaluate_tasks(model, tasks, device="cpu")
    assert set(after) == {"a", "b"}
    for name, chance in (("a", 3 / 4), ("b", 2 / 3)):
        assert after[name] < before[name] and after[name] < 0.3 * chance, (before, after)


def test_each_task_is_judged_by_its_own_head(tasks) -> None:
    class Fixed(torch.nn.Module):
        """Head a always says class 1; head b always class 2."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            logits = torch.zeros(len(x), 7)
            logits[:, 1] = 1.0
            logits[:, 4 + 2] = 1.0
            logits[:, 5] = 0.5  # b's class 1 is second; a's logits never leak into b
            return logits

    errors = evaluate_tasks(Fixed(), tasks, device="cpu", channels_last=False)
    for task in tasks:
        labels = torch.cat([y for _, y in task.validation])
        predicted = 1 if task.name == "a" else 2
        assert errors[task.name] == pytest.approx(float((labels != predicted).float().mean()))
    test_errors = evaluate_tasks(Fixed(), tasks, split="test", device="cpu", channels_last=False)
    assert set(test_errors) == {"a", "b"}


def test_mismatched_models_splits_and_empty_tasks_are_refused(tasks) -> None:
    space = SearchSpace(SHAPE, 5, initial_widths=(4,))
    model = build_model(space.initial_architectures()[0], seed=0)
    with pytest.raises(ValueError, match="the model has 5 outputs; 2 tasks need 7"):
        fine_tune_tasks(model, tasks, epochs=1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="the model has 5 outputs; 2 tasks need 7"):
        evaluate_tasks(model, tasks, device="cpu")
    with pytest.raises(ValueError, match="split must be"):
        evaluate_tasks(model, tasks, split="train", device="cpu")
    without_test = [Task("a", 5, tasks[0].train, tasks[0].validation)]
    with pytest.raises(ValueError, match="task 'a' has no test batches"):
        evaluate_tasks(model, without_test, split="test", device="cpu")
    empty = [Task("a", 5, [], tasks[0].validation)]
    with pytest.raises(ValueError, match="training batches of task 'a' are empty"):
        fine_tune_tasks(model, empty, epochs=1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="epochs must be positive"):
        fine_tune_tasks(model, tasks, epochs=0, device="cpu", progress=False)


def test_callback_can_stop_training_on_every_task(tasks) -> None:
    space = SearchSpace(SHAPE, 7, initial_widths=(4,))
    model = build_model(space.initial_architectures()[0], seed=0)
    seen: list[tuple[int, int]] = []

    def stop_after_three(step: int, total: int) -> bool:
        seen.append((step, total))
        return step == 3

    fine_tune_tasks(
        model, tasks, epochs=2, device="cpu", progress=False, callback=stop_after_three
    )
    assert seen == [(1, 8), (2, 8), (3, 8)]  # task a's 4 batches per epoch
    assert model.training


def test_every_exact_morphism_keeps_every_head(tasks) -> None:
    space = SearchSpace(SHAPE, num_outputs(tasks), max_params=100_000, initial_widths=(6,))
    arch = space.initial_architectures()[0]
    model = build_model(arch, seed=0)
    fine_tune_tasks(model, tasks, epochs=3, device="cpu", progress=False)  # trained BN stats
    heads = task_heads(tasks)
    x = torch.cat([inputs for inputs, _ in tasks[0].validation])[:16]
    rng = np.random.default_rng(0)
    checked = set()
    for _ in range(6):  # a chain: each child is the next parent
        for operator in EXACT_OPERATORS:
            try:
                mutation, child_arch = propose(arch, operator, rng, search_space=space)
            except NotApplicable:
                continue
            _, child = apply_mutation(arch, model, mutation)
            expected, got = eval_outputs(model, x), eval_outputs(child, x)
            for name, head in heads.items():
                assert relative_deviation(expected[:, head], got[:, head]) <= 1e-5, (
                    operator,
                    name,
                )
                assert torch.equal(expected[:, head].argmax(1), got[:, head].argmax(1))
            checked.add(operator)
            arch, model = child_arch, child
    assert checked == set(EXACT_OPERATORS)


def test_children_inherit_every_head_and_checkpoints_hold_them(tasks, tmp_path) -> None:
    space = SearchSpace(SHAPE, num_outputs(tasks), max_params=100_000, initial_widths=(4, 8))
    sampler = LemonadeSampler(
        space,
        cheap_objectives=["params"],
        operators=EXACT_OPERATORS,
        artifact_store=optuna.artifacts.FileSystemArtifactStore(str(tmp_path)),
        seed=0,
    )
    x = torch.cat([inputs for inputs, _ in tasks[0].validation])[:16]
    inherited = []

    def objective(trial: optuna.Trial) -> tuple[float, float, float]:
        child = sampler.child(trial)
        if child.parent is not None:
            parent = sampler.load_model(study.trials[child.parent])
            inherited.append(
                relative_deviation(eval_outputs(parent, x), eval_outputs(child.model, x))
            )
        errors = child.fit_tasks(tasks, epochs=1, device="cpu")
        return errors["a"], errors["b"], child.cheap_objectives["params"]

    study = optuna.create_study(directions=["minimize"] * 3, sampler=sampler)
    study.optimize(objective, n_trials=6)
    assert all(t.state.name == "COMPLETE" for t in study.trials)
    assert len(inherited) == 4 and max(inherited) <= 1e-5
    for trial in study.trials:  # the checkpoint holds every head: same errors reloaded
        errors = evaluate_tasks(sampler.load_model(trial), tasks, device="cpu")
        assert [errors["a"], errors["b"]] == trial.values[:2]


def test_fit_tasks_refuses_tasks_that_do_not_fill_the_outputs(tasks, tmp_path) -> None:
    space = SearchSpace(SHAPE, 10, initial_widths=(4,))
    sampler = LemonadeSampler(
        space, artifact_store=optuna.artifacts.FileSystemArtifactStore(str(tmp_path)), seed=0
    )
    study = optuna.create_study(sampler=sampler)
    trial = study.ask()
    with pytest.raises(ValueError, match="the tasks have 7 classes in all, the network 10"):
        sampler.child(trial).fit_tasks(tasks, epochs=1, device="cpu")
