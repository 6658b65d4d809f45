"""Lagrange P1/P2 elements on reference simplices and quadrature rules of any order.

Reference simplex of dimension d: ``{xi_k >= 0, sum_k xi_k <= 1}`` with
vertices ``0, e_1, ..., e_d``; barycentric coordinates ``lambda_0 = 1 - sum xi``,
``lambda_k = xi_k``.  Local node order: the d+1 vertices, then (P2) one node per
edge in the order of :data:`EDGES`.

Quadrature: collapsed (Duffy) tensor rules with Gauss–Jacobi points, exact for
polynomials of the requested total degree on the simplex.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["EDGES", "Lagrange", "quadrature"]

#: local edges (pairs of local vertices) of each simplex, in P2 node order
EDGES = {
    0: (),
    1: ((0, 1),),
    2: ((0, 1), (1, 2), (0, 2)),
    3: ((0, 1), (1, 2), (0, 2), (0, 3), (1, 3), (2, 3)),
}


@lru_cache(maxsize=None)
def quadrature(dim: int, degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Points ``(Q, dim)`` and weights ``(Q,)`` exact for total degree ``degree`` on the
    reference simplex (weights sum to ``1/dim!``).

    The simplex is the image of the cube under xi_1 = a_1, xi_2 = a_2 (1 - a_1), ...,
    whose Jacobian prod_k (1 - a_k)^(dim - k) is absorbed by Gauss–Jacobi rules
    with weight (1 - a)^(dim - k) along axis k.
    """
    if dim == 0:
        return np.zeros((1, 0)), np.ones(1)
    from scipy.special import roots_jacobi  # here: SciPy's import is not paid by code that never integrates

    n = max(1, int(math.ceil((degree + 1) / 2)))
    axes = []
    for k in range(dim):
        alpha = dim - 1 - k
        x, w = roots_jacobi(n, alpha, 0.0)
        a = (x + 1.0) / 2.0
        w = w / 2.0 ** (alpha + 1)
        axes.append((a, w))
    grids = np.meshgrid(*[a for a, _ in axes], indexing="ij")
    wgrids = np.meshgrid(*[w for _, w in axes], indexing="ij")
    A = np.stack([g.ravel() for g in grids], axis=1)
    W = np.prod(np.stack([g.ravel() for g in wgrids], axis=1), axis=1)
    pts = np.zeros_like(A)
    scale = np.ones(A.shape[0])
    for k in range(dim):
        pts[:, k] = A[:, k] * scale
        scale = scale * (1.0 - A[:, k])
    return pts, W


@dataclass(frozen=True)
class Lagrange:
    """The Lagrange element of ``degree`` 1 or 2 on the reference ``dim``-simplex."""

    dim: int
    degree: int

    def __post_init__(self) -> None:
        if self.degree not in (1, 2):
            raise ValueError(f"Lagrange elements of degree {self.degree} are not available (1 or 2)")

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        return EDGES[self.dim]

    @property
    def num_nodes(self) -> int:
        n = self.dim + 1
        return n + (len(self.edges) if self.degree == 2 else 0)

    def nodes(self) -> np.ndarray:
        """Reference coordinates of the local nodes ``(nb, dim)``."""
        verts = np.vstack([np.zeros((1, self.dim)), np.eye(self.dim)])
        if self.degree == 1:
            return verts
        mids = np.array([(verts[i] + verts[j]) / 2 for i, j in self.edges]).reshape(-1, self.dim)
        return np.vstack([verts, mids])

    def _bary(self, xi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Barycentric coordinates ``(Q, d+1)`` and their constant gradients ``(d+1, d)``."""
        lam = np.hstack([1.0 - xi.sum(axis=1, keepdims=True), xi])
        dlam = np.vstack([-np.ones((1, self.dim)), np.eye(self.dim)])
        return lam, dlam

    def eval(self, xi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Basis values ``(Q, nb)`` and reference gradients ``(Q, nb, dim)`` at ``xi``."""
        xi = np.asarray(xi, dtype=np.float64).reshape(-1, self.dim)
        lam, dlam = self._bary(xi)
        Q = xi.shape[0]
        if self.degree == 1:
            return lam, np.broadcast_to(dlam, (Q, self.dim + 1, self.dim)).copy()
        phis = [lam[:, i] * (2 * lam[:, i] - 1) for i in range(self.dim + 1)]
        grads = [(4 * lam[:, i] - 1)[:, None] * dlam[i][None, :] for i in range(self.dim + 1)]
        for i, j in self.edges:
            phis.append(4 * lam[:, i] * lam[:, j])
            grads.append(4 * (lam[:, j][:, None] * dlam[i][None, :] + lam[:, i][:, None] * dlam[j][None, :]))
        return np.stack(phis, axis=1), np.stack(grads, axis=1)
