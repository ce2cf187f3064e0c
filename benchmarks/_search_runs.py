"""The search-efficiency benchmark's runs: one method and seed until the budget ends, and
the hand-designed reference networks."""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import itertools
import multiprocessing
import pathlib
import tempfile
import time
from typing import Any
from unittest import mock

from _common import cpu_name
from _error_margin import population_filter
from _final_phase import FinalPhase
from _final_phase import run_final_phase
from _parametric import reference_architectures
from _parametric import SPACES
from _retrain_operator import Retrain
from _search_methods import parse_baseline
from _search_methods import STAGES3
from _search_methods import VARIANTS
from _search_summary import hypervolume_curves
import numpy as np
import optuna
from optuna.artifacts import FileSystemArtifactStore
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState
import torch

from optuna_lemonade import count_params
from optuna_lemonade import SearchSpace
from optuna_lemonade.architecture import analytic_num_macs
from optuna_lemonade.checkpoints import from_bytes
from optuna_lemonade.checkpoints import to_bytes
from optuna_lemonade.morphisms import OPERATORS
from optuna_lemonade.network import build_model
from optuna_lemonade.sampler import _population
from optuna_lemonade.sampler import inverse_density
from optuna_lemonade.sampler import LemonadeSampler
from optuna_lemonade.sampler import uniform
from optuna_lemonade.sampler._population import pareto_front
from optuna_lemonade.sampler._selection import reflected_inverse_density
from optuna_lemonade.training import child_epochs
from optuna_lemonade.training import evaluate
from optuna_lemonade.training import fine_tune
from optuna_lemonade.training import load_dataset
from optuna_lemonade.training import reference_macs


WORKER_SEED_STRIDE = 7919
"""A baseline's worker process k samples with ``seed + k * WORKER_SEED_STRIDE``."""

CHEAP_MACS = 4e6
"""Multiply-adds below which ``cheap_more`` lengthens a child's fine-tune (about the
median of the plain baseline space)."""


def cheaper_first(candidates: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Inverse density over the cheap objectives, divided by sqrt(first one: params)."""
    weights = inverse_density(candidates, reference) / np.sqrt(candidates[:, 0])
    result: np.ndarray = weights / weights.sum()
    return result


NEAR = 0.02
"""Relative difference in every cheap objective below which ``novel_only`` calls a
candidate a near-duplicate of a network of the population or a running trial."""


def novel_only(candidates: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Inverse density, but never a near-duplicate while another candidate is not one.

    A candidate within ``NEAR`` (relative) of a reference point in every cheap objective
    costs what an existing network costs: training it can only replace that network.
    """
    ratio = np.abs(np.log(candidates[:, None, :] / reference[None, :, :]))
    near = np.any(np.all(ratio < np.log1p(NEAR), axis=2), axis=1)
    weights = inverse_density(candidates, reference) * np.where(near, 0.0, 1.0)
    if weights.sum() == 0:
        return inverse_density(candidates, reference)
    result: np.ndarray = weights / weights.sum()
    return result


def params_density(candidates: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Inverse density over the first cheap objective only (``params``; ``ppm``)."""
    return inverse_density(candidates[:, :1], reference[:, :1])


def params_per_mac(candidates: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Inverse density over params, times each candidate's parameters per multiply-add.

    Columns: params, macs (``ppm`` adds ``macs`` as a cheap objective the density does
    not see). A child's fine-tune costs about its multiply-adds per epoch; among children
    of about the same size in parameters, the one that adds them where the resolution is
    low trains several times faster (a 3x3 convolution inserted at 28x28 costs as many
    multiply-adds as one at 7x7 with 16 times the parameters). Plain networks of every
    width have about the same ratio, so the factor does not prefer a size.
    """
    weights = params_density(candidates, reference) * candidates[:, 0] / candidates[:, 1]
    result: np.ndarray = weights / weights.sum()
    return result


def timed_trials(study: optuna.Study) -> list[tuple[optuna.trial.FrozenTrial, float]]:
    """The study's finished trials with their wall-clock seconds, start to completion."""
    return [
        (t, (t.datetime_complete - t.datetime_start).total_seconds())
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.datetime_start is not None and t.datetime_complete is not None
    ]


class SpentTimeDensity:
    """Parent selection by the inverse density of the training time spent so far.

    A parent's weight is ``1 / sum_j d_j K(c - c_j)`` over every finished trial ``j``
    (dominated ones too), ``d_j`` its wall-clock seconds, ``c_j`` its cheap objectives
    on a log scale, ``K`` the product Gaussian kernel of
    ``optuna_lemonade.sampler._selection.log_density`` with Scott's bandwidths over the
    finished trials: parents are drawn where the search has spent the least time, so
    that wall-clock spreads evenly over the sizes instead of following whichever end
    of the front a lineage took. Reads the study (set :attr:`study` before optimising):
    a benchmark prototype for one worker, not the sampler's protocol.
    """

    def __init__(self) -> None:
        self.study: optuna.Study | None = None

    def __call__(self, candidates: np.ndarray, reference: np.ndarray) -> np.ndarray:
        assert self.study is not None
        finished = timed_trials(self.study)
        if len(finished) < 2:
            return inverse_density(candidates, reference)
        costs = np.log(np.array([t.values[1:] for t, _ in finished], dtype=float))
        seconds = np.array([took for _, took in finished])
        points = np.log(candidates)
        n, dims = costs.shape
        bandwidth = np.maximum(costs.std(axis=0, ddof=1) * n ** (-1.0 / (dims + 4)), 0.1)
        z = (points[:, None, :] - costs[None, :, :]) / bandwidth
        spent = (np.exp(-0.5 * np.sum(z * z, axis=2)) * seconds[None, :]).sum(axis=1)
        weights = 1.0 / np.maximum(spent, 1e-12 * seconds.sum())
        result: np.ndarray = weights / weights.sum()
        return result


class HalvesByTime:
    """Parent selection: the half of the population on which less time has been spent.

    The population is split at its median parameter count (the median and below: the
    small half). Every finished trial's wall-clock (dominated ones and the initial
    networks too) counts for the half its own size falls in, by today's median; the
    parent is drawn from the half with less time so far, by inverse density within it.
    In the first minutes this spends about as long on the small end as on the large:
    the 5-minute log-scaled hypervolume was lost on the seeds whose first children all
    grew the largest network, each costing several small ones (JOURNAL, 2026-12-06).
    ``lemonade-time`` spread the time evenly over the sizes by a density and spent the
    budget under 1.6k parameters; two halves keep half of it on the large end, which
    some default runs starve at 20 minutes (2 % of the time over 100k). Reads the study
    (set :attr:`study` before optimising): a benchmark prototype for one worker and for
    ``--objectives error,params``, not the sampler's protocol.

    With ``ratio`` above 1 and a fixed ``split`` (``lemonade-halves2``), the halves are
    the networks up to ``split`` parameters and those above (the benchmark passes the
    middle initial network's size, 37k on Fashion-MNIST), and the starved half is the
    parent's only while the other has had more than ``ratio`` times its time (1.5: each
    side between 40 and 60 %; the seeds that lost the 5-minute hypervolume spent about
    60 % over 100k alone); otherwise inverse density over the whole population decides,
    as by default.

    Both dropped (JOURNAL, 2026-12-06, afternoon). On seed 0, ``lemonade-halves`` sent
    every draw to the two ends: the front filled with networks of 100-1,000 parameters,
    its median fell to 334, and the time was balanced between those and everything else
    (83 % of it under 10k; nothing between 25k and 100k better than the 10k network).
    ``lemonade-halves2`` cannot act once the front holds nothing above the split, and
    lost the large end on two seeds of three.
    """

    def __init__(self, ratio: float = 1.0, *, split: float | None = None) -> None:
        self.ratio, self.split = ratio, split
        self.study: optuna.Study | None = None

    def __call__(self, candidates: np.ndarray, reference: np.ndarray) -> np.ndarray:
        assert self.study is not None
        sizes = candidates[:, 0]
        boundary = float(np.median(sizes)) if self.split is None else self.split
        small = sizes <= boundary
        if small.all() or not small.any():
            return inverse_density(candidates, reference)
        seconds = {True: 0.0, False: 0.0}
        for trial, took in timed_trials(self.study):
            seconds[bool(trial.values[1] <= boundary)] += took
        if seconds[False] > self.ratio * seconds[True]:
            half = small
        elif seconds[True] > self.ratio * seconds[False]:
            half = ~small
        else:  # within the ratio (or, at ratio 1, exactly equal): density alone
            return inverse_density(candidates, reference)
        weights = np.zeros(len(candidates))
        weights[half] = inverse_density(candidates[half], reference)
        return weights


class InitialFirst:
    """Parent selection: every initial network's first child before density selection.

    While an initial network of the population has no child yet, it is the parent
    (the earliest first); after that, parents are drawn by inverse density as by
    default. Child selection is unchanged, so among the candidate children of an initial
    network the one in the sparsest part of the front is the likeliest: for the
    narrowest, often a shrinking one. The small end of the front then grows from the
    first round on, instead of whenever density selection draws its parent (after 10
    minutes on one seed of the defaults' 20-minute runs). Reads the study (set
    :attr:`study` before optimising; a finished trial's parent is its ``lemonade_parent``
    user attribute): a benchmark prototype for one worker, not the sampler's protocol.

    With ``largest_only``, only the initial network with the most parameters gets its
    first child this way (``lemonade-largefirst``): in the 20-minute runs of the session
    of 2026-11-30, midday (five variants, seeds 0-2), the 7 runs whose largest initial
    network (145k parameters, 3 epochs) had no child before a child of the 37k network
    dominated it (after 38-61 s; seed 2 of every variant among them) never held a
    network over 100k on the front again, and reached 9.5 % at any size on the mean
    against 8.9 % in the 8 runs where it had one.
    """

    def __init__(self, n_initial: int, *, largest_only: bool = False) -> None:
        self.n_initial = n_initial
        self.largest_only = largest_only
        self.study: optuna.Study | None = None

    def __call__(self, candidates: np.ndarray, reference: np.ndarray) -> np.ndarray:
        assert self.study is not None
        trials = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        parents = {t.user_attrs.get("lemonade_parent") for t in trials}
        initial = sorted((t for t in trials if t.number < self.n_initial), key=lambda t: t.number)
        if self.largest_only:  # the front's costly end: the most parameters (values[1])
            initial = sorted(initial, key=lambda t: -t.values[1])[:1]
        for trial in initial:
            if trial.number in parents:
                continue
            rows = np.flatnonzero(np.all(np.isclose(candidates, trial.values[1:]), axis=1))
            if len(rows):  # the initial network is in the population
                weights = np.zeros(len(candidates))
                weights[rows[0]] = 1.0
                return weights
        return inverse_density(candidates, reference)


PROBE_BATCHES = 16
"""Validation batches (of 512: 8,192 of the 10,000 images) on which ``check_at``
measures a child half-way."""


class HalfwayCheck:
    """A grown child's error half-way through its fine-tune (``check_at``), for the record.

    After that fraction of the fine-tune's steps, a child that costs at least what its
    parent costs in every cheap objective is evaluated on :data:`PROBE_BATCHES`
    validation batches. Stopping such a child there when it is clearly worse than its
    parent (the issue's early stopping) would need these errors to predict its final
    one; ``lemonade-probe`` records them next to the final and the parent's error.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        probe: list[Any],
        parent_error: float,
        *,
        at: float,
        device: str | None,
    ) -> None:
        self.model, self.probe, self.parent_error = model, probe, parent_error
        self.at, self.device = at, device
        self.error: float | None = None

    def __call__(self, step: int, total: int) -> bool:
        if step == max(1, round(self.at * total)) and step < total:
            self.error = evaluate(self.model, self.probe, device=self.device)
        return False


def is_lowest_error(study: optuna.Study, number: int) -> bool:
    """Whether trial ``number`` has the lowest error (the first objective) of the study's
    finished trials: its child extends the front's low-error end (``best_more``)."""
    values = {
        t.number: t.values[0]
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    }
    return number in values and values[number] <= min(values.values())


def growth_factor(
    parent: optuna.trial.FrozenTrial, params: int, column: int, most: float
) -> float:
    """``lemonade-grownmore``: a child with more parameters than its parent trains
    ``params / parent's`` times the epochs, at most ``most`` times; others 1."""
    return min(most, max(1.0, params / parent.values[column]))


def cheap_more_epochs(epochs: float, macs: float) -> float:
    return epochs * min(3.0, max(1.0, (CHEAP_MACS / macs) ** 0.5))


class Run:
    """One method, one seed: trains until the budget ends and records every trial."""

    def __init__(
        self,
        method: str,
        seed: int,
        config: argparse.Namespace,
        data: Any,
        loaders: tuple[Any, Any, Any],
        objectives: list[str],
        *,
        worker: int = 0,
        directory: pathlib.Path | None = None,
    ) -> None:
        self.method, self.seed, self.config = method, seed, config
        self.data, self.objectives = data, objectives
        self.train, self.validation, self.test = loaders
        # The checkpoints; shared by the worker processes of a run (--parallel processes).
        self.directory = directory or pathlib.Path(tempfile.mkdtemp(prefix=f"bench-{method}-"))
        self.records: list[dict[str, Any]] = []
        self.probe = list(itertools.islice(self.validation, PROBE_BATCHES))
        self.sampler: optuna.samplers.BaseSampler
        self.lemonade = method in VARIANTS
        self.variant = VARIANTS.get(method, {})
        self.epochs = config.scratch_epochs
        self.spent = SpentTimeDensity() if self.variant.get("time_balanced") else None
        self.first: InitialFirst | None = None
        self.halves: HalvesByTime | None = None
        self.final = (
            FinalPhase(self.variant["final_phase"], lr=self.variant.get("final_lr", config.lr))
            if "final_phase" in self.variant
            else None
        )
        # lemonade-final's networks by trial number: the trial each continued, the model.
        self.final_models: dict[int, tuple[int, Any]] = {}
        if self.final is not None and config.workers > 1:
            raise SystemExit(f"{method} runs in one process: --workers 1")
        if self.lemonade:
            selection = {"parent_selection": uniform, "child_selection": uniform}
            space = SearchSpace(
                data.input_shape,
                data.num_classes,
                **{
                    key: self.variant[key]
                    for key in ("initial_widths", "initial_resolution", "initial_depth")
                    if key in self.variant
                },
            )
            initial = space.initial_architectures()
            if "halves_by_time" in self.variant:
                if objectives != ["error", "params"] or config.workers > 1:
                    raise SystemExit(f"{method} needs --objectives error,params and --workers 1")
                middle = (  # the middle initial network's size
                    float(np.median([count_params(a) for a in initial]))
                    if self.variant.get("halves_at_middle_initial")
                    else None
                )
                self.halves = HalvesByTime(self.variant["halves_by_time"], split=middle)
            if self.variant.get("initial_first") or self.variant.get("largest_first"):
                self.first = InitialFirst(
                    len(initial), largest_only=bool(self.variant.get("largest_first"))
                )
            self.reference_macs = reference_macs(initial)
            cheap = [o for o in objectives if o != "error"]
            if self.variant.get("params_per_mac"):
                if cheap != ["params"]:
                    raise SystemExit("lemonade-ppm needs --objectives error,params")
                cheap.append("macs")
            self.sampler = LemonadeSampler(
                space,
                cheap_objectives=cheap,
                artifact_store=FileSystemArtifactStore(str(self.directory)),
                seed=seed,
                initial_architectures=initial,
                **({"operators": [*OPERATORS, Retrain()]} if self.variant.get("retrain") else {}),
                **(
                    {"cut_placement": self.variant["cut_placement"]}
                    if "cut_placement" in self.variant
                    else {}
                ),
                **(
                    {"largest_initial_first": True}
                    if self.variant.get("largest_initial_first")
                    else {}
                ),
                **(selection if self.variant.get("uniform_selection") else {}),
                **(
                    {"child_selection": cheaper_first}
                    if self.variant.get("cost_selection")
                    else {}
                ),
                **({"child_selection": novel_only} if self.variant.get("novel_only") else {}),
                **(
                    {
                        "parent_selection": reflected_inverse_density,
                        "child_selection": reflected_inverse_density,
                    }
                    if self.variant.get("reflected_selection")
                    else {}
                ),
                **({"parent_selection": self.spent} if self.spent is not None else {}),
                **({"parent_selection": self.first} if self.first is not None else {}),
                **({"parent_selection": self.halves} if self.halves is not None else {}),
                **(
                    {"parent_selection": params_density, "child_selection": params_per_mac}
                    if self.variant.get("params_per_mac")
                    else {}
                ),
            )
        else:
            parsed = parse_baseline(method)
            assert parsed is not None, method
            sampler, epochs = parsed
            self.epochs = config.scratch_epochs if epochs is None else epochs
            self.space = SPACES[config.baseline_space]
            # Worker processes of one run draw from streams of their own: with one seed
            # they would all sample the same architectures. (LEMONADE's decisions depend
            # on the trial number and the seed, not on the worker: one seed for all.)
            sampler_seed = seed + WORKER_SEED_STRIDE * worker
            if sampler == "tpe":
                self.sampler = optuna.samplers.TPESampler(seed=sampler_seed, multivariate=True)
            elif sampler == "nsga2":
                self.sampler = optuna.samplers.NSGAIISampler(seed=sampler_seed, population_size=10)
            else:
                self.sampler = optuna.samplers.RandomSampler(seed=sampler_seed)

    def _values(self, arch: Any, error: float) -> list[float]:
        table = {"error": error, "params": count_params(arch), "macs": analytic_num_macs(arch)}
        return [float(table[name]) for name in self.objectives]

    def objective(self, trial: optuna.Trial) -> list[float]:
        config = self.config
        if self.lemonade:
            assert isinstance(self.sampler, LemonadeSampler)
            child = self.sampler.child(trial)
            arch = child.architecture
            if self.variant.get("children_from_scratch") or child.parent is None:
                model = (
                    child.model
                    if child.parent is None
                    else build_model(arch, seed=1000 * self.seed + trial.number)
                )
                epochs, teacher = self.variant.get("initial_epochs", config.scratch_epochs), None
            else:
                epochs = self.variant.get("child_epochs", config.child_epochs)
                model, teacher = child.model, child.teacher
                if self.variant.get("cheap_more"):
                    epochs = cheap_more_epochs(epochs, analytic_num_macs(arch))
                elif not self.variant.get("flat_child_epochs"):  # the search command's rule
                    epochs = child_epochs(epochs, arch, self.reference_macs)
                if "best_more" in self.variant and is_lowest_error(trial.study, child.parent):
                    epochs *= self.variant["best_more"]
                if "grown_more" in self.variant:
                    epochs *= growth_factor(
                        trial.study.trials[child.parent],
                        count_params(arch),
                        self.objectives.index("params"),
                        self.variant["grown_more"],
                    )
            origin = "scratch" if child.parent is None else f"{child.operator} of {child.parent}"
        else:
            arch = self.space(trial, self.data.input_shape, self.data.num_classes)
            model = build_model(arch, seed=1000 * self.seed + trial.number)
            epochs, teacher, origin = self.epochs, None, "scratch"
        torch.manual_seed(1000 * self.seed + trial.number)
        check = self._check(trial, child) if self.lemonade and "check_at" in self.variant else None
        if self.lemonade and model is child.model:  # trained as the search command does
            lr = config.lr if child.parent is None else self.variant.get("child_lr", config.lr)
            error = child.fit(
                self.train,
                self.validation,
                epochs=epochs,
                scale_epochs=False,  # the variant's own rule, applied above
                lr=lr,
                device=config.device,
                augment=bool(self.variant.get("augment")),
                callback=check,
            )
        else:  # from scratch: a baseline's network, or lemonade-scratch's
            fine_tune(
                model,
                self.train,
                epochs=epochs,
                lr=config.lr,
                teacher=teacher,
                device=config.device,
                progress=False,
            )
            error = evaluate(model, self.validation, device=config.device)
            if self.lemonade:
                child.save(model)
            else:
                (self.directory / f"{trial.number}.pt").write_bytes(to_bytes(arch, model))
        record = {
            "number": trial.number,
            "origin": origin,
            "epochs": epochs,
            "architecture": arch.to_dict(),
        }
        if check is not None:  # lemonade-probe
            record.update(mid_error=check.error, parent_error=check.parent_error)
        self.records.append(record)
        return self._values(arch, error)

    def _check(self, trial: optuna.Trial, child: Any) -> HalfwayCheck | None:
        """The half-way check of a grown child (``check_at``), else None."""
        if child.parent is None:
            return None
        parent = trial.study.trials[child.parent]
        costs = dict(zip(self.objectives, parent.values, strict=True))
        if any(child.cheap_objectives[name] < costs[name] for name in child.cheap_objectives):
            return None
        return HalfwayCheck(
            child.model,
            self.probe,
            costs["error"],
            at=self.variant["check_at"],
            device=self.config.device,
        )

    def optimize(
        self, study: optuna.Study, start: float, n_jobs: int = 1
    ) -> tuple[dict[int, float], dict[int, dict[str, Any]]]:
        """Run trials until the budget, counted from ``start`` (``time.time()``), ends.

        Returns when each trial finished (seconds after ``start``) and what the objective
        recorded about it, by trial number.
        """
        if self.spent is not None:
            self.spent.study = study
        if self.first is not None:
            self.first.study = study
        if self.halves is not None:
            self.halves.study = study
        finished: dict[int, float] = {}

        def record(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            finished[trial.number] = time.time() - start

        search = self.config.budget * (1.0 if self.final is None else 1.0 - self.final.fraction)
        timeout = max(0.0, search - (time.time() - start))
        with contextlib.ExitStack() as stack:
            front = population_filter(self.variant)  # lemonade-margin, -keeplarge
            if front is not None:
                stack.enter_context(mock.patch.object(_population, "pareto_front", front))
            study.optimize(self.objective, timeout=timeout, callbacks=[record], n_jobs=n_jobs)
        origins = {r["number"]: r for r in self.records}
        if self.final is not None:
            assert isinstance(self.sampler, LemonadeSampler)
            params = self.objectives.index("params")
            for number, of, epochs, at, model in run_final_phase(
                study,
                self.final,
                deadline=start + self.config.budget,
                params=params,
                load=self.sampler.load_model,
                epochs_of=lambda n: origins.get(n, {}).get("epochs"),
                values_of=lambda t, error: [error, *t.values[1:]],
                train=self.train,
                validation=self.validation,
                device=self.config.device,
            ):
                finished[number] = at - start
                origins[number] = {
                    "number": number,
                    "origin": f"final of {of}",
                    "epochs": epochs,
                    "architecture": origins[of]["architecture"],
                }
                self.final_models[number] = (of, model)
        return finished, origins

    def run(self) -> dict[str, Any]:
        """The run, with ``--workers`` trials at a time as ``--parallel`` says."""
        calibration = calibration_seconds(self.data.input_shape, self.data.num_classes)
        workers = self.config.workers
        parallel = self.config.parallel if self.lemonade else self.config.baseline_parallel
        if workers > 1 and parallel == "processes":
            # One journal file that every worker process opens: Optuna's own way to
            # share a study between processes without a database server.
            journal = str(self.directory / "journal.log")
            storage: Any = JournalStorage(JournalFileBackend(journal))
            study = optuna.create_study(
                directions=["minimize"] * len(self.objectives),
                sampler=self.sampler,
                storage=storage,
                study_name="run",
            )
            start = time.time()
            context = multiprocessing.get_context("spawn")  # fork after torch can deadlock
            with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
                futures = [
                    pool.submit(
                        optimize_in_process,
                        self.method,
                        self.seed,
                        self.config,
                        self.objectives,
                        worker,
                        self.directory,
                        journal,
                        start,
                    )
                    for worker in range(workers)
                ]
                finished, origins = {}, {}
                for future in futures:
                    times, records = future.result()
                    finished.update(times)
                    origins.update(records)
            study = optuna.load_study(study_name="run", storage=storage, sampler=self.sampler)
        else:
            study = optuna.create_study(
                directions=["minimize"] * len(self.objectives), sampler=self.sampler
            )
            start = time.time()
            finished, origins = self.optimize(study, start, n_jobs=workers)
        elapsed = time.time() - start
        return self._results(study, finished, origins, elapsed, calibration)

    def _results(
        self,
        study: optuna.Study,
        finished: dict[int, float],
        origins: dict[int, dict[str, Any]],
        elapsed: float,
        calibration: float,
    ) -> dict[str, Any]:
        trials = [
            {
                "number": t.number,
                "values": list(t.values),
                "seconds": finished[t.number],
                "within_budget": finished[t.number] <= self.config.budget,
                "origin": origins.get(t.number, {}).get("origin"),
                "epochs": origins.get(t.number, {}).get("epochs"),
                **{
                    key: value
                    for key, value in origins.get(t.number, {}).items()
                    if key in ("mid_error", "parent_error")
                },
            }
            for t in study.trials
            if t.state == TrialState.COMPLETE and t.number in finished
        ]
        counted = [t for t in trials if t["within_budget"]]
        # The front at every reported budget (the last is the whole budget, which
        # report_at always holds); each trial on one gets a test error.
        fronts = [
            {
                t.number
                for t in pareto_front(
                    [study.trials[t["number"]] for t in counted if t["seconds"] <= 60 * minutes],
                    study.directions,
                )
            }
            for minutes in sorted(self.config.report_at)
        ]
        front = [t for t in counted if t["number"] in set().union(*fronts)]
        for entry in front:  # test error, once, at the end; the architecture to retrain it
            entry["architecture"] = origins[entry["number"]]["architecture"]
            if entry["number"] in self.final_models:
                model = self.final_models[entry["number"]][1]
            elif self.lemonade:
                assert isinstance(self.sampler, LemonadeSampler)
                model = self.sampler.load_model(study.trials[entry["number"]])
            else:
                model = from_bytes((self.directory / f"{entry['number']}.pt").read_bytes())
            entry["test_error"] = evaluate(model, self.test, device=self.config.device)
        # lemonade-final: both ends of each further training get a test error, on the
        # front or not, so that the journal can tell a better network from a luckier
        # validation draw (the best of ~100 validation errors is an optimistic one).
        by_number = {t["number"]: t for t in trials}
        for number, (of, model) in self.final_models.items():
            for entry, network in (
                (by_number.get(number), model),
                (by_number.get(of), None),
            ):
                if entry is None or "test_error" in entry:
                    continue
                if network is None:
                    assert isinstance(self.sampler, LemonadeSampler)
                    network = self.sampler.load_model(study.trials[of])
                entry["test_error"] = evaluate(network, self.test, device=self.config.device)
        grid = np.linspace(0, self.config.budget, 101)
        curves = hypervolume_curves(trials, self.objectives, grid)
        return {
            "method": self.method,
            "seed": self.seed,
            "epochs_per_network": None if self.lemonade else self.epochs,
            "threads": torch.get_num_threads(),
            "workers": self.config.workers,
            "parallel": (self.config.parallel if self.lemonade else self.config.baseline_parallel),
            "calibration_seconds": calibration,
            "cpu": cpu_name(),  # a results file may span sessions, on other machines
            "wall_seconds": elapsed,
            "trials": trials,
            "front": [t for t in front if t["number"] in fronts[-1]],
            "hypervolume_curve": {"seconds": grid.tolist(), **curves},
            "final_hypervolume": curves["hypervolume"][-1],
            "final_useful_hypervolume": curves["useful_hypervolume"][-1],
        }


def calibration_seconds(input_shape: tuple[int, int, int], num_classes: int) -> float:
    """Seconds this machine takes now for a fixed piece of work, before each run.

    Forty training steps of the 24k-parameter plain network (the three-stage initial
    networks of the earlier defaults, so that every run's figure compares) on one fixed
    batch of 128 images: the machines here are shared, and the same run has taken 30 %
    longer on one day than on another; this tells how fast the machine was for each run.
    """
    arch = SearchSpace(input_shape, num_classes, **STAGES3).initial_architectures()[1]
    model = build_model(arch, seed=0)
    generator = torch.Generator().manual_seed(0)
    batch = [
        (
            torch.randn(128, *input_shape, generator=generator),
            torch.randint(num_classes, (128,), generator=generator),
        )
    ] * 40
    fine_tune(model, batch, epochs=0.25, device="cpu", progress=False)  # warm-up: 10 steps
    start = time.perf_counter()
    fine_tune(model, batch, epochs=1.0, device="cpu", progress=False)
    return time.perf_counter() - start


def optimize_in_process(
    method: str,
    seed: int,
    config: argparse.Namespace,
    objectives: list[str],
    worker: int,
    directory: pathlib.Path,
    journal: str,
    start: float,
) -> tuple[dict[int, float], dict[int, dict[str, Any]]]:
    """One worker process of a run (``--parallel processes``): its trials on the shared
    journal file until the run's budget, counted from ``start``, ends."""
    torch.set_num_threads(config.threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = load_benchmark_data(config)
    run = Run(
        method,
        seed,
        config,
        data,
        data.loaders(batch_size=128, seed=0),
        objectives,
        worker=worker,
        directory=directory,
    )
    storage = JournalStorage(JournalFileBackend(journal))
    study = optuna.load_study(study_name="run", storage=storage, sampler=run.sampler)
    return run.optimize(study, start)


def run_in_process(
    method: str, seed: int, config: argparse.Namespace, objectives: list[str]
) -> dict[str, Any]:
    """One run in a process of its own (``--jobs``): its own data, ``--threads`` threads."""
    torch.set_num_threads(config.threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = load_benchmark_data(config)
    return Run(method, seed, config, data, data.loaders(batch_size=128, seed=0), objectives).run()


def load_benchmark_data(config: argparse.Namespace) -> Any:
    return load_dataset(
        config.dataset,
        data_dir=config.data_dir,
        train_size=config.train_size,
        validation_size=config.validation_size,
        seed=0,
    )


def train_references(
    config: argparse.Namespace, data: Any, loaders: Any, objectives: list[str]
) -> list[dict[str, Any]]:
    train, validation, test = loaders
    result = []
    for name, arch in reference_architectures(data.input_shape, data.num_classes).items():
        model = build_model(arch, seed=0)
        start = time.perf_counter()
        fine_tune(
            model,
            train,
            epochs=config.reference_epochs,
            lr=config.lr,
            device=config.device,
            progress=False,
        )
        result.append(
            {
                "name": name,
                "params": count_params(arch),
                "macs": analytic_num_macs(arch),
                "epochs": config.reference_epochs,
                "seconds": time.perf_counter() - start,
                "validation_error": evaluate(model, validation, device=config.device),
                "test_error": evaluate(model, test, device=config.device),
            }
        )
    return result
