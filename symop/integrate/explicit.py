"""Explicit Runge–Kutta methods and the :class:`Stepper` protocol.

A stepper advances a state tensor ``u`` (any shape) from ``t`` to ``t + dt``.
An explicit Runge–Kutta method with Butcher tableau ``(A, b, c)`` applied to
``u' = F(t, u)`` computes the stages

    k_i = F(t + c_i dt, u + dt * sum_{j<i} a_ij k_j),    i = 1..s

and the update

    u^{n+1} = u^n + dt * sum_i b_i k_i.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from symop.errors import SolveError, SymopError

if TYPE_CHECKING:  # pragma: no cover - the scheme names and tableaux are read without torch
    import torch

RHS = Callable[[float, "torch.Tensor"], "torch.Tensor"]


class IntegratorError(SymopError):
    """A time-integration method is unknown or configured inconsistently."""


class NonFiniteStage(SolveError):
    """A time step met NaN or infinite values inside it (a stage's linear solve got them on its right-hand
    side): the solution blew up within the step.  :func:`symop.integrate.integrate` turns it into its
    stability sentence naming the step, the time and dt."""


class Stepper(ABC):
    """One time step of a time integrator: ``step(t, u, dt) -> u(t + dt)``.

    Attributes
    ----------
    order:
        The global order of accuracy p (error = O(dt^p)).
    name:
        The method's name as users spell it (e.g. ``"rk4"``).
    """

    order: int = 1
    name: str = "stepper"

    @abstractmethod
    def step(self, t: float, u: torch.Tensor, dt: float) -> torch.Tensor:
        """Advance ``u`` from time ``t`` to ``t + dt`` and return the new state."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, order={self.order})"


@dataclass(frozen=True)
class Tableau:
    """A Butcher tableau of an explicit Runge–Kutta method.

    ``a`` is the strictly lower triangular stage matrix (row i holds
    a_i1 .. a_i,i-1), ``b`` the weights and ``c`` the nodes::

        c_1 |
        c_2 | a_21
        ... | ...
        c_s | a_s1 ... a_s,s-1
        ----+------------------
            | b_1  ...  b_s
    """

    name: str
    order: int
    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    c: tuple[float, ...]

    @property
    def stages(self) -> int:
        return len(self.b)


EXPLICIT_METHODS: dict[str, Tableau] = {
    # forward Euler:  0 | ; | 1
    "euler": Tableau("euler", 1, ((),), (1.0,), (0.0,)),
    # Heun's method (explicit trapezoid):  0 | ; 1 | 1 ; | 1/2 1/2
    "heun": Tableau("heun", 2, ((), (1.0,)), (0.5, 0.5), (0.0, 1.0)),
    # Shu–Osher strong-stability-preserving RK3:
    #   0   |
    #   1   | 1
    #   1/2 | 1/4 1/4
    #       | 1/6 1/6 2/3
    "ssprk3": Tableau(
        "ssprk3", 3, ((), (1.0,), (0.25, 0.25)), (1 / 6, 1 / 6, 2 / 3), (0.0, 1.0, 0.5)
    ),
    # classical RK4:
    #   0   |
    #   1/2 | 1/2
    #   1/2 | 0   1/2
    #   1   | 0   0   1
    #       | 1/6 1/3 1/3 1/6
    "rk4": Tableau(
        "rk4",
        4,
        ((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)),
        (1 / 6, 1 / 3, 1 / 3, 1 / 6),
        (0.0, 0.5, 0.5, 1.0),
    ),
}
EXPLICIT_METHODS["rk2"] = EXPLICIT_METHODS["heun"]


def explicit_tableau(method: str) -> Tableau:
    """The tableau named ``method``; :class:`IntegratorError` listing the choices otherwise."""
    key = method.strip().lower() if isinstance(method, str) else method
    if key not in EXPLICIT_METHODS:
        choices = ", ".join(sorted(EXPLICIT_METHODS))
        raise IntegratorError(
            f"unknown explicit method `{method}`; choose one of: {choices}"
        )
    return EXPLICIT_METHODS[key]


class ExplicitRK(Stepper):
    """Explicit Runge–Kutta stepper for ``u' = f(t, u)``.

    k_i = f(t + c_i dt, u + dt sum_j a_ij k_j),  u_new = u + dt sum_i b_i k_i.
    """

    def __init__(self, f: RHS, method: str = "rk4") -> None:
        self.f = f
        self.tableau = explicit_tableau(method)
        self.name = self.tableau.name
        self.order = self.tableau.order

    def step(self, t: float, u: torch.Tensor, dt: float) -> torch.Tensor:
        """One step; each stage input and the update are one ``torch.add(a, k, alpha=dt*w)`` (no product
        tensor), then ``add_`` into that fresh tensor (``u`` and the stages ``k`` are never written)."""
        import torch

        tab = self.tableau
        ks: list[torch.Tensor] = []
        for i in range(tab.stages):
            ks.append(self.f(t + tab.c[i] * dt, _combine(u, tab.a[i], ks, dt)))
        return _combine(u, tab.b, ks, dt)


def _combine(u: "torch.Tensor", weights: tuple[float, ...], ks: list["torch.Tensor"], dt: float) -> "torch.Tensor":
    """``u + dt * sum_j w_j k_j`` (``u`` itself when every weight is 0), in one new tensor."""
    import torch

    out = u
    for w, k in zip(weights, ks):
        if w == 0.0:
            continue
        if not isinstance(k, torch.Tensor):  # states that are not tensors (insr's networks) add by their operators
            out = out + (dt * w) * k
        elif out is not u and out.shape == k.shape and out.dtype == k.dtype:
            out.add_(k, alpha=dt * w)
        else:
            out = torch.add(out, k, alpha=dt * w)
    return out
