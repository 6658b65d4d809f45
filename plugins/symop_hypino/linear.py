r"""The linear second-order form HyPINO works with, read off a problem symbolically.

HyPINO's class of problems is linear and of second order in two variables
:math:`z = (z_0, z_1)` — two space coordinates, or one space coordinate and
time (time plays the paper's ``y``):

.. math::  L u = \sum_{|\alpha| \le 2} c_\alpha(z)\, \partial^\alpha u = f(z)
   \quad\text{in } \Omega, \qquad
   a\,u + b\,\partial_\nu u = g \quad\text{on } \partial\Omega,

with :math:`\alpha \in \{00, 10, 01, 20, 11, 02\}` (the paper's
``c0*u + c1*ux + c2*uy + c3*uxx + c4*uyy`` plus the mixed term).  Boundary
conditions are Dirichlet (:math:`b = 0`), Neumann (:math:`a = 0`) or Robin;
an initial line ``u = g`` at :math:`t_0` is a Dirichlet condition on the edge
:math:`t = t_0`, and ``dt(u) = h`` a condition on :math:`\partial_t u` there.

The equation's residual ``lhs - rhs`` (parameters substituted) is written as
:math:`L u - f`: derivative nodes of the field become placeholders, the
coefficients are the placeholders' partial derivatives and :math:`-f` what is
left when they are zero.  Any dependence of a coefficient on a placeholder
means the equation is not linear.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.core.function import AppliedUndef

from symop.model.analysis import has_normal_data, normal_data
from symop.model.operators import Laplacian, NormalDerivative, Partial
from symop.model.problem import Problem
from symop.writer import language_text
from symop_hypino.errors import UnsupportedProblem

#: derivative multi-indices (order in z0, order in z1), in channel order
KEYS: tuple[tuple[int, int], ...] = ((0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2))


@dataclass(frozen=True)
class Condition:
    r""":math:`a u + b\,\partial_\nu u = g` on ``parts`` (``kind`` ``dirichlet``, ``neumann`` or ``robin``).

    ``parts`` are side names of the domain, or ``("initial",)`` for the edge
    :math:`t = t_0` (then :math:`\nu = +e_t`, so ``b = 1`` means ``dt(u) = g``).
    """

    parts: tuple[str, ...]
    kind: str
    a: sp.Expr
    b: sp.Expr
    g: sp.Expr


@dataclass(frozen=True)
class LinearForm:
    """``sum_k coefficients[k] * D_k u = source`` with ``D_k`` the derivative :data:`KEYS` ``[k]``."""

    variables: tuple[sp.Symbol, sp.Symbol]
    coefficients: tuple[sp.Expr, ...]
    source: sp.Expr
    conditions: tuple[Condition, ...]
    timed: bool

    @property
    def order(self) -> int:
        return max((sum(k) for k, c in zip(KEYS, self.coefficients) if c != 0), default=0)


def variables(problem: Problem) -> tuple[sp.Symbol, sp.Symbol]:
    """The two variables of the plane: ``(x, y)``, or ``(x, t)`` for one space dimension and time."""
    return tuple(problem.space.coords) + ((problem.t,) if problem.t is not None else ())  # type: ignore[return-value]


def reason(problem: Problem) -> str | None:
    """``None`` when ``problem`` is in HyPINO's class, else why not (a sentence fragment)."""
    try:
        linear_form(problem)
    except UnsupportedProblem as err:
        return str(err).rstrip(".")
    return None


def _check_shape(problem: Problem) -> None:
    if problem.space.is_indexed:
        raise UnsupportedProblem("the hypino method needs named coordinates, not an indexed space.")
    n = problem.dimension + (1 if problem.t is not None else 0)
    if n != 2:
        what = f"{problem.dimension} space dimension" + ("s" if problem.dimension != 1 else "") + (" and time" if problem.t is not None else "")
        raise UnsupportedProblem(f"the hypino method solves problems in two variables (x, y or x, t), not {what}.")
    if len(problem.fields) != 1:
        raise UnsupportedProblem("the hypino method solves one field, not a system of "
                                 f"{len(problem.fields)} fields.")
    if problem.periodic:
        raise UnsupportedProblem("the hypino method does not support periodic boundaries.")


def operator(problem: Problem) -> tuple[tuple[sp.Expr, ...], sp.Expr]:
    """The coefficients ``c_k`` and the source ``f`` of the problem's only equation."""
    _check_shape(problem)
    z = variables(problem)
    u = problem.fields[0].applied
    residual = problem.numeric(problem.equations[0].residual)
    if residual.has(Laplacian, Partial, NormalDerivative):
        raise UnsupportedProblem("the hypino method cannot read operator nodes of an indexed space in the equation.")
    holders = {key: sp.Dummy(f"D{key[0]}{key[1]}") for key in KEYS}
    swap: dict[sp.Expr, sp.Expr] = {}
    for d in sorted(residual.atoms(sp.Derivative), key=sp.default_sort_key):  # a stable first complaint
        if d.expr != u:
            continue
        counts = [0, 0]
        for var, c in d.variable_count:
            counts[z.index(var)] += int(c)
        if sum(counts) > 2:
            raise UnsupportedProblem(f"the hypino method handles derivatives up to second order, not "
                                     f"`{language_text(d, problem)}`.")
        swap[d] = holders[tuple(counts)]
    expr = residual.xreplace(swap).xreplace({u: holders[(0, 0)]})
    if any(a.has(problem.fields[0].function) for a in expr.atoms(AppliedUndef)) or expr.has(problem.fields[0].function):
        raise UnsupportedProblem("the hypino method needs an equation written with derivatives of the field itself, "
                                 "not of expressions of it.")
    coefficients = tuple(sp.diff(expr, holders[k]) for k in KEYS)
    if any(c.has(*holders.values()) for c in coefficients):
        raise UnsupportedProblem("the hypino method solves linear equations; this one is nonlinear in the field.")
    rest = expr.xreplace({h: sp.S.Zero for h in holders.values()}).doit()
    coefficients = tuple(sp.sympify(c).doit() for c in coefficients)
    if all(c == 0 for c in coefficients[1:]):
        raise UnsupportedProblem("the hypino method needs a differential equation; this one has no derivatives.")
    return coefficients, -rest


def conditions(problem: Problem) -> tuple[Condition, ...]:
    """Boundary and initial conditions as :class:`Condition`\\ s (parameters substituted)."""
    out: list[Condition] = []
    for bc in problem.boundary:
        if bc.kind == "general":
            raise UnsupportedProblem("the hypino method needs boundary conditions of the form a*u + b*dn(u) = g, "
                                     f"not `{language_text(bc.lhs, problem)} = {language_text(bc.rhs, problem)}`.")
        parts = tuple(problem.domain.sides) if bc.parts in (("all",), ()) else tuple(bc.parts)
        pieces = [problem.numeric(e) for e in (bc.alpha, bc.beta, bc.value)]
        if any(has_normal_data(e) for e in pieces):  # dn(e) of a known e: grad(e).n, one condition per side
            for side in parts:
                a, b, g = (normal_data(e, problem.domain, side, problem.space.coords) for e in pieces)
                out.append(Condition((side,), bc.kind, a, b, g.doit()))
            continue
        out.append(Condition(parts, bc.kind, pieces[0], pieces[1], pieces[2].doit()))
    for ic in problem.initial:
        if ic.order > 1:
            raise UnsupportedProblem("the hypino method takes initial data for u and dt(u) only.")
        kind = "dirichlet" if ic.order == 0 else "neumann"
        a, b = (sp.S.One, sp.S.Zero) if ic.order == 0 else (sp.S.Zero, sp.S.One)
        value = problem.numeric(ic.value).doit()
        if problem.t is not None:
            value = value.subs(problem.t, problem.time.start)
        out.append(Condition(("initial",), kind, a, b, value))
    if not out:
        raise UnsupportedProblem("the hypino method needs at least one boundary condition.")
    return tuple(out)


def linear_form(problem: Problem) -> LinearForm:
    """The problem as a :class:`LinearForm`; :class:`UnsupportedProblem` says why when it is not one."""
    coefficients, source = operator(problem)
    return LinearForm(variables(problem), coefficients, source, conditions(problem), problem.t is not None)
