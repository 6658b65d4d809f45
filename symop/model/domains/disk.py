"""Disks in the plane."""

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
    _fmt,
    as_generator,
    radial_normal,
    symbolic_radial,
)
from symop.model.domains.registry import Argument, DomainKind, register
from symop.model.mesh import triangle_mesh

if TYPE_CHECKING:  # pragma: no cover
    from symop.model.mesh import Mesh

__all__ = ["Disk"]


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
        pts = as_points(points, 2)
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
        rng = as_generator(seed)
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
        return radial_normal(points, self._c)

    def side_of(self, points: Any, tol: float = 1e-9) -> np.ndarray:
        """``"boundary"`` for points with ``| |p - c| - r | <= tol``, else ``None``."""
        pts = as_points(points, 2)
        on = np.abs(np.linalg.norm(pts - self._c, axis=1) - self.radius) <= tol * self._scale()
        out = np.full(pts.shape[0], None, dtype=object)
        out[on] = "boundary"
        return out

    def mesh(self, h: float, order: int = 1) -> "Mesh":
        """An unstructured triangle mesh (Triangle) with boundary nodes on the circle.

        The circle is first split into ``m = max(16, ceil(2πr / h))`` chords.
        """
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
        return self._c + self.radius * radial_normal(points, self._c)

    def _interior_point(self) -> np.ndarray:
        return self._c.copy()

    def text(self, number: Callable[[float], str]) -> str:
        """``disk(center: (0, 0), radius: 1)``."""
        return f"disk(center: ({number(self.center[0])}, {number(self.center[1])}), radius: {number(self.radius)})"

    def symbolic_normal(self, side: str, coords: Sequence[sp.Expr]) -> list[sp.Expr]:
        """``(x - c) / r``."""
        return symbolic_radial(self.center, self.radius, coords)


def _build_disk(args: Mapping[str, Any]) -> Disk:
    return Disk(args["center"], args["radius"])


register(DomainKind("disk", _build_disk,
                    (Argument("center", "point", "the centre", default=(0.0, 0.0), dimension=2),
                     Argument("radius", "positive", "the radius", required=True)),
                    "boundary", "disk(center: (0, 0), radius: 1)"))
