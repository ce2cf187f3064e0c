"""LEMONADE for OptunaHub: multi-objective neural architecture search as an Optuna sampler.

The sampler lives in the ``optuna-lemonade`` package (``pip install optuna-lemonade``);
this OptunaHub package re-exports what a study needs from it, so that
``optunahub.load_module("samplers/lemonade").LemonadeSampler`` is
``optuna_lemonade.LemonadeSampler`` itself.
"""

try:
    from optuna_lemonade import LemonadeSampler
    from optuna_lemonade import SearchSpace
except ModuleNotFoundError as error:
    if error.name != "optuna_lemonade":
        raise
    raise ModuleNotFoundError(
        "samplers/lemonade needs the optuna-lemonade package: pip install -r "
        "https://hub.optuna.org/samplers/lemonade/requirements.txt",
        name=error.name,
    ) from error


__all__ = ["LemonadeSampler", "SearchSpace"]
