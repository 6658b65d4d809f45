"""Entry point of the `fd` method."""

from __future__ import annotations

from symop.plugins import hookimpl


@hookimpl
def symop_discretizations():
    from .method import FiniteDifferences

    return [FiniteDifferences()]
