r"""The uniform lattice of a box: spacings, node counts and periodic axes.

A box :math:`\prod_k [a_k, b_k]` with :math:`n_k` cells on axis :math:`k` has
spacing :math:`h_k = (b_k - a_k)/n_k` and the nodes :math:`a_k + i h_k`,
:math:`i = 0..n_k`; a periodic axis drops :math:`i = n_k`, which equals
:math:`i = 0`.  :class:`Lattice` computes these for any dataclass that has the
fields it names; a finite-difference grid (with ghost layers) and a
neural operator's space-time grid (with time as one more axis) both build on it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Lattice"]


class Lattice:
    """Spacings, node counts and node coordinates of a uniform box lattice, for dataclasses with the
    fields ``names``, ``lo``, ``hi``, ``cells`` and ``periodic``: :math:`h_k = (b_k - a_k)/n_k`,
    :math:`n_k + 1` nodes per axis, :math:`n_k` on a periodic one."""

    names: tuple[str, ...]
    lo: tuple[float, ...]
    hi: tuple[float, ...]
    cells: tuple[int, ...]
    periodic: tuple[bool, ...]

    @property
    def dimension(self) -> int:
        """The number of axes."""
        return len(self.names)

    @property
    def h(self) -> tuple[float, ...]:
        """The spacing :math:`h_k = (b_k - a_k)/n_k` of every axis."""
        return tuple((b - a) / n for a, b, n in zip(self.lo, self.hi, self.cells))

    @property
    def shape(self) -> tuple[int, ...]:
        """The node count of every axis: :math:`n_k + 1`, or :math:`n_k` on a periodic axis."""
        return tuple(n if p else n + 1 for n, p in zip(self.cells, self.periodic))

    def axis(self, k: int, ghost: int = 0) -> np.ndarray:
        """Node coordinates :math:`a_k + i h_k` along axis ``k``, extended by ``ghost`` nodes on each side."""
        n = self.shape[k]
        i = np.arange(-ghost, n + ghost, dtype=np.float64)
        return self.lo[k] + i * self.h[k]

    def axes(self) -> tuple[np.ndarray, ...]:
        """The node coordinates of every axis."""
        return tuple(self.axis(k) for k in range(self.dimension))

    def mesh(self, ghosts: tuple[int, ...] | None = None, fixed: dict[int, float] | None = None) -> list[np.ndarray]:
        """One full coordinate array per axis; axis k extended by ``ghosts[k]``; ``fixed`` axes set to one value.

        Without arguments every array has the lattice's :attr:`shape`.
        """
        ghosts = ghosts or (0,) * self.dimension
        lines = []
        for k in range(self.dimension):
            if fixed and k in fixed:
                lines.append(np.array([fixed[k]]))
            else:
                lines.append(self.axis(k, ghosts[k]))
        return list(np.meshgrid(*lines, indexing="ij"))
