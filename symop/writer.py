"""Write a :class:`~symop.model.problem.Problem` back as equation-file text.

:func:`write_problem` gives a ``.pde`` document that :func:`symop.parse` reads
back to an equal problem (same equations, conditions, initial data and exact
solutions); :func:`expr_text` prints one SymPy expression in the language:
``dt(u)``, ``dx(u)``, ``d(u, x, 2)``, ``d(u, x, y)``, ``lap(u)`` and
``biharm(u)`` for the sums of derivatives they expand to, ``dn(u)``, ``^`` for
powers, ``e``, ``abs``, ``min``, ``max``, ``if(cond, a, b)`` for piecewise
values with ``< <= > >= == != and or``.  It is the one printer of the language:
``symop show`` and the methods' messages print expressions with it too.
Numbers print exactly (a rational as a decimal where that is exact and no
longer, else as ``p/q``; a float as the shortest text that reads back to it),
so nothing is lost on the way.
"""

from __future__ import annotations

import math
import re
from typing import Any

import sympy as sp
from sympy.core.function import AppliedUndef

from symop.errors import SymopError
from symop.model.domains import Domain
from symop.model.operators import Laplacian, NormalDerivative, Partial
from symop.model.problem import Problem

# precedence levels (higher binds tighter)
_OR, _AND, _CMP, _ADD, _MUL, _UNARY, _POW, _ATOM = range(8)

_FUNCTION_NAMES = {
    sp.sin: "sin", sp.cos: "cos", sp.tan: "tan", sp.exp: "exp", sp.log: "log",
    sp.tanh: "tanh", sp.sinh: "sinh", sp.cosh: "cosh", sp.asin: "asin", sp.acos: "acos",
    sp.atan: "atan", sp.Abs: "abs", sp.sign: "sign",
}


def _decimal(value: sp.Rational) -> str | None:
    """``value`` as the shortest decimal text that reads back to exactly it (``2e-05`` for 1/50000), or None
    when it has no finite decimal of float precision (1/3)."""
    text = repr(float(value))
    try:
        return text if sp.Rational(text) == value else None
    except (TypeError, ValueError):  # pragma: no cover - inf/nan
        return None


def _lap_pattern(dimension: int, power: int) -> dict[tuple[int, ...], int]:
    """The derivatives of ``lap`` to the ``power`` in ``dimension`` coordinates, with their weights:
    ``{(2, 0): 1, (0, 2): 1}`` for lap in 2D, ``{(4, 0): 1, (2, 2): 2, (0, 4): 1}`` for biharm."""
    s = sp.symbols(f"s0:{dimension}")
    poly = sp.Poly(sp.Add(*[v**2 for v in s]) ** power, *s)
    return {tuple(int(k) for k in monomial): int(weight) for monomial, weight in poly.terms()}


class WriteError(SymopError):
    """An expression or problem has no form in the language."""


def number_text(value: float) -> str:
    """A float as the shortest text that reads back to the same float."""
    value = float(value)
    if not math.isfinite(value):
        raise WriteError(f"the number {value} has no form in the language")
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


class _Printer:
    def __init__(self, problem: Problem | None = None) -> None:
        self.problem = problem
        self.fields: dict[Any, str] = {}
        self.time = None
        self.coords: list[Any] = []
        if problem is not None:
            self.fields = {f.applied: f.name for f in problem.fields}
            self.time = problem.t
            if not problem.space.is_indexed:
                self.coords = list(problem.space.coords)
            # a parameter that is a random field is a function of space while the file is read: ``k(x, y)``
            for name, symbol in problem.param_symbols.items():
                if isinstance(symbol, AppliedUndef):
                    self.fields.setdefault(symbol, name)

    # ------------------------------------------------------------- entry
    def text(self, expr: Any) -> str:
        return self.p(sp.sympify(expr))[0]

    def wrap(self, expr: Any, level: int, strict: bool = False) -> str:
        s, prec = self.p(expr)
        if prec < level or (strict and prec == level):
            return f"({s})"
        return s

    # ---------------------------------------------------------- dispatch
    def p(self, e: Any) -> tuple[str, int]:
        if e in self.fields:
            return self.fields[e], _ATOM
        if isinstance(e, sp.Derivative):
            return self.derivative(e), _ATOM
        if isinstance(e, NormalDerivative):
            return f"dn({self.text(e.args[0])})", _ATOM
        if isinstance(e, Laplacian):
            if isinstance(e.args[0], Laplacian):
                return f"biharm({self.text(e.args[0].args[0])})", _ATOM
            return f"lap({self.text(e.args[0])})", _ATOM
        if isinstance(e, Partial):
            base = self.problem.space.indexed if self.problem is not None and self.problem.space.is_indexed else "x"
            runs: list[list[int]] = []
            for i in e.indices:
                if runs and runs[-1][0] == i:
                    runs[-1][1] += 1
                else:
                    runs.append([i, 1])
            idx = ", ".join(f"{base}[{i}]" + (f", {c}" if c > 1 else "") for i, c in runs)
            return f"d({self.text(e.expr)}, {idx})", _ATOM
        if isinstance(e, sp.Integer):
            v = int(e)
            return (str(v), _ATOM) if v >= 0 else (str(v), _UNARY)
        if isinstance(e, sp.Rational):
            decimal = _decimal(e)
            if decimal is not None and len(decimal) <= len(f"{e.p}/{e.q}") + 1:  # 0.5, 1.25, 2e-05; 1/3, 3/8
                return decimal, _ATOM if e.p > 0 else _UNARY
            return f"{e.p}/{e.q}", _MUL if e.p > 0 else _UNARY
        if isinstance(e, sp.Float):
            s = number_text(float(e))
            return s, (_ATOM if not s.startswith("-") else _UNARY)
        if e is sp.pi:
            return "pi", _ATOM
        if e is sp.E:
            return "e", _ATOM
        if e is sp.S.Infinity or e is sp.S.NegativeInfinity or e is sp.S.NaN or e is sp.zoo:
            raise WriteError(f"`{e}` (infinity or NaN) has no form in the language")
        if isinstance(e, sp.Indexed):
            return f"{e.base}[{self.text(e.indices[0])}]", _ATOM
        if isinstance(e, (sp.Symbol, sp.Dummy)):
            return str(e), _ATOM
        if isinstance(e, sp.Add):
            collected = self.laplacians(e)
            if collected is not e:
                return self.p(collected)
            return self.add(e), _ADD
        if isinstance(e, sp.Mul):
            return self.mul(e)
        if isinstance(e, sp.Pow):
            return self.pow(e)
        if isinstance(e, sp.Piecewise):
            return self.piecewise(e), _ATOM
        if isinstance(e, (sp.Min, sp.Max)):
            name = "min" if isinstance(e, sp.Min) else "max"
            return f"{name}({', '.join(self.text(a) for a in e.args)})", _ATOM
        if isinstance(e, sp.Sum):
            body, (i, lo, hi) = e.args[0], e.args[1]
            return f"sum({i}, {self.text(lo)}, {self.text(hi)}, {self.text(body)})", _ATOM
        if isinstance(e, AppliedUndef):  # a field of no given problem: by its name, as the language writes it
            return type(e).__name__, _ATOM
        if isinstance(e, sp.Function) and type(e) in _FUNCTION_NAMES:
            return f"{_FUNCTION_NAMES[type(e)]}({self.text(e.args[0])})", _ATOM
        if isinstance(e, sp.core.relational.Relational):
            op = {sp.Lt: "<", sp.Le: "<=", sp.Gt: ">", sp.Ge: ">=", sp.Eq: "==", sp.Ne: "!="}[type(e)]
            return f"{self.wrap(e.lhs, _ADD)} {op} {self.wrap(e.rhs, _ADD)}", _CMP
        if isinstance(e, sp.And):
            return " and ".join(self.wrap(a, _CMP) for a in e.args), _AND
        if isinstance(e, sp.Or):
            return " or ".join(self.wrap(a, _AND) for a in e.args), _OR
        if isinstance(e, sp.Not):
            inner = e.args[0]
            if isinstance(inner, sp.core.relational.Relational):
                return self.p(inner.negated)
            return self.p(sp.to_nnf(e, simplify=False))
        if isinstance(e, sp.Heaviside):
            # the step of max, min or abs differentiated: 1 above zero, 0 below, its own value at zero
            arg = self.text(e.args[0])
            at_zero = self.text(e.args[1]) if len(e.args) > 1 else "0.5"
            return f"if({arg} > 0, 1, if({arg} < 0, 0, {at_zero}))", _ATOM
        if e is sp.true or e is sp.false:
            raise WriteError("a constant truth value has no form in the language")
        if isinstance(e, sp.Function):
            name = type(e).__name__
            return f"{name}({', '.join(self.text(a) for a in e.args)})", _ATOM
        raise WriteError(f"cannot write `{e}` ({type(e).__name__}) in the equation language")

    # -------------------------------------------------------------- forms
    def _rank(self, e: sp.Expr) -> tuple[int, int, int]:
        """``(time order, space order, 1)`` of the highest derivative of a field in ``e`` (``(0, 0, 1)`` for a
        field without derivatives, ``(0, 0, 0)`` for none): terms print highest derivatives first."""
        if not self.fields or not e.has(*self.fields):
            return (0, 0, 0)
        best = (0, 0, 1)
        for node in sp.preorder_traversal(e):
            if isinstance(node, sp.Derivative) and node.has(*self.fields):
                time = sum(int(c) for v, c in node.variable_count if v == self.time)
                space = sum(int(c) for v, c in node.variable_count if v != self.time)
                best = max(best, (time, space, 1))
            elif isinstance(node, (Laplacian, Partial, NormalDerivative)) and node.has(*self.fields):
                order = {Laplacian: 2, NormalDerivative: 1}.get(type(node), len(node.args) - 1)
                inner = self._rank(node.args[0])
                best = max(best, (inner[0], inner[1] + order, 1))
        return best

    def add(self, e: sp.Add) -> str:
        # highest derivatives first, then SymPy's order (the sort is stable)
        terms = sorted(e.as_ordered_terms(), key=lambda t: self._rank(t)[:2], reverse=True)
        out = ""
        for k, term in enumerate(terms):
            negative = term.could_extract_minus_sign() and not (isinstance(term, sp.Add))
            if k == 0:
                out = self.wrap(term, _ADD)
                continue
            if negative:
                out += " - " + self.wrap(-term, _ADD, strict=True)
            else:
                out += " + " + self.wrap(term, _ADD, strict=True)
        return out

    def mul(self, e: sp.Mul) -> tuple[str, int]:
        coeff, rest = e.as_coeff_Mul()
        if coeff.is_negative:
            inner = -e
            s = self.wrap(inner, _MUL)
            return "-" + s, _UNARY
        num: list[sp.Expr] = []
        den: list[sp.Expr] = []
        if isinstance(coeff, sp.Rational) and not isinstance(coeff, sp.Integer):
            decimal = _decimal(coeff)
            fraction = (len(f"{coeff.p}*") if coeff.p != 1 else 0) + len(f"/{coeff.q}")
            if decimal is not None and len(decimal) + 1 < fraction:  # 0.3*x and 0.07*x, but x/2 and x/10
                return f"{decimal}*{self.wrap(rest, _MUL)}", _MUL
        # known factors first, then fields, then their derivatives: a*u*dx(u)
        factors = sorted(e.as_ordered_factors(), key=lambda f: (self._rank(f)[2], self._rank(f)[:2] > (0, 0)))
        for f in factors:
            if isinstance(f, sp.Pow) and f.exp.is_Rational and f.exp.is_negative and not f.base.is_Number:
                den.append(f.base ** (-f.exp))
            elif isinstance(f, sp.Rational) and not isinstance(f, sp.Integer):
                if f.p != 1:
                    num.append(sp.Integer(f.p))
                den.append(sp.Integer(f.q))
            else:
                num.append(f)
        top = "*".join(self.wrap(f, _MUL) for f in num) if num else "1"
        if not den:
            return top, _MUL
        if len(den) > 1:  # 1/(2*sqrt(x)), not 1/2/sqrt(x)
            return f"{top}/({'*'.join(self.wrap(f, _MUL) for f in den)})", _MUL
        return f"{top}/{self.wrap(den[0], _MUL, strict=True)}", _MUL

    def pow(self, e: sp.Pow) -> tuple[str, int]:
        base, ex = e.args
        if ex == sp.S.Half:
            return f"sqrt({self.text(base)})", _ATOM
        if ex.is_Rational and ex.is_negative:
            if ex == -1:
                return f"1/{self.wrap(base, _MUL, strict=True)}", _MUL
            return f"1/{self.wrap(base ** (-ex), _MUL, strict=True)}", _MUL
        if base is sp.E:
            return f"exp({self.text(ex)})", _ATOM
        b = self.wrap(base, _ATOM)
        ex_s, ex_p = self.p(ex)
        if ex_p < _ATOM:
            ex_s = f"({ex_s})"
        return f"{b}^{ex_s}", _POW

    def piecewise(self, e: sp.Piecewise) -> str:
        pieces = list(e.args)
        last_value, last_cond = pieces[-1]
        if last_cond is not sp.true:
            raise WriteError("a piecewise value needs an `otherwise` branch to be written as if(...)")
        out = self.text(last_value)
        for value, cond in reversed(pieces[:-1]):
            out = f"if({self.text(cond)}, {self.text(value)}, {out})"
        return out

    def laplacians(self, e: sp.Add) -> sp.Expr:
        """``e`` with each sum of a field's derivatives that ``lap`` or ``biharm`` expands to (with one
        coefficient) written as that operator, so ``-d(u, x, 2) - d(u, y, 2)`` prints ``-lap(u)``; ``e``
        itself when there is none.  Only in a space of two or more named coordinates."""
        if len(self.coords) < 2:
            return e
        terms = list(sp.Add.make_args(e))
        found = {}
        for i, term in enumerate(terms):
            parts = self._coefficient_derivative(term)
            if parts is not None:
                found[i] = parts
        if len(found) < len(self.coords):
            return e
        used: set[int] = set()
        made: list[sp.Expr] = []
        for power in (2, 1):
            pattern = _lap_pattern(len(self.coords), power)
            first = (2 * power,) + (0,) * (len(self.coords) - 1)
            for i, (c, fld, index) in sorted(found.items()):
                if i in used or index != first:
                    continue
                take = [i]
                for other, weight in pattern.items():
                    if other == first:
                        continue
                    match = next((j for j, (c2, f2, i2) in found.items()
                                  if j not in used and j not in take and f2 == fld and i2 == other
                                  and sp.expand(c2 - weight * c) == 0), None)
                    if match is None:
                        break
                    take.append(match)
                else:
                    used.update(take)
                    op = fld
                    for _ in range(power):
                        op = Laplacian(op)
                    # -(a*x + 1)*lap(u), not (-a*x - 1)*lap(u)
                    made.append(sp.Mul(-1, -c, op) if c.could_extract_minus_sign() else c * op)
        if not used:
            return e
        return sp.Add(*made, *[t for i, t in enumerate(terms) if i not in used])

    def _coefficient_derivative(self, term: sp.Expr) -> tuple[sp.Expr, sp.Expr, tuple[int, ...]] | None:
        """``(c, u, counts)`` when ``term`` is ``c`` times a spatial derivative of the field ``u`` (``counts``:
        the orders per coordinate) with ``c`` free of fields, else None."""
        factors = sp.Mul.make_args(term)
        found = [f for f in factors if isinstance(f, sp.Derivative) and f.expr in self.fields]
        if len(found) != 1:
            return None
        d = found[0]
        c = sp.Mul(*[f for f in factors if f is not d])
        if c.has(*self.fields) or c.has(sp.Derivative):
            return None
        counts = {v: int(k) for v, k in d.variable_count}
        if any(v not in self.coords for v in counts):
            return None
        return c, d.expr, tuple(counts.get(v, 0) for v in self.coords)

    def derivative(self, e: sp.Derivative) -> str:
        inner = self.text(e.expr)
        counts = list(e.variable_count)
        t = self.time
        if t is None and self.problem is None:  # no problem to tell: the language's usual name of time
            t = next((v for v, _ in counts if str(v) == "t"), None)
        tcount = sum(int(c) for v, c in counts if v == t)
        space = [(v, int(c)) for v, c in counts if v != t]
        if len(space) == 1 and space[0][1] == 1 and str(space[0][0]) in ("x", "y", "z") \
                and isinstance(space[0][0], sp.Symbol) and (not self.coords or space[0][0] in self.coords):
            inner = f"d{space[0][0]}({inner})"
        elif space:
            args = []
            for v, c in space:
                args.append(self.text(v))
                if c > 1:
                    args.append(str(c))
            inner = f"d({inner}, {', '.join(args)})"
        if tcount:
            inner = f"dt({inner})" if tcount == 1 else f"dt({inner}, {tcount})"
        return inner


def expr_text(expr: Any, problem: Problem | None = None) -> str:
    """One expression in the equation language (fields by name; with ``problem``, derivatives in its
    coordinates and time and the sums ``lap`` expands to as ``lap``).  Raises :class:`WriteError` for
    what the language cannot write (infinity, a piecewise value with no otherwise branch)."""
    return _Printer(problem).text(expr)


def language_text(expr: Any, problem: Problem | None = None) -> str:
    """``expr`` as a message or a display shows it: :func:`expr_text`, or SymPy's own text where the
    language has no form for it.  Never raises, so that an error message can always quote an expression::

        raise SomeError(f"`{language_text(node, problem)}` is of order 4.")
    """
    try:
        return expr_text(expr, problem)
    except Exception:  # an odd node must not turn an error message into another error
        return sp.sstr(expr)


# ------------------------------------------------------------------ problems
def _name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", text) or "problem"
    if not re.match(r"[A-Za-z_]", name):
        name = "p_" + name
    return name


def domain_text(domain: Domain) -> str:
    """The ``domain`` line's argument for ``domain``: the domain's own text form, numbers written exactly."""
    return domain.text(number_text)


def _option_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return number_text(value)
    return str(value)


def write_problem(problem: Problem, *, header: str | None = None) -> str:
    """The whole problem as equation-file text that parses back to an equal problem."""
    pr = _Printer(problem)
    tx = pr.text
    lines: list[str] = []
    if header:
        lines.extend("# " + h for h in header.splitlines())
    title = problem.title.replace('"', "'") if problem.title else ""
    lines.append(f"problem {_name(problem.name)}" + (f' "{title}"' if title else ""))
    lines.append("")
    if problem.space.is_indexed:
        lines.append(f"space {problem.space.indexed}[1..{problem.dimension}]")
    else:
        lines.append("space " + ", ".join(problem.space.names))
    if problem.time is not None:
        tm = problem.time
        lines.append(f"time {tm.symbol} in [{number_text(tm.start)}, {number_text(tm.end)}]")
    lines.append(f"domain {domain_text(problem.domain)}")
    if problem.periodic:
        lines.append(f"boundary periodic({', '.join(problem.periodic)})")
    lines.append("")
    for name, value in problem.params.items():
        if name in problem.param_ranges:
            lo, hi = problem.param_ranges[name]
            lines.append(f"param {name} in [{number_text(lo)}, {number_text(hi)}]")
        else:
            lines.append(f"param {name} = {number_text(value)}")
    lines.append("field " + ", ".join(problem.field_names))
    lines.append("")
    for eq in problem.equations:
        lines.append(f"equation {tx(eq.lhs)} = {tx(eq.rhs)}")
    for bc in problem.boundary:
        lines.append(f"boundary {', '.join(bc.parts)}: {tx(bc.lhs)} = {tx(bc.rhs)}")
    for ic in problem.initial:
        lhs = ic.field if ic.order == 0 else (f"dt({ic.field})" if ic.order == 1 else f"dt({ic.field}, {ic.order})")
        lines.append(f"initial {lhs} = {tx(ic.value)}")
    for name, value in problem.exact.items():
        lines.append(f"exact {name} = {tx(value)}")
    if problem.solve is not None:
        opts = ", ".join(f"{k}: {_option_text(v)}" for k, v in problem.solve.options.items())
        lines.append("")
        lines.append(f"solve {problem.solve.method}" + (f"({opts})" if opts else ""))
    return "\n".join(lines) + "\n"


def same_problem(a: Problem, b: Problem) -> list[str]:
    """Differences between two problems' mathematics (empty when they agree)."""

    def zero(expr: sp.Expr) -> bool:
        expr = sp.sympify(expr)
        if expr == 0:
            return True
        try:
            return sp.simplify(expr) == 0
        except Exception:  # pragma: no cover - simplify failures
            return False

    diffs: list[str] = []
    if a.field_names != b.field_names:
        diffs.append(f"fields {a.field_names} != {b.field_names}")
        return diffs
    if a.space.names != b.space.names or a.dimension != b.dimension:
        diffs.append("spaces differ")
    if (a.time is None) != (b.time is None) or (a.time and (a.time.start, a.time.end) != (b.time.start, b.time.end)):
        diffs.append("time intervals differ")
    if a.domain != b.domain:
        diffs.append(f"domains differ: {a.domain} != {b.domain}")
    if dict(a.params) != dict(b.params):
        diffs.append(f"parameters differ: {dict(a.params)} != {dict(b.params)}")
    for ea, eb in zip(a.equations, b.equations):
        if ea.field != eb.field or not zero(ea.residual - eb.residual):
            diffs.append(f"equation for {ea.field} differs")
    if len(a.boundary) != len(b.boundary):
        diffs.append("numbers of boundary conditions differ")
    for ba, bb in zip(a.boundary, b.boundary):
        if ba.parts != bb.parts or ba.kind != bb.kind or not zero(ba.residual - bb.residual):
            diffs.append(f"boundary condition on {', '.join(ba.parts)} differs")
    if tuple(a.periodic) != tuple(b.periodic):
        diffs.append("periodic coordinates differ")
    ia = {(i.field, i.order): i.value for i in a.initial}
    ib = {(i.field, i.order): i.value for i in b.initial}
    if set(ia) != set(ib) or any(not zero(ia[k] - ib[k]) for k in ia):
        diffs.append("initial conditions differ")
    if set(a.exact) != set(b.exact) or any(not zero(a.exact[k] - b.exact[k]) for k in a.exact):
        diffs.append("exact solutions differ")
    return diffs
