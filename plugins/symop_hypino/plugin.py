"""Entry point of the `hypino` method."""

from __future__ import annotations

from symop.plugins import hookimpl


@hookimpl
def symop_discretizations():
    from symop_hypino.method import HyPINO

    return [HyPINO()]
