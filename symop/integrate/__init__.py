"""Time integration and linear solvers shared by finite differences and finite elements.

Problems are ``u' = F(t, u)`` (explicit Runge–Kutta) or
``M u' = L u + N(t, u)`` with a sparse linear part (theta methods, IMEX),
possibly split into pieces (Lie, Strang).  :func:`integrate` runs a stepper
from t0 to t1 with equal steps and returns a :class:`Trajectory`.  Schemes are
registered by name (:mod:`.schemes`): :func:`make_stepper` builds one, and
methods offer :func:`scheme_names` as their choices.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from symop.lazy import exports

#: where each public name lives; a submodule is imported when one of its names is first used, so that
#: reading the scheme registry (a method's ``scheme`` choices in ``symop plugins``) does not import torch
_HOMES = {
    "driver": ("Trajectory", "integrate", "step_count"),
    "explicit": ("EXPLICIT_METHODS", "ExplicitRK", "IntegratorError", "NonFiniteStage", "Stepper", "Tableau",
                 "explicit_tableau"),
    "implicit": ("IMEX", "IMEX_METHODS", "THETA_SCHEMES", "ThetaMethod", "backward_euler", "crank_nicolson"),
    "linear": ("LinearPart", "SparseLinearPart", "solve_sparse", "torch_bicgstab", "torch_cg"),
    "schemes": ("KINDS", "SPLITS", "Scheme", "get_scheme", "make_stepper", "register_scheme", "scheme_names",
                "schemes", "split_order", "unregister_scheme"),
    "splitting": ("LieSplitting", "StrangSplitting"),
}

if TYPE_CHECKING:  # pragma: no cover
    from .driver import Trajectory, integrate, step_count
    from .explicit import (EXPLICIT_METHODS, ExplicitRK, IntegratorError, NonFiniteStage, Stepper, Tableau,
                           explicit_tableau)
    from .implicit import IMEX, IMEX_METHODS, THETA_SCHEMES, ThetaMethod, backward_euler, crank_nicolson
    from .linear import LinearPart, SparseLinearPart, solve_sparse, torch_bicgstab, torch_cg
    from .schemes import (KINDS, SPLITS, Scheme, get_scheme, make_stepper, register_scheme, scheme_names, schemes,
                          split_order, unregister_scheme)
    from .splitting import LieSplitting, StrangSplitting


__getattr__, __dir__ = exports(__name__, _HOMES)

__all__ = [
    "EXPLICIT_METHODS",
    "ExplicitRK",
    "IMEX",
    "IMEX_METHODS",
    "IntegratorError",
    "KINDS",
    "LieSplitting",
    "LinearPart",
    "NonFiniteStage",
    "SPLITS",
    "Scheme",
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
    "get_scheme",
    "integrate",
    "make_stepper",
    "register_scheme",
    "scheme_names",
    "schemes",
    "solve_sparse",
    "split_order",
    "step_count",
    "torch_bicgstab",
    "torch_cg",
    "unregister_scheme",
]
