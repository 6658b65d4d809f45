"""Implicit time steps with Newton's method: the theta method on the whole nonlinear right-hand side.

A nonlinear term of second order in space (``u^2*lap(u)``, ``div((1 + u^2)*grad(u))``) is a diffusion whose
coefficient depends on the solution.  Taken explicitly (IMEX, or the reaction sub-step of a splitting) it
limits the step to ``dt ~ h^2 / (2 c)``, 1/100 of the time interval is far beyond that on any useful mesh, and
the run blows up.  fem therefore steps such problems with the theta method on the whole right-hand side,

    M y^1 - theta dt F(t^1, y^1) = M y^0 + (1 - theta) dt F(t^0, y^0),

solved by Newton's method with the Jacobian ``M - theta dt dF/dy`` of the weak form: backward Euler
(theta = 1, order 1, L-stable) and Crank–Nicolson (theta = 1/2, order 2, A-stable) keep their orders and
their stability, as for a linear problem.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from symop.errors import SolveError
from symop.integrate import Stepper

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import scipy.sparse as sps
    import torch

#: ``rhs(t, y, jacobian) -> (F, dF/dy or None)``: the right-hand side of ``M y' = F(t, y)`` (0 in the rows of
#: the unknowns a Dirichlet condition fixes, whose state entries stay 0) and, when asked, its Jacobian (rows and
#: columns of those unknowns zero)
RightHandSide = Callable[[float, "np.ndarray", bool], "tuple[np.ndarray, sps.spmatrix | None]"]
#: ``solve(A, b) -> x`` with ``A x = b`` (``A`` may be overwritten)
LinearSolve = Callable[["sps.csr_matrix", "np.ndarray"], "np.ndarray"]


def newton(system: Callable[["np.ndarray"], "tuple[np.ndarray, sps.spmatrix]"], solve: LinearSolve, y: "np.ndarray",
           tol: float, maxit: int, not_finite: Callable[["np.ndarray", int], Exception] | None = None):
    """Newton's method on ``G(y) = 0`` from ``y``: ``(y, relative steps, converged)``.

    ``system(y)`` gives ``G`` and its Jacobian ``A``; each iteration takes ``y + solve(A, -G)`` and stops once
    the relative step ``|dy| / max(1, |y|)`` is at most ``tol``, or after ``maxit`` iterations (not converged).
    Where ``G`` or ``A`` is not finite, ``not_finite(y, iteration)`` is raised (a caller's ``system`` may
    raise its own sentence first).
    """
    import numpy as np

    steps: list[float] = []
    for it in range(1, maxit + 1):
        G, A = system(y)
        if not_finite is not None and not (np.isfinite(G).all() and np.isfinite(A.data).all()):
            raise not_finite(y, it)
        dy = solve(A, -G)
        y = y + dy
        with np.errstate(invalid="ignore", over="ignore"):  # an overflowing iterate: the next check says so
            steps.append(float(np.linalg.norm(dy) / max(1.0, np.linalg.norm(y))))
        if steps[-1] <= tol:
            return y, steps, True
    return y, steps, False


class NewtonTheta(Stepper):
    """The theta method for ``M y' = F(t, y)`` with Newton's method in each step.

    ``mass`` is ``M`` (the identity's rows in the rows of the fixed unknowns), ``rhs`` and ``solve`` as
    :data:`RightHandSide` and :data:`LinearSolve`.  Newton starts from ``y^0`` and stops when its relative
    step ``|dy| / max(1, |y|)`` is at most ``tol``; :class:`~symop.errors.SolveError` when it has not after
    ``maxit`` iterations, or when the right-hand side or its Jacobian is not finite at an iterate.
    :attr:`iterations` counts the iterations of all steps, :attr:`most` the most one step took.
    """

    def __init__(self, mass: sps.csr_matrix, rhs: RightHandSide, solve: LinearSolve, theta: float, name: str,
                 order: int, tol: float = 1e-10, maxit: int = 30) -> None:
        self.mass = mass
        self.rhs = rhs
        self.solve = solve
        self.theta = float(theta)
        self.name = name
        self.order = order
        self.tol = float(tol)
        self.maxit = int(maxit)
        self.iterations = 0
        self.most = 0

    def step(self, t: float, u: torch.Tensor, dt: float) -> torch.Tensor:
        """One step from ``u`` at ``t`` to ``t + dt``."""
        import numpy as np
        import torch

        th = self.theta
        y0 = u.detach().cpu().numpy().astype(np.float64).reshape(-1)
        b = self.mass @ y0
        if th < 1.0:
            F0, _ = self.rhs(t, y0, False)
            self._finite(F0, None, t, t, dt)
            b = b + ((1.0 - th) * dt) * F0
        def system(y):
            F, J = self.rhs(t + dt, y, True)
            self._finite(F, J, t + dt, t, dt)
            return self.mass @ y - (th * dt) * F - b, (self.mass - (th * dt) * J).tocsr()

        y, steps, converged = newton(system, self.solve, y0.copy(), self.tol, self.maxit)
        if converged:
            self.iterations += len(steps)
            self.most = max(self.most, len(steps))
            return torch.as_tensor(y, dtype=u.dtype, device=u.device).reshape(u.shape)
        raise SolveError(
            f"Newton's method of the implicit time step from t = {t:.6g} to {t + dt:.6g} did not converge in "
            f"{self.maxit} iterations (last relative step {steps[-1]:.3g}); try a smaller dt or more iterations "
            "(maxit), or check that the problem has a solution."
        )

    @staticmethod
    def _finite(F: np.ndarray, J, at: float, t: float, dt: float) -> None:
        """:class:`~symop.errors.SolveError` when ``F`` (or ``J``) at the time ``at`` is not finite."""
        import numpy as np

        if np.isfinite(F).all() and (J is None or np.isfinite(J.data).all()):
            return
        raise SolveError(
            f"the right-hand side of the equation or its Jacobian is not finite at t = {at:.6g} in the implicit "
            f"time step from t = {t:.6g} to {t + dt:.6g} (the solution left the range where the equation's terms "
            "are finite); try a smaller dt, or check the equation's scaling."
        )
