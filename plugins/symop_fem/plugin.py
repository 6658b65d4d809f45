"""Entry point of the `fem` method: P1/P2 Lagrange finite elements."""

from __future__ import annotations

from symop.plugins import hookimpl


@hookimpl
def symop_discretizations():
    from .method import FiniteElements  # here, not above: loading the entry point must not import torch

    return [FiniteElements()]
