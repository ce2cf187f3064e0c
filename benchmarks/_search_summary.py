"""The search-efficiency benchmark's metrics and summary: hypervolumes (moocore, imported
only when one is computed), best error by size cap, and the printed report."""

from __future__ import annotations

from typing import Any

from _search_methods import is_baseline
from _search_methods import method_order
import numpy as np


def at_budget(runs: list[dict[str, Any]], seconds: float) -> list[dict[str, Any]]:
    """The runs as if their budget had been ``seconds``: later trials dropped, curves
    cut, fronts taken again (each front trial has a test error: the run measured one for
    every trial on its front at each reported budget)."""
    # The sampler's own Pareto filter, as everywhere in the benchmark.
    from optuna_lemonade.sampler._population import nondominated_mask

    result = []
    for run in runs:
        trials = [t for t in run["trials"] if t["within_budget"] and t["seconds"] <= seconds]
        mask = (
            nondominated_mask(np.array([t["values"] for t in trials]))
            if trials
            else np.zeros(0, bool)
        )
        front = [t for t, keep in zip(trials, mask, strict=True) if keep]
        curve = run["hypervolume_curve"]
        cut = int(np.searchsorted(np.array(curve["seconds"]), seconds + 1e-6))
        result.append(
            {
                **run,
                "trials": trials,
                "front": front,
                "hypervolume_curve": {k: v[:cut] for k, v in curve.items()},
                "final_hypervolume": curve["hypervolume"][cut - 1],
            }
        )
    return result


def complete_seeds(runs: list[dict[str, Any]]) -> tuple[list[int], list[str]]:
    """The seeds on which the defaults (``lemonade``) and every baseline of ``runs`` ran,
    and those methods in their order (the defaults first)."""
    seeds: dict[str, set[int]] = {}
    for run in runs:
        if run["method"] == "lemonade" or is_baseline(run["method"]):
            seeds.setdefault(run["method"], set()).add(run["seed"])
    common = set.intersection(*seeds.values()) if seeds else set()
    return sorted(common), sorted(seeds, key=method_order)


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
    # Imported here: the summary and the plots need no hypervolume and run without it.
    import moocore

    points = normalise(np.array(values), objectives)
    return float(moocore.hypervolume(points, ref=np.ones(len(objectives))))


# Hypervolume of useful networks only: error below 20 % (scaled to [0, 1]), parameters
# from 1k (log10 3..7) and multiply-adds from 100k (log10 5..9); networks outside count
# as nothing. A second view next to the log-scaled hypervolume, which tiny networks of
# high error inflate.
USEFUL_ERROR = 0.20
USEFUL_LOG_RANGES = {"params": (3.0, 7.0), "macs": (5.0, 9.0)}


def useful_hypervolume(values: list[list[float]], objectives: list[str]) -> float:
    useful = [v for v in values if v[0] <= USEFUL_ERROR]
    if not useful:
        return 0.0
    import moocore  # see hypervolume()

    points = np.array(useful, dtype=float)
    points[:, 0] /= USEFUL_ERROR
    for column, name in enumerate(objectives):
        if name in USEFUL_LOG_RANGES:
            low, high = USEFUL_LOG_RANGES[name]
            points[:, column] = (np.log10(np.maximum(points[:, column], 1.0)) - low) / (high - low)
    points = np.clip(points, 0.0, 1.0)
    return float(moocore.hypervolume(points, ref=np.ones(len(objectives))))


def hypervolume_curves(
    trials: list[dict[str, Any]], objectives: list[str], grid: np.ndarray
) -> dict[str, list[float]]:
    """Both hypervolumes of the trials finished in the budget by each time of ``grid``."""
    counted = [t for t in trials if t["within_budget"]]
    curves: dict[str, list[float]] = {"hypervolume": [], "useful_hypervolume": []}
    for seconds in grid:
        values = [t["values"] for t in counted if t["seconds"] <= seconds]
        curves["hypervolume"].append(hypervolume(values, objectives))
        curves["useful_hypervolume"].append(useful_hypervolume(values, objectives))
    return curves


SIZE_CAPS = {"5k": 5e3, "10k": 1e4, "25k": 2.5e4, "100k": 1e5, "any": float("inf")}


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
    for method in sorted({r["method"] for r in runs}, key=method_order):
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


def _headline(
    runs: list[dict[str, Any]], methods: list[str], budget: float, key: str
) -> tuple[dict[str, float], dict[str, Any]]:
    """Mean final values of curve ``key`` per method, and when LEMONADE's mean curve
    reaches the strongest baseline's final value ({} without both)."""
    mean_curve = {
        m: np.mean([r["hypervolume_curve"][key] for r in runs if r["method"] == m], axis=0)
        for m in methods
    }
    final = {m: float(mean_curve[m][-1]) for m in methods}
    grid = np.array(runs[0]["hypervolume_curve"]["seconds"])
    baselines = [m for m in methods if is_baseline(m)]
    if "lemonade" not in methods or not baselines:
        return final, {}
    best = max(baselines, key=final.__getitem__)
    # A baseline that ends at 0 found nothing that counts: there is nothing to reach.
    target = final[best] if final[best] > 0 else np.inf
    reached = np.nonzero(mean_curve["lemonade"] >= target)[0]
    per_seed = []
    for run in (r for r in runs if r["method"] == "lemonade"):
        hit = np.nonzero(np.array(run["hypervolume_curve"][key]) >= target)[0]
        per_seed.append(float(grid[hit[0]] / budget) if len(hit) else None)
    return final, {
        "best_baseline": best,
        "best_baseline_final_hypervolume": final[best],
        "lemonade_final_hypervolume": final["lemonade"],
        "lemonade_seconds_to_reach_it": float(grid[reached[0]]) if len(reached) else None,
        "fraction_of_budget": float(grid[reached[0]] / budget) if len(reached) else None,
        "fraction_of_budget_per_seed": per_seed,
    }


def strongest_baseline_by_size(by_size: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per size cap: the baseline with the lowest mean validation error, and LEMONADE's
    error minus it (negative: LEMONADE is better)."""
    result: dict[str, Any] = {}
    for cap in SIZE_CAPS:
        errors = {
            m: entry[cap]["mean_validation_error"]
            for m, entry in by_size.items()
            if is_baseline(m) and entry[cap]["mean_validation_error"] is not None
        }
        if not errors:
            result[cap] = None
            continue
        best = min(errors, key=errors.__getitem__)
        lemonade = by_size.get("lemonade", {}).get(cap, {}).get("mean_validation_error")
        result[cap] = {
            "baseline": best,
            "baseline_validation_error": errors[best],
            "lemonade_minus_baseline": None if lemonade is None else lemonade - errors[best],
        }
    return result


def summarise(runs: list[dict[str, Any]], budget: float, objectives: list[str]) -> dict[str, Any]:
    methods = sorted({r["method"] for r in runs}, key=method_order)
    final, headline = _headline(runs, methods, budget, "hypervolume")
    useful: dict[str, Any] = {}
    if all("useful_hypervolume" in r["hypervolume_curve"] for r in runs):
        useful_final, useful_headline = _headline(runs, methods, budget, "useful_hypervolume")
        useful = {"mean_final": useful_final, "headline": useful_headline}
    by_size = best_error_by_size(runs, objectives)
    return {
        "mean_final_hypervolume": final,
        "headline": headline,
        "useful_hypervolume": useful,
        "best_error_by_size": by_size,
        "strongest_baseline_by_size": strongest_baseline_by_size(by_size),
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
    useful = summary.get("useful_hypervolume") or {}
    if useful.get("headline"):
        line = useful["headline"]
        fraction = line["fraction_of_budget"]
        if line["best_baseline_final_hypervolume"] <= 0:
            fraction = None  # printed as "never": no baseline has a useful network
        print(
            "useful-network hypervolume (error <= 20 %, params from 1k): "
            + ", ".join(f"{m} {v:.4f}" for m, v in useful["mean_final"].items())
            + f"; LEMONADE reaches {line['best_baseline']}'s final "
            + ("never" if fraction is None else f"after {fraction:.2f} of the budget")
        )
    print(
        "best validation / test error (mean over seeds) with at most "
        + " / ".join(SIZE_CAPS)
        + " params:"
    )
    for method, entry in summary["best_error_by_size"].items():
        cells = [
            "-"
            if entry[cap]["mean_validation_error"] is None
            else f"{entry[cap]['mean_validation_error']:.4f}/{entry[cap]['mean_test_error']:.4f}"
            for cap in SIZE_CAPS
        ]
        print(f"  {method:17} " + "  ".join(f"{c:>13}" for c in cells))
    print("strongest baseline by size (validation error; LEMONADE minus it):")
    for cap, entry in summary.get("strongest_baseline_by_size", {}).items():
        if entry is None:
            print(f"  {cap:>5}: no baseline network")
            continue
        gap = entry["lemonade_minus_baseline"]
        difference = "-" if gap is None else f"{100 * gap:+.2f} points"
        print(
            f"  {cap:>5}: {entry['baseline']} {entry['baseline_validation_error']:.4f}, "
            f"LEMONADE {difference}"
        )


def _cell(best: dict[str, Any], seeds: int) -> str:
    """Validation / test error in percent; "(n)" when only n of the seeds had one."""
    if best["mean_validation_error"] is None:
        return "-"
    validation, test = 100 * best["mean_validation_error"], 100 * best["mean_test_error"]
    found = best["n_seeds_with_a_network"]
    return f"{validation:.1f} / {test:.1f}" + (f" ({found})" if found < seeds else "")


def markdown_table(summary: dict[str, Any]) -> str:
    """One row per method: trials, both hypervolumes and the best validation / test
    error per size cap (means over seeds, in percent), for benchmarks/README.md."""
    useful = (summary.get("useful_hypervolume") or {}).get("mean_final", {})
    header = (
        "| method | seeds | trials | HV | useful HV | "
        + " | ".join(f"<= {cap}" if cap != "any" else "any" for cap in SIZE_CAPS)
        + " |"
    )
    lines = [header, "|" + "---|" * (5 + len(SIZE_CAPS))]
    for method, entry in summary["best_error_by_size"].items():
        seeds = max(e["n_seeds_with_a_network"] for e in entry.values())
        lines.append(
            f"| {method} | {seeds} | {summary['trials_within_budget'][method]:.0f} | "
            f"{summary['mean_final_hypervolume'][method]:.3f} | "
            f"{useful.get(method, float('nan')):.3f} | "
            + " | ".join(_cell(entry[cap], seeds) for cap in SIZE_CAPS)
            + " |"
        )
    return "\n".join(lines)


# Issue 37's targets: the median over seeds instead of the mean, every seed for the
# reference networks, and when each seed's hypervolume reaches the strongest baseline's.
REACH_MEDIAN, REACH_EVERY_SEED = 0.25, 1 / 3


def _median(values: list[float]) -> float:
    """A seed without a network under a cap counts as infinitely bad."""
    return float(np.median(values)) if values else float("inf")


def _cap_median(entry: dict[str, Any], key: str, seeds: int) -> float:
    """The median of ``key`` (``validation_error``, ``test_error``) over ``seeds`` runs of
    one method at one cap (an entry of :func:`best_error_by_size`), missing ones worst."""
    found = [e[key] for e in entry["seeds"]]
    return _median(found + [float("inf")] * (seeds - len(found)))


def targets(
    runs: list[dict[str, Any]],
    budget: float,
    objectives: list[str],
    references: list[dict[str, Any]],
) -> dict[str, Any]:
    """Issue 37's targets for ``runs`` (cut at ``budget`` seconds beforehand): LEMONADE
    against the baselines of the same runs.

    - ``caps``: per size cap, LEMONADE's best validation error per seed and its median,
      each baseline's median, and whether LEMONADE's median is no worse than the lowest.
    - ``references``: per reference network (trained 10 epochs), the seeds on which a
      network LEMONADE found in the budget dominates it (no more parameters, no higher
      validation error, one of them lower).
    - ``reach``: per hypervolume, the fraction of the budget after which each seed's
      curve reaches the strongest baseline's mean final value (None: never), their
      median, and whether the median is within 1/4 and every seed within 1/3.
    """
    params = objectives.index("params")
    seeds = sorted(r["seed"] for r in runs if r["method"] == "lemonade")
    caps: dict[str, Any] = {}
    by_size = best_error_by_size(runs, objectives)
    runs_of = {m: sum(r["method"] == m for r in runs) for m in by_size}
    for cap in SIZE_CAPS:
        found = {e["seed"]: e["validation_error"] for e in by_size["lemonade"][cap]["seeds"]}
        per_seed = [found.get(seed, float("inf")) for seed in seeds]
        medians = {
            m: _cap_median(entry[cap], "validation_error", runs_of[m])
            for m, entry in by_size.items()
            if is_baseline(m)
        }
        strongest = min(medians, key=medians.__getitem__)
        ours = _median(per_seed)
        caps[cap] = {
            "lemonade_per_seed": per_seed,
            "lemonade_median": ours,
            "baseline_medians": medians,
            "strongest": strongest,
            "strongest_median": medians[strongest],
            "holds": ours <= medians[strongest],
            # The same networks' test errors: the validation error chose them, and the
            # best of more networks is the more optimistic (LEMONADE trains more).
            "lemonade_test_median": _cap_median(
                by_size["lemonade"][cap], "test_error", len(seeds)
            ),
            "strongest_test_median": _cap_median(
                by_size[strongest][cap], "test_error", runs_of[strongest]
            ),
        }
    dominated: dict[str, Any] = {}
    for reference in references:
        on = []
        for run in (r for r in runs if r["method"] == "lemonade"):
            for trial in run["trials"]:
                error, size = trial["values"][0], trial["values"][params]
                if (
                    trial["within_budget"]
                    and error <= reference["validation_error"]
                    and size <= reference["params"]
                    and (error < reference["validation_error"] or size < reference["params"])
                ):
                    on.append(run["seed"])
                    break
        dominated[reference["name"]] = {"seeds": sorted(on), "holds": len(on) == len(seeds)}
    reach: dict[str, Any] = {}
    methods = sorted({r["method"] for r in runs}, key=method_order)
    for key in ("hypervolume", "useful_hypervolume"):
        _, headline = _headline(runs, methods, budget, key)
        per_seed = headline.get("fraction_of_budget_per_seed", [])
        fractions = [f if f is not None else float("inf") for f in per_seed]
        reach[key] = {
            "best_baseline": headline.get("best_baseline"),
            "per_seed": per_seed,
            "median": _median(fractions),
            "holds": bool(fractions)
            and _median(fractions) <= REACH_MEDIAN
            and max(fractions) <= REACH_EVERY_SEED,
        }
    return {"seeds": seeds, "caps": caps, "references": dominated, "reach": reach}
