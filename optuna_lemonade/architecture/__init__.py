"""Network representation: architectures as graphs of named layers, and search spaces.

Nothing here holds weights: an :class:`Architecture` is pure structure, cheap to
create, compare, hash and serialise, so that the sampler can propose many of them.
:data:`OP_KINDS` says what each operation means, down to the module that computes it.
"""

from optuna_lemonade.architecture._architecture import Architecture
from optuna_lemonade.architecture._architecture import Shape
from optuna_lemonade.architecture._counting import analytic_num_macs
from optuna_lemonade.architecture._counting import analytic_num_params
from optuna_lemonade.architecture._node import Node
from optuna_lemonade.architecture._ops import OP_KINDS
from optuna_lemonade.architecture._ops import OpKind
from optuna_lemonade.architecture._ops import OPS
from optuna_lemonade.architecture._ops import SeparableConv2d
from optuna_lemonade.architecture._search_space import SearchSpace
from optuna_lemonade.architecture._summary import human_count
from optuna_lemonade.architecture._summary import layer_name
from optuna_lemonade.architecture._summary import summarize


__all__ = [
    "Architecture",
    "Node",
    "OPS",
    "OP_KINDS",
    "OpKind",
    "SearchSpace",
    "SeparableConv2d",
    "Shape",
    "analytic_num_macs",
    "analytic_num_params",
    "human_count",
    "layer_name",
    "summarize",
]
