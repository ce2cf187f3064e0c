"""matplotlib versions of :mod:`optuna_lemonade.visualization`'s figures.

Like :mod:`optuna.visualization.matplotlib`: the same arguments, each returning a
``matplotlib.axes.Axes`` (:func:`plot_objective_pairs`, a grid, returns the
figure). Needs matplotlib (``pip install matplotlib``).
"""

from optuna_lemonade.visualization.matplotlib._architecture import plot_architecture
from optuna_lemonade.visualization.matplotlib._genealogy import plot_genealogy
from optuna_lemonade.visualization.matplotlib._objective_pairs import plot_objective_pairs
from optuna_lemonade.visualization.matplotlib._pareto_front import plot_pareto_front


__all__ = ["plot_architecture", "plot_genealogy", "plot_objective_pairs", "plot_pareto_front"]
