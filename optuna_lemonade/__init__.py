"""LEMONADE for Optuna: multi-objective neural architecture search by Lamarckian evolution.

The package is layered, and data flows one way through it:

* :mod:`optuna_lemonade.architecture`: networks as graphs of named layers
  (:class:`Architecture`), and the :class:`SearchSpace` they live in;
* :mod:`optuna_lemonade.network`: :func:`build_model` turns an architecture into a
  PyTorch module, :func:`from_module` a trained PyTorch module into one with its weights;
* :mod:`optuna_lemonade.cheap_objectives`: costs known without training (parameters,
  multiply-accumulates);
* :mod:`optuna_lemonade.morphisms`: mutations that change a network and carry its
  trained weights over;
* :mod:`optuna_lemonade.checkpoints`: networks saved as Optuna artifacts of trials;
* :mod:`optuna_lemonade.sampler`: :class:`LemonadeSampler`, the Optuna glue;
* :mod:`optuna_lemonade.training`: fine-tuning, evaluation and data sets for objectives;
* :mod:`optuna_lemonade.visualization`, :mod:`optuna_lemonade.dashboard`: figures and
  optuna-dashboard pages;
* :mod:`optuna_lemonade.export`: checkpoints to ONNX and ``torch.export`` programs;
* :mod:`optuna_lemonade.cli`: the ``optuna-lemonade`` command.

The method: Elsken, Metzen & Hutter, *Efficient Multi-Objective Neural Architecture
Search via Lamarckian Evolution*, ICLR 2019 (arXiv:1804.09081).
"""

from optuna_lemonade import export
from optuna_lemonade import morphisms
from optuna_lemonade import training
from optuna_lemonade import visualization
from optuna_lemonade._warning import LemonadeWarning
from optuna_lemonade.architecture import Architecture
from optuna_lemonade.architecture import Node
from optuna_lemonade.architecture import SearchSpace
from optuna_lemonade.cheap_objectives import count_macs
from optuna_lemonade.cheap_objectives import count_params
from optuna_lemonade.network import build_model
from optuna_lemonade.network import from_module
from optuna_lemonade.sampler import Child
from optuna_lemonade.sampler import LemonadeSampler


__version__ = "0.1.0"

__all__ = [
    "Architecture",
    "Child",
    "LemonadeSampler",
    "LemonadeWarning",
    "Node",
    "SearchSpace",
    "build_model",
    "count_macs",
    "count_params",
    "export",
    "from_module",
    "morphisms",
    "training",
    "visualization",
]
