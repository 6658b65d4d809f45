"""A catalogue of small manufactured problems that tests share.

Each :class:`Manufactured` row is an equation file together with what a test
needs to check a method against it *by hand*, without asking symop:

* ``exact``: the exact solution as a SymPy expression of ``symbols``;
* ``operator(v)``: the linear part of the equation's residual applied to an
  expression ``v`` (so that the residual of ``exact + p`` is the residual of
  ``exact`` plus ``operator(p)``);
* ``alpha``, ``beta``: the boundary condition ``alpha*u + beta*dn(u) = g`` on
  every side listed in ``sides`` (periodic sides are not listed);
* ``sides``: the outward unit normal of each side, written by hand (numbers,
  or SymPy expressions of the coordinates on a curved side);
* ``initial``: whether the file has ``initial u = ...`` at ``t = 0``.

Rows are grouped by what they cover: the boundary kind (Dirichlet, Neumann,
Robin, periodic; data given as ``exact(u)``, ``dn(exact(u))`` or written out as
plain expressions), steady or first order in time.  The exact solutions are
polynomials of degree at most two along each grid axis wherever the grid
allows, so that second-order difference stencils are exact on them and grid
residuals vanish to rounding error too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import sympy as sp

x, y, t = sp.symbols("x y t", real=True)


@dataclass(frozen=True)
class Manufactured:
    """One manufactured problem and its hand-derived operator, boundary data and normals."""

    name: str
    text: str
    symbols: tuple[sp.Symbol, ...]
    exact: sp.Expr
    operator: Callable[[sp.Expr], sp.Expr]
    kind: str  # dirichlet | neumann | robin | periodic
    alpha: sp.Expr
    beta: sp.Expr
    sides: dict[str, tuple[int, ...]] = field(default_factory=dict)  # side -> outward normal
    periodic: tuple[str, ...] = ()
    initial: bool = False
    tags: tuple[str, ...] = ()
    grid: bool = True  # a box whose uniform grid grid methods can use

    @property
    def timed(self) -> bool:
        return t in self.symbols


# ------------------------------------------------------------- steady, 2-D box
_BOX = "domain box(x: [0, 1], y: [0, 2])"
_BOX_SIDES = {"left": (-1, 0), "right": (1, 0), "bottom": (0, -1), "top": (0, 1)}
_U2 = 1 + x + x * y + y ** 2 / 2


def _steady_operator(v: sp.Expr) -> sp.Expr:
    """``-lap(v) + (1 + x) v``."""
    return -(sp.diff(v, x, 2) + sp.diff(v, y, 2)) + (1 + x) * v


def _steady(name: str, boundary: str, kind: str, alpha, beta, tags=()) -> Manufactured:
    text = f"""
problem {name} "manufactured: {kind} on every side of a box"
space x, y
{_BOX}
field u
exact u = 1 + x + x*y + y^2/2
equation -lap(u) + (1 + x)*u = -lap(exact(u)) + (1 + x)*exact(u)
{boundary}
"""
    return Manufactured(name, text, (x, y), _U2, _steady_operator, kind, sp.sympify(alpha), sp.sympify(beta),
                        dict(_BOX_SIDES), tags=tuple(tags))


# ------------------------------------------------------------- x and time
_UT = 1 + x ** 2 + x * t


def _heat_operator(v: sp.Expr) -> sp.Expr:
    """``dt(v) - d(v, x, 2)``."""
    return sp.diff(v, t) - sp.diff(v, x, 2)


def _heat(name: str, boundary: str, kind: str, alpha, beta) -> Manufactured:
    text = f"""
problem {name} "manufactured: heat equation, {kind} at both ends"
space x
time t in [0, 0.5]
domain interval(x: [0, 1])
field u
exact u = 1 + x^2 + x*t
equation dt(u) = d(u, x, 2) + dt(exact(u)) - d(exact(u), x, 2)
{boundary}
initial u = exact(u)
"""
    return Manufactured(name, text, (x, t), _UT, _heat_operator, kind, sp.sympify(alpha), sp.sympify(beta),
                        {"left": (-1,), "right": (1,)}, initial=True)


# ------------------------------------------------------------- periodic in x
_UP = sp.sin(2 * sp.pi * x) * y + y ** 2


def _periodic_operator(v: sp.Expr) -> sp.Expr:
    """``-lap(v) + v``."""
    return -(sp.diff(v, x, 2) + sp.diff(v, y, 2)) + v


PERIODIC = Manufactured(
    "periodic_x",
    """
problem periodic_x "manufactured: periodic in x, Dirichlet on bottom and top"
space x, y
domain box(x: [0, 1], y: [0, 1])
field u
exact u = sin(2*pi*x)*y + y^2
equation -lap(u) + u = -lap(exact(u)) + exact(u)
boundary periodic(x)
boundary bottom, top: u = exact(u)
""",
    (x, y), _UP, _periodic_operator, "periodic", sp.S.One, sp.S.Zero,
    {"bottom": (0, -1), "top": (0, 1)}, periodic=("x",))


# ------------------------------------------------------------- the unit disk
def _disk(name: str, boundary: str, kind: str, alpha, beta) -> Manufactured:
    text = f"""
problem {name} "manufactured: {kind} on the unit circle"
space x, y
domain disk(center: (0, 0), radius: 1)
field u
exact u = 1 + x + x*y + y^2/2
equation -lap(u) + (1 + x)*u = -lap(exact(u)) + (1 + x)*exact(u)
{boundary}
"""
    return Manufactured(name, text, (x, y), _U2, _steady_operator, kind, sp.sympify(alpha), sp.sympify(beta),
                        {"boundary": (x, y)}, tags=("dn(expr)",), grid=False)


#: every loss-conformance row, by name
LOSS_PROBLEMS: dict[str, Manufactured] = {p.name: p for p in [
    _steady("box_dirichlet", "boundary all: u = exact(u)", "dirichlet", 1, 0),
    _steady("box_neumann", "boundary all: dn(u) = dn(exact(u))", "neumann", 0, 1, tags=("dn(expr)",)),
    # the same Neumann data written out side by side (grad u = (1 + y, x + y))
    _steady("box_neumann_data", "boundary left: dn(u) = -(1 + y)\nboundary right: dn(u) = 1 + y\n"
            "boundary bottom: dn(u) = -x\nboundary top: dn(u) = x + 2", "neumann", 0, 1),
    _steady("box_robin", "boundary all: dn(u) + 3*u = dn(exact(u)) + 3*exact(u)", "robin", 3, 1,
            tags=("dn(expr)",)),
    _heat("heat_dirichlet", "boundary all: u = exact(u)", "dirichlet", 1, 0),
    _heat("heat_neumann", "boundary left: dn(u) = -t\nboundary right: dn(u) = 2 + t", "neumann", 0, 1),
    _heat("heat_robin", "boundary all: 3*dn(u) + u = 3*dn(exact(u)) + exact(u)", "robin", 1, 3),
    PERIODIC,
    _disk("disk_neumann", "boundary all: dn(u) = dn(exact(u))", "neumann", 0, 1),
    _disk("disk_robin", "boundary all: dn(u) + 3*u = dn(exact(u)) + 3*exact(u)", "robin", 3, 1),
]}
