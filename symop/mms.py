"""The method of manufactured solutions, symbolically.

:func:`manufacture` takes a problem and chosen functions (one per field) and
returns the problem changed so that those functions are its exact solution:
each equation gets the source term that the functions leave as residual,
each boundary condition gets the data the functions give on that side (with
the side's outward normal for ``dn``), time-dependent problems get the
initial data, and ``exact`` lines are added.

:func:`random_solution` draws smooth random functions (sines, Gaussians,
polynomials; rational coefficients, so written files are exact);
:func:`check_exact` verifies by substitution that the exact solutions satisfy
the equations.

This is pure symbolic model work: the chosen functions are SymPy
expressions, outward normals come from the domain
(:meth:`~symop.model.domains.Domain.symbolic_normal`), and the module imports
neither the language nor the plugin manager.  Text such as
``"sin(pi*x)*exp(-t)"`` is read by the front end (:func:`symop.api.manufacture`,
``symop mms``) with the language's own parser, never by ``sympify``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping, Sequence

import numpy as np
import sympy as sp

from symop.errors import SymopError
from symop.model.analysis import classify_condition, space_order_in, time_order_in
from symop.model.domains import Domain
from symop.model.domains.base import as_rational as _rational
from symop.model.operators import Laplacian, NormalDerivative, Partial
from symop.model.problem import BoundaryCondition, Equation, InitialCondition, Problem

__all__ = ["manufacture", "random_solution", "check_exact", "ManufactureError", "outward_normal",
           "boundary_residuals"]

#: largest dimension of an indexed space in which Laplacians are expanded symbolically (above it they stay nodes)
MAX_EXPANDED_DIMENSION = 64


class ManufactureError(SymopError):
    """A manufactured-solution request that cannot be carried out (one line)."""


def _solutions(problem: Problem, solutions: Mapping[str, Any]) -> dict[str, sp.Expr]:
    if not solutions:
        raise ManufactureError("no solution given: pass one expression per field, e.g. --solution \"u = sin(pi*x)\", or --random")
    out: dict[str, sp.Expr] = {}
    names = problem.field_names
    for name, value in solutions.items():
        if name not in names:
            raise ManufactureError(f"the problem has no field `{name}`; its fields are " + ", ".join(names))
        if isinstance(value, str):
            raise ManufactureError(f"the solution for `{name}` is text (`{value}`); read it with "
                                   "symop.api.manufacture or symop.api.parse_expression, which use the language")
        value = sp.sympify(value)
        fields = [f for f in problem.fields if value.has(f.function)]
        if fields:
            raise ManufactureError(f"the solution for `{name}` must not contain the field `{fields[0].name}`")
        out[name] = value
    missing = [n for n in names if n not in out]
    if missing:
        raise ManufactureError("no solution given for the field" + ("s " if len(missing) > 1 else " ")
                               + ", ".join(f"`{m}`" for m in missing) + "; give one expression per field")
    return out


# ---------------------------------------------------------------- symbolics
def _coords(problem: Problem) -> list[sp.Expr]:
    return [problem.space.coordinate(k) for k in range(problem.dimension)]


def _expand_indexed(problem: Problem, expr: sp.Expr) -> sp.Expr:
    """Expand Laplacian/Partial nodes in a small indexed space into derivatives.

    Beyond :data:`MAX_EXPANDED_DIMENSION` coordinates they stay as nodes: the
    fields inside them are then replaced by the given functions, and the
    source keeps ``lap(<function>)`` unevaluated, as a file would write
    ``lap(exact(u))``; every method evaluates such nodes (vectorised sums,
    automatic differentiation) without expanding d terms.
    """
    if not problem.space.is_indexed or not expr.has(Laplacian, Partial):
        return expr
    d = problem.dimension
    if d > MAX_EXPANDED_DIMENSION:
        return expr
    x = problem.space.indexed

    def lap(e):
        return sp.Add(*[sp.Derivative(e.args[0], x[i], 2) for i in range(1, d + 1)])

    def part(e):
        return sp.Derivative(e.expr, *[x[i] for i in e.indices])

    return expr.replace(lambda e: isinstance(e, Laplacian), lap).replace(lambda e: isinstance(e, Partial), part)


def evaluate(problem: Problem, expr: sp.Expr, values: Mapping[str, sp.Expr]) -> sp.Expr:
    """``expr`` with the fields replaced by ``values`` and every derivative carried out."""
    expr = _expand_indexed(problem, sp.sympify(expr))
    mapping = {problem.field(n).applied: sp.sympify(v) for n, v in values.items()}
    derivs = {}
    for d in expr.atoms(sp.Derivative):
        if d.expr in mapping:
            derivs[d] = sp.diff(mapping[d.expr], *d.variable_count)
    out = expr.xreplace(derivs).xreplace(mapping)
    if out.has(sp.Derivative):
        out = out.doit()
    return _resolve_deltas(out)


def _resolve_deltas(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every ``Sum`` that holds a ``KroneckerDelta`` carried out.

    Differentiating ``sum(i, 1, d, f(x[i]))`` by ``x[k]`` gives
    ``Sum(f'(x[i])*KroneckerDelta(k, i))``, which the language cannot write;
    carried out it is ``f'(x[k])``.
    """
    if not expr.has(sp.KroneckerDelta):
        return expr
    return expr.replace(lambda e: isinstance(e, sp.Sum) and e.has(sp.KroneckerDelta), lambda e: e.doit())


def outward_normal(domain: Domain, side: str, coords: Sequence[sp.Expr]) -> list[sp.Expr]:
    """The outward unit normal on ``side`` of ``domain`` as SymPy expressions of ``coords`` (asked of the domain)."""
    return domain.symbolic_normal(side, coords)


def _radial(problem: Problem, normal: Sequence[sp.Expr]) -> tuple[sp.Expr, sp.Expr] | None:
    """``(s, c)`` when ``normal`` is ``s*(x_k - c)`` for every coordinate (one centre value ``c``), else None."""
    coords = _coords(problem)
    scale, centre = None, None
    for nk, xk in zip(normal, coords):
        s = sp.diff(nk, xk)
        rest = sp.expand(nk - s * xk)
        if s == 0 or s.has(*coords) or rest.has(*coords):
            return None
        c = -rest / s if rest != 0 else sp.S.Zero
        if scale is None:
            scale, centre = s, c
        elif (s != scale and sp.simplify(s - scale) != 0) or (c != centre and sp.simplify(c - centre) != 0):
            return None
    return (scale, centre) if scale is not None else None


def _normal_derivative(problem: Problem, value: sp.Expr, normal: Sequence[sp.Expr]) -> sp.Expr:
    """The derivative of the field-free ``value`` along ``normal``.

    In an indexed space (``x[1..d]``) with a radial normal ``s*(x - c)`` (a
    ball) it is ``s`` times the derivative of ``value(c + (1 + ε)(x - c))`` in
    ``ε`` at 0: an expression with the ``sum`` nodes of ``value`` kept, of a
    size that does not grow with ``d``.  Otherwise it is ``Σ n_k ∂_k value``.
    """
    coords = _coords(problem)
    if problem.space.is_indexed:
        radial = _radial(problem, normal)
        if radial is not None:
            s, c = radial
            base = problem.space.indexed
            eps = sp.Dummy("eps")
            scaled = value.replace(lambda e: isinstance(e, sp.Indexed) and e.base == base,
                                   lambda e: c + (1 + eps) * (e - c))
            return s * sp.diff(scaled, eps).subs(eps, 0)
    out = sp.Add(*[nk * sp.diff(value, xk) for nk, xk in zip(normal, coords) if nk != 0])
    return _resolve_deltas(out)


def _replace_dn(problem: Problem, expr: sp.Expr, normal: Sequence[sp.Expr], exact: Mapping[str, sp.Expr]) -> sp.Expr:
    """``expr`` with each ``dn(e)`` replaced by the normal derivative of ``e`` at the ``exact`` solutions."""
    def dn(e):
        return _normal_derivative(problem, evaluate(problem, e.args[0], exact), normal)

    return expr.replace(lambda e: isinstance(e, NormalDerivative), dn)


def _tidy(expr: sp.Expr, budget: int = 40) -> sp.Expr:
    """A shorter but equal form of ``expr``: the smallest of a few cheap rewritings.

    (Full ``sympy.simplify`` is avoided: on trigonometric and exponential
    sources it takes seconds to minutes.)
    """
    expr = sp.sympify(expr)
    try:
        candidates = [expr, sp.factor_terms(expr)]
        if sp.count_ops(expr) <= budget:
            candidates.append(sp.expand(expr))
            candidates.append(sp.factor_terms(sp.expand(expr)))
    except Exception:  # pragma: no cover - rewriting failures keep the input
        return expr
    good = [c for c in candidates if not c.has(sp.zoo, sp.nan)]
    return min(good, key=lambda c: (sp.count_ops(c), len(str(c))))


def _split_fields(problem: Problem, expr: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """``expr`` as (terms with fields, terms without)."""
    fns = [f.function for f in problem.fields]
    with_f, without = [], []
    for term in sp.Add.make_args(sp.sympify(expr)):
        (with_f if any(term.has(fn) for fn in fns) or term.has(NormalDerivative) else without).append(term)
    return sp.Add(*with_f), sp.Add(*without)


def _is_zero(expr: sp.Expr, problem: Problem | None = None, samples: int = 6) -> bool:
    """Whether ``expr`` is zero: symbolically, or (failing that) at random points to 1e-9."""
    expr = sp.sympify(expr)
    if expr == 0:
        return True
    free = sorted(expr.free_symbols, key=str)
    if any(isinstance(s, sp.Indexed) for s in expr.atoms(sp.Indexed)):
        free = sorted(expr.atoms(sp.Indexed), key=str) + [s for s in free if not isinstance(s, sp.IndexedBase)]
    rng = np.random.default_rng(1234)
    subs_params = problem.param_values if problem is not None else {}
    for _ in range(samples):
        point = {s: sp.Float(rng.uniform(0.1, 0.9)) for s in free}
        point.update({k: sp.Float(v) for k, v in subs_params.items()})
        try:
            value = complex(sp.N(expr.xreplace(point), 30))
        except (TypeError, ValueError):
            return False
        if not np.isfinite(value) or abs(value) > 1e-9:
            return False
    return True


def _reduce(expr: sp.Expr, budget: int = 300) -> sp.Expr:
    """A cheap symbolic reduction: expand, then simplify when small."""
    expr = sp.sympify(expr)
    if expr == 0:
        return expr
    try:
        out = sp.expand(expr) if sp.count_ops(expr) < 4 * budget else expr
        if out != 0 and sp.count_ops(out) < budget:
            out = sp.simplify(out)
    except Exception:  # pragma: no cover
        return expr
    return out


def boundary_pieces(problem: Problem, bc: BoundaryCondition) -> list[tuple[tuple[str, ...], list[sp.Expr] | None]]:
    """Groups of sides of ``bc`` that share an outward normal (None when dn is absent)."""
    if not bc.residual.has(NormalDerivative):
        return [(bc.parts, None)]
    coords = _coords(problem)
    groups: list[tuple[list[str], list[sp.Expr]]] = []
    for side in bc.parts:
        n = outward_normal(problem.domain, side, coords)
        for names, m in groups:
            if all(sp.simplify(a - b) == 0 for a, b in zip(n, m)):
                names.append(side)
                break
        else:
            groups.append(([side], n))
    return [(tuple(names), n) for names, n in groups]


def _periodic_axes(problem: Problem) -> list[tuple[int, sp.Expr, sp.Expr]]:
    """``(axis, lower, upper)`` of every periodic coordinate, bounds as rationals."""
    names = list(problem.space.names)
    if not problem.periodic:
        return []
    lo, hi = problem.domain.bounding_box()
    return [(names.index(c), _rational(float(lo[names.index(c)])), _rational(float(hi[names.index(c)])))
            for c in problem.periodic if c in names]


def _check_periodic(problem: Problem, exact: Mapping[str, sp.Expr]) -> None:
    """Refuse solutions that do not repeat across a periodic direction.

    The value and the derivatives below the field's spatial order must agree
    on the two opposite sides, else the periodic problem's solution is not
    the given function (the manufactured file would silently disagree with
    its ``exact`` line).
    """
    coords = _coords(problem)
    for axis, lo, hi in _periodic_axes(problem):
        x = coords[axis]
        for fld in problem.fields:
            order = max([space_order_in(eq.residual, fld.applied, problem.t) for eq in problem.equations] or [0])
            value = exact[fld.name]
            for k in range(max(order, 1)):
                jump = value.subs(x, hi) - value.subs(x, lo)
                if not _is_zero(_reduce(jump), problem):
                    what = "the solution" if k == 0 else f"its {_ordinal(k)} derivative in `{x}`"
                    period = hi - lo
                    example = f"sin(2*pi*{x})" if period == 1 else f"sin(2*pi*{x}/{period})"
                    raise ManufactureError(
                        f"the solution for `{fld.name}` is not periodic in `{x}`: {what} differs between "
                        f"{x} = {lo} and {x} = {hi}; the problem is periodic in `{x}`, so choose a function of "
                        f"period {period} in `{x}` (for example {example})")
                value = sp.diff(value, x)


def _ordinal(k: int) -> str:
    return {1: "first", 2: "second", 3: "third"}.get(k, f"{k}th")


def manufacture(problem: Problem, solutions: Mapping[str, Any], *, simplify: bool = True) -> Problem:
    """``problem`` changed so that ``solutions`` (field name → expression or text) solve it exactly.

    * every equation ``lhs = rhs`` becomes ``lhs = rhs + R`` with ``R`` the
      residual ``lhs - rhs`` of the given functions (field-free terms of
      ``rhs`` merged and simplified with it);
    * every boundary condition ``lhs = rhs`` gets ``rhs + R`` with ``dn``
      evaluated with the side's outward normal; a condition with ``dn`` on
      sides of different normals is split into one condition per normal;
    * time-dependent problems get ``initial`` data for each time order the
      equation needs, at the start time;
    * the functions become the ``exact`` solutions.
    """
    exact = _solutions(problem, solutions)
    _check_periodic(problem, exact)
    tidy = _tidy if simplify else (lambda e: e)

    equations: list[Equation] = []
    for eq in problem.equations:
        residual = evaluate(problem, eq.residual, exact)
        with_f, without = _split_fields(problem, eq.rhs)
        source = tidy(without + residual)
        equations.append(replace(eq, rhs=with_f + source))

    conditions: list[BoundaryCondition] = []
    for bc in problem.boundary:
        fld = problem.field(bc.field)
        for parts, normal in boundary_pieces(problem, bc):
            residual = bc.residual if normal is None else _replace_dn(problem, bc.residual, normal, exact)
            residual = evaluate(problem, residual, exact)
            with_f, without = _split_fields(problem, bc.rhs)
            value = tidy(without + residual)
            conditions.append(classify_condition(parts, fld, bc.lhs, with_f + value, bc.position))

    initial: list[InitialCondition] = []
    if problem.time is not None:
        t = problem.t
        t0 = _rational(problem.time.start)
        for eq in equations:
            fld = problem.field(eq.field)
            order = max(1, time_order_in(eq.residual, fld.applied, t))
            old = {ic.order: ic for ic in problem.initial if ic.field == fld.name}
            for k in range(order):
                value = tidy(sp.diff(exact[fld.name], t, k).subs(t, t0))
                pos = old[k].position if k in old else None
                initial.append(InitialCondition(fld.name, k, value, pos))

    exact_out = {name: exact[name] for name in problem.field_names}
    title = problem.title or problem.name
    return replace(problem, equations=tuple(equations), boundary=tuple(conditions), initial=tuple(initial),
                   as_read=False, exact=exact_out,
                   title=f"{title} (manufactured solution)" if "manufactured" not in title else title)


def check_exact(problem: Problem, solutions: Mapping[str, Any] | None = None) -> dict[str, sp.Expr]:
    """Field → residual of its equation at the exact solution (``0`` when exact).

    The residual is simplified symbolically; when SymPy cannot reduce a
    nonzero-looking form, it is evaluated at random points (with the
    parameters' values) and counted as 0 when it vanishes to 1e-9 there.
    """
    exact = _solutions(problem, solutions) if solutions is not None else dict(problem.exact)
    missing = [n for n in problem.field_names if n not in exact]
    if missing:
        raise ManufactureError("no exact solution for " + ", ".join(f"`{m}`" for m in missing))
    out: dict[str, sp.Expr] = {}
    for eq in problem.equations:
        r = evaluate(problem, eq.residual, exact)
        r = _reduce(r)
        out[eq.field] = sp.S.Zero if _is_zero(r, problem) else r
    return out


def boundary_residuals(problem: Problem, solutions: Mapping[str, Any] | None = None) -> list[tuple[str, sp.Expr]]:
    """``(sides, residual)`` of every boundary condition at the exact solution."""
    exact = _solutions(problem, solutions) if solutions is not None else dict(problem.exact)
    out = []
    for bc in problem.boundary:
        for parts, normal in boundary_pieces(problem, bc):
            if normal is None and bc.residual.has(NormalDerivative):  # pragma: no cover
                continue
            r = bc.residual if normal is None else _replace_dn(problem, bc.residual, normal, exact)
            r = _reduce(evaluate(problem, r, exact))
            out.append((", ".join(parts), sp.S.Zero if _is_zero(r, problem) else r))
    return out


# ------------------------------------------------------------ random functions
def _frac(rng: np.random.Generator, lo: float, hi: float, denominator: int = 8) -> sp.Rational:
    """A random rational in [lo, hi] with the given denominator."""
    k = int(rng.integers(int(np.ceil(lo * denominator)), int(np.floor(hi * denominator)) + 1))
    return sp.Rational(k, denominator)


def random_solution(problem: Problem, seed: int = 0, *, modes: int = 3,
                    kinds: Sequence[str] = ("fourier", "gaussian", "polynomial"),
                    amplitude: float = 1.0, max_frequency: int = 3) -> dict[str, sp.Expr]:
    """Smooth random functions, one per field, reproducible by ``seed``.

    Each is a sum of ``modes`` terms drawn from ``kinds``: ``fourier``
    ``a*sin(k·x + φ)`` with integer wave numbers up to ``max_frequency``
    (times π over the domain's size), ``gaussian`` ``a*exp(-w|x - c|²)`` centred
    in the domain's bounding box, ``polynomial`` ``a*(c0 + Σ cᵢ ξᵢ + c ξᵢξⱼ)``
    in coordinates ξ scaled to [-1, 1] on the bounding box.  Time-dependent
    problems multiply each term by ``exp(-r (t - t0))`` or ``cos(ω (t - t0))``.
    All coefficients are rationals and Σ|a| ≤ ``amplitude``, so
    ``|u| ≤ amplitude`` on the bounding box for t ≥ t0.  Along a periodic
    coordinate the functions repeat: Fourier modes take whole periods there,
    and Gaussians and polynomials do not depend on it.
    """
    kinds = tuple(kinds)
    bad = [k for k in kinds if k not in ("fourier", "gaussian", "polynomial")]
    if bad or not kinds:
        raise ManufactureError(f"unknown kind of random function `{bad[0] if bad else ''}`; use fourier, gaussian or polynomial")
    if modes < 1:
        raise ManufactureError("random solutions need at least one mode")
    if max_frequency < 0:
        raise ManufactureError(f"the largest wave number of random solutions must be 0 or more, not {max_frequency}")
    rng = np.random.default_rng(seed)
    coords = _coords(problem)
    if len(coords) > 8:
        picks = sorted(rng.choice(len(coords), size=8, replace=False))
        coords = [coords[int(i)] for i in picks]
    else:
        picks = list(range(len(coords)))
    lo, hi = problem.domain.bounding_box()
    lo = [float(lo[int(i)]) for i in picks]
    hi = [float(hi[int(i)]) for i in picks]
    mid = [_rational(round((a + b) / 2, 6)) for a, b in zip(lo, hi)]
    half = [_rational(round((b - a) / 2, 6)) for a, b in zip(lo, hi)]
    names = list(problem.space.names)
    periodic = [names[int(i)] in problem.periodic for i in picks]
    amp = _rational(amplitude)
    t = problem.t
    t0 = _rational(problem.time.start) if problem.time is not None else 0
    out: dict[str, sp.Expr] = {}
    for name in problem.field_names:
        weights = rng.integers(2, 9, size=modes).astype(float)
        weights = weights / weights.sum()
        terms = []
        for m in range(modes):
            a = amp * sp.Rational(int(np.floor(weights[m] * 64)), 64)
            if a == 0:
                a = amp / 64
            if rng.random() < 0.5:
                a = -a
            kind = kinds[int(rng.integers(len(kinds)))]
            if kind != "fourier" and all(periodic):  # nothing but a Fourier mode repeats in every direction
                kind = "fourier"
            if kind == "fourier":
                arg = sp.S.Zero
                for x, h, per in zip(coords, half, periodic):
                    k = int(rng.integers(0, max_frequency + 1))
                    if k:  # a periodic direction takes whole periods (2h is its period)
                        arg += (k if per else sp.Rational(k, 2)) * sp.pi * x / h
                if arg == 0:
                    arg = sp.pi * coords[0] / half[0] / (1 if periodic[0] else 2)
                phase = sp.pi * sp.Rational(int(rng.integers(0, 8)), 8)
                term = sp.sin(arg + phase)
            elif kind == "gaussian":  # constant along periodic directions
                center = [c + h * _frac(rng, -0.5, 0.5) for c, h in zip(mid, half)]
                width = _frac(rng, 0.5, 2.0, 4)
                r2 = sp.Add(*[((x - c) / h) ** 2 for x, c, h, per in zip(coords, center, half, periodic) if not per])
                term = sp.exp(-width * r2)
            else:
                xi = [(x - c) / h for x, c, h, per in zip(coords, mid, half, periodic) if not per]
                cs = [_frac(rng, -1, 1) for _ in range(len(xi) + 2)]
                pairs = (xi[int(rng.integers(len(xi)))] * xi[int(rng.integers(len(xi)))])
                total = sum(abs(float(c)) for c in cs) or 1.0
                poly = cs[0] + sp.Add(*[c * z for c, z in zip(cs[1:-1], xi)]) + cs[-1] * pairs
                term = sp.expand(poly) * _rational(round(1.0 / total, 6)) if total > 1 else sp.expand(poly)
            if t is not None:
                if rng.random() < 0.5:
                    term = term * sp.exp(-_frac(rng, 0.25, 2.0, 4) * (t - t0))
                else:
                    term = term * sp.cos(_frac(rng, 0.25, 2.0, 4) * sp.pi * (t - t0))
            terms.append(a * term)
        out[name] = sp.Add(*terms)
    return out
