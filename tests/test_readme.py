"""The README's Python example runs as written."""

from __future__ import annotations

import pathlib
import re


def test_readme_python_blocks_run() -> None:
    readme = pathlib.Path(__file__).parents[1] / "README.md"
    blocks = re.findall(r"```python\n(.*?)```", readme.read_text(), flags=re.DOTALL)
    assert blocks
    for block in blocks:
        exec(compile(block, str(readme), "exec"), {"__name__": "readme"})
