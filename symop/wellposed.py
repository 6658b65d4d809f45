"""What a classical solver checks before it solves: that the problem has one solution, and data it can evaluate.

Checks that fd and fem share (and any method that solves a discrete system
may use):

* :func:`constant_refusal`: a steady problem in which a field appears only
  through its derivatives — in its equation, the other equations and its
  boundary conditions — (``-lap(u) = f`` with ``dn(u) = g`` on every side, or
  periodic sides) determines that field only up to an added constant: with
  ``u``, every ``u + c`` solves it.  A linear system whose fields may be
  shifted together (``-lap(u) + u - v = f``, ``-lap(v) + v - u = g``) is
  caught too.  Such a problem has either no solution (data that do not
  balance, :math:`\\int f + \\oint g \\ne 0`) or infinitely many, and the
  discrete system is singular: a sparse solve returns garbage (1e14) or
  fails to converge.  The methods refuse it up front with a sentence that
  says how to fix it (a Dirichlet or Robin condition on one side, or a term
  in ``u`` itself).  Methods that minimise a loss (pinn) pick one solution
  and need not refuse.
* :func:`mixed_condition_refusal`: a boundary condition of one field that
  involves another (``dn(u) - v = g``), which neither closes.
* :func:`check_data`: every piece of known data — each field-free term of an
  equation, the coefficients of its field nodes, boundary values and
  coefficients, initial values — evaluated at the points where the method
  evaluates it (fd: its grid nodes; fem: its quadrature points), at the start
  and the end time.  Data that are not finite there (``sqrt(x - 2)`` on
  [0, 1], ``1/x`` at a node on x = 0) raise :class:`DataError` naming the term
  and a point, instead of a solver's "matrix is singular" or NaN.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable, Iterator

import sympy as sp
from sympy.core.function import AppliedUndef

from symop.errors import SymopError
from symop.model.analysis import field_nodes, has_normal_data, is_linear, normal_data, spatial_order_of
from symop.model.operators import NormalDerivative
from symop.model.problem import Problem
from symop.writer import language_text

if TYPE_CHECKING:  # pragma: no cover - NumPy is imported where data are evaluated, not by a method's accepts
    import numpy as np

#: points evaluated at once (bounds the memory of a check on a large grid)
CHUNK = 1 << 18

#: where a method evaluates an equation's data: the field's name → chunks of points (N, d)
InteriorPoints = Callable[[str], Iterable["np.ndarray"]]
#: where a method evaluates a boundary condition's data: (field, side) → chunks of points (N, d)
BoundaryPoints = Callable[[str, str], Iterable["np.ndarray"]]


class DataError(SymopError):
    """A source, coefficient, boundary or initial value is not finite where a method evaluates it."""


# --------------------------------------------------------------------------- one solution
def _frozen(expr: sp.Expr, problem: Problem) -> tuple[sp.Expr, dict[sp.Expr, sp.Dummy], dict[sp.Expr, sp.Dummy]]:
    """``expr`` with every derivative of a field (``dn``, ``lap`` included) replaced by a symbol of its own, and
    then every field's value by one; the maps of the fields' values and of the derivatives to their symbols."""
    expr = sp.sympify(expr)
    nodes = field_nodes(expr, problem) | expr.atoms(NormalDerivative)
    applied = {f.applied for f in problem.fields}
    derivatives = {n: sp.Dummy("D") for n in nodes if n not in applied}
    values = {f.applied: sp.Dummy(f.name) for f in problem.fields}
    return expr.xreplace(derivatives).xreplace(values), values, derivatives


def _shifts(problem: Problem) -> list[dict[str, sp.Expr]]:
    """Constant shifts ``{field: c}`` (not all zero) that map solutions to solutions; empty when none is found.

    A field whose value appears in no equation and no condition may be shifted alone (any problem, linear or
    not).  Otherwise, for a linear problem whose equations and conditions hold the fields' values with
    numeric coefficients, the shifts are the null space of those coefficients.
    """
    exprs = [problem.numeric(eq.residual) for eq in problem.equations]
    exprs += [problem.numeric(bc.residual) for bc in problem.boundary]
    frozen = [_frozen(e, problem)[:2] for e in exprs]
    names = list(problem.field_names)
    alone = [n for n in names if not any(e.has(v[problem.field(n).applied]) for e, v in frozen)]
    if alone:
        return [{alone[0]: sp.S.One}]
    if not all(is_linear(e, problem) for e in exprs):
        return []
    rows = []
    for e, values in frozen:
        row = [sp.diff(e, values[problem.field(n).applied]) for n in names]
        if not all(c.is_number for c in row):
            return []  # coefficients that vary in space: no shift sought
        rows.append(row)
    return [dict(zip(names, v)) for v in sp.Matrix(rows).nullspace()]


def _open_sides(problem: Problem) -> list[str]:
    """The domain's sides that are not periodic (where a condition may be given)."""
    dom = problem.domain
    if not problem.periodic or not hasattr(dom, "axis_of_side"):
        return list(dom.sides)
    names = [a[0] for a in dom.axes]
    out = []
    for side in dom.sides:
        axis, _ = dom.axis_of_side(side)
        if (names[axis] if isinstance(axis, int) else axis) not in problem.periodic:
            out.append(side)
    return out


def constant_refusal(problem: Problem, method: str) -> str | None:
    """Why ``method`` refuses a steady problem that determines its solution only up to an added constant (a
    sentence that says how to fix it), or None.  Time-dependent problems are not concerned: the initial
    values fix the constant."""
    if not problem.is_steady or problem.space.is_indexed:
        return None
    shifts = _shifts(problem)
    if not shifts:
        return None
    shift = {k: v for k, v in shifts[0].items() if v != 0}
    u = next(iter(shift))
    balance = "which needs data that balance, ∫ source + ∮ flux = 0"
    sides = _open_sides(problem)
    fixes = [f"a Dirichlet condition on one side (`boundary {sides[0]}: {u} = 0`)",
             f"a Robin one (`dn({u}) + {u} = g`)"] if sides else []
    if len(shift) == 1:
        why = (f"fixes `{u}` only up to an added constant: `{u}` appears only through its derivatives (no term "
               f"in `{u}` itself, and every side has dn({u}) = g or is periodic), so if `{u}` "
               f"solves it ({balance}), every `{u} + c` does too")
        fixes.append(f"a term in `{u}` itself to its equation (a reaction such as `+ {u}`)")
    else:
        c = sp.Symbol("c")
        first = next(iter(shift.values()))
        moved = ", ".join(f"{k} - {language_text(-v / first * c)}" if (v / first).is_negative else
                          f"{k} + {language_text(v / first * c)}" for k, v in shift.items())
        names = ", ".join(shift)
        why = (f"fixes {', '.join(f'`{k}`' for k in shift)} only up to added constants: if ({names}) solves it "
               f"({balance}), so does ({moved}) for every constant c")
        fixes.append("terms in the fields themselves that do not cancel under that shift")
    return f"{method} needs a problem with one solution, and this one {why}. Add " + ", or ".join(fixes) + "."


def mixed_condition_refusal(problem: Problem, method: str, field: str | None = None) -> str | None:
    """Why ``method`` refuses a boundary condition that involves another field than its own (of ``field`` only,
    when given), or None.

    fd closes each field's ghost layers, and fem each field's boundary terms,
    from that field's conditions alone: a condition such as ``dn(u) - v = g``
    would need ``v`` on the side as data.
    """
    for bc in problem.boundary:
        if field is not None and bc.field != field:
            continue
        expr = sp.sympify(bc.lhs) - sp.sympify(bc.rhs)
        others = [f.name for f in problem.fields if f.name != bc.field and expr.has(f.applied.func)]
        if others:
            sides = ", ".join(f"`{p}`" for p in bc.parts)
            return (f"the condition on {sides} for `{bc.field}` involves the field `{others[0]}`; {method} takes "
                    f"conditions on one field at a time: write it in `{bc.field}` and given data only, or use "
                    "another method")
    return None


# --------------------------------------------------------------------------- finite data
class _Datum:
    """One piece of known data: what it is (for the sentence), its expression, where a method evaluates it."""

    def __init__(self, label: str, expr: sp.Expr, field: str, side: str | None = None,
                 parts: tuple[sp.Expr, ...] = (), initial: bool = False) -> None:
        self.label, self.expr, self.field, self.side, self.initial = label, expr, field, side, initial
        #: the terms to blame, one by one, when the whole is not finite
        self.parts = parts


def _equation_data(problem: Problem) -> Iterator[_Datum]:
    for eq in problem.equations:
        residual, values, derivatives = _frozen(problem.numeric(eq.residual), problem)
        unknowns = set(values.values()) | set(derivatives.values())
        known = [t for t in sp.Add.make_args(residual) if not t.free_symbols & unknowns]
        if known:
            terms = []
            for side in (eq.lhs, eq.rhs):
                frozen = _frozen(problem.numeric(side), problem)[0]
                terms += [t for t in sp.Add.make_args(frozen) if not t.has(sp.Dummy)]
            yield _Datum(f"of the equation of `{eq.field}`", sp.Add(*known), eq.field, parts=tuple(terms))
        nodes = {v: k for k, v in (values | derivatives).items()}
        def rank(symbol: sp.Symbol) -> tuple[int, str]:  # highest derivatives first, then as printed
            return -spatial_order_of(nodes[symbol], problem), language_text(nodes[symbol], problem)

        for symbol in sorted(residual.free_symbols & unknowns, key=rank):
            coefficient = sp.diff(residual, symbol)
            if coefficient.free_symbols & unknowns or coefficient.is_number:
                continue
            yield _Datum(f"the coefficient of `{language_text(nodes[symbol], problem)}` in the equation of "
                         f"`{eq.field}`", coefficient, eq.field)


def _boundary_data(problem: Problem) -> Iterator[_Datum]:
    coords = tuple(problem.space.coords)
    for bc in problem.boundary:
        if bc.kind not in ("dirichlet", "neumann", "robin"):
            continue
        sides = problem.domain.sides if "all" in bc.parts else bc.parts
        for side in sides:
            for what, expr in (("value", bc.value), ("coefficient", bc.alpha), ("coefficient", bc.beta)):
                expr = problem.numeric(expr)
                if has_normal_data(expr):
                    expr = normal_data(expr, problem.domain, side, coords)
                if expr.is_number and expr.is_finite is not False:
                    continue
                yield _Datum(f"the {what} of the boundary condition of `{bc.field}` on {side}", expr, bc.field,
                             side=side)


def _initial_data(problem: Problem) -> Iterator[_Datum]:
    for ic in problem.initial:
        what = "initial value" if ic.order == 0 else "initial rate" if ic.order == 1 else "initial derivative"
        yield _Datum(f"the {what} of `{ic.field}`", problem.numeric(ic.value), ic.field, initial=True)


def _bad(fn: Callable, points: np.ndarray, t: float | None) -> tuple[np.ndarray, str] | None:
    """The first point where ``fn`` is not a finite real number, and what it is there, or None."""
    import numpy as np

    if points.shape[0] == 0:
        return None
    cols = [points[:, k] for k in range(points.shape[1])] + ([np.float64(t)] if t is not None else [])
    with np.errstate(all="ignore"):
        try:
            values = np.broadcast_to(np.asarray(fn(*cols)), (points.shape[0],))
        except ZeroDivisionError:  # a division by zero in Python floats (a function of t alone)
            return points[0], "infinite"
        except Exception:  # an expression NumPy cannot evaluate here: the method's own code will say so
            return None
    if np.iscomplexobj(values):
        wrong = ~np.isfinite(values) | (values.imag != 0)
    else:
        try:
            wrong = ~np.isfinite(values.astype(np.float64))
        except (TypeError, ValueError):
            return None
    if not wrong.any():
        return None
    k = int(np.flatnonzero(wrong)[0])
    v = complex(values[k])
    kind = ("not a number (NaN)" if np.isnan(v.real) or np.isnan(v.imag) else
            "infinite" if not np.isfinite(v.real) or not np.isfinite(v.imag) else "not a real number")
    return points[k], kind


def _function(expr: sp.Expr, args: list[sp.Symbol]) -> Callable | None:
    if expr.atoms(AppliedUndef):
        return None  # a random field or an unknown left: nothing to evaluate here
    try:
        return sp.lambdify(args, expr, modules="numpy")
    except Exception:  # pragma: no cover - a node lambdify cannot print
        return None


def check_data(problem: Problem, method: str, interior: InteriorPoints, boundary: BoundaryPoints) -> None:
    """Raise :class:`DataError` when a piece of the problem's known data is not a finite real number at a point
    where ``method`` evaluates it.

    ``interior(field)`` gives the points (chunks of shape (N, d)) where the method evaluates the equation of
    ``field`` (and its initial values), ``boundary(field, side)`` those where it evaluates that field's
    condition on ``side``.  Time-dependent data are evaluated at the start and end times.
    """
    import numpy as np

    if problem.space.is_indexed:
        return
    coords = list(problem.space.coords)
    t = problem.t
    args = coords + ([t] if t is not None else [])
    times = [None] if t is None else [problem.time.start, problem.time.end]
    data = [*_equation_data(problem), *_boundary_data(problem), *_initial_data(problem)]
    for datum in data:
        fn = _function(datum.expr, args)
        if fn is None:
            continue
        for time in times[:1] if datum.initial else times:
            chunks = interior(datum.field) if datum.side is None else boundary(datum.field, datum.side)
            for points in chunks:
                points = np.asarray(points, dtype=np.float64).reshape(-1, len(coords))
                for start in range(0, points.shape[0], CHUNK):
                    found = _bad(fn, points[start:start + CHUNK], time)
                    if found is not None:
                        raise DataError(_sentence(problem, method, datum, args, found, time))


def _sentence(problem: Problem, method: str, datum: _Datum, args: list, found: tuple[np.ndarray, str],
              time: float | None) -> str:
    point, kind = found
    expr, label = datum.expr, datum.label
    for part in datum.parts:  # blame the term of the equation as the file writes it
        fn = _function(part, args)
        if fn is not None and _bad(fn, point[None, :], time) is not None:
            expr = part
            break
    what = f"the term `{language_text(expr, problem)}` {label}" if datum.parts else \
        f"{label}, `{language_text(expr, problem)}`,"
    names = ", ".join(problem.space.names)
    where = (f"({names}) = ({', '.join(f'{v:g}' for v in point)})" if len(point) > 1 else f"{names} = {point[0]:g}")
    when = f" and {problem.t} = {time:g}" if time is not None else ""
    return (f"{what} is {kind} at {where}{when}, a point where {method} evaluates it: the data of a problem must "
            f"be finite wherever the method needs them (a square root or a logarithm of a negative number, or a "
            f"division by zero, is not); change the data or the domain.")
