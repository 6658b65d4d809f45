r"""The uniform grid a neural operator works on: the box, and time as one more axis.

A steady problem on a box :math:`\prod_k [a_k, b_k]` uses the nodes
:math:`a_k + i h_k`, :math:`h_k = (b_k - a_k)/n`, :math:`i = 0..n` on every
axis (a periodic axis drops :math:`i = n`, which equals :math:`i = 0`).  A
time-dependent problem adds the time interval :math:`[t_0, t_1]` as the last
axis, with ``steps`` cells: the operator maps initial data to the whole
space-time solution at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from symop.discrete import Lattice
from symop.errors import SymopError


class GridError(SymopError):
    """The problem has no uniform grid a neural operator can use."""


@dataclass(frozen=True)
class SpaceTimeGrid(Lattice):
    """Axis names, symbols, bounds, cells and periodicity; ``time`` says whether the last axis is time."""

    names: tuple[str, ...]
    symbols: tuple[sp.Symbol, ...]
    lo: tuple[float, ...]
    hi: tuple[float, ...]
    cells: tuple[int, ...]
    periodic: tuple[bool, ...]
    time: bool = False

    @property
    def space_dimension(self) -> int:
        return self.dimension - (1 if self.time else 0)

    def describe(self) -> dict:
        return {"names": list(self.names), "lo": list(self.lo), "hi": list(self.hi), "cells": list(self.cells),
                "periodic": list(self.periodic), "time": self.time}


def box_reason(problem) -> str | None:
    """``None`` when ``problem`` lives on a box with named coordinates, else why not (a sentence)."""
    if problem.space.is_indexed:
        return (f"pino needs named coordinates (space x, y) on a box; this problem has the indexed space "
                f"{problem.space.names[0][:-3]}[1..{problem.dimension}].")
    if not problem.domain.has_grid:
        return f"pino needs a box domain (its grid is uniform); this problem's domain is a {problem.domain.describe()}."
    if problem.dimension + (0 if problem.is_steady else 1) > 3:
        return "pino handles at most three grid axes, counting time; this problem has more."
    return None


def build(problem, n: int, steps: int | None = None) -> SpaceTimeGrid:
    """The grid of ``problem``: ``n`` cells per space axis and ``steps`` (default ``n``) in time."""
    reason = box_reason(problem)
    if reason:
        raise GridError(reason)
    axes = problem.domain.axes
    names = [a[0] for a in axes]
    symbols = list(problem.space.coords)
    lo = [float(a[1]) for a in axes]
    hi = [float(a[2]) for a in axes]
    cells = [int(n)] * len(axes)
    periodic = [name in problem.periodic for name in names]
    if problem.time is not None:
        names.append(str(problem.t))
        symbols.append(problem.t)
        lo.append(float(problem.time.start))
        hi.append(float(problem.time.end))
        cells.append(int(steps or n))
        periodic.append(False)
    return SpaceTimeGrid(tuple(names), tuple(symbols), tuple(lo), tuple(hi), tuple(cells), tuple(periodic),
                         time=problem.time is not None)
