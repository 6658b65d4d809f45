"""Geometric domains: where a problem lives and what its boundary parts are.

Every domain is an immutable (frozen) dataclass deriving from :class:`Domain`.
All numerics are NumPy float64: points are ``(n, d)`` arrays.  A domain knows

* its ``dimension``, its named boundary parts (``sides``) and its ``kind``;
* membership (:meth:`Domain.contains`), volume and bounding box;
* uniform sampling of its interior and of its boundary (with outward unit
  normals), the measure of each boundary part and the normal on it;
* which boundary part a point lies on (:meth:`Domain.side_of`);
* how to mesh itself (:meth:`Domain.mesh`, see :mod:`symop.model.mesh`).

Boundary parts may be named ``"all"`` in every API that takes a part: the
union of all sides.  Unknown part names raise :class:`DomainError`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from symop.errors import SymopError

if TYPE_CHECKING:  # pragma: no cover
    from symop.model.mesh import Mesh

__all__ = [
    "Domain",
    "DomainError",
    "Box",
    "Interval",
    "Disk",
    "Polygon",
    "Difference",
    "Ball",
]

ALL = "all"
_BATCH = 4096


class DomainError(SymopError):
    """A domain was described with impossible data, or asked about an unknown part."""


def _fmt(value: float) -> str:
    """A number as a short human-readable string (``1``, ``0.5``, ``-2.25``)."""
    return f"{float(value):g}"


def _rng(seed: Any) -> np.random.Generator:
    """A NumPy generator from a seed, ``None`` or an existing generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def _as_points(points: Any, dimension: int) -> np.ndarray:
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
        rng = _rng(seed)
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
        rng = _rng(seed)
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
        pts = _as_points(points, self.dimension)
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


# ----------------------------------------------------------------------------------
# Boxes
# ----------------------------------------------------------------------------------

_SIDE_NAMES = (("left", "right"), ("bottom", "top"), ("front", "back"))


@dataclass(frozen=True)
class Box(Domain):
    """An axis-aligned box ``[lo_1, hi_1] × ... × [lo_d, hi_d]`` of any dimension.

    ``axes`` holds ``(name, lo, hi)`` per axis.  The sides of axis 0 are
    ``left``/``right``, of axis 1 ``bottom``/``top``, of axis 2
    ``front``/``back`` (front at the minimum); further axes give
    ``{name}_min``/``{name}_max``.
    """

    axes: tuple[tuple[str, float, float], ...]

    def __post_init__(self) -> None:
        axes = tuple(self.axes)
        if len(axes) < 1:
            raise DomainError("a box needs at least one axis")
        clean = []
        for axis in axes:
            if len(axis) != 3:
                raise DomainError(f"each box axis is (name, lo, hi), not {axis!r}")
            name, lo, hi = str(axis[0]), float(axis[1]), float(axis[2])
            if not (math.isfinite(lo) and math.isfinite(hi)):
                raise DomainError(f"the interval {name} ∈ [{_fmt(lo)}, {_fmt(hi)}] must have finite ends")
            if not hi > lo:
                raise DomainError(
                    f"the interval {name} ∈ [{_fmt(lo)}, {_fmt(hi)}] is empty; its upper end must exceed its lower end"
                )
            clean.append((name, lo, hi))
        names = [a[0] for a in clean]
        if len(set(names)) != len(names):
            raise DomainError("the axes of a box need distinct names, not " + ", ".join(names))
        object.__setattr__(self, "axes", tuple(clean))

    @property
    def dimension(self) -> int:
        """The number of axes."""
        return len(self.axes)

    @property
    def kind(self) -> str:
        """``"box"``."""
        return "box"

    @property
    def lo(self) -> np.ndarray:
        """The lower corner."""
        return np.array([a[1] for a in self.axes], dtype=np.float64)

    @property
    def hi(self) -> np.ndarray:
        """The upper corner."""
        return np.array([a[2] for a in self.axes], dtype=np.float64)

    @property
    def sides(self) -> tuple[str, ...]:
        """Two sides per axis, low then high."""
        out: list[str] = []
        for k, (name, _, _) in enumerate(self.axes):
            if k < len(_SIDE_NAMES):
                out.extend(_SIDE_NAMES[k])
            else:
                out.extend((f"{name}_min", f"{name}_max"))
        return tuple(out)

    def axis_of_side(self, side: str) -> tuple[int, int]:
        """``(axis index, -1 for the low side / +1 for the high side)`` of a side name."""
        sides = self.sides
        if side not in sides:
            self._parts(side)  # raises the unknown-part error
        i = sides.index(side)
        return i // 2, (-1 if i % 2 == 0 else 1)

    def bounding_box(self) -> tuple[np.ndarray, np.ndarray]:
        """The box itself."""
        return self.lo, self.hi

    def contains(self, points: Any) -> np.ndarray:
        """Which points satisfy ``lo <= x <= hi`` on every axis."""
        pts = _as_points(points, self.dimension)
        return np.all((pts >= self.lo) & (pts <= self.hi), axis=1)

    def volume(self) -> float:
        """The product of the axis lengths."""
        return float(np.prod(self.hi - self.lo))

    def describe(self) -> str:
        """``box x ∈ [0, 1] × y ∈ [0, 1]``."""
        body = " × ".join(f"{n} ∈ [{_fmt(lo)}, {_fmt(hi)}]" for n, lo, hi in self.axes)
        return f"{self.kind} {body}"

    def sample_interior(self, n: int, seed: Any = None) -> np.ndarray:
        """``n`` uniform points of the box (no rejection needed)."""
        rng = _rng(seed)
        lo, hi = self.lo, self.hi
        return lo + (hi - lo) * rng.random((int(n), self.dimension))

    def _side_measure(self, side: str) -> float:
        axis, _ = self.axis_of_side(side)
        lengths = np.delete(self.hi - self.lo, axis)
        return float(np.prod(lengths)) if lengths.size else 1.0

    def _side_normal(self, side: str, points: np.ndarray) -> np.ndarray:
        axis, sign = self.axis_of_side(side)
        out = np.zeros((points.shape[0], self.dimension))
        out[:, axis] = sign
        return out

    def _sample_side(self, side: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        axis, sign = self.axis_of_side(side)
        lo, hi = self.lo, self.hi
        pts = lo + (hi - lo) * rng.random((n, self.dimension))
        pts[:, axis] = lo[axis] if sign < 0 else hi[axis]
        return pts, self._side_normal(side, pts)

    def side_of(self, points: Any, tol: float = 1e-9) -> np.ndarray:
        """The side of each boundary point, ``None`` elsewhere.

        A point is on side ``x = lo_k`` when ``|x_k - lo_k| <= tol·s`` (``s`` the
        largest edge, at least 1) and it lies in the box; on edges and corners
        the first matching side in :attr:`sides` order wins.
        """
        pts = _as_points(points, self.dimension)
        eps = tol * self._scale()
        lo, hi = self.lo, self.hi
        inside = np.all((pts >= lo - eps) & (pts <= hi + eps), axis=1)
        dist = np.empty((pts.shape[0], 2 * self.dimension))
        dist[:, 0::2] = np.abs(pts - lo)
        dist[:, 1::2] = np.abs(pts - hi)
        dist[~inside] = np.inf
        return _first_match(dist, eps, self.sides)

    def mesh(self, h: float, order: int = 1) -> "Mesh":
        """A structured simplicial mesh with ``n_k = ceil(L_k / h)`` cells along each axis k.

        Each of the ``∏ n_k`` cubes is split into ``d!`` simplices (see
        :func:`symop.model.mesh.structured_box_mesh`).
        """
        from symop.model.mesh import structured_box_mesh

        _check_mesh_args(h, order)
        n = tuple(max(1, int(math.ceil((hi - lo) / h - 1e-9))) for _, lo, hi in self.axes)
        return structured_box_mesh(self, n)

    def _pslg(self, h: float) -> tuple[np.ndarray, np.ndarray, list[str], list[np.ndarray]]:
        if self.dimension != 2:
            return super()._pslg(h)
        (x0, y0), (x1, y1) = self.lo, self.hi
        corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
        s = self.sides  # left, right, bottom, top
        pts, segs, names = _polyline_pslg(corners, [s[2], s[1], s[3], s[0]], h)
        return pts, segs, names, []

    def _interior_point(self) -> np.ndarray:
        return 0.5 * (self.lo + self.hi)


class Interval(Box):
    """The interval ``name ∈ [lo, hi]``: a one-axis :class:`Box` with sides ``left``, ``right``."""

    def __init__(self, name: str, lo: float, hi: float) -> None:
        object.__setattr__(self, "axes", ((name, lo, hi),))
        self.__post_init__()

    def __repr__(self) -> str:
        name, lo, hi = self.axes[0]
        return f"Interval({name!r}, {lo!r}, {hi!r})"

    def __reduce__(self):
        name, lo, hi = self.axes[0]
        return (Interval, (name, lo, hi))

    @property
    def kind(self) -> str:
        """``"interval"``."""
        return "interval"

    @property
    def name(self) -> str:
        """The coordinate name."""
        return self.axes[0][0]

    @property
    def length(self) -> float:
        """``hi - lo``."""
        return self.axes[0][2] - self.axes[0][1]


# ----------------------------------------------------------------------------------
# Disks and balls
# ----------------------------------------------------------------------------------


def _radial_normal(points: np.ndarray, center: np.ndarray) -> np.ndarray:
    """``(p - c) / |p - c|`` row by row."""
    v = points - center
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    norm[norm == 0] = 1.0
    return v / norm


@dataclass(frozen=True)
class Disk(Domain):
    """The closed disk of ``radius`` around ``center`` in the plane; one side, ``boundary``."""

    center: tuple[float, float]
    radius: float

    def __post_init__(self) -> None:
        center = tuple(float(c) for c in self.center)
        if len(center) != 2:
            raise DomainError(f"the centre of a disk needs 2 coordinates, not {len(center)}")
        radius = float(self.radius)
        if not (radius > 0 and math.isfinite(radius)):
            raise DomainError(f"the radius of a disk must be positive, not {_fmt(radius)}")
        object.__setattr__(self, "center", center)
        object.__setattr__(self, "radius", radius)

    @property
    def dimension(self) -> int:
        """2."""
        return 2

    @property
    def kind(self) -> str:
        """``"disk"``."""
        return "disk"

    @property
    def sides(self) -> tuple[str, ...]:
        """``("boundary",)``."""
        return ("boundary",)

    @property
    def _c(self) -> np.ndarray:
        return np.asarray(self.center, dtype=np.float64)

    def bounding_box(self) -> tuple[np.ndarray, np.ndarray]:
        """``center ± radius``."""
        return self._c - self.radius, self._c + self.radius

    def contains(self, points: Any) -> np.ndarray:
        """Which points satisfy ``|p - c| <= r``."""
        pts = _as_points(points, 2)
        return np.linalg.norm(pts - self._c, axis=1) <= self.radius

    def volume(self) -> float:
        """``π r²``."""
        return math.pi * self.radius**2

    def describe(self) -> str:
        """``disk centred at (0, 0) with radius 1``."""
        c = ", ".join(_fmt(v) for v in self.center)
        return f"disk centred at ({c}) with radius {_fmt(self.radius)}"

    def sample_interior(self, n: int, seed: Any = None) -> np.ndarray:
        """``n`` uniform points: angle uniform, radius ``r·√U``."""
        rng = _rng(seed)
        theta = 2 * math.pi * rng.random(int(n))
        rho = self.radius * np.sqrt(rng.random(int(n)))
        return self._c + np.stack([rho * np.cos(theta), rho * np.sin(theta)], axis=1)

    def _side_measure(self, side: str) -> float:
        return 2 * math.pi * self.radius

    def _sample_side(self, side: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        theta = 2 * math.pi * rng.random(n)
        normals = np.stack([np.cos(theta), np.sin(theta)], axis=1)
        return self._c + self.radius * normals, normals

    def _side_normal(self, side: str, points: np.ndarray) -> np.ndarray:
        return _radial_normal(points, self._c)

    def side_of(self, points: Any, tol: float = 1e-9) -> np.ndarray:
        """``"boundary"`` for points with ``| |p - c| - r | <= tol``, else ``None``."""
        pts = _as_points(points, 2)
        on = np.abs(np.linalg.norm(pts - self._c, axis=1) - self.radius) <= tol * self._scale()
        out = np.full(pts.shape[0], None, dtype=object)
        out[on] = "boundary"
        return out

    def mesh(self, h: float, order: int = 1) -> "Mesh":
        """An unstructured triangle mesh (Triangle) with boundary nodes on the circle.

        The circle is first split into ``m = max(16, ceil(2πr / h))`` chords.
        """
        from symop.model.mesh import triangle_mesh

        _check_mesh_args(h, order)
        return triangle_mesh(self, h)

    def _segments(self, h: float) -> int:
        """``max(16, ceil(2πr / h))``: the number of chords approximating the circle."""
        return max(16, int(math.ceil(2 * math.pi * self.radius / h - 1e-9)))

    def _pslg(self, h: float) -> tuple[np.ndarray, np.ndarray, list[str], list[np.ndarray]]:
        m = self._segments(h)
        theta = 2 * math.pi * np.arange(m) / m
        pts = self._c + self.radius * np.stack([np.cos(theta), np.sin(theta)], axis=1)
        segs = np.stack([np.arange(m), (np.arange(m) + 1) % m], axis=1)
        return pts, segs, ["boundary"] * m, []

    def snap(self, side: str, points: np.ndarray) -> np.ndarray:
        return self._c + self.radius * _radial_normal(points, self._c)

    def _interior_point(self) -> np.ndarray:
        return self._c.copy()


@dataclass(frozen=True, init=False, repr=False)
class Ball(Domain):
    """The closed ball of ``radius`` around ``center`` (origin if ``None``) in any dimension.

    Sampling costs O(n·d), so a ball in d = 10000 dimensions is cheap.  The one
    side is ``boundary``.  Only the 2D ball can be meshed (as a :class:`Disk`).
    """

    dimension_: int
    radius: float = 1.0
    center: tuple[float, ...] | None = None

    def __init__(self, dimension: int, radius: float = 1.0, center: tuple[float, ...] | None = None) -> None:
        object.__setattr__(self, "dimension_", dimension)
        object.__setattr__(self, "radius", radius)
        object.__setattr__(self, "center", center)
        self.__post_init__()

    def __repr__(self) -> str:
        return f"Ball({self.dimension_!r}, {self.radius!r}, {self.center!r})"

    def __reduce__(self):
        return (Ball, (self.dimension_, self.radius, self.center))

    def __post_init__(self) -> None:
        d = self.dimension_
        if isinstance(d, bool) or int(d) != d or int(d) < 1:
            raise DomainError(f"the dimension of a ball must be a whole number of at least 1, not {d}")
        object.__setattr__(self, "dimension_", int(d))
        radius = float(self.radius)
        if not (radius > 0 and math.isfinite(radius)):
            raise DomainError(f"the radius of a ball must be positive, not {_fmt(radius)}")
        object.__setattr__(self, "radius", radius)
        if self.center is not None:
            center = tuple(float(c) for c in self.center)
            if len(center) != int(d):
                raise DomainError(
                    f"the centre of a {int(d)}-dimensional ball needs {int(d)} coordinates, not {len(center)}"
                )
            object.__setattr__(self, "center", center)

    @property
    def dimension(self) -> int:
        """The number of coordinates."""
        return self.dimension_

    @property
    def kind(self) -> str:
        """``"ball"``."""
        return "ball"

    @property
    def sides(self) -> tuple[str, ...]:
        """``("boundary",)``."""
        return ("boundary",)

    @property
    def _c(self) -> np.ndarray:
        if self.center is None:
            return np.zeros(self.dimension_)
        return np.asarray(self.center, dtype=np.float64)

    def bounding_box(self) -> tuple[np.ndarray, np.ndarray]:
        """``center ± radius``."""
        return self._c - self.radius, self._c + self.radius

    def contains(self, points: Any) -> np.ndarray:
        """Which points satisfy ``|p - c| <= r``."""
        pts = _as_points(points, self.dimension_)
        return np.linalg.norm(pts - self._c, axis=1) <= self.radius

    def log_volume(self) -> float:
        """``log`` of the volume; finite even where the volume under- or overflows."""
        d = self.dimension_
        return 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d + 1) + d * math.log(self.radius)

    def volume(self) -> float:
        """``π^(d/2) r^d / Γ(d/2 + 1)`` (0.0 or inf where float64 cannot hold it)."""
        lv = self.log_volume()
        return math.exp(lv) if lv < 709.0 else math.inf

    def describe(self) -> str:
        """``ball in 3 dimensions centred at the origin with radius 1``."""
        if self.center is None or not any(self.center):
            where = "the origin"
        elif self.dimension_ <= 6:
            where = "(" + ", ".join(_fmt(v) for v in self.center) + ")"
        else:
            where = "a point"
        return f"ball in {self.dimension_} dimensions centred at {where} with radius {_fmt(self.radius)}"

    def sample_interior(self, n: int, seed: Any = None) -> np.ndarray:
        """``n`` uniform points: Gaussian direction times ``r·U^(1/d)``."""
        rng = _rng(seed)
        n = int(n)
        direction = _radial_normal(rng.standard_normal((n, self.dimension_)), 0.0)
        rho = self.radius * rng.random(n) ** (1.0 / self.dimension_)
        return self._c + rho[:, None] * direction

    def _side_measure(self, side: str) -> float:
        d = self.dimension_
        if d == 1:
            return 2.0
        lm = math.log(d) + self.log_volume() - math.log(self.radius)
        return math.exp(lm) if lm < 709.0 else math.inf

    def _sample_side(self, side: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        normals = _radial_normal(rng.standard_normal((n, self.dimension_)), 0.0)
        return self._c + self.radius * normals, normals

    def _side_normal(self, side: str, points: np.ndarray) -> np.ndarray:
        return _radial_normal(points, self._c)

    def side_of(self, points: Any, tol: float = 1e-9) -> np.ndarray:
        """``"boundary"`` for points with ``| |p - c| - r | <= tol``, else ``None``."""
        pts = _as_points(points, self.dimension_)
        on = np.abs(np.linalg.norm(pts - self._c, axis=1) - self.radius) <= tol * max(1.0, 2 * self.radius)
        out = np.full(pts.shape[0], None, dtype=object)
        out[on] = "boundary"
        return out

    def as_disk(self) -> Disk:
        """The 2D ball as a :class:`Disk`."""
        if self.dimension_ != 2:
            raise DomainError(f"a {self.dimension_}-dimensional ball is not a disk")
        return Disk(tuple(self._c), self.radius)

    def mesh(self, h: float, order: int = 1) -> "Mesh":
        """A triangle mesh of the 2D ball (as a :class:`Disk`); other dimensions raise :class:`DomainError`."""
        _check_mesh_args(h, order)
        if self.dimension_ != 2:
            raise DomainError(
                f"meshing a ball is available only in 2D (as a disk), not in {self.dimension_} dimensions; "
                "use a box, or a mesh-free method such as Monte Carlo or a neural solver"
            )
        return self.as_disk().mesh(h, order)

    def _pslg(self, h: float) -> tuple[np.ndarray, np.ndarray, list[str], list[np.ndarray]]:
        if self.dimension_ != 2:
            return super()._pslg(h)
        return self.as_disk()._pslg(h)

    def snap(self, side: str, points: np.ndarray) -> np.ndarray:
        return self._c + self.radius * _radial_normal(points, self._c)

    def _interior_point(self) -> np.ndarray:
        return self._c.copy()


# ----------------------------------------------------------------------------------
# Polygons
# ----------------------------------------------------------------------------------


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
        pts = _as_points(points, 2)
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
        pts = _as_points(points, 2)
        return _first_match(self._distances(pts), tol * self._scale(), self.sides)

    def mesh(self, h: float, order: int = 1) -> "Mesh":
        """An unstructured triangle mesh (Triangle); each side is first split into pieces ``<= h``."""
        from symop.model.mesh import triangle_mesh

        _check_mesh_args(h, order)
        return triangle_mesh(self, h)

    def _pslg(self, h: float) -> tuple[np.ndarray, np.ndarray, list[str], list[np.ndarray]]:
        pts, segs, names = _polyline_pslg(self._v, list(self.sides), h)
        return pts, segs, names, []


# ----------------------------------------------------------------------------------
# Differences
# ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference(Domain):
    """``base`` with ``hole`` removed; the hole's whole boundary is one side, ``hole_name``.

    The hole must lie strictly inside the base.  On the hole the outward
    normal of the difference points into the hole.
    """

    base: Domain
    hole: Domain
    hole_name: str = "hole"

    def __post_init__(self) -> None:
        base, hole = self.base, self.hole
        if not isinstance(base, Domain) or not isinstance(hole, Domain):
            raise DomainError("a difference is made of two domains")
        if base.dimension != hole.dimension:
            raise DomainError(
                f"cannot remove a {hole.dimension}-dimensional {hole.kind} "
                f"from a {base.dimension}-dimensional {base.kind}"
            )
        if isinstance(hole, Difference):
            raise DomainError("a hole cannot itself have holes; remove the shapes one after the other")
        if self.hole_name in base.sides or self.hole_name == ALL:
            raise DomainError(f"the boundary part name `{self.hole_name}` is already used by {base.describe()}")
        blo, bhi = base.bounding_box()
        hlo, hhi = hole.bounding_box()
        outside = f"the hole {hole.describe()} does not lie inside {base.describe()}"
        if np.any(hlo < blo) or np.any(hhi > bhi):
            raise DomainError(outside)
        pts, _ = hole.sample_boundary(ALL, 512, seed=0)
        if not np.all(base.contains(pts)) or np.any(base.side_of(pts, tol=1e-9) != None):  # noqa: E711
            raise DomainError(outside)
        if isinstance(base, Difference):
            inner, _ = base.hole.sample_boundary(ALL, 256, seed=0)
            if np.any(hole.contains(inner)):
                raise DomainError(f"the hole {hole.describe()} overlaps the hole {base.hole.describe()}")

    @property
    def dimension(self) -> int:
        """The dimension of the base."""
        return self.base.dimension

    @property
    def kind(self) -> str:
        """``"difference"``."""
        return "difference"

    @property
    def sides(self) -> tuple[str, ...]:
        """The sides of the base, then the hole."""
        return tuple(self.base.sides) + (self.hole_name,)

    def bounding_box(self) -> tuple[np.ndarray, np.ndarray]:
        """The bounding box of the base."""
        return self.base.bounding_box()

    def contains(self, points: Any) -> np.ndarray:
        """In the base and not in the interior of the hole (its boundary counts)."""
        pts = _as_points(points, self.dimension)
        on_hole = self.hole.side_of(pts, tol=1e-12) != None  # noqa: E711
        return self.base.contains(pts) & (~self.hole.contains(pts) | on_hole)

    def volume(self) -> float:
        """The base volume minus the hole volume."""
        return self.base.volume() - self.hole.volume()

    def describe(self) -> str:
        """``box x ∈ [0, 1] × y ∈ [0, 1] minus disk centred at (0.5, 0.5) with radius 0.2 (boundary part `hole`)``."""
        return f"{self.base.describe()} minus {self.hole.describe()} (boundary part `{self.hole_name}`)"

    def sample_interior(self, n: int, seed: Any = None) -> np.ndarray:
        """Uniform points of the base, rejecting those in the hole."""
        rng = _rng(seed)

        def propose(m: int, g: np.random.Generator) -> np.ndarray:
            return self.base.sample_interior(m, seed=g)

        def accept(p: np.ndarray) -> np.ndarray:
            return ~self.hole.contains(p)

        return _rejection(int(n), rng, propose, accept, self.dimension, self.describe())

    def _side_measure(self, side: str) -> float:
        if side == self.hole_name:
            return self.hole.boundary_measure(ALL)
        return self.base.boundary_measure(side)

    def _sample_side(self, side: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        if side == self.hole_name:
            pts, normals = self.hole.sample_boundary(ALL, n, seed=rng)
            return pts, -normals
        return self.base.sample_boundary(side, n, seed=rng)

    def _side_normal(self, side: str, points: np.ndarray) -> np.ndarray:
        if side == self.hole_name:
            return -self.hole.normal(ALL, points)
        return self.base.normal(side, points)

    def side_of(self, points: Any, tol: float = 1e-9) -> np.ndarray:
        """The hole name on the hole boundary, the base's side elsewhere."""
        pts = _as_points(points, self.dimension)
        scale = self._scale() / self.hole._scale()
        out = self.base.side_of(pts, tol=tol)
        on_hole = self.hole.side_of(pts, tol=tol * scale) != None  # noqa: E711
        out[on_hole] = self.hole_name
        return out

    def mesh(self, h: float, order: int = 1) -> "Mesh":
        """An unstructured triangle mesh (Triangle) of the 2D difference, the hole left empty."""
        from symop.model.mesh import triangle_mesh

        _check_mesh_args(h, order)
        return triangle_mesh(self, h)

    def _pslg(self, h: float) -> tuple[np.ndarray, np.ndarray, list[str], list[np.ndarray]]:
        bp, bs, bn, bh = self.base._pslg(h)
        hp, hs, _, _ = self.hole._pslg(h)
        points = np.concatenate([bp, hp], axis=0)
        segs = np.concatenate([bs, hs + bp.shape[0]], axis=0)
        names = list(bn) + [self.hole_name] * hs.shape[0]
        return points, segs, names, list(bh) + [self.hole._interior_point()]

    def snap(self, side: str, points: np.ndarray) -> np.ndarray:
        if side == self.hole_name:
            sides = self.hole.sides
            return self.hole.snap(sides[0], points) if len(sides) == 1 else points
        return self.base.snap(side, points)
