"""Child epochs: longer for cheap children, never shorter, at most three times."""

from __future__ import annotations

import math

import pytest

from optuna_lemonade import SearchSpace
from optuna_lemonade.architecture import analytic_num_macs
from optuna_lemonade.training import child_epochs
from optuna_lemonade.training import reference_macs


def test_reference_is_half_the_largest_initial_network() -> None:
    initial = SearchSpace((1, 28, 28), 10).initial_architectures()
    reference = reference_macs(initial)
    assert reference == max(analytic_num_macs(a) for a in initial) / 2
    assert 3.0e6 < reference < 3.2e6  # Fashion-MNIST's defaults: 3.1M (the 145k network)
    depth1 = SearchSpace((1, 28, 28), 10, initial_depth=1).initial_architectures()
    assert 1.2e6 < reference_macs(depth1) < 1.4e6  # the depth-1 networks: 1.3M
    with pytest.raises(ValueError, match="at least one"):
        reference_macs([])


def test_child_epochs_scale_with_cheapness() -> None:
    # The depth-1 networks: the smallest is below the reference but not 9 times below.
    small, middle, large = SearchSpace((1, 28, 28), 10, initial_depth=1).initial_architectures()
    reference = reference_macs([small, middle, large])
    assert child_epochs(2.0, large, reference) == 2.0  # above the reference: as given
    expected = 2.0 * math.sqrt(reference / analytic_num_macs(middle))  # 1.92M MACs
    assert child_epochs(2.0, middle, reference) == pytest.approx(expected)
    assert 2.0 < expected < 6.0
    tiny = SearchSpace((1, 8, 8), 10).initial_architectures()[0]  # 13k MACs
    assert child_epochs(2.0, tiny, reference) == 6.0  # capped at 3 times
    assert child_epochs(2.0, middle, reference) < child_epochs(2.0, small, reference) < 6.0
