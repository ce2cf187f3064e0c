"""Training helpers for objectives: fine-tuning (with distillation), evaluation, data.

The same for several tasks at once, one head per task: :class:`Task`.
"""

from optuna_lemonade.training._augment import augment_batch
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
from optuna_lemonade.training._loops import StepCallback
from optuna_lemonade.training._tasks import evaluate_tasks
from optuna_lemonade.training._tasks import fine_tune_tasks
from optuna_lemonade.training._tasks import num_outputs
from optuna_lemonade.training._tasks import Task
from optuna_lemonade.training._tasks import task_heads


__all__ = [
    "Batches",
    "DATASETS",
    "DatasetSplits",
    "StepCallback",
    "Task",
    "augment_batch",
    "child_epochs",
    "default_device",
    "distillation_loss",
    "evaluate",
    "evaluate_tasks",
    "fine_tune",
    "fine_tune_tasks",
    "load_dataset",
    "num_outputs",
    "reference_macs",
    "task_heads",
]
