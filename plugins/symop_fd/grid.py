"""The uniform node grid of a box: node coordinates, spacings, periodic axes."""

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

    def axis(self, k: int, ghost: int = 0) -> np.ndarray:
        """Coordinates along axis ``k``, extended by ``ghost`` nodes on each side."""
        n = self.shape[k]
        i = np.arange(-ghost, n + ghost, dtype=np.float64)
        return self.lo[k] + i * self.h[k]

    def axes(self) -> tuple[np.ndarray, ...]:
        return tuple(self.axis(k) for k in range(self.dimension))

    def mesh(self, ghosts: tuple[int, ...] | None = None, fixed: dict[int, float] | None = None) -> list[np.ndarray]:
        """Full coordinate arrays; axis k extended by ``ghosts[k]``; ``fixed`` axes set to one value."""
        ghosts = ghosts or (0,) * self.dimension
        lines = []
        for k in range(self.dimension):
            if fixed and k in fixed:
                lines.append(np.array([fixed[k]]))
            else:
                lines.append(self.axis(k, ghosts[k]))
        return list(np.meshgrid(*lines, indexing="ij"))


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
