"""Write a :class:`~symop.model.problem.Problem` back as equation-file text.

:func:`write_problem` gives a ``.pde`` document that :func:`symop.parse` reads
back to an equal problem (same equations, conditions, initial data and exact
solutions); :func:`expr_text` prints one SymPy expression in the language:
``dt(u)``, ``d(u, x, 2)``, ``d(u, x, y)``, ``dn(u)``, ``^`` for powers,
``if(cond, a, b)`` for piecewise values.  Numbers print exactly (rationals as
``p/q``), so nothing is lost on the way.
"""

from __future__ import annotations

import math
import re
from typing import Any

import sympy as sp

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
            return f"lap({self.text(e.args[0])})", _ATOM
        if isinstance(e, Partial):
            base = self.problem.space.indexed if self.problem is not None and self.problem.space.is_indexed else "x"
            idx = ", ".join(f"{base}[{i}]" for i in e.indices)
            return f"d({self.text(e.expr)}, {idx})", _ATOM
        if isinstance(e, sp.Integer):
            v = int(e)
            return (str(v), _ATOM) if v >= 0 else (str(v), _UNARY)
        if isinstance(e, sp.Rational):
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
        if isinstance(e, sp.Function) and type(e) in _FUNCTION_NAMES:
            return f"{_FUNCTION_NAMES[type(e)]}({self.text(e.args[0])})", _ATOM
        if isinstance(e, sp.core.relational.Relational):
            op = {sp.Lt: "<", sp.Le: "<=", sp.Gt: ">", sp.Ge: ">=", sp.Eq: "==", sp.Ne: "!="}[type(e)]
            return f"{self.wrap(e.lhs, _ADD)} {op} {self.wrap(e.rhs, _ADD)}", _CMP
        if isinstance(e, sp.And):
            return " and ".join(self.wrap(a, _CMP) for a in e.args), _AND
        if isinstance(e, sp.Or):
            return " or ".join(self.wrap(a, _AND) for a in e.args), _OR
        if e is sp.true or e is sp.false:
            raise WriteError("a constant truth value has no form in the language")
        if isinstance(e, sp.Function):
            name = type(e).__name__
            return f"{name}({', '.join(self.text(a) for a in e.args)})", _ATOM
        raise WriteError(f"cannot write `{e}` ({type(e).__name__}) in the equation language")

    # -------------------------------------------------------------- forms
    def add(self, e: sp.Add) -> str:
        terms = list(e.as_ordered_terms())
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
        for f in sp.Mul.make_args(e):
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
        bottom = "/".join(self.wrap(f, _MUL, strict=True) for f in den)
        return f"{top}/{bottom}", _MUL

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

    def derivative(self, e: sp.Derivative) -> str:
        inner = self.text(e.expr)
        counts = list(e.variable_count)
        t = self.time
        tcount = sum(int(c) for v, c in counts if v == t)
        space = [(v, int(c)) for v, c in counts if v != t]
        if space:
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
    """One expression in the equation language (fields by name when ``problem`` is given)."""
    return _Printer(problem).text(expr)


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
