"""Whether a machine is as fast as the one a results file's runs ran on.

Every run of ``search_efficiency.py`` times a fixed training step before it starts
(``calibration_seconds``). The runs of one results file compare only if they had about
the same machine: equal wall-clock budgets on a machine three times slower give every
method a third of the compute. Sessions here land on machines of different speeds (the
same step took 0.59-0.80 s for seeds 20-21 of the confirmation set and 1.9-2.2 s on the
next session's machine), so a resumed file is checked before a run starts and each run
after it ends.
"""

from __future__ import annotations

import statistics
from typing import Any


SPEED_TOLERANCE = 1.6
"""How many times slower (or faster) than the kept runs' median a machine may be. The
figures of record (``search_20min.json``) span 0.65-1.27 s around a median of 0.98, a
factor of at most 1.5 either way; a factor of 1.6 lets those pass and stops a machine
two or three times slower (1.74-1.78 s against a median of 0.67, 2026-12-06)."""


def kept_calibration(runs: list[dict[str, Any]]) -> float | None:
    """The median calibration step in seconds of ``runs`` (runs from before the
    calibration was recorded are left out); None when none has one."""
    seconds = [r["calibration_seconds"] for r in runs if r.get("calibration_seconds")]
    return statistics.median(seconds) if seconds else None


def speed_mismatch(
    seconds: float, runs: list[dict[str, Any]], *, tolerance: float = SPEED_TOLERANCE
) -> str | None:
    """Why a run timed at ``seconds`` does not compare with ``runs``, or None when it does.

    Args:
        seconds: The calibration step on this machine now.
        runs: The runs kept in the results file.
        tolerance: The factor either way beyond which the speeds differ.

    Returns:
        A sentence naming both speeds and their ratio, or None.
    """
    if not seconds > 0:
        raise ValueError(f"a calibration step takes a positive time, got {seconds!r}")
    if tolerance < 1:
        raise ValueError(f"tolerance is a factor of at least 1, got {tolerance!r}")
    median = kept_calibration(runs)
    if median is None:
        return None
    ratio = seconds / median
    if 1 / tolerance <= ratio <= tolerance:
        return None
    counted = [r["calibration_seconds"] for r in runs if r.get("calibration_seconds")]
    pace = f"{ratio:.1f} times as long" if ratio > 1 else f"{1 / ratio:.1f} times faster"
    return (
        f"the calibration step took {seconds:.2f} s on this machine against a median of "
        f"{median:.2f} s ({min(counted):.2f}-{max(counted):.2f} s) for the {len(counted)} "
        f"kept runs, {pace}: with equal wall-clock budgets its runs would not compare "
        f"with them (tolerance: a factor of {tolerance})"
    )
