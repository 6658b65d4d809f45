"""An installed (non-editable) symop holds every package of the tree."""

from __future__ import annotations

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_is_listed_in_pyproject():
    """Each directory of ``symop/`` and ``plugins/`` with an ``__init__.py`` is in ``[tool.setuptools] packages``."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "symop").rglob("__init__.py")}
    found |= {p.parent.name for p in (ROOT / "plugins").glob("*/__init__.py")}
    missing = sorted(found - listed)
    assert not missing, "packages a wheel would leave out (add them to pyproject.toml): " + ", ".join(missing)
