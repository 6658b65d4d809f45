"""Balls in any dimension (sampling is O(n·d), so d = 10000 is cheap)."""

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
from symop.model.domains.disk import Disk
from symop.model.domains.registry import SPACE_DIMENSION, Argument, DomainKind, register

if TYPE_CHECKING:  # pragma: no cover
    from symop.model.mesh import Mesh

__all__ = ["Ball"]


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
        pts = as_points(points, self.dimension_)
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
        dims = f"{self.dimension_} dimension{'s' if self.dimension_ != 1 else ''}"
        return f"ball in {dims} centred at {where} with radius {_fmt(self.radius)}"

    def sample_interior(self, n: int, seed: Any = None) -> np.ndarray:
        """``n`` uniform points: Gaussian direction times ``r·U^(1/d)``."""
        rng = as_generator(seed)
        n = int(n)
        direction = radial_normal(rng.standard_normal((n, self.dimension_)), 0.0)
        rho = self.radius * rng.random(n) ** (1.0 / self.dimension_)
        return self._c + rho[:, None] * direction

    def sample_interior_torch(self, n: int, generator, dtype=None, device=None):
        """``n`` uniform points as :meth:`sample_interior` draws them, by torch in ``dtype`` on ``device``.

        In high dimension the draw is ``n x d`` normal values: torch's generator in float32 takes
        less than half the time of NumPy's float64 one, and no conversion follows.
        """
        import torch

        d = self.dimension_
        g = torch.randn(int(n), d, generator=generator, dtype=dtype, device=device)
        norm = g.norm(dim=1, keepdim=True)
        direction = g / torch.where(norm == 0, torch.ones_like(norm), norm)
        rho = self.radius * torch.rand(int(n), generator=generator, dtype=dtype, device=device) ** (1.0 / d)
        center = torch.as_tensor(self._c, dtype=g.dtype, device=g.device)
        return center + rho[:, None] * direction

    def _side_measure(self, side: str) -> float:
        d = self.dimension_
        if d == 1:
            return 2.0
        lm = math.log(d) + self.log_volume() - math.log(self.radius)
        return math.exp(lm) if lm < 709.0 else math.inf

    def _sample_side(self, side: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        normals = radial_normal(rng.standard_normal((n, self.dimension_)), 0.0)
        return self._c + self.radius * normals, normals

    def _side_normal(self, side: str, points: np.ndarray) -> np.ndarray:
        return radial_normal(points, self._c)

    def side_of(self, points: Any, tol: float = 1e-9) -> np.ndarray:
        """``"boundary"`` for points with ``| |p - c| - r | <= tol``, else ``None``."""
        pts = as_points(points, self.dimension_)
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
        return self._c + self.radius * radial_normal(points, self._c)

    def _interior_point(self) -> np.ndarray:
        return self._c.copy()

    def mesh_reason(self) -> str | None:
        """Why a ball of this dimension cannot be meshed (only the 2D ball can, as a disk)."""
        if self.dimension_ != 2:
            return "a ball is meshed only in 2D (as a disk)"
        return None

    def text(self, number: Callable[[float], str]) -> str:
        """``ball(dim: 3, radius: 1)``, with ``center: (...)`` when one was given."""
        out = f"ball(dim: {self.dimension}, radius: {number(self.radius)}"
        if self.center is not None:
            out += ", center: (" + ", ".join(number(c) for c in self.center) + ")"
        return out + ")"

    def symbolic_normal(self, side: str, coords: Sequence[sp.Expr]) -> list[sp.Expr]:
        """``(x - c) / r`` (``c`` the origin when no centre was given)."""
        return symbolic_radial(self.center, self.radius, coords)


def _build_ball(args: Mapping[str, Any]) -> Ball:
    return Ball(args["dim"], args["radius"], args["center"])


register(DomainKind("ball", _build_ball,
                    (Argument("dim", "count", "the dimension", default=SPACE_DIMENSION),
                     Argument("radius", "positive", "the radius", default=1.0),
                     Argument("center", "point", "the centre", dimension="dim")),
                    "boundary", "ball(dim: 3, radius: 1)"))
