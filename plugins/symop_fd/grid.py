"""fd's grid of a box: a :class:`symop.discrete.Lattice` with ghost layers, built from a problem."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symop.discrete import Lattice


@dataclass(frozen=True)
class FDGrid(Lattice):
    """Nodes ``lo + i*h`` (i = 0..n) per axis; a periodic axis drops the last node.

    ``ghost`` is the number of ghost layers padded on each side of every axis.
    """

    names: tuple[str, ...]
    lo: tuple[float, ...]
    hi: tuple[float, ...]
    cells: tuple[int, ...]
    periodic: tuple[bool, ...]
    ghost: int = 1

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


def build_grid(problem, cells: int, ghost: int) -> FDGrid:
    axes = problem.domain.axes
    names = tuple(a[0] for a in axes)
    periodic = tuple(name in problem.periodic for name in names)
    return FDGrid(
        names=names,
        lo=tuple(float(a[1]) for a in axes),
        hi=tuple(float(a[2]) for a in axes),
        cells=(int(cells),) * len(axes),
        periodic=periodic,
        ghost=ghost,
    )
