"""Time integration and linear solvers shared by finite differences and finite elements.

Problems are ``u' = F(t, u)`` (explicit Runge–Kutta) or
``M u' = L u + N(t, u)`` with a sparse linear part (theta methods, IMEX),
possibly split into pieces (Lie, Strang).  :func:`integrate` runs a stepper
from t0 to t1 with equal steps and returns a :class:`Trajectory`.  Schemes are
registered by name (:mod:`.schemes`): :func:`make_stepper` builds one, and
methods offer :func:`scheme_names` as their choices.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

#: where each public name lives; a submodule is imported when one of its names is first used, so that
#: reading the scheme registry (a method's ``scheme`` choices in ``symop plugins``) does not import torch
_HOMES = {
    "driver": ("Trajectory", "integrate", "step_count"),
    "explicit": ("EXPLICIT_METHODS", "ExplicitRK", "IntegratorError", "Stepper", "Tableau", "explicit_tableau"),
    "implicit": ("IMEX", "IMEX_METHODS", "THETA_SCHEMES", "ThetaMethod", "backward_euler", "crank_nicolson"),
    "linear": ("LinearPart", "SparseLinearPart", "solve_sparse", "torch_bicgstab", "torch_cg"),
    "schemes": ("KINDS", "SPLITS", "Scheme", "get_scheme", "make_stepper", "register_scheme", "scheme_names",
                "schemes", "split_order", "unregister_scheme"),
    "splitting": ("LieSplitting", "StrangSplitting"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

if TYPE_CHECKING:  # pragma: no cover
    from .driver import Trajectory, integrate, step_count
    from .explicit import EXPLICIT_METHODS, ExplicitRK, IntegratorError, Stepper, Tableau, explicit_tableau
    from .implicit import IMEX, IMEX_METHODS, THETA_SCHEMES, ThetaMethod, backward_euler, crank_nicolson
    from .linear import LinearPart, SparseLinearPart, solve_sparse, torch_bicgstab, torch_cg
    from .schemes import (KINDS, SPLITS, Scheme, get_scheme, make_stepper, register_scheme, scheme_names, schemes,
                          split_order, unregister_scheme)
    from .splitting import LieSplitting, StrangSplitting


def __getattr__(name: str) -> Any:
    """The public name ``name``, imported from its submodule on first use (PEP 562)."""
    module = _HOME_OF.get(name)
    if module is None and name in _HOMES:  # a submodule itself, e.g. `symop.training.dist`
        return import_module(f"{__name__}.{name}")
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    loaded = import_module(f"{__name__}.{module}")
    # bind every name of that submodule: importing `schemes.py` set the package's `schemes` to the module,
    # and the public `schemes` is the function
    globals().update({other: getattr(loaded, other) for other in _HOMES[module]})
    return globals()[name]


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME_OF))


__all__ = [
    "EXPLICIT_METHODS",
    "ExplicitRK",
    "IMEX",
    "IMEX_METHODS",
    "IntegratorError",
    "KINDS",
    "LieSplitting",
    "LinearPart",
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
