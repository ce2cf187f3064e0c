"""Ctrl-C and SIGTERM: stopping a search cleanly, with the running trial marked FAIL."""

from __future__ import annotations

import _thread
from collections.abc import Iterator
import contextlib
import logging
import signal
import sys
import threading
import types
from typing import Any

import optuna
from optuna.trial import FrozenTrial


SIGNAL_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Interrupted(KeyboardInterrupt):
    """Raised in the objective by Ctrl-C or SIGTERM; Optuna then marks the trial FAIL.

    A ``KeyboardInterrupt`` because that is what ``study.optimize`` fails the running trial
    for and then re-raises, whatever ``catch`` says.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Stopper:
    """Turns SIGINT and SIGTERM into a clean stop of ``study.optimize``.

    Inside ``optimize`` a signal is only noted, however often it comes: raised at an
    arbitrary point it could land in a storage write (the sampler recording a child,
    :meth:`Child.save <optuna_lemonade.sampler.Child.save>`, Optuna recording a trial)
    and leave the trial RUNNING or a session half-written. The training loop asks
    :meth:`step` after every step, which raises :class:`Interrupted` there, a few
    milliseconds later; :meth:`check` raises it before a trial's work starts, and the
    end-of-trial callback stops the study. Outside ``optimize`` a signal raises at once.

    "However often": a worker whose run is killed can get SIGTERM from the kernel more
    than once, milliseconds apart (``PR_SET_PDEATHSIG`` fires whenever the parent
    *thread* ends, and the run's reader threads become the worker's parent in turn), so
    a second signal is not the user insisting. A search stuck outside training is
    ended by SIGKILL.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self.in_optimize = False
        self.in_objective: int | None = None  # the number of the trial in the objective
        self.stopped_trial: int | None = None
        self._previous_hook = sys.unraisablehook

    def handle(self, signum: int, frame: types.FrameType | None) -> None:
        self.signum = signum
        if not self.in_optimize:
            self.stopped_trial = self.in_objective
            raise Interrupted(signum)

    def unraisable(self, unraisable: Any) -> None:
        """``sys.unraisablehook``: a signal whose :class:`Interrupted` was swallowed.

        A signal that arrives while Python runs a finaliser or a weak-reference callback
        (SQLAlchemy's) raises in there, where Python can only print "Exception ignored
        in ..." and go on. The signal is sent again to the main thread, by another
        thread, and nothing is printed.
        """
        error = unraisable.exc_value
        if isinstance(error, Interrupted):
            # From another thread, a moment after this hook has returned: sent at once,
            # the main thread would run the handler still inside the callback. Swallowed
            # again, it comes back here and is sent again.
            threading.Timer(
                0.05, _thread.interrupt_main, args=(signal.Signals(error.signum),)
            ).start()
            return
        self._previous_hook(unraisable)

    def check(self) -> None:
        """Raise :class:`Interrupted` if a signal was noted (Optuna fails the trial)."""
        if self.signum is not None:
            self.stopped_trial = self.in_objective
            raise Interrupted(self.signum)

    def step(self, done: int, total: int) -> bool:
        """The training loop's step callback: :meth:`check` after every step."""
        self.check()
        return False

    def callback(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if self.signum is not None:
            study.stop()

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        previous = {s: signal.signal(s, self.handle) for s in SIGNAL_EXIT}
        self._previous_hook = sys.unraisablehook
        sys.unraisablehook = self.unraisable
        try:
            yield
        finally:
            sys.unraisablehook = self._previous_hook
            for s, handler in previous.items():
                signal.signal(s, handler)


class DropInterruptLogs(logging.Filter):
    """Optuna logs a stopped trial's failure with a traceback; one line of ours says it."""

    def __init__(self, stopper: Stopper) -> None:
        super().__init__()
        self._stopper = stopper

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], Interrupted):
            return False
        trial = self._stopper.stopped_trial
        return trial is None or not record.getMessage().startswith(f"Trial {trial} failed")


@contextlib.contextmanager
def quiet_interrupts(stopper: Stopper) -> Iterator[None]:
    # On Optuna's loggers themselves, not their handlers: the progress bar swaps in a
    # handler of its own while it runs.
    loggers = [
        logger
        for name, logger in logging.Logger.manager.loggerDict.items()
        if (name == "optuna" or name.startswith("optuna.")) and isinstance(logger, logging.Logger)
    ]
    drop = DropInterruptLogs(stopper)
    for logger in loggers:
        logger.addFilter(drop)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(drop)
