"""LemonadeWarning: something went wrong that the sampler worked around."""


class LemonadeWarning(UserWarning):
    """Something went wrong that the sampler worked around (e.g. a bad checkpoint)."""
