"""Operator splitting: combine steppers for ``u' = A(u) + B(u)``.

With the sub-flows phi_A(dt), phi_B(dt) (each a :class:`Stepper`):

* Lie–Trotter (order 1):  u^{n+1} = phi_B(dt) phi_A(dt) u^n
* Strang (order 2):       u^{n+1} = phi_A(dt/2) phi_B(dt) phi_A(dt/2) u^n

The order is the splitting order capped by the orders of the sub-steppers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .explicit import Stepper

if TYPE_CHECKING:  # pragma: no cover
    import torch


class LieSplitting(Stepper):
    """Lie–Trotter splitting: a full step of ``a``, then a full step of ``b``."""

    #: the order of the splitting itself (the sub-steppers' orders cap it further)
    split_order = 1

    def __init__(self, a: Stepper, b: Stepper) -> None:
        self.a = a
        self.b = b
        self.order = min(self.split_order, a.order, b.order)
        self.name = "lie"

    def step(self, t: float, u: torch.Tensor, dt: float) -> torch.Tensor:
        """u^{n+1} = phi_B(dt) phi_A(dt) u^n."""
        return self.b.step(t, self.a.step(t, u, dt), dt)


class StrangSplitting(Stepper):
    """Strang splitting: half a step of ``a``, a full step of ``b``, half a step of ``a``."""

    #: the order of the splitting itself (the sub-steppers' orders cap it further)
    split_order = 2

    def __init__(self, a: Stepper, b: Stepper) -> None:
        self.a = a
        self.b = b
        self.order = min(self.split_order, a.order, b.order)
        self.name = "strang"

    def step(self, t: float, u: torch.Tensor, dt: float) -> torch.Tensor:
        """u^{n+1} = phi_A(dt/2) phi_B(dt) phi_A(dt/2) u^n."""
        half = 0.5 * dt
        v = self.a.step(t, u, half)
        v = self.b.step(t, v, dt)
        return self.a.step(t + half, v, half)
