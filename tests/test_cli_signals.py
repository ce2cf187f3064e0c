"""The search command's Stopper: a signal that lands in a callback still stops training."""

from __future__ import annotations

import signal
import sys
import time
import types
import weakref

import pytest

from optuna_lemonade.cli._signals import Interrupted
from optuna_lemonade.cli._signals import Stopper


def test_a_signal_swallowed_by_a_weakref_callback_is_raised_again_in_the_main_thread(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stopper = Stopper()
    with stopper.installed():
        stopper.in_optimize, stopper.in_objective = True, 0

        class Holder:
            pass

        holder = Holder()
        # What happens when Ctrl-C lands while SQLAlchemy's weakref callback runs.
        ref = weakref.ref(holder, lambda _: stopper.handle(signal.SIGINT, None))
        with pytest.raises(Interrupted):
            del holder  # the callback raises in there: Python can only report it
            for _ in range(200):  # training goes on, until the signal comes again
                time.sleep(0.01)
        assert ref() is None
    assert stopper.signum == signal.SIGINT and stopper.stopped_trial == 0
    assert "Exception ignored" not in capsys.readouterr().err


def test_other_unraisable_errors_go_to_the_previous_hook(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    stopper = Stopper()
    with stopper.installed():
        assert sys.unraisablehook == stopper.unraisable
        report = types.SimpleNamespace(exc_value=ValueError("x"))
        sys.unraisablehook(report)  # type: ignore[arg-type]
    assert seen == [report] and sys.unraisablehook == seen.append
