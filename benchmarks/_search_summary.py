"""The search-efficiency benchmark's metrics and summary: hypervolumes (moocore, imported
only when one is computed), best error by size cap, and the printed report."""

from __future__ import annotations

from typing import Any

import numpy as np


METHODS = ("lemonade", "tpe", "nsga2", "random", "lemonade-scratch", "lemonade-uniform")
BASELINES = ("tpe", "nsga2", "random")
LOG_RANGES = {"params": (2.0, 7.0), "macs": (3.0, 9.0)}


def normalise(values: np.ndarray, objectives: list[str]) -> np.ndarray:
    result = np.array(values, dtype=float)
    for column, name in enumerate(objectives):
        if name in LOG_RANGES:
            low, high = LOG_RANGES[name]
            result[:, column] = (np.log10(np.maximum(result[:, column], 1.0)) - low) / (high - low)
    return np.clip(result, 0.0, 1.0)


def hypervolume(values: list[list[float]], objectives: list[str]) -> float:
    if not values:
        return 0.0
    # Imported here: moocore is the benchmarks' extra, and the summary (and its tests,
    # which run with the test extra only) needs no hypervolume.
    import moocore

    points = normalise(np.array(values), objectives)
    return float(moocore.hypervolume(points, ref=np.ones(len(objectives))))


SIZE_CAPS = {"10k": 1e4, "100k": 1e5, "any": float("inf")}


def best_error_by_size(
    runs: list[dict[str, Any]], objectives: list[str]
) -> dict[str, dict[str, Any]]:
    """Per method and parameter cap: the lowest validation error of a trial finished in
    the budget with at most that many parameters (fewest parameters among ties, so the
    trial is on the front and has a test error), averaged over seeds.

    A second view next to the hypervolume, which, with log-scaled parameters, rewards
    tiny networks of high error as much as gains among useful ones.
    """
    params = objectives.index("params")
    result: dict[str, dict[str, Any]] = {}
    for method in sorted({r["method"] for r in runs}, key=METHODS.index):
        entry: dict[str, Any] = {}
        for cap_name, cap in SIZE_CAPS.items():
            per_seed = []
            for run in (r for r in runs if r["method"] == method):
                fitting = [t for t in run["front"] if t["values"][params] <= cap]
                if fitting:
                    best = min(fitting, key=lambda t: (t["values"][0], t["values"][params]))
                    per_seed.append(
                        {
                            "seed": run["seed"],
                            "validation_error": best["values"][0],
                            "test_error": best["test_error"],
                            "params": best["values"][params],
                        }
                    )
            entry[cap_name] = {
                "seeds": per_seed,
                "n_seeds_with_a_network": len(per_seed),
                "mean_validation_error": (
                    float(np.mean([e["validation_error"] for e in per_seed])) if per_seed else None
                ),
                "mean_test_error": (
                    float(np.mean([e["test_error"] for e in per_seed])) if per_seed else None
                ),
            }
        result[method] = entry
    return result


def summarise(runs: list[dict[str, Any]], budget: float, objectives: list[str]) -> dict[str, Any]:
    methods = sorted({r["method"] for r in runs}, key=METHODS.index)
    mean_curve = {
        m: np.mean(
            [r["hypervolume_curve"]["hypervolume"] for r in runs if r["method"] == m], axis=0
        )
        for m in methods
    }
    final = {m: float(mean_curve[m][-1]) for m in methods}
    grid = np.array(runs[0]["hypervolume_curve"]["seconds"])
    baselines = [m for m in methods if m in BASELINES]
    headline: dict[str, Any] = {}
    if "lemonade" in methods and baselines:
        best = max(baselines, key=final.__getitem__)
        reached = np.nonzero(mean_curve["lemonade"] >= final[best])[0]
        headline = {
            "best_baseline": best,
            "best_baseline_final_hypervolume": final[best],
            "lemonade_final_hypervolume": final["lemonade"],
            "lemonade_seconds_to_reach_it": float(grid[reached[0]]) if len(reached) else None,
            "fraction_of_budget": float(grid[reached[0]] / budget) if len(reached) else None,
        }
    return {
        "mean_final_hypervolume": final,
        "headline": headline,
        "best_error_by_size": best_error_by_size(runs, objectives),
        "trials_within_budget": {
            m: float(
                np.mean(
                    [
                        sum(t["within_budget"] for t in r["trials"])
                        for r in runs
                        if r["method"] == m
                    ]
                )
            )
            for m in methods
        },
    }


def report(summary: dict[str, Any]) -> None:
    """Print the summary: hypervolumes, the headline and the best errors by size."""
    print(
        "\nmean final hypervolume: "
        + ", ".join(f"{m} {v:.4f}" for m, v in summary["mean_final_hypervolume"].items())
    )
    headline = summary["headline"]
    if headline:
        if headline["fraction_of_budget"] is not None:
            print(
                f"headline: LEMONADE reaches {headline['best_baseline']}'s final hypervolume "
                f"({headline['best_baseline_final_hypervolume']:.4f}) after "
                f"{headline['lemonade_seconds_to_reach_it']:.0f} s, "
                f"{headline['fraction_of_budget']:.2f} of the budget"
            )
        else:
            print(
                f"headline: LEMONADE does not reach {headline['best_baseline']}'s final "
                f"hypervolume ({headline['best_baseline_final_hypervolume']:.4f}); its own "
                f"final is {headline['lemonade_final_hypervolume']:.4f}"
            )
    print("best validation / test error (mean over seeds) with at most 10k / 100k / any params:")
    for method, entry in summary["best_error_by_size"].items():
        cells = [
            "-"
            if entry[cap]["mean_validation_error"] is None
            else f"{entry[cap]['mean_validation_error']:.4f}/{entry[cap]['mean_test_error']:.4f}"
            for cap in SIZE_CAPS
        ]
        print(f"  {method:17} " + "  ".join(f"{c:>13}" for c in cells))
