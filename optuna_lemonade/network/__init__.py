"""Turning architectures into PyTorch modules."""

from optuna_lemonade.network._builder import build_model
from optuna_lemonade.network._builder import check_model
from optuna_lemonade.network._builder import GraphNetwork
from optuna_lemonade.network._builder import SeparableConv2d


__all__ = ["GraphNetwork", "SeparableConv2d", "build_model", "check_model"]
