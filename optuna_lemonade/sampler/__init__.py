"""The Optuna glue: LemonadeSampler, the Child it hands to objectives, and selection."""

from optuna_lemonade._warning import LemonadeWarning
from optuna_lemonade.sampler._child import Child
from optuna_lemonade.sampler._decision import Decision
from optuna_lemonade.sampler._decision import DECISION_KEY
from optuna_lemonade.sampler._population import deleted_checkpoints
from optuna_lemonade.sampler._population import pareto_front
from optuna_lemonade.sampler._proposal import CUT_PLACEMENTS
from optuna_lemonade.sampler._proposal import CutPlacement
from optuna_lemonade.sampler._sampler import LemonadeSampler
from optuna_lemonade.sampler._sampler import OPERATOR_CHOICES
from optuna_lemonade.sampler._sampler import OPERATOR_PARAM
from optuna_lemonade.sampler._selection import inverse_density
from optuna_lemonade.sampler._selection import reflected_inverse_density
from optuna_lemonade.sampler._selection import SelectionStrategy
from optuna_lemonade.sampler._selection import uniform
from optuna_lemonade.sampler._stale import fail_trials_without_heartbeat
from optuna_lemonade.sampler._stale import HEARTBEAT_KEY


__all__ = [
    "CUT_PLACEMENTS",
    "Child",
    "CutPlacement",
    "DECISION_KEY",
    "Decision",
    "HEARTBEAT_KEY",
    "LemonadeSampler",
    "LemonadeWarning",
    "OPERATOR_CHOICES",
    "OPERATOR_PARAM",
    "SelectionStrategy",
    "deleted_checkpoints",
    "fail_trials_without_heartbeat",
    "inverse_density",
    "pareto_front",
    "reflected_inverse_density",
    "uniform",
]
