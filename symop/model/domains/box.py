"""Axis-aligned boxes of any dimension, and the interval (a one-axis box)."""

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
    as_generator,
    as_rational,
)
from symop.model.domains.registry import Argument, ArgumentError, DomainKind, register
from symop.model.mesh import structured_box_mesh

if TYPE_CHECKING:  # pragma: no cover
    from symop.model.mesh import Mesh

__all__ = ["Box", "Interval"]

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

    has_grid = True

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
        pts = as_points(points, self.dimension)
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
        rng = as_generator(seed)
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
        pts = as_points(points, self.dimension)
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
        _check_mesh_args(h, order)
        n = tuple(max(1, int(math.ceil((hi - lo) / h - 1e-9))) for _, lo, hi in self.axes)
        return structured_box_mesh(self, n)

    def grid_mesh(self, cells: Sequence[int]) -> "Mesh":
        """The structured mesh with ``cells[k]`` cubes along axis k, each split into ``d!`` simplices."""
        return structured_box_mesh(self, tuple(cells))

    def text(self, number: Callable[[float], str]) -> str:
        """``box(x: [0, 1], y: [0, 2])``."""
        return "box(" + ", ".join(f"{name}: [{number(lo)}, {number(hi)}]" for name, lo, hi in self.axes) + ")"

    def symbolic_normal(self, side: str, coords: Sequence[sp.Expr]) -> list[sp.Expr]:
        """``±e_k``: the unit vector of the side's axis, negative on the low side."""
        axis, sign = self.axis_of_side(side)
        n = [sp.S.Zero] * self.dimension
        n[axis] = sp.Integer(sign)
        return n

    def symbolic_on_side(self, side: str, coords: Sequence[sp.Expr]) -> Any:
        """``|x_k - bound| < 1e-9·s`` (``s`` the largest edge, at least 1)."""
        axis, sign = self.axis_of_side(side)
        bound = as_rational(self.axes[axis][1] if sign < 0 else self.axes[axis][2])
        return sp.Abs(coords[axis] - bound) < as_rational(1e-9 * self._scale())

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

    def text(self, number: Callable[[float], str]) -> str:
        """``interval(x: [0, 1])``."""
        name, lo, hi = self.axes[0]
        return f"interval({name}: [{number(lo)}, {number(hi)}])"

    @property
    def name(self) -> str:
        """The coordinate name."""
        return self.axes[0][0]

    @property
    def length(self) -> float:
        """``hi - lo``."""
        return self.axes[0][2] - self.axes[0][1]


def _build_interval(args: Mapping[str, Any]) -> Interval:
    axes = args["axes"]
    if len(axes) != 1:
        raise ArgumentError("`interval` takes exactly one coordinate; use `box` for more")
    return Interval(*axes[0])


def _build_box(args: Mapping[str, Any]) -> Box:
    return Box(tuple(args["axes"]))


register(DomainKind("interval", _build_interval, (Argument("axes", "intervals"),), "left right",
                    "interval(x: [0, 1])"))
register(DomainKind("box", _build_box, (Argument("axes", "intervals"),),
                    "left right (x), bottom top (y), front back (z), {name}_min {name}_max beyond",
                    "box(x: [0, 1], y: [0, 1])"))
