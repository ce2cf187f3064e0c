"""Training helpers for objectives: fine-tuning (with distillation), evaluation, data."""

from optuna_lemonade.training._data import DATASETS
from optuna_lemonade.training._data import DatasetSplits
from optuna_lemonade.training._data import load_dataset
from optuna_lemonade.training._epochs import child_epochs
from optuna_lemonade.training._epochs import reference_macs
from optuna_lemonade.training._loops import Batches
from optuna_lemonade.training._loops import default_device
from optuna_lemonade.training._loops import distillation_loss
from optuna_lemonade.training._loops import evaluate
from optuna_lemonade.training._loops import fine_tune


__all__ = [
    "Batches",
    "DATASETS",
    "DatasetSplits",
    "child_epochs",
    "default_device",
    "distillation_loss",
    "evaluate",
    "fine_tune",
    "load_dataset",
    "reference_macs",
]
