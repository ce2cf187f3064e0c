"""The search-efficiency benchmark's plots: hypervolume against time and the final fronts."""

from __future__ import annotations

import argparse
from typing import Any

from _search_methods import is_baseline
from _search_methods import method_order
from _search_summary import complete_seeds
from _search_summary import SIZE_CAPS
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
    plot_caps(runs, objectives, config, name)


def best_under_cap(run: dict[str, Any], params: int, cap: float, grid: np.ndarray) -> np.ndarray:
    """A run's lowest validation error among its networks with at most ``cap``
    parameters finished by each time of ``grid`` (seconds); inf before the first."""
    best = np.full(len(grid), np.inf)
    for trial in run["trials"]:
        if trial["within_budget"] and trial["values"][params] <= cap:
            later = grid >= trial["seconds"]
            best[later] = np.minimum(best[later], trial["values"][0])
    return best


def plot_caps(
    runs: list[dict[str, Any]],
    objectives: list[str],
    config: argparse.Namespace,
    name: str,
) -> None:
    """Issue 37's size caps over time: per cap, the median over seeds of each method's
    best validation error so far, the defaults (``lemonade``) against every baseline, on
    the seeds on which all of them ran (``<name>_caps.png``; nothing without both)."""
    import matplotlib.pyplot as plt  # plot() chose the backend

    seeds, methods = complete_seeds(runs)
    if "lemonade" not in methods or len(methods) < 2 or "params" not in objectives or not seeds:
        return
    params = objectives.index("params")
    budget = max(r["hypervolume_curve"]["seconds"][-1] for r in runs)
    grid = np.linspace(0.0, budget, 241)
    palette = plt.get_cmap("tab10").colors
    fig, axes = plt.subplots(1, len(SIZE_CAPS), figsize=(4 * len(SIZE_CAPS), 4), sharex=True)
    for ax, (cap_name, cap) in zip(axes, SIZE_CAPS.items(), strict=True):
        lowest = np.inf
        for index, method in enumerate(methods):
            curves = [
                best_under_cap(r, params, cap, grid)
                for r in runs
                if r["method"] == method and r["seed"] in seeds
            ]
            # A seed without a network under the cap yet counts as worst, as in the
            # targets' medians; a median that is still infinite is not drawn.
            median = np.median(np.array(curves), axis=0)
            shown = np.where(np.isfinite(median), median * 100, np.nan)
            if np.isfinite(median[-1]):
                lowest = min(lowest, median[-1] * 100)
            ax.plot(
                grid / 60,
                shown,
                color="black" if method == "lemonade" else palette[index % len(palette)],
                ls="-" if method == "lemonade" else "--",
                lw=2.2 if method == "lemonade" else 1.2,
                label=method,
            )
        for minutes in getattr(config, "report_at", None) or []:
            ax.axvline(minutes, color="grey", lw=0.6, ls=":")
        if np.isfinite(lowest):  # the interesting range: the last medians and a margin
            ax.set_ylim(lowest - 0.5, lowest + 8)
        ax.set_title(f"<= {cap_name} parameters" if cap_name != "any" else "any size", fontsize=9)
        ax.set_xlabel("wall-clock minutes")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("median best validation error (%)")
    axes[-1].legend(fontsize=7)
    fig.suptitle(
        f"{config.dataset}: best validation error by size cap over time, median of seeds "
        f"{', '.join(str(s) for s in sorted(seeds))}; LEMONADE's defaults (black) against "
        "the baselines",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(config.output_dir / f"{name.removesuffix('.partial')}_caps.png", dpi=110)
    plt.close(fig)
