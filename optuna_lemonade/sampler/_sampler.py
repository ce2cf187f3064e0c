"""LemonadeSampler: LEMONADE as an Optuna sampler; the hooks, delegating to strategies."""

from __future__ import annotations

from collections.abc import Sequence
import dataclasses
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

from optuna_lemonade import _optuna_compat as compat
from optuna_lemonade._warning import LemonadeWarning
from optuna_lemonade.architecture import Architecture
from optuna_lemonade.architecture import SearchSpace
from optuna_lemonade.cheap_objectives import CheapObjective
from optuna_lemonade.checkpoints import CheckpointStore
from optuna_lemonade.morphisms import Operator
from optuna_lemonade.network import GraphNetwork
from optuna_lemonade.sampler import _decision
from optuna_lemonade.sampler import _options
from optuna_lemonade.sampler import _population
from optuna_lemonade.sampler import _retention
from optuna_lemonade.sampler._child import Child
from optuna_lemonade.sampler._child import Children
from optuna_lemonade.sampler._cut_placement import CutPlacement
from optuna_lemonade.sampler._decide import DecisionMaker
from optuna_lemonade.sampler._decision import Decision
from optuna_lemonade.sampler._decision import DecisionCache
from optuna_lemonade.sampler._operator_param import OperatorParam
from optuna_lemonade.sampler._per_storage import PerStorage
from optuna_lemonade.sampler._proposal import ProposalSettings
from optuna_lemonade.sampler._selection import inverse_density
from optuna_lemonade.sampler._selection import SelectionStrategy
from optuna_lemonade.sampler._shared_measurements import SharedMeasurements
from optuna_lemonade.sampler._stale import StaleTrialCallback
from optuna_lemonade.sampler._stale import StaleTrials
from optuna_lemonade.sampler._start import stands_for
from optuna_lemonade.training import reference_macs


if TYPE_CHECKING:
    from optuna_lemonade._optuna_compat import ArtifactStore


@dataclasses.dataclass(frozen=True)
class _Memory:
    """What the sampler remembers of one storage's trials (see ``_per_storage``)."""

    decisions: DecisionCache
    eligible: _population.Eligibility
    retention: _retention.Retention
    decide: DecisionMaker
    children: Children
    operator_param: OperatorParam
    stale: StaleTrials


class LemonadeSampler(BaseSampler):
    """Multi-objective neural architecture search by Lamarckian evolution (LEMONADE).

    Elsken, Metzen & Hutter, *Efficient Multi-Objective Neural Architecture Search via
    Lamarckian Evolution*, ICLR 2019 (arXiv:1804.09081). Each trial trains one network:
    first the initial architectures, one per trial number; then a child of a network on
    the Pareto front of COMPLETE trials that saved a checkpoint (the *population*),
    made by a network morphism so that it inherits the parent's trained weights. Parents
    are drawn by ``parent_selection`` over the population's cheap objectives, then
    ``n_proposals`` candidate children, of which ``child_selection`` accepts one against
    the population and the running trials: training goes where the front is thin, and
    parallel workers spread. The decision is made in :meth:`before_trial` and kept in
    the storage, so any storage, several processes, ``n_jobs`` and ask-and-tell work,
    and a study resumes after a restart. The user guide is in ``docs/``.

    Example:

        .. code-block:: python

            space = SearchSpace((1, 28, 28), num_classes=10)
            sampler = LemonadeSampler(space, seed=0)
            study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)

            def objective(trial):
                child = sampler.child(trial)  # inherits its parent's trained weights
                error = child.fit(train, validation, epochs=3 if child.parent is None else 1)
                return error, child.cheap_objectives["params"]

            study.optimize(objective, n_trials=100)

    Args:
        search_space: The networks to search and their limits.
        cheap_objectives: Objectives known without training, by name (``"params"``,
            ``"macs"``, ``"latency"``: measured, see :mod:`optuna_lemonade.latency`) or
            as callables ``Architecture -> float`` (named by ``__name__``). Selection
            runs over these: use the study's cost objectives.
        operators: Morphism operators by name or as ``Operator`` objects; default all
            in :data:`optuna_lemonade.morphisms.OPERATORS`.
        n_proposals: Candidate children generated per trial, of which one is trained.
        initial_architectures: The networks of the first trials; default the search
            space's :meth:`~optuna_lemonade.SearchSpace.initial_architectures`. A
            :class:`~optuna_lemonade.network.GraphNetwork` (e.g. a trained model of
            yours through :func:`~optuna_lemonade.network.from_module`) starts with its
            weights: its trial's :class:`Child` is ``pretrained`` and
            :meth:`Child.fit` evaluates it without training; its children inherit them.
        artifact_store: Any :mod:`optuna.artifacts` store for the checkpoints; default a
            ``FileSystemArtifactStore`` in ``./lemonade-checkpoints``, announced in
            Optuna's log.
        independent_sampler: Samples any other ``trial.suggest_*`` of the objective (a
            learning rate, say); default :class:`~optuna.samplers.RandomSampler`.
        parent_selection: A :data:`~optuna_lemonade.sampler.SelectionStrategy` from the
            population's cheap objectives to each one's probability of being a parent;
            default :func:`~optuna_lemonade.sampler.inverse_density`.
        child_selection: The same for the candidate children, against the population
            and the running trials.
        cut_placement: Experimental. Where the shrinking operators cut: ``"uniform"``
            (default) any valid place alike; ``"by_size"`` a place drawn by the
            parameters its cut removes; ``"by_size_below_median"`` so only in parents
            smaller than the population's median. Not the default: cuts by size fill the
            front's small end early but lost its large end on two seeds of three.
        largest_initial_first: Experimental. The first child is a child of the largest
            initial network. Not the default: it kept the front's large end but lowered
            the hypervolume.
        seed: Seed for the random choices. With a seed, a single worker makes the same
            decisions in the same order.
        keep_checkpoints: ``"all"`` keeps every checkpoint. ``"population"`` deletes the
            checkpoints of trials that can no longer be parents (dominated, failed or
            pruned) so that disk use stays bounded by the population; a checkpoint that
            a running or waiting trial's decision names as its parent is never deleted.
        heartbeat_interval: For storages without heartbeats of their own (journal
            files): write a heartbeat into each running trial every so many seconds.
        grace_period: With ``heartbeat_interval``: before each trial, fail the RUNNING
            trials whose heartbeat this worker has seen stand still for this many
            seconds of its own clock (their worker died), as Optuna's RDB storages do
            with their own heartbeats. Every worker of the study must then write
            heartbeats.
        heartbeat_stale_trial_callback: Called with each trial so failed, as by
            ``RDBStorage``; ``RetryHeartbeatStaleTrialCallback`` retries its decision.
    """

    def __init__(
        self,
        search_space: SearchSpace,
        *,
        cheap_objectives: Sequence[str | CheapObjective] = ("params",),
        operators: Sequence[str | Operator] | None = None,
        n_proposals: int = 16,
        initial_architectures: Sequence[Architecture | GraphNetwork] | None = None,
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
        self._initial, self._pretrained = _options.initial_architectures(
            space, initial_architectures
        )
        largest_first = _options.largest_initial_first(largest_initial_first)
        self._store = CheckpointStore(artifact_store)
        self._entropy = _options.seed_entropy(seed)
        self._independent = independent_sampler or RandomSampler(seed=seed)
        keep = _options.keep_checkpoints(keep_checkpoints)
        _options.heartbeats(heartbeat_interval, grace_period)
        self._stale_options = (heartbeat_interval, grace_period, heartbeat_stale_trial_callback)
        self._measurements = SharedMeasurements(self._settings.cheap_objectives)
        self._keep = keep
        self._largest_first = largest_first
        self._reference_macs = reference_macs(self._initial)  # for Child.fit's epochs rule
        self._memory = PerStorage(self._remember)

    def _remember(self) -> _Memory:
        """What this sampler remembers of one storage's trials, from scratch."""
        decisions = DecisionCache()
        eligible = _population.Eligibility(decisions.get)
        return _Memory(
            decisions=decisions,
            eligible=eligible,
            retention=_retention.Retention(self._keep, self._store, eligible, decisions.get),
            decide=DecisionMaker(
                self._settings,
                self._initial,
                self._store,
                decisions,
                eligible,
                largest_initial_first=self._largest_first,
                extra_networks=not self._pretrained,
            ),
            children=Children(self._store, self._reference_macs, self._pretrained),
            operator_param=OperatorParam(),
            stale=StaleTrials(*self._stale_options),
        )

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
        recorded = self._memory(compat.storage(study)).operator_param.take(trial, param_name)
        if recorded is not None:
            return recorded
        return self._independent.sample_independent(study, trial, param_name, param_distribution)

    def reseed_rng(self) -> None:
        self._entropy = _options.seed_entropy(None)
        self._independent.reseed_rng()

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        """Choose what this trial trains and store it in the trial's system attributes."""
        compat.record_heartbeat(study, trial)  # before anything a kill could interrupt
        self._independent.before_trial(study, trial)
        memory = self._memory(compat.storage(study))
        memory.stale.before_trial(study, trial)
        keeps, parent_model = memory.decide.stored(study, trial)
        if keeps:
            memory.children.hold_parent(trial, parent_model)
            return
        snapshot = self._snapshot(study, trial, memory)
        decision, parent_model = self._decide_anew(study, trial, snapshot, memory)
        decision = _decision.write(compat.storage(study), trial, decision)
        memory.decisions.put(trial, decision)
        memory.children.hold_parent(trial, parent_model)
        memory.retention.after_decision(study, snapshot, decision)

    def _snapshot(
        self, study: Study, trial: FrozenTrial, memory: _Memory
    ) -> _population.Snapshot | None:
        """What a decision and retention read from the study, once.

        One read of the trials and one of the study's attributes (withdrawn marks): on
        an RDB storage each is a query.
        """
        needed = (
            stands_for(trial) >= len(self._initial)
            or memory.retention.active
            or memory.stale.reads_trials(study)
            or self._measurements
        )
        return _population.Snapshot.read(study) if needed else None

    def _decide_anew(
        self,
        study: Study,
        trial: FrozenTrial,
        snapshot: _population.Snapshot | None,
        memory: _Memory,
    ) -> tuple[Decision, GraphNetwork | None]:
        # One generator per trial number: decisions do not depend on which worker or
        # thread asks, or in what order, only on the seed, trial number and study.
        rng = np.random.default_rng([self._entropy, stands_for(trial)])
        if snapshot is not None:
            memory.stale.fail_undecided(study, snapshot.trials)
            self._measurements.load(study, snapshot.attrs)
        decision, parent_model = memory.decide(study, trial, rng, snapshot)
        self._measurements.save(study)
        return decision, parent_model

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        memory = self._memory(compat.storage(study))
        memory.stale.after_trial(trial)
        child = memory.children.finish(trial)
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
        categorical parameter ``lemonade_operator``. Later calls in the same trial
        return the same :class:`Child`. From the moment the trial is asked for, its
        user attributes ``lemonade_parent`` (a trial number, None for an initial
        network), ``lemonade_operator`` and ``lemonade_summary`` (a line such as
        ``"6 layers: 3 conv3x3, 2 maxpool2; 24.1k params; 1.92M MACs"``) show its
        lineage in optuna-dashboard.

        Raises:
            RuntimeError: If this sampler did not start ``trial``.
        """
        if not isinstance(trial, optuna.Trial):
            raise TypeError(f"child() expects an optuna.Trial, got {type(trial).__name__}")
        memory = self._memory(compat.trial_storage(trial))
        child = memory.children.handed_out(trial)
        if child is None:
            # Decided by this process, or by another one.
            decision = memory.decisions.made_here(compat.trial_id(trial))
            decision = decision or _decision.stored(trial)
            child = memory.children.build(trial, decision, self.load_model)
            _decision.fill_lineage(trial, decision)
            memory.operator_param.record(trial, decision.operator or "initial")
        return child

    def decision(self, trial: FrozenTrial | optuna.Trial) -> Decision | None:
        """The decision stored on ``trial``, or None if this sampler did not start it."""
        if isinstance(trial, optuna.Trial):  # a running trial: as stored now
            return self._memory(compat.trial_storage(trial)).decisions.made_here(
                compat.trial_id(trial)
            ) or _decision.parse(
                compat.get_trial(compat.trial_storage(trial), compat.trial_id(trial))
            )
        # Read from the trial itself: a FrozenTrial does not say which storage it is
        # from, and the cache is per storage.
        return _decision.parse(trial)

    def load_model(self, trial: FrozenTrial) -> GraphNetwork:
        """The network of a finished trial with its saved weights (CPU, eval mode).

        Raises:
            RuntimeError: If the trial has no decision or no checkpoint.
            optuna_lemonade.checkpoints.CheckpointError: If the checkpoint is unreadable.
        """
        decision = _decision.parse(trial)
        if decision is None:
            raise RuntimeError(f"trial {trial.number} was not started by a LemonadeSampler")
        if self._store.artifact_id(trial) is None:
            raise RuntimeError(f"trial {trial.number} saved no checkpoint")
        return self._store.load(trial, decision.architecture)

    def population(self, study: Study) -> list[FrozenTrial]:
        """The current population: the Pareto front of COMPLETE trials with checkpoints."""
        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        withdrawn = _population.withdrawn(study)
        eligible = self._memory(compat.storage(study)).eligible
        front = _population.population(trials, study.directions, eligible, withdrawn)
        return [trial for trial, _ in front]
