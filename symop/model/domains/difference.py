"""CSG differences: a base domain with a hole removed (``box(...) minus disk(...) as hole``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import sympy as sp

from symop.errors import DomainError
from symop.model.domains.base import ALL, Domain, as_points, _check_mesh_args, _rejection, as_generator
from symop.model.mesh import triangle_mesh

if TYPE_CHECKING:  # pragma: no cover
    from symop.model.mesh import Mesh

__all__ = ["Difference"]


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
        pts = as_points(points, self.dimension)
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
        rng = as_generator(seed)

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
        pts = as_points(points, self.dimension)
        scale = self._scale() / self.hole._scale()
        out = self.base.side_of(pts, tol=tol)
        on_hole = self.hole.side_of(pts, tol=tol * scale) != None  # noqa: E711
        out[on_hole] = self.hole_name
        return out

    def mesh(self, h: float, order: int = 1) -> "Mesh":
        """An unstructured triangle mesh (Triangle) of the 2D difference, the hole left empty."""
        _check_mesh_args(h, order)
        return triangle_mesh(self, h)

    def _pslg(self, h: float) -> tuple[np.ndarray, np.ndarray, list[str], list[np.ndarray]]:
        bp, bs, bn, bh = self.base._pslg(h)
        hp, hs, _, _ = self.hole._pslg(h)
        points = np.concatenate([bp, hp], axis=0)
        segs = np.concatenate([bs, hs + bp.shape[0]], axis=0)
        names = list(bn) + [self.hole_name] * hs.shape[0]
        return points, segs, names, list(bh) + [self.hole._interior_point()]

    def mesh_reason(self) -> str | None:
        """Why the difference cannot be meshed: its base's or its hole's reason, if any."""
        return self.base.mesh_reason() or self.hole.mesh_reason()

    def text(self, number: Callable[[float], str]) -> str:
        """``box(...) minus disk(...) as hole``."""
        return f"{self.base.text(number)} minus {self.hole.text(number)} as {self.hole_name}"

    def symbolic_normal(self, side: str, coords: Sequence[sp.Expr]) -> list[sp.Expr]:
        """The base's normal on its sides; on the hole, minus the hole's own (piecewise) outward normal."""
        if side == self.hole_name:
            return [-c for c in self.hole.symbolic_boundary_normal(coords)]
        return self.base.symbolic_normal(side, coords)

    def symbolic_on_side(self, side: str, coords: Sequence[sp.Expr]) -> Any:
        """The base's test on its sides (a difference cannot itself be a hole)."""
        if side == self.hole_name:
            return super().symbolic_on_side(side, coords)
        return self.base.symbolic_on_side(side, coords)

    def snap(self, side: str, points: np.ndarray) -> np.ndarray:
        if side == self.hole_name:
            sides = self.hole.sides
            return self.hole.snap(sides[0], points) if len(sides) == 1 else points
        return self.base.snap(side, points)
