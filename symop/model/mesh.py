"""Simplicial meshes of domains.

A :class:`Mesh` holds node coordinates, positively oriented simplices and the
boundary facets of every side of its domain.  Boxes get structured meshes
(:func:`structured_box_mesh`); disks, polygons and 2D differences get
unstructured ones from Triangle through ``meshpy`` (:func:`triangle_mesh`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from symop.errors import DomainError

if TYPE_CHECKING:  # pragma: no cover
    from symop.model.domains import Box, Domain

__all__ = ["Mesh", "structured_box_mesh", "triangle_mesh", "signed_volumes"]

_CELL_TYPES = {1: "line", 2: "triangle", 3: "tetra"}
_FACET_TYPES = {1: "vertex", 2: "line", 3: "triangle"}


def signed_volumes(points: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """The signed volume of each simplex: ``det[p1 - p0, ..., pd - p0] / d!``."""
    d = points.shape[1]
    if cells.shape[0] == 0:
        return np.zeros(0)
    p = points[cells]  # (M, d+1, d)
    edges = p[:, 1:, :] - p[:, :1, :]
    return np.linalg.det(edges) / math.factorial(d)


def _orient(points: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """``cells`` with the last two vertices swapped where the orientation is negative."""
    cells = np.array(cells, dtype=np.int64, copy=True)
    if cells.shape[1] < 2:
        return cells
    neg = signed_volumes(points, cells) < 0
    cells[neg, -2], cells[neg, -1] = cells[neg, -1].copy(), cells[neg, -2].copy()
    return cells


@dataclass(frozen=True, eq=False)
class Mesh:
    """A simplicial mesh.

    ``points`` is ``(N, d)`` float64; ``cells`` is ``(M, d+1)`` int64 with
    positively oriented simplices, ``det[p_1 - p_0, ..., p_d - p_0] > 0``;
    ``facets[side]`` is ``(K, d)`` int64: the boundary facets on that side
    (points in 1D, edges in 2D, triangles in 3D), for every side of the domain.
    """

    points: np.ndarray
    cells: np.ndarray
    facets: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "points", np.ascontiguousarray(self.points, dtype=np.float64))
        object.__setattr__(self, "cells", np.ascontiguousarray(self.cells, dtype=np.int64))
        d = self.points.shape[1]
        object.__setattr__(
            self,
            "facets",
            {k: np.ascontiguousarray(v, dtype=np.int64).reshape(-1, d) for k, v in self.facets.items()},
        )

    @property
    def dimension(self) -> int:
        """The space dimension d."""
        return int(self.points.shape[1])

    @property
    def num_points(self) -> int:
        """The number of nodes."""
        return int(self.points.shape[0])

    @property
    def num_cells(self) -> int:
        """The number of simplices."""
        return int(self.cells.shape[0])

    @property
    def sides(self) -> tuple[str, ...]:
        """The names of the tagged boundary sides."""
        return tuple(self.facets)

    def boundary_points(self, part: str = "all") -> np.ndarray:
        """Sorted unique indices of the nodes on ``part`` (``"all"``: every side)."""
        if part == "all":
            arrays = list(self.facets.values())
        elif part in self.facets:
            arrays = [self.facets[part]]
        else:
            raise DomainError(
                f"the mesh has no boundary part `{part}`; its parts are " + ", ".join(self.facets)
            )
        if not arrays:
            return np.zeros(0, dtype=np.int64)
        return np.unique(np.concatenate([a.ravel() for a in arrays])).astype(np.int64)

    def cell_sizes(self) -> np.ndarray:
        """The size ``h_K = max_{i<j} |p_i - p_j|`` of each cell K: its longest edge (its diameter)."""
        k = self.cells.shape[1]
        h2 = np.zeros(self.num_cells)
        for i in range(k):
            pi = self.points[self.cells[:, i]]
            for j in range(i + 1, k):
                e = pi - self.points[self.cells[:, j]]
                np.maximum(h2, np.einsum("md,md->m", e, e), out=h2)
        return np.sqrt(h2)

    def cell_volumes(self) -> np.ndarray:
        """The measure ``|K| = |det[p_1 - p_0, ..., p_d - p_0]| / d!`` of each cell: length, area or volume."""
        return np.abs(signed_volumes(self.points, self.cells))

    def volume(self) -> float:
        """The total measure ``Σ_K |K|`` of the cells."""
        return float(self.cell_volumes().sum())

    def max_size(self) -> float:
        """The mesh size ``h = max_K h_K``."""
        return float(self.cell_sizes().max()) if self.num_cells else 0.0

    def to_meshio(self) -> Any:
        """A ``meshio.Mesh``: the cells, then one facet block per side.

        Each side is also a ``cell_set`` of its name, and ``cell_data["side"]``
        is 0 on the cells and ``k`` on the facets of the k-th side (1-based).
        """
        import meshio

        d = self.dimension
        blocks = [(_CELL_TYPES.get(d, f"simplex{d}"), self.cells)]
        names = list(self.facets)
        for name in names:
            blocks.append((_FACET_TYPES.get(d, f"simplex{d - 1}"), self.facets[name]))
        cell_sets = {}
        for i, name in enumerate(names):
            sets = [np.zeros(0, dtype=np.int64) for _ in blocks]
            sets[i + 1] = np.arange(self.facets[name].shape[0], dtype=np.int64)
            cell_sets[name] = sets
        tags = [np.full(len(data), i, dtype=np.int64) for i, (_, data) in enumerate(blocks)]
        return meshio.Mesh(self.points, blocks, cell_data={"side": tags}, cell_sets=cell_sets)


def _sorted_rows(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``faces`` with sorted entries, and the order that sorts those rows."""
    key = np.sort(faces, axis=1)
    order = np.lexsort(key.T[::-1])
    return key, order


def _boundary_facets(cells: np.ndarray) -> np.ndarray:
    """The facets that belong to exactly one cell (each as vertex indices), in cell order."""
    k = cells.shape[1]
    faces = np.concatenate([np.delete(cells, i, axis=1) for i in range(k)], axis=0)
    if faces.shape[0] == 0:
        return faces
    key, order = _sorted_rows(faces)
    ks = key[order]
    new = np.ones(ks.shape[0], dtype=bool)
    new[1:] = np.any(ks[1:] != ks[:-1], axis=1)
    start = np.flatnonzero(new)
    counts = np.diff(np.append(start, ks.shape[0]))
    single = order[start[counts == 1]]
    return faces[np.sort(single)]


def _same_facets(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two facet arrays hold the same facets (vertex order ignored)."""
    if a.shape != b.shape:
        return False
    ka, oa = _sorted_rows(a)
    kb, ob = _sorted_rows(b)
    return bool(np.array_equal(ka[oa], kb[ob]))


def _kuhn_simplices(base: np.ndarray, axes: tuple[int, ...], strides: np.ndarray) -> np.ndarray:
    """The Kuhn simplices of the cubes with lowest corners ``base`` (point indices) over ``axes``.

    One simplex per ordering ``(a_1, ..., a_m)`` of ``axes``: the path ``base``, ``base + e_{a_1}``,
    ..., ``base + e_{a_1} + ... + e_{a_m}`` (``e_k`` a step of ``strides[k]``), orderings in
    :func:`itertools.permutations` order, each block ``(len(base), m + 1)``.
    """
    blocks = []
    for perm in itertools.permutations(axes):
        offs = np.concatenate([[0], np.cumsum([int(strides[a]) for a in perm])]).astype(np.int64)
        blocks.append(base[:, None] + offs[None, :])
    if not blocks:
        return np.zeros((0, len(axes) + 1), dtype=np.int64)
    return np.concatenate(blocks, axis=0)


def _corner_indices(counts: list[int], strides: list[int], offset: int = 0) -> np.ndarray:
    """``offset + sum_k i_k strides[k]`` over the grid ``0 <= i_k < counts[k]`` (C order)."""
    idx = np.array([offset], dtype=np.int64)
    for c, s in zip(counts, strides):
        idx = (idx[:, None] + np.arange(c, dtype=np.int64)[None, :] * int(s)).ravel()
    return idx


def structured_box_mesh(box: "Box", n_per_axis: tuple[int, ...]) -> Mesh:
    """A structured simplicial mesh of ``box`` with ``n_per_axis[k]`` cells along axis k.

    1D: segments; 2D: each square split into 2 triangles; 3D: each cube split
    into 6 tetrahedra (Kuhn/Freudenthal split, conforming between cubes).
    Higher dimensions use the same split into d! simplices per cube.

    Everything is built from grid indices, without searching: the simplex of
    ordering ``a`` of a cube walks from its lowest corner one axis at a time; its
    orientation is the sign of that permutation, the same in every cube, so it is
    fixed block by block.  The facets on side ``x_k = lo_k`` (``hi_k``) are the
    Kuhn simplices of the side's own grid (the orderings of the other axes): the
    faces of the cells whose walk takes axis k last (first) there.
    """
    d = box.dimension
    n = tuple(int(k) for k in n_per_axis)
    if len(n) != d:
        raise DomainError(f"a {d}-dimensional box needs {d} cell counts, not {len(n)}")
    if any(k < 1 for k in n):
        raise DomainError(f"every axis needs at least one cell, not {n}")
    lo, hi = box.lo, box.hi
    shape = tuple(k + 1 for k in n)
    strides = np.array([int(np.prod(shape[k + 1:])) for k in range(d)], dtype=np.int64)
    points = np.empty((int(np.prod(shape)), d))
    for k in range(d):
        line = np.linspace(lo[k], hi[k], n[k] + 1)
        view = [1] * d
        view[k] = n[k] + 1
        points[:, k] = np.broadcast_to(line.reshape(view), shape).ravel()
    base = _corner_indices(list(n), list(strides))  # each cube's lowest corner
    cells_arr = _kuhn_simplices(base, tuple(range(d)), strides)
    if d >= 2:
        # every simplex of one ordering has the orientation of that ordering: fix it per block
        m = base.shape[0]
        blocks = cells_arr.reshape(-1, m, d + 1)
        for b in range(blocks.shape[0]):
            if signed_volumes(points, blocks[b, :1])[0] < 0:
                blocks[b, :, [-2, -1]] = blocks[b, :, [-1, -2]]
    sides = box.sides
    facets: dict[str, np.ndarray] = {}
    for k in range(d):
        other = [j for j in range(d) if j != k]
        for end, side in ((0, sides[2 * k]), (n[k], sides[2 * k + 1])):
            start = _corner_indices([n[j] for j in other], [int(strides[j]) for j in other],
                                    offset=end * int(strides[k]))
            facets[side] = _kuhn_simplices(start, tuple(other), strides)
    return Mesh(points, cells_arr, facets)


def triangle_mesh(domain: "Domain", h: float) -> Mesh:
    """An unstructured triangle mesh of a 2D domain with Triangle (``meshpy.triangle``).

    The boundary comes from the domain's straight-line graph: straight sides
    split into ``ceil(L/h)`` pieces, circles into ``max(16, ceil(2πr/h))``
    chords, holes marked by one point inside each.  Triangles have area at most
    ``h²·√3/4`` (an equilateral triangle of side h) with Triangle's quality
    bound on angles.  Facets are tagged from Triangle's segment markers (side
    index + 1), never by geometry; nodes Triangle inserts on a curved side are
    moved radially onto it, so every boundary node of a circle lies on it.
    """
    import meshpy.triangle as triangle

    if not h > 0:
        raise DomainError(f"the mesh size must be positive, not {h:g}")
    if domain.dimension != 2:
        raise DomainError(f"meshing {domain.describe()} with triangles needs a 2D domain")
    pts, segs, names, holes = domain._pslg(h)
    sides = list(domain.sides)
    markers = [sides.index(name) + 1 for name in names]
    info = triangle.MeshInfo()
    info.set_points([tuple(map(float, p)) for p in pts])
    info.set_facets([tuple(map(int, s)) for s in segs], facet_markers=markers)
    if holes:
        info.set_holes([tuple(map(float, p)) for p in holes])
    built = triangle.build(
        info,
        max_volume=h * h * math.sqrt(3) / 4,
        quality_meshing=True,
    )
    points = np.array(built.points, dtype=np.float64).reshape(-1, 2)
    cells = np.array(built.elements, dtype=np.int64).reshape(-1, 3)
    # Triangle returns the (possibly subdivided) input segments with their markers
    segments = np.array(built.facets, dtype=np.int64).reshape(-1, 2)
    segment_markers = np.array(built.facet_markers, dtype=np.int64).ravel()
    facets = {side: segments[segment_markers == i + 1] for i, side in enumerate(sides)}
    tagged = np.concatenate(list(facets.values()), axis=0)
    if not _same_facets(tagged, _boundary_facets(cells)):
        raise DomainError(
            f"meshing {domain.describe()} gave boundary edges that do not match its sides; "
            "check that the hole lies inside the domain"
        )
    cells = _orient(points, cells)
    for side, f in facets.items():
        nodes = np.unique(f.ravel())
        if nodes.size:
            points[nodes] = domain.snap(side, points[nodes])
    if np.any(signed_volumes(points, cells) <= 0):
        raise DomainError(
            f"meshing {domain.describe()} with size {h:g} folded triangles over a curved side; use a smaller mesh size"
        )
    return Mesh(points, cells, facets)
