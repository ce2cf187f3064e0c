"""The search-efficiency benchmark's summary and replot, on hand-made results."""

from __future__ import annotations

import json
import pathlib
import sys
from typing import Any

import numpy as np
import pytest


sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "benchmarks"))
import _search_methods  # benchmarks/ is not a package
import _search_summary
import search_efficiency


def _run(method: str, seed: int, front: list[tuple[float, float, float]]) -> dict[str, Any]:
    trials = [
        {"number": i, "values": [e, p], "seconds": 10.0 * i, "within_budget": True}
        for i, (e, p, _) in enumerate(front)
    ]
    return {
        "method": method,
        "seed": seed,
        "trials": trials,
        "front": [dict(t, test_error=test) for t, (_, _, test) in zip(trials, front, strict=True)],
        "hypervolume_curve": {
            "seconds": [0.0, 30.0, 60.0],
            "hypervolume": [0.0, 0.3 + 0.1 * seed, 0.5 + 0.1 * seed],
            "useful_hypervolume": [0.0, 0.1 + 0.1 * seed, 0.2 + 0.1 * seed],
        },
        "final_hypervolume": 0.5 + 0.1 * seed,
    }


def test_best_error_by_size_takes_the_lowest_error_under_each_cap() -> None:
    runs = [
        # (validation error, params, test error)
        _run("lemonade", 0, [(0.30, 900, 0.31), (0.20, 8_000, 0.22), (0.10, 500_000, 0.12)]),
        _run("lemonade", 1, [(0.26, 5_000, 0.27), (0.16, 60_000, 0.18)]),
        _run("tpe", 0, [(0.15, 80_000, 0.16)]),
    ]
    table = _search_summary.best_error_by_size(runs, ["error", "params"])
    lemonade = table["lemonade"]
    assert lemonade["10k"]["mean_validation_error"] == pytest.approx((0.20 + 0.26) / 2)
    assert lemonade["10k"]["mean_test_error"] == pytest.approx((0.22 + 0.27) / 2)
    assert lemonade["100k"]["mean_validation_error"] == pytest.approx((0.20 + 0.16) / 2)
    assert lemonade["any"]["mean_validation_error"] == pytest.approx((0.10 + 0.16) / 2)
    assert [e["params"] for e in lemonade["any"]["seeds"]] == [500_000, 60_000]
    assert table["tpe"]["10k"] == {
        "seeds": [],
        "n_seeds_with_a_network": 0,
        "mean_validation_error": None,
        "mean_test_error": None,
    }
    assert table["tpe"]["100k"]["mean_validation_error"] == pytest.approx(0.15)


def test_the_strongest_baseline_is_found_per_size_cap() -> None:
    runs = [
        _run("lemonade", 0, [(0.20, 4_000, 0.21), (0.10, 90_000, 0.11)]),
        _run("tpe", 0, [(0.18, 4_500, 0.19), (0.12, 20_000, 0.13)]),
        _run("random", 0, [(0.17, 9_000, 0.18)]),
    ]
    by_size = _search_summary.best_error_by_size(runs, ["error", "params"])
    strongest = _search_summary.strongest_baseline_by_size(by_size)
    assert strongest["5k"]["baseline"] == "tpe"
    assert strongest["5k"]["lemonade_minus_baseline"] == pytest.approx(0.20 - 0.18)
    assert strongest["10k"]["baseline"] == "random"  # 0.17 at 9k beats tpe's 0.18
    assert strongest["25k"]["baseline"] == "tpe"
    assert strongest["100k"]["lemonade_minus_baseline"] == pytest.approx(0.10 - 0.12)


def test_useful_hypervolume_counts_only_useful_networks() -> None:
    # error / 0.2 and (log10 params - 3) / 4: (0.10, 10k) -> (0.5, 0.25), (0.05, 100k) ->
    # (0.25, 0.5); the union of their boxes up to (1, 1) is 0.375 + 0.375 - 0.25.
    objectives = ["error", "params"]
    assert _search_summary.useful_hypervolume([[0.10, 1e4]], objectives) == pytest.approx(0.375)
    both = [[0.10, 1e4], [0.05, 1e5]]
    assert _search_summary.useful_hypervolume(both, objectives) == pytest.approx(0.5)
    # Networks above 20 % error count for nothing, however small.
    assert _search_summary.useful_hypervolume([*both, [0.3, 50]], objectives) == pytest.approx(0.5)
    assert _search_summary.useful_hypervolume([[0.3, 50]], objectives) == 0.0


def test_replot_rewrites_the_summary_and_draws(tmp_path: pathlib.Path) -> None:
    runs = [
        _run("lemonade", 0, [(0.2, 1_000, 0.21), (0.1, 50_000, 0.11)]),
        _run("tpe", 0, [(0.15, 20_000, 0.16)]),
    ]
    runs[1]["hypervolume_curve"]["hypervolume"] = [0.0, 0.1, 0.4]
    runs[1]["hypervolume_curve"]["useful_hypervolume"] = [0.0, 0.25, 0.25]
    path = tmp_path / "results.json"
    config = {"budget": 60.0, "dataset": "synthetic", "reference_epochs": 1.0}
    path.write_text(
        json.dumps(
            {
                "config": config,
                "objectives": ["error", "params"],
                "references": [{"name": "ref", "params": 10_000, "test_error": 0.2, "macs": 1e6}],
                "summary": {},
                "runs": runs,
            }
        )
    )
    search_efficiency.replot(path)
    summary = json.loads(path.read_text())["summary"]
    # lemonade's curve (0.0, 0.3, 0.5) first reaches tpe's final 0.4 at 60 s.
    assert summary["headline"]["best_baseline"] == "tpe"
    assert summary["headline"]["fraction_of_budget"] == pytest.approx(1.0)
    assert summary["best_error_by_size"]["lemonade"]["100k"]["mean_test_error"] == 0.11
    # lemonade's useful curve (0.0, 0.1, 0.2) never reaches tpe's final 0.25.
    useful = summary["useful_hypervolume"]["headline"]
    assert useful["best_baseline"] == "tpe" and useful["fraction_of_budget"] is None
    assert (tmp_path / "results_hypervolume.png").stat().st_size > 0
    assert (tmp_path / "results_fronts.png").stat().st_size > 0
    assert (tmp_path / "results_caps.png").stat().st_size > 0


def test_the_best_error_under_a_cap_falls_as_networks_finish() -> None:
    import _search_plots

    # (validation error, params, test error) finishing at 0, 10, 20, 30 s
    run = _run(
        "lemonade",
        0,
        [(0.30, 4_000, 0.3), (0.20, 90_000, 0.2), (0.25, 3_000, 0.2), (0.1, 2e5, 0.1)],
    )
    run["trials"][2]["within_budget"] = False  # finished after the budget: never counted
    grid = np.array([0.0, 5.0, 10.0, 25.0, 40.0])
    under_5k = _search_plots.best_under_cap(run, 1, 5e3, grid)
    assert under_5k.tolist() == [0.30] * 5
    under_100k = _search_plots.best_under_cap(run, 1, 1e5, grid)
    assert under_100k.tolist() == [0.30, 0.30, 0.20, 0.20, 0.20]
    anything = _search_plots.best_under_cap(run, 1, float("inf"), grid)
    assert anything.tolist() == [0.30, 0.30, 0.20, 0.20, 0.10]
    assert np.isinf(_search_plots.best_under_cap(run, 1, 1e3, grid)).all()


def test_a_baseline_with_nothing_useful_is_not_reached_at_time_zero() -> None:
    runs = [_run("lemonade", 0, [(0.5, 1_000, 0.5)]), _run("tpe", 0, [(0.6, 2_000, 0.6)])]
    for run in runs:
        run["hypervolume_curve"]["useful_hypervolume"] = [0.0, 0.0, 0.0]
    summary = _search_summary.summarise(runs, 60.0, ["error", "params"])
    headline = summary["useful_hypervolume"]["headline"]
    assert headline["fraction_of_budget"] is None
    assert headline["fraction_of_budget_per_seed"] == [None]


def test_method_names_are_parsed() -> None:
    assert _search_methods.parse_baseline("tpe-6") == ("tpe", 6.0)
    assert _search_methods.parse_baseline("random") == ("random", None)
    assert _search_methods.parse_baseline("lemonade") is None
    assert _search_methods.is_method("nsga2-1.5")
    assert _search_methods.is_method("lemonade-uniform")
    for wrong in ("tpe-x", "tpe-0", "tpe-", "cmaes-3", "lemonade-foo", ""):
        assert not _search_methods.is_method(wrong), wrong
    order = sorted(
        ["tpe-6", "random-3", "lemonade-uniform", "tpe-3", "lemonade"],
        key=_search_methods.method_order,
    )
    assert order == ["lemonade", "lemonade-uniform", "tpe-3", "tpe-6", "random-3"]


def test_a_shorter_budget_drops_later_trials_and_cuts_the_curves() -> None:
    # Trials finish at 0, 10, 20 s; the one at 20 s dominates the one at 10 s.
    run = _run("lemonade", 0, [(0.3, 1_000, 0.31), (0.2, 9_000, 0.21), (0.1, 5_000, 0.11)])
    for trial in run["trials"]:
        trial["test_error"] = next(
            f["test_error"] for f in run["front"] if f["number"] == trial["number"]
        )
    whole = _search_summary.at_budget([run], 60.0)[0]
    assert [t["number"] for t in whole["front"]] == [0, 2]  # 0.1 at 5k dominates 0.2 at 9k
    early = _search_summary.at_budget([run], 15.0)[0]
    assert [t["number"] for t in early["trials"]] == [0, 1]
    assert sorted(t["number"] for t in early["front"]) == [0, 1]
    assert early["hypervolume_curve"]["seconds"] == [0.0]
    assert early["final_hypervolume"] == 0.0
    at_30 = _search_summary.at_budget([run], 30.0)[0]
    assert at_30["hypervolume_curve"]["hypervolume"] == [0.0, 0.3]
    assert run["hypervolume_curve"]["seconds"] == [0.0, 30.0, 60.0]  # the input is unchanged


def test_replot_summarises_every_reported_budget(tmp_path: pathlib.Path) -> None:
    runs = [
        _run("lemonade", 0, [(0.2, 1_000, 0.21), (0.1, 50_000, 0.11)]),
        _run("tpe-6", 0, [(0.15, 20_000, 0.16)]),
    ]
    path = tmp_path / "results.json"
    config = {
        "budget": 60.0,
        "minutes": 1.0,
        "report_at": [0.25, 1.0],
        "dataset": "synthetic",
        "reference_epochs": 1.0,
    }
    path.write_text(
        json.dumps(
            {
                "config": config,
                "objectives": ["error", "params"],
                "references": [],
                "summary": {},
                "runs": runs,
            }
        )
    )
    search_efficiency.replot(path)
    by_budget = json.loads(path.read_text())["summaries_by_budget"]
    assert list(by_budget) == ["0.25 min", "1 min"]
    # After 15 s only trials 0 and 1 of lemonade (0 s, 10 s) and tpe-6's trial 0 count.
    early = by_budget["0.25 min"]["best_error_by_size"]
    assert early["lemonade"]["any"]["mean_validation_error"] == 0.1
    assert early["tpe-6"]["25k"]["mean_validation_error"] == 0.15
    assert by_budget["1 min"]["strongest_baseline_by_size"]["any"]["baseline"] == "tpe-6"
