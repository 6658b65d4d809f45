"""Entry point of the `insr` method."""

from __future__ import annotations

from symop.plugins import hookimpl


@hookimpl
def symop_discretizations():
    from symop_insr.method import INSR

    return [INSR()]
