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
import sympy as sp
import torch

from symop.errors import SolveError
from symop.integrate import solve_sparse

from .lowering import Lowered, collect, freeze

#: Newton iterations a continuation stage may take before its step in λ is halved
STAGE_ITERATIONS = 8
#: relative residual (of R(u_0)) at which a continuation stage counts as solved
STAGE_TOLERANCE = 1e-8
#: the smallest step in λ before the continuation gives up
MIN_STEP = 1e-6
#: a converged residual is at most this fraction of the sizes of the equation's terms (its rows' sums of |term|):
#: a residual relative to an enormous R(u_0) ((x + y + u)^1000 of size 1e287 at u_0) is not yet a solution
BALANCE = 1e-6


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
        self._sizes = None

    def balance(self, U: torch.Tensor, R: torch.Tensor) -> float:
        """|R| over |sum of |term||, over the rows that are not Dirichlet rows: how far the equation's terms are
        from cancelling at ``U`` (0 where they all vanish)."""
        if self._sizes is None:
            self._sizes = self.low.evaluator({c.name: sp.Add(*[sp.Abs(t) for t in sp.Add.make_args(c.rhs)])
                                              for c in self.low.comps}, "sizes")
        keep = torch.as_tensor(~self.low.dirichlet_mask, device=U.device)
        sizes = torch.stack(self._sizes(None, U))
        top = _norm(sizes[keep])
        return _norm(R[keep]) / top if top > 0 else 0.0

    def step(self, U: torch.Tensor, R: torch.Tensor) -> torch.Tensor:
        """The Newton correction δ solving J(U) δ = -R."""
        A = self.keep @ self.low.assemble(self.parts, None, U)
        if not np.isfinite(A.data).all():  # a derivative not finite here (sqrt(u) at u = 0): no step to take
            return torch.full_like(U, float("nan"))
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
    """The 2-norm of ``R``, scaled so that entries near the largest float (1e287, say) do not overflow it."""
    top = float(R.abs().max()) if R.numel() else 0.0
    if top == 0.0 or not np.isfinite(top):
        return top
    return top * float(torch.linalg.vector_norm(R / top))


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
            if offset is None and not system.linear and system.balance(U, R) > BALANCE:
                continue  # small next to R(u_0) only: the terms do not cancel yet
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


def initial_guess_text(low: Lowered) -> str:
    """The words for Newton's initial guess: ``u = its Dirichlet data, 0 elsewhere``."""
    names = ", ".join(c.name for c in low.comps)
    return f"{names} = {'their' if len(low.comps) > 1 else 'its'} Dirichlet data, 0 elsewhere"


def not_finite_term(low: Lowered, U: torch.Tensor) -> str | None:
    """The first additive term of a residual whose value, or derivative in a field node, is not finite at ``U``
    at a node that is not a Dirichlet node: ``"`log(u)` is not finite at x = 0.0312, y = 0.0312"``, or None."""
    from symop.writer import language_text

    keep = torch.as_tensor(~low.dirichlet_mask, device=U.device)
    for ci, comp in enumerate(low.comps):
        for term in sp.Add.make_args(comp.rhs):
            nodes = collect([term], low.comps)
            outputs = {"value": term}
            if nodes:
                frozen, syms = freeze(term, nodes)
                back = dict(zip(syms, nodes))
                outputs.update({f"d{k}": sp.diff(frozen, s).xreplace(back) for k, s in enumerate(syms)})
            try:
                values = low.evaluator(outputs, "term")(None, U)
            except Exception:  # a term fd evaluates only inside its whole residual: name none
                continue
            for what, v in zip(("is not finite", *["has no finite derivative"] * (len(outputs) - 1)), values):
                bad = ~torch.isfinite(v) & keep[ci]
                if bool(bad.any()):
                    index = [int(i) for i in torch.nonzero(bad)[0]]
                    where = ", ".join(f"{x} = {float(ax[i]):.3g}"
                                      for x, ax, i in zip(low.coords, low.grid.axes(), index))
                    return f"`{language_text(term, low.problem)}` {what} at {where}"
    return None


def largest_term(low: Lowered, U: torch.Tensor) -> tuple[str, float]:
    """The additive term of a residual with the largest value at ``U`` off the Dirichlet nodes, and that value."""
    from symop.writer import language_text

    keep = torch.as_tensor(~low.dirichlet_mask, device=U.device)
    best = ("", 0.0)
    for ci, comp in enumerate(low.comps):
        terms = sp.Add.make_args(comp.rhs)
        values = low.evaluator({f"t{k}": t for k, t in enumerate(terms)}, "terms")(None, U)
        for term, v in zip(terms, values):
            size = float(v[keep[ci]].abs().max()) if bool(keep[ci].any()) else 0.0
            if size > best[1]:
                best = (language_text(term, low.problem), size)
    return best


def _not_finite(low: Lowered, U: torch.Tensor, when: str) -> SolveError:
    term = not_finite_term(low, U)
    return SolveError(
        f"the residual of the steady problem is not finite {when}"
        + (f": {term}" if term else "")
        + "; check the equation's scaling, or rewrite it so that its terms stay finite near the Dirichlet data "
        "(fd starts Newton's method from them)."
    )


def solve_steady(low: Lowered, solver: str = "auto", tol: float = 1e-10, maxiter: int = 50):
    """Solve ``R(u) = 0``: Newton from the Dirichlet data (0 elsewhere), then, if that fails, the continuation.

    Returns the nodal values and a record: ``newton_iterations`` (linear solves in all), ``residuals`` (the plain
    iteration's relative residuals) and, where it ran, ``continuation_stages`` (steps in λ).  A residual or
    Jacobian that is not finite at the initial guess, or a Newton iteration that reaches no finite residual,
    is a :class:`SolveError` naming the term.
    """
    C, shape = len(low.comps), low.shape
    U0 = torch.zeros((C, *shape), dtype=low.dtype, device=low.device)
    for ci, b in enumerate(low.bsets):
        b.set_dirichlet(U0[ci], None, rate=False)
    guess = f"at Newton's initial guess ({initial_guess_text(low)})"
    R0 = residual(low, U0)
    if not bool(torch.isfinite(R0).all()):
        raise _not_finite(low, U0, guess)
    system = NewtonSystem(low, solver, tol)
    scale = max(_norm(R0), 1e-300)
    U, history, ok = newton(system, U0, scale, tol, maxiter)
    info = {"newton_iterations": system.solves, "residuals": history}
    if ok:
        return U, info
    plain = U
    U, stages, lam, ok = continuation(system, U0, scale, tol, maxiter)
    info.update(newton_iterations=system.solves, continuation_stages=stages)
    if ok:
        return U, info
    R = residual(low, U)
    if bool(torch.isfinite(R).all()) and _norm(R) <= tol * scale:  # small next to R(u_0) alone
        term, size = largest_term(low, U0)
        raise SolveError(
            f"Newton's method brought the residual to {_norm(R) / scale:.2g} of its size at the initial guess "
            f"({initial_guess_text(low)}), where `{term}` reaches {size:.3g}, but not to a solution: the "
            f"residual is still {system.balance(U, R):.2g} times the size of its terms after {system.solves} "
            "Newton steps (with a continuation from the Dirichlet data); rescale the equation so that its terms "
            "are of moderate size near the Dirichlet data, or check that the problem has a solution."
        )
    if not np.isfinite(history[-1]):
        first = not_finite_term(low, U0)  # a value or a derivative already at the guess
        if first is not None:
            raise SolveError(
                f"Newton's method cannot start from its initial guess ({initial_guess_text(low)}): {first}, so "
                "the Newton step is not finite; rewrite the equation so that its terms and their derivatives "
                "are finite there, or use another method.")
        raise SolveError(
            f"Newton's method from the initial guess ({initial_guess_text(low)}) reached a state where the "
            f"residual is not finite after {len(history) - 1} iteration(s)"
            + (f" ({term})" if (term := not_finite_term(low, plain)) else "")
            + f", and a continuation from the Dirichlet data to the problem stalled {100 * lam:.2g}% of the way "
            "there; the equation's terms overflow near the solution Newton is looking for: check the equation's "
            "scaling, or that the problem has a solution."
        )
    raise SolveError(
        f"Newton's method did not converge in {len(history) - 1} iterations (the relative residual went "
        f"{history[1]:.3g} → {history[-1]:.3g}, tolerance {tol:g}), nor did a continuation from the Dirichlet "
        f"data to the problem (it stalled {100 * lam:.2g}% of the way there); try a finer grid, or check that the "
        "problem has a solution."
    )
