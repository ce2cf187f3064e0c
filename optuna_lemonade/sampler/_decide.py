"""Deciding what a trial trains: an initial network, a child of the population, or a restart."""

from __future__ import annotations

from collections.abc import Sequence
import warnings

import numpy as np
from optuna.study import Study
from optuna.trial import FrozenTrial

from optuna_lemonade import _optuna_compat as compat
from optuna_lemonade._storage_keys import CHECKPOINT_KEY
from optuna_lemonade._storage_keys import DECISION_KEY
from optuna_lemonade._warning import LemonadeWarning
from optuna_lemonade.architecture import analytic_num_params
from optuna_lemonade.architecture import Architecture
from optuna_lemonade.checkpoints import CheckpointError
from optuna_lemonade.checkpoints import CheckpointStore
from optuna_lemonade.checkpoints import StoreUnavailableError
from optuna_lemonade.network import GraphNetwork
from optuna_lemonade.sampler import _population
from optuna_lemonade.sampler import _start
from optuna_lemonade.sampler._decision import Decision
from optuna_lemonade.sampler._decision import DecisionCache
from optuna_lemonade.sampler._decision import DecisionKind
from optuna_lemonade.sampler._proposal import ProposalSettings
from optuna_lemonade.sampler._proposal import propose_child


_MAX_PARENT_ATTEMPTS = 5


class DecisionMaker:
    """Makes a trial's decision from the study, and loads the parent it names.

    The first trials train the initial architectures by trial number. Later ones train a
    child proposed from the population; a parent whose checkpoint cannot be loaded is
    marked for every worker and another is proposed. Without a population, or when no
    operator applies, an initial architecture is trained again (a restart).
    """

    def __init__(
        self,
        settings: ProposalSettings,
        initial: Sequence[Architecture],
        store: CheckpointStore,
        decisions: DecisionCache,
        eligible: _population.Eligibility,
        *,
        largest_initial_first: bool = False,
        extra_networks: bool = True,
    ) -> None:
        self._settings = settings
        self._initial = list(initial)
        self._store = store
        self._decisions = decisions
        self._eligible = eligible
        # What _start trains beyond the initial networks while none has finished; none
        # when the search starts from trained networks (they are measured in seconds,
        # and a network from scratch is not what such a search is for).
        self._extra: list[Architecture] | None = None if extra_networks else []
        # The trial number of the initial network with the most parameters (initial
        # networks are trained by trial number), or None.
        self._largest_initial = (
            max(range(len(self._initial)), key=lambda i: analytic_num_params(self._initial[i]))
            if largest_initial_first
            else None
        )

    def __call__(
        self,
        study: Study,
        trial: FrozenTrial,
        rng: np.random.Generator,
        snapshot: _population.Snapshot | None,
    ) -> tuple[Decision, GraphNetwork | None]:
        """The decision for ``trial`` and, for a child, its parent's loaded model.

        Args:
            study: The study.
            trial: The trial to decide for.
            rng: Every random choice comes from it.
            snapshot: The study as read for this decision (needed unless ``trial`` trains
                an initial network); the ids found unreadable are added to its
                ``withdrawn``.
        """
        number = _start.stands_for(trial)
        if number < len(self._initial):
            return self._from_scratch(number, "initial", rng), None
        assert snapshot is not None
        trials, excluded = snapshot.trials, snapshot.withdrawn
        reason = f"{_MAX_PARENT_ATTEMPTS} parents in a row had bad checkpoints"
        for _ in range(_MAX_PARENT_ATTEMPTS):
            population = _population.population(trials, study.directions, self._eligible, excluded)
            if not population:
                # Quietly: initial trials still running (more workers than initial
                # networks), or objectives that train no network (Optuna's sampler tests).
                return self._without_parents(trial, trials, rng), None
            proposed = self._propose(trial, trials, population, rng)
            if proposed is None:
                reason = "no operator applies to any network of the population"
                break
            decision, (parent_trial, parent_decision) = proposed
            try:
                return decision, self._store.load(parent_trial, parent_decision.architecture)
            except StoreUnavailableError as error:
                # Not the checkpoint's fault: it stays a parent for the next decision.
                warnings.warn(
                    f"{error}; training an initial architecture from scratch",
                    LemonadeWarning,
                    stacklevel=5,
                )
                return self._restart(rng), None
            except CheckpointError as error:
                _population.mark_unreadable(study, parent_trial, error)
                excluded.add(compat.trial_id(parent_trial))
        warnings.warn(
            f"{reason}; training an initial architecture from scratch",
            LemonadeWarning,
            stacklevel=5,
        )
        return self._restart(rng), None

    def stored(self, study: Study, trial: FrozenTrial) -> tuple[bool, GraphNetwork | None]:
        """Whether ``trial`` keeps the decision it has, and the parent model it needs.

        A trial asked for again keeps its decision. Optuna's retry callbacks copy a dead
        trial's system attributes into the retry: it trains the same decision again,
        the same child of the same parent, but not with the dead trial's checkpoint; a
        retried child whose parent can no longer be loaded is decided anew.

        Returns:
            ``(keeps its decision, the parent's model for a retried child or None)``.
        """
        retry = compat.retried_trial_number(trial) is not None
        if retry and trial.system_attrs.get(CHECKPOINT_KEY) is not None:
            compat.set_trial_system_attr(compat.storage(study), trial, CHECKPOINT_KEY, None)
        if DECISION_KEY not in trial.system_attrs:
            return False, None
        decision = self._decisions.get(trial)
        if not retry or (decision is not None and decision.kind != "child"):
            return True, None
        parent = None if decision is None else self.load_parent(study, decision)
        return parent is not None, parent

    def load_parent(self, study: Study, decision: Decision) -> GraphNetwork | None:
        """The parent model of a stored child decision (a retry); None if unusable."""
        assert decision.parent_trial_id is not None
        parent_trial = compat.get_trial(compat.storage(study), decision.parent_trial_id)
        parent_decision = self._decisions.get(parent_trial)
        if parent_decision is None:
            return None
        try:
            return self._store.load(parent_trial, parent_decision.architecture)
        except StoreUnavailableError:
            return None  # decided anew (and warned about) by the caller
        except CheckpointError as error:
            _population.mark_unreadable(study, parent_trial, error)
            return None

    def _from_scratch(self, index: int, kind: DecisionKind, rng: np.random.Generator) -> Decision:
        arch = self._initial[index]
        return Decision(
            kind=kind,
            architecture=arch,
            cheap_objectives=self._settings.evaluate(arch),
            seed=int(rng.integers(0, 2**31 - 1)),
        )

    def _without_parents(
        self, trial: FrozenTrial, trials: Sequence[FrozenTrial], rng: np.random.Generator
    ) -> Decision:
        """No network to be a parent: one that no trial trains yet, else a restart."""
        if self._extra is None:
            self._extra = _start.extra_architectures(self._initial, self._settings.space)
        arch = _start.unclaimed(self._initial, self._extra, trials, self._decisions.get, trial)
        if arch is None:
            return self._restart(rng)
        return Decision(
            kind="initial",
            architecture=arch,
            cheap_objectives=self._settings.evaluate(arch),
            seed=int(rng.integers(0, 2**31 - 1)),
        )

    def _restart(self, rng: np.random.Generator) -> Decision:
        return self._from_scratch(int(rng.integers(len(self._initial))), "restart", rng)

    def _first_parent(
        self,
        population: list[tuple[FrozenTrial, Decision]],
        made: set[tuple[int, Architecture]],
    ) -> int | None:
        """The parent the next child must have, as an index into the population, or None.

        With ``largest_initial_first``, the initial network with the most parameters,
        while it is in the population and no decision has made a child of it yet;
        otherwise None, and parents are drawn by selection.
        """
        if self._largest_initial is None:
            return None
        for index, (parent, decision) in enumerate(population):
            if parent.number == self._largest_initial and decision.kind == "initial":
                return None if any(i == index for i, _ in made) else index
        return None

    def _propose(
        self,
        trial: FrozenTrial,
        trials: Sequence[FrozenTrial],
        population: list[tuple[FrozenTrial, Decision]],
        rng: np.random.Generator,
    ) -> tuple[Decision, tuple[FrozenTrial, Decision]] | None:
        parents = [t for t, _ in population]
        made, running = _population.made_and_running(trials, trial, parents, self._decisions.get)
        values = self._settings.values
        arguments = (
            self._settings,
            [d.architecture for _, d in population],
            np.array([values(d.architecture, d.cheap_objectives) for _, d in population]),
            [values(d.architecture, d.cheap_objectives) for d in running],
            made,
            rng,
        )
        first = self._first_parent(population, made)
        proposal = propose_child(*arguments, parent=first)
        if proposal is None and first is not None:
            # No operator applies to the first parent (custom operators, a network at
            # the search space's limits): the others are tried, else every later trial
            # would be forced to it again, and restart.
            proposal = propose_child(*arguments)
        if proposal is None:
            return None
        parent = parents[proposal.parent]
        decision = Decision(
            kind="child",
            architecture=proposal.architecture,
            cheap_objectives=proposal.cheap_objectives,
            seed=proposal.mutation.seed,
            parent=parent.number,
            parent_trial_id=compat.trial_id(parent),
            mutation=proposal.mutation,
        )
        return decision, population[proposal.parent]
