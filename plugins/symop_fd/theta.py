"""The theta method for a linear part whose coefficients change in time.

For ``u' = L(t) u + s(t)`` (Dirichlet rows of L zero, their rates in s) one step is

    (I - theta dt L(t + dt)) u^1 = (I + (1 - theta) dt L(t)) u^0
                                   + dt [theta s(t + dt) + (1 - theta) s(t)],

backward Euler for theta = 1 (order 1), Crank–Nicolson for theta = 1/2 (order 2).
``L(t)`` is assembled from the symbolic Jacobian at each new time level (the last
one is kept, so a step assembles once).  The Dirichlet rows of the system are
rows of the identity; with ``fixed`` their right-hand side is the data
``g(t + dt)`` itself, so u^1_b = g(t + dt) (as :class:`symop.integrate.ThetaMethod`'s ``fixed``).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import scipy.sparse as sps
import torch

from symop.integrate import Stepper, schemes, solve_sparse

from .lowering import Lowered


class TimeDependentTheta(Stepper):
    """Theta steps with ``L(t)`` re-assembled per time level and a sparse solve per step."""

    def __init__(self, low: Lowered, exprs, source: Callable[[float], torch.Tensor], theta: float,
                 solver: str = "auto", fixed: Callable[[float, torch.Tensor], torch.Tensor] | None = None) -> None:
        self.low = low
        self.fixed = fixed
        self.parts = low.jacobian_parts(exprs)
        self.source = source
        self.theta = float(theta)
        self.solver = solver
        # the registered theta scheme's name and order (backward-euler 1, crank-nicolson 2, ...)
        named = [s for s in schemes("implicit") if s.theta == self.theta]
        self.name, self.order = (named[0].name, named[0].order) if named else (f"theta={self.theta:g}", 1)
        self.keep = sps.diags((~low.dirichlet_mask.reshape(-1)).astype(np.float64))
        self._zero = torch.zeros((len(low.comps), *low.shape), dtype=low.dtype, device=low.device)
        self._last: tuple[float, sps.csr_matrix] | None = None

    def L(self, t: float) -> sps.csr_matrix:
        """The linear part at time t (cached for the last t asked)."""
        if self._last is None or self._last[0] != t:
            L = self.low.assemble(self.parts, self.low.time_tensor(t), self._zero)
            self._last = (t, sps.csr_matrix(self.keep @ L))
        return self._last[1]

    def step(self, t: float, u: torch.Tensor, dt: float) -> torch.Tensor:
        th = self.theta
        flat = u.detach().reshape(-1).cpu().numpy()
        rhs = flat.copy()
        if th < 1.0:
            rhs += (1.0 - th) * dt * (self.L(t) @ flat)
            rhs += (1.0 - th) * dt * self.source(t).reshape(-1).cpu().numpy()
        rhs += th * dt * self.source(t + dt).reshape(-1).cpu().numpy()
        if self.fixed is not None:
            rhs = self.fixed(t + dt, torch.as_tensor(rhs).reshape(u.shape)).reshape(-1).numpy()
        A = sps.identity(flat.size, format="csr") - th * dt * self.L(t + dt)
        x = solve_sparse(A, rhs, solver=self.solver)
        return torch.as_tensor(x, dtype=u.dtype).to(u.device).reshape(u.shape)
