"""The Optuna glue: LemonadeSampler, the Child it hands to objectives, and selection."""

from optuna_lemonade.sampler._child import Child
from optuna_lemonade.sampler._decision import Decision
from optuna_lemonade.sampler._decision import DECISION_KEY
from optuna_lemonade.sampler._kde import inverse_density
from optuna_lemonade.sampler._kde import SelectionStrategy
from optuna_lemonade.sampler._kde import uniform
from optuna_lemonade.sampler._population import pareto_front
from optuna_lemonade.sampler._sampler import LemonadeSampler
from optuna_lemonade.sampler._sampler import LemonadeWarning
from optuna_lemonade.sampler._stale import fail_stale_trials
from optuna_lemonade.sampler._stale import HEARTBEAT_KEY


__all__ = [
    "Child",
    "DECISION_KEY",
    "Decision",
    "HEARTBEAT_KEY",
    "LemonadeSampler",
    "LemonadeWarning",
    "SelectionStrategy",
    "fail_stale_trials",
    "inverse_density",
    "pareto_front",
    "uniform",
]
