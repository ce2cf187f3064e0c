"""Turning architectures into PyTorch modules."""

from optuna_lemonade.architecture import SeparableConv2d
from optuna_lemonade.network._builder import build_model
from optuna_lemonade.network._builder import check_model
from optuna_lemonade.network._builder import check_state_dict
from optuna_lemonade.network._builder import from_state_dict
from optuna_lemonade.network._builder import GraphNetwork
from optuna_lemonade.network._from_module import from_module


__all__ = [
    "GraphNetwork",
    "SeparableConv2d",
    "build_model",
    "check_model",
    "check_state_dict",
    "from_module",
    "from_state_dict",
]
