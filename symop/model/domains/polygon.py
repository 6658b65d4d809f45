"""Simple polygons in the plane; side ``sidek`` runs from vertex k to vertex k+1."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np
import sympy as sp

from symop.errors import DomainError
from symop.model.domains.base import (
    Domain,
    as_points,
    _check_mesh_args,
    _first_match,
    _fmt,
    _polyline_pslg,
    as_rational,
)
from symop.model.domains.registry import Argument, DomainKind, register
from symop.model.mesh import triangle_mesh

if TYPE_CHECKING:  # pragma: no cover
    from symop.model.mesh import Mesh

__all__ = ["Polygon"]


def _segments_cross(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> bool:
    """Whether the closed segments ab and cd intersect."""

    def orient(p, q, r) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    def on_seg(p, q, r) -> bool:
        return min(p[0], q[0]) <= r[0] <= max(p[0], q[0]) and min(p[1], q[1]) <= r[1] <= max(p[1], q[1])

    o1, o2, o3, o4 = orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b)
    if o1 * o2 < 0 and o3 * o4 < 0:
        return True
    return (
        (o1 == 0 and on_seg(a, b, c))
        or (o2 == 0 and on_seg(a, b, d))
        or (o3 == 0 and on_seg(c, d, a))
        or (o4 == 0 and on_seg(c, d, b))
    )


@dataclass(frozen=True)
class Polygon(Domain):
    """A simple polygon in the plane given by its vertices (either orientation).

    Side ``sidek`` runs from vertex k to vertex k+1 (1-based, wrapping around);
    normals point outward whatever the orientation.
    """

    vertices: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        verts = tuple(tuple(float(c) for c in v) for v in self.vertices)
        if len(verts) < 3:
            raise DomainError(f"a polygon needs at least 3 vertices, not {len(verts)}")
        for v in verts:
            if len(v) != 2:
                raise DomainError(f"a polygon vertex needs 2 coordinates, not {len(v)}")
            if not all(math.isfinite(c) for c in v):
                raise DomainError("the vertices of a polygon must be finite")
        object.__setattr__(self, "vertices", verts)
        v = np.asarray(verts)
        w = np.roll(v, -1, axis=0)
        if np.any(np.all(v == w, axis=1)):
            raise DomainError("a polygon has two equal consecutive vertices; each side needs a length")
        rel = v - v[0]
        cross = rel[1:, 0, None] * rel[None, 1:, 1] - rel[1:, 1, None] * rel[None, 1:, 0]
        if np.max(np.abs(cross)) <= 1e-14 * self._scale() ** 2:
            raise DomainError("the polygon has no area; its vertices are on one line")
        n = len(verts)
        for i in range(n):
            for j in range(i + 1, n):
                if j == i + 1 or (i == 0 and j == n - 1):
                    continue
                if _segments_cross(v[i], w[i], v[j], w[j]):
                    raise DomainError(f"the polygon crosses itself: side{i + 1} meets side{j + 1}")

    @property
    def _v(self) -> np.ndarray:
        return np.asarray(self.vertices, dtype=np.float64)

    def _signed_area(self) -> float:
        v = self._v
        w = np.roll(v, -1, axis=0)
        return 0.5 * float(np.sum(v[:, 0] * w[:, 1] - w[:, 0] * v[:, 1]))

    @property
    def dimension(self) -> int:
        """2."""
        return 2

    @property
    def kind(self) -> str:
        """``"polygon"``."""
        return "polygon"

    @property
    def sides(self) -> tuple[str, ...]:
        """``side1`` ... ``sideN``."""
        return tuple(f"side{k + 1}" for k in range(len(self.vertices)))

    def bounding_box(self) -> tuple[np.ndarray, np.ndarray]:
        """The smallest box around the vertices."""
        v = self._v
        return v.min(axis=0), v.max(axis=0)

    def contains(self, points: Any) -> np.ndarray:
        """Which points lie inside (even-odd rule) or on the boundary."""
        pts = as_points(points, 2)
        v = self._v
        w = np.roll(v, -1, axis=0)
        x, y = pts[:, 0:1], pts[:, 1:2]
        x1, y1, x2, y2 = v[:, 0], v[:, 1], w[:, 0], w[:, 1]
        cond = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xcross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside = np.sum(cond & (x < xcross), axis=1) % 2 == 1
        return inside | (self._distances(pts).min(axis=1) <= 1e-12 * self._scale())

    def _distances(self, pts: np.ndarray) -> np.ndarray:
        """Distance of each point to each side, shape ``(n, N)``."""
        v = self._v
        e = np.roll(v, -1, axis=0) - v
        rel = pts[:, None, :] - v[None, :, :]
        t = np.clip(np.sum(rel * e[None], axis=2) / np.sum(e * e, axis=1)[None], 0.0, 1.0)
        return np.linalg.norm(rel - t[..., None] * e[None], axis=2)

    def volume(self) -> float:
        """The area (shoelace formula)."""
        return abs(self._signed_area())

    def describe(self) -> str:
        """``polygon (0, 0), (1, 0), (0, 1)``."""
        return "polygon " + ", ".join(f"({_fmt(a)}, {_fmt(b)})" for a, b in self.vertices)

    def _index(self, side: str) -> int:
        return self.sides.index(side)

    def _side_measure(self, side: str) -> float:
        k = self._index(side)
        v = self._v
        return float(np.linalg.norm(v[(k + 1) % len(v)] - v[k]))

    def _outward(self, k: int) -> np.ndarray:
        v = self._v
        e = v[(k + 1) % len(v)] - v[k]
        n = np.array([e[1], -e[0]]) / np.linalg.norm(e)  # outward for counter-clockwise
        return n if self._signed_area() > 0 else -n

    def _side_normal(self, side: str, points: np.ndarray) -> np.ndarray:
        return np.tile(self._outward(self._index(side)), (points.shape[0], 1))

    def _sample_side(self, side: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        k = self._index(side)
        v = self._v
        a, b = v[k], v[(k + 1) % len(v)]
        t = rng.random(n)[:, None]
        pts = a + t * (b - a)
        return pts, self._side_normal(side, pts)

    def side_of(self, points: Any, tol: float = 1e-9) -> np.ndarray:
        """The side of each boundary point (distance ``<= tol·s``, ``s`` the size), ``None`` elsewhere.

        A vertex lies on two sides; the first in :attr:`sides` order wins.
        """
        pts = as_points(points, 2)
        return _first_match(self._distances(pts), tol * self._scale(), self.sides)

    def mesh(self, h: float, order: int = 1) -> "Mesh":
        """An unstructured triangle mesh (Triangle); each side is first split into pieces ``<= h``."""
        _check_mesh_args(h, order)
        return triangle_mesh(self, h)

    def _pslg(self, h: float) -> tuple[np.ndarray, np.ndarray, list[str], list[np.ndarray]]:
        pts, segs, names = _polyline_pslg(self._v, list(self.sides), h)
        return pts, segs, names, []

    def text(self, number: Callable[[float], str]) -> str:
        """``polygon((0, 0), (1, 0), (0, 1))``."""
        return "polygon(" + ", ".join(f"({number(a)}, {number(b)})" for a, b in self.vertices) + ")"

    def _exact_edges(self) -> list[tuple[list[sp.Expr], list[sp.Expr]]]:
        """Per side: (its exact outward unit normal, its first vertex), in exact rationals."""
        v = [[as_rational(a), as_rational(b)] for a, b in self.vertices]
        m = len(v)
        area = sum(v[k][0] * v[(k + 1) % m][1] - v[(k + 1) % m][0] * v[k][1] for k in range(m))
        out = []
        for k in range(m):
            a, b = v[k], v[(k + 1) % m]
            ex, ey = b[0] - a[0], b[1] - a[1]
            length = sp.sqrt(ex**2 + ey**2)
            n = [ey / length, -ex / length]
            if area < 0:
                n = [-n[0], -n[1]]
            out.append((n, a))
        return out

    def symbolic_normal(self, side: str, coords: Sequence[sp.Expr]) -> list[sp.Expr]:
        """The side's constant outward normal, exact (rational vertices, a square root for the length)."""
        self._parts(side)
        return self._exact_edges()[self._index(side)][0]

    def symbolic_on_side(self, side: str, coords: Sequence[sp.Expr]) -> Any:
        """``|n·(x - a)| < 1e-9·s``: on the side's line (``a`` its first vertex, ``s`` the size)."""
        self._parts(side)
        n, a = self._exact_edges()[self._index(side)]
        dist = n[0] * (coords[0] - a[0]) + n[1] * (coords[1] - a[1])
        return sp.Abs(dist) < as_rational(1e-9 * self._scale())


def _build_polygon(args: Mapping[str, Any]) -> Polygon:
    return Polygon(tuple(args["vertices"]))


register(DomainKind("polygon", _build_polygon, (Argument("vertices", "points", "a vertex", dimension=2, minimum=3),),
                    "side1 ... sideN in vertex order", "polygon((0,0), (1,0), (0,1))"))
