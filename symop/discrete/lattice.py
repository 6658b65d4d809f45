r"""The uniform lattice of a box: spacings, node counts and periodic axes.

A box :math:`\prod_k [a_k, b_k]` with :math:`n_k` cells on axis :math:`k` has
spacing :math:`h_k = (b_k - a_k)/n_k` and the nodes :math:`a_k + i h_k`,
:math:`i = 0..n_k`; a periodic axis drops :math:`i = n_k`, which equals
:math:`i = 0`.  :class:`Lattice` computes these for any dataclass that has the
fields it names; a finite-difference grid (with ghost layers) and a
neural operator's space-time grid (with time as one more axis) both build on it.
"""

from __future__ import annotations

__all__ = ["Lattice"]


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
