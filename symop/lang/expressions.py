"""Convert expression syntax trees into SymPy, checking names as it goes.

One method per grammar rule (the rule aliases in ``grammars/symop.lark``).
Every error carries the position of the offending node.  Vectors (``(a, b)``,
``grad(u)``) are :class:`Vector` tuples; they may only meet ``+``, ``-``,
scalar ``*`` and ``/``, ``div``, ``dot`` and ``norm``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import sympy as sp
from lark import Token, Tree

from symop.errors import Position, SourceError
from symop.lang.names import CONSTANTS, FUNCTIONS, OPERATORS, did_you_mean
from symop.model.operators import Laplacian, NormalDerivative, Partial
from symop.model.problem import as_number


class Vector(tuple):
    """A vector expression: a tuple of SymPy scalars."""


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


def whole(value: sp.Expr) -> int | None:
    """``value`` as an int when it is a whole number, else None."""
    if not value.is_number:
        return None
    try:
        f = float(value)
    except TypeError:
        return None
    return int(f) if f.is_integer() else None


def number(text: str) -> sp.Expr:
    """A literal as an exact SymPy number (``0.1`` becomes 1/10)."""
    if any(c in text for c in ".eE"):
        return sp.Rational(text)
    return sp.Integer(int(text))


@dataclass
class Converter:
    """Converts one expression tree; flags say what the statement allows."""

    scope: Scope
    allow_fields: bool = True
    allow_dn: bool = False
    allow_time_derivative: bool = True
    indices: dict[str, sp.Symbol] = field(default_factory=dict)

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
        return method(node)

    # ---------------------------------------------------------------- atoms
    def rule_number(self, node: Tree) -> sp.Expr:
        return number(str(node.children[0]))

    def rule_name(self, node: Tree) -> sp.Expr:
        tok: Token = node.children[0]
        return self.lookup(tok)

    def lookup(self, tok: Token) -> sp.Expr:
        name = str(tok)
        s = self.scope
        if name in self.indices:
            return self.indices[name]
        if name in s.coords:
            return s.coords[name]
        if s.time is not None and name == str(s.time):
            return s.time
        if name in s.params:
            return s.params[name]
        if name in s.lets:
            return s.lets[name]
        if name in s.fields:
            if not self.allow_fields:
                raise fail(tok, f"the field `{name}` cannot appear here",
                           "exact solutions, initial data and parameters are given in the coordinates, time and parameters only")
            return s.fields[name]
        if s.indexed is not None and name == str(s.indexed):
            raise fail(tok, f"`{name}` is an indexed coordinate; write `{name}[i]` for its i-th component")
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in FUNCTIONS or name in OPERATORS or name in s.operators:
            raise fail(tok, f"`{name}` is a function and needs arguments", f"write `{name}(...)`")
        if name == "t" and s.time is None:
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
        index = index.xreplace(s.param_subs())
        if index.is_number:
            k = whole(index)
            if k is None:
                raise fail(index_node, f"the index of `{name}` must be a whole number, not {index}")
            if not 1 <= k <= s.dimension:
                raise fail(index_node, f"`{name}[{k}]` is out of range; the coordinates are {name}[1] … {name}[{s.dimension}]")
            return s.indexed[k]
        free = index.free_symbols - set(self.indices.values())
        if free:
            raise fail(index_node, f"the index of `{name}` may only use sum indices and numbers",
                       "write the coordinate inside sum(i, 1, d, ...) and index it with i")
        return s.indexed[index]

    # ----------------------------------------------------------- arithmetic
    def rule_binop(self, node: Tree) -> Any:
        left_node, op, right_node = node.children
        left = self.convert(left_node)
        right = self.convert(right_node)
        op = str(op)
        for side, value in ((left_node, left), (right_node, right)):
            self.check_value(side, value)
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
        if lv:
            return Vector(a / right for a in left)
        if right == 0:
            raise fail(right_node, "division by zero", None)
        return left / right

    def check_value(self, node: Tree | Token, value: Any) -> None:
        if isinstance(value, (sp.logic.boolalg.Boolean, sp.core.relational.Relational)) and not isinstance(value, sp.Expr):
            raise fail(node, "a comparison can only stand as the condition of if(...)",
                       "write if(condition, value_if_true, value_if_false)")

    def rule_signed(self, node: Tree) -> Any:
        op, operand_node = node.children
        value = self.convert(operand_node)
        self.check_value(operand_node, value)
        if str(op) == "+":
            return value
        if isinstance(value, Vector):
            return Vector(-a for a in value)
        return -value

    def rule_power_(self, node: Tree) -> sp.Expr:
        base_node, _op, exp_node = node.children
        base = self.scalar(base_node)
        exponent = self.scalar(exp_node)
        if base == 0 and exponent.is_number and exponent.is_negative:
            raise fail(node, "zero to a negative power is infinite")
        return base ** exponent

    def rule_compare(self, node: Tree) -> Any:
        left_node, op, right_node = node.children
        a, b = self.scalar(left_node), self.scalar(right_node)
        op = str(op)
        if op == "!=":
            return sp.Ne(a, b)
        return {"<": sp.Lt, "<=": sp.Le, ">": sp.Gt, ">=": sp.Ge, "==": sp.Eq}[op](a, b)

    def condition(self, node: Tree | Token) -> Any:
        value = self.convert(node)
        if isinstance(value, Vector):
            raise fail(node, "a vector cannot be a condition")
        if isinstance(value, sp.Expr) and not isinstance(value, sp.core.relational.Relational):
            raise fail(node, "the condition of if(...) must be a comparison such as `x < 0.5`")
        return value

    def rule_and_(self, node: Tree) -> Any:
        return sp.And(self.condition(node.children[0]), self.condition(node.children[1]))

    def rule_or_(self, node: Tree) -> Any:
        return sp.Or(self.condition(node.children[0]), self.condition(node.children[1]))

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
            return fn(*values)
        handler = getattr(self, "op_" + name, None)
        if handler is not None:
            return handler(node, tok, args)
        if name in self.scope.operators:
            spec = self.scope.operators[name]
            if spec.arity is not None and len(args) != spec.arity:
                raise fail(node, f"`{name}` takes {spec.arity} argument(s), not {len(args)}")
            return spec.build([self.convert(a) for a in args], self.scope)
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

    def positive_int(self, node: Tree | Token, what: str) -> int:
        value = self.scalar(node)
        k = whole(value.xreplace(self.scope.param_subs()))
        if k is None or k < 1:
            raise fail(node, f"{what} must be a whole number of at least 1, not {value}")
        return k

    def op_if(self, node: Tree, tok: Token, args: list) -> sp.Expr:
        self.expect_args(node, "if", args, 3, 3)
        cond = self.condition(args[0])
        a, b = self.scalar(args[1]), self.scalar(args[2])
        return sp.Piecewise((a, cond), (b, True))

    def op_dt(self, node: Tree, tok: Token, args: list) -> sp.Expr:
        self.expect_args(node, "dt", args, 1, 2)
        if self.scope.time is None:
            raise fail(tok, "`dt` in a steady problem", "add a `time t in [0, T]` line, or remove the time derivative")
        if not self.allow_time_derivative:
            raise fail(tok, "a time derivative cannot appear here")
        order = self.positive_int(args[1], "the order of dt") if len(args) == 2 else 1
        return sp.diff(self.scalar(args[0]), self.scope.time, order)

    def _coordinate(self, node: Tree | Token) -> sp.Expr:
        value = self.scalar(node)
        s = self.scope
        if value in s.coords.values():
            return value
        if isinstance(value, sp.Indexed) and s.indexed is not None and value.base == s.indexed:
            return value
        if s.time is not None and value == s.time:
            raise fail(node, "differentiate in time with dt(u), not d(u, t)")
        raise fail(node, f"unknown coordinate `{value}`; the coordinates are " + ", ".join(s.coordinate_names))

    def derivative(self, expr: sp.Expr, variables: list[sp.Expr]) -> sp.Expr:
        """∂ expr / ∂ variables (in order), as SymPy or :class:`Partial` nodes."""
        if self.scope.indexed is not None:
            indices = [int(v.indices[0]) for v in variables]
            if isinstance(expr, Partial):
                return Partial(expr.expr, *expr.indices, *indices)
            return Partial(expr, *indices)
        out = expr
        for v in variables:
            out = sp.diff(out, v)
        return out

    def op_d(self, node: Tree, tok: Token, args: list) -> sp.Expr:
        if len(args) < 2:
            raise fail(node, "`d` takes an expression and at least one coordinate: d(u, x), d(u, x, 2), d(u, x, y)")
        expr = self.scalar(args[0])
        variables: list[sp.Expr] = []
        for a in args[1:]:
            is_number = isinstance(a, Tree) and a.data == "number"
            if is_number:
                if not variables:
                    raise fail(a, "the order in `d` comes after the coordinate: d(u, x, 2)")
                order = self.positive_int(a, "the order of a derivative")
                variables.extend([variables[-1]] * (order - 1))
            else:
                coord = self._coordinate(a)
                if isinstance(coord, sp.Indexed) and not coord.indices[0].is_Integer:
                    raise fail(a, f"a derivative in `{coord}` with a summation index is not supported",
                               "write `lap(u)` for the sum of second derivatives, or give the coordinate a number: "
                               "d(u, x[1], x[2])")
                variables.append(coord)
        return self.derivative(expr, variables)

    def _axis_derivative(self, node: Tree, tok: Token, args: list, axis: str) -> sp.Expr:
        self.expect_args(node, f"d{axis}", args, 1, 1)
        if axis not in self.scope.coords:
            raise fail(tok, f"unknown coordinate `{axis}` in `d{axis}`; the coordinates are " + ", ".join(self.scope.coordinate_names),
                       "use d(u, x[i]) in an indexed space" if self.scope.indexed is not None else f"add `{axis}` to the `space` line")
        return sp.diff(self.scalar(args[0]), self.scope.coords[axis])

    def op_dx(self, node, tok, args):
        return self._axis_derivative(node, tok, args, "x")

    def op_dy(self, node, tok, args):
        return self._axis_derivative(node, tok, args, "y")

    def op_dz(self, node, tok, args):
        return self._axis_derivative(node, tok, args, "z")

    def laplacian(self, expr: sp.Expr) -> sp.Expr:
        r"""Δ expr: expanded in a named space, a :class:`Laplacian` node in an indexed one."""
        if self.scope.indexed is not None:
            return Laplacian(expr)
        return sp.Add(*[sp.diff(expr, c, 2) for c in self.scope.coords.values()])

    def op_lap(self, node, tok, args):
        self.expect_args(node, "lap", args, 1, 1)
        return self.laplacian(self.scalar(args[0]))

    def op_biharm(self, node, tok, args):
        self.expect_args(node, "biharm", args, 1, 1)
        return self.laplacian(self.laplacian(self.scalar(args[0])))

    def op_grad(self, node, tok, args):
        self.expect_args(node, "grad", args, 1, 1)
        if self.scope.indexed is not None:
            raise fail(tok, "`grad` is available in spaces of named coordinates",
                       "in an indexed space use lap(u) or d(u, x[i])")
        expr = self.scalar(args[0])
        return Vector(sp.diff(expr, c) for c in self.scope.coords.values())

    def op_div(self, node, tok, args):
        self.expect_args(node, "div", args, 1, 1)
        if self.scope.indexed is not None:
            raise fail(tok, "`div` is available in spaces of named coordinates")
        value = self.convert(args[0])
        if not isinstance(value, Vector):
            raise fail(args[0], "`div` takes a vector such as (a, b) or grad(u)")
        coords = list(self.scope.coords.values())
        if len(value) != len(coords):
            raise fail(args[0], f"`div` needs a vector with {len(coords)} components (one per coordinate), not {len(value)}")
        return sp.Add(*[sp.diff(v, c) for v, c in zip(value, coords)])

    def op_dn(self, node, tok, args):
        self.expect_args(node, "dn", args, 1, 1)
        if not self.allow_dn:
            raise fail(tok, "`dn` (the normal derivative) can only appear in a boundary condition")
        return NormalDerivative(self.scalar(args[0]))

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
        if index_name in self.scope.declared() or index_name in self.indices:
            raise fail(index_node, f"the sum index `{index_name}` is already a name in this problem", "choose another index name")
        bounds = []
        for b in args[1:3]:
            value = self.scalar(b).xreplace(self.scope.param_subs())
            k = whole(value)
            if k is None:
                raise fail(b, f"the bounds of `sum` must be whole numbers, not {value}")
            bounds.append(k)
        i = sp.Symbol(index_name, integer=True)
        inner = Converter(self.scope, self.allow_fields, self.allow_dn, self.allow_time_derivative, {**self.indices, index_name: i})
        body = inner.scalar(args[3])
        lo, hi = bounds
        if hi < lo:
            return sp.S.Zero
        if not body.has(i):
            return body * (hi - lo + 1)
        if body.has(sp.Indexed) and self.scope.indexed is not None and hi - lo >= 8:
            return sp.Sum(body, (i, lo, hi))
        return sp.Add(*[body.subs(i, k) for k in range(lo, hi + 1)])
