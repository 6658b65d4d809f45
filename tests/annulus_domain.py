"""A domain kind defined outside symop, in one module: the annulus ``r_in <= |x - c| <= r_out``.

This is the whole of what a new domain needs: a :class:`~symop.model.domains.Domain`
subclass that knows its geometry (sampling, numeric and exact normals, its
mesh, its text) and a :class:`~symop.model.domains.DomainKind` that names it
in the language, returned by the ``symop_domains`` hook (the module is a
plugin when announced under the ``symop`` entry points)::

    domain annulus(center: (0, 0), inner: 0.5, outer: 1)   # sides: outer, inner
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy as sp

from symop.model.domains import Argument, Domain, DomainError, DomainKind
from symop.model.domains.base import as_points, as_generator, radial_normal, symbolic_radial
from symop.model.mesh import Mesh, triangle_mesh
from symop.plugins import hookimpl


@dataclass(frozen=True)
class Annulus(Domain):
    """The closed ring between two circles around ``center``; sides ``outer`` and ``inner``."""

    center: tuple[float, float]
    inner: float
    outer: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "center", tuple(float(c) for c in self.center))
        if not 0 < float(self.inner) < float(self.outer):
            raise DomainError(f"an annulus needs 0 < inner < outer, not inner {self.inner:g}, outer {self.outer:g}")

    dimension = 2  # a class attribute satisfies the abstract property
    kind = "annulus"
    sides = ("outer", "inner")

    @property
    def _c(self) -> np.ndarray:
        return np.asarray(self.center)

    def bounding_box(self) -> tuple[np.ndarray, np.ndarray]:
        """``center ± outer``."""
        return self._c - self.outer, self._c + self.outer

    def contains(self, points: Any) -> np.ndarray:
        """Which points satisfy ``inner <= |p - c| <= outer``."""
        r = np.linalg.norm(as_points(points, 2) - self._c, axis=1)
        return (r >= self.inner) & (r <= self.outer)

    def volume(self) -> float:
        """``π (R² - r²)``."""
        return math.pi * (self.outer**2 - self.inner**2)

    def describe(self) -> str:
        """``annulus around (0, 0) between radii 0.5 and 1``."""
        return f"annulus around ({self.center[0]:g}, {self.center[1]:g}) between radii {self.inner:g} and {self.outer:g}"

    def sample_interior(self, n: int, seed: Any = None) -> np.ndarray:
        """Uniform points: angle uniform, ``ρ = sqrt(r² + U (R² - r²))``."""
        rng = as_generator(seed)
        theta = 2 * math.pi * rng.random(int(n))
        rho = np.sqrt(self.inner**2 + rng.random(int(n)) * (self.outer**2 - self.inner**2))
        return self._c + rho[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1)

    def _radius(self, side: str) -> float:
        return self.outer if side == "outer" else self.inner

    def _sign(self, side: str) -> float:
        return 1.0 if side == "outer" else -1.0  # the inner circle's outward normal points to the centre

    def _side_measure(self, side: str) -> float:
        return 2 * math.pi * self._radius(side)

    def _sample_side(self, side: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        theta = 2 * math.pi * rng.random(n)
        radial = np.stack([np.cos(theta), np.sin(theta)], axis=1)
        return self._c + self._radius(side) * radial, self._sign(side) * radial

    def _side_normal(self, side: str, points: np.ndarray) -> np.ndarray:
        return self._sign(side) * radial_normal(points, self._c)

    def side_of(self, points: Any, tol: float = 1e-9) -> np.ndarray:
        """``outer``/``inner`` for points on either circle, ``None`` elsewhere."""
        r = np.linalg.norm(as_points(points, 2) - self._c, axis=1)
        out = np.full(r.shape[0], None, dtype=object)
        eps = tol * self._scale()
        out[np.abs(r - self.inner) <= eps] = "inner"
        out[np.abs(r - self.outer) <= eps] = "outer"
        return out

    def mesh(self, h: float, order: int = 1) -> Mesh:
        """A triangle mesh between two polygonal circles, the inner disk left as a hole."""
        return triangle_mesh(self, h)

    def _pslg(self, h: float):
        points, segments, names = [], [], []
        for side in self.sides:
            r = self._radius(side)
            m = max(16, int(math.ceil(2 * math.pi * r / h)))
            theta = 2 * math.pi * np.arange(m) / m
            start = sum(len(p) for p in points)
            points.append(self._c + r * np.stack([np.cos(theta), np.sin(theta)], axis=1))
            segments.append(start + np.stack([np.arange(m), (np.arange(m) + 1) % m], axis=1))
            names += [side] * m
        hole = self._c.copy()
        return np.concatenate(points), np.concatenate(segments), names, [hole]

    def snap(self, side: str, points: np.ndarray) -> np.ndarray:
        return self._c + self._radius(side) * radial_normal(points, self._c)

    def text(self, number: Callable[[float], str]) -> str:
        """``annulus(center: (0, 0), inner: 0.5, outer: 1)``."""
        return (f"annulus(center: ({number(self.center[0])}, {number(self.center[1])}), "
                f"inner: {number(self.inner)}, outer: {number(self.outer)})")

    def symbolic_normal(self, side: str, coords: Sequence[sp.Expr]) -> list[sp.Expr]:
        """``±(x - c) / r``: outward on the outer circle, towards the centre on the inner one."""
        self._parts(side)
        n = symbolic_radial(self.center, self._radius(side), coords)
        return n if side == "outer" else [-v for v in n]


def _build(args: Mapping[str, Any]) -> Annulus:
    return Annulus(args["center"], args["inner"], args["outer"])


KIND = DomainKind("annulus", _build,
                  (Argument("center", "point", "the centre", default=(0.0, 0.0), dimension=2),
                   Argument("inner", "positive", "the inner radius", required=True),
                   Argument("outer", "positive", "the outer radius", required=True)),
                  "outer inner", "annulus(center: (0, 0), inner: 0.5, outer: 1)")


@hookimpl
def symop_domains():
    """The annulus, for the language."""
    return [KIND]
