"""Network morphisms: mutations of an architecture that carry its trained weights over.

Each operator has two halves. :func:`propose` chooses a :class:`Mutation` from the
architecture alone (cheap, no weights), and :func:`apply_mutation` replays it on the
parent's weights. :func:`mutate` does both.
"""

from optuna_lemonade.morphisms._base import Mutation
from optuna_lemonade.morphisms._base import NotApplicable
from optuna_lemonade.morphisms._base import Operator
from optuna_lemonade.morphisms._channels import ChannelMap
from optuna_lemonade.morphisms._insert import InsertConv
from optuna_lemonade.morphisms._insert import InsertLayerMutation
from optuna_lemonade.morphisms._insert import InsertSepConv
from optuna_lemonade.morphisms._insert import InsertSepConvMutation
from optuna_lemonade.morphisms._mutate import APPROXIMATE_OPERATORS
from optuna_lemonade.morphisms._mutate import EXACT_OPERATORS
from optuna_lemonade.morphisms._mutate import get_operator
from optuna_lemonade.morphisms._mutate import mutate
from optuna_lemonade.morphisms._mutate import OPERATORS
from optuna_lemonade.morphisms._mutate import propose
from optuna_lemonade.morphisms._prune import PruneFilters
from optuna_lemonade.morphisms._prune import PruneFiltersMutation
from optuna_lemonade.morphisms._remove import RemoveLayer
from optuna_lemonade.morphisms._remove import RemoveLayerMutation
from optuna_lemonade.morphisms._remove import RemoveSkip
from optuna_lemonade.morphisms._remove import RemoveSkipMutation
from optuna_lemonade.morphisms._separable import separable_factors
from optuna_lemonade.morphisms._separable import ToSepConv
from optuna_lemonade.morphisms._separable import ToSepConvMutation
from optuna_lemonade.morphisms._skip import AddSkip
from optuna_lemonade.morphisms._skip import AddSkipMutation
from optuna_lemonade.morphisms._skip import ConcatSkip
from optuna_lemonade.morphisms._skip import ConcatSkipMutation
from optuna_lemonade.morphisms._transfer import apply_mutation
from optuna_lemonade.morphisms._widen import Widen
from optuna_lemonade.morphisms._widen import WidenMutation


__all__ = [
    "APPROXIMATE_OPERATORS",
    "AddSkip",
    "AddSkipMutation",
    "ChannelMap",
    "ConcatSkip",
    "ConcatSkipMutation",
    "EXACT_OPERATORS",
    "InsertConv",
    "InsertLayerMutation",
    "InsertSepConv",
    "InsertSepConvMutation",
    "Mutation",
    "NotApplicable",
    "OPERATORS",
    "Operator",
    "PruneFilters",
    "PruneFiltersMutation",
    "RemoveLayer",
    "RemoveLayerMutation",
    "RemoveSkip",
    "RemoveSkipMutation",
    "ToSepConv",
    "ToSepConvMutation",
    "Widen",
    "WidenMutation",
    "apply_mutation",
    "get_operator",
    "mutate",
    "propose",
    "separable_factors",
]
