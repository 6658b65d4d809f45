"""Sphinx configuration of the symop documentation.

Build: ``python -m sphinx -W -b html docs docs/_build/html`` (and ``-b doctest`` to run the examples).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE / "_ext"))
# the examples run from the repository root, so `examples/heat.pde` means what it does in the README
os.chdir(ROOT)

import symop  # noqa: E402

project = "symop"
author = "the symop authors"
copyright = "symop authors"
release = version = symop.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "symop_cli",
]

exclude_patterns = ["_build"]
default_role = "code"
highlight_language = "none"
html_theme = "alabaster"
html_static_path: list[str] = []
html_theme_options = {"description": "Write a PDE, solve it by the method you pick", "nosidebar": False}

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
# symop imports torch and sympy lazily in places; every public module must import for real here.
autodoc_mock_imports: list[str] = []

# examples: CPU, float64, quiet; each doctest group starts from the repository root
doctest_global_setup = """
import locale
import os
# Sphinx sets the user's locale, which Python may name in a form it cannot set back (C.UTF-8 is
# reported as en_US.UTF-8); meshpy saves and restores the numeric locale around every mesh, so
# start the examples from the C locale, as a plain `python` process does.
locale.setlocale(locale.LC_ALL, "C")
import numpy as np
import symop
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
np.set_printoptions(precision=4, suppress=True)
"""
doctest_default_flags = 0
import doctest as _doctest  # noqa: E402

doctest_default_flags = _doctest.ELLIPSIS | _doctest.NORMALIZE_WHITESPACE | _doctest.DONT_ACCEPT_TRUE_FOR_1
smartquotes = False

# Cross-references written on these pages must resolve; those inside the modules' docstrings (and
# the type hints autodoc adds) may name objects outside the reference (numpy, private modules)
# and are left unlinked there.
nitpicky = True


def _docstring_reference(app, domain, node) -> bool | None:
    """Silence an unresolved reference that comes from a docstring; warn for the pages' own."""
    source = node.source or ""
    return True if "docstring of" in source or source.endswith(".py") or not source else None


def setup(app):
    app.connect("warn-missing-reference", _docstring_reference)
