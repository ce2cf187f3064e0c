"""Network morphisms: mutations of an architecture that carry its trained weights over.

Each operator has two halves. :func:`propose` chooses a :class:`Mutation` from the
architecture alone (cheap, no weights), and :func:`apply_mutation` replays it on the
parent's weights. :func:`mutate` does both.
"""

from optuna_lemonade.morphisms._base import Mutation
from optuna_lemonade.morphisms._base import NotApplicable
from optuna_lemonade.morphisms._base import Operator
from optuna_lemonade.morphisms._mutate import APPROXIMATE_OPERATORS
from optuna_lemonade.morphisms._mutate import EXACT_OPERATORS
from optuna_lemonade.morphisms._mutate import get_operator
from optuna_lemonade.morphisms._mutate import mutate
from optuna_lemonade.morphisms._mutate import OPERATORS
from optuna_lemonade.morphisms._mutate import propose
from optuna_lemonade.morphisms._prune import PruneFilters
from optuna_lemonade.morphisms._transfer import apply_mutation
from optuna_lemonade.morphisms._widen import Widen


# The operators' and mutations' own classes stay in their modules: use them by name
# ("insert_conv", ...) through get_operator, or the configurable Widen and PruneFilters.
__all__ = [
    "APPROXIMATE_OPERATORS",
    "EXACT_OPERATORS",
    "Mutation",
    "NotApplicable",
    "OPERATORS",
    "Operator",
    "PruneFilters",
    "Widen",
    "apply_mutation",
    "get_operator",
    "mutate",
    "propose",
]
