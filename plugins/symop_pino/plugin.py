"""Entry point of the `pino` method."""

from __future__ import annotations

from symop.plugins import hookimpl


@hookimpl
def symop_discretizations():
    from symop_pino.method import PINO

    return [PINO()]
