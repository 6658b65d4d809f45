"""Implicit and implicit–explicit (IMEX) steppers for ``M u' = L u + N(t, u)``.

``L`` and ``M`` come from a :class:`~symop.integrate.linear.LinearPart`
(M = I for finite differences, the mass matrix for finite elements); every
implicit stage reduces to a shifted solve (M - alpha L) x = r.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

from .explicit import IntegratorError, Stepper

if TYPE_CHECKING:  # pragma: no cover - the scheme names are read without torch
    import torch

    from .linear import LinearPart

Source = Callable[[float], "torch.Tensor"]
Nonlinear = Callable[[float, "torch.Tensor"], "torch.Tensor"]
#: ``fixed(t, r)``: a copy of ``r`` with the unknowns that a condition fixes (Dirichlet nodes) set to their values
#: at ``t`` (``r`` itself, which may be the state, is left as it is)
Fixed = Callable[[float, "torch.Tensor"], "torch.Tensor"]

THETA_NAMES = {1.0: ("backward-euler", 1), 0.5: ("crank-nicolson", 2)}
#: scheme name -> theta, for options such as ``--set scheme=crank-nicolson``.
THETA_SCHEMES = {"backward-euler": 1.0, "crank-nicolson": 0.5}


class ThetaMethod(Stepper):
    """The theta method for ``M u' = L u + s(t)``:

        (M - theta dt L) u^1 = (M + (1 - theta) dt L) u^0
                               + dt [theta s(t^1) + (1 - theta) s(t^0)]

    theta = 1 is backward Euler (order 1, L-stable), theta = 1/2 Crank–Nicolson
    (order 2, A-stable), theta = 0 forward Euler (needs an invertible M).
    ``source`` is ``s(t) -> tensor`` (the state's shape) or None.

    ``fixed`` (optional) imposes values instead of integrating them: for
    unknowns whose rows of ``M - theta dt L`` are rows of the identity (``L``'s
    rows zero there, ``M``'s the identity's: Dirichlet nodes of finite
    differences), the right-hand side above passes through ``fixed(t^1, .)``,
    which returns it with those entries set to their data at ``t^1``.  The solve
    then gives them exactly, u^1_b = g(t^1), and the other rows see g(t^1) at
    the new time level (a jump of g included), where the theta rule applied to
    their rates, u^1_b = u^0_b + dt [theta g'(t^1) + (1 - theta) g'(t^0)],
    would drift by O(dt^(p+1)) per step and miss a jump.  Both time levels of
    the theta method are step ends, so imposing the data there costs no order.
    """

    def __init__(self, linear: LinearPart, source: Source | None = None, theta: float = 0.5,
                 fixed: Fixed | None = None) -> None:
        theta = float(theta)
        if not 0.0 <= theta <= 1.0:
            raise IntegratorError(f"theta must lie in [0, 1], got {theta}")
        self.linear = linear
        self.source = source
        self.theta = theta
        self.fixed = fixed
        self.name, self.order = THETA_NAMES.get(theta, (f"theta={theta:g}", 1))

    def step(self, t: float, u: torch.Tensor, dt: float) -> torch.Tensor:
        th = self.theta
        rhs = self.linear.apply_mass(u)
        if th < 1.0:
            rhs = rhs + ((1.0 - th) * dt) * self.linear.matvec(u)
        if self.source is not None:
            if th > 0.0:
                rhs = rhs + (th * dt) * self.source(t + dt)
            if th < 1.0:
                rhs = rhs + ((1.0 - th) * dt) * self.source(t)
        if self.fixed is not None:
            rhs = self.fixed(t + dt, rhs)
        return self.linear.solve_shifted(th * dt, rhs)


def backward_euler(linear: LinearPart, source: Source | None = None) -> ThetaMethod:
    """The theta method with theta = 1."""
    return ThetaMethod(linear, source, theta=1.0)


def crank_nicolson(linear: LinearPart, source: Source | None = None) -> ThetaMethod:
    """The theta method with theta = 1/2."""
    return ThetaMethod(linear, source, theta=0.5)


IMEX_METHODS = {"imex-euler": 1, "ars222": 2}

#: gamma = 1 - 1/sqrt(2) and delta = 1 - 1/(2 gamma) of ARS(2,2,2).
ARS_GAMMA = 1.0 - 1.0 / math.sqrt(2.0)
ARS_DELTA = 1.0 - 1.0 / (2.0 * ARS_GAMMA)


class IMEX(Stepper):
    """Implicit–explicit Runge–Kutta for ``M u' = L u + N(t, u)``: L implicit, N explicit.

    ``explicit`` is N(t, u), the right-hand-side term (not M^{-1} N).

    "imex-euler" (order 1):

        (M - dt L) u^1 = M u^0 + dt N(t, u^0)

    "ars222" (order 2, Ascher–Ruuth–Spiteri 1997, stiffly accurate), with
    gamma = 1 - 1/sqrt(2), delta = 1 - 1/(2 gamma); tableaux (implicit | explicit)::

        0     | 0  0      0           0     | 0      0        0
        gamma | 0  gamma  0           gamma | gamma  0        0
        1     | 0  1-g    gamma       1     | delta  1-delta  0
              | 0  1-g    gamma             | delta  1-delta  0

    i.e. with N1 = N(t, u^0):

        (M - gamma dt L) U2 = M u^0 + gamma dt N1
        (M - gamma dt L) U3 = M u^0 + dt [(1-gamma) L U2 + delta N1 + (1-delta) N(t + gamma dt, U2)]
        u^1 = U3

    ``source``, an optional s(t) for ``M u' = L u + s(t) + N(t, u)``, joins the
    implicit side (it is evaluated with L's weights at the stage times): a
    stiff forcing, such as time-dependent Dirichlet data coupled through L,
    treated explicitly would cost an order of accuracy.
    """

    def __init__(self, linear: LinearPart, explicit: Nonlinear, method: str = "imex-euler",
                 source: Source | None = None) -> None:
        key = method.strip().lower()
        if key not in IMEX_METHODS:
            raise IntegratorError(
                f"unknown IMEX method `{method}`; choose one of: {', '.join(IMEX_METHODS)}"
            )
        self.linear = linear
        self.explicit = explicit
        self.source = source
        self.name = key
        self.order = IMEX_METHODS[key]

    def _s(self, t: float) -> torch.Tensor | float:
        return 0.0 if self.source is None else self.source(t)

    def step(self, t: float, u: torch.Tensor, dt: float) -> torch.Tensor:
        lin = self.linear
        Mu = lin.apply_mass(u)
        n1 = self.explicit(t, u)
        if self.name == "imex-euler":
            return lin.solve_shifted(dt, Mu + dt * (n1 + self._s(t + dt)))
        g, d = ARS_GAMMA, ARS_DELTA
        s2 = self._s(t + g * dt)
        u2 = lin.solve_shifted(g * dt, Mu + (g * dt) * (n1 + s2))
        n2 = self.explicit(t + g * dt, u2)
        rhs = Mu + dt * ((1.0 - g) * (lin.matvec(u2) + s2) + g * self._s(t + dt) + d * n1 + (1.0 - d) * n2)
        return lin.solve_shifted(g * dt, rhs)
