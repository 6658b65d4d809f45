"""Time integration and linear solvers shared by finite differences and finite elements.

Problems are ``u' = F(t, u)`` (explicit Runge–Kutta) or
``M u' = L u + N(t, u)`` with a sparse linear part (theta methods, IMEX),
possibly split into pieces (Lie, Strang).  :func:`integrate` runs a stepper
from t0 to t1 with equal steps and returns a :class:`Trajectory`.
"""

from __future__ import annotations

from .driver import Trajectory, integrate, step_count
from .explicit import EXPLICIT_METHODS, ExplicitRK, IntegratorError, Stepper, Tableau, explicit_tableau
from .implicit import IMEX, IMEX_METHODS, THETA_SCHEMES, ThetaMethod, backward_euler, crank_nicolson
from .linear import LinearPart, SparseLinearPart, solve_sparse, torch_bicgstab, torch_cg
from .splitting import LieSplitting, StrangSplitting

__all__ = [
    "EXPLICIT_METHODS",
    "ExplicitRK",
    "IMEX",
    "IMEX_METHODS",
    "IntegratorError",
    "LieSplitting",
    "LinearPart",
    "SparseLinearPart",
    "Stepper",
    "StrangSplitting",
    "THETA_SCHEMES",
    "Tableau",
    "ThetaMethod",
    "Trajectory",
    "backward_euler",
    "crank_nicolson",
    "explicit_tableau",
    "integrate",
    "solve_sparse",
    "step_count",
    "torch_bicgstab",
    "torch_cg",
]
