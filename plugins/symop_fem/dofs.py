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
        # the mesh's own arrays: P1 dofs are its vertices, and nothing writes to either
        return DofMap(1, nv, cells, points, dict(mesh.facets))
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


def periodic_representatives(dofs: DofMap, domain, periodic: tuple[str, ...]) -> np.ndarray:
    """For every dof, the dof it is identified with under periodicity (itself if none).

    Along each periodic axis ``k`` of a box ``[lo_k, hi_k]`` a dof on the high
    side is the dof on the low side with the same other coordinates; with
    several periodic axes the identification is followed to its end (a corner
    goes to the lowest corner).  The mesh must have matching nodes on opposite
    sides, as structured box meshes do.
    """
    from symop.errors import SymopError

    coords = dofs.coords
    n = coords.shape[0]
    rep = np.arange(n)
    lo, hi = domain.bounding_box()
    names = [a[0] for a in domain.axes]
    scale = float(np.max(hi - lo))
    tol = 1e-9 * max(1.0, scale)
    for name in periodic:
        k = names.index(name)
        low = np.flatnonzero(np.abs(coords[:, k] - lo[k]) < tol)
        high = np.flatnonzero(np.abs(coords[:, k] - hi[k]) < tol)
        if len(low) != len(high):
            raise SymopError(f"the mesh's nodes on the two sides of the periodic coordinate `{name}` do not match; "
                             "use a structured mesh (the option n).")
        other = [j for j in range(coords.shape[1]) if j != k]
        keys_low = np.round(coords[np.ix_(low, other)] / tol).astype(np.int64) if other else np.zeros((len(low), 0))
        keys_high = np.round(coords[np.ix_(high, other)] / tol).astype(np.int64) if other else np.zeros((len(high), 0))
        order_low = np.lexsort(keys_low.T[::-1]) if other else np.arange(len(low))
        order_high = np.lexsort(keys_high.T[::-1]) if other else np.arange(len(high))
        if not np.array_equal(keys_low[order_low], keys_high[order_high]):
            raise SymopError(f"the mesh's nodes on the two sides of the periodic coordinate `{name}` do not match; "
                             "use a structured mesh (the option n).")
        rep[high[order_high]] = low[order_low]
    while True:  # follow chains (corners of several periodic axes)
        nxt = rep[rep]
        if np.array_equal(nxt, rep):
            return rep
        rep = nxt
