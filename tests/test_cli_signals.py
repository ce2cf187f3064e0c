"""The search command's Stopper: where a signal raises, and where it is only noted."""

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
    with stopper.installed():  # outside study.optimize, where a signal raises at once
        stopper.in_objective = 0

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


def test_inside_optimize_a_signal_is_noted_and_the_training_step_raises_it() -> None:
    """Raised at an arbitrary point, it could land in a storage write (issue: CI found a
    trial left RUNNING after its workers were stopped)."""
    stopper = Stopper()
    with stopper.installed():
        stopper.in_optimize, stopper.in_objective = True, 4
        stopper.handle(signal.SIGTERM, None)  # no raise: maybe inside Child.save
        assert stopper.signum == signal.SIGTERM and stopper.stopped_trial is None
        with pytest.raises(Interrupted):
            stopper.step(3, 100)
    assert stopper.stopped_trial == 4


def test_a_second_signal_inside_optimize_is_noted_too() -> None:
    """A killed run's worker gets SIGTERM once per ending thread of the run (seen twice,
    a millisecond apart, with two trials left RUNNING when the second one raised)."""
    stopper = Stopper()
    with stopper.installed():
        stopper.in_optimize = True
        stopper.handle(signal.SIGTERM, None)
        stopper.handle(signal.SIGTERM, None)
        with pytest.raises(Interrupted):
            stopper.check()


def test_a_signal_sent_again_once_optimize_has_started_is_only_noted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stopper = Stopper()
    with stopper.installed():

        class Holder:
            pass

        holder = Holder()
        ref = weakref.ref(holder, lambda _: stopper.handle(signal.SIGINT, None))
        del holder  # outside optimize: raises in the callback, is swallowed, sent again
        stopper.in_optimize = True  # ... and arrives once optimize has started
        time.sleep(0.5)  # a raise here fails the test
        assert ref() is None and stopper.signum == signal.SIGINT
        with pytest.raises(Interrupted):
            stopper.check()
    assert "Exception ignored" not in capsys.readouterr().err
