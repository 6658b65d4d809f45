"""Entry point of the `pinn` method (filled in by the plugin's modules)."""

from __future__ import annotations

from symop.plugins import hookimpl


@hookimpl
def symop_discretizations():
    return []
