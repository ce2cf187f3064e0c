"""JSON round trip, and rejection of malformed JSON with ValueError."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st
import numpy as np
import pytest

from optuna_lemonade import Architecture
from optuna_lemonade import SearchSpace
from optuna_lemonade.testing import random_architecture
from optuna_lemonade.testing import random_shape


seeds = st.integers(min_value=0, max_value=2**32 - 1)


def _random(seed: int) -> Architecture:
    rng = np.random.default_rng(seed)
    shape, classes = random_shape(rng)
    return random_architecture(rng, shape, classes, steps=int(rng.integers(0, 20)))


@settings(max_examples=150, deadline=None)
@given(seeds)
def test_round_trip(seed: int) -> None:
    arch = _random(seed)
    text = arch.to_json()
    again = Architecture.from_json(text)
    assert again == arch
    assert again.to_json() == text
    assert Architecture.from_json(arch.to_json(indent=2)) == arch
    assert Architecture.from_dict(json.loads(text)) == arch


def test_initial_architectures_round_trip() -> None:
    for arch in SearchSpace((3, 13, 17), 7).initial_architectures():
        assert Architecture.from_json(arch.to_json()) == arch


def _valid() -> dict[str, Any]:
    return SearchSpace((1, 8, 8), 3).initial_architectures()[0].to_dict()


def _edit(change: Any) -> str:
    data = _valid()
    change(data)
    return json.dumps(data)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "malformed"),
        ("{", "malformed"),
        ("[]", "JSON object"),
        ('{"format": NaN}', "NaN"),
        ('{"a": 1, "a": 2}', "twice"),
        (b"\xff\xfe\x00", "malformed"),
        ("[" * 100_000 + "]" * 100_000, "malformed"),
        (_edit(lambda d: d.pop("nodes")), "missing key"),
        (_edit(lambda d: d.update(extra=1)), "unknown key"),
        (_edit(lambda d: d.update(format="keras")), "format"),
        (_edit(lambda d: d.update(version=2)), "version"),
        (_edit(lambda d: d.update(version=True)), "version"),
        (_edit(lambda d: d.update(input_shape="1x8x8")), "input_shape"),
        (_edit(lambda d: d.update(input_shape=[1, 8, -8])), "out of range"),
        (_edit(lambda d: d.update(num_classes=3.0)), "num_classes"),
        (_edit(lambda d: d.update(nodes={})), "nodes must be a list"),
        (_edit(lambda d: d["nodes"].append(7)), "JSON object"),
        (_edit(lambda d: d["nodes"][1].update(op="eval")), "unknown op"),
        (_edit(lambda d: d["nodes"][1].update(op="__import__('os')")), "unknown op"),
        (_edit(lambda d: d["nodes"][1].update(filters="16")), "integer"),
        (_edit(lambda d: d["nodes"][1].update(filters=10**9)), "filters must be"),
        (_edit(lambda d: d["nodes"][1].update(kernel_size=4)), "odd"),
        (_edit(lambda d: d["nodes"][1].pop("kernel_size")), "missing key"),
        (_edit(lambda d: d["nodes"][1].update(units=3)), "unknown key"),
        (_edit(lambda d: d["nodes"][1].update(inputs="input")), "list of node names"),
        (_edit(lambda d: d["nodes"][1].update(inputs=[1])), "strings"),
        (_edit(lambda d: d["nodes"][1].update(inputs=["nowhere"])), "unknown input"),
        (_edit(lambda d: d["nodes"][1].update(name="")), "node name"),
        (_edit(lambda d: d["nodes"][2].update(name="input")), "duplicate node name"),
        (_edit(lambda d: d["nodes"].pop(0)), "unknown input"),
        (_edit(lambda d: d["nodes"].pop()), "expected \\(3,\\) logits"),
        (_edit(lambda d: d["nodes"][-1].update(units=4)), "expected \\(3,\\) logits"),
        (_edit(lambda d: d["nodes"][1].update(inputs=["relu1"])), "cycle|exactly one"),
        (_edit(lambda d: d.update(nodes=d["nodes"] * 2000)), "too many nodes|duplicate"),
    ],
)
def test_malformed_json_is_rejected(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Architecture.from_json(text)


def test_non_text_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        Architecture.from_json(None)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-10, 10**6)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seeds, st.data())
def test_corrupted_descriptions_give_value_error_or_valid_architecture(
    seed: int, data: st.DataObject
) -> None:
    """Replace or delete one value anywhere in a valid description: the result is
    either rejected with ValueError or is a valid architecture (never another error)."""
    description = _random(seed).to_dict()
    containers: list[Any] = []

    def walk(value: Any) -> None:
        if isinstance(value, (dict, list)):
            containers.append(value)
            for child in value.values() if isinstance(value, dict) else value:
                walk(child)

    walk(description)
    container = data.draw(st.sampled_from(containers))
    keys = list(container) if isinstance(container, dict) else list(range(len(container)))
    if not keys:
        return
    key = data.draw(st.sampled_from(keys))
    if data.draw(st.booleans()):
        container[key] = data.draw(json_values)
    else:
        del container[key]
    try:
        arch = Architecture.from_json(json.dumps(description))
    except ValueError:
        return
    assert Architecture.from_json(arch.to_json()) == arch
