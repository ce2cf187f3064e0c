"""LemonadeSampler: LEMONADE as an Optuna sampler; the hooks, delegating to strategies."""

from __future__ import annotations

from collections.abc import Sequence
import dataclasses
import threading
import time
from typing import Any
from typing import TYPE_CHECKING
import warnings

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.exceptions import UpdateFinishedTrialError
from optuna.samplers import BaseSampler
from optuna.samplers import RandomSampler
from optuna.study import Study
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_lemonade import _optuna_compat as compat
from optuna_lemonade._warning import LemonadeWarning
from optuna_lemonade.architecture import Architecture
from optuna_lemonade.architecture import SearchSpace
from optuna_lemonade.architecture import summarize
from optuna_lemonade.cheap_objectives import CheapObjective
from optuna_lemonade.checkpoints import CHECKPOINT_KEY
from optuna_lemonade.checkpoints import CheckpointStore
from optuna_lemonade.morphisms import Operator
from optuna_lemonade.morphisms import OPERATORS
from optuna_lemonade.network import GraphNetwork
from optuna_lemonade.sampler import _options
from optuna_lemonade.sampler import _population
from optuna_lemonade.sampler import _retention
from optuna_lemonade.sampler._child import build_networks
from optuna_lemonade.sampler._child import Child
from optuna_lemonade.sampler._decide import DecisionMaker
from optuna_lemonade.sampler._decision import Decision
from optuna_lemonade.sampler._decision import DECISION_KEY
from optuna_lemonade.sampler._decision import DecisionCache
from optuna_lemonade.sampler._proposal import CutPlacement
from optuna_lemonade.sampler._proposal import ProposalSettings
from optuna_lemonade.sampler._selection import inverse_density
from optuna_lemonade.sampler._selection import SelectionStrategy
from optuna_lemonade.sampler._shared_measurements import SharedMeasurements
from optuna_lemonade.sampler._stale import fail_trials_without_heartbeat
from optuna_lemonade.sampler._stale import fail_undecided_trials
from optuna_lemonade.sampler._stale import Heartbeats
from optuna_lemonade.sampler._stale import StaleTrialCallback


if TYPE_CHECKING:
    from optuna_lemonade._optuna_compat import ArtifactStore


OPERATOR_PARAM = "lemonade_operator"
"""The trial parameter that records how a trial's network was made (one of
:data:`OPERATOR_CHOICES`)."""
OPERATOR_CHOICES: tuple[str, ...] = ("initial", *OPERATORS)
"""``"initial"`` or the name of the morphism (the parameter's choices are fixed, so that
every trial of a study has the same distribution; a custom operator's trials do not get
the parameter)."""


class LemonadeSampler(BaseSampler):
    """Multi-objective neural architecture search by Lamarckian evolution (LEMONADE).

    Each trial trains one network. The first trials train the search space's initial
    architectures, one per trial number. After that, every trial's network is a child
    of a network on the current Pareto front (the *population*), made by a network
    morphism so that it inherits the parent's trained weights:

    1. draw parents by ``parent_selection`` over the population's cheap objectives
       (by default with probability proportional to 1 / density, a kernel density
       estimate on a log scale for counts);
    2. make ``n_proposals`` candidate children with random operators;
    3. accept one by ``child_selection`` against the population and the still-running
       trials, so that the expensive training goes where the front is thin and
       parallel workers spread.

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
            ``"macs"``, ``"latency"``: inference time measured with
            :class:`~optuna_lemonade.latency.Latency`'s defaults) or as callables
            ``Architecture -> float`` (named by ``__name__``; e.g. a ``Latency`` with
            other settings). Selection runs over these; use the study's own cost
            objectives (default: the parameter count). Measured ones are kept in the
            study, so that every worker and a resumed study reuse each measurement.
        operators: Morphism operators by name or as :class:`~optuna_lemonade.morphisms.
            Operator` objects; default all in :data:`~optuna_lemonade.morphisms.OPERATORS`.
        n_proposals: Candidate children generated per trial, of which one is trained.
        initial_architectures: The networks of the first trials; default the search
            space's :meth:`~optuna_lemonade.SearchSpace.initial_architectures`.
        artifact_store: Any :mod:`optuna.artifacts` store for the checkpoints; default a
            ``FileSystemArtifactStore`` in ``./lemonade-checkpoints``, announced in
            Optuna's log.
        independent_sampler: Samples any other ``trial.suggest_*`` of the objective (a
            learning rate, say); default :class:`~optuna.samplers.RandomSampler`.
        parent_selection: A :data:`~optuna_lemonade.sampler.SelectionStrategy`: maps the
            population's cheap objectives (``n x d``), as candidates and as reference,
            to the probabilities of drawing each as a parent; default
            :func:`~optuna_lemonade.sampler.inverse_density`.
        child_selection: The same for the candidate children (``m x d``) against the
            population and the running trials; default
            :func:`~optuna_lemonade.sampler.inverse_density`.
        cut_placement: Where the shrinking operators (``prune_filters``,
            ``to_sepconv``, ``remove_layer``, ``remove_skip``) cut. ``"uniform"``
            (default): any valid place alike. ``"by_size"``: a place drawn with
            probability proportional to the parameters its cut removes, so that
            shrinking children are large steps down. ``"by_size_below_median"``: by size
            in parents with fewer parameters than the population's median, uniformly in
            the others. Cuts by size fill the front's small end early; in the search
            benchmark they cost the large end on two seeds of three
            (``benchmarks/README.md``).
        largest_initial_first: The first child is a child of the initial network with
            the most parameters (while it is on the front and has none; then
            ``parent_selection`` as usual). An initial network trains only a few
            epochs; in the search benchmark the largest was often dominated by a
            child of a smaller one before it had a child of its own, and then the
            front's large end was lost for the rest of the search. With this option
            and ``cut_placement="by_size_below_median"`` every seed kept it and was
            better at any size, at the cost of the hypervolume
            (``benchmarks/README.md``); hence the default, False. Use the two together:
            alone, on uniform cuts, it found the best networks of any size but fewer
            networks in all, and lost the middle of the front (up to 100k parameters).
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
        heartbeat_stale_trial_callback: Called with each trial so failed, as
            ``RDBStorage``'s option of that name is; e.g.
            ``optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=2)`` retries it
            with the same decision.
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
        cut_placement: CutPlacement = "uniform",
        largest_initial_first: bool = False,
        seed: int | None = None,
        keep_checkpoints: _retention.KeepCheckpoints = "all",
        heartbeat_interval: float | None = None,
        grace_period: float | None = None,
        heartbeat_stale_trial_callback: StaleTrialCallback | None = None,
    ) -> None:
        space = _options.search_space(search_space)
        self._settings = ProposalSettings(
            space=space,
            operators=_options.operators(operators),
            cheap_objectives=_options.cheap_objectives(cheap_objectives),
            n_proposals=_options.n_proposals(n_proposals),
            parent_selection=parent_selection,
            child_selection=child_selection,
            cut_placement=_options.cut_placement(cut_placement),
        )
        self._initial = _options.initial_architectures(space, initial_architectures)
        largest_first = _options.flag("largest_initial_first", largest_initial_first)
        self._store = CheckpointStore(artifact_store)
        self._entropy = _options.seed_entropy(seed)
        self._independent = independent_sampler or RandomSampler(seed=seed)
        self._keep = _options.keep_checkpoints(keep_checkpoints)
        _options.heartbeats(heartbeat_interval, grace_period)
        self._heartbeats = Heartbeats(heartbeat_interval) if heartbeat_interval else None
        self._grace_period = grace_period
        self._stale_callback = heartbeat_stale_trial_callback
        self._measurements = SharedMeasurements(self._settings.cheap_objectives)
        self._decisions = DecisionCache()
        self._eligible = _population.Eligibility(self._decisions.get)
        self._deletions = _population.DeletionLog()
        self._decide = DecisionMaker(
            self._settings,
            self._initial,
            self._store,
            self._decisions,
            self._eligible,
            largest_initial_first=largest_first,
        )
        self._lock = threading.Lock()
        self._parents: dict[int, GraphNetwork] = {}  # trial id -> loaded parent model
        self._children: dict[int, Child] = {}  # trial id -> child handed out
        self._recording: dict[int, str] = {}  # trial id -> OPERATOR_PARAM being recorded

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
        if param_name == OPERATOR_PARAM:
            with self._lock:
                recorded = self._recording.pop(compat.trial_id(trial), None)
            if recorded is not None:
                return recorded
        return self._independent.sample_independent(study, trial, param_name, param_distribution)

    def reseed_rng(self) -> None:
        self._entropy = _options.seed_entropy(None)
        self._independent.reseed_rng()

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        """Choose what this trial trains and store it in the trial's system attributes."""
        storage = compat.storage(study)
        compat.record_heartbeat(study, trial)  # before anything a kill could interrupt
        self._independent.before_trial(study, trial)
        if self._grace_period is not None:
            fail_trials_without_heartbeat(
                study, grace_period=self._grace_period, callback=self._stale_callback
            )
        if self._heartbeats is not None:
            self._heartbeats.start(storage, trial)
        # Optuna's retry callbacks copy a dead trial's system attributes into the retry:
        # train the same decision again, but not with the dead trial's checkpoint.
        retry = compat.retried_trial_number(trial) is not None
        if retry and trial.system_attrs.get(CHECKPOINT_KEY) is not None:
            compat.set_trial_system_attr(storage, trial, CHECKPOINT_KEY, None)
        if DECISION_KEY in trial.system_attrs:
            decision = self._decisions.get(trial)
            if not retry or (decision is not None and decision.kind != "child"):
                return
            parent = None if decision is None else self._decide.load_parent(study, decision)
            if parent is not None:  # the retry trains the same child of the same parent
                with self._lock:
                    self._parents[compat.trial_id(trial)] = parent
                return
        # One generator per trial number: decisions do not depend on which worker or
        # thread asks, or in what order, only on the seed, trial number and study.
        rng = np.random.default_rng([self._entropy, trial.number])
        # One read of the trials and one of the study's attributes (withdrawn marks) for
        # the decision and retention together: on an RDB storage each is a query.
        heartbeat = compat.rdb_heartbeat(storage)
        needs_study = (
            trial.number >= len(self._initial)
            or self._keep == "population"
            or heartbeat is not None
            or self._measurements
        )
        snapshot = _population.Snapshot.read(study) if needs_study else None
        if heartbeat is not None and snapshot is not None:
            grace, callback = heartbeat
            fail_undecided_trials(study, snapshot.trials, grace_period=grace, callback=callback)
        if snapshot is not None:
            self._measurements.load(study, snapshot.attrs)
        decision, parent_model = self._decide(study, trial, rng, snapshot)
        self._measurements.save(study)
        decision = dataclasses.replace(decision, decided_at=time.time())
        lineage = _lineage(decision)
        try:
            # One transaction on an RDB storage: the decision and the lineage that
            # optuna-dashboard shows (four separate writes were a fifth of a decision).
            compat.set_trial_attrs(
                storage, trial, system={DECISION_KEY: decision.to_dict()}, user=lineage
            )
        except UpdateFinishedTrialError as error:
            raise RuntimeError(
                f"trial {trial.number} was failed by another worker while this one was "
                "deciding: its heartbeat was older than the grace period. Make the grace "
                "period longer than any pause of a live worker (on a journal file, longer "
                "than the journal lock's own grace period, 30 s by default, which a worker "
                "killed while holding the lock makes every worker wait)"
            ) from error
        self._decisions.put(trial, decision)
        for key, value in lineage.items():  # the asking Trial's own view of them
            trial.set_user_attr(key, value)
        if parent_model is not None:
            with self._lock:
                self._parents[compat.trial_id(trial)] = parent_model
        if snapshot is not None and self._keep == "population":
            _retention.release_unused(
                study,
                self._store,
                self._deletions,
                snapshot,
                self._eligible,
                self._decisions.get,
                in_use=(decision.parent_trial_id,),
            )

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        if self._heartbeats is not None:
            self._heartbeats.stop(trial)
        with self._lock:
            self._parents.pop(compat.trial_id(trial), None)
            child = self._children.pop(compat.trial_id(trial), None)
        if state == TrialState.COMPLETE and child is not None and child.checkpoint is None:
            warnings.warn(
                f"trial {trial.number} completed without child.save(): it cannot be a parent",
                LemonadeWarning,
                stacklevel=2,
            )
        self._independent.after_trial(study, trial, state, values)

    # ----------------------------------------------------------------- for objectives
    def child(self, trial: optuna.Trial) -> Child:
        """The network to train in ``trial``: call it in the objective.

        The first call builds the model (loading the parent's checkpoint and applying
        the mutation) and records the operator (or ``"initial"``) as the trial's
        categorical parameter ``lemonade_operator``, drawn from
        :data:`OPERATOR_CHOICES`. Later calls in the same trial return the same
        :class:`Child`. The lineage is in user attributes shown by optuna-dashboard from
        the moment the trial is asked for (the decision writes them): ``lemonade_parent``
        (the parent's trial number, ``None`` for an initial network),
        ``lemonade_operator`` and ``lemonade_summary``, a line such as
        ``"6 layers: 3 conv3x3, 2 maxpool2; 24.1k params; 1.92M MACs"`` (the full
        architecture is ``child.architecture``, :meth:`decision` and the checkpoint's).

        Raises:
            RuntimeError: If this sampler did not start ``trial``.
        """
        if not isinstance(trial, optuna.Trial):
            raise TypeError(f"child() expects an optuna.Trial, got {type(trial).__name__}")
        key = compat.trial_id(trial)
        with self._lock:
            existing = self._children.get(key)
            parent_model = self._parents.pop(key, None)
        if existing is not None:
            return existing
        decision = self._decisions.made_here(key)
        if decision is None:  # decided in another process
            attrs = compat.running_trial_system_attrs(trial)
            if DECISION_KEY not in attrs:
                raise RuntimeError(
                    f"trial {trial.number} was not started by a LemonadeSampler: create the "
                    "study with sampler=LemonadeSampler(...) and call child() on its own trials"
                )
            decision = Decision.from_dict(attrs[DECISION_KEY])
        if decision.kind == "child" and parent_model is None:
            assert decision.parent_trial_id is not None
            parent_trial = compat.get_trial(compat.trial_storage(trial), decision.parent_trial_id)
            parent_model = self.load_model(parent_trial)
        model, teacher = build_networks(decision, parent_model)
        child = Child(
            trial=trial, decision=decision, model=model, teacher=teacher, store=self._store
        )
        # The decision wrote the lineage; a retry of a trial decided by an older version,
        # or whose attributes were lost, writes what is missing.
        stored = trial.user_attrs
        for name, value in _lineage(decision).items():
            if name not in stored or stored[name] != value:
                trial.set_user_attr(name, value)
        self._record_operator(trial, decision.operator or "initial")
        with self._lock:
            self._children[key] = child
        return child

    def _record_operator(self, trial: optuna.Trial, operator: str) -> None:
        """Make the operator the trial's parameter ``lemonade_operator``.

        A real parameter, not only a user attribute: optuna-dashboard's parameter
        importance (PED-ANOVA over the trials' parameters) then tells which morphisms
        made good networks, where a study without parameters made it fail with a
        ZeroDivisionError; and the trials table can be filtered by it.
        """
        if operator not in OPERATOR_CHOICES or OPERATOR_PARAM in trial.params:
            return
        key = compat.trial_id(trial)
        with self._lock:
            self._recording[key] = operator
        try:
            trial.suggest_categorical(OPERATOR_PARAM, OPERATOR_CHOICES)
        finally:
            with self._lock:
                self._recording.pop(key, None)

    def decision(self, trial: FrozenTrial) -> Decision | None:
        """The decision stored on ``trial``, or None if this sampler did not start it."""
        return self._decisions.get(trial)

    def load_model(self, trial: FrozenTrial) -> GraphNetwork:
        """The network of a finished trial with its saved weights (CPU, eval mode).

        Raises:
            RuntimeError: If the trial has no decision or no checkpoint.
            optuna_lemonade.checkpoints.CheckpointError: If the checkpoint is unreadable.
        """
        decision = self._decisions.get(trial)
        if decision is None:
            raise RuntimeError(f"trial {trial.number} was not started by a LemonadeSampler")
        if self._store.artifact_id(trial) is None:
            raise RuntimeError(f"trial {trial.number} saved no checkpoint")
        return self._store.load(trial, decision.architecture)

    def population(self, study: Study) -> list[FrozenTrial]:
        """The current population: the Pareto front of COMPLETE trials with checkpoints."""
        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        withdrawn = _population.withdrawn(study)
        front = _population.population(trials, study.directions, self._eligible, withdrawn)
        return [trial for trial, _ in front]


def _lineage(decision: Decision) -> dict[str, Any]:
    """The user attributes that show a trial's lineage in optuna-dashboard."""
    return {
        "lemonade_parent": decision.parent,
        "lemonade_operator": decision.operator,
        "lemonade_summary": summarize(decision.architecture),
    }
