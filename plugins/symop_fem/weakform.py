"""Strong form → weak form, symbolically, for one field or a system of fields.

For the equation of field ``u_a`` (test function v), an expression ``E`` of
second order in the fields ``u_1 .. u_m``

    E = sum_b sum_ij c^b_ij(x, t, U) d_i d_j u_b + Q(x, t, U, grad U)

has each principal term integrated by parts,

    int c d_i d_j u_b v = - int c d_j u_b d_i v - int (D_i c) d_j u_b v
                          + int_boundary c n_i d_j u_b v,

with ``D_i c = dc/dx_i + sum_b dc/du_b d_i u_b`` the total derivative, so that

    int E v = - int F . grad v + int S v + int_boundary (n . sum_b C^b grad u_b) v,
    F_i = sum_b sum_j c^b_ij d_j u_b,   S = Q - sum_b sum_ij (D_i c^b_ij) d_j u_b.

A system is one such form per field, each tested with its own test function;
the coupling lives in ``F`` and ``S``, which may hold every field's value and
gradient (cross-diffusion ``lap(v)`` in the equation of ``u`` included).

Boundary convention: ``dn(u)`` is the outward normal derivative n . grad u.
On a Neumann or Robin part of ``u_a`` the principal part of its equation must
be isotropic and in ``u_a`` alone, C^a = c I and C^b = 0 for b != a (as for
``lap`` and ``div(k grad u)``); the boundary term is then ``int c dn(u_a) v``
and the condition ``alpha u_a + beta dn(u_a) = g`` is substituted,
``dn(u_a) = (g - alpha u_a)/beta``.  So for ``-div(k grad u) = f`` the condition
``dn(u) = g`` prescribes the flux ``k dn(u) = k g`` — the condition is read
literally, as a condition on the normal derivative.  Sides with no condition
are natural: ``n . C grad u = 0``.  Dirichlet parts are imposed strongly, field
by field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from symop.errors import SymopError
from symop.model.analysis import bounded_expand, evolution, field_nodes, has_normal_data, normal_data
from symop.model.operators import NormalDerivative
from symop.wellposed import mixed_condition_refusal
from symop.writer import language_text


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
    """``int E v = -int F . grad v + int S v + sum int_parts B v`` for the equation of one field.

    ``steady`` is ``E = 0``; otherwise ``M dt(u, k) = (the right side)`` (``E`` is
    the right-hand side of ``dt(u, k) = E``, ``k`` = ``time_order``, 1 or 2).
    ``fields`` are every unknown of the problem, in order; ``unknowns`` and
    ``gradients`` their value and gradient symbols, of which ``U`` and ``P`` are
    this equation's own field's.  ``F``, ``S`` and the boundary integrands are
    expressions in the coordinates, ``t`` and those symbols.
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
    fields: tuple[str, ...] = ()
    unknowns: tuple[sp.Symbol, ...] = ()
    gradients: tuple[tuple[sp.Symbol, ...], ...] = ()

    def __post_init__(self) -> None:
        if not self.fields:
            self.fields, self.unknowns, self.gradients = (self.field,), (self.U,), (tuple(self.P),)

    @property
    def arguments(self) -> list[sp.Symbol]:
        """The arguments of every generated coefficient: coordinates, ``t``, then each field's U and P."""
        out = list(self.coords) + ([self.t] if self.t is not None else [])
        for u, p in zip(self.unknowns, self.gradients):
            out += [u, *p]
        return out

    def _all_unknowns(self) -> set[sp.Symbol]:
        return {s for u, p in zip(self.unknowns, self.gradients) for s in (u, *p)}

    def is_linear(self) -> bool:
        """Whether F, S and the boundary integrands are affine in every field's value and gradient."""
        unknowns = self._all_unknowns()
        exprs = [*self.flux, self.source, *(n.integrand for n in self.natural)]
        for e in exprs:
            for s in unknowns:
                if sp.diff(e, s).free_symbols & unknowns:
                    return False
        return True

    def principal_is_nonlinear(self) -> bool:
        """Whether a coefficient of the second derivatives depends on a field's value (``u^2*lap(u)``,
        ``div((1 + u^2)*grad(u))``): the flux is then nonlinear, a diffusion that an explicit step only
        resolves at ``dt ~ h^2``."""
        unknowns = set(self.unknowns)
        return any(sp.diff(f, s).free_symbols & unknowns for f in self.flux for s in self._all_unknowns())

    def operator_depends_on_time(self) -> bool:
        """Whether a coefficient in front of an unknown depends on ``t``."""
        if self.t is None:
            return False
        exprs = [*self.flux, self.source, *(n.integrand for n in self.natural)]
        return any(sp.diff(e, s).has(self.t) for e in exprs for s in self._all_unknowns())

    def couples(self) -> tuple[str, ...]:
        """The other fields whose value or gradient appears in this equation's weak form."""
        exprs = [*self.flux, self.source, *(n.integrand for n in self.natural)]
        out = []
        for name, u, p in zip(self.fields, self.unknowns, self.gradients):
            if name != self.field and any(e.has(u, *p) for e in exprs):
                out.append(name)
        return tuple(out)

    # ----------------------------------------------------------- printing
    def text(self, degree: int = 1) -> str:
        """The weak form in words: the volume integrand, each boundary integral and the Dirichlet parts."""
        names = [str(c) for c in self.coords]
        u = self.field
        rename = {}
        for name, U, P in zip(self.fields, self.unknowns, self.gradients):
            rename[U] = sp.Symbol(name)
            for k, p in enumerate(P):
                rename[p] = sp.Symbol(f"d{names[k]}({name})")
        if len(self.fields) > 1:
            test = f"phi_{u}"
        else:
            test = "phi" if u == "v" else "v"
        vgrad = [sp.Symbol(f"d{n}({test})") for n in names]
        F = [sp.simplify(f.xreplace(rename)) for f in self.flux]
        S = sp.simplify(self.source.xreplace(rename))
        volume = sp.Add(*[-f * g for f, g in zip(F, vgrad)]) + S * sp.Symbol(test)
        what = f"weak form of `{u}`" if len(self.fields) == 1 else f"weak form of the equation of `{u}`"
        lines = [f"{what} (P{degree} Lagrange, test function {test} in V_h, {test} = 0 on Dirichlet parts of {u}):"]
        lhs = {0: "0", 1: f"∫_Ω dt({u}) {test} dx"}.get(self.time_order, f"∫_Ω dt({u}, {self.time_order}) {test} dx")
        rhs = [f"∫_Ω [ {sp.sstr(bounded_expand(volume))} ] dx"]
        for nc in self.natural:
            rhs.append(f"∫_{{{', '.join(nc.parts)}}} [ {sp.sstr(sp.simplify(nc.integrand.xreplace(rename)))} ] "
                       f"{test} ds   ({nc.kind})")
        lines.append(f"  {lhs} = " + "\n      + ".join(rhs))
        for dc in self.dirichlet:
            lines.append(f"  {u} = {sp.sstr(dc.value)} on {', '.join(dc.parts)}   (strongly, at the nodes)")
        lines.append("  (integrated by parts: ∫ c_ij d_i d_j u v = -∫ c_ij d_j u d_i v - ∫ D_i(c_ij) d_j u v + ∫_Γ c dn(u) v)")
        return "\n".join(lines)


@dataclass
class _Symbols:
    """The value, gradient and second-derivative symbols standing for each field in a weak form."""

    U: dict[str, sp.Symbol]
    P: dict[str, tuple[sp.Symbol, ...]]
    W: dict[str, dict[tuple[int, int], sp.Symbol]]


def _symbols(problem) -> _Symbols:
    d = problem.dimension
    names = problem.field_names
    if len(names) == 1:  # one field: the short names its generated code has always used
        tags = {names[0]: ""}
    else:
        tags = {n: f"{k}_" for k, n in enumerate(names)}
    # real symbols: the fields are real, so d|u|/du is sign(u) (not an expression in re(u) and im(u))
    U = {n: sp.Symbol(f"U{tags[n]}_", real=True) for n in names}
    P = {n: tuple(sp.Symbol(f"P{tags[n]}{k}_", real=True) for k in range(d)) for n in names}
    W = {n: {(i, j): sp.Symbol(f"W{tags[n]}{i}{j}_", real=True) for i in range(d) for j in range(i, d)}
         for n in names}
    return _Symbols(U, P, W)


def _freeze(expr: sp.Expr, problem, sym: _Symbols) -> sp.Expr:
    """``expr`` with every field, first and second spatial derivative replaced by its symbol."""
    coords = list(problem.space.coords)
    t = problem.t
    by_applied = {problem.field(n).applied: n for n in problem.field_names}
    repl = {}
    for node in sorted(field_nodes(expr, problem), key=sp.default_sort_key):  # a stable first complaint
        if node in by_applied:
            repl[node] = sym.U[by_applied[node]]
            continue
        if not isinstance(node, sp.Derivative) or node.expr not in by_applied:
            raise WeakFormError(f"the finite-element method cannot write `{language_text(node, problem)}` in a "
                                "weak form.")
        name = by_applied[node.expr]
        counts = dict(node.variable_count)
        if t is not None and counts.get(t, 0):
            raise WeakFormError(f"a time derivative `{language_text(node, problem)}` appears where the method "
                                "expects none.")
        idx = []
        for v, c in node.variable_count:
            idx += [coords.index(v)] * int(c)
        if len(idx) == 1:
            repl[node] = sym.P[name][idx[0]]
        elif len(idx) == 2:
            i, j = sorted(idx)
            repl[node] = sym.W[name][(i, j)]
        else:
            raise WeakFormError(
                f"the finite-element method handles equations of second order in space; "
                f"`{language_text(node, problem)}` is of order {len(idx)}."
            )
    out = bounded_expand(expr).xreplace(repl)
    left = field_nodes(out, problem)
    if left:
        raise WeakFormError(f"cannot handle `{language_text(next(iter(left)), problem)}` in the weak form.")
    return out


def derive(problem, name: str) -> WeakForm:
    """The :class:`WeakForm` of the equation of field ``name`` of ``problem`` (parameters substituted)."""
    if problem.space.is_indexed:
        raise WeakFormError("finite elements need named coordinates (x, y, z), not an indexed space.")
    d = problem.dimension
    coords = tuple(problem.space.coords)
    t = problem.t
    sym = _symbols(problem)
    names = tuple(problem.field_names)
    order, E = evolution(problem, name)
    if order > 2:
        raise WeakFormError(f"finite elements here handle first and second order in time; the equation of "
                            f"`{name}` has dt({name}, {order}).")
    if order == 0:
        E = problem.equation_for(name).residual
    E = problem.numeric(E)
    Ef = _freeze(E, problem, sym)
    every_W = [w for n in names for w in sym.W[n].values()]
    every_P = [p for n in names for p in sym.P[n]]
    Cs: dict[str, sp.Matrix] = {}
    for b in names:
        C = sp.zeros(d, d)
        for (i, j), w in sym.W[b].items():
            c = sp.diff(Ef, w)
            if c.has(*every_W) or c.has(*every_P):
                raise WeakFormError(f"the equation of `{name}` is not linear in its second derivatives with "
                                    "gradient-free coefficients.")
            if i == j:
                C[i, i] = c
            else:
                C[i, j] = C[j, i] = c / 2
        Cs[b] = C
    Q = bounded_expand(Ef.xreplace({w: 0 for w in every_W}))
    flux = tuple(bounded_expand(sum(Cs[b][i, j] * sym.P[b][j] for b in names for j in range(d))) for i in range(d))
    S = Q
    for b in names:
        C = Cs[b]
        for i in range(d):
            for j in range(d):
                if C[i, j] != 0:
                    Dc = sp.diff(C[i, j], coords[i]) + sum(sp.diff(C[i, j], sym.U[c]) * sym.P[c][i] for c in names)
                    S -= Dc * sym.P[b][j]
    S = bounded_expand(S)
    wf = WeakForm(name, coords, t, sym.U[name], sym.P[name], Cs[name], flux, S, time_order=order,
                  fields=names, unknowns=tuple(sym.U[n] for n in names),
                  gradients=tuple(sym.P[n] for n in names))
    fields_applied = [problem.field(n).applied for n in names]
    fa = problem.field(name).applied
    isotropic = None
    mixed = mixed_condition_refusal(problem, "fem", name)
    if mixed is not None:
        raise WeakFormError(mixed + ".")
    for bc, parts, alpha, beta, g in _resolved_conditions(problem, name):
        if bc.kind == "dirichlet":
            if g.has(*fields_applied) or alpha.has(*fields_applied):
                raise WeakFormError(f"the Dirichlet value of `{name}` on {', '.join(parts)} must be known data, "
                                    "not an expression of the fields.")
            wf.dirichlet.append(DirichletCondition(parts, sp.sympify(g / alpha)))
            continue
        if isotropic is None:
            crossed = [b for b in names if b != name and any(c != 0 for c in Cs[b])]
            if crossed:
                raise WeakFormError(
                    f"Neumann and Robin conditions on `{name}` need its equation's second derivatives to be of "
                    f"`{name}` alone; this one has second derivatives of `{crossed[0]}`, so its boundary flux is "
                    f"not dn({name}). Give `{name}` Dirichlet conditions there."
                )
            C = Cs[name]
            c0 = C[0, 0]
            ok = all(sp.simplify(C[i, j] - (c0 if i == j else 0)) == 0 for i in range(d) for j in range(d))
            if not ok:
                raise WeakFormError(
                    "Neumann and Robin conditions need an isotropic principal part (c*lap(u), div(k*grad(u))); "
                    "the conormal derivative differs from dn(u) here."
                )
            isotropic = c0
        alpha = alpha.xreplace({fa: sym.U[name]})
        if (beta.has(*fields_applied) or g.has(*fields_applied) or alpha.has(*fields_applied)
                or any(isinstance(a, NormalDerivative) for a in sp.preorder_traversal(g))):
            raise WeakFormError(f"the condition on {', '.join(parts)} must be linear: alpha*u + beta*dn(u) = g.")
        B = bounded_expand(isotropic * (g - alpha * sym.U[name]) / beta)
        wf.natural.append(NaturalCondition(parts, bc.kind, B))
    return wf


def derive_all(problem) -> list[WeakForm]:
    """The :class:`WeakForm` of every field's equation, in the order of the fields."""
    return [derive(problem, n) for n in problem.field_names]


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
