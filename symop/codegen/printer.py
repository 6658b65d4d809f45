"""Printing SymPy expressions as PyTorch source.

:class:`TorchPrinter` extends SymPy's Python code printer with a table of
``torch`` functions and with the rules that make the generated code work on
tensors of any dtype, device and (broadcast) shape:

* numbers are Python literals (``0.5``, ``math.pi``), which PyTorch treats as
  "weak" scalars that follow the dtype of the tensor they meet, so float32
  inputs stay float32; a function of a constant (``sin(2)``) is evaluated to a
  literal at generation time;
* :math:`x^{1/2}` is ``torch.sqrt(x)``, ``Min``/``Max`` are nested
  ``torch.minimum``/``torch.maximum`` (``torch.clamp`` for a constant bound),
  ``Piecewise`` is nested ``torch.where`` with ``&``/``|``/``~`` for
  ``And``/``Or``/``Not``;
* an indexed coordinate ``x[k]`` (1-based) is ``x[..., k-1]``;
* a ``Sum`` over an index ``i`` with integer bounds whose summand uses ``x[i+c]``
  is vectorized: every ``x[s*i+c]`` becomes a slice of ``x``, a bare ``i``
  becomes a ``torch.arange``, parts that do not depend on ``i`` get a trailing
  axis, and the result is reduced with ``.sum(-1)``:

  .. math:: \\sum_{i=a}^{b} f(x_{i+c}, i) \\;\\to\\;
     f(x[..., a-1+c:b+c],\\ \\mathrm{arange}(a, b+1)).\\mathrm{sum}(-1)

  A summand that cannot be vectorized (say, one containing another sum over
  a different index that depends on ``i``) becomes a Python ``sum(...)`` over
  ``range(a, b + 1)``.

Fields and derivatives must have been replaced by symbols before printing
(:func:`symop.codegen.generate` does that); the printer refuses to print them.
"""

from __future__ import annotations

import math
import re
from typing import Mapping

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.codeprinter import CodePrinter, PrintMethodNotImplementedError
from sympy.printing.precedence import PRECEDENCE, precedence
from sympy.printing.pycode import PythonCodePrinter

from symop.codegen.errors import CodegenError
from symop.codegen.nodes import NODE_TYPES, describe

#: SymPy function class name → the ``torch`` function of one tensor argument.
TORCH_FUNCTIONS: dict[str, str] = {
    "sin": "torch.sin",
    "cos": "torch.cos",
    "tan": "torch.tan",
    "asin": "torch.asin",
    "acos": "torch.acos",
    "atan": "torch.atan",
    "sinh": "torch.sinh",
    "cosh": "torch.cosh",
    "tanh": "torch.tanh",
    "asinh": "torch.asinh",
    "acosh": "torch.acosh",
    "atanh": "torch.atanh",
    "exp": "torch.exp",
    "log": "torch.log",
    "Abs": "torch.abs",
    "sign": "torch.sign",
    "floor": "torch.floor",
    "ceiling": "torch.ceil",
    "erf": "torch.erf",
    "erfc": "torch.erfc",
    "Sqrt": "torch.sqrt",
}


def is_simple_number(expr: sp.Basic) -> bool:
    """Whether a constant prints readably as it is (no need to fold it to a float).

    Simple constants are rationals, floats, ``pi`` and ``E`` combined by ``+``,
    ``*`` and integer powers, such as ``2*pi`` or ``pi**2/4``.
    """
    if expr.is_Rational or expr.is_Float or expr in (sp.pi, sp.E):
        return True
    if expr.is_Add or expr.is_Mul:
        return all(is_simple_number(a) for a in expr.args)
    if expr.is_Pow:
        return is_simple_number(expr.base) and expr.exp.is_Integer
    return False


def float_literal(value: float) -> str:
    """A Python expression for the float ``value`` (``0.5``, ``math.inf``, ``math.nan``)."""
    value = float(value)
    if math.isnan(value):
        return "math.nan"
    if math.isinf(value):
        return "math.inf" if value > 0 else "-math.inf"
    return repr(value)


def constant_value(expr: sp.Expr) -> float:
    """The value of a constant expression as a Python float.

    Raises :class:`CodegenError` when the constant is not real (``I``,
    ``zoo``).
    """
    try:
        return float(expr)
    except (TypeError, ValueError) as exc:
        raise CodegenError(f"the constant `{describe(expr)}` is not a real number.") from exc


def _atom(code: str) -> str:
    """``code`` wrapped in parentheses unless it is a name or a subscript of one."""
    if code.isidentifier():
        return code
    m = re.match(r"[A-Za-z_][\w.]*[(\[]", code)
    if m:
        depth = 0
        for pos in range(m.end() - 1, len(code)):
            ch = code[pos]
            depth += ch in "([{"
            depth -= ch in ")]}"
            if depth == 0:
                if pos == len(code) - 1:
                    return code
                if code[pos + 1] not in "([":  # a call or subscript may follow
                    break
    return f"({code})"


class _ScalarPrinter(PythonCodePrinter):
    """Prints expressions of plain Python numbers (loop indices) with ``math``."""

    def __init__(self) -> None:
        super().__init__({"strict": True, "fully_qualified_modules": True})

    def _print_Rational(self, expr):
        return float_literal(expr)

    def _print_Half(self, expr):
        return float_literal(expr)

    def _print_Float(self, expr):
        return float_literal(expr)

    def _print_Symbol(self, expr):
        return expr.name

    _print_Dummy = _print_Symbol


class TorchPrinter(PythonCodePrinter):
    """Prints SymPy expressions as PyTorch expressions.

    ``names`` maps symbols (arguments, temporaries, the placeholders of nodes)
    to the Python names the code uses, and ``indexed`` maps the names of
    :class:`sympy.IndexedBase` labels to the name of the tensor of shape
    ``(..., d)`` holding them.  A symbol missing from ``names`` prints as its
    own (sanitized) name.  ``ref`` names a tensor whose dtype and device
    numbers must follow where a Python scalar is not enough (``torch.arange``,
    both branches of a ``torch.where`` constant).

    When :attr:`hoist` is a list, loop-invariant pieces of vectorized sums
    (slices ``_x0``, ``arange``\\ s ``_i0`` and the common subexpressions
    ``_v0`` of a summand) are appended to it as ``(name, code)`` assignments
    and referred to by name; otherwise they are printed inline.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> TorchPrinter().doprint(sp.sin(x)**2 + sp.sqrt(y)/2)
    '0.5*torch.sqrt(y) + torch.sin(x)**2'
    """

    printmethod = "_torchcode"
    language = "PyTorch"

    _default_settings = dict(
        PythonCodePrinter._default_settings,
        strict=True,
        fully_qualified_modules=True,
    )

    def __init__(
        self,
        names: Mapping[sp.Basic, str] | None = None,
        indexed: Mapping[str, str] | None = None,
        ref: str | None = None,
        settings: dict | None = None,
    ) -> None:
        super().__init__(dict(settings or {}))
        self.known_functions = dict(TORCH_FUNCTIONS)
        self.names: dict[sp.Basic, str] = dict(names or {})
        self.indexed: dict[str, str] = dict(indexed or {})
        self.ref = ref
        self.scalars: set[sp.Basic] = set()
        self.hoist: list[tuple[str, str]] | None = None
        self.taken: set[str] = set(self.names.values()) | set(self.indexed.values())
        self._hoisted: dict[str, str] = {}
        self._loop_depth = 0
        self._scalar_printer = _ScalarPrinter()

    # ------------------------------------------------------------ entry points
    def doprint(self, expr, assign_to=None) -> str:
        """The code of ``expr`` (``"name = code"`` when ``assign_to`` is given)."""
        code = self._print(sp.sympify(expr))
        return f"{assign_to} = {code}" if assign_to is not None else code

    def new_name(self, prefix: str) -> str:
        """A fresh temporary name ``prefix0``, ``prefix1``, ... not used yet."""
        n = 0
        while f"{prefix}{n}" in self.taken:
            n += 1
        name = f"{prefix}{n}"
        self.taken.add(name)
        return name

    def _hoisted_name(self, code: str, prefix: str) -> str:
        """``code`` as a hoisted temporary (or inline when not hoisting)."""
        if self.hoist is None:
            return code
        name = self._hoisted.get(code)
        if name is None:
            name = self.new_name(prefix)
            self._hoisted[code] = name
            self.hoist.append((name, code))
        return name

    # ------------------------------------------------------------ dispatching
    def is_scalar(self, expr: sp.Basic) -> bool:
        """Whether ``expr`` is a Python number at run time (no tensor in it)."""
        return not (expr.free_symbols - self.scalars)

    def _print(self, expr, **kwargs) -> str:
        if isinstance(expr, sp.Basic) and not expr.is_Atom:
            if isinstance(expr, sp.Expr) and expr.is_number and not is_simple_number(expr):
                return float_literal(constant_value(expr))
            if self.scalars and expr.free_symbols and self.is_scalar(expr):
                return self._scalar_code(expr)
        try:
            return super()._print(expr, **kwargs)
        except PrintMethodNotImplementedError:
            # CodePrinter aliases some _print_X to its own _print_not_supported
            self._print_not_supported(expr)
            raise

    def _scalar_code(self, expr: sp.Basic) -> str:
        try:
            return self._scalar_printer.doprint(expr)
        except Exception as exc:  # sympy raises several kinds
            raise CodegenError(f"cannot generate Python code for `{describe(expr)}`.") from exc

    def _print_not_supported(self, expr):
        raise CodegenError(f"cannot generate PyTorch code for `{describe(expr)}`: it has no PyTorch equivalent here.")

    _print_Basic = _print_not_supported

    def _print_node(self, expr):
        raise CodegenError(
            f"`{describe(expr)}` must be replaced by an argument before printing; "
            "use symop.codegen.generate, which does that."
        )

    _print_Derivative = _print_node
    _print_Subs = _print_node
    _print_Laplacian = _print_node
    _print_Partial = _print_node
    _print_NormalDerivative = _print_node

    def _print_Function(self, expr):
        if isinstance(expr, NODE_TYPES) or isinstance(expr, AppliedUndef):
            return self._print_node(expr)
        name = type(expr).__name__
        if name in self.known_functions and len(expr.args) != 1:
            return self._print_not_supported(expr)
        return CodePrinter._print_Function(self, expr)

    def parenthesize(self, item, level, strict=False):
        """As SymPy's, but a positive number prints bare: ``0.5*x``, not ``(0.5)*x``."""
        if isinstance(item, sp.Number) and not item.is_Integer and item.is_positive:
            return self._print(item)
        return super().parenthesize(item, level, strict)

    # ------------------------------------------------------------ atoms
    def _print_Symbol(self, expr):
        name = self.names.get(expr)
        if name is not None:
            return name
        from symop.codegen.nodes import sanitize

        return sanitize(expr.name)

    _print_Dummy = _print_Symbol

    def _print_Integer(self, expr):
        return str(expr.p)

    def _print_Rational(self, expr):
        return float_literal(expr)

    _print_Half = _print_Rational

    def _print_Float(self, expr):
        return float_literal(expr)

    def _print_Infinity(self, expr):
        return "math.inf"

    def _print_NegativeInfinity(self, expr):
        return "-math.inf"

    def _print_NaN(self, expr):
        return "math.nan"

    def _print_ImaginaryUnit(self, expr):
        raise CodegenError("the expression contains the imaginary unit `I`; only real expressions are supported.")

    _print_ComplexInfinity = _print_ImaginaryUnit

    def _print_BooleanTrue(self, expr):
        return "True"

    def _print_BooleanFalse(self, expr):
        return "False"

    def _print_IndexedBase(self, expr):
        raise CodegenError(
            f"the indexed coordinate `{expr}` appears without an index; write `{expr}[k]` for a coordinate."
        )

    def _print_Indexed(self, expr):
        label = str(expr.base.label)
        name = self.indexed.get(label)
        if name is None:
            from symop.codegen.nodes import sanitize

            name = sanitize(label)
        if len(expr.indices) != 1:
            raise CodegenError(f"`{describe(expr)}` has {len(expr.indices)} indices; coordinates take one.")
        (index,) = expr.indices
        if index.is_Integer:
            k = int(index)
            if k < 1:
                raise CodegenError(f"`{describe(expr)}` has index {k}, but coordinates are numbered from 1.")
            return f"{name}[..., {k - 1}]"
        if self.is_scalar(index):
            return f"{name}[..., {self._scalar_code(index - 1)}]"
        raise CodegenError(
            f"`{describe(expr)}` has the index `{describe(index)}`, which is neither an integer "
            "nor the index of an enclosing sum."
        )

    # ------------------------------------------------------------ arithmetic
    def _print_Pow(self, expr, rational=False):
        base, exp = expr.base, expr.exp
        prec = precedence(expr)
        if exp.is_Number:
            e = float(exp)
            if e == 0.5:
                return f"torch.sqrt({self._print(base)})"
            if e == -0.5:
                return f"1/torch.sqrt({self._print(base)})"
            if e == -1:
                return f"1/{self.parenthesize(base, prec, strict=False)}"
            if exp.is_Integer and e < 0:
                return f"1/{self.parenthesize(base, prec, strict=False)}**{-int(exp)}"
        return f"{self.parenthesize(base, prec, strict=True)}**{self.parenthesize(exp, prec, strict=True)}"

    def _print_Mod(self, expr):
        a, b = expr.args
        return f"torch.remainder({self._print(a)}, {self._print(b)})" if not self.is_scalar(a) else (
            f"{self.parenthesize(a, PRECEDENCE['Mul'])} % {self.parenthesize(b, PRECEDENCE['Mul'])}"
        )

    def _tensor(self, expr: sp.Basic) -> str:
        """``expr`` printed as a tensor even when it is a constant (dtype of :attr:`ref`)."""
        code = self._print(expr)
        if not self.is_scalar(expr):
            return code
        if self.ref is None:
            return f"torch.tensor({code}, dtype=torch.get_default_dtype())"
        return f"{self.ref}.new_tensor({code})"

    def _minmax(self, expr, binary: str, bound: str, builtin: str) -> str:
        tensors = [a for a in expr.args if not self.is_scalar(a)]
        consts = [a for a in expr.args if self.is_scalar(a)]
        if not tensors:
            return f"{builtin}({', '.join(self._print(a) for a in consts)})"
        code = self._print(tensors[0])
        for a in tensors[1:]:
            code = f"{binary}({code}, {self._print(a)})"
        if consts:
            c = self._print(consts[0]) if len(consts) == 1 else f"{builtin}({', '.join(self._print(a) for a in consts)})"
            code = f"torch.clamp({code}, {bound}={c})"
        return code

    def _print_sign(self, expr):
        return f"torch.sign({self._print(expr.args[0])})"

    def _print_Min(self, expr):
        return self._minmax(expr, "torch.minimum", "max", "min")

    def _print_Max(self, expr):
        return self._minmax(expr, "torch.maximum", "min", "max")

    def _print_atan2(self, expr):
        y, x = expr.args
        return f"torch.atan2({self._tensor(y)}, {self._tensor(x)})"

    def _print_Heaviside(self, expr):
        # the step's derivative is 0 wherever it has one: the argument detached (torch.heaviside has no gradient)
        arg = expr.args[0]
        h0 = expr.args[1] if len(expr.args) > 1 else sp.S.Half
        return f"torch.heaviside(torch.as_tensor({self._print(arg)}).detach(), {self._tensor_like(h0)})"

    def _print_DiracDelta(self, expr):
        # only in derivatives symop takes itself (a Newton Jacobian of max(u, 0)): the language refuses one in an
        # equation; the derivative of a step is 0 wherever it exists, which is what Newton's method uses
        return f"torch.zeros_like(torch.as_tensor({self._print(expr.args[0])}))"

    def _tensor_like(self, expr: sp.Basic) -> str:
        code = self._print(expr)
        if self.ref is None:
            return f"torch.tensor({code}, dtype=torch.get_default_dtype())"
        return f"{self.ref}.new_tensor({code})"

    # ------------------------------------------------------------ logic
    def _print_Relational(self, expr):
        ops = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
        op = ops.get(expr.rel_op)
        if op is None:
            return self._print_not_supported(expr)
        return f"({self._print(expr.lhs)} {op} {self._print(expr.rhs)})"

    def _bool_operand(self, arg) -> str:
        code = self._print(arg)
        if isinstance(arg, sp.core.relational.Relational) or arg.is_Atom:
            return code
        return f"({code})"

    def _print_And(self, expr):
        return " & ".join(self._bool_operand(a) for a in expr.args)

    def _print_Or(self, expr):
        return " | ".join(self._bool_operand(a) for a in expr.args)

    def _print_Xor(self, expr):
        return " ^ ".join(self._bool_operand(a) for a in expr.args)

    def _print_Not(self, expr):
        return f"~{self._bool_operand(expr.args[0])}"

    def _print_Piecewise(self, expr):
        pieces = list(expr.args)
        last_value, last_cond = pieces[-1]
        if last_cond == sp.true:
            acc_expr, pieces = last_value, pieces[:-1]
        else:
            acc_expr = sp.nan
        code = self._print(acc_expr)
        scalar = self.is_scalar(acc_expr)
        for value, cond in reversed(pieces):
            if self.is_scalar(cond):
                code = f"({self._print(value)} if {self._print(cond)} else {code})"
                scalar = scalar and self.is_scalar(value)
                continue
            value_code = self._print(value)
            if scalar and self.is_scalar(value):
                value_code = self._tensor_like(value)
            cond_code = self._print(cond)
            if isinstance(cond, sp.core.relational.Relational) and cond_code.startswith("("):
                cond_code = cond_code[1:-1]
            code = f"torch.where({cond_code}, {value_code}, {code})"
            scalar = False
        return code

    def _print_ITE(self, expr):
        return self._print(expr.rewrite(sp.Piecewise))

    # ------------------------------------------------------------ sums
    def _print_Sum(self, expr):
        return self._sum(expr.function, [tuple(lim) for lim in expr.limits])

    def _sum(self, f: sp.Expr, limits: list[tuple]) -> str:
        """Code for the sum of ``f`` over ``limits`` (innermost first, as in ``Sum.limits``)."""
        for lim in limits:
            if len(lim) != 3:
                raise CodegenError(f"the sum over `{lim[0]}` needs a lower and an upper bound.")
        if len(limits) == 1:
            return self._single_sum(f, *limits[0])
        (j, c, d), inner = limits[-1], limits[:-1]
        if not f.has(j) and not any(sp.Tuple(*lim).has(j) for lim in inner) and c.is_Integer and d.is_Integer:
            count = int(d) - int(c) + 1
            return "0.0" if count <= 0 else f"{count}*{_atom(self._sum(f, inner))}"
        lo, hi = self._bound(c, "lower", j), self._bound(d, "upper", j)
        k = self._loop_symbol()
        self._loop_depth += 1
        try:
            body = self._sum(f.xreplace({j: k}), [tuple(sp.Tuple(*lim).xreplace({j: k})) for lim in inner])
        finally:
            self._loop_depth -= 1
        stop = str(int(d) + 1) if d.is_Integer else f"{hi} + 1"
        return f"sum({body} for {k.name} in range({lo}, {stop}))"

    def _loop_symbol(self) -> sp.Symbol:
        k = sp.Symbol(self.new_name("_k"))
        self.names[k] = k.name
        self.scalars.add(k)
        return k

    def _code_symbol(self, code: str, like: sp.Basic) -> sp.Symbol:
        """A placeholder symbol that prints as the atomic ``code``; scalar when ``like`` is."""
        d = sp.Dummy(code)
        self.names[d] = code
        if self.is_scalar(like):
            self.scalars.add(d)
        return d

    def _bound(self, value: sp.Basic, what: str, i: sp.Basic) -> str:
        if value.is_Integer:
            return str(int(value))
        if value.free_symbols and self.is_scalar(value):
            return self._scalar_code(value)
        raise CodegenError(
            f"the {what} bound `{describe(value)}` of the sum over `{i}` is not an integer; "
            "give it a value in `constants`."
        )

    def _single_sum(self, f: sp.Expr, i: sp.Symbol, a: sp.Basic, b: sp.Basic) -> str:
        lo = self._bound(a, "lower", i)
        hi = self._bound(b, "upper", i)
        if a.is_Integer and b.is_Integer:
            count = int(b) - int(a) + 1
            if count <= 0:
                return "0.0"
            if not f.has(i):
                return f"{count}*{self.parenthesize(f, PRECEDENCE['Mul'])}"
            if self._vectorizable(f, i):
                return self._vectorized(f, i, int(a), int(b))
        k = self._loop_symbol()
        self._loop_depth += 1
        try:
            body = self._print(f.xreplace({i: k}))
        finally:
            self._loop_depth -= 1
        stop = str(int(b) + 1) if b.is_Integer else f"{hi} + 1"
        return f"sum({body} for {k.name} in range({lo}, {stop}))"

    @staticmethod
    def _affine(index: sp.Expr, i: sp.Symbol) -> tuple[int, int] | None:
        """``(s, c)`` with ``index == s*i + c`` for integers ``s >= 1`` and ``c``, else None."""
        c, rest = index.as_independent(i, as_Add=True)
        s = sp.simplify(rest / i)
        if s.is_Integer and int(s) >= 1 and c.is_Integer:
            return int(s), int(c)
        return None

    def _vectorizable(self, f: sp.Basic, i: sp.Symbol) -> bool:
        if not f.has(i) or f == i:
            return True
        if isinstance(f, sp.Indexed):
            return len(f.indices) == 1 and self._affine(f.indices[0], i) is not None
        if isinstance(f, (sp.Sum, sp.Product, sp.Integral)) or isinstance(f, NODE_TYPES):
            return False
        return all(self._vectorizable(a, i) for a in f.args)

    def _hoist_calls(self, g: sp.Basic) -> sp.Basic:
        """Every function application on slices in a vectorized summand as a hoisted temporary.

        Temporaries are shared by their code across all sums of the function,
        so ``cos(x[i])`` in three sums over the same range is evaluated once: in
        high dimension these elementwise calls over (N, d) slices are most of the cost.
        """
        if not g.args or self.is_scalar(g):
            return g
        args = [self._hoist_calls(a) for a in g.args]
        if any(a is not b for a, b in zip(args, g.args)):
            g = g.func(*args)
        if isinstance(g, sp.Function) and not self.is_scalar(g):
            return self._code_symbol(self._hoisted_name(self._print(g), "_c"), g)
        return g

    def _vectorized(self, f: sp.Expr, i: sp.Symbol, a: int, b: int) -> str:
        refs: list[str] = []

        slices: dict[sp.Basic, sp.Basic] = {}

        def slice_of(e: sp.Indexed) -> sp.Basic:
            if e in slices:
                return slices[e]
            s, c = self._affine(e.indices[0], i)
            label = str(e.base.label)
            from symop.codegen.nodes import sanitize

            name = self.indexed.get(label, sanitize(label))
            start, stop = s * a + c - 1, s * b + c
            if start < 0:
                raise CodegenError(
                    f"`{describe(e)}` with `{i}` = {a} is `{label}[{start + 1}]`, "
                    "but coordinates are numbered from 1."
                )
            step = "" if s == 1 else f":{s}"
            refs.append(name)
            slices[e] = self._code_symbol(self._hoisted_name(f"{name}[..., {start}:{stop}{step}]", "_x"), e)
            return slices[e]

        def independent(e: sp.Basic) -> sp.Basic:
            if self.is_scalar(e):
                return e
            return self._code_symbol(f"{_atom(self._print(e))}[..., None]", e)

        arange: list[sp.Basic] = []

        def transform(e: sp.Basic) -> sp.Basic:
            if not e.has(i):
                return independent(e)
            if e == i:
                if not arange:
                    arange.append(sp.Dummy("_i"))
                return arange[0]
            if isinstance(e, sp.Indexed):
                return slice_of(e)
            if e.is_Add or e.is_Mul:
                dep = [transform(x) for x in e.args if x.has(i)]
                ind = [x for x in e.args if not x.has(i)]
                if ind:
                    dep.append(independent(e.func(*ind)))
                return e.func(*dep)
            return e.func(*[transform(x) for x in e.args])

        g = transform(f)
        if arange:
            ref = refs[0] if refs else self.ref
            if ref is None:
                code = f"torch.arange({a}, {b + 1}, dtype=torch.get_default_dtype())"
            else:
                code = f"torch.arange({a}, {b + 1}, dtype={ref}.dtype, device={ref}.device)"
            self.names[arange[0]] = self._hoisted_name(code, "_i")
        if self.hoist is not None and self._loop_depth == 0:
            g = self._hoist_calls(g)
            # common subexpressions of the summand (SymPy piecewise-folds summands,
            # which duplicates terms across the branches of a Piecewise)
            temps = (sp.Dummy(f"v{k}") for k in range(10**9))
            replacements, (g,) = sp.cse([g], symbols=temps, order="canonical")
            for sym, value in replacements:
                name = self.new_name("_v")
                self.hoist.append((name, self._print(value)))
                self.names[sym] = name
        return f"{_atom(self._print(g))}.sum(-1)"


for _k in PythonCodePrinter._kf:
    if f"_print_{_k}" not in TorchPrinter.__dict__:
        setattr(TorchPrinter, f"_print_{_k}", TorchPrinter._print_Function)
del _k
