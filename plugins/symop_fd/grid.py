"""The uniform node grid of a box: node coordinates, spacings, periodic axes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class Lattice:
    """Spacings and node counts of a uniform box lattice, for dataclasses with the fields
    ``names``, ``lo``, ``hi``, ``cells`` and ``periodic``: :math:`h_k = (b_k - a_k)/n_k`,
    :math:`n_k + 1` nodes per axis, :math:`n_k` on a periodic one."""

    names: tuple[str, ...]
    lo: tuple[float, ...]
    hi: tuple[float, ...]
    cells: tuple[int, ...]
    periodic: tuple[bool, ...]

    @property
    def dimension(self) -> int:
        return len(self.names)

    @property
    def h(self) -> tuple[float, ...]:
        return tuple((b - a) / n for a, b, n in zip(self.lo, self.hi, self.cells))

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(n if p else n + 1 for n, p in zip(self.cells, self.periodic))


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
