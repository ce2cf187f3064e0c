"""Compress a model of yours: a search that starts from a trained PyTorch model.

A user's story, run as the user runs it: a ResNet-like CNN written in plain PyTorch
(the search benchmark's ``resnet-like`` reference, three stages of three Conv-BN-ReLU
with a residual skip, 16/32/64 filters) is trained for 10 epochs, converted with
``optuna_lemonade.from_module``, saved with ``save_checkpoint`` and handed to
``optuna-lemonade search --initial-model`` (default workers, objectives error and
parameters). The networks its front holds at <= 1/2 and <= 1/4 of the model's
parameters are then trained from scratch, the same architectures with new weights,
each for half the search's wall time with the same cores (together: the search's
compute), to answer: does starting from the trained model beat training the small
network afresh?

    python benchmarks/compress_model.py                 # 20 min search, Fashion-MNIST
    python benchmarks/compress_model.py --quick         # digits, seconds (CI)

Writes ``results/compress_model.json`` and ``results/compress_model.png``.
"""

from __future__ import annotations

import argparse
import itertools
import pathlib
import subprocess
import sys
import tempfile
import time
from typing import Any

from _common import RESULTS
from _common import search_command
from _common import write_json
import optuna
from optuna.artifacts import FileSystemArtifactStore
import torch
from torch import nn
import torch.nn.functional as F

from optuna_lemonade import LemonadeSampler
from optuna_lemonade import SearchSpace
from optuna_lemonade.architecture import summarize
from optuna_lemonade.cheap_objectives import count_params
from optuna_lemonade.export import save_checkpoint
from optuna_lemonade.network import build_model
from optuna_lemonade.network import from_module
from optuna_lemonade.training import evaluate
from optuna_lemonade.training import fine_tune
from optuna_lemonade.training import load_dataset


FRACTIONS = (("1/2", 0.5), ("1/4", 0.25))
"""The sizes the front is compared at, as fractions of the model's parameters."""


class ResidualStage(nn.Module):
    """Three Conv-BN-ReLU, the first changing the channels; a skip around the last two."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(c, channels, 3, padding=1, bias=False)
            for c in (in_channels, channels, channels)
        )
        self.norms = nn.ModuleList(nn.BatchNorm2d(channels) for _ in range(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first = F.relu(self.norms[0](self.convs[0](x)))
        y = F.relu(self.norms[1](self.convs[1](first)))
        y = F.relu(self.norms[2](self.convs[2](y)))
        return first + y


class ResNetLike(nn.Module):
    """The user's model: residual stages with 2x2 max pooling between, then a classifier."""

    def __init__(self, in_channels: int, classes: int, widths: tuple[int, ...]) -> None:
        super().__init__()
        channels = (in_channels, *widths)
        self.stages = nn.ModuleList(ResidualStage(a, b) for a, b in itertools.pairwise(channels))
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(widths[-1], classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for index, stage in enumerate(self.stages):
            x = stage(x)
            if index < len(self.stages) - 1:
                x = self.pool(x)
        return self.head(x)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="digits, a few seconds each")
    parser.add_argument(
        "--minutes", type=float, help="the search's budget (default 20; quick 0.25)"
    )
    parser.add_argument("--reference-epochs", type=float, help="the model's training (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data split and search")
    parser.add_argument("--name", default="compress_model", help="results file name")
    parser.add_argument("--output-dir", type=pathlib.Path, default=RESULTS)
    args = parser.parse_args()
    for option in ("minutes", "reference_epochs"):
        value = getattr(args, option)
        if value is not None and not value > 0:
            parser.error(f"--{option.replace('_', '-')} must be positive, got {value}")
    return args


def _time_budgeted_training(
    arch: Any, train: Any, seconds: float, lr: float, seed: int
) -> tuple[nn.Module, float, float]:
    """Train ``arch`` from scratch for about ``seconds``: epochs from a timed probe.

    A full cosine schedule over the epochs that fit, as a user who knows the time per
    epoch would set it, rather than a schedule cut off by the clock.
    """
    batches = len(train)
    probe = build_model(arch, seed=seed)
    probe_steps = min(20, batches)
    start = time.perf_counter()
    fine_tune(probe, train, epochs=probe_steps / batches, lr=lr, progress=False, device="cpu")
    per_epoch = (time.perf_counter() - start) / probe_steps * batches
    epochs = max(probe_steps / batches, (seconds - (time.perf_counter() - start)) / per_epoch)
    model = build_model(arch, seed=seed)
    torch.manual_seed(seed)
    started = time.perf_counter()
    fine_tune(model, train, epochs=epochs, lr=lr, progress=False, device="cpu")
    return model, epochs, time.perf_counter() - started + (started - start)


def main() -> int:
    args = _arguments()
    dataset = "digits" if args.quick else "fashion-mnist"
    minutes = args.minutes or (0.25 if args.quick else 20.0)
    reference_epochs = args.reference_epochs or (2.0 if args.quick else 10.0)
    sizes = {} if args.quick else {"train_size": 10_000, "validation_size": 10_000}
    data = load_dataset(dataset, seed=args.seed, **sizes)
    train, validation, test = data.loaders(batch_size=128, seed=args.seed)
    lr = 0.05
    torch.manual_seed(args.seed)
    model = ResNetLike(data.input_shape[0], data.num_classes, (16, 32, 64))
    start = time.perf_counter()
    fine_tune(model, train, epochs=reference_epochs, lr=lr, progress=False, device="cpu")
    reference_seconds = time.perf_counter() - start
    network = from_module(model, data.input_shape)
    reference = {
        "params": count_params(network.architecture),
        "summary": summarize(network.architecture),
        "epochs": reference_epochs,
        "seconds": reference_seconds,
        "validation_error": evaluate(model, validation, device="cpu"),
        "test_error": evaluate(model, test, device="cpu"),
        "converted_validation_error": evaluate(network, validation, device="cpu"),
    }
    print(
        f"{dataset}: the model, {reference['params']:,} parameters, {reference_epochs:g} "
        f"epochs in {reference_seconds:.0f} s: validation {reference['validation_error']:.4f}, "
        f"test {reference['test_error']:.4f} (converted: "
        f"{reference['converted_validation_error']:.4f})",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as folder:
        directory = pathlib.Path(folder)
        save_checkpoint(network, directory / "mine.pt")
        options = ["--dataset", dataset, "--initial-model", str(directory / "mine.pt")]
        options += ["--minutes", f"{minutes:g}", "--seed", str(args.seed)]
        if not args.quick:
            options += ["--train-size", "10000"]
        command, storage = search_command(directory, *options)
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        search_seconds = time.perf_counter() - start
        study = optuna.load_study(study_name=f"lemonade-{dataset}", storage=storage)
        space = SearchSpace(data.input_shape, data.num_classes, max_params=None)
        sampler = LemonadeSampler(
            space,
            initial_architectures=[network],
            artifact_store=FileSystemArtifactStore(str(directory / "checkpoints")),
        )
        complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        front = sorted(study.best_trials, key=lambda t: t.values[1])
        trials = [
            {
                "number": t.number,
                "params": t.values[1],
                "validation_error": t.values[0],
                "parent": t.user_attrs.get("lemonade_parent"),
                "operator": t.user_attrs.get("lemonade_operator"),
                "on_front": t in front,
            }
            for t in complete
        ]
        comparisons = []
        scratch_seconds = search_seconds / len(FRACTIONS)
        for label, fraction in FRACTIONS:
            cap = fraction * reference["params"]
            fitting = [t for t in front if t.values[1] <= cap]
            if not fitting:
                comparisons.append({"fraction": label, "cap": cap, "searched": None})
                print(f"<= {label}: no network on the front", flush=True)
                continue
            best = min(fitting, key=lambda t: t.values[0])
            searched = sampler.load_model(best)
            arch = searched.architecture
            scratch, epochs, seconds = _time_budgeted_training(
                arch, train, scratch_seconds, lr, args.seed
            )
            entry = {
                "fraction": label,
                "cap": cap,
                "searched": {
                    "trial": best.number,
                    "params": count_params(arch),
                    "summary": summarize(arch),
                    "validation_error": best.values[0],
                    "test_error": evaluate(searched, test, device="cpu"),
                },
                "scratch": {
                    "epochs": epochs,
                    "seconds": seconds,
                    "validation_error": evaluate(scratch, validation, device="cpu"),
                    "test_error": evaluate(scratch, test, device="cpu"),
                },
            }
            comparisons.append(entry)
            print(
                f"<= {label} ({cap:,.0f}): trial {best.number}, {entry['searched']['params']:,} "
                f"params: searched {best.values[0]:.4f} val / "
                f"{entry['searched']['test_error']:.4f} test; from scratch {epochs:.1f} epochs "
                f"in {seconds:.0f} s: {entry['scratch']['validation_error']:.4f} val / "
                f"{entry['scratch']['test_error']:.4f} test",
                flush=True,
            )
    payload = {
        "config": {
            "dataset": dataset,
            "train_size": len(data.train),
            "validation_size": len(data.validation),
            "test_size": len(data.test),
            "minutes": minutes,
            "seed": args.seed,
            "command": "optuna-lemonade search "
            + " ".join(
                option if not option.endswith("mine.pt") else "mine.pt" for option in options
            ),
            "quick": args.quick,
        },
        "reference": reference,
        "search": {"seconds": search_seconds, "trials": trials},
        "comparisons": comparisons,
    }
    path = write_json(args.output_dir, args.name, payload)
    _plot(payload, args.output_dir / f"{args.name}.png")
    print(f"wrote {path}", flush=True)
    return 0


def _plot(payload: dict[str, Any], path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    reference = payload["reference"]
    trials = payload["search"]["trials"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter(
        [t["params"] for t in trials],
        [100 * t["validation_error"] for t in trials],
        s=10,
        color="0.75",
        label="networks of the search",
    )
    front = sorted((t for t in trials if t["on_front"]), key=lambda t: t["params"])
    ax.step(
        [t["params"] for t in front],
        [100 * t["validation_error"] for t in front],
        where="post",
        color="tab:blue",
        marker="o",
        markersize=4,
        label=f"front after {payload['config']['minutes']:g} min",
    )
    ax.scatter(
        [reference["params"]],
        [100 * reference["validation_error"]],
        marker="*",
        s=200,
        color="tab:red",
        zorder=3,
        label=f"your model ({reference['epochs']:g} epochs)",
    )
    for index, comparison in enumerate(payload["comparisons"]):
        ax.axvline(comparison["cap"], color="0.6", linestyle=":", linewidth=1)
        ax.annotate(
            f"{comparison['fraction']} of yours",
            (comparison["cap"], 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(-3, -12),
            textcoords="offset points",
            ha="right",
            fontsize=8,
            color="0.4",
        )
        if comparison["searched"] is None:
            continue
        scratch = comparison["scratch"]
        ax.scatter(
            [comparison["searched"]["params"]],
            [100 * scratch["validation_error"]],
            marker="x",
            s=60,
            color="tab:orange",
            zorder=3,
            label="same network from scratch, same compute" if index == 0 else None,
        )
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("validation error (%)")
    ax.set_title(f"Compressing a trained model: {payload['config']['dataset']}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
