"""Steady problems: Newton's method on R(u) = 0 with the sparse Jacobian
J = sum_k diag(dR/dnode_k) D_k (one step when R is affine).

Where plain Newton from the initial guess u_0 fails (diverges, cycles, or
stalls), the solve follows the Newton homotopy

    H(u, λ) = R(u) - (1 - λ) R(u_0) = 0,   λ: 0 → 1,

whose solution at λ = 0 is u_0 and at λ = 1 the solution sought: λ advances
in steps that halve when a few Newton iterations from the last solution do
not converge, and double when they converge quickly.  It costs only what fails
the plain iteration: strongly nonlinear coefficients (-div((1 + u²) grad u) +
u³ = f with u of size 20, say) that send the first Newton steps far away.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sps
import torch

from symop.errors import SolveError
from symop.integrate import solve_sparse

from .lowering import Lowered

#: Newton iterations a continuation stage may take before its step in λ is halved
STAGE_ITERATIONS = 8
#: relative residual (of R(u_0)) at which a continuation stage counts as solved
STAGE_TOLERANCE = 1e-8
#: the smallest step in λ before the continuation gives up
MIN_STEP = 1e-6


def residual(low: Lowered, U: torch.Tensor) -> torch.Tensor:
    R = torch.stack(low.rhs(None, U))
    for ci, b in enumerate(low.bsets):
        if b.dirichlet:
            g = b.set_dirichlet(torch.zeros_like(U[ci]), None, rate=False)
            R[ci][torch.as_tensor(b.mask, device=U.device)] = (U[ci] - g)[torch.as_tensor(b.mask, device=U.device)]
    return R


@dataclass
class NewtonSystem:
    """The linearised system of R at a state, with Dirichlet rows ``u - g = 0`` kept in it."""

    low: Lowered
    solver: str
    tol: float
    solves: int = 0
    parts: tuple = field(init=False)

    def __post_init__(self) -> None:
        self.parts = self.low.jacobian_parts([c.rhs for c in self.low.comps])
        self.mask = self.low.dirichlet_mask.reshape(-1)
        self.keep = sps.diags((~self.mask).astype(np.float64))
        self.ident = sps.diags(self.mask.astype(np.float64))
        # affine R: the Jacobian coefficients do not depend on the unknowns
        self.linear = self.parts[2] is None or not self.parts[2].fn.nodes

    def step(self, U: torch.Tensor, R: torch.Tensor) -> torch.Tensor:
        """The Newton correction δ solving J(U) δ = -R."""
        A = self.keep @ self.low.assemble(self.parts, None, U)
        # the Dirichlet rows (u - g = 0) scaled to the size of the other rows: next to the h^-4 rows of a fourth-order
        # operator, rows of size 1 would take O(eps h^-4) errors from the solve (the normwise backward error)
        diag = np.abs(A.diagonal())[~self.mask]
        weight = float(diag.max()) if diag.size and diag.max() > 0 and np.isfinite(diag.max()) else 1.0
        J = sps.csr_matrix(A + weight * self.ident)
        b = -R.reshape(-1)
        if weight != 1.0 and self.mask.any():
            b = torch.where(torch.as_tensor(self.mask, device=b.device), weight * b, b)
        self.solves += 1
        tol = min(self.tol, 1e-12) if self.solver != "direct" else self.tol
        return solve_sparse(J, b, solver=self.solver, tol=tol).reshape(U.shape)


def _norm(R: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(R))


def newton(system: NewtonSystem, U: torch.Tensor, scale: float, tol: float, maxiter: int,
           offset: torch.Tensor | None = None, monotone: bool = False):
    """Newton's method on ``R(U) - offset = 0`` from ``U``: ``(U, relative residuals, converged)``.

    Residuals are relative to ``scale``; ``monotone`` stops (unconverged) at the first iteration whose residual
    does not fall, as a continuation stage wants.
    """
    def res(V):
        R = residual(system.low, V)
        return R if offset is None else R - offset

    R = res(U)
    history = [_norm(R) / scale]
    if history[0] <= tol:
        return U, history, True
    for _ in range(maxiter):
        delta = system.step(U, R)
        U = U + delta
        R = res(U)
        rel = _norm(R) / scale
        history.append(rel)
        if not np.isfinite(rel) or (monotone and rel >= history[-2]):
            return U, history, False
        if rel <= tol or (system.linear and rel <= 1e3 * tol):
            return U, history, True
        if _norm(delta) / max(_norm(U), 1e-300) < 1e-14:
            return U, history, True
    return U, history, False


def continuation(system: NewtonSystem, U0: torch.Tensor, scale: float, tol: float, maxiter: int):
    """Follow ``R(u) = (1 - λ) R(u_0)`` from λ = 0 (``u_0``) to λ = 1: ``(U, stages, λ reached, converged)``."""
    R0 = residual(system.low, U0)
    U, lam, step, stages = U0, 0.0, 0.25, 0
    while lam < 1.0:
        target = min(1.0, lam + step)
        V, history, ok = newton(system, U, scale, STAGE_TOLERANCE, STAGE_ITERATIONS, offset=(1 - target) * R0,
                                monotone=True)
        if ok:
            U, lam, stages = V, target, stages + 1
            if len(history) <= 4:
                step = min(1.0, 2 * step)
        else:
            step /= 2
            if step < MIN_STEP:
                return U, stages, lam, False
    U, _, ok = newton(system, U, scale, tol, maxiter)
    return U, stages, lam, ok


def solve_steady(low: Lowered, solver: str = "auto", tol: float = 1e-10, maxiter: int = 50):
    """Solve ``R(u) = 0``: Newton from the Dirichlet data (0 elsewhere), then, if that fails, the continuation.

    Returns the nodal values and a record: ``newton_iterations`` (linear solves in all), ``residuals`` (the plain
    iteration's relative residuals) and, where it ran, ``continuation_stages`` (steps in λ).
    """
    C, shape = len(low.comps), low.shape
    U0 = torch.zeros((C, *shape), dtype=low.dtype, device=low.device)
    for ci, b in enumerate(low.bsets):
        b.set_dirichlet(U0[ci], None, rate=False)
    system = NewtonSystem(low, solver, tol)
    scale = max(_norm(residual(low, U0)), 1e-300)
    U, history, ok = newton(system, U0, scale, tol, maxiter)
    info = {"newton_iterations": system.solves, "residuals": history}
    if ok:
        return U, info
    U, stages, lam, ok = continuation(system, U0, scale, tol, maxiter)
    info.update(newton_iterations=system.solves, continuation_stages=stages)
    if ok:
        return U, info
    raise SolveError(
        f"Newton's method did not converge in {len(history) - 1} iterations (the relative residual went "
        f"{history[1]:.3g} → {history[-1]:.3g}, tolerance {tol:g}), nor did a continuation from the Dirichlet "
        f"data to the problem (it stalled {100 * lam:.2g}% of the way there); try a finer grid, or check that the "
        "problem has a solution."
    )
