"""The figures of record in README.md and benchmarks/README.md are the results files'.

benchmarks/results_markdown.py generates README's results table and the benchmarks'
summary from benchmarks/results/*.json; these tests check that the committed blocks
are what it generates (a hand-edited or stale figure fails), that the check does fail
on an edited figure, and how the blocks are put between their marker lines.
"""

from __future__ import annotations

import json
import pathlib
import re
import shutil
import subprocess
import sys
from typing import Any

import pytest


sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "benchmarks"))
import _search_summary  # benchmarks/ is not a package
import results_markdown
from results_markdown import block_diff
from results_markdown import current_block
from results_markdown import MarkerError
from results_markdown import replace_block
from results_markdown import Target


ROOT = pathlib.Path(__file__).parents[1]
TARGETS = [
    results_markdown.README_TABLE,
    results_markdown.README_COMPRESS,
    results_markdown.BENCHMARKS_SUMMARY,
]
A = Target("doc.md", "<!-- a: begin -->", "<!-- a: end -->")


def _in_git() -> bool:
    if shutil.which("git") is None:
        return False
    log = subprocess.run(
        ["git", "log", "-1", "--format=%cs", "--", "benchmarks/results/search_20min.json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return log.returncode == 0 and bool(log.stdout.strip())


@pytest.fixture(scope="module")
def generated() -> dict[Target, str]:
    return results_markdown.blocks()


# ------------------------------------------------------- the committed figures


@pytest.mark.skipif(not _in_git(), reason="the blocks' dates come from git's history")
@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.path)
def test_the_committed_block_is_what_the_results_give(
    target: Target, generated: dict[Target, str]
) -> None:
    text = (ROOT / target.path).read_text()
    try:
        diff = block_diff(text, target, generated[target])
    except MarkerError as error:
        pytest.fail(f"{error} (then run python benchmarks/results_markdown.py --write)")
    assert diff == "", (
        f"{target.path}'s generated block is stale or was edited by hand; run "
        f"python benchmarks/results_markdown.py --write\n{diff}"
    )


def _committed_or_stub(target: Target) -> str:
    """The committed file, or a stub document where its markers are not there yet."""
    text = (ROOT / target.path).read_text()
    if target.begin in text and target.end in text:
        return text
    return f"# Title\n\nBefore.\n\n{target.begin}\nold\n{target.end}\n\nAfter.\n"


def _edit_a_figure(block: str) -> tuple[str, str, str]:
    """The block with its first figure changed, in a table row if it has one:
    (block, old line, new line)."""
    lines = block.splitlines()
    for line in [line for line in lines if line.startswith("|")] + lines:
        match = re.search(r"\d+\.\d\d", line)
        if match:
            figure = match.group()
            edited = line.replace(figure, f"{float(figure) + 0.01:.2f}", 1)
            return block.replace(line, edited, 1), line, edited
    raise AssertionError("no figure in the block")


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.path)
def test_the_check_fails_on_a_hand_edited_figure(
    target: Target, generated: dict[Target, str]
) -> None:
    up_to_date = replace_block(_committed_or_stub(target), target, generated[target])
    assert block_diff(up_to_date, target, generated[target]) == ""
    edited_block, line, edited_line = _edit_a_figure(generated[target])
    edited = replace_block(up_to_date, target, edited_block)
    diff = block_diff(edited, target, generated[target])
    assert f"\n-{edited_line}\n" in diff
    assert f"\n+{line}\n" in diff


def test_check_and_write_on_files(tmp_path: pathlib.Path, generated: dict[Target, str]) -> None:
    for target in TARGETS:
        path = tmp_path / target.path
        path.parent.mkdir(parents=True, exist_ok=True)
        text = replace_block(_committed_or_stub(target), target, generated[target])
        path.write_text(text)
    assert results_markdown.sync(tmp_path, generated, write=False) == (
        0,
        "".join(f"{target.path}: up to date\n" for target in generated),
    )
    summary = tmp_path / results_markdown.BENCHMARKS_SUMMARY.path
    committed = summary.read_text()
    block = current_block(committed, results_markdown.BENCHMARKS_SUMMARY)
    summary.write_text(
        replace_block(committed, results_markdown.BENCHMARKS_SUMMARY, _edit_a_figure(block)[0])
    )
    status, out = results_markdown.sync(tmp_path, generated, write=False)
    assert status == 1
    assert "--- benchmarks/README.md (committed)" in out
    assert "+++ benchmarks/README.md (generated)" in out
    assert results_markdown.sync(tmp_path, generated, write=True)[0] == 0
    assert summary.read_text() == committed
    assert results_markdown.sync(tmp_path, generated, write=False)[0] == 0
    (tmp_path / "README.md").write_text("# No markers here\n")
    status, out = results_markdown.sync(tmp_path, generated, write=True)
    assert status == 1
    assert "README.md: the marker line '<!-- results-table: begin -->' is missing" in out
    assert (tmp_path / "README.md").read_text() == "# No markers here\n"


# ------------------------------------------------------------ marker replacement


def test_replace_block_rewrites_only_between_the_marker_lines() -> None:
    text = "intro\n<!-- a: begin -->\nold 1\nold 2\n<!-- a: end -->\noutro\n"
    new = replace_block(text, A, "new\n\n| table |")
    assert new == "intro\n<!-- a: begin -->\nnew\n\n| table |\n<!-- a: end -->\noutro\n"
    assert current_block(new, A) == "new\n\n| table |\n"
    assert replace_block(new, A, "new\n\n| table |") == new  # idempotent
    # An empty block, and markers with text on their lines, which stays.
    empty = "x <!-- a: begin --> y\n<!-- a: end --> z"
    assert current_block(empty, A) == ""
    assert replace_block(empty, A, "b") == "x <!-- a: begin --> y\nb\n<!-- a: end --> z"


def test_block_diff_is_a_unified_diff_or_empty() -> None:
    text = "<!-- a: begin -->\n| 9.19 |\n<!-- a: end -->\n"
    assert block_diff(text, A, "| 9.19 |") == ""
    diff = block_diff(text, A, "| 9.23 |")
    assert diff.startswith("--- doc.md (committed)\n+++ doc.md (generated)\n")
    assert "\n-| 9.19 |\n+| 9.23 |\n" in diff


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no markers\n", "the marker line '<!-- a: begin -->' is missing"),
        ("<!-- a: begin -->\nx\n", "the marker line '<!-- a: end -->' is missing"),
        ("x\n<!-- a: end -->\n", "the marker line '<!-- a: begin -->' is missing"),
        (
            "<!-- a: begin -->\n<!-- a: begin -->\n<!-- a: end -->\n",
            "the marker '<!-- a: begin -->' appears 2 times",
        ),
        ("<!-- a: end -->\nx\n<!-- a: begin -->\n", "must be on a line after"),
        ("<!-- a: begin --> <!-- a: end -->\n", "must be on a line after"),
    ],
)
def test_markers_missing_or_misplaced_are_a_clear_error(text: str, message: str) -> None:
    for function in (current_block, lambda t, a: replace_block(t, a, "b")):
        with pytest.raises(MarkerError, match=re.escape(message)) as error:
            function(text, A)
        assert str(error.value).startswith("doc.md: ")
    with pytest.raises(MarkerError):
        block_diff(text, A, "b")


# ---------------------------------------------------------- the table, on made-up runs


def _run(method: str, seed: int, front: list[tuple[float, float, float]]) -> dict[str, Any]:
    trials = [
        {"number": i, "values": [e, p], "seconds": 10.0 * i, "within_budget": True}
        for i, (e, p, _) in enumerate(front)
    ]
    return {
        "method": method,
        "seed": seed,
        "threads": 2,
        "calibration_seconds": 1.0,
        "trials": trials,
        "front": [dict(t, test_error=test) for t, (_, _, test) in zip(trials, front, strict=True)],
        "hypervolume_curve": {
            "seconds": [0.0, 30.0, 60.0],
            "hypervolume": [0.0, 0.3 + 0.1 * seed, 0.5 + 0.1 * seed],
            "useful_hypervolume": [0.0, 0.1, 0.2 + 0.1 * seed],
        },
    }


def _results() -> dict[str, Any]:
    runs = [
        # LEMONADE: best under 5k on every seed, worse than TPE-6 at any size.
        _run("lemonade", 0, [(0.20, 4_000, 0.21), (0.12, 90_000, 0.13)]),
        _run("lemonade", 1, [(0.22, 3_000, 0.23), (0.11, 80_000, 0.12)]),
        # TPE-6: a network under 5k on one seed of two.
        _run("tpe-6", 0, [(0.30, 4_500, 0.31), (0.10, 200_000, 0.11)]),
        _run("tpe-6", 1, [(0.09, 150_000, 0.10)]),
        _run("random-3", 0, [(0.25, 9_000, 0.26)]),
        _run("random-3", 1, [(0.24, 8_000, 0.25)]),
    ]
    # LEMONADE's mean curve reaches the baselines' final 0.55 after 30 of 60 s (its seed 0
    # then, its seed 1 at the end).
    runs[0]["hypervolume_curve"]["hypervolume"] = [0.0, 0.6, 0.8]
    runs[1]["hypervolume_curve"]["hypervolume"] = [0.0, 0.5, 0.7]
    objectives = ["error", "params"]
    return {
        "machine": {"torch": "2.0.0+cpu", "threads": 2, "cuda": None},
        "config": {
            "dataset": "fashion-mnist",
            "train_size": 1000,
            "validation_size": 500,
            "budget": 60.0,
            "device": "cpu",
            "jobs": 1,
        },
        "objectives": objectives,
        "runs": runs,
        "summaries_by_budget": {"1 min": _search_summary.summarise(runs, 60.0, objectives)},
    }


def test_the_readme_table_shows_losses_and_seeds() -> None:
    table = results_markdown.readme_table(_results(), "2026-01-02")
    rows = {line.split(" | ")[0]: line for line in table.splitlines() if line.startswith("|")}
    assert rows["| 1 minute per search"].endswith(
        "| LEMONADE, defaults (seeds 0, 1) | strongest baseline (seeds 0, 1) "
        "| LEMONADE against it |"
    )
    # Under 5k: TPE-6 found one network on one seed of two, marked "(1)".
    assert rows["| best error, <= 5k params"] == (
        "| best error, <= 5k params | 21.00 / 22.00 | 30.00 / 31.00 (1), TPE-6 | -9.00 / -9.00 |"
    )
    # Under 10k random-3 is the strongest (24.5 against TPE-6's 30.0).
    assert "| 24.50 / 25.50, random-3 |" in rows["| best error, <= 10k params"]
    # At any size LEMONADE loses, and the table says so.
    assert rows["| best error, any size"] == (
        "| best error, any size | 11.50 / 12.50 | 9.50 / 10.50, TPE-6 | +2.00 / +2.00 |"
    )
    assert "reached after 0.50 of the budget (per seed 0.50 / 1.00)" in table
    assert "Newest run committed 2026-01-02: `benchmarks/results/search_20min.json`" in table
    assert "1,000 training and 500 validation images" in table
    # The confirmation set's table names its own file.
    confirm = results_markdown.readme_table(_results(), None, "search_20min_confirm.json")
    assert "committed (not dated): `benchmarks/results/search_20min_confirm.json`." in confirm


def test_issue_37_targets_take_medians_count_a_missing_network_as_worst() -> None:
    results = _results()
    references = [
        {"name": "small", "params": 5_000, "validation_error": 0.21},  # seed 0's only
        {"name": "large", "params": 100_000, "validation_error": 0.15},  # both seeds'
    ]
    found = _search_summary.targets(results["runs"], 60.0, ["error", "params"], references)
    caps = found["caps"]
    # <= 5k: LEMONADE 20 and 22 % (median 21); TPE-6 has one network (30 %) and a seed
    # without one: its median is infinite, random-3's too (none under 5k).
    assert caps["5k"]["lemonade_median"] == pytest.approx(0.21)
    assert caps["5k"]["holds"]
    # Any size: TPE-6's median 9.5 % beats LEMONADE's 11.5 %.
    assert caps["any"]["strongest"] == "tpe-6" and not caps["any"]["holds"]
    assert caps["any"]["strongest_median"] == pytest.approx(0.095)
    assert found["references"] == {
        "small": {"seeds": [0], "holds": False},
        "large": {"seeds": [0, 1], "holds": True},
    }
    # The baselines' best mean final log-scaled HV, 0.55, is reached after 30 of 60 s on
    # seed 0 and at the end on seed 1: median 0.75, missed.
    reach = found["reach"]["hypervolume"]
    assert reach["per_seed"] == [0.5, 1.0] and reach["median"] == 0.75 and not reach["holds"]


def test_the_targets_section_waits_for_a_seed_with_every_method() -> None:
    results = _results()
    results["config"]["report_at"] = [1.0]
    results["references"] = []
    for run in results["runs"]:  # a run records each front network's test error
        run["trials"] = run["front"]
    partial = {**results, "runs": [r for r in results["runs"] if r["method"] != "random-3"]}
    partial["runs"] = [r for r in partial["runs"] if r["method"] == "lemonade" or r["seed"] == 0]
    partial["runs"] += [r for r in results["runs"] if r["method"] == "random-3" and r["seed"] == 1]
    lines = results_markdown._targets_section(
        [("a.json", "chosen on", results, None), ("b.json", "confirmation", partial, None)]
    )
    rows = [line for line in lines if line.startswith("| ")]
    assert rows[1].startswith("| 0, 1 (chosen on) | 1 min | 21.00 vs ")
    assert rows[2].startswith("| (confirmation: no seed with every method yet; run so far: ")


def test_a_confirmation_set_counts_only_when_every_method_ran_on_every_seed() -> None:
    results = _results()
    runs = results["runs"]
    three = {**results, "runs": runs + [{**r, "seed": 2} for r in runs if r["seed"] == 1]}
    assert results_markdown.confirmed(three)
    assert not results_markdown.confirmed(results)  # two seeds
    assert not results_markdown.confirmed(None)
    missing = {
        **three,
        "runs": [r for r in three["runs"] if (r["method"], r["seed"]) != ("tpe-6", 2)],
    }
    assert not results_markdown.confirmed(missing)


def test_a_documented_option_on_the_same_seeds_gets_rows_of_its_own() -> None:
    results = _results()
    results["config"]["report_at"] = [1.0]
    results["references"] = []
    option = next(iter(results_markdown.OPTIONS))
    # The option: better than TPE-6 at any size on both seeds (median 8.5 %).
    results["runs"] += [
        _run(option, 0, [(0.19, 3_500, 0.2), (0.08, 120_000, 0.09)]),
        _run(option, 1, [(0.21, 4_000, 0.22), (0.09, 110_000, 0.1)]),
    ]
    for run in results["runs"]:
        run["trials"] = run["front"]
    lines = results_markdown._targets_section([("a.json", "chosen on", results, None)])
    rows = [line for line in lines if line.startswith("| 0, 1")]
    assert [row.split(" | ")[0] for row in rows] == [
        "| 0, 1 (chosen on)",
        f"| 0, 1 (chosen on), `{option}`",
    ]
    any_size = [row.split(" | ")[6] for row in rows]
    assert any_size[0].startswith("11.50 vs 9.50 (TPE-6): missed")
    assert any_size[1].startswith("8.50 vs 9.50 (TPE-6): held")
    # Only on one seed: no row.
    one_seed = {
        **results,
        "runs": [r for r in results["runs"] if (r["method"], r["seed"]) != (option, 1)],
    }
    lines = results_markdown._targets_section([("a.json", "chosen on", one_seed, None)])
    assert not any(option in line for line in lines if line.startswith("| "))


def test_training_further_gives_means_and_the_seeds_that_gained() -> None:
    def network(seed: int, params: int, before: float, after: list[float]) -> dict[str, Any]:
        return {
            "seed": seed,
            "params": params,
            "lineage_epochs": [3.0, 2.0],
            "validation_error": before,
            "test_error": before + 0.01,
            "further": [{"validation_error": a, "test_error": a + 0.02} for a in after],
        }

    results = {
        "dataset": "fashion-mnist",
        "sizes": [10000, 10000],
        "arms": [[0.05, 3.0], [0.01, 8.0]],
        "networks": [
            network(0, 6534, 0.12, [0.13, 0.11]),
            network(1, 6534, 0.10, [0.11, 0.11]),
            network(0, 144954, 0.09, [0.08, 0.085]),
        ],
    }
    lines = results_markdown._continued_section(results, "2026-12-06", "c.json")
    assert lines[0] == "### Training further after a lineage of 3+2 epochs"
    assert "3+2 epochs" in lines[2] and "seeds 0, 1" in lines[2]
    for network in results["networks"]:  # fine-tunes of one length, counted
        network["lineage_epochs"] = [3.0, 2.0, 2.0, 2.0]
    deeper = results_markdown._continued_section(results, "2026-12-06", "c.json")
    assert deeper[0] == "### Training further after a lineage of 3+3x2 epochs"
    assert lines[4] == "| params | lineage | from 0.05, 3 epochs | from 0.01, 8 epochs |"
    # Means over seeds; the validation error fell on no seed at 0.05 and on one at 0.01.
    assert lines[6] == (
        "| 6,534 | 11.00 / 12.00 | 12.00 / 14.00 (0 of 2) | 11.00 / 13.00 (1 of 2) |"
    )
    assert lines[7] == (
        "| 144,954 | 9.00 / 10.00 | 8.00 / 10.00 (1 of 1) | 8.50 / 10.50 (1 of 1) |"
    )


def test_a_run_still_going_is_not_a_figure_of_record(tmp_path: pathlib.Path) -> None:
    (tmp_path / "continued_training_g9.partial.json").write_text('{"networks": []}')
    results, _, _ = results_markdown.load_results(tmp_path)
    assert results == {}


def test_readme_shows_the_confirmation_set_once_it_is_complete(tmp_path: pathlib.Path) -> None:
    results = _results()
    results["config"]["report_at"] = [1.0]
    results["references"] = []
    for run in results["runs"]:
        run["trials"] = run["front"]
    (tmp_path / "search_20min.json").write_text(json.dumps(results))
    runs = results["runs"]
    seeds = [{**r, "seed": r["seed"] + 20} for r in runs]
    partial = {**results, "runs": seeds}  # seeds 20 and 21: not complete yet
    (tmp_path / "search_20min_confirm.json").write_text(json.dumps(partial))
    table = results_markdown.blocks(tmp_path)[results_markdown.README_TABLE]
    assert "`benchmarks/results/search_20min.json`" in table
    assert "search_20min_confirm" not in table
    complete = {**results, "runs": seeds + [{**r, "seed": 22} for r in runs if r["seed"] == 1]}
    (tmp_path / "search_20min_confirm.json").write_text(json.dumps(complete))
    table = results_markdown.blocks(tmp_path)[results_markdown.README_TABLE]
    assert "| LEMONADE, defaults (seeds 20-22) |" in table
    assert "`benchmarks/results/search_20min_confirm.json`" in table
    assert "Seeds 20-22 were named before any run on them" in table
    # The seeds chosen on are those of search_20min.json's runs, not a figure written in.
    assert "the defaults were chosen on seeds 0, 1 (" in table
