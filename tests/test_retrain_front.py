"""The front-retraining benchmark's helpers: a network's lineage epochs and the front
network chosen for each size cap."""

from __future__ import annotations

import math
import pathlib
import sys


sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "benchmarks"))
import retrain_front  # benchmarks/ is not a package


TRIALS = {
    0: {"number": 0, "origin": "scratch", "epochs": 3.0},
    1: {"number": 1, "origin": "scratch", "epochs": 3.0},
    2: {"number": 2, "origin": "insert_conv of 0", "epochs": 2.0},
    3: {"number": 3, "origin": "widen of 2", "epochs": 4.0},
}


def test_lineage_sums_the_epochs_from_the_initial_network() -> None:
    assert retrain_front.lineage(TRIALS, 3) == (9.0, 3)
    assert retrain_front.lineage(TRIALS, 1) == (3.0, 1)


def test_choose_takes_the_lowest_error_within_each_cap() -> None:
    run = {
        "front": [
            {"number": 1, "values": [0.20, 1_000.0]},
            {"number": 2, "values": [0.12, 20_000.0]},
            {"number": 3, "values": [0.10, 150_000.0]},
        ]
    }
    chosen = retrain_front.choose(run, [500.0, 25_000.0, math.inf])
    assert [(c["caps"], c["entry"]["number"]) for c in chosen] == [
        ([25_000.0], 2),
        ([math.inf], 3),
    ]
    # One network the best under two caps: chosen once, with both.
    both = retrain_front.choose(run, [math.inf, 200_000.0])
    assert [(c["caps"], c["entry"]["number"]) for c in both] == [([200_000.0, math.inf], 3)]
    assert retrain_front.label(math.inf) == "any" and retrain_front.label(25_000.0) == 25_000.0
