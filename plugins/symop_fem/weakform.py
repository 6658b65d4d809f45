"""Strong form → weak form, symbolically.

For an expression ``E`` of second order in the field ``u`` (test function v)

    E = sum_ij c_ij(x, t, u) d_i d_j u + Q(x, t, u, grad u)

each principal term is integrated by parts,

    int c_ij d_i d_j u v = - int c_ij d_j u d_i v - int (D_i c_ij) d_j u v
                           + int_boundary c_ij n_i d_j u v,

with ``D_i c = dc/dx_i + dc/du d_i u`` the total derivative, so that

    int E v = - int F . grad v + int S v + int_boundary (n . C grad u) v,
    F_i = sum_j c_ij d_j u,   S = Q - sum_ij (D_i c_ij) d_j u.

Boundary convention: ``dn(u)`` is the outward normal derivative n . grad u.
On a Neumann or Robin part the principal part must be isotropic, C = c I
(as for ``lap`` and ``div(k grad u)``); the boundary term is then
``int c dn(u) v`` and the condition ``alpha u + beta dn(u) = g`` is substituted,
``dn(u) = (g - alpha u)/beta``.  So for ``-div(k grad u) = f`` the condition
``dn(u) = g`` prescribes the flux ``k dn(u) = k g`` — the condition is read
literally, as a condition on the normal derivative.  Sides with no condition
are natural: ``n . C grad u = 0``.  Dirichlet parts are imposed strongly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from symop.errors import SymopError
from symop.model.analysis import evolution, field_nodes, has_normal_data, normal_data
from symop.model.operators import NormalDerivative


class WeakFormError(SymopError):
    """The equation does not have a form the finite-element method handles."""


@dataclass
class NaturalCondition:
    parts: tuple[str, ...]
    kind: str
    integrand: sp.Expr  # B(x, t, U): int_boundary B v ds


@dataclass
class DirichletCondition:
    parts: tuple[str, ...]
    value: sp.Expr  # g(x, t)


@dataclass
class WeakForm:
    """``int E v = -int F . grad v + int S v + sum int_parts B v`` for one field.

    ``steady`` is ``E = 0``; otherwise ``M dt(u, k) = (the right side)`` (``E`` is
    the right-hand side of ``dt(u, k) = E``, ``k`` = ``time_order``, 1 or 2).
    """

    field: str
    coords: tuple[sp.Symbol, ...]
    t: sp.Symbol | None
    U: sp.Symbol
    P: tuple[sp.Symbol, ...]
    principal: sp.Matrix
    flux: tuple[sp.Expr, ...]
    source: sp.Expr
    natural: list[NaturalCondition] = field(default_factory=list)
    dirichlet: list[DirichletCondition] = field(default_factory=list)
    time_order: int = 0

    @property
    def arguments(self) -> list[sp.Symbol]:
        return list(self.coords) + ([self.t] if self.t is not None else []) + [self.U, *self.P]

    def is_linear(self) -> bool:
        unknowns = {self.U, *self.P}
        exprs = [*self.flux, self.source, *(n.integrand for n in self.natural)]
        for e in exprs:
            for s in unknowns:
                if sp.diff(e, s).free_symbols & unknowns:
                    return False
        return True

    def operator_depends_on_time(self) -> bool:
        if self.t is None:
            return False
        unknowns = [self.U, *self.P]
        exprs = [*self.flux, self.source, *(n.integrand for n in self.natural)]
        return any(sp.diff(e, s).has(self.t) for e in exprs for s in unknowns)

    # ----------------------------------------------------------- printing
    def text(self, degree: int = 1) -> str:
        names = [str(c) for c in self.coords]
        u = self.field
        rename = {self.U: sp.Symbol(u)}
        for k, p in enumerate(self.P):
            rename[p] = sp.Symbol(f"d{names[k]}({u})")
        vgrad = [sp.Symbol(f"d{n}(v)") for n in names]
        F = [sp.simplify(f.xreplace(rename)) for f in self.flux]
        S = sp.simplify(self.source.xreplace(rename))
        volume = sp.Add(*[-f * g for f, g in zip(F, vgrad)]) + S * sp.Symbol("v")
        lines = [f"weak form of `{u}` (P{degree} Lagrange, test function v in V_h, v = 0 on Dirichlet parts):"]
        lhs = {0: "0", 1: f"∫_Ω dt({u}) v dx"}.get(self.time_order, f"∫_Ω dt({u}, {self.time_order}) v dx")
        rhs = [f"∫_Ω [ {sp.sstr(sp.expand(volume))} ] dx"]
        for nc in self.natural:
            rhs.append(f"∫_{{{', '.join(nc.parts)}}} [ {sp.sstr(sp.simplify(nc.integrand.xreplace(rename)))} ] v ds   ({nc.kind})")
        lines.append(f"  {lhs} = " + "\n      + ".join(rhs))
        for dc in self.dirichlet:
            lines.append(f"  {u} = {sp.sstr(dc.value)} on {', '.join(dc.parts)}   (strongly, at the nodes)")
        lines.append("  (integrated by parts: ∫ c_ij d_i d_j u v = -∫ c_ij d_j u d_i v - ∫ D_i(c_ij) d_j u v + ∫_Γ c dn(u) v)")
        return "\n".join(lines)


def _freeze(expr: sp.Expr, problem, name: str, U, P, W) -> sp.Expr:
    f = problem.field(name).applied
    coords = list(problem.space.coords)
    t = problem.t
    nodes = field_nodes(expr, problem)
    repl = {}
    for node in nodes:
        if node == f:
            repl[node] = U
            continue
        if not isinstance(node, sp.Derivative) or node.expr != f:
            raise WeakFormError(
                f"the finite-element method solves one scalar field per problem; `{node}` is not supported."
            )
        counts = dict(node.variable_count)
        if t is not None and counts.get(t, 0):
            raise WeakFormError(f"a time derivative `{node}` appears where the method expects none.")
        idx = []
        for v, c in node.variable_count:
            idx += [coords.index(v)] * int(c)
        if len(idx) == 1:
            repl[node] = P[idx[0]]
        elif len(idx) == 2:
            i, j = sorted(idx)
            repl[node] = W[(i, j)]
        else:
            raise WeakFormError(
                f"the finite-element method handles equations of second order in space; `{node}` is of order {len(idx)}."
            )
    out = sp.expand(expr).xreplace(repl)
    left = field_nodes(out, problem)
    if left:
        raise WeakFormError(f"cannot handle `{next(iter(left))}` in the weak form.")
    return out


def derive(problem, name: str) -> WeakForm:
    """The :class:`WeakForm` of field ``name`` of ``problem`` (parameters substituted)."""
    if problem.space.is_indexed:
        raise WeakFormError("finite elements need named coordinates (x, y, z), not an indexed space.")
    d = problem.dimension
    coords = tuple(problem.space.coords)
    t = problem.t
    U = sp.Symbol("U_")
    P = tuple(sp.Symbol(f"P{k}_") for k in range(d))
    W = {(i, j): sp.Symbol(f"W{i}{j}_") for i in range(d) for j in range(i, d)}
    order, E = evolution(problem, name)
    if order > 2:
        raise WeakFormError(f"finite elements here handle first and second order in time; the equation has "
                            f"dt(u, {order}).")
    if order == 0:
        E = problem.equation_for(name).residual
    E = problem.numeric(E)
    Ef = _freeze(E, problem, name, U, P, W)
    C = sp.zeros(d, d)
    for (i, j), w in W.items():
        c = sp.diff(Ef, w)
        if c.has(*W.values()) or c.has(*P):
            raise WeakFormError("the equation is not linear in its second derivatives with gradient-free coefficients.")
        if i == j:
            C[i, i] = c
        else:
            C[i, j] = C[j, i] = c / 2
    Q = sp.expand(Ef.xreplace({w: 0 for w in W.values()}))
    flux = tuple(sp.expand(sum(C[i, j] * P[j] for j in range(d))) for i in range(d))
    S = Q
    for i in range(d):
        for j in range(d):
            if C[i, j] != 0:
                Dc = sp.diff(C[i, j], coords[i]) + sp.diff(C[i, j], U) * P[i]
                S -= Dc * P[j]
    S = sp.expand(S)
    wf = WeakForm(name, coords, t, U, P, C, flux, S, time_order=order)
    fa = problem.field(name).applied
    isotropic = None
    for bc, parts, alpha, beta, g in _resolved_conditions(problem, name):
        if bc.kind == "dirichlet":
            wf.dirichlet.append(DirichletCondition(parts, sp.sympify(g / alpha)))
            continue
        if isotropic is None:
            c0 = C[0, 0]
            ok = all(sp.simplify(C[i, j] - (c0 if i == j else 0)) == 0 for i in range(d) for j in range(d))
            if not ok:
                raise WeakFormError(
                    "Neumann and Robin conditions need an isotropic principal part (c*lap(u), div(k*grad(u))); "
                    "the conormal derivative differs from dn(u) here."
                )
            isotropic = c0
        alpha = alpha.xreplace({fa: U})
        if beta.has(fa) or g.has(fa) or alpha.has(fa) or any(isinstance(a, NormalDerivative) for a in sp.preorder_traversal(g)):
            raise WeakFormError(f"the condition on {', '.join(parts)} must be linear: alpha*u + beta*dn(u) = g.")
        B = sp.expand(isotropic * (g - alpha * U) / beta)
        wf.natural.append(NaturalCondition(parts, bc.kind, B))
    return wf


def _resolved_conditions(problem, name: str):
    """``(condition, parts, alpha, beta, g)`` for each condition of ``name``, parameters substituted.

    A condition whose data hold ``dn(e)`` of a known expression (``dn(exact(u))``)
    is split into one entry per side, each with ``dn(e)`` evaluated with that
    side's outward normal, so that every entry's data are plain expressions.
    """
    coords = tuple(problem.space.coords)
    for bc in problem.conditions_for(name):
        if bc.kind not in ("dirichlet", "neumann", "robin"):
            raise WeakFormError(
                f"the boundary condition on {', '.join(bc.parts)} is not of the form alpha*u + beta*dn(u) = g."
            )
        exprs = [problem.numeric(sp.sympify(e)) for e in (bc.alpha, bc.beta, bc.value)]
        if not any(has_normal_data(e) for e in exprs):
            yield (bc, bc.parts, *exprs)
            continue
        sides = problem.domain.sides if "all" in bc.parts else bc.parts
        for side in sides:
            yield (bc, (side,), *(normal_data(e, problem.domain, side, coords) for e in exprs))
