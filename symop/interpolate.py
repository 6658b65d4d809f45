r"""Interpolation between the nodes of a discrete solution: pure numerics, no solver.

* **Grids** (:class:`GridInterpolant`): tensor-product Lagrange polynomials on
  the :math:`q + 1` nodes of each axis nearest to the point.  Along one axis with
  nodes :math:`x_j` the value at :math:`x` is :math:`\sum_k \ell_k(x)\,u_k`,
  :math:`\ell_k(x) = \prod_{j \ne k} (x - x_j)/(x_k - x_j)`, over the local
  stencil; with an even number of nodes the stencil is centred on the interval
  that holds :math:`x` and is shifted inwards near the ends of a closed axis
  (a periodic axis wraps around instead).  For a smooth function the error is
  :math:`O(h^{q+1})`, so degree :math:`q = p + 1` keeps a method of order
  :math:`p` at order :math:`p` between the nodes (:func:`grid_degree`).
* **Simplicial meshes** (:class:`SimplexInterpolant`): the Lagrange P1/P2
  basis of :mod:`symop.discrete.elements` in the cell that contains the point,
  found through a k-d tree of cell centroids; a curved (isoparametric) P2 cell
  is inverted by Newton's method.
* **Time** (:func:`lagrange_weights`): the same one-dimensional weights on the
  saved times combine snapshots into the state at any time in their range.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
import numpy as np

from symop.discrete.elements import Lagrange

__all__ = ["GridInterpolant", "SimplexInterpolant", "combine", "grid_degree", "lagrange_weights"]


def grid_degree(order: int) -> int:
    """The polynomial degree that interpolates a grid solution of accuracy ``order`` without
    lowering it: :math:`q = p + 1` (an even number of nodes, centred on the point's interval)."""
    return int(order) + 1


def lagrange_weights(
    nodes: np.ndarray, x: np.ndarray, degree: int, period: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    r"""Indices ``(N, m)`` into ``nodes`` and weights ``(N, m)`` of local Lagrange interpolation at ``x``.

    ``nodes`` are sorted; ``m = min(degree + 1, len(nodes))`` nodes nearest to
    each point are used, so that :math:`u(x) \approx \sum_k w_k\,u[\text{idx}_k]`.
    With ``period`` the axis is periodic: ``nodes`` cover one period
    :math:`[x_0, x_0 + L)` and the stencil wraps around; otherwise it is shifted
    to stay inside (a point beyond an end is extrapolated from the end stencil).
    """
    nodes = np.asarray(nodes, dtype=np.float64).ravel()
    x = np.asarray(x, dtype=np.float64).ravel()
    n = len(nodes)
    if period is not None and n >= 1:
        x = nodes[0] + np.mod(x - nodes[0], period)
        m = min(int(degree) + 1, n)
        ext = np.concatenate([nodes, nodes[:1] + period])
        i = np.clip(np.searchsorted(ext, x, side="right") - 1, 0, n - 1)
    else:
        m = min(int(degree) + 1, n)
        i = np.clip(np.searchsorted(nodes, x, side="right") - 1, 0, max(n - 2, 0))
    start = i - (m - 1) // 2 if m % 2 else i - (m // 2 - 1)
    if period is None:
        start = np.clip(start, 0, n - m)
    j = start[:, None] + np.arange(m)[None, :]  # (N, m) unwrapped indices
    if period is not None:
        idx = np.mod(j, n)
        coords = nodes[idx] + period * np.floor_divide(j, n)
    else:
        idx = j
        coords = nodes[idx]
    w = np.ones((len(x), m))
    for k in range(m):
        for l in range(m):
            if l != k:
                w[:, k] *= (x - coords[:, l]) / (coords[:, k] - coords[:, l])
    return idx, w


@dataclass(frozen=True, eq=False)
class GridInterpolant:
    """Tensor-product Lagrange interpolation on a grid: ``axes`` (one sorted 1-D array per axis),
    ``degree`` per axis (an int for all), and the ``periods`` of periodic axes (``None`` elsewhere;
    a periodic axis holds one period, without its repeated end node)."""

    axes: tuple[np.ndarray, ...]
    degree: int | tuple[int, ...] = 3
    periods: tuple[float | None, ...] = ()

    def __post_init__(self) -> None:
        axes = tuple(np.asarray(a, dtype=np.float64).ravel() for a in self.axes)
        object.__setattr__(self, "axes", axes)
        d = len(axes)
        deg = self.degree
        object.__setattr__(self, "degree", tuple(int(deg) for _ in range(d)) if np.isscalar(deg)
                           else tuple(int(q) for q in deg))
        object.__setattr__(self, "periods", tuple(self.periods) or (None,) * d)

    @classmethod
    def of_lattice(cls, lattice, degree: int, axes: int | None = None) -> "GridInterpolant":
        """The interpolant of a :class:`~symop.discrete.Lattice` (its first ``axes`` axes, default all):
        periodic axes have period :math:`b_k - a_k`."""
        k = lattice.dimension if axes is None else int(axes)
        periods = tuple(float(b - a) if p else None
                        for a, b, p in zip(lattice.lo[:k], lattice.hi[:k], lattice.periodic[:k]))
        return cls(tuple(lattice.axis(i) for i in range(k)), degree, periods)

    @property
    def dimension(self) -> int:
        return len(self.axes)

    def __call__(self, values: np.ndarray, points: np.ndarray) -> np.ndarray:
        """``values`` (the grid's shape, optionally followed by more axes) at ``points`` ``(N, d)``:
        an array ``(N, *values.shape[d:])``."""
        values = np.asarray(values)
        pts = np.asarray(points, dtype=np.float64).reshape(-1, self.dimension)
        stencils = [lagrange_weights(a, pts[:, k], q, p)
                    for k, (a, q, p) in enumerate(zip(self.axes, self.degree, self.periods))]
        out = np.zeros((len(pts), *values.shape[self.dimension:]))
        for combo in itertools.product(*[range(w.shape[1]) for _, w in stencils]):
            weight = np.ones(len(pts))
            index = []
            for (idx, w), c in zip(stencils, combo):
                weight = weight * w[:, c]
                index.append(idx[:, c])
            out += weight.reshape(-1, *([1] * (out.ndim - 1))) * values[tuple(index)]
        return out


@dataclass(frozen=True, eq=False)
class SimplexInterpolant:
    """The Lagrange P1/P2 interpolant of a simplicial mesh.

    ``vertices`` ``(Nv, d)`` and ``cells`` ``(E, d+1)`` are the (straight)
    mesh; ``cell_dofs`` ``(E, nb)`` numbers each cell's degrees of freedom in
    the local order of :class:`~symop.discrete.elements.Lagrange` (default:
    ``cells``, P1); ``dof_coords`` ``(Ndof, d)`` are their positions, which on
    a curved boundary differ from the edge midpoints (isoparametric P2).
    """

    vertices: np.ndarray
    cells: np.ndarray
    degree: int = 1
    cell_dofs: np.ndarray | None = None
    dof_coords: np.ndarray | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "vertices", np.asarray(self.vertices, dtype=np.float64))
        object.__setattr__(self, "cells", np.asarray(self.cells, dtype=np.int64))
        dofs = self.cells if self.cell_dofs is None else np.asarray(self.cell_dofs, dtype=np.int64)
        object.__setattr__(self, "cell_dofs", dofs)
        if self.dof_coords is not None:
            object.__setattr__(self, "dof_coords", np.asarray(self.dof_coords, dtype=np.float64))

    @property
    def dimension(self) -> int:
        return int(self.vertices.shape[1])

    @property
    def size(self) -> int:
        """The number of degrees of freedom."""
        return int(self.cell_dofs.max()) + 1 if self.cell_dofs.size else 0

    def _geometry(self):
        if "tree" not in self._cache:
            from scipy.spatial import cKDTree

            p = self.vertices[self.cells]  # (E, d+1, d)
            centroids = p.mean(axis=1)
            radius = float(np.sqrt(((p - centroids[:, None, :]) ** 2).sum(-1)).max()) if len(p) else 0.0
            T = np.transpose(p[:, 1:, :] - p[:, :1, :], (0, 2, 1))  # columns p_k - p_0
            self._cache.update(tree=cKDTree(centroids), radius=radius * (1 + 1e-9) + 1e-300,
                               inverse=np.linalg.inv(T), origin=p[:, 0, :], curved=self._curved())
        c = self._cache
        return c["tree"], c["radius"], c["inverse"], c["origin"], c["curved"]

    def _curved(self) -> np.ndarray:
        """Which cells have a P2 node off its straight position."""
        if self.degree == 1 or self.dof_coords is None:
            return np.zeros(len(self.cells), dtype=bool)
        straight = Lagrange(self.dimension, self.degree).nodes()  # reference nodes
        p = self.vertices[self.cells]
        T = p[:, 1:, :] - p[:, :1, :]
        expected = p[:, :1, :] + np.einsum("qk,ekj->eqj", straight, T)
        actual = self.dof_coords[self.cell_dofs]
        scale = max(1.0, float(np.abs(self.vertices).max()))
        return np.abs(actual - expected).max(axis=(1, 2)) > 1e-12 * scale

    def locate(self, points: np.ndarray, chunk: int = 16384) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`_locate` in chunks of ``chunk`` points, so that the candidate pairs stay few."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, self.dimension)
        parts = [self._locate(pts[k:k + chunk]) for k in range(0, len(pts), chunk)] or [self._locate(pts)]
        return tuple(np.concatenate(a, axis=0) for a in zip(*parts))  # type: ignore[return-value]

    def _locate(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each point ``(N, d)``: the cell that holds it, its reference coordinates ``(N, d)`` in
        that cell, and whether it lies in the mesh.

        A point in no cell gets the nearest one (largest smallest barycentric
        coordinate), so that its value is a short extrapolation: on a curved
        side the true domain reaches past the straight cells.
        """
        pts = np.asarray(points, dtype=np.float64).reshape(-1, self.dimension)
        tree, radius, inverse, origin, curved = self._geometry()
        N = len(pts)
        cell = np.zeros(N, dtype=np.int64)
        best = np.full(N, -np.inf)
        candidates = tree.query_ball_point(pts, radius)
        counts = np.fromiter((len(c) for c in candidates), dtype=np.int64, count=N)
        if counts.sum():
            owner = np.repeat(np.arange(N), counts)
            cand = np.fromiter(itertools.chain.from_iterable(candidates), dtype=np.int64, count=int(counts.sum()))
            xi = np.einsum("cij,cj->ci", inverse[cand], pts[owner] - origin[cand])
            lam = np.minimum(xi.min(axis=1), 1.0 - xi.sum(axis=1))
            order = np.lexsort((lam, owner))  # by owner, then by increasing lam: the last of each owner wins
            last = np.r_[owner[order][1:] != owner[order][:-1], True]
            win = order[last]
            cell[owner[win]] = cand[win]
            best[owner[win]] = lam[win]
        lost = counts == 0
        if lost.any():
            _, nearest = tree.query(pts[lost])
            cell[lost] = nearest
        xi = np.einsum("nij,nj->ni", inverse[cell], pts - origin[cell])
        if lost.any():
            best[lost] = np.minimum(xi[lost].min(axis=1), 1.0 - xi[lost].sum(axis=1))
        bend = curved[cell]
        if bend.any():
            xi[bend] = self._invert(cell[bend], pts[bend], xi[bend])
            best[bend] = np.minimum(xi[bend].min(axis=1), 1.0 - xi[bend].sum(axis=1))
        return cell, xi, best >= -1e-9

    def _invert(self, cells: np.ndarray, pts: np.ndarray, xi: np.ndarray, iterations: int = 8) -> np.ndarray:
        """Reference coordinates of ``pts`` under the quadratic maps of curved cells (Newton)."""
        element = Lagrange(self.dimension, self.degree)
        X = self.dof_coords[self.cell_dofs[cells]]  # (n, nb, d)
        for _ in range(iterations):
            phi, grad = element.eval(xi)  # (n, nb), (n, nb, d)
            x = np.einsum("na,naj->nj", phi, X)
            J = np.einsum("naj,nak->njk", X, grad)
            xi = xi - np.linalg.solve(J, (x - pts)[..., None])[..., 0]
        return xi

    def __call__(self, values: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Degree-of-freedom ``values`` ``(Ndof, ...)`` at ``points`` ``(N, d)``: ``(N, ...)``."""
        values = np.asarray(values)
        cell, xi, _ = self.locate(points)
        phi, _ = Lagrange(self.dimension, self.degree).eval(xi)
        local = values[self.cell_dofs[cell]]  # (N, nb, ...)
        return np.einsum("na,na...->n...", phi, local)


def combine(snapshots: np.ndarray, idx: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``sum_k weights[k] * snapshots[idx[k]]`` for one time (``idx``, ``weights`` of length m)."""
    out = np.zeros(snapshots.shape[1:])
    for i, w in zip(np.asarray(idx).ravel(), np.asarray(weights).ravel()):
        out = out + w * snapshots[int(i)]
    return out

