"""Entry point of the `pinn` method."""

from __future__ import annotations

from symop.plugins import hookimpl


@hookimpl
def symop_discretizations():
    from symop_pinn.method import PINN

    return [PINN()]
