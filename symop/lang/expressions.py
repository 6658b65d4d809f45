"""Convert expression syntax trees into SymPy, checking names as it goes.

One method per grammar rule (the rule aliases in ``grammars/symop.lark``).
Every error carries the position of the offending node.  Vectors (``(a, b)``,
``grad(u)``) are :class:`Vector` tuples; they may only meet ``+``, ``-``,
scalar ``*`` and ``/``, ``div``, ``dot`` and ``norm``.

Work is bounded for any input (:mod:`symop.lang.limits`): every value the
converter builds is measured (size, depth, and, where it is constant, its
magnitude in floating point) before it reaches another SymPy constructor;
derivative orders are counted along the path from the statement down,
through ``let`` names, before anything is differentiated; long sums and
products and chains of signs are folded without recursion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping
from contextlib import contextmanager

import sympy as sp
from lark import Token, Tree

from symop.errors import Position, SourceError
from symop.lang import limits
from symop.lang.evaluate import FloatEvaluator, describe
from symop.lang.names import CONSTANTS, FUNCTIONS, OPERATORS, did_you_mean
from symop.model.analysis import time_order_in
from symop.model.operators import Laplacian, NormalDerivative, Partial
from symop.model.problem import as_number


class Vector(tuple):
    """A vector expression: a tuple of SymPy scalars."""


class FollowOnError(SourceError):
    """An error that follows from one already reported (a name whose declaration failed).

    The builder drops it: the first error says what to fix, and the ones it
    causes further down ("undefined name", "`dt` in a steady problem") would
    only mislead.
    """


@dataclass(frozen=True)
class OperatorSpec:
    """A language operator contributed by a plugin (hook ``symop_operators``).

    ``build(args, scope)`` receives the converted SymPy arguments and the
    :class:`Scope` and returns a SymPy expression.
    """

    name: str
    arity: int | None
    build: Callable[[list[Any], "Scope"], sp.Expr]
    help: str = ""


@dataclass
class Scope:
    """Everything a name in an expression may refer to."""

    coords: dict[str, sp.Symbol] = field(default_factory=dict)
    indexed: sp.IndexedBase | None = None
    dimension: int = 0
    time: sp.Symbol | None = None
    params: dict[str, sp.Symbol] = field(default_factory=dict)
    param_values: dict[str, float] = field(default_factory=dict)
    lets: dict[str, sp.Expr] = field(default_factory=dict)
    fields: dict[str, sp.Expr] = field(default_factory=dict)
    exact: dict[str, sp.Expr] = field(default_factory=dict)
    operators: Mapping[str, OperatorSpec] = field(default_factory=dict)
    #: ``let`` name -> the highest derivative order per variable inside its value
    #: (key ``"*"``: every spatial coordinate), so that differentiating the name
    #: counts the orders it already holds.
    let_orders: dict[str, dict[str, int]] = field(default_factory=dict)
    #: sizes of the SymPy nodes measured so far in this file, and how many there are: the
    #: work a file may cause is bounded in all, not only per statement
    measured: dict[int, tuple[sp.Basic, int, int]] = field(default_factory=dict, repr=False, compare=False)
    nodes_built: int = 0
    #: parameters whose values the reading itself used (a dimension, a sum's bounds, an index, another
    #: parameter's value): changing one means reading the file again, not substituting a symbol
    structural: set[str] = field(default_factory=set)
    #: names whose declaration failed with an error already reported (``exact(u)`` for a failed ``exact u``
    #: line): a use of one is a :class:`FollowOnError`, dropped, instead of a second, misleading error
    broken: set[str] = field(default_factory=set)
    #: declarations that failed as a whole (``"space"``, ``"time"``), for the same purpose
    failed: set[str] = field(default_factory=set)
    #: every name the file declares -> where, so that a name used above its declaration says so
    later: dict[str, Position] = field(default_factory=dict)
    _values: tuple[int, dict] | None = field(default=None, repr=False, compare=False)

    def mark_structural(self, value: Any) -> None:
        """Record the parameters in ``value`` as :attr:`structural`."""
        free = getattr(value, "free_symbols", None)
        if not free:
            return
        for name, symbol in self.params.items():
            if symbol in free:
                self.structural.add(name)

    def param_values_by_symbol(self) -> dict[sp.Basic, float]:
        """Parameter symbol -> value (cached until a parameter is added)."""
        if self._values is None or self._values[0] != len(self.param_values):
            values = {self.params[n]: v for n, v in self.param_values.items()
                      if n in self.params and isinstance(self.params[n], sp.Symbol)}
            self._values = (len(self.param_values), values)
        return self._values[1]

    def param_subs(self) -> dict[sp.Symbol, sp.Expr]:
        """Parameter symbol -> value (an Integer where the value is whole)."""
        return {self.params[n]: as_number(v) for n, v in self.param_values.items() if n in self.params}

    @property
    def coordinate_names(self) -> list[str]:
        if self.indexed is not None:
            return [f"{self.indexed}[1..{self.dimension}]"]
        return list(self.coords)

    def declared(self) -> dict[str, str]:
        """Declared name -> what it is (for messages)."""
        out: dict[str, str] = {}
        for n in self.coords:
            out[n] = "coordinate"
        if self.indexed is not None:
            out[str(self.indexed)] = "indexed coordinate"
        if self.time is not None:
            out[str(self.time)] = "time"
        for n in self.params:
            out[n] = "parameter"
        for n in self.lets:
            out[n] = "named expression"
        for n in self.fields:
            out[n] = "field"
        return out


def position_of(node: Tree | Token) -> Position:
    """The source position of a tree node or token."""
    if isinstance(node, Token):
        return Position(node.line or 1, node.column or 1, max(1, len(str(node))))
    meta = node.meta
    if getattr(meta, "empty", True):
        return Position(1, 1)
    length = 1
    if meta.line == meta.end_line and meta.end_column:
        length = max(1, meta.end_column - meta.column)
    return Position(meta.line, meta.column, length, meta.end_line)


def fail(node: Tree | Token, message: str, hint: str | None = None) -> SourceError:
    """A :class:`SourceError` at ``node``."""
    return SourceError(message, position_of(node), hint)


def number(text: str) -> sp.Expr:
    """A literal as an exact SymPy number (``0.1`` becomes 1/10)."""
    if any(c in text for c in ".eE"):
        return sp.Rational(text)
    return sp.Integer(int(text))


def _is_literal_number(node: Tree | Token) -> bool:
    """Whether ``node`` is a number written out, with or without signs (``2``, ``-1``): an order in ``d``."""
    while isinstance(node, Tree) and node.data == "signed":
        node = node.children[1]
    return isinstance(node, Tree) and node.data == "number"


def _chain_group(node: Tree | Token) -> str | None:
    """``"+"`` for a sum node, ``"*"`` for a product node, else None."""
    if isinstance(node, Tree) and node.data == "binop":
        return "+" if str(node.children[1]) in "+-" else "*"
    return None


@dataclass
class DerivativeOrders:
    """Derivative orders counted on the way down an expression, and the highest reached.

    ``path`` holds the orders per variable of the operators around the node
    being converted, ``spatial`` those that act on every spatial coordinate
    (``lap``, ``grad``, ``div``, ``biharm``, ``dn``).  ``peak`` is the highest
    order per variable reached anywhere (key ``"*"`` for every spatial
    coordinate): a ``let`` keeps it, so that ``d(f, x)`` with ``let f =
    d(u, x, 8)`` is known to be of order 9 before SymPy differentiates.
    """

    time: str | None = None
    path: dict[str, int] = field(default_factory=dict)
    spatial: int = 0
    peak: dict[str, int] = field(default_factory=dict)

    def _order(self, var: str, extra: Mapping[str, int]) -> int:
        own = self.path.get(var, 0) + extra.get(var, 0 if var == self.time else extra.get("*", 0))
        return own + (0 if var == self.time else self.spatial)

    def check(self, node: Tree | Token, extra: Mapping[str, int], what: str) -> None:
        """Raise unless every order with ``extra`` added stays within the limit; record the peak."""
        names = set(self.path) | set(extra) | {"*"}
        for var in sorted(names):
            order = self._order(var, extra)
            if order > limits.MAX_DERIVATIVE_ORDER:
                where = "in every coordinate" if var == "*" else f"in `{var}`"
                raise fail(node, f"{what} makes a derivative of order {order} {where}; derivatives are "
                                 f"limited to order {limits.MAX_DERIVATIVE_ORDER} per variable")
            if order:
                self.peak[var] = max(self.peak.get(var, 0), order)

    @contextmanager
    def entering(self, node: Tree | Token, name: str, per_variable: Mapping[str, int] | None = None,
                 spatial: int = 0) -> Iterator[None]:
        """Within this block the operand of operator ``name`` is converted: its orders count."""
        per_variable = dict(per_variable or {})
        extra = dict(per_variable)
        if spatial:
            extra["*"] = spatial
            for var in self.path:
                if var != self.time:
                    extra[var] = extra.get(var, 0) + spatial
        self.check(node, extra, f"`{name}`")
        saved = (dict(self.path), self.spatial)
        for var, k in per_variable.items():
            self.path[var] = self.path.get(var, 0) + k
        self.spatial += spatial
        try:
            yield
        finally:
            self.path, self.spatial = saved


@dataclass
class _Shared:
    """What the converters of one statement share: evaluator, size memo, derivative orders."""

    evaluator: FloatEvaluator
    orders: DerivativeOrders
    sizes: dict[int, tuple[sp.Basic, int, int]] = field(default_factory=dict)
    #: nodes measured for the first time (in this file, where ``sizes`` is the file's memo)
    new_nodes: int = 0
    #: the fields the statement names (directly or through a ``let``), whether or not they survive simplification
    fields_seen: set[str] = field(default_factory=set)
    #: field name -> the highest time derivative of it that a ``dt`` of the statement built
    time_orders: dict[str, int] = field(default_factory=dict)

    def measure(self, expr: sp.Basic) -> tuple[int, int]:
        """(number of nodes, depth) of ``expr``, a shared subexpression counted at every use."""
        hit = self.sizes.get(id(expr))
        if hit is not None and hit[0] is expr:
            return hit[1], hit[2]
        stack: list[tuple[sp.Basic, bool]] = [(expr, False)]
        while stack:
            node, ready = stack.pop()
            hit = self.sizes.get(id(node))
            if hit is not None and hit[0] is node:
                continue
            args = [a for a in node.args if isinstance(a, sp.Basic)]
            if not ready and args:
                stack.append((node, True))
                stack.extend((a, False) for a in args)
                continue
            size, depth = 1, 1
            for a in args:
                _, s, d = self.sizes[id(a)]
                size += s
                depth = max(depth, d + 1)
            self.sizes[id(node)] = (node, min(size, 10 * limits.MAX_NODES), depth)
            self.new_nodes += 1
        _, size, depth = self.sizes[id(expr)]
        return size, depth

    def derivative_size(self, expr: sp.Basic, var: sp.Basic) -> int:
        """An upper estimate of the number of nodes of ``d expr / d var``, found without differentiating.

        The product rule copies a product once per factor that depends on
        ``var``, the chain rule copies a function's argument: a product of
        200 factors differentiated once already has 40,000 nodes.
        """
        self.measure(expr)
        memo: dict[int, tuple[sp.Basic, int, bool]] = {}
        stack: list[tuple[sp.Basic, bool]] = [(expr, False)]
        while stack:
            node, ready = stack.pop()
            if id(node) in memo and memo[id(node)][0] is node:
                continue
            args = [a for a in node.args if isinstance(a, sp.Basic)]
            if not ready and args and node != var:
                stack.append((node, True))
                stack.extend((a, False) for a in args)
                continue
            for a in args:  # shared subexpressions met in another branch
                if id(a) not in self.sizes:
                    self.measure(a)
            memo[id(node)] = (node, *self._derivative_size(node, var, args, memo))
        return memo[id(expr)][1]

    def _derivative_size(self, node: sp.Basic, var: sp.Basic, args: list, memo: dict) -> tuple[int, bool]:
        if node == var:
            return 1, True
        if not args:
            return 0, False
        kids = [memo[id(a)] for a in args]
        depends = any(k[2] for k in kids)
        if not depends:
            return 0, False
        size = self.sizes[id(node)][1]
        inner = sum(k[1] for k in kids)
        if isinstance(node, sp.Add):
            total = inner + 1
        elif isinstance(node, sp.Mul):
            total = inner + sum(1 for k in kids if k[2]) * size + 1
        elif isinstance(node, (sp.Derivative, sp.core.function.AppliedUndef)) or not isinstance(node, sp.Expr):
            total = size + 2
        else:  # a power or a function: the chain rule copies the node once
            total = inner + 2 * size + 3
        return min(total, 10 * limits.MAX_NODES), True


@dataclass
class Converter:
    """Converts one expression tree; flags say what the statement allows."""

    scope: Scope
    allow_fields: bool = True
    allow_dn: bool = False
    allow_time_derivative: bool = True
    indices: dict[str, sp.Symbol] = field(default_factory=dict)
    #: the text of the file, so that a message can quote the expression at fault
    source_text: str = ""
    shared: _Shared | None = None
    #: sum index name -> the whole numbers it runs through (``lo``, ``hi``), to check ``x[i + 1]`` against the space
    ranges: dict[str, tuple[int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.shared is None:
            time = str(self.scope.time) if self.scope.time is not None else None
            self.shared = _Shared(FloatEvaluator(self.scope.param_values_by_symbol()), DerivativeOrders(time),
                                  self.scope.measured)

    @property
    def orders(self) -> DerivativeOrders:
        """The derivative orders counted in this statement."""
        return self.shared.orders

    def derivative_profile(self) -> dict[str, int]:
        """The highest derivative order per variable reached in what was converted (for a ``let``)."""
        return dict(self.shared.orders.peak)

    def quote(self, node: Tree | Token, value: Any = None) -> str:
        """The source text of ``node`` (shortened), or ``value`` printed, for a message."""
        meta = node if isinstance(node, Token) else getattr(node, "meta", None)
        start, end = getattr(meta, "start_pos", None), getattr(meta, "end_pos", None)
        if self.source_text and start is not None and end is not None and end > start:
            text = " ".join(self.source_text[start:end].split())
        elif value is not None:
            text = limits.abbreviate(value)
        else:
            text = "this expression"
        return limits.abbreviate(text)

    def value_of(self, expr: Any) -> object:
        """The value of a constant ``expr`` in floats (parameters at their values), else None."""
        if not isinstance(expr, sp.Basic):
            return None
        return self.shared.evaluator(expr)

    def bound(self, node: Tree | Token, value: Any) -> None:
        """Check a converted value against the limits before anything else uses it."""
        if isinstance(value, Vector):
            for v in value:
                self.bound(node, v)
            return
        if not isinstance(value, sp.Basic):
            return
        before = self.shared.new_nodes
        size, depth = self.shared.measure(value)
        self.scope.nodes_built += self.shared.new_nodes - before
        if self.scope.nodes_built > limits.MAX_FILE_NODES:
            raise fail(node, f"this file builds more than {limits.count(limits.MAX_FILE_NODES)} terms and "
                             "operations in all (the limit on the work one file may cause)",
                       "an equation file states one problem; generated files should be smaller")
        if size > limits.MAX_NODES:
            raise fail(node, f"`{self.quote(node)}` is too large: it has more than {limits.count(limits.MAX_NODES)} "
                             "terms and operations (the limit on the size of an expression)",
                       "a chain of `let` names that each use the previous one twice doubles the size at every line")
        if depth > limits.MAX_EXPRESSION_DEPTH:
            raise fail(node, f"`{self.quote(node)}` is nested more than {limits.MAX_EXPRESSION_DEPTH} deep "
                             "(the limit on the depth of an expression)",
                       "write it with fewer functions inside one another")
        if isinstance(value, sp.logic.boolalg.Boolean) and not isinstance(value, sp.Expr):
            return
        v = self.shared.evaluator(value)
        if v is None or isinstance(v, bool):
            return
        large = isinstance(v, float) and math.isfinite(v) and abs(v) > limits.MAX_MAGNITUDE
        bad = isinstance(v, complex) or not math.isfinite(v)
        if not (large or bad):
            return
        params = sorted(str(s) for s in value.free_symbols if str(s) in self.scope.params)
        if params and bad and not (isinstance(v, float) and math.isinf(v)):
            return  # NaN or complex only at these parameter values: left to the solve
        at = ""
        if params:
            at = " with the parameter values of this file (" + ", ".join(
                f"{p} = {self.scope.param_values.get(p, 0):g}" for p in params[:3]) + ")"
        if large:
            raise fail(node, f"`{self.quote(node)}` is about {v:.1e}{at}: numbers are limited to "
                             f"{limits.MAX_MAGNITUDE:.0e} in magnitude")
        if isinstance(v, float) and math.isinf(v) and not value.has(sp.zoo, sp.oo, sp.S.NegativeInfinity, sp.nan):
            raise fail(node, f"`{self.quote(node)}` overflows{at}: numbers are limited to "
                             f"{limits.MAX_MAGNITUDE:.0e} in magnitude")
        raise fail(node, f"`{self.quote(node)}` evaluates to {describe(v)}{at}, not a finite real number",
                   "check for a division by zero, a log(0) or the square root of a negative number")

    # ----------------------------------------------------------------- entry
    def scalar(self, node: Tree | Token) -> sp.Expr:
        """Convert ``node``; it must be a scalar value (no vector, no comparison)."""
        value = self.convert(node)
        if isinstance(value, Vector):
            raise fail(node, "a vector cannot stand here; a scalar is needed",
                       "take a component, or use dot(a, b), norm(a) or div(a)")
        if isinstance(value, (sp.logic.boolalg.Boolean, sp.core.relational.Relational)) and not isinstance(value, sp.Expr):
            raise fail(node, "a comparison can only stand as the condition of if(...)",
                       "write if(condition, value_if_true, value_if_false)")
        return value

    def convert(self, node: Tree | Token) -> Any:
        if isinstance(node, Token):
            raise fail(node, f"unexpected `{node}`")
        method = getattr(self, "rule_" + node.data, None)
        if method is None:  # pragma: no cover - grammar and converter out of step
            raise fail(node, f"the expression form `{node.data}` is not supported here")
        value = method(node)
        self.bound(node, value)
        return value

    # ---------------------------------------------------------------- atoms
    def rule_number(self, node: Tree) -> sp.Expr:
        text = str(node.children[0])
        if len(text) > limits.MAX_LITERAL_CHARS:
            raise fail(node, f"the number `{limits.abbreviate(text, 24)}` has {len(text)} characters; numbers are "
                             f"written with at most {limits.MAX_LITERAL_CHARS}", "use an exponent: 1.5e20")
        magnitude = limits.literal_log10(text)
        if magnitude is not None and abs(magnitude) > limits.MAX_MAGNITUDE_EXP:
            size = "large" if magnitude > 0 else "small"
            raise fail(node, f"the number `{limits.abbreviate(text, 24)}` is too {size}: numbers are limited to "
                             f"{limits.MAX_MAGNITUDE:.0e} in magnitude, and nonzero ones to at least "
                             f"{1 / limits.MAX_MAGNITUDE:.0e}")
        return number(text)

    def rule_name(self, node: Tree) -> sp.Expr:
        tok: Token = node.children[0]
        return self.lookup(tok)

    def lookup(self, tok: Token) -> sp.Expr:
        name = str(tok)
        s = self.scope
        if name in self.indices:
            return self.indices[name]
        if name in s.broken:
            raise FollowOnError(f"`{name}` was not declared", position_of(tok))
        if name in s.coords:
            return s.coords[name]
        if s.time is not None and name == str(s.time):
            return s.time
        if name in s.params:
            return s.params[name]
        if name in s.lets:
            profile = s.let_orders.get(name)
            if profile:
                self.orders.check(tok, profile, f"`{name}` (which holds derivatives)")
            value = s.lets[name]
            held = [f for f, applied in s.fields.items() if isinstance(value, sp.Basic) and value.has(applied)]
            if held and not self.allow_fields:
                raise fail(tok, f"`{name}` holds the field `{held[0]}`, which cannot appear here",
                           "exact solutions, initial data and parameters are given in the coordinates, time and parameters only")
            self.shared.fields_seen.update(held)
            return value
        if name in s.fields:
            if not self.allow_fields:
                raise fail(tok, f"the field `{name}` cannot appear here",
                           "exact solutions, initial data and parameters are given in the coordinates, time and parameters only")
            self.shared.fields_seen.add(name)
            return s.fields[name]
        if s.indexed is not None and name == str(s.indexed):
            raise fail(tok, f"`{name}` is an indexed coordinate; write `{name}[i]` for its i-th component")
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in FUNCTIONS or name in OPERATORS or name in s.operators:
            raise fail(tok, f"`{name}` is a function and needs arguments", f"write `{name}(...)`")
        if name in s.later:
            at, here = s.later[name], position_of(tok)
            if (at.line, at.column) < (here.line, here.column):
                raise fail(tok, f"`{name}` is used in its own declaration",
                           "a value can use only the names declared before it")
            where = f"at line {at.line}" if at.line != here.line else f"further on this line, at column {at.column}"
            raise fail(tok, f"`{name}` is declared later, {where}",
                       "a name can be used only below the line that declares it: move the declaration up")
        if name == "t" and s.time is None:
            if "time" in s.failed:
                raise FollowOnError("the time was not declared", position_of(tok))
            raise fail(tok, "undefined name `t`: this problem is steady",
                       "add a `time t in [0, T]` line for a time-dependent problem")
        candidates = list(s.declared()) + list(self.indices) + list(CONSTANTS)
        if len(name) == 1 and name in "xyz" and s.coords:
            raise fail(tok, f"unknown coordinate `{name}`; the coordinates are " + ", ".join(s.coordinate_names),
                       f"add `{name}` to the `space` line")
        raise fail(tok, f"undefined name `{name}`",
                   did_you_mean(name, candidates) or "declare it with `param`, `let` or `field`")

    def rule_vector(self, node: Tree) -> Vector:
        return Vector(self.scalar(c) for c in node.children)

    def rule_exact_ref(self, node: Tree) -> sp.Expr:
        tok: Token = node.children[0]
        name = str(tok)
        if name not in self.scope.fields:
            raise fail(tok, f"`exact({name})` names no field", did_you_mean(name, self.scope.fields))
        if name not in self.scope.exact:
            if f"exact({name})" in self.scope.broken:
                raise FollowOnError(f"the exact solution for `{name}` was not declared", position_of(node))
            raise fail(node, f"`exact({name})` is used but no exact solution is declared for `{name}`",
                       f"add a line `exact {name} = ...`")
        return self.scope.exact[name]

    def rule_index(self, node: Tree) -> sp.Expr:
        tok, index_node = node.children
        name = str(tok)
        s = self.scope
        if s.indexed is None or name != str(s.indexed):
            if name in s.coords:
                raise fail(tok, f"`{name}` is a named coordinate and has no components",
                           "declare an indexed space with `space x[1..d]`")
            raise fail(tok, f"`{name}` cannot be indexed; only an indexed coordinate such as `x[i]` can",
                       did_you_mean(name, s.declared()))
        index = self.scalar(index_node)
        if not (index.free_symbols - set(s.params.values())):
            k = self.whole_value(index)
            if k is None:
                raise fail(index_node, f"the index of `{name}` must be a whole number, not "
                                       f"{limits.abbreviate(index.xreplace(s.param_subs()))}")
            if not 1 <= k <= s.dimension:
                raise fail(index_node, f"`{name}[{limits.abbreviate(k)}]` is out of range; the coordinates are "
                                       f"{name}[1] … {name}[{s.dimension}]")
            return s.indexed[k]
        index = index.xreplace(s.param_subs())
        free = index.free_symbols - set(self.indices.values())
        if free:
            raise fail(index_node, f"the index of `{name}` may only use sum indices and numbers",
                       "write the coordinate inside sum(i, 1, d, ...) and index it with i")
        self.check_index_range(index_node, name, index)
        return s.indexed[index]

    def check_index_range(self, node: Tree | Token, name: str, index: sp.Expr) -> None:
        """Refuse an index in sum indices (``x[i + 1]``) that is not a coordinate for every value they take.

        An index ``a*i + b*j + c`` with whole ``a, b, c`` is checked at the corners of the
        ranges; any other form value by value, where there are few values, and else refused.
        """
        symbols = sorted(index.free_symbols, key=str)
        spans = [self.ranges.get(str(sym)) for sym in symbols]
        if any(span is None for span in spans) or any(hi < lo for lo, hi in spans):
            return  # an empty sum takes no value: its body is never evaluated
        dim = self.scope.dimension
        values = None
        try:
            poly = sp.Poly(index, *symbols)
        except sp.PolynomialError:
            poly = None
        if poly is not None and poly.total_degree() <= 1 and all(c.is_Integer for c in poly.coeffs()):
            low = {sym: (lo if poly.coeff_monomial(sym) >= 0 else hi) for sym, (lo, hi) in zip(symbols, spans)}
            high = {sym: (hi if poly.coeff_monomial(sym) >= 0 else lo) for sym, (lo, hi) in zip(symbols, spans)}
            values = [low, high]
        else:
            count = 1
            for lo, hi in spans:
                count *= hi - lo + 1
            size, _ = self.shared.measure(index)
            if count > limits.MAX_SUM_TERMS * 5 or count * size > limits.MAX_NODES * 20:
                raise fail(node, f"the index `{self.quote(node, index)}` of `{name}` must be a sum index plus or minus "
                                 "a whole number here (the sum is too long to check its values one by one)",
                           f"write e.g. `{name}[{symbols[0]} + 1]`")
            import itertools

            values = [dict(zip(symbols, combo))
                      for combo in itertools.product(*(range(lo, hi + 1) for lo, hi in spans))]
        for point in values:
            k = index.xreplace({sym: sp.Integer(v) for sym, v in point.items()})
            at = ", ".join(f"{sym} = {v}" for sym, v in point.items())
            if not k.is_Integer:
                raise fail(node, f"`{name}[{self.quote(node, index)}]` is not a coordinate for {at}: the index is "
                                 f"{limits.abbreviate(k)}, not a whole number",
                           f"the coordinates are {name}[1] … {name}[{dim}]")
            if not 1 <= int(k) <= dim:
                raise fail(node, f"`{name}[{self.quote(node, index)}]` is out of range for {at}: it is "
                                 f"{name}[{limits.abbreviate(int(k))}], and the coordinates are {name}[1] … "
                                 f"{name}[{dim}]", "change the bounds of the sum or the index")

    # ----------------------------------------------------------- arithmetic
    def rule_binop(self, node: Tree) -> Any:
        """A chain ``a + b - c`` or ``a * b / c``, folded without recursion on its length."""
        group = _chain_group(node)
        links: list[Tree] = []
        first: Tree | Token = node
        while _chain_group(first) == group:
            links.append(first)
            first = first.children[0]
        links.reverse()
        values = [self.convert(first)]
        self.check_value(first, values[0])
        for link in links:
            right_node = link.children[2]
            right = self.convert(right_node)
            self.check_value(right_node, right)
            values.append(right)
        ops = [str(link.children[1]) for link in links]
        if not any(isinstance(v, Vector) for v in values):
            if group == "+":
                terms = [values[0]] + [(-v if op == "-" else v) for op, v in zip(ops, values[1:])]
                return sp.Add(*terms)
            factors = [values[0]]
            for link, op, v in zip(links, ops, values[1:]):
                if op == "/":
                    if v == 0:
                        raise fail(link.children[2], "division by zero", None)
                    factors.append(sp.Pow(v, -1))
                else:
                    factors.append(v)
            return sp.Mul(*factors)
        left = values[0]
        for link, op, right in zip(links, ops, values[1:]):
            left = self.combine(link, op, left, right)
        return left

    def combine(self, node: Tree, op: str, left: Any, right: Any) -> Any:
        """``left op right`` where either may be a vector."""
        right_node = node.children[2]
        lv, rv = isinstance(left, Vector), isinstance(right, Vector)
        if op in "+-":
            if lv != rv:
                raise fail(node, f"cannot {'add' if op == '+' else 'subtract'} a vector and a scalar")
            if lv:
                if len(left) != len(right):
                    raise fail(node, f"vectors of lengths {len(left)} and {len(right)} cannot be combined")
                return Vector(a + b if op == "+" else a - b for a, b in zip(left, right))
            return left + right if op == "+" else left - right
        if op == "*":
            if lv and rv:
                raise fail(node, "cannot multiply two vectors with `*`", "use dot(a, b)")
            if lv:
                return Vector(a * right for a in left)
            if rv:
                return Vector(left * b for b in right)
            return left * right
        # division
        if rv:
            raise fail(right_node, "cannot divide by a vector")
        if right == 0:
            raise fail(right_node, "division by zero", None)
        if lv:
            return Vector(a / right for a in left)
        return left / right

    def check_value(self, node: Tree | Token, value: Any) -> None:
        if isinstance(value, (sp.logic.boolalg.Boolean, sp.core.relational.Relational)) and not isinstance(value, sp.Expr):
            raise fail(node, "a comparison can only stand as the condition of if(...)",
                       "write if(condition, value_if_true, value_if_false)")

    def rule_signed(self, node: Tree) -> Any:
        negative = False
        operand_node: Tree | Token = node
        while isinstance(operand_node, Tree) and operand_node.data == "signed":
            negative ^= str(operand_node.children[0]) == "-"
            operand_node = operand_node.children[1]
        value = self.convert(operand_node)
        self.check_value(operand_node, value)
        if not negative:
            return value
        if isinstance(value, Vector):
            return Vector(-a for a in value)
        return -value

    def rule_power_(self, node: Tree) -> sp.Expr:
        base_node, _op, exp_node = node.children
        base = self.scalar(base_node)
        exponent = self.scalar(exp_node)
        b, p = self.value_of(base), self.value_of(exponent)
        if isinstance(p, float) and math.isfinite(p) and abs(p) > limits.MAX_EXPONENT:
            raise fail(exp_node, f"the exponent `{self.quote(exp_node)}` is about {p:.1e}: exponents are limited to "
                                 f"{limits.MAX_EXPONENT} in magnitude")
        if base == 0 and isinstance(p, float) and p < 0:
            raise fail(node, "zero to a negative power is infinite")
        if isinstance(b, float) and isinstance(p, float) and math.isfinite(b) and math.isfinite(p) and b != 0:
            magnitude = p * math.log10(abs(b))
            if abs(magnitude) > limits.MAX_MAGNITUDE_EXP:
                raise fail(node, f"`{self.quote(node)}` is about 1e{magnitude:+.0f}: numbers are limited to "
                                 f"{limits.MAX_MAGNITUDE:.0e} in magnitude, and nonzero ones to at least "
                                 f"{1 / limits.MAX_MAGNITUDE:.0e}")
        return base ** exponent

    def rule_compare(self, node: Tree) -> Any:
        left_node, op, right_node = node.children
        a, b = self.scalar(left_node), self.scalar(right_node)
        for side, value in ((left_node, a), (right_node, b)):
            if value.has(sp.Piecewise):
                # SymPy would fold the if into the condition and solve inequalities: exponential time
                raise fail(side, f"`{self.quote(side)}` contains if(...) and cannot be compared",
                           "write the condition on the inputs of that if, combining cases with `and` and `or`")
        op = str(op)
        relation = {"<": sp.Lt, "<=": sp.Le, ">": sp.Gt, ">=": sp.Ge, "==": sp.Eq, "!=": sp.Ne}[op]
        va, vb = self.value_of(a), self.value_of(b)
        if isinstance(va, float) and isinstance(vb, float) and not (a.free_symbols or b.free_symbols):
            # two numbers: decided in floats, never by SymPy's adaptive precision
            return sp.true if relation(sp.Float(va), sp.Float(vb)) == sp.true else sp.false
        try:
            return relation(a, b)
        except (TypeError, ValueError) as err:
            raise fail(node, f"`{self.quote(node)}` cannot be compared: {limits.abbreviate(err, 80)}") from None

    def condition(self, node: Tree | Token) -> Any:
        value = self.convert(node)
        if isinstance(value, Vector):
            raise fail(node, "a vector cannot be a condition")
        if isinstance(value, sp.Expr) and not isinstance(value, sp.core.relational.Relational):
            raise fail(node, "the condition of if(...) must be a comparison such as `x < 0.5`")
        return value

    def rule_and_(self, node: Tree) -> Any:
        return sp.And(self.condition(node.children[0]), self.condition(node.children[1]), evaluate=False)

    def rule_or_(self, node: Tree) -> Any:
        return sp.Or(self.condition(node.children[0]), self.condition(node.children[1]), evaluate=False)

    # ---------------------------------------------------------------- calls
    def rule_call(self, node: Tree) -> Any:
        tok: Token = node.children[0]
        name = str(tok)
        args = list(node.children[1:])
        if name in FUNCTIONS:
            fn, arity = FUNCTIONS[name]
            if arity is None:
                if len(args) < 2:
                    raise fail(node, f"`{name}` takes two or more arguments")
            elif len(args) != arity:
                raise fail(node, f"`{name}` takes {arity} argument{'s' if arity > 1 else ''}, not {len(args)}")
            values = [self.scalar(a) for a in args]
            try:
                return fn(*values)
            except (TypeError, ValueError, ArithmeticError) as err:
                raise fail(node, f"`{self.quote(node)}` cannot be evaluated: {limits.abbreviate(err, 80)}") from None
        handler = getattr(self, "op_" + name, None)
        if handler is not None:
            return handler(node, tok, args)
        if name in self.scope.operators:
            spec = self.scope.operators[name]
            if spec.arity is not None and len(args) != spec.arity:
                raise fail(node, f"`{name}` takes {spec.arity} argument(s), not {len(args)}")
            values = [self.convert(a) for a in args]
            try:
                return spec.build(values, self.scope)
            except SourceError:
                raise
            except Exception as err:  # a plugin's operator must not turn odd input into a traceback
                raise fail(node, f"the operator `{name}` failed on `{self.quote(node)}`: "
                                 f"{type(err).__name__}: {limits.abbreviate(err, 80)}") from None
        declared = self.scope.declared()
        if name in declared:
            raise fail(tok, f"`{name}` is a {declared[name]}, not a function",
                       "multiply explicitly with `*`" if declared[name] != "field" else None)
        known = list(FUNCTIONS) + list(OPERATORS) + list(self.scope.operators)
        raise fail(tok, f"unknown operator `{name}`",
                   did_you_mean(name, known) or "the operators are " + ", ".join(sorted(known)))

    def expect_args(self, node: Tree, name: str, args: list, low: int, high: int) -> None:
        if not low <= len(args) <= high:
            want = str(low) if low == high else f"{low} to {high}"
            raise fail(node, f"`{name}` takes {want} arguments, not {len(args)}", OPERATORS.get(name))

    def whole_value(self, value: Any) -> int | None:
        """``value`` (parameters at their values) as an int when it is a whole number, else None; the parameters
        in it become structural (:attr:`Scope.structural`)."""
        self.scope.mark_structural(value)
        f = self.value_of(value)
        if not isinstance(f, float) or not math.isfinite(f) or not f.is_integer():
            return None
        return int(f)

    def positive_int(self, node: Tree | Token, what: str, limit: int | None = None) -> int:
        value = self.scalar(node)
        k = self.whole_value(value)
        if k is None or k < 1:
            raise fail(node, f"{what} must be a positive integer (a whole number of at least 1), not "
                             f"{limits.abbreviate(value)}", "write e.g. `d(u, x, 2)` or `dt(u, 2)`")
        if limit is not None and k > limit:
            raise fail(node, f"{what} is {limits.abbreviate(k)}; the limit is {limit}")
        return k

    def op_if(self, node: Tree, tok: Token, args: list) -> sp.Expr:
        self.expect_args(node, "if", args, 3, 3)
        cond = self.condition(args[0])
        a, b = self.scalar(args[1]), self.scalar(args[2])
        return sp.Piecewise((a, cond), (b, True))

    def op_dt(self, node: Tree, tok: Token, args: list) -> sp.Expr:
        self.expect_args(node, "dt", args, 1, 2)
        if self.scope.time is None:
            if "time" in self.scope.failed:
                raise FollowOnError("the time was not declared", position_of(tok))
            raise fail(tok, "`dt` in a steady problem", "add a `time t in [0, T]` line, or remove the time derivative")
        if not self.allow_time_derivative:
            raise fail(tok, "a time derivative cannot appear here")
        order = self.positive_int(args[1], "the order of dt", limits.MAX_DERIVATIVE_ORDER) if len(args) == 2 else 1
        with self.orders.entering(node, "dt", {str(self.scope.time): order}):
            operand = self.scalar(args[0])
        value = self.diff(node, operand, self.scope.time, order)
        for name, applied in self.scope.fields.items():
            if operand.has(applied):
                written = time_order_in(value, applied, self.scope.time)
                self.shared.time_orders[name] = max(self.shared.time_orders.get(name, 0), written)
        return value

    def _coordinate(self, node: Tree | Token) -> sp.Expr:
        value = self.scalar(node)
        s = self.scope
        if value in s.coords.values():
            return value
        if isinstance(value, sp.Indexed) and s.indexed is not None and value.base == s.indexed:
            return value
        if s.time is not None and value == s.time:
            raise fail(node, "differentiate in time with dt(u), not d(u, t)")
        raise fail(node, f"unknown coordinate `{self.quote(node, value)}`; the coordinates are "
                         + ", ".join(s.coordinate_names))

    def diff(self, node: Tree | Token, expr: sp.Expr, var: sp.Expr, order: int = 1) -> sp.Expr:
        """d^order expr / d var^order, one order at a time, each refused if its result would be too large."""
        for _ in range(order):
            estimate = self.shared.derivative_size(expr, var)
            if estimate > limits.MAX_NODES:
                raise fail(node, f"differentiating `{self.quote(node)}` in `{var}` would give more than "
                                 f"{limits.count(limits.MAX_NODES)} terms and operations (the limit on the size of "
                                 "an expression)", "a product of many factors grows with every derivative")
            expr = sp.diff(expr, var)
            if expr.has(sp.DiracDelta):
                raise fail(node, f"differentiating `{self.quote(node)}` in `{var}` gives a Dirac delta (the derivative "
                                 "of a jump, from abs, sign, min, max or if), which has no value at a point",
                           "differentiate the expression without the kink, or write its derivative piecewise "
                           "with `if`")
            self.bound(node, expr)
        return expr

    def derivative(self, expr: sp.Expr, variables: list[sp.Expr], node: Tree | Token | None = None) -> sp.Expr:
        """∂ expr / ∂ variables (in order), as SymPy or :class:`Partial` nodes."""
        if self.scope.indexed is not None:
            indices = [int(v.indices[0]) for v in variables]
            if isinstance(expr, Partial):
                return Partial(expr.expr, *expr.indices, *indices)
            return Partial(expr, *indices)
        out = expr
        for v in variables:
            out = self.diff(node, out, v) if node is not None else sp.diff(out, v)
        return out

    def op_d(self, node: Tree, tok: Token, args: list) -> sp.Expr:
        if len(args) < 2:
            raise fail(node, "`d` takes an expression and at least one coordinate: d(u, x), d(u, x, 2), d(u, x, y)")
        variables: list[sp.Expr] = []
        for a in args[1:]:
            is_number = _is_literal_number(a)
            if is_number:
                if not variables:
                    raise fail(a, "the order in `d` comes after the coordinate: d(u, x, 2)")
                order = self.positive_int(a, "the order of a derivative", limits.MAX_DERIVATIVE_ORDER)
                variables.extend([variables[-1]] * (order - 1))
            else:
                coord = self._coordinate(a)
                if isinstance(coord, sp.Indexed) and not coord.indices[0].is_Integer:
                    raise fail(a, f"a derivative in `{coord}` with a summation index is not supported",
                               "write `lap(u)` for the sum of second derivatives, or give the coordinate a number: "
                               "d(u, x[1], x[2])")
                variables.append(coord)
            if len(variables) > limits.MAX_DERIVATIVE_ORDER * max(1, self.scope.dimension):
                raise fail(node, f"`d` takes {len(variables)} derivatives; derivatives are limited to order "
                                 f"{limits.MAX_DERIVATIVE_ORDER} per variable")
        counts: dict[str, int] = {}
        for v in variables:
            counts[str(v)] = counts.get(str(v), 0) + 1
        with self.orders.entering(node, "d", counts):
            expr = self.scalar(args[0])
        return self.derivative(expr, variables, node)

    def _axis_derivative(self, node: Tree, tok: Token, args: list, axis: str) -> sp.Expr:
        self.expect_args(node, f"d{axis}", args, 1, 1)
        if axis not in self.scope.coords:
            raise fail(tok, f"unknown coordinate `{axis}` in `d{axis}`; the coordinates are " + ", ".join(self.scope.coordinate_names),
                       "use d(u, x[i]) in an indexed space" if self.scope.indexed is not None else f"add `{axis}` to the `space` line")
        with self.orders.entering(node, f"d{axis}", {axis: 1}):
            operand = self.scalar(args[0])
        return self.diff(node, operand, self.scope.coords[axis])

    def op_dx(self, node, tok, args):
        return self._axis_derivative(node, tok, args, "x")

    def op_dy(self, node, tok, args):
        return self._axis_derivative(node, tok, args, "y")

    def op_dz(self, node, tok, args):
        return self._axis_derivative(node, tok, args, "z")

    def laplacian(self, expr: sp.Expr, node: Tree | Token | None = None) -> sp.Expr:
        r"""Δ expr: expanded in a named space, a :class:`Laplacian` node in an indexed one."""
        if self.scope.indexed is not None:
            return Laplacian(expr)
        if node is None:
            return sp.Add(*[sp.diff(expr, c, 2) for c in self.scope.coords.values()])
        return sp.Add(*[self.diff(node, expr, c, 2) for c in self.scope.coords.values()])

    def op_lap(self, node, tok, args):
        self.expect_args(node, "lap", args, 1, 1)
        with self.orders.entering(node, "lap", spatial=2):
            operand = self.scalar(args[0])
        return self.laplacian(operand, node)

    def op_biharm(self, node, tok, args):
        self.expect_args(node, "biharm", args, 1, 1)
        with self.orders.entering(node, "biharm", spatial=4):
            operand = self.scalar(args[0])
        return self.laplacian(self.laplacian(operand, node), node)

    def op_grad(self, node, tok, args):
        self.expect_args(node, "grad", args, 1, 1)
        if self.scope.indexed is not None:
            raise fail(tok, "`grad` is available in spaces of named coordinates",
                       "in an indexed space use lap(u) or d(u, x[i])")
        with self.orders.entering(node, "grad", spatial=1):
            expr = self.scalar(args[0])
        return Vector(self.diff(node, expr, c) for c in self.scope.coords.values())

    def op_div(self, node, tok, args):
        self.expect_args(node, "div", args, 1, 1)
        if self.scope.indexed is not None:
            raise fail(tok, "`div` is available in spaces of named coordinates")
        with self.orders.entering(node, "div", spatial=1):
            value = self.convert(args[0])
        if not isinstance(value, Vector):
            raise fail(args[0], "`div` takes a vector such as (a, b) or grad(u)")
        coords = list(self.scope.coords.values())
        if len(value) != len(coords):
            raise fail(args[0], f"`div` needs a vector with {len(coords)} components (one per coordinate), not {len(value)}")
        return sp.Add(*[self.diff(node, v, c) for v, c in zip(value, coords)])

    def op_dn(self, node, tok, args):
        self.expect_args(node, "dn", args, 1, 1)
        if not self.allow_dn:
            raise fail(tok, "`dn` (the normal derivative) can only appear in a boundary condition")
        with self.orders.entering(node, "dn", spatial=1):
            operand = self.scalar(args[0])
        return NormalDerivative(operand)

    def op_dot(self, node, tok, args):
        self.expect_args(node, "dot", args, 2, 2)
        a, b = self.convert(args[0]), self.convert(args[1])
        if not (isinstance(a, Vector) and isinstance(b, Vector)):
            raise fail(node, "`dot` takes two vectors")
        if len(a) != len(b):
            raise fail(node, f"`dot` of vectors of lengths {len(a)} and {len(b)}")
        return sp.Add(*[p * q for p, q in zip(a, b)])

    def op_norm(self, node, tok, args):
        self.expect_args(node, "norm", args, 1, 1)
        a = self.convert(args[0])
        if isinstance(a, Vector):
            return sp.sqrt(sp.Add(*[p**2 for p in a]))
        self.check_value(args[0], a)
        return sp.Abs(a)

    def op_sum(self, node, tok, args):
        self.expect_args(node, "sum", args, 4, 4)
        index_node = args[0]
        if not (isinstance(index_node, Tree) and index_node.data == "name"):
            raise fail(index_node, "the first argument of `sum` is the index name: sum(i, 1, d, expr)")
        index_name = str(index_node.children[0])
        if index_name in CONSTANTS:
            raise fail(index_node, f"`{index_name}` is a built-in constant and cannot be a sum index",
                       "choose another index name, such as `i`")
        if index_name in self.scope.declared() or index_name in self.indices:
            raise fail(index_node, f"the sum index `{index_name}` is already a name in this problem", "choose another index name")
        bounds = []
        for b in args[1:3]:
            value = self.scalar(b)
            k = self.whole_value(value)
            if k is None:
                raise fail(b, f"the bounds of `sum` must be whole numbers, not {limits.abbreviate(value)}")
            if abs(k) > limits.MAX_SUM_BOUND:
                raise fail(b, f"the bound {limits.abbreviate(k)} of `sum` is out of range: bounds are limited to "
                              f"{limits.count(limits.MAX_SUM_BOUND)} in magnitude")
            bounds.append(k)
        i = sp.Symbol(index_name, integer=True)
        lo, hi = bounds
        inner = Converter(self.scope, self.allow_fields, self.allow_dn, self.allow_time_derivative,
                          {**self.indices, index_name: i}, self.source_text, self.shared,
                          {**self.ranges, index_name: (lo, hi)})
        body = inner.scalar(args[3])
        if hi < lo:
            return sp.S.Zero
        terms = hi - lo + 1
        if not body.has(i):
            return body * terms
        if body.has(sp.Indexed) and self.scope.indexed is not None and terms >= 8:
            return sp.Sum(body, (i, lo, hi))
        hint = ("a sum over `x[i]` in an indexed space (`space x[1..d]`) stays unexpanded"
                if self.scope.indexed is None else None)
        if terms > limits.MAX_SUM_TERMS:
            raise fail(node, f"this `sum` would be written out as {limits.count(terms)} terms; a sum that is "
                             f"written out is limited to {limits.count(limits.MAX_SUM_TERMS)} terms", hint)
        size, _ = self.shared.measure(body)
        if size * terms > limits.MAX_NODES:
            raise fail(node, f"this `sum` would be written out as {limits.count(terms)} terms of "
                             f"{limits.count(size)} nodes each, more than the limit of "
                             f"{limits.count(limits.MAX_NODES)} on the size of an expression", hint)
        return sp.Add(*[body.xreplace({i: sp.Integer(k)}) for k in range(lo, hi + 1)])
