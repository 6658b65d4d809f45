"""Bounded evaluation of constant expressions in floating point.

SymPy's own numeric evaluation raises its working precision until a result is
accurate, so ``sin(exp(10^100))`` or ``exp(exp(exp(100)))`` never finish, and
its comparisons (``if``, ``min``, ``abs``) do the same behind the scenes.
:class:`FloatEvaluator` walks an expression once, in doubles, with parameter
values in place of their symbols: it cannot loop, and it tells the builder the
magnitude of every constant before SymPy is asked anything about it.

The value of a node is a float, ``math.inf``/``-math.inf``/``math.nan`` where
it overflows or is undefined, :data:`COMPLEX` where it is not real, or
``None`` where the node is not constant (it involves a coordinate, the time, a
field or a sum index).
"""

from __future__ import annotations

import math
from typing import Callable, Mapping

import sympy as sp

COMPLEX = complex(0.0, 1.0)

_UNARY: dict[type, Callable[[float], float]] = {
    sp.sin: math.sin,
    sp.cos: math.cos,
    sp.tan: math.tan,
    sp.exp: math.exp,
    sp.tanh: math.tanh,
    sp.sinh: math.sinh,
    sp.cosh: math.cosh,
    sp.asin: math.asin,
    sp.acos: math.acos,
    sp.atan: math.atan,
}

_RELATIONS: dict[type, Callable[[float, float], bool]] = {
    sp.StrictLessThan: lambda a, b: a < b,
    sp.LessThan: lambda a, b: a <= b,
    sp.StrictGreaterThan: lambda a, b: a > b,
    sp.GreaterThan: lambda a, b: a >= b,
    sp.Equality: lambda a, b: a == b,
    sp.Unequality: lambda a, b: a != b,
}


#: Nodes whose value is never constant: their arguments need not be visited.
_OPAQUE = (sp.Symbol, sp.Indexed, sp.Derivative, sp.Sum, sp.core.function.AppliedUndef)


def _is_bad(v: object) -> bool:
    return isinstance(v, complex) or (isinstance(v, float) and not math.isfinite(v))


class FloatEvaluator:
    """Evaluates SymPy expressions in doubles, memoised over shared subexpressions.

    ``values`` maps parameter symbols to their numbers; every other symbol
    makes its expression non-constant (``None``).
    """

    def __init__(self, values: Mapping[sp.Basic, float] | None = None) -> None:
        self.values = dict(values or {})
        self._memo: dict[int, tuple[sp.Basic, object]] = {}

    def __call__(self, expr: sp.Basic) -> object:
        """The value of ``expr`` (see the module docstring for its forms)."""
        hit = self._memo.get(id(expr))
        if hit is not None and hit[0] is expr:
            return hit[1]
        # iterative post-order walk: the depth of an expression never costs stack
        stack: list[tuple[sp.Basic, bool]] = [(expr, False)]
        while stack:
            node, ready = stack.pop()
            hit = self._memo.get(id(node))
            if hit is not None and hit[0] is node:
                continue
            if not ready and node.args and not isinstance(node, _OPAQUE):
                stack.append((node, True))
                stack.extend((a, False) for a in node.args if isinstance(a, sp.Basic))
                continue
            self._memo[id(node)] = (node, self._node(node))
        return self._memo[id(expr)][1]

    def _arg(self, node: sp.Basic) -> object:
        hit = self._memo.get(id(node))
        if hit is not None and hit[0] is node:
            return hit[1]
        return self(node)

    def _node(self, e: sp.Basic) -> object:
        if e in self.values:
            return float(self.values[e])
        if isinstance(e, sp.Rational):
            try:
                return e.p / e.q
            except OverflowError:
                return (math.inf if e.p > 0 else -math.inf) if abs(e.p) > e.q else 0.0
        if isinstance(e, sp.Float):
            return float(e)
        if e is sp.pi:
            return math.pi
        if e is sp.E:
            return math.e
        if e is sp.oo:
            return math.inf
        if e is sp.S.NegativeInfinity:
            return -math.inf
        if e is sp.zoo:
            return math.inf
        if e is sp.nan:
            return math.nan
        if e is sp.I:
            return COMPLEX
        if e is sp.true:
            return True
        if e is sp.false:
            return False
        if isinstance(e, _OPAQUE):
            return None
        args = [self._arg(a) for a in e.args]
        if isinstance(e, sp.Piecewise):
            for value, cond in (pair.args for pair in e.args):
                c = self._arg(cond)
                if c is None:
                    return None
                if c is True:
                    return self._arg(value)
            return math.nan
        if isinstance(e, sp.Tuple) or isinstance(e, sp.logic.boolalg.BooleanAtom):
            return None
        if any(a is None for a in args):
            return None
        if isinstance(e, sp.And):
            return all(args)
        if isinstance(e, sp.Or):
            return any(args)
        if isinstance(e, sp.Not):
            return not args[0]
        if type(e) in _RELATIONS:
            a, b = args
            if _is_bad(a) or _is_bad(b):
                return False
            return _RELATIONS[type(e)](a, b)
        if isinstance(e, sp.logic.boolalg.Boolean) and not isinstance(e, sp.Expr):
            return None
        if any(isinstance(a, complex) for a in args):
            return COMPLEX
        try:
            return self._arithmetic(e, args)
        except OverflowError:
            return math.inf
        except (ValueError, ZeroDivisionError):
            return math.nan

    def _arithmetic(self, e: sp.Basic, args: list) -> object:
        if isinstance(e, sp.Add):
            return math.fsum(args) if all(math.isfinite(a) for a in args) else sum(args)
        if isinstance(e, sp.Mul):
            out = 1.0
            for a in args:
                out *= a
            return out
        if isinstance(e, sp.Pow):
            base, exponent = args
            if base < 0 and not float(exponent).is_integer():
                return COMPLEX
            if base == 0 and exponent < 0:
                return math.inf
            return math.pow(base, exponent)
        if isinstance(e, sp.log):
            (a,) = args[:1]
            if a < 0:
                return COMPLEX
            if a == 0:
                return -math.inf
            return math.log(a) if len(args) == 1 else math.log(a) / math.log(args[1])
        fn = _UNARY.get(type(e))
        if fn is not None:
            if not math.isfinite(args[0]):
                if type(e) is sp.exp:
                    return math.inf if args[0] > 0 else (0.0 if args[0] < 0 else math.nan)
                if type(e) in (sp.tanh, sp.atan):
                    return math.copysign(1.0 if type(e) is sp.tanh else math.pi / 2, args[0])
                return math.nan
            if type(e) in (sp.asin, sp.acos) and abs(args[0]) > 1:
                return COMPLEX
            return fn(args[0])
        if isinstance(e, sp.Abs):
            return abs(args[0])
        if isinstance(e, sp.sign):
            a = args[0]
            return math.nan if math.isnan(a) else float((a > 0) - (a < 0))
        if isinstance(e, sp.Min):
            return math.nan if any(math.isnan(a) for a in args) else min(args)
        if isinstance(e, sp.Max):
            return math.nan if any(math.isnan(a) for a in args) else max(args)
        if isinstance(e, sp.Heaviside):
            a = args[0]
            return 1.0 if a > 0 else 0.0 if a < 0 else (args[1] if len(args) > 1 else 0.5)
        if isinstance(e, sp.DiracDelta):
            return 0.0 if args[0] != 0 else math.inf
        if isinstance(e, (sp.re, sp.im, sp.arg)):
            return {sp.re: args[0], sp.im: 0.0, sp.arg: 0.0 if args[0] >= 0 else math.pi}[type(e)]
        return None


def describe(value: object) -> str:
    """``infinity``, ``NaN`` or ``a complex number``: what a bad value is, for a message."""
    if isinstance(value, complex):
        return "a complex number"
    if isinstance(value, float) and math.isnan(value):
        return "NaN (undefined)"
    if isinstance(value, float) and math.isinf(value):
        return "infinity" if value > 0 else "-infinity"
    return str(value)
