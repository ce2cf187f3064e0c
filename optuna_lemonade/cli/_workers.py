"""``search --workers N``: several worker processes on one study, one display, one report.

LEMONADE's networks are small: a second PyTorch thread inside one network does little,
a second process training another network uses the second core (the search benchmark
measured the throughput, ``benchmarks/README.md``). The run that the user started
checks the options, the data and the storage and creates the study, then starts the
workers: the same command line with ``--workers 1``, ``--threads`` and its share of
``--trials``. It relays their trial lines above one progress bar, forwards SIGINT and
SIGTERM to them (each stops as a single run does: its running trial marked FAIL), and
reports the front when all have ended.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import ctypes
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from typing import IO

import torch
from tqdm.auto import tqdm

from optuna_lemonade.cli._signals import Interrupted


def cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve(
    args: argparse.Namespace, device: torch.device, objectives: Sequence[str]
) -> tuple[int, int | None]:
    """``(workers, threads per worker)`` from the options, the device and the objectives.

    Default: one worker per core with one thread each on the CPU; one worker on CUDA,
    and when ``latency`` is measured on the CPU (a worker training on the same cores
    slows the measurements down). ``--trials`` fewer than the workers starts only as
    many workers. Threads None: PyTorch's default (a single worker uses every core).
    """
    if args.worker_index is not None:
        return 1, args.threads
    quiet_cores = "latency" in objectives and args.latency_device == "cpu"
    default = cores() if device.type == "cpu" and not quiet_cores else 1
    workers = args.workers or default
    if args.trials is not None:
        workers = min(workers, args.trials)
    threads = args.threads or (1 if workers > 1 else None)
    return workers, threads


def shares(trials: int | None, workers: int) -> list[int | None]:
    """Each worker's ``--trials``: ``trials`` split as evenly as possible, or None."""
    if trials is None:
        return [None] * workers
    return [trials // workers + (index < trials % workers) for index in range(workers)]


def worker_argv(
    argv: Sequence[str], index: int, threads: int | None, trials: int | None
) -> list[str]:
    """The command line of worker ``index``: the run's own, with these options last.

    argparse keeps the last occurrence of an option, so appending overrides the user's.
    """
    extra = ["--workers", "1", "--worker-index", str(index), "--quiet"]
    if threads is not None:
        extra += ["--threads", str(threads)]
    if trials is not None:
        extra += ["--trials", str(trials)]
    return [*argv, *extra]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """On Linux, a worker gets SIGTERM when the run that started it dies (``kill -9``)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Workers:
    """The worker processes of one run, their output and their signals.

    Args:
        argv: The run's command line (``search`` and its options).
        count: How many workers.
        threads: PyTorch threads of each, or None for PyTorch's default.
        trials: The run's ``--trials``, split among the workers, or None.
        minutes: The run's ``--minutes``, for the progress bar.
        progress: Whether to show the progress bar.
    """

    def __init__(
        self,
        argv: Sequence[str],
        count: int,
        threads: int | None,
        trials: int | None,
        minutes: float | None,
        *,
        progress: bool,
    ) -> None:
        self._commands = [
            [sys.executable, "-m", "optuna_lemonade.cli", *worker_argv(argv, i, threads, share)]
            for i, share in enumerate(shares(trials, count))
        ]
        self._trials = trials
        self._seconds = None if minutes is None else minutes * 60
        self._progress = progress
        self._lines: queue.Queue[tuple[int, str, str | None]] = queue.Queue()
        self._processes: list[subprocess.Popen[str]] = []
        self.signum: int | None = None
        self.failed: list[tuple[int, int]] = []  # (worker index, exit status) of crashes

    def run(self) -> None:
        """Start the workers, relay their output, and wait for every one to end.

        A signal to this process (it raises :class:`Interrupted`) is forwarded to every
        worker still running, which then stops cleanly.
        """
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for command in self._commands:
            process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                # Its own session: Ctrl-C in the terminal reaches this process only,
                # which forwards it once to each worker.
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
            index = len(self._processes)
            self._processes.append(process)
            for stream, name in ((process.stdout, "stdout"), (process.stderr, "stderr")):
                assert stream is not None
                threading.Thread(
                    target=self._read, args=(index, name, stream), daemon=True
                ).start()
        if self._trials is not None:
            bar_options: dict[str, object] = {"total": self._trials, "unit": "trial"}
        else:  # seconds of the budget, as Optuna's own bar shows a timeout
            seconds = round(self._seconds or 0)
            budget = f"{seconds // 60:02d}:{seconds % 60:02d}"
            bar_options = {"total": seconds, "bar_format": "{l_bar}{bar}| {elapsed}/" + budget}
        with tqdm(disable=not self._progress, leave=False, **bar_options) as bar:
            start = time.monotonic()
            ended = 0  # stdout and stderr streams closed
            while ended < 2 * len(self._processes):
                try:
                    ended += self._relay(bar)
                    if self._trials is None and self._seconds is not None:
                        bar.n = min(round(self._seconds), round(time.monotonic() - start))
                        bar.refresh()
                except Interrupted as stop:
                    self._forward(stop.signum)
            for index, process in enumerate(self._processes):
                while True:
                    try:
                        status = process.wait()
                        break
                    except Interrupted as stop:
                        self._forward(stop.signum)
                stopped = self.signum is not None and status in (130, 143)
                if status != 0 and not stopped:
                    self.failed.append((index, status))

    def _read(self, index: int, name: str, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put((index, name, line.rstrip("\n")))
        self._lines.put((index, name, None))

    def _relay(self, bar: tqdm) -> int:
        """Print the next line of a worker; 1 when it was the end of a stream."""
        try:
            _, name, line = self._lines.get(timeout=0.5)
        except queue.Empty:
            return 0
        if line is None:
            return 1
        tqdm.write(line, file=sys.stderr if name == "stderr" else sys.stdout)
        if name == "stdout" and line.startswith("trial ") and self._trials is not None:
            bar.update(1)
        return 0

    def _forward(self, signum: int) -> None:
        self.signum = signum
        for process in self._processes:
            if process.poll() is None:
                process.send_signal(signum)
