"""Entry point of the `fem` method: P1/P2 Lagrange finite elements."""

from __future__ import annotations

from symop.plugins import hookimpl

from .method import FiniteElements


@hookimpl
def symop_discretizations():
    return [FiniteElements()]
