"""The Optuna glue: LemonadeSampler, the Child it hands to objectives, and selection."""

# Also at the top level, as optuna_lemonade.LemonadeWarning.
from optuna_lemonade._warning import LemonadeWarning as LemonadeWarning
from optuna_lemonade.sampler._child import Child
from optuna_lemonade.sampler._decision import Decision
from optuna_lemonade.sampler._population import deleted_checkpoints
from optuna_lemonade.sampler._sampler import LemonadeSampler
from optuna_lemonade.sampler._selection import inverse_density
from optuna_lemonade.sampler._selection import SelectionStrategy
from optuna_lemonade.sampler._selection import uniform
from optuna_lemonade.sampler._stale import fail_trials_without_heartbeat


__all__ = [
    "Child",
    "Decision",
    "LemonadeSampler",
    "SelectionStrategy",
    "deleted_checkpoints",
    "fail_trials_without_heartbeat",
    "inverse_density",
    "uniform",
]
