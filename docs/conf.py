"""Sphinx configuration of the optuna-lemonade docs: ``sphinx-build -W -b html docs OUT``.

The pages are Markdown (myst-parser); the API reference is autodoc with napoleon (Google
docstrings). Nothing is fetched from the network (no intersphinx): the build runs
offline, as CI does.
"""

from __future__ import annotations

import pathlib
import re


project = "optuna-lemonade"
author = "the optuna-lemonade authors"
copyright = "the optuna-lemonade authors, MIT License"
# Read, not imported: a broken import is then autodoc's warning, not a failed config.
_init = pathlib.Path(__file__).parents[1] / "optuna_lemonade" / "__init__.py"
release = re.search(r'^__version__ = "([^"]+)"', _init.read_text(), re.MULTILINE)[1]
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build"]
root_doc = "index"

# Markdown: headings up to ### get anchors, so that pages link to sections as README did.
myst_heading_anchors = 3

# References that do not resolve (Optuna's and PyTorch's names: no intersphinx) stay
# plain text rather than warnings.
nitpicky = False

# The public API is each package's __all__ (automodule :members: follows it).
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "signature"
autoclass_content = "class"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True  # "Attributes:" sections, not one more entry per attribute

html_theme = "furo"
html_title = f"optuna-lemonade {release}"
