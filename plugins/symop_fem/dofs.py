"""Degrees of freedom of P1/P2 Lagrange spaces on a :class:`~symop.model.mesh.Mesh`.

P1: one dof per vertex (dof i is vertex i).  P2: the vertices first, then one
dof per edge, numbered ``num_vertices + edge index`` where the edges are the
sorted unique vertex pairs of the cells.  Edge midpoints of boundary facets on
curved sides are moved onto the side (``domain.snap``), so that P2 is
isoparametric there and Dirichlet values are interpolated on the true boundary.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from symop.discrete.elements import EDGES


@dataclass
class DofMap:
    """Dofs of one Lagrange space.

    ``cells``: (E, nb) dofs of each cell in local node order; ``coords``: (N, d)
    dof coordinates; ``facets[side]``: (K, nbf) dofs of each boundary facet in the
    local node order of the facet element; ``curved``: whether any midpoint was
    moved (then geometry must be isoparametric).
    """

    degree: int
    num_vertices: int
    cells: np.ndarray
    coords: np.ndarray
    facets: dict[str, np.ndarray] = field(default_factory=dict)
    curved: bool = False

    @property
    def size(self) -> int:
        return int(self.coords.shape[0])

    def side_dofs(self, sides) -> np.ndarray:
        arrays = [self.facets[s].ravel() for s in sides if s in self.facets]
        if not arrays:
            return np.zeros(0, dtype=np.int64)
        return np.unique(np.concatenate(arrays))


def _edge_keys(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    lo = np.minimum(a, b)
    hi = np.maximum(a, b)
    return lo * n + hi


def build_dofs(mesh, degree: int, domain=None) -> DofMap:
    """The :class:`DofMap` of the degree-``degree`` Lagrange space on ``mesh``."""
    points = mesh.points
    cells = mesh.cells
    nv = points.shape[0]
    d = points.shape[1]
    if degree == 1:
        return DofMap(1, nv, cells.copy(), points.copy(), {k: v.copy() for k, v in mesh.facets.items()})
    edges = EDGES[d]
    keys = np.stack([_edge_keys(cells[:, i], cells[:, j], nv) for i, j in edges], axis=1)  # (E, ne)
    unique, inverse = np.unique(keys.ravel(), return_inverse=True)
    edge_ids = inverse.reshape(keys.shape)
    lo = unique // nv
    hi = unique % nv
    mids = 0.5 * (points[lo] + points[hi])
    coords = np.vstack([points, mids])
    cell_dofs = np.hstack([cells, nv + edge_ids])
    fedges = EDGES[d - 1]
    facets = {}
    curved = False
    for side, f in mesh.facets.items():
        if len(fedges) == 0:
            facets[side] = f.copy()
            continue
        fk = np.stack([_edge_keys(f[:, i], f[:, j], nv) for i, j in fedges], axis=1)
        ids = np.searchsorted(unique, fk)
        facets[side] = np.hstack([f, nv + ids])
        if domain is not None and f.shape[0]:
            try:
                snapped = domain.snap(side, coords[nv + ids.ravel()])
            except Exception:  # a domain without a snap for this side: straight
                snapped = None
            if snapped is not None:
                moved = np.abs(snapped - coords[nv + ids.ravel()]).max()
                if moved > 1e-12 * max(1.0, np.abs(points).max()):
                    coords[nv + ids.ravel()] = snapped
                    curved = True
    return DofMap(2, nv, cell_dofs, coords, facets, curved)
