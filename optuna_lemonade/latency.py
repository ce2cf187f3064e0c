"""Measured inference time as a cheap objective: :class:`Latency`.

Parameters and multiply-adds predict the time a network takes on a device badly
(depthwise convolutions and memory-bound layers do little arithmetic and still take
time), so LEMONADE can select on the time itself. It is measured, not trained: a network
of the architecture with random weights runs on random images, a few times to warm up,
then ``repeats`` times, each timed alone, in three blocks; the objective is the lowest of
the blocks' medians, in milliseconds, so that a burst of load elsewhere during one block
does not count (measured: one measurement in 15 came out 2.6 times too slow with a
plain median of 15 runs).

A measurement takes milliseconds to a few tenths of a second (the sampler measures
every proposed child), so every result is kept: in memory by architecture, and, through
:class:`~optuna_lemonade.LemonadeSampler`, in the study, so that every worker reuses one
measurement and a resumed study measures nothing again (:attr:`Latency.namespace`
separates the settings and devices that measured).
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Iterator
import contextlib
import dataclasses
import functools
import hashlib
import math
import platform
import threading
import time

import numpy as np
import torch

from optuna_lemonade.architecture import Architecture
from optuna_lemonade.network import build_model


_MEASURING = threading.Lock()
"""One measurement at a time in a process: two would compete for the cores, and the
thread count is process-wide state."""


@dataclasses.dataclass(frozen=True)
class LatencyMeasurement:
    """One measurement of an architecture.

    Attributes:
        median_ms: The objective's value, in milliseconds: the lowest of the medians of
            the blocks of timed runs (one block below six runs).
        iqr_ms: Interquartile range of all timed runs, in milliseconds (their spread).
        times_ms: Every timed run, in milliseconds.
        seconds: Wall-clock time of the whole measurement (building the network and the
            warm-up included): its cost.
    """

    median_ms: float
    iqr_ms: float
    times_ms: tuple[float, ...]
    seconds: float


class Latency:
    """Measured inference time of an architecture, in milliseconds: a cheap objective.

    Give it to the sampler as ``cheap_objectives=["params", "latency"]`` (these settings'
    defaults) or as an object with other settings, ``cheap_objectives=["params",
    Latency(batch_size=32, threads=4)]``; the objective then returns
    ``child.cheap_objectives["latency"]`` among its values.

    Measure on the device the networks are meant for, on a machine that does nothing
    else meanwhile: a worker that trains while another measures slows the measurement
    down. Results are kept per architecture in memory and, through the sampler, in the
    study under :attr:`namespace`, which names these settings, PyTorch's version and
    the device (CPU model or GPU name); workers on another kind of machine measure for
    themselves.

    Args:
        device: Where to run (``"cpu"``, ``"cuda"``, ``"cuda:1"``...).
        batch_size: Images per forward pass.
        threads: PyTorch's intra-op threads during the measurement (set for it and then
            restored; it is process-wide, so other threads of the process run with it
            meanwhile); None keeps the current setting.
        warmup: Untimed forward passes first (allocations, lazy initialisation, caches).
        repeats: Timed forward passes, each timed alone, in three blocks (from six on);
            the lowest of the blocks' medians is the value.
        channels_last: Run in the channels-last memory format, as
            :func:`~optuna_lemonade.training.fine_tune` and
            :func:`~optuna_lemonade.training.evaluate` do (on CPU several times faster
            for depthwise convolutions).

    Raises:
        ValueError: For a batch size, thread count or number of repeats below 1, a
            negative warm-up, or a device PyTorch does not know.
    """

    __name__ = "latency"

    def __init__(
        self,
        *,
        device: str | torch.device = "cpu",
        batch_size: int = 1,
        threads: int | None = 1,
        warmup: int = 3,
        repeats: int = 15,
        channels_last: bool = True,
    ) -> None:
        for name, value, least in (
            ("batch_size", batch_size, 1),
            ("repeats", repeats, 1),
            ("warmup", warmup, 0),
            ("threads", 1 if threads is None else threads, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"Latency: {name} must be an integer >= {least}, got {value!r}")
        try:
            self.device = torch.device(device)
        except (RuntimeError, TypeError) as error:
            raise ValueError(
                f"Latency: device {device!r} is not a PyTorch device ({error})"
            ) from None
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"Latency: device {device!r}, but CUDA is not available here")
        self.batch_size = batch_size
        self.threads = threads
        self.warmup = warmup
        self.repeats = repeats
        self.channels_last = channels_last
        self._lock = threading.Lock()
        self._known: dict[str, float] = {}
        self._measured: list[tuple[str, float]] = []  # not yet handed to the study

    def __repr__(self) -> str:
        return (
            f"Latency(device={str(self.device)!r}, batch_size={self.batch_size}, "
            f"threads={self.threads}, warmup={self.warmup}, repeats={self.repeats}, "
            f"channels_last={self.channels_last})"
        )

    @functools.cached_property
    def namespace(self) -> str:
        """A short name of these settings on this device with this PyTorch.

        Measurements are shared (in the study) only between workers with the same one.
        """
        described = "|".join(
            (
                _device_name(self.device),
                torch.__version__,
                f"batch {self.batch_size}",
                f"threads {self.threads}",
                f"warmup {self.warmup}",
                f"repeats {self.repeats}",
                f"channels_last {self.channels_last}",
            )
        )
        return hashlib.sha256(described.encode()).hexdigest()[:12]

    @staticmethod
    def key(arch: Architecture) -> str:
        """The architecture's key in the caches: a hash of its JSON description."""
        return hashlib.sha256(arch.to_json().encode()).hexdigest()[:24]

    def __call__(self, arch: Architecture) -> float:
        """The median inference time of ``arch`` in milliseconds, measured once."""
        key = self.key(arch)
        with self._lock:
            known = self._known.get(key)
        if known is not None:
            return known
        value = self.measure(arch).median_ms
        with self._lock:
            if key not in self._known:
                self._known[key] = value
                self._measured.append((key, value))
            return self._known[key]

    def measure(self, arch: Architecture) -> LatencyMeasurement:
        """Measure ``arch`` now, whatever is known; nothing is cached.

        Hand-timed rather than with ``torch.utils.benchmark.Timer``: its ``timeit``
        reports one mean per call and adds warm-up runs to each, and
        ``blocked_autorange`` picks its own number of runs; here every one of a fixed
        number of runs is timed alone, for the median and its spread.
        """
        started = time.perf_counter()
        generator = torch.Generator().manual_seed(0)
        layout = torch.channels_last if self.channels_last else torch.contiguous_format
        with _MEASURING, _threads(self.threads), torch.inference_mode():
            model = build_model(arch, seed=0).eval().to(self.device)
            model = model.to(memory_format=layout)  # type: ignore[call-overload]
            images = torch.randn((self.batch_size, *arch.input_shape), generator=generator)
            images = images.to(self.device).contiguous(memory_format=layout)
            for _ in range(self.warmup):
                model(images)
            times = []
            for _ in range(self.repeats):
                _synchronize(self.device)
                start = time.perf_counter()
                model(images)
                _synchronize(self.device)
                times.append(1000.0 * (time.perf_counter() - start))
        q25, q75 = np.percentile(times, [25, 75])
        blocks = np.array_split(np.array(times), 3 if len(times) >= 6 else 1)
        return LatencyMeasurement(
            median_ms=float(min(np.median(block) for block in blocks)),
            iqr_ms=float(q75 - q25),
            times_ms=tuple(times),
            seconds=time.perf_counter() - started,
        )

    # ------------------------------------------------------------ shared with the study
    def remember(self, entries: Iterable[tuple[str, float]]) -> None:
        """Take measurements made elsewhere (another worker, an earlier run).

        Entries whose key is not a hex string or whose value is not a positive finite
        number are skipped; what this object measured itself is kept.
        """
        with self._lock:
            for key, value in entries:
                if _valid_entry(key, value):
                    self._known.setdefault(key, float(value))

    def take_measured(self) -> list[tuple[str, float]]:
        """The measurements made here since the last call, to share; then forgotten."""
        with self._lock:
            measured, self._measured = self._measured, []
        return measured


def _valid_entry(key: object, value: object) -> bool:
    return (
        isinstance(key, str)
        and 0 < len(key) <= 64
        and all(c in "0123456789abcdef" for c in key)
        and isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def valid_entry(entry: object) -> bool:
    """Whether ``entry`` is a ``[key, milliseconds]`` pair as :class:`Latency` shares them."""
    return isinstance(entry, list) and len(entry) == 2 and _valid_entry(entry[0], entry[1])


@contextlib.contextmanager
def _threads(count: int | None) -> Iterator[None]:
    if count is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@functools.cache
def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda {torch.cuda.get_device_name(device)}"
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{device.type} {model}"
