"""Figures of LEMONADE studies, in the style of :mod:`optuna.visualization`.

Each function returns a plotly figure (``pip install plotly``, or the
``visualization`` extra); :mod:`optuna_lemonade.visualization.matplotlib` has
matplotlib versions.

* :func:`plot_genealogy`: which network came from which, by which morphism;
* :func:`plot_pareto_front`: Optuna's Pareto-front plot with log-scaled costs and
  reference networks;
* :func:`plot_architecture`: a diagram of one network.
"""

from optuna_lemonade.visualization._architecture import plot_architecture
from optuna_lemonade.visualization._genealogy import plot_genealogy
from optuna_lemonade.visualization._pareto_front import plot_pareto_front


__all__ = ["plot_architecture", "plot_genealogy", "plot_pareto_front"]
