"""Analysis of a problem: derivative orders, linearity, PDE type, and the
split of a right-hand side into diffusion, advection, reaction and source.

All functions are pure and symbolic; they read a
:class:`~symop.model.problem.Problem` and return plain data.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.core.function import AppliedUndef

from symop.errors import Position, SymopError
from symop.model.operators import Laplacian, NormalDerivative, Partial
from symop.model.problem import BoundaryCondition, Field, Problem


class AnalysisError(SymopError):
    """A problem does not have the form an analysis needs."""


#: an integer power of a sum whose multinomial expansion would have more terms than this is kept whole
EXPAND_TERMS = 256


def bounded_expand(expr: sp.Expr) -> sp.Expr:
    """``sp.expand(expr)``, keeping whole every integer power of a sum whose expansion would exceed
    :data:`EXPAND_TERMS` terms: ``(x + y + u)^1000`` has 501501 of them, which SymPy takes hours to write."""
    from math import comb

    expr = sp.sympify(expr)
    big: dict[sp.Expr, sp.Dummy] = {}
    for p in expr.atoms(sp.Pow):
        base, ex = p.as_base_exp()
        if base.is_Add and ex.is_Integer and abs(int(ex)) > 1 \
                and comb(len(base.args) + abs(int(ex)) - 1, abs(int(ex))) > EXPAND_TERMS:
            big[p] = sp.Dummy()
    if not big:
        return sp.expand(expr)
    return sp.expand(expr.xreplace(big)).xreplace({d: p for p, d in big.items()})


def field_nodes(expr: sp.Expr, problem: Problem) -> set[sp.Expr]:
    """Every occurrence of a field or a derivative of a field in ``expr``."""
    applied = {f.applied for f in problem.fields}
    out: set[sp.Expr] = set()
    for node in sp.preorder_traversal(expr):
        if node in applied:
            out.add(node)
        elif isinstance(node, sp.Derivative) and node.expr in applied:
            out.add(node)
        elif isinstance(node, (Laplacian, Partial, NormalDerivative)) and node.has(*applied):
            out.add(node)
    return out


def spatial_order_of(node: sp.Expr, problem: Problem) -> int:
    """Order of spatial differentiation of one field node."""
    if isinstance(node, sp.Derivative):
        t = problem.t
        return sum(int(c) for v, c in node.variable_count if v != t)
    if isinstance(node, Laplacian):
        return 2 + spatial_order_of(node.args[0], problem)
    if isinstance(node, Partial):
        return len(node.indices) + spatial_order_of(node.expr, problem)
    return 0


def owner(node: sp.Expr, problem: Problem) -> str | None:
    """The name of the field a node differentiates."""
    for f in problem.fields:
        if node == f.applied or node.has(f.applied):
            return f.name
    return None


def time_order_in(expr: sp.Expr, applied: sp.Expr, t: sp.Symbol | None) -> int:
    """Highest order of a time derivative of the field ``applied`` (``u(x, t)``) in ``expr``."""
    best = 0
    for d in sp.sympify(expr).atoms(sp.Derivative):
        if d.expr == applied:
            best = max(best, int(dict(d.variable_count).get(t, 0)))
    return best


def space_order_in(expr: sp.Expr, applied: sp.Expr, t: sp.Symbol | None) -> int:
    """Highest order of a spatial derivative of the field ``applied`` in ``expr`` (``lap`` counts 2)."""
    best = 0
    for node in sp.preorder_traversal(sp.sympify(expr)):
        if isinstance(node, sp.Derivative) and node.expr == applied:
            best = max(best, sum(int(c) for v, c in node.variable_count if v != t))
        elif isinstance(node, (Laplacian, Partial)) and node.has(applied):
            inner = node.args[0]
            order = 2 if isinstance(node, Laplacian) else len(node.args) - 1
            best = max(best, order + space_order_in(inner, applied, t))
    return best


def time_order(problem: Problem, field: str) -> int:
    """Highest time derivative of ``field`` in its equation."""
    return time_order_in(problem.equation_for(field).residual, problem.field(field).applied, problem.t)


def space_order(problem: Problem, field: str) -> int:
    """Highest spatial derivative order of ``field`` in its equation."""
    eq = problem.equation_for(field)
    nodes = [n for n in field_nodes(eq.residual, problem) if owner(n, problem) == field]
    return max([spatial_order_of(n, problem) for n in nodes] or [0])


def _freeze(expr: sp.Expr, problem: Problem) -> tuple[sp.Expr, dict[sp.Symbol, sp.Expr]]:
    """Replace field nodes by plain symbols (largest nodes first)."""
    nodes = sorted(field_nodes(expr, problem), key=lambda n: -sp.count_ops(n) - len(str(n)))
    symbols = {}
    out = expr
    for i, n in enumerate(nodes):
        s = sp.Symbol(f"_node{i}")
        symbols[s] = n
        out = out.xreplace({n: s})
    return out, symbols


def is_linear(expr: sp.Expr, problem: Problem) -> bool:
    """True when ``expr`` is affine in the fields and all their derivatives."""
    frozen, symbols = _freeze(expr, problem)
    if not symbols:
        return True
    syms = list(symbols)
    for s in syms:
        if sp.diff(frozen, s).free_symbols & set(syms):
            return False
        if frozen.has(s) and not sp.diff(frozen, s, 2).equals(0):
            return False
    return True


def problem_is_linear(problem: Problem) -> bool:
    """True when every equation is linear in the unknowns."""
    return all(is_linear(eq.residual, problem) for eq in problem.equations)


def principal_matrix(problem: Problem, field: str) -> tuple[sp.Matrix, list[sp.Symbol]] | None:
    """Coefficients of the second derivatives of ``field`` over (coordinates, t)."""
    if problem.space.is_indexed:
        return None
    eq = problem.equation_for(field)
    f = problem.field(field).applied
    variables = list(problem.space.coords) + ([problem.t] if problem.t is not None else [])
    n = len(variables)
    A = sp.zeros(n, n)
    expr = bounded_expand(eq.residual)
    for i, a in enumerate(variables):
        for j, b in enumerate(variables):
            if j < i:
                continue
            coeff = expr.coeff(sp.diff(f, a, b))
            if i == j:
                A[i, i] = coeff
            else:
                A[i, j] = A[j, i] = coeff / 2
    return A, variables


def pde_type(problem: Problem, field: str) -> str:
    """``elliptic``, ``parabolic`` or ``hyperbolic`` for a second-order scalar equation.

    Decided from the signs of the eigenvalues of the principal symbol over
    (x, t) at a sample point: all one sign is elliptic; one zero eigenvalue
    with the rest of one sign (first order in time) parabolic; one of the other
    sign hyperbolic.  Other equations report ``order k`` or ``other``.
    """
    if space_order(problem, field) != 2 and time_order(problem, field) != 2:
        order = max(space_order(problem, field), time_order(problem, field))
        return f"order {order}"
    if problem.space.is_indexed:
        return "elliptic" if problem.is_steady else "parabolic"
    result = principal_matrix(problem, field)
    if result is None:
        return "other"
    A, variables = result
    point = {v: sp.Rational(1, 3) for v in variables}
    point.update(problem.param_values)
    fnodes = {}
    for f in problem.fields:
        fnodes[f.applied] = sp.Rational(1, 2)
    try:
        M = A.xreplace(point).subs(fnodes)
        M = M.applyfunc(lambda e: e.doit() if isinstance(e, sp.Basic) else e)
        eig = [complex(sp.N(v)).real for v in M.eigenvals(multiple=True)]
    except Exception:  # symbolic eigenvalues may fail for exotic coefficients
        return "other"
    tol = 1e-12 * max(1.0, max(abs(e) for e in eig))
    pos = sum(e > tol for e in eig)
    neg = sum(e < -tol for e in eig)
    zero = len(eig) - pos - neg
    if zero == 0 and (pos == 0 or neg == 0):
        return "elliptic"
    if zero == 0 and min(pos, neg) == 1:
        return "hyperbolic"
    if zero == 1 and (pos == 0 or neg == 0):
        return "parabolic"
    return "other"


@dataclass(frozen=True)
class Split:
    """``dt(u, order) = diffusion + advection + reaction + source``."""

    field: str
    order: int
    diffusion: sp.Expr
    advection: sp.Expr
    reaction: sp.Expr
    source: sp.Expr

    @property
    def rhs(self) -> sp.Expr:
        return self.diffusion + self.advection + self.reaction + self.source

    def part(self, name: str) -> sp.Expr:
        return getattr(self, name)


def evolution(problem: Problem, field: str) -> tuple[int, sp.Expr]:
    """Solve the equation of ``field`` for its highest time derivative.

    Returns ``(k, F)`` with ``dt(u, k) = F``; ``k`` is 0 for a steady equation
    (then ``F`` is the residual, to be driven to zero).
    """
    eq = problem.equation_for(field)
    k = time_order(problem, field)
    if k == 0:
        return 0, eq.residual
    f = problem.field(field).applied
    d = sp.diff(f, problem.t, k)
    expr = bounded_expand(eq.residual)
    coeff = expr.coeff(d)
    rest = bounded_expand(expr - coeff * d)
    if coeff == 0 or rest.has(d) or coeff.has(d):
        raise AnalysisError(f"the equation of `{field}` is not linear in its highest time derivative.")
    return k, bounded_expand(-rest / coeff)


def split(problem: Problem, field: str) -> Split:
    """Split the right-hand side of ``dt(u, k) = F`` into operator groups.

    Each additive term of ``F`` goes to the group of its highest spatial
    derivative of any field: second order or more → diffusion, first →
    advection, none but a field present → reaction, no field → source.
    """
    k, rhs = evolution(problem, field)
    groups = {"diffusion": [], "advection": [], "reaction": [], "source": []}
    for term in sp.Add.make_args(bounded_expand(rhs)):
        nodes = field_nodes(term, problem)
        if not nodes:
            groups["source"].append(term)
            continue
        order = max(spatial_order_of(n, problem) for n in nodes)
        key = "diffusion" if order >= 2 else "advection" if order == 1 else "reaction"
        groups[key].append(term)
    return Split(field, k, *(sp.Add(*groups[g]) for g in ("diffusion", "advection", "reaction", "source")))


@dataclass(frozen=True)
class Classification:
    """What :func:`classify` reports for one field."""

    field: str
    time_order: int
    space_order: int
    linear: bool
    type: str


def classify(problem: Problem) -> list[Classification]:
    """Orders, linearity and type of every field's equation."""
    out = []
    for f in problem.fields:
        eq = problem.equation_for(f.name)
        out.append(Classification(
            f.name,
            time_order(problem, f.name),
            space_order(problem, f.name),
            is_linear(eq.residual, problem),
            pde_type(problem, f.name),
        ))
    return out


def splitting_caveat(problem: Problem) -> str | None:
    """Why Lie/Strang splitting may converge below its order here, or None.

    Boundary data that change in time (Dirichlet values, fluxes) are known to
    cause *order reduction* in diffusion–reaction splitting: the reaction
    sub-flow does not respect the diffusion's boundary conditions, and the
    observed order drops (below 1 for Strang with Dirichlet data in our
    manufactured tests; Einkemmer & Ostermann, SIAM J. Sci. Comput. 37, 2015).
    """
    t = problem.t
    if t is None:
        return None
    moving = [bc for bc in problem.boundary if bc.kind != "general" and problem.numeric(bc.value).has(t)]
    if not moving:
        return None
    sides = ", ".join(sorted({p for bc in moving for p in bc.parts}))
    return (f"boundary data on {sides} change in time, and operator splitting then loses order (order reduction): "
            "expect less than the splitting's nominal order; the unsplit IMEX scheme (split: none) keeps it.")


def is_known(expr: sp.Expr) -> bool:
    """True when ``expr`` holds no unknown (no undefined function such as a field ``u(x, t)``)."""
    return not sp.sympify(expr).atoms(AppliedUndef)


def normal_data(expr: sp.Expr, domain, side: str, coords) -> sp.Expr:
    r"""``expr`` with every ``dn(e)`` of a known ``e`` replaced by :math:`\nabla e \cdot n` on ``side``.

    ``n`` is the domain's symbolic outward unit normal on that side
    (:meth:`~symop.model.domains.Domain.symbolic_normal`), so boundary data such as
    ``dn(exact(u))`` become plain expressions of the coordinates (and time).
    """
    expr = sp.sympify(expr)
    nodes = [n for n in expr.atoms(NormalDerivative) if is_known(n.args[0])]
    if not nodes:
        return expr
    normal = domain.symbolic_normal(side, list(coords))
    repl = {n: sp.Add(*[sp.diff(n.args[0], x) * nx for x, nx in zip(coords, normal)]) for n in nodes}
    return expr.xreplace(repl)


def has_normal_data(expr: sp.Expr) -> bool:
    """True when ``expr`` holds ``dn(e)`` of a known ``e``: data that differ from side to side."""
    return any(is_known(n.args[0]) for n in sp.sympify(expr).atoms(NormalDerivative))


def classify_condition(parts: tuple[str, ...], fld: Field, lhs: sp.Expr, rhs: sp.Expr,
                       position: Position | None) -> BoundaryCondition:
    """Classify ``lhs = rhs`` on ``parts`` as ``alpha*u + beta*dn(u) = value`` where it is linear.

    ``beta = 0`` is Dirichlet, ``alpha = 0`` Neumann, both nonzero Robin; a
    condition that is not linear in ``u`` and ``dn(u)`` (or holds other
    derivatives) is ``general``.
    """
    U, DN = sp.Dummy("U"), sp.Dummy("DN")
    expr = (lhs - rhs).xreplace({NormalDerivative(fld.applied): DN}).xreplace({fld.applied: U})
    general = BoundaryCondition(parts, fld.name, lhs, rhs, "general", position=position)
    # dn(e) of a known expression e (no unknown inside) is data, resolved per side by normal_data
    data = {n: sp.Dummy("G") for n in expr.atoms(NormalDerivative) if is_known(n.args[0])}
    held = expr.xreplace(data)
    if (held.has(fld.function) or held.has(NormalDerivative) or held.has(sp.Derivative) or held.has(Laplacian)
            or held.has(Partial)):
        return general
    alpha = sp.diff(expr, U)
    beta = sp.diff(expr, DN)
    if alpha.has(U, DN) or beta.has(U, DN):
        return general
    value = -expr.xreplace({U: sp.S.Zero, DN: sp.S.Zero})
    if beta == 0:
        kind = "dirichlet"
    elif alpha == 0:
        kind = "neumann"
    else:
        kind = "robin"
    return BoundaryCondition(parts, fld.name, lhs, rhs, kind, alpha, beta, value, position)
