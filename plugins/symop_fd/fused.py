"""One explicit Runge–Kutta step (every stage and the update) as one compiled function.

For ``u' = F(t, u)`` and a tableau ``(A, b, c)`` the step

    k_i = F(t + c_i dt, u + dt sum_{j<i} a_ij k_j),    u^{n+1} = u + dt sum_i b_i k_i

is written per component, with stencils by index arithmetic on periodic grids
(:func:`symop.discrete.stencils.apply_periodic`) and Dirichlet nodes set by ``slice_scatter``, so
that ``torch.compile`` (inductor) fuses stencils, point-wise terms and the update
into a few loops: no padded copies, no stacked right-hand side, no eager update.

The step is traced once into an aten graph (``make_fx``) and handed to inductor
directly: unlike ``torch.compile`` the result checks no guards per call, which
saves tens of microseconds per step, most of a step's time on small grids.
Should that route fail, ``torch.compile`` is used instead.
"""

from __future__ import annotations

import torch

from symop.integrate import Stepper, explicit_tableau

from .lowering import Lowered


class FusedExplicitRK(Stepper):
    """Explicit RK stepper whose whole step is one ``torch.compile``d function."""

    def __init__(self, low: Lowered, method: str = "rk4", compile: bool = True) -> None:
        self.low = low
        self.tableau = explicit_tableau(method)
        self.name = self.tableau.name
        self.order = self.tableau.order
        for b in low.bsets:
            b.warm(low.time_tensor(0.0) if low.t is not None else None)
        self.compile = compile
        self._fn = None if compile else self._step

    def rhs(self, t, parts: list[torch.Tensor]) -> list[torch.Tensor]:
        """F(t, u) per component, Dirichlet nodes holding dg/dt."""
        low = self.low
        out = low.rhs.outputs(t, parts, roll=True)
        return [b.with_dirichlet(o, t, rate=True) if b.dirichlet else o for o, b in zip(out, low.bsets)]

    def _step(self, times: torch.Tensor, U: torch.Tensor) -> torch.Tensor:
        """One step from ``times = (t, dt)`` and the state ``U`` (components stacked on axis 0)."""
        tab = self.tableau
        t, dt = times[0], times[1]
        u = list(U.unbind(0))
        ks: list[list[torch.Tensor]] = []
        for i in range(tab.stages):
            ui = u
            for aij, kj in zip(tab.a[i], ks):
                if aij != 0.0:
                    ui = [a + (dt * aij) * b for a, b in zip(ui, kj)]
            ti = t + tab.c[i] * dt if tab.c[i] != 0.0 else t
            ks.append(self.rhs(ti, ui))
        new = u
        for bi, ki in zip(tab.b, ks):
            if bi != 0.0:
                new = [a + (dt * bi) * b for a, b in zip(new, ki)]
        return torch.stack(new)

    def step(self, t: float, u: torch.Tensor, dt: float) -> torch.Tensor:
        times = torch.tensor((float(t), float(dt)), dtype=self.low.dtype, device=u.device)
        if self._fn is None:
            self._fn = _compile(self._step, (times, u))
        return self._fn(times, u)


def _compile(fn, example: tuple[torch.Tensor, ...]):
    """``fn`` traced on ``example`` and compiled by inductor; ``torch.compile(fn)`` if that route fails."""
    try:
        from torch.fx.experimental.proxy_tensor import make_fx

        graph = make_fx(lambda *args: fn(*args))(*example)
        compiled = torch._inductor.compile(graph, list(example))
        compiled(*example)  # fail here, not in the time loop
        return compiled
    except Exception:  # private inductor entry point: any failure falls back to the public one
        return torch.compile(fn, dynamic=False)
