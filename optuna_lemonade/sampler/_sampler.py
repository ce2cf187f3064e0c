"""LemonadeSampler: LEMONADE as an Optuna sampler."""

from __future__ import annotations

from collections.abc import Sequence
import dataclasses
import math
import threading
import time
from typing import Any
from typing import TYPE_CHECKING
import warnings

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.samplers import RandomSampler
from optuna.study import Study
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_lemonade.architecture import Architecture
from optuna_lemonade.architecture import SearchSpace
from optuna_lemonade.cheap_objectives import CHEAP_OBJECTIVES
from optuna_lemonade.cheap_objectives import CheapObjective
from optuna_lemonade.checkpoints import CHECKPOINT_KEY
from optuna_lemonade.checkpoints import CheckpointError
from optuna_lemonade.checkpoints import CheckpointStore
from optuna_lemonade.morphisms import apply_mutation
from optuna_lemonade.morphisms import get_operator
from optuna_lemonade.morphisms import NotApplicable
from optuna_lemonade.morphisms import Operator
from optuna_lemonade.morphisms import OPERATORS
from optuna_lemonade.network import build_model
from optuna_lemonade.network import GraphNetwork
from optuna_lemonade.sampler._child import Child
from optuna_lemonade.sampler._decision import Decision
from optuna_lemonade.sampler._decision import DECISION_KEY
from optuna_lemonade.sampler._kde import inverse_density
from optuna_lemonade.sampler._kde import SelectionStrategy
from optuna_lemonade.sampler._population import pareto_front
from optuna_lemonade.sampler._stale import fail_stale_trials
from optuna_lemonade.sampler._stale import Heartbeats


if TYPE_CHECKING:
    from optuna.artifacts._protocol import ArtifactStore


UNREADABLE_PREFIX = "lemonade:unreadable:"
"""Study system attribute prefix marking a trial whose checkpoint could not be used."""

DELETED_PREFIX = "lemonade:deleted:"
"""Study system attribute prefix marking a trial whose checkpoint was deleted because it
could no longer be a parent (``keep_checkpoints="population"``)."""

KEEP_CHECKPOINTS = ("all", "population")

_MAX_PARENT_ATTEMPTS = 5


class LemonadeWarning(UserWarning):
    """Something went wrong that the sampler worked around (e.g. a bad checkpoint)."""


class LemonadeSampler(BaseSampler):
    """Multi-objective neural architecture search by Lamarckian evolution (LEMONADE).

    Each trial trains one network. The first trials train the search space's initial
    architectures, one per trial number. After that, every trial's network is a child
    of a network on the current Pareto front (the *population*), made by a network
    morphism so that it inherits the parent's trained weights:

    1. fit a kernel density estimate over the population's cheap objectives (log scale
       for counts) and draw parents with probability proportional to 1 / density;
    2. make ``n_proposals`` candidate children with random operators;
    3. accept one, with probability proportional to 1 / density of its cheap
       objectives against the population and the still-running trials, so that the
       expensive training goes where the front is thin and parallel workers spread.

    The decision is made in :meth:`before_trial` and kept in one trial system
    attribute; :meth:`child` then builds the network in the objective. The population
    is the non-dominated set, over all the study's objectives and directions, of
    COMPLETE trials that saved a checkpoint. Everything is derived from the study's
    storage and the artifact store, so any storage, several processes, ``n_jobs`` and
    ask-and-tell work, and a study resumes after a restart.

    Example:

        .. code-block:: python

            space = SearchSpace((1, 28, 28), num_classes=10)
            sampler = LemonadeSampler(space, seed=0)
            study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)

            def objective(trial):
                child = sampler.child(trial)
                model = child.model  # inherits the parent's weights
                ...  # fine-tune; distil from child.teacher if it is not None
                child.save(model)
                return error, child.cheap_objectives["params"]

            study.optimize(objective, n_trials=100)

    Args:
        search_space: The networks to search and their limits.
        cheap_objectives: Objectives known without training, by name (``"params"``,
            ``"macs"``) or as callables ``Architecture -> float`` (named by
            ``__name__``). The density estimate runs over these; use the study's own
            cost objectives (default: the parameter count).
        operators: Morphism operators by name or as :class:`~optuna_lemonade.morphisms.
            Operator` objects; default all in :data:`~optuna_lemonade.morphisms.OPERATORS`.
        n_proposals: Candidate children generated per trial, of which one is trained.
        initial_architectures: The networks of the first trials; default the search
            space's :meth:`~optuna_lemonade.SearchSpace.initial_architectures`.
        artifact_store: Any :mod:`optuna.artifacts` store for the checkpoints; default a
            ``FileSystemArtifactStore`` in ``./lemonade-checkpoints``.
        independent_sampler: Samples any other ``trial.suggest_*`` of the objective (a
            learning rate, say); default :class:`~optuna.samplers.RandomSampler`.
        parent_selection: How parents are drawn from the population; default
            :func:`~optuna_lemonade.sampler.inverse_density`.
        child_selection: How the trained child is drawn from the candidates; default
            :func:`~optuna_lemonade.sampler.inverse_density`.
        seed: Seed for the random choices. With a seed, a single worker makes the same
            decisions in the same order.
        keep_checkpoints: ``"all"`` keeps every checkpoint. ``"population"`` deletes the
            checkpoints of trials that can no longer be parents (dominated, failed or
            pruned) so that disk use stays bounded by the population; a checkpoint that
            a running or waiting trial's decision names as its parent is never deleted.
        heartbeat_interval: For storages without heartbeats of their own (journal
            files): write a heartbeat into each running trial every so many seconds.
        grace_period: With ``heartbeat_interval``: before each trial, fail the RUNNING
            trials whose heartbeat is older than this many seconds (their worker died),
            as Optuna's RDB storages do with their own heartbeats. Every worker of the
            study must then write heartbeats.
    """

    def __init__(
        self,
        search_space: SearchSpace,
        *,
        cheap_objectives: Sequence[str | CheapObjective] = ("params",),
        operators: Sequence[str | Operator] | None = None,
        n_proposals: int = 16,
        initial_architectures: Sequence[Architecture] | None = None,
        artifact_store: ArtifactStore | None = None,
        independent_sampler: BaseSampler | None = None,
        parent_selection: SelectionStrategy = inverse_density,
        child_selection: SelectionStrategy = inverse_density,
        seed: int | None = None,
        keep_checkpoints: str = "all",
        heartbeat_interval: float | None = None,
        grace_period: float | None = None,
    ) -> None:
        if not isinstance(search_space, SearchSpace):
            raise TypeError(
                f"search_space must be a SearchSpace, got {type(search_space).__name__}"
            )
        self._space = search_space
        self._cheap: dict[str, CheapObjective] = {}
        if isinstance(cheap_objectives, str) or not cheap_objectives:
            raise ValueError("cheap_objectives must be a non-empty sequence")
        for objective in cheap_objectives:
            if isinstance(objective, str):
                if objective not in CHEAP_OBJECTIVES:
                    raise ValueError(
                        f"unknown cheap objective {objective!r}; known: "
                        f"{', '.join(CHEAP_OBJECTIVES)}, or pass a callable"
                    )
                self._cheap[objective] = CHEAP_OBJECTIVES[objective]
            elif callable(objective):
                self._cheap[getattr(objective, "__name__", repr(objective))] = objective
            else:
                raise ValueError(
                    f"a cheap objective must be a name or a callable, got {objective!r}"
                )
        if operators is None:
            operators = list(OPERATORS)
        if isinstance(operators, str) or not operators:
            raise ValueError("operators must be a non-empty sequence")
        self._operators = [get_operator(operator) for operator in operators]
        if isinstance(n_proposals, bool) or not isinstance(n_proposals, int) or n_proposals < 1:
            raise ValueError(f"n_proposals must be a positive integer, got {n_proposals!r}")
        self._n_proposals = n_proposals
        initial = (
            search_space.initial_architectures()
            if initial_architectures is None
            else list(initial_architectures)
        )
        if not initial:
            raise ValueError("initial_architectures must not be empty")
        for arch in initial:
            if not isinstance(arch, Architecture):
                raise TypeError(f"initial architectures must be Architectures, got {arch!r}")
            problems = search_space.violations(arch)
            if problems:
                raise ValueError(
                    f"an initial architecture is outside the search space: {problems}"
                )
        self._initial = initial
        self._store = CheckpointStore(artifact_store)
        self._seed = seed
        self._entropy = self._new_entropy(seed)
        self._independent = independent_sampler or RandomSampler(seed=seed)
        self._parent_selection = parent_selection
        self._child_selection = child_selection
        if keep_checkpoints not in KEEP_CHECKPOINTS:
            raise ValueError(
                f"keep_checkpoints must be one of {KEEP_CHECKPOINTS}, got {keep_checkpoints!r}"
            )
        self._keep = keep_checkpoints
        for name, value in (
            ("heartbeat_interval", heartbeat_interval),
            ("grace_period", grace_period),
        ):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0
            ):
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        if (heartbeat_interval is None) != (grace_period is None):
            raise ValueError("give both heartbeat_interval and grace_period, or neither")
        if (
            heartbeat_interval is not None
            and grace_period is not None
            and not grace_period > heartbeat_interval
        ):
            raise ValueError("grace_period must be longer than heartbeat_interval")
        self._heartbeats = Heartbeats(heartbeat_interval) if heartbeat_interval else None
        self._grace_period = grace_period
        self._lock = threading.Lock()
        self._decisions: dict[int, Decision] = {}  # trial id -> parsed decision (immutable)
        self._parents: dict[int, GraphNetwork] = {}  # trial id -> loaded parent model
        self._children: dict[int, Child] = {}  # trial id -> child handed out

    # ----------------------------------------------------------------- Optuna API
    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return {}

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self._independent.sample_independent(study, trial, param_name, param_distribution)

    def reseed_rng(self) -> None:
        self._entropy = self._new_entropy(None)
        self._independent.reseed_rng()

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        """Choose what this trial trains and store it in the trial's system attributes."""
        self._independent.before_trial(study, trial)
        if self._grace_period is not None:
            fail_stale_trials(study, grace_period=self._grace_period)
        if self._heartbeats is not None:
            self._heartbeats.start(study._storage, trial._trial_id)
        attrs = trial.system_attrs
        # Optuna's RetryHeartbeatStaleTrialCallback copies a dead trial's system
        # attributes into the retry: train the same decision again, but not with the
        # dead trial's checkpoint.
        retry = "failed_trial" in attrs
        if retry and CheckpointStore.artifact_id(trial) is not None:
            study._storage.set_trial_system_attr(trial._trial_id, CHECKPOINT_KEY, None)
        if DECISION_KEY in attrs:
            decision = self._decision(trial)
            if not retry or (decision is not None and self._prefetch(study, trial, decision)):
                return
        # One generator per trial number: decisions do not depend on which worker or
        # thread asks, or in what order, only on the seed, trial number and study.
        rng = np.random.default_rng([self._entropy, trial.number])
        decision, parent_model = self._decide(study, trial, rng)
        decision = dataclasses.replace(decision, decided_at=time.time())
        study._storage.set_trial_system_attr(trial._trial_id, DECISION_KEY, decision.to_dict())
        with self._lock:
            self._decisions[trial._trial_id] = decision
            if parent_model is not None:
                self._parents[trial._trial_id] = parent_model
        if self._keep == "population":
            self._release_checkpoints(study, decision)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        if self._heartbeats is not None:
            self._heartbeats.stop(trial._trial_id)
        with self._lock:
            self._parents.pop(trial._trial_id, None)
            child = self._children.pop(trial._trial_id, None)
        if state == TrialState.COMPLETE and child is not None and child.checkpoint is None:
            warnings.warn(
                f"trial {trial.number} completed without child.save(): it cannot be a parent",
                LemonadeWarning,
                stacklevel=2,
            )
        self._independent.after_trial(study, trial, state, values)

    # ----------------------------------------------------------------- public helpers
    @property
    def search_space(self) -> SearchSpace:
        """The search space."""
        return self._space

    @property
    def checkpoint_store(self) -> CheckpointStore:
        """Where the checkpoints are."""
        return self._store

    @property
    def cheap_objective_names(self) -> list[str]:
        """Names of the cheap objectives, in order."""
        return list(self._cheap)

    def child(self, trial: optuna.Trial) -> Child:
        """The network to train in ``trial``: call it in the objective.

        The first call builds the model (loading the parent's checkpoint and applying
        the mutation) and mirrors the lineage into user attributes shown by
        optuna-dashboard (``lemonade_parent``, ``lemonade_operator`` and
        ``lemonade_architecture``); later calls in the same trial return the same
        :class:`Child`.

        Raises:
            RuntimeError: If this sampler did not start ``trial``.
        """
        if not isinstance(trial, optuna.Trial):
            raise TypeError(f"child() expects an optuna.Trial, got {type(trial).__name__}")
        with self._lock:
            existing = self._children.get(trial._trial_id)
        if existing is not None:
            return existing
        with self._lock:
            decision = self._decisions.get(trial._trial_id)  # made by this process
        if decision is None:
            attrs = trial.storage.get_trial_system_attrs(trial._trial_id)
            if DECISION_KEY not in attrs:
                raise RuntimeError(
                    f"trial {trial.number} was not started by a LemonadeSampler: create the "
                    "study with sampler=LemonadeSampler(...) and call child() on its own trials"
                )
            decision = Decision.from_dict(attrs[DECISION_KEY])
        with self._lock:
            parent_model = self._parents.pop(trial._trial_id, None)
        teacher = None
        if decision.kind == "child":
            assert decision.mutation is not None and decision.parent_trial_id is not None
            if parent_model is None:  # decided in another process, or the cache was cleared
                parent_trial = trial.storage.get_trial(decision.parent_trial_id)
                parent_decision = self._decision(parent_trial)
                assert parent_decision is not None
                parent_model = self._store.load(parent_trial, parent_decision.architecture)
            parent_arch = parent_model.architecture
            _, model = apply_mutation(parent_arch, parent_model, decision.mutation)
            model.train()
            if not decision.exact:
                teacher = parent_model.eval()
        else:
            model = build_model(decision.architecture, seed=decision.seed)
        child = Child(
            trial=trial, decision=decision, model=model, teacher=teacher, store=self._store
        )
        # Three writes: each is a transaction on an RDB storage.
        trial.set_user_attr("lemonade_parent", decision.parent)
        trial.set_user_attr("lemonade_operator", decision.operator)
        trial.set_user_attr("lemonade_architecture", decision.architecture.to_json())
        with self._lock:
            self._children[trial._trial_id] = child
        return child

    def decision(self, trial: FrozenTrial) -> Decision | None:
        """The decision stored on ``trial``, or None if this sampler did not start it."""
        return self._decision(trial)

    def load_model(self, trial: FrozenTrial) -> GraphNetwork:
        """The network of a finished trial with its saved weights (CPU, eval mode).

        Raises:
            RuntimeError: If the trial has no decision or no checkpoint.
            optuna_lemonade.checkpoints.CheckpointError: If the checkpoint is unreadable.
        """
        decision = self._decision(trial)
        if decision is None:
            raise RuntimeError(f"trial {trial.number} was not started by a LemonadeSampler")
        if self._store.artifact_id(trial) is None:
            raise RuntimeError(f"trial {trial.number} saved no checkpoint")
        return self._store.load(trial, decision.architecture)

    def population(self, study: Study) -> list[FrozenTrial]:
        """The current population: the Pareto front of COMPLETE trials with checkpoints."""
        return [trial for trial, _ in self._population(study, excluded=set())]

    # ----------------------------------------------------------------- internals
    @staticmethod
    def _new_entropy(seed: int | None) -> int:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"seed must be an integer or None, got {seed!r}")
        return int(np.random.SeedSequence(seed).entropy)  # type: ignore[arg-type]

    def _decision(self, trial: FrozenTrial) -> Decision | None:
        with self._lock:
            cached = self._decisions.get(trial._trial_id)
        if cached is not None:
            return cached
        data = trial.system_attrs.get(DECISION_KEY)
        if data is None:
            return None
        try:
            decision = Decision.from_dict(data)
        except ValueError as error:
            warnings.warn(
                f"trial {trial.number} has an invalid decision and is ignored: {error}",
                LemonadeWarning,
                stacklevel=3,
            )
            return None
        with self._lock:
            self._decisions[trial._trial_id] = decision
        return decision

    def _cheap_values(self, decision: Decision) -> list[float]:
        return [
            decision.cheap_objectives[name]
            if name in decision.cheap_objectives
            else float(function(decision.architecture))
            for name, function in self._cheap.items()
        ]

    def _evaluate_cheap(self, arch: Architecture) -> dict[str, float]:
        return {name: float(function(arch)) for name, function in self._cheap.items()}

    @staticmethod
    def _withdrawn(study: Study) -> set[int]:
        """Trials whose checkpoints were found unreadable or were deleted."""
        result = set()
        for key in study._storage.get_study_system_attrs(study._study_id):
            for prefix in (UNREADABLE_PREFIX, DELETED_PREFIX):
                if key.startswith(prefix):
                    result.add(int(key[len(prefix) :]))
        return result

    def _population(
        self,
        study: Study,
        excluded: set[int],
        trials: Sequence[FrozenTrial] | None = None,
        withdrawn: set[int] | None = None,
    ) -> list[tuple[FrozenTrial, Decision]]:
        unreadable = self._withdrawn(study) if withdrawn is None else withdrawn
        if trials is None:
            trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        eligible = []
        decisions = {}
        for trial in trials:
            if trial.state != TrialState.COMPLETE:
                continue
            if trial._trial_id in excluded or trial._trial_id in unreadable:
                continue
            if CheckpointStore.artifact_id(trial) is None or trial.values is None:
                continue
            if len(trial.values) != len(study.directions):
                continue
            if not all(math.isfinite(v) for v in trial.values):
                continue
            decision = self._decision(trial)
            if decision is None:
                continue
            eligible.append(trial)
            decisions[trial._trial_id] = decision
        front = pareto_front(eligible, study.directions)
        return [(trial, decisions[trial._trial_id]) for trial in front]

    def _initial_decision(self, index: int, kind: str, rng: np.random.Generator) -> Decision:
        arch = self._initial[index]
        return Decision(
            kind=kind,
            architecture=arch,
            cheap_objectives=self._evaluate_cheap(arch),
            seed=int(rng.integers(0, 2**31 - 1)),
        )

    def _restart(self, rng: np.random.Generator, reason: str) -> tuple[Decision, None]:
        warnings.warn(
            f"{reason}; training an initial architecture from scratch",
            LemonadeWarning,
            stacklevel=4,
        )
        return self._initial_decision(int(rng.integers(len(self._initial))), "restart", rng), None

    def _decide(
        self, study: Study, trial: FrozenTrial, rng: np.random.Generator
    ) -> tuple[Decision, GraphNetwork | None]:
        if trial.number < len(self._initial):
            return self._initial_decision(trial.number, "initial", rng), None
        excluded: set[int] = set()
        # One read of the trials and of the withdrawn marks per decision: on an RDB
        # storage each is a query.
        trials = study.get_trials(deepcopy=False)
        withdrawn = self._withdrawn(study)
        for _ in range(_MAX_PARENT_ATTEMPTS):
            population = self._population(study, excluded, trials, withdrawn)
            if not population:
                # Quietly: e.g. objectives that do not train networks (Optuna's own
                # sampler tests) or initial trials still running.
                decision = self._initial_decision(
                    int(rng.integers(len(self._initial))), "restart", rng
                )
                return decision, None
            proposal = self._propose(trial, trials, population, rng)
            if proposal is None:
                return self._restart(rng, "no operator applies to any network of the population")
            decision, parent_trial = proposal
            parent_decision = self._decision(parent_trial)
            assert parent_decision is not None
            try:
                parent_model = self._store.load(parent_trial, parent_decision.architecture)
            except CheckpointError as error:
                self._withdraw(study, parent_trial, error)
                excluded.add(parent_trial._trial_id)
                continue
            return decision, parent_model
        return self._restart(rng, f"{_MAX_PARENT_ATTEMPTS} parents in a row had bad checkpoints")

    def _withdraw(self, study: Study, trial: FrozenTrial, error: CheckpointError) -> None:
        """Make ``trial`` ineligible as a parent for every worker, with a warning."""
        if trial._trial_id in self._withdrawn(study):
            return  # another worker got there first (or deleted a dominated checkpoint)
        warnings.warn(
            f"{error}; trial {trial.number} can no longer be a parent",
            LemonadeWarning,
            stacklevel=4,
        )
        study._storage.set_study_system_attr(
            study._study_id, f"{UNREADABLE_PREFIX}{trial._trial_id}", str(error)
        )

    def _prefetch(self, study: Study, trial: FrozenTrial, decision: Decision) -> bool:
        """Load the parent of a retried trial's decision; False if it is unusable."""
        if decision.kind != "child":
            return True
        assert decision.parent_trial_id is not None
        parent_trial = study._storage.get_trial(decision.parent_trial_id)
        parent_decision = self._decision(parent_trial)
        if parent_decision is None:
            return False
        try:
            model = self._store.load(parent_trial, parent_decision.architecture)
        except CheckpointError as error:
            self._withdraw(study, parent_trial, error)
            return False
        with self._lock:
            self._parents[trial._trial_id] = model
        return True

    def _release_checkpoints(self, study: Study, decision: Decision) -> None:
        """Delete the checkpoints of trials that can no longer be parents."""
        population = {trial._trial_id for trial, _ in self._population(study, set())}
        withdrawn = self._withdrawn(study)
        in_use = {decision.parent_trial_id}
        candidates = []
        for trial in study.get_trials(deepcopy=False):
            if trial.state in (TrialState.RUNNING, TrialState.WAITING):
                other = self._decision(trial)
                if other is not None:
                    in_use.add(other.parent_trial_id)
                continue
            artifact_id = CheckpointStore.artifact_id(trial)
            if artifact_id is None or trial._trial_id in withdrawn:
                continue
            if trial.state == TrialState.COMPLETE and trial._trial_id in population:
                continue
            candidates.append((trial, artifact_id))
        for trial, artifact_id in candidates:
            if trial._trial_id in in_use:
                continue
            # Marked first, so that no worker picks it as a parent from now on.
            study._storage.set_study_system_attr(
                study._study_id, f"{DELETED_PREFIX}{trial._trial_id}", artifact_id
            )
            self._store.remove(artifact_id)

    def _propose(
        self,
        trial: FrozenTrial,
        trials: Sequence[FrozenTrial],
        population: list[tuple[FrozenTrial, Decision]],
        rng: np.random.Generator,
    ) -> tuple[Decision, FrozenTrial] | None:
        reference = np.array([self._cheap_values(d) for _, d in population])
        parent_p = self._parent_selection(reference, reference)
        # Children already made (or being made) from the same parent are not proposed
        # again: training one twice would only re-evaluate it.
        made: set[tuple[int | None, Architecture]] = set()
        running = []
        for other in trials:
            if other._trial_id == trial._trial_id:
                continue
            decision = self._decision(other)
            if decision is None:
                continue
            made.add((decision.parent_trial_id, decision.architecture))
            if other.state == TrialState.RUNNING:
                running.append(self._cheap_values(decision))
        candidates: list[tuple[int, Any, Architecture, dict[str, float]]] = []
        repeats: list[tuple[int, Any, Architecture, dict[str, float]]] = []
        for _ in range(4 * self._n_proposals):
            if len(candidates) == self._n_proposals:
                break
            index = int(rng.choice(len(population), p=parent_p))
            operator = self._operators[int(rng.integers(len(self._operators)))]
            parent_trial, parent_decision = population[index]
            try:
                mutation, child_arch = operator.propose(
                    parent_decision.architecture, rng, self._space
                )
            except NotApplicable:
                continue
            candidate = (index, mutation, child_arch, self._evaluate_cheap(child_arch))
            if (parent_trial._trial_id, child_arch) in made:
                repeats.append(candidate)
            else:
                candidates.append(candidate)
        candidates = candidates or repeats
        if not candidates:
            return None
        points = np.array([[c[3][name] for name in self._cheap] for c in candidates])
        crowd = np.vstack([reference, np.array(running)]) if running else reference
        child_p = self._child_selection(points, crowd)
        index, mutation, child_arch, cheap = candidates[
            int(rng.choice(len(candidates), p=child_p))
        ]
        parent_trial, _ = population[index]
        decision = Decision(
            kind="child",
            architecture=child_arch,
            cheap_objectives=cheap,
            seed=mutation.seed,
            parent=parent_trial.number,
            parent_trial_id=parent_trial._trial_id,
            mutation=mutation,
        )
        return decision, parent_trial
