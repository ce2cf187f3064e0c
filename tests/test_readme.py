"""The README's Python examples run as written."""

from __future__ import annotations

import pathlib
import re

import pytest


README = pathlib.Path(__file__).parents[1] / "README.md"


def test_readme_python_blocks_run(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the examples write checkpoints and studies
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert len(blocks) >= 3
    for block in blocks:
        exec(compile(block, str(README), "exec"), {"__name__": "readme"})
