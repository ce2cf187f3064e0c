"""The search-efficiency benchmark's plots: hypervolume against time and the final fronts."""

from __future__ import annotations

import argparse
from typing import Any

from _search_methods import is_baseline
from _search_methods import method_order
import numpy as np


def plot(
    runs: list[dict[str, Any]],
    references: list[dict[str, Any]],
    summary: dict[str, Any],
    objectives: list[str],
    config: argparse.Namespace,
    name: str,
) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    methods = sorted({r["method"] for r in runs}, key=method_order)
    # Up to 20 methods without a colour twice; baselines dashed, so that an ablation and a
    # baseline never look alike.
    palette = plt.get_cmap("tab10" if len(methods) <= 10 else "tab20").colors
    colours = {m: palette[i % len(palette)] for i, m in enumerate(methods)}
    styles = {m: "--" if is_baseline(m) else "-" for m in methods}
    keys = [("hypervolume", "hypervolume (log-scaled costs)", summary["headline"])]
    if all("useful_hypervolume" in r["hypervolume_curve"] for r in runs):
        useful = (summary.get("useful_hypervolume") or {}).get("headline", {})
        keys.append(("useful_hypervolume", "useful-network hypervolume", useful))
    fig, axes = plt.subplots(1, len(keys), figsize=(7 * len(keys), 4.5), squeeze=False)
    for ax, (key, label, headline) in zip(axes[0], keys, strict=True):
        for method in methods:
            curves = [r for r in runs if r["method"] == method]
            grid = np.array(curves[0]["hypervolume_curve"]["seconds"]) / 60
            for run in curves:
                ax.plot(
                    grid,
                    run["hypervolume_curve"][key],
                    color=colours[method],
                    ls=styles[method],
                    alpha=0.2,
                )
            mean = np.mean([r["hypervolume_curve"][key] for r in curves], axis=0)
            ax.plot(
                grid,
                mean,
                color=colours[method],
                ls=styles[method],
                lw=2,
                label=f"{method} ({len(curves)})",
            )
        if headline.get("lemonade_seconds_to_reach_it") is not None:
            ax.axvline(
                headline["lemonade_seconds_to_reach_it"] / 60,
                color="grey",
                ls=":",
                label=f"LEMONADE reaches {headline['best_baseline']}'s final",
            )
        ax.set_xlabel("wall-clock minutes")
        ax.set_ylabel(label)
        ax.set_title(
            f"{config.dataset}, objectives {', '.join(objectives)}; mean of seeds (thin: each)",
            fontsize=9,
        )
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(config.output_dir / f"{name}_hypervolume.png", dpi=120)
    plt.close(fig)

    costs = objectives[1:]
    fig, axes = plt.subplots(1, len(costs), figsize=(7 * len(costs), 4.5), squeeze=False)
    for ax, cost in zip(axes[0], costs, strict=True):
        index = objectives.index(cost)
        for method in methods:
            run = next(r for r in runs if r["method"] == method)  # first seed
            front = sorted(run["front"], key=lambda t: t["values"][index])
            xs = [t["values"][index] for t in front]
            ys = [t["test_error"] for t in front]
            if len(costs) == 1:  # a 2-objective front is a staircase; 3-objective: points
                ax.step(xs, ys, where="post", color=colours[method], ls=styles[method], alpha=0.8)
            ax.scatter(xs, ys, color=colours[method], s=12, label=method)
        for reference in references:
            ax.scatter(reference[cost], reference["test_error"], marker="*", s=120, color="black")
            ax.annotate(
                reference["name"],
                (reference[cost], reference["test_error"]),
                fontsize=6,
                xytext=(3, 3),
                textcoords="offset points",
            )
        ax.set_xscale("log")
        ax.set_xlabel({"params": "parameters", "macs": "multiply-adds"}[cost])
        ax.set_ylabel("test error")
        ax.set_title(
            f"Final fronts (seed {runs[0]['seed']}), test split"
            + (f"; stars: hand-designed, {config.reference_epochs} epochs" if references else ""),
            fontsize=9,
        )
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(config.output_dir / f"{name}_fronts.png", dpi=120)
    plt.close(fig)
