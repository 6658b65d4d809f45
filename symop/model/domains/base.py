"""What every domain shares: the :class:`Domain` interface and small geometric helpers.

Every domain kind is one module of this package deriving from :class:`Domain`
(an immutable, frozen dataclass).  All numerics are NumPy float64: points are
``(n, d)`` arrays.  A domain knows

* its ``dimension``, its named boundary parts (``sides``) and its ``kind``;
* membership (:meth:`Domain.contains`), volume and bounding box;
* uniform sampling of its interior and of its boundary (with outward unit
  normals), the measure of each boundary part and the normal on it;
* the outward normal of each side symbolically, as SymPy expressions of the
  coordinates (:meth:`Domain.symbolic_normal`), for manufactured solutions;
* which boundary part a point lies on (:meth:`Domain.side_of`);
* how to mesh itself (:meth:`Domain.mesh`, see :mod:`symop.model.mesh`), and
  whether a uniform grid of cells per axis fits it (:attr:`Domain.has_grid`);
* how it is written in the equation language (:meth:`Domain.text`).

Boundary parts may be named ``"all"`` in every API that takes a part: the
union of all sides.  Unknown part names raise :class:`DomainError`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import sympy as sp

from symop.errors import DomainError

if TYPE_CHECKING:  # pragma: no cover
    from symop.model.mesh import Mesh

__all__ = ["ALL", "Domain", "DomainError", "as_generator", "as_points", "as_rational", "radial_normal", "symbolic_radial"]

ALL = "all"
_BATCH = 4096


def _fmt(value: float) -> str:
    """A number as a short human-readable string (``1``, ``0.5``, ``-2.25``)."""
    return f"{float(value):g}"


def as_generator(seed: Any) -> np.random.Generator:
    """A NumPy generator from a seed, ``None`` or an existing generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def as_points(points: Any, dimension: int) -> np.ndarray:
    """``points`` as a float64 array of shape ``(n, dimension)``."""
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim == 1 and dimension == 1:
        arr = arr[:, None]
    elif arr.ndim == 1 and arr.shape[0] == dimension:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != dimension:
        raise DomainError(
            f"points for a {dimension}-dimensional domain must have shape (n, {dimension}), not {tuple(arr.shape)}"
        )
    return arr


def _split(n: int, weights: list[float]) -> list[int]:
    """Split ``n`` into integers proportional to ``weights`` (largest remainders)."""
    w = np.asarray(weights, dtype=np.float64)
    total = float(w.sum())
    if total <= 0 or not np.isfinite(total):
        w = np.ones_like(w)
        total = float(w.sum())
    exact = n * w / total
    counts = np.floor(exact).astype(int)
    rest = n - int(counts.sum())
    if rest > 0:
        order = np.argsort(-(exact - counts), kind="stable")
        counts[order[:rest]] += 1
    return [int(c) for c in counts]


def _first_match(dist: np.ndarray, eps: float, names: tuple[str, ...]) -> np.ndarray:
    """Per row of ``dist`` (point × side), the first side within ``eps``, else ``None``.

    Corners and vertices lie on several sides; the first in ``names`` order wins.
    """
    close = dist <= eps
    on = np.any(close, axis=1)
    first = np.argmax(close, axis=1)
    out = np.full(dist.shape[0], None, dtype=object)
    out[on] = np.array(names, dtype=object)[first[on]]
    return out


def _check_mesh_args(h: float, order: int) -> None:
    """Mesh sizes must be positive and finite, orders whole and at least 1."""
    try:
        size = float(h)
    except (TypeError, ValueError):
        size = math.nan
    if not (math.isfinite(size) and size > 0):
        raise DomainError(f"the mesh size must be a positive number, not {h!r}")
    if isinstance(order, bool) or int(order) != order or int(order) < 1:
        raise DomainError(f"the mesh order must be a whole number of at least 1, not {order!r}")


def _subdivide(a: np.ndarray, b: np.ndarray, h: float) -> np.ndarray:
    """The points ``a, ..., b`` splitting the segment ab into ``ceil(|b - a| / h)`` equal pieces."""
    m = max(1, int(math.ceil(float(np.linalg.norm(b - a)) / h - 1e-9)))
    t = np.arange(m + 1)[:, None] / m
    pts = a + t * (b - a)
    pts[-1] = b
    return pts


def _polyline_pslg(vertices: np.ndarray, names: list[str], h: float) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A closed polyline with each side split into pieces of length at most ``h``.

    Returns points, segments (indices into the points) and the name of the
    side each segment belongs to.
    """
    n = vertices.shape[0]
    points: list[np.ndarray] = []
    for k in range(n):
        pts = _subdivide(vertices[k], vertices[(k + 1) % n], h)
        points.append(pts[:-1])
    counts = [p.shape[0] for p in points]
    total = sum(counts)
    start = np.arange(total)
    segs = np.stack([start, (start + 1) % total], axis=1)
    seg_names = [name for name, c in zip(names, counts) for _ in range(c)]
    return np.concatenate(points, axis=0), segs, seg_names


def _rejection(
    n: int,
    rng: np.random.Generator,
    propose: Callable[[int, np.random.Generator], np.ndarray],
    accept: Callable[[np.ndarray], np.ndarray],
    dimension: int,
    what: str,
) -> np.ndarray:
    """``n`` points drawn by ``propose`` in batches and kept where ``accept`` holds."""
    kept: list[np.ndarray] = []
    count = 0
    tries = 0
    while count < n:
        batch = max(_BATCH, 2 * (n - count))
        candidates = propose(batch, rng)
        good = candidates[accept(candidates)]
        kept.append(good)
        count += good.shape[0]
        tries += 1
        if tries > 1000 and count == 0:
            raise DomainError(f"could not sample the interior of {what}; it seems to have no volume")
    if not kept:
        return np.zeros((0, dimension))
    return np.concatenate(kept, axis=0)[:n]


def radial_normal(points: np.ndarray, center: np.ndarray) -> np.ndarray:
    """``(p - c) / |p - c|`` row by row (rows at the centre stay 0)."""
    v = points - center
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    norm[norm == 0] = 1.0
    return v / norm


def as_rational(value: float) -> sp.Expr:
    """A float as an exact SymPy number: an Integer when whole, else the Rational of its shortest repr."""
    v = float(value)
    if v.is_integer():
        return sp.Integer(int(v))
    return sp.Rational(repr(v))


def symbolic_radial(center: Sequence[float] | None, radius: float, coords: Sequence[sp.Expr]) -> list[sp.Expr]:
    """``(x - c) / r`` exactly: the outward unit normal on a sphere of ``radius`` around ``center``."""
    r = as_rational(radius)
    c = [sp.S.Zero] * len(coords) if center is None else [as_rational(v) for v in center]
    return [(x - cx) / r for x, cx in zip(coords, c)]


class Domain(ABC):
    """A bounded region of space with named boundary parts.

    Subclasses are frozen dataclasses; they implement the abstract methods
    below and the per-side hooks ``_side_measure``, ``_sample_side`` and
    ``_side_normal``.  The public sampling and measure API is shared.
    """

    # --- what a subclass provides -------------------------------------------------

    @property
    @abstractmethod
    def dimension(self) -> int:
        """The number of coordinates."""

    @property
    @abstractmethod
    def sides(self) -> tuple[str, ...]:
        """The names of the boundary parts, in a fixed order."""

    @property
    @abstractmethod
    def kind(self) -> str:
        """The kind of domain: ``interval``, ``box``, ``disk``, ``polygon``, ``difference`` or ``ball``."""

    @abstractmethod
    def bounding_box(self) -> tuple[np.ndarray, np.ndarray]:
        """The lower and upper corners of an axis-aligned box containing the domain."""

    @abstractmethod
    def contains(self, points: Any) -> np.ndarray:
        """A boolean array: which of the ``(n, d)`` points lie in the (closed) domain."""

    @abstractmethod
    def volume(self) -> float:
        """The d-dimensional volume (length, area, ...) of the domain."""

    @abstractmethod
    def describe(self) -> str:
        """A short human-readable description, e.g. ``box x ∈ [0, 1] × y ∈ [0, 1]``."""

    @abstractmethod
    def side_of(self, points: Any, tol: float = 1e-9) -> np.ndarray:
        """An object array with the side name of each point, ``None`` off the boundary.

        ``tol`` is relative to the size of the domain (at least 1).
        """

    @abstractmethod
    def mesh(self, h: float, order: int = 1) -> "Mesh":
        """A simplicial mesh of the domain with cells of size about ``h``.

        The cells are always straight (affine) simplices; ``order`` is accepted
        for finite elements of higher degree, whose extra nodes the FEM code
        derives from the cells itself.
        """

    @abstractmethod
    def _side_measure(self, side: str) -> float:
        """The (d-1)-dimensional measure of one side."""

    @abstractmethod
    def _sample_side(self, side: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` uniform points on one side and their outward unit normals."""

    @abstractmethod
    def _side_normal(self, side: str, points: np.ndarray) -> np.ndarray:
        """The outward unit normal of one side at ``points``."""

    @abstractmethod
    def text(self, number: Callable[[float], str]) -> str:
        """The domain in the equation language (``box(x: [0, 1])``), each number written by ``number``."""

    @abstractmethod
    def symbolic_normal(self, side: str, coords: Sequence[sp.Expr]) -> list[sp.Expr]:
        """The outward unit normal on ``side`` as exact SymPy expressions of ``coords``."""

    # --- what a subclass may provide -------------------------------------------------

    #: whether the domain is an axis-aligned box, so that a uniform grid with a
    #: number of cells per axis fits it (finite differences, neural operators,
    #: structured meshes); such a domain provides ``axes`` and ``axis_of_side``
    has_grid: bool = False

    def grid_mesh(self, cells: Sequence[int]) -> "Mesh":
        """A structured mesh with ``cells[k]`` cells along axis k; only domains with :attr:`has_grid`."""
        raise DomainError(f"{self.describe()} has no grid of cells per axis; mesh it with a size h instead")

    def mesh_reason(self) -> str | None:
        """``None`` when :meth:`mesh` can mesh the domain, else a sentence saying why not."""
        return None

    def symbolic_on_side(self, side: str, coords: Sequence[sp.Expr]) -> Any:
        """A SymPy condition on ``coords`` that holds on ``side`` (needed where a hole has several sides)."""
        raise DomainError(f"no symbolic test for the side `{side}` of {self.describe()} is known")

    def symbolic_boundary_normal(self, coords: Sequence[sp.Expr]) -> list[sp.Expr]:
        """The outward unit normal on the whole boundary, piecewise by side where there are several.

        Each side's normal holds where :meth:`symbolic_on_side` does; the last
        side's is the fallback.
        """
        sides = self.sides
        if len(sides) == 1:
            return self.symbolic_normal(sides[0], coords)
        pieces = [(self.symbolic_normal(s, coords), self.symbolic_on_side(s, coords)) for s in sides]
        out = []
        for k in range(len(coords)):
            args = [(n[k], cond) for n, cond in pieces[:-1]] + [(pieces[-1][0][k], True)]
            out.append(sp.Piecewise(*args))
        return out

    # --- shared API ------------------------------------------------------------------

    def __str__(self) -> str:
        return self.describe()

    def _scale(self) -> float:
        """A length used to make tolerances relative: the bounding-box diameter, at least 1."""
        lo, hi = self.bounding_box()
        return max(1.0, float(np.max(hi - lo)))

    def _parts(self, part: str) -> tuple[str, ...]:
        """The sides named by ``part`` (``"all"`` or one side); unknown names are errors."""
        if part == ALL:
            return self.sides
        if part in self.sides:
            return (part,)
        raise DomainError(
            f"unknown boundary part `{part}` of {self.describe()}; its parts are " + ", ".join(self.sides)
        )

    def sample_interior(self, n: int, seed: Any = None) -> np.ndarray:
        """``n`` points drawn uniformly from the interior, shape ``(n, d)``.

        The default draws from the bounding box in batches and rejects the
        points outside the domain.  ``seed`` makes the draw reproducible.
        """
        rng = as_generator(seed)
        lo, hi = self.bounding_box()
        d = self.dimension

        def propose(m: int, g: np.random.Generator) -> np.ndarray:
            return lo + (hi - lo) * g.random((m, d))

        return _rejection(int(n), rng, propose, self.contains, d, self.describe())

    def boundary_measure(self, part: str = ALL) -> float:
        """The (d-1)-dimensional measure of a boundary part (``"all"``: the whole boundary)."""
        return float(sum(self._side_measure(s) for s in self._parts(part)))

    def sample_boundary(self, part: str, n: int, seed: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """``n`` points uniform in boundary measure on ``part`` and their outward unit normals.

        For ``"all"`` (or several sides) the points are split between the sides
        in proportion to their measures and returned side after side.
        """
        rng = as_generator(seed)
        sides = self._parts(part)
        d = self.dimension
        counts = _split(int(n), [self._side_measure(s) for s in sides]) if len(sides) > 1 else [int(n)]
        points: list[np.ndarray] = []
        normals: list[np.ndarray] = []
        for side, count in zip(sides, counts):
            if count <= 0:
                continue
            p, q = self._sample_side(side, count, rng)
            points.append(p)
            normals.append(q)
        if not points:
            return np.zeros((0, d)), np.zeros((0, d))
        return np.concatenate(points, axis=0), np.concatenate(normals, axis=0)

    def normal(self, part: str, points: Any) -> np.ndarray:
        """The outward unit normal on ``part`` at ``points`` (``"all"``: side found per point)."""
        pts = as_points(points, self.dimension)
        sides = self._parts(part)
        if len(sides) == 1:
            return self._side_normal(sides[0], pts)
        labels = self.side_of(pts, tol=1e-6)
        out = np.full(pts.shape, np.nan)
        for side in sides:
            mask = labels == side
            if np.any(mask):
                out[mask] = self._side_normal(side, pts[mask])
        return out

    def _pslg(self, h: float) -> tuple[np.ndarray, np.ndarray, list[str], list[np.ndarray]]:
        """A planar straight-line graph of the boundary for Triangle.

        Returns points ``(P, 2)``, segments ``(S, 2)``, the side name of each
        segment and points inside the holes.  Only 2D domains provide one.
        """
        raise DomainError(f"meshing {self.describe()} with triangles is not available")

    def snap(self, side: str, points: np.ndarray) -> np.ndarray:
        """Mesh nodes that lie on ``side``, moved exactly onto it (identity for straight sides; radial
        projection for circles), so that curved P2 elements follow the boundary."""
        return points

    def _interior_point(self) -> np.ndarray:
        """One point strictly inside the domain."""
        return self.sample_interior(1, seed=0)[0]

