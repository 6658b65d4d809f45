"""The symbolic problem: what an equation file means, as immutable SymPy data.

Conventions every consumer relies on:

* Named coordinates (``space x, y``) are real ``sympy.Symbol``\\ s; an indexed
  space (``space x[1..d]``) is one ``sympy.IndexedBase`` ``x`` of known
  dimension whose k-th coordinate is ``x[k]`` (1-based, as written).
* Time is a real symbol (``t`` unless the file names another).
* A field ``u`` is an undefined ``sympy.Function`` applied to the coordinates
  and then time: ``u(x, y, t)``; in an indexed space ``u(x, t)`` with ``x`` the
  ``IndexedBase``.
* Derivatives in a named space are ``sympy.Derivative`` nodes of applied
  fields; in an indexed space they are :class:`~symop.model.operators.Laplacian`
  and :class:`~symop.model.operators.Partial` nodes.  ``dn(u)`` is
  :class:`~symop.model.operators.NormalDerivative`.
* Parameters stay symbols in the equations; :attr:`Problem.params` holds their
  values and :meth:`Problem.numeric` substitutes them.
* ``let`` names are inlined; ``exact(u)`` is replaced by the exact expression.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import sympy as sp
from sympy.printing.latex import LatexPrinter

from symop.errors import Position, Source
from symop.model.domains import Domain


def as_number(value: float) -> sp.Expr:
    """A float as a SymPy number: an Integer when it is whole."""
    return sp.Integer(int(value)) if float(value).is_integer() else sp.Float(value)


@dataclass(frozen=True)
class Space:
    """The spatial coordinates of a problem."""

    coords: tuple[sp.Symbol, ...] = ()
    indexed: sp.IndexedBase | None = None
    dimension: int = 0

    @property
    def is_indexed(self) -> bool:
        return self.indexed is not None

    @property
    def names(self) -> tuple[str, ...]:
        """Coordinate names: ``('x', 'y')`` or ``('x[1]', ..., 'x[d]')``."""
        if self.indexed is not None:
            base = str(self.indexed)
            return tuple(f"{base}[{k}]" for k in range(1, self.dimension + 1))
        return tuple(str(c) for c in self.coords)

    def coordinate(self, k: int) -> sp.Expr:
        """The k-th coordinate (0-based here), as a SymPy expression."""
        if self.indexed is not None:
            return self.indexed[k + 1]
        return self.coords[k]

    @property
    def arguments(self) -> tuple[sp.Basic, ...]:
        """What a field is applied to before time: the symbols, or the IndexedBase."""
        return (self.indexed,) if self.indexed is not None else self.coords


@dataclass(frozen=True)
class Time:
    """The time coordinate and its interval ``[start, end]``."""

    symbol: sp.Symbol
    start: float = 0.0
    end: float = 1.0


@dataclass(frozen=True)
class Field:
    """An unknown: its name, the SymPy function and its application."""

    name: str
    function: Any  # sympy UndefinedFunction
    applied: sp.Expr
    position: Position | None = None


@dataclass(frozen=True)
class Equation:
    """``lhs = rhs``; :attr:`field` is the unknown it determines."""

    lhs: sp.Expr
    rhs: sp.Expr
    field: str
    position: Position | None = None

    @property
    def residual(self) -> sp.Expr:
        """``lhs - rhs``: zero when the equation holds."""
        return self.lhs - self.rhs


@dataclass(frozen=True)
class BoundaryCondition:
    """A condition on named boundary parts for one field.

    Linear conditions are classified as ``alpha*u + beta*dn(u) = g``:
    ``dirichlet`` (beta = 0), ``neumann`` (alpha = 0) or ``robin``; anything
    else is ``general`` and only :attr:`lhs`/:attr:`rhs` are meaningful.
    """

    parts: tuple[str, ...]
    field: str
    lhs: sp.Expr
    rhs: sp.Expr
    kind: str
    alpha: sp.Expr = sp.S.Zero
    beta: sp.Expr = sp.S.Zero
    value: sp.Expr = sp.S.Zero
    position: Position | None = None

    @property
    def residual(self) -> sp.Expr:
        return self.lhs - self.rhs


@dataclass(frozen=True)
class InitialCondition:
    """``dt(u, order) = value`` at the start time (``order`` 0 is ``u`` itself)."""

    field: str
    order: int
    value: sp.Expr
    position: Position | None = None


@dataclass(frozen=True)
class SolveSpec:
    """The ``solve`` line: a default method and its options."""

    method: str
    options: Mapping[str, Any] = field(default_factory=dict)
    position: Position | None = None
    #: option name -> where ``name: value`` stands on the line, so that a method's refusal of it points there
    option_positions: Mapping[str, Position] = field(default_factory=dict, compare=False)
    #: where the method's name stands
    method_position: Position | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Problem:
    """A whole equation file, checked and converted to SymPy."""

    name: str
    title: str
    space: Space
    time: Time | None
    domain: Domain
    params: Mapping[str, float]
    param_symbols: Mapping[str, sp.Symbol]
    lets: Mapping[str, sp.Expr]
    fields: tuple[Field, ...]
    equations: tuple[Equation, ...]
    boundary: tuple[BoundaryCondition, ...] = ()
    periodic: tuple[str, ...] = ()
    initial: tuple[InitialCondition, ...] = ()
    exact: Mapping[str, sp.Expr] = field(default_factory=dict)
    solve: SolveSpec | None = None
    source: Source | None = None
    param_ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    #: random parameters (``param k in [a, b]``, ``param k ~ ...``) → :class:`symop.model.family.Distribution`
    param_distributions: Mapping[str, Any] = field(default_factory=dict)
    #: parameters whose values the reading used (a dimension, a sum's bounds, a domain, another parameter's
    #: value): a new value for one means reading :attr:`source` again (:func:`symop.api.with_params`)
    structural_params: frozenset[str] = frozenset()
    #: whether the problem is what its :attr:`source` states, no more (a manufactured problem is not), so that
    #: reading the source again with other parameter values gives the same problem at those values
    as_read: bool = True
    #: the parameter values as the source states them (before any :meth:`with_params`), so that reading the
    #: source again can tell the values set since from the ones it gives itself
    read_params: Mapping[str, float] = field(default_factory=dict)

    # ------------------------------------------------------------------ access
    @property
    def is_steady(self) -> bool:
        return self.time is None

    @property
    def dimension(self) -> int:
        return self.space.dimension

    @property
    def t(self) -> sp.Symbol | None:
        return self.time.symbol if self.time else None

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def equation_for(self, name: str) -> Equation:
        for eq in self.equations:
            if eq.field == name:
                return eq
        raise KeyError(name)

    def conditions_for(self, name: str) -> tuple[BoundaryCondition, ...]:
        return tuple(bc for bc in self.boundary if bc.field == name)

    def initial_for(self, name: str, order: int = 0) -> InitialCondition | None:
        for ic in self.initial:
            if ic.field == name and ic.order == order:
                return ic
        return None

    # ------------------------------------------------------------- numerics
    @property
    def param_values(self) -> dict[sp.Symbol, float]:
        """Parameter symbol → value, for ``expr.subs``."""
        return {self.param_symbols[n]: v for n, v in self.params.items()}

    def numeric(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` with every parameter replaced by its value."""
        return sp.sympify(expr).xreplace({k: as_number(v) for k, v in self.param_values.items()})

    def structural_changes(self, values: Mapping[str, float]) -> list[str]:
        """The names among ``values`` that give a :attr:`structural_params` parameter another value."""
        return [k for k in values if k in self.structural_params and float(values[k]) != float(self.params[k])]

    def with_params(self, **values: float) -> "Problem":
        """A copy with some parameter values changed (``--set kappa=0.2``); those become fixed, not random."""
        from dataclasses import replace

        unknown = [k for k in values if k not in self.params]
        if unknown:
            from symop.errors import OptionError

            raise OptionError(
                f"the problem has no parameter `{unknown[0]}`; its parameters are "
                + (", ".join(self.params) or "none")
                + "."
            )
        moved = self.structural_changes(values)
        if moved:
            from symop.errors import OptionError

            raise OptionError(
                f"the parameter `{moved[0]}` of `{self.name}` shapes the problem itself (a dimension, a sum's "
                "bounds, a domain or another parameter's value), fixed when the file was read: "
                + ("`symop.api.with_params` (what `--set` uses) reads the file again with the new value, or change "
                   f"`param {moved[0]}` in the file." if self.as_read and self.source is not None else
                   f"this problem was built from another (manufactured), so change `param {moved[0]}` in the file "
                   "it came from instead."))
        new = dict(self.params)
        new.update({k: float(v) for k, v in values.items()})
        # a parameter given a value is no longer random; a random field given a constant has zero derivatives
        for name, dist in self.param_distributions.items():
            if dist.kind == "derivative" and dist.options["of"] in values:
                new[name] = 0.0

        def fixed(table: Mapping[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in table.items()
                    if k not in values and getattr(v, "options", {}).get("of") not in values}

        return replace(self, params=new, param_ranges=fixed(self.param_ranges),
                       param_distributions=fixed(self.param_distributions))

    def substitute_fields(self, expr: sp.Expr, values: Mapping[str, sp.Expr]) -> sp.Expr:
        """Replace applied fields by expressions and evaluate the derivatives.

        ``values`` maps field names to expressions in the coordinates and time;
        the result is what the operator gives for those functions (used to
        check exact solutions and to derive manufactured sources).
        """
        mapping = {self.field(n).applied: sp.sympify(v) for n, v in values.items()}
        return sp.sympify(expr).subs(mapping).doit()

    def _repr_latex_(self) -> str:
        """The problem as mathematics for Jupyter: its equations, boundary and initial conditions."""
        return problem_latex(self)


def _latex_text(text: str) -> str:
    r"""``text`` safe inside ``\text{...}``."""
    for char in "\\{}_%&#$^~":
        text = text.replace(char, "\\" + char if char not in "\\^~" else " ")
    return text


class _FieldLatex(LatexPrinter):
    r"""LaTeX with a field ``u(x, y, t)`` written ``u``, its derivatives as partials and ``lap`` as ``\Delta``."""

    def __init__(self, fields: Mapping[Any, str]) -> None:
        super().__init__()
        self._fields = fields

    def _print_Function(self, expr: Any, exp: Any = None) -> str:
        if expr in self._fields:
            name = self._fields[expr]
            return name if exp is None else f"{name}^{{{exp}}}"
        return super()._print_Function(expr, exp)

    def _operand(self, arg: Any) -> str:
        """A field as its name, anything else in parentheses."""
        text = self._print(arg)
        return text if arg in self._fields or arg.is_Atom else rf"\left({text}\right)"

    def _print_Laplacian(self, expr: Any, exp: Any = None) -> str:
        text = r"\Delta " + self._operand(expr.args[0])
        return text if exp is None else rf"\left({text}\right)^{{{exp}}}"

    def _print_Partial(self, expr: Any, exp: Any = None) -> str:
        below = "".join(rf"\partial x_{{{i}}}" for i in expr.indices)
        order = len(expr.indices)
        top = r"\partial" + (f"^{{{order}}}" if order > 1 else "")
        text = rf"\frac{{{top}}}{{{below}}} " + self._operand(expr.args[0])
        return text if exp is None else rf"\left({text}\right)^{{{exp}}}"

    def _print_Derivative(self, expr: Any) -> str:
        if expr.expr not in self._fields:
            return super()._print_Derivative(expr)
        order = sum(int(c) for _, c in expr.variable_count)
        below = " ".join(rf"\partial {self._print(v)}" + (f"^{{{int(c)}}}" if int(c) > 1 else "")
                         for v, c in expr.variable_count)
        top = r"\partial" + (f"^{{{order}}}" if order > 1 else "")
        return rf"\frac{{{top} {self._fields[expr.expr]}}}{{{below}}}"


def problem_latex(problem: Problem) -> str:
    r"""``problem`` as a LaTeX ``aligned`` block in ``$...$``: each equation, condition and exact solution."""
    printer = _FieldLatex({f.applied: f.name for f in problem.fields})

    def tex(expr: Any) -> str:
        return printer.doprint(sp.sympify(expr))

    where = rf"\text{{{_latex_text(problem.domain.describe())}}}"
    if problem.time is not None:
        where += rf",\ {tex(problem.time.symbol)} \in [{problem.time.start:g}, {problem.time.end:g}]"
    title = _latex_text(f"{problem.name}" + (f": {problem.title}" if problem.title else ""))
    lines = [rf"&\text{{{title}}}"]
    for eq in problem.equations:
        lines.append(rf"{tex(eq.lhs)} &= {tex(eq.rhs)} && \text{{in }} {where}")
    for bc in problem.boundary:
        lines.append(rf"{tex(bc.lhs)} &= {tex(bc.rhs)} && \text{{on {_latex_text(', '.join(bc.parts))}}}")
    if problem.periodic:
        lines.append(rf"&\text{{periodic in {_latex_text(', '.join(problem.periodic))}}}")
    for ic in problem.initial:
        field = problem.field(ic.field)
        lhs = field.name if ic.order == 0 else (rf"\frac{{\partial{'^' + str(ic.order) if ic.order > 1 else ''} "
                                                 rf"{field.name}}}{{\partial t{'^' + str(ic.order) if ic.order > 1 else ''}}}")
        start = 0.0 if problem.time is None else problem.time.start
        lines.append(rf"{lhs} &= {tex(ic.value)} && \text{{at }} t = {start:g}")
    for name, value in problem.exact.items():
        lines.append(rf"{name}_{{\text{{exact}}}} &= {tex(value)}")
    fixed = {k: v for k, v in problem.params.items() if k not in problem.param_distributions}
    if fixed:
        lines.append("&" + r",\ ".join(rf"{tex(problem.param_symbols[k])} = {v:g}" for k, v in fixed.items()
                                        if k in problem.param_symbols))
    return "$\\displaystyle \\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}$"
