"""The trial-to-checkpoint store: networks saved as Optuna artifacts of their trials."""

from optuna_lemonade.checkpoints._format import CheckpointError
from optuna_lemonade.checkpoints._format import from_bytes
from optuna_lemonade.checkpoints._format import StoreUnavailableError
from optuna_lemonade.checkpoints._format import to_bytes
from optuna_lemonade.checkpoints._store import CheckpointStore


__all__ = [
    "CheckpointError",
    "CheckpointStore",
    "StoreUnavailableError",
    "from_bytes",
    "to_bytes",
]
