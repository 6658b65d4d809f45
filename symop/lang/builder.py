"""Build a :class:`~symop.model.problem.Problem` from a syntax tree.

Statements are read in two passes: declarations first (``problem``,
``space``, ``time``, ``param``, ``let``, ``field``; parameters and named
expressions in file order, so each may use the ones above it), then
everything that refers to them (``domain``, ``exact``, ``equation``,
``boundary``, ``initial``, ``solve``).  Every semantic error is collected and
all are raised together, sorted by position.  An error that only follows from
one already collected (a use of a name whose declaration failed, a ``dt``
after a failed ``time`` line) is a :class:`~symop.lang.expressions.FollowOnError`
and is dropped: the first error says what to fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import sympy as sp
from lark import Token, Tree

from symop.errors import ErrorCollector, Position, Source, SourceError, SymopError
from symop.lang.expressions import Converter, FollowOnError, OperatorSpec, Scope, fail, position_of
from symop.lang.names import RESERVED, did_you_mean
from symop.lang.limits import MAX_DIMENSION, MAX_ERRORS, MAX_FIELD_OPTION, MAX_FILE_NODES, abbreviate, count
from symop.lang.parser import parse_tree
from symop.model.family import FIELD_OPTIONS, KINDS, Distribution
from symop.model.analysis import classify_condition, space_order_in, time_order_in
from symop.model.domains import Difference, Domain, DomainError
from symop.model.domains import registry as domain_registry
from symop.model.domains.registry import DomainKind
from symop.model.problem import (
    BoundaryCondition,
    Equation,
    Field,
    InitialCondition,
    Problem,
    SolveSpec,
    Space,
    Time,
    as_number,
)


def parse(text: str, filename: str = "<string>", operators: Mapping[str, OperatorSpec] | None = None,
          domains: Mapping[str, DomainKind] | None = None, params: Mapping[str, float] | None = None) -> Problem:
    """Parse and check equation ``text``; return the :class:`Problem` it states.

    ``operators`` and ``domains`` are the plugins' operators and domain kinds,
    beside the built-in ones.  ``params`` give parameters values other than the
    file's (each then fixed, as ``param d = 5`` would be), read as the file is:
    a dimension, a sum's bounds and the parameters computed from them follow.
    Raises :class:`~symop.errors.SourceError` (or ``SourceErrors`` when there
    are several) naming file, line and column.
    """
    if text.startswith("\ufeff"):  # a byte-order mark that some editors write: not part of the text
        text = text[1:]
    source = Source(text, filename)
    try:
        tree = parse_tree(text, filename)
        return Builder(source, operators or {}, domains or {}, dict(params or {})).build(tree)
    except SymopError:
        raise
    except Exception as err:  # last resort: odd input never ends in a traceback
        raise SourceError(internal_error_message(err, "this file"), None, INTERNAL_HINT, source) from err


#: The hint of an error that symop raised for want of a better message.
INTERNAL_HINT = "this is a gap in symop's checks; please report the file"


def internal_error_message(err: BaseException, what: str) -> str:
    """The message for an unexpected exception while reading ``what``: its kind and a short text."""
    return f"symop could not read {what} (internal error {type(err).__name__}: {abbreviate(err, 80)})"


def load(path: str | Path, operators: Mapping[str, OperatorSpec] | None = None,
         domains: Mapping[str, DomainKind] | None = None) -> Problem:
    """Read and parse an equation file."""
    from symop.errors import SymopError

    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SymopError(f"no such equation file: {path}") from None
    except IsADirectoryError:
        raise SymopError(f"{path} is a directory, not an equation file") from None
    if b"\x00" in data:
        raise SourceError("the file is binary, not an equation file", None, "pass a .pde text file", Source("", str(path)))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SourceError("the file is not UTF-8 text", None, "save it as UTF-8", Source("", str(path))) from None
    return parse(text, str(path), operators, domains)


def _statements(tree: Tree) -> list[Tree]:
    return [c for c in tree.children if isinstance(c, Tree)]


@dataclass
class Builder:
    """Turns a syntax tree into a Problem, collecting semantic errors."""

    source: Source
    operators: Mapping[str, OperatorSpec] = field(default_factory=dict)
    #: domain kinds from plugins, beside the built-in ones of :mod:`symop.model.domains.registry`
    domains: Mapping[str, DomainKind] = field(default_factory=dict)
    #: parameter values that replace the file's declarations (:func:`parse`'s ``params``)
    overrides: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.errors = ErrorCollector(self.source)
        #: errors dropped because they follow from one reported (kept to be sure that one was)
        self.followed: list[FollowOnError] = []
        self.scope = Scope(operators=dict(self.operators))
        self.declared_at: dict[str, Position] = {}
        self.name: str | None = None
        self.problem_node: Tree | None = None
        self.title = ""
        #: a `field` line failed (a name taken, no coordinates): errors about missing fields would follow from it
        self.field_failed = False
        #: an `initial` line failed: a "missing initial condition" may be the one it states
        self.initial_failed = False
        self.time: Time | None = None
        self.space: Space | None = None
        self.fields: list[Field] = []
        self.domain: Domain | None = None
        self.domain_node: Tree | None = None
        self.equations: list[tuple[sp.Expr, sp.Expr, Tree]] = []
        self.conditions: list[BoundaryCondition] = []
        self.periodic: list[str] = []
        self.periodic_node: Tree | None = None
        #: periodic coordinate -> the line that made it periodic
        self.periodic_at: dict[str, Position] = {}
        self.initial: list[InitialCondition] = []
        self.solve: SolveSpec | None = None
        self.param_ranges: dict[str, tuple[float, float]] = {}
        self.distributions: dict[str, Distribution] = {}

    # ----------------------------------------------------------------- driver
    def build(self, tree: Tree) -> Problem:
        statements = _statements(tree)
        first = ("problem_stmt", "space_stmt", "time_stmt", "param_stmt", "let_stmt", "field_stmt")
        order = {"domain_stmt": 0, "exact_stmt": 1, "equation_stmt": 2, "boundary_condition": 3,
                 "boundary_periodic": 3, "initial_stmt": 4, "solve_stmt": 5}
        self.scope.later = self.declarations(statements)
        for st in statements:
            if st.data in first:
                self.guard(getattr(self, st.data), st)
        later = sorted((s for s in statements if s.data not in first), key=lambda s: order[s.data])
        for st in later:
            self.guard(getattr(self, st.data), st)
        self.equation_statements = sum(1 for s in statements if s.data == "equation_stmt")
        self.check_whole(statements)
        if self.followed and not self.errors.errors:  # never a problem built past a statement that was dropped
            self.errors.extend(SourceError(e.message, e.position, INTERNAL_HINT) for e in self.followed[:1])
        self.errors.raise_if_any()
        return self.problem()

    def guard(self, method, node: Tree) -> None:
        if self.scope.nodes_built > MAX_FILE_NODES:
            return  # the statement that passed the limit has said so; the others would repeat it
        if len(self.errors.errors) >= MAX_ERRORS:
            if not getattr(self, "stopped", False):
                self.stopped = True
                self.errors.add(f"symop stops reading after {MAX_ERRORS} errors", position_of(node),
                                "fix the errors above first")
            return
        try:
            method(node)
        except FollowOnError as err:
            self.followed.append(err)
            self.after_failure(node)  # caused by an error already reported: saying it again would mislead
        except SourceError as err:
            self.errors.extend([err])
            self.after_failure(node)
        except DomainError as err:
            self.errors.add(str(err), position_of(node))
            self.after_failure(node)
        except Exception as err:  # last resort: odd input never ends in a traceback
            internal = SourceError(internal_error_message(err, "this statement"), position_of(node), INTERNAL_HINT,
                                   self.source)
            internal.__cause__ = err  # kept for whoever investigates (the fuzzer prints it)
            self.errors.errors.append(internal)
            self.after_failure(node)

    @staticmethod
    def declared_names(node: Tree) -> list[Token]:
        """The name tokens a declaration statement declares (none for other statements)."""
        if node.data == "space_stmt":
            return [decl.children[0] for decl in node.children]
        if node.data in ("time_stmt", "let_stmt"):
            return [node.children[0]]
        if node.data == "param_stmt":
            return [decl.children[0] for decl in node.children]
        if node.data == "field_stmt":
            return list(node.children)
        return []

    def declarations(self, statements: list[Tree]) -> dict[str, Position]:
        """Every name the file declares -> where it is first declared (for "`a` is declared later")."""
        out: dict[str, Position] = {}
        for st in statements:
            for tok in self.declared_names(st):
                out.setdefault(str(tok), position_of(tok))
        return out

    def after_failure(self, node: Tree) -> None:
        """Record what a failed statement left undeclared, so that its uses are not reported again."""
        scope = self.scope
        if node.data == "space_stmt" and self.space is None:
            scope.failed.add("space")
            scope.broken.update(str(t) for t in self.declared_names(node))
        elif node.data == "time_stmt" and self.time is None:
            scope.failed.add("time")
        elif node.data == "let_stmt" and str(node.children[0]) not in scope.lets:
            scope.broken.add(str(node.children[0]))
        elif node.data == "field_stmt":
            self.field_failed = True
            scope.broken.update(str(t) for t in node.children if str(t) not in scope.fields)
        elif node.data == "exact_stmt" and str(node.children[0]) not in scope.exact:
            scope.broken.add(f"exact({node.children[0]})")
        elif node.data == "initial_stmt":
            self.initial_failed = True  # a missing initial condition may be the one on that line

    def converter(self, **flags: Any) -> Converter:
        return Converter(self.scope, source_text=self.source.text, **flags)

    def numeric(self, node: Tree | Token, what: str) -> float:
        """Evaluate a constant expression to a finite float."""
        conv = self.converter(allow_fields=False, allow_time_derivative=False)
        value = conv.scalar(node)
        self.scope.mark_structural(value)  # a constant the reading fixes: a dimension, a domain, a parameter
        params = set(self.scope.params.values())
        free = [s for s in value.free_symbols if s not in params]
        if free:
            names = ", ".join(sorted(str(s) for s in free))
            raise fail(node, f"{what} must be a constant, but it depends on {names}")
        if value.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
            raise fail(node, f"{what} evaluates to infinity or NaN", "check for a division by zero or a log(0)")
        # in bounded floats: SymPy's adaptive precision could run for ever on sin(exp(10^100))
        number = conv.value_of(value)
        if number is None or isinstance(number, (bool, complex)):
            raise fail(node, f"{what} does not evaluate to a real number ({conv.quote(node, value)})")
        if not math.isfinite(number):
            raise fail(node, f"{what} evaluates to {'NaN' if math.isnan(number) else 'infinity'}",
                       "check for a division by zero or an overflow")
        # every part of the value is now known to lie within the magnitude limit, so SymPy's
        # correctly rounded evaluation is bounded: it gives sin(10^90) exactly where doubles cannot
        try:
            subs = {s: as_number(self.scope.param_values[str(s)]) for s in value.free_symbols
                    if str(s) in self.scope.param_values}
            precise = float(sp.N(value.xreplace(subs), 30))  # 15 digits first would round 2e-5 to 1.9999999999999998e-05
        except (TypeError, ValueError, ArithmeticError):
            precise = number
        return precise if math.isfinite(precise) else number

    def declare(self, tok: Token, kind: str) -> bool:
        name = str(tok)
        pos = position_of(tok)
        if name in RESERVED:
            self.errors.add(f"`{name}` is a built-in constant and cannot be declared as a {kind}", pos,
                            "choose another name")
            return False
        if name in self.declared_at:
            prev = self.declared_at[name]
            self.errors.add(f"duplicate name `{name}`: it is already declared at line {prev.line}", pos,
                            "choose another name or remove one declaration")
            return False
        self.declared_at[name] = pos
        return True

    # ----------------------------------------------------------- declarations
    def problem_stmt(self, node: Tree) -> None:
        if self.problem_node is not None:
            raise fail(node, f"a second `problem` line; the problem is already named `{self.name}` at line "
                             f"{position_of(self.problem_node).line}", "keep one `problem` line")
        self.problem_node = node
        self.name = str(node.children[0])
        if len(node.children) > 1:
            self.title = str(node.children[1])[1:-1]

    def space_stmt(self, node: Tree) -> None:
        if self.space is not None:
            raise fail(node, "a second `space` line", "declare all coordinates on one `space` line")
        coords: list[sp.Symbol] = []
        indexed = None
        dimension = 0
        for decl in node.children:
            tok = decl.children[0]
            if not self.declare(tok, "coordinate"):
                continue
            if decl.data == "coord_named":
                if indexed is not None:
                    raise fail(decl, "named and indexed coordinates cannot be mixed")
                coords.append(sp.Symbol(str(tok), real=True))
            else:
                if coords or indexed is not None:
                    raise fail(decl, "an indexed space `x[1..d]` must be the only coordinate declaration")
                lo = self.numeric(decl.children[1], "the first index")
                hi = self.numeric(decl.children[2], "the last index")
                if lo != 1:
                    raise fail(decl.children[1], "indexed coordinates start at 1: write x[1..d]")
                if hi != int(hi) or hi < 1:
                    raise fail(decl.children[2], f"the dimension must be a whole number of at least 1, not {hi:g}")
                if hi > MAX_DIMENSION:
                    raise fail(decl.children[2], f"the dimension {hi:g} is too large: an indexed space has at most "
                                                 f"{count(MAX_DIMENSION)} coordinates")
                indexed = sp.IndexedBase(str(tok), real=True)
                dimension = int(hi)
        if indexed is None:
            dimension = len(coords)
        self.space = Space(tuple(coords), indexed, dimension)
        self.scope.coords = {str(c): c for c in coords}
        self.scope.indexed = indexed
        self.scope.dimension = dimension

    def time_stmt(self, node: Tree) -> None:
        if self.time is not None:
            raise fail(node, "a second `time` line")
        tok = node.children[0]
        if not self.declare(tok, "time"):
            self.scope.failed.add("time")  # that error is reported; the `dt`s further down follow from it
            return
        symbol = sp.Symbol(str(tok), real=True)
        start, end = 0.0, 1.0
        # declared before its interval is read: a bad interval is one error, not one per `dt` further down
        self.time = Time(symbol, start, end)
        self.scope.time = symbol
        if len(node.children) > 1:
            interval = node.children[1]
            start = self.numeric(interval.children[0], "the start time")
            end = self.numeric(interval.children[1], "the end time")
            if not end > start:
                raise fail(interval, f"the time interval [{start:g}, {end:g}] is empty; the end must exceed the start")
        self.time = Time(symbol, start, end)
        self.scope.time = symbol

    def param_stmt(self, node: Tree) -> None:
        for decl in node.children:
            tok = decl.children[0]
            name = str(tok)
            try:
                if name in self.overrides:
                    value = float(self.overrides[name])
                elif decl.data == "param_value":
                    value = self.numeric(decl.children[1], f"the parameter `{name}`")
                elif decl.data == "param_range":
                    interval = decl.children[1]
                    lo = self.numeric(interval.children[0], f"the lower bound of `{name}`")
                    hi = self.numeric(interval.children[1], f"the upper bound of `{name}`")
                    if not hi > lo:
                        raise fail(interval, f"the range [{lo:g}, {hi:g}] of `{name}` is empty")
                    self.param_ranges[name] = (lo, hi)
                    self.distributions[name] = Distribution(name, "uniform", (lo, hi))
                    value = 0.5 * (lo + hi)
                else:
                    dist = self.distribution(decl)
                    self.distributions[name] = dist
                    if dist.kind == "uniform":
                        self.param_ranges[name] = (dist.args[0], dist.args[1])
                    value = dist.representative
            except FollowOnError:
                value = 0.0
                self.scope.broken.add(name)
            except SourceError as err:
                self.errors.extend([err])
                value = 0.0  # declared anyway, and its uses are not reported again
                self.scope.broken.add(name)
            if self.declare(tok, "parameter"):
                dist = self.distributions.get(name)
                if dist is not None and dist.is_field and self.space is not None and not self.space.is_indexed:
                    # a function of space while the file is read, so that derivatives of it are kept
                    self.scope.params[name] = sp.Function(name, real=True)(*self.space.coords)
                else:
                    self.scope.params[name] = sp.Symbol(name, real=True)
                self.scope.param_values[name] = value

    def distribution(self, decl: Tree) -> Distribution:
        """``NAME ~ kind(args)``: a random parameter's distribution, checked."""
        name, kind_tok = str(decl.children[0]), decl.children[1]
        kind = str(kind_tok)
        if kind not in KINDS:
            raise fail(kind_tok, f"there is no distribution `{kind}`",
                       did_you_mean(kind, KINDS) or "use " + ", ".join(KINDS))
        args = [a for a in decl.children[2:] if a is not None]
        positional = [a.children[0] for a in args if a.data == "positional_arg"]
        keyword = {str(a.children[0]): a for a in args if a.data == "keyword_arg"}
        if kind != "field":
            if keyword:
                key, arg = next(iter(keyword.items()))
                raise fail(arg, f"`{kind}` takes no named arguments such as `{key}`",
                           "write the numbers only, e.g. `uniform(1, 10)`")
            want = KINDS[kind]
            if (want is not None and len(positional) != want) or not positional:
                count = f"{want}" if want is not None else "one or more"
                raise fail(kind_tok, f"`{kind}` takes {count} number{'s' if want != 1 else ''}, not {len(positional)}")
            values = tuple(self.numeric(a, f"an argument of `{kind}`") for a in positional)
            if kind in ("uniform", "loguniform") and not values[1] > values[0]:
                raise fail(kind_tok, f"the range [{values[0]:g}, {values[1]:g}] of `{name}` is empty")
            if kind == "loguniform" and values[0] <= 0:
                raise fail(kind_tok, f"`loguniform` needs a positive lower bound, not {values[0]:g}")
            if kind == "normal" and values[1] <= 0:
                raise fail(kind_tok, f"the standard deviation of `{name}` must be positive, not {values[1]:g}")
            return Distribution(name, kind, values)
        if positional:
            raise fail(kind_tok, "`field` takes named options only",
                       "e.g. `field(modes: 3, amplitude: 1, frequency: 2, kinds: fourier)`")
        options: dict[str, Any] = {}
        for key, arg in keyword.items():
            if key not in FIELD_OPTIONS:
                raise fail(arg, f"`field` has no option `{key}`",
                           did_you_mean(key, FIELD_OPTIONS) or "its options are " + ", ".join(FIELD_OPTIONS))
            value = arg.children[1]
            if key == "kinds":
                words = value.children if isinstance(value, Tree) and value.data == "vector" else [value]
                names = []
                for w in words:
                    if not (isinstance(w, Tree) and w.data == "name"):
                        raise fail(arg, "`kinds` lists words: fourier, gaussian or polynomial")
                    word = str(w.children[0])
                    if word not in FIELD_OPTIONS["kinds"]:
                        raise fail(w, f"there is no kind of random field `{word}`",
                                   "use fourier, gaussian or polynomial")
                    names.append(word)
                options[key] = tuple(names)
                continue
            number = self.numeric(value, f"the option `{key}` of `field`")
            if key == "mean":
                options[key] = number
                continue
            if key in ("modes", "frequency"):
                if number != int(number) or number < (1 if key == "modes" else 0):
                    raise fail(arg, f"`{key}` must be a whole number of at least {1 if key == 'modes' else 0}, not {number:g}")
                if number > MAX_FIELD_OPTION:
                    raise fail(arg, f"`{key}` is {number:g}; a random field has at most {MAX_FIELD_OPTION} {key}")
                number = int(number)
            elif number <= 0:
                raise fail(arg, f"`{key}` must be positive, not {number:g}")
            options[key] = number
        if self.space is None:
            raise fail(kind_tok, f"the random field `{name}` needs the `space` line before it")
        if self.space.is_indexed:
            raise fail(kind_tok, f"the random field `{name}` needs named coordinates (`space x, y`), "
                                 "not an indexed space")
        return Distribution(name, kind, (), options)

    def let_stmt(self, node: Tree) -> None:
        tok, expr = node.children
        conv = self.converter(allow_time_derivative=True)
        value = conv.scalar(expr)
        self.check_finite(expr, value, f"`{tok}`")
        if self.declare(tok, "named expression"):
            self.scope.lets[str(tok)] = value
            self.scope.let_orders[str(tok)] = conv.derivative_profile()

    def field_stmt(self, node: Tree) -> None:
        if self.space is None:
            if "space" in self.scope.failed:
                raise FollowOnError("the space was not declared", position_of(node))
            raise fail(node, "fields need coordinates: declare `space` before `field`")
        for tok in node.children:
            if not self.declare(tok, "field"):
                self.field_failed = True
                if str(tok) not in self.scope.fields:
                    self.scope.broken.add(str(tok))
                continue
            fn = sp.Function(str(tok), real=True)
            args = self.space.arguments + ((self.time.symbol,) if self.time else ())
            applied = fn(*args)
            self.fields.append(Field(str(tok), fn, applied, position_of(tok)))
            self.scope.fields[str(tok)] = applied

    # -------------------------------------------------------------- geometry
    def domain_stmt(self, node: Tree) -> None:
        if self.domain is not None:
            raise fail(node, "a second `domain` line", "combine shapes with `minus` on one line")
        self.domain_node = node
        expr = node.children[0]
        parts = list(expr.children)
        domain = self.domain_call(parts[0])
        i = 1
        holes = 0
        while i < len(parts):
            assert isinstance(parts[i], Token)  # MINUS_KW
            hole = self.domain_call(parts[i + 1])
            i += 2
            name = None
            if i < len(parts) and isinstance(parts[i], Tree) and parts[i].data == "hole_name":
                name = str(parts[i].children[0])
                i += 1
            holes += 1
            name = name or ("hole" if holes == 1 else f"hole{holes}")
            if name in domain.sides:
                raise fail(expr, f"the boundary part name `{name}` is already used by the domain")
            domain = Difference(domain, hole, name)
        if self.space is not None and domain.dimension != self.space.dimension:
            raise fail(node, f"the domain is {domain.dimension}-dimensional but the space has {self.space.dimension} coordinate"
                             f"{'s' if self.space.dimension != 1 else ''}",
                       "make the `space` line and the domain agree")
        self.domain = domain

    def domain_call(self, node: Tree) -> Domain:
        tok = node.children[0]
        kind = str(tok)
        keyword: dict[str, tuple[Tree, Any]] = {}
        positional: list[tuple[Tree, Any]] = []
        for arg in node.children[1:]:
            if arg.data == "keyword_arg":
                key = str(arg.children[0])
                if key in keyword:
                    raise fail(arg, f"the argument `{key}` is given twice")
                keyword[key] = (arg, arg.children[1])
            else:
                positional.append((arg, arg.children[0]))
        spec = domain_registry.get(kind) or self.domains.get(kind)
        if spec is None:
            known = domain_registry.names() + tuple(k for k in self.domains if domain_registry.get(k) is None)
            raise fail(tok, f"unknown domain `{kind}`",
                       did_you_mean(kind, known) or "the domains are " + ", ".join(known))
        if spec.form == "intervals":
            values = {spec.arguments[0].name: self.domain_intervals(node, spec, keyword, positional)}
        elif spec.form == "points":
            values = {spec.arguments[0].name: self.domain_points(node, spec, keyword, positional)}
        else:
            values = self.domain_keywords(node, spec, keyword, positional)
        try:
            return spec.build(values)
        except domain_registry.ArgumentError as err:
            raise fail(node, str(err)) from None

    def domain_keywords(self, node, spec, keyword, positional) -> dict[str, Any]:
        """The named arguments of a domain call, read by the kind's schema (in schema order)."""
        allowed = {a.name for a in spec.arguments}
        self.only_keywords(node, spec.name, keyword, positional, allowed, {a.name for a in spec.arguments if a.required})
        values: dict[str, Any] = {}
        space_dim = self.space.dimension if self.space else 0
        for arg in spec.arguments:
            if arg.name not in keyword:
                values[arg.name] = space_dim if arg.default == domain_registry.SPACE_DIMENSION else arg.default
                continue
            value = keyword[arg.name][1]
            if arg.type == "positive":
                values[arg.name] = self.positive(value, arg.what)
            elif arg.type == "number":
                values[arg.name] = self.numeric(value, arg.what)
            elif arg.type == "count":
                number = self.numeric(value, arg.what)
                if number != int(number) or number < 1:
                    raise fail(value, f"{arg.what} must be a whole number of at least 1, not {number:g}")
                values[arg.name] = int(number)
            else:  # a point
                dim = arg.dimension
                if dim == domain_registry.SPACE_DIMENSION or dim is None:
                    dim = space_dim
                elif isinstance(dim, str):
                    dim = values[dim]
                values[arg.name] = self.point(value, int(dim), arg.what)
        return values

    def domain_points(self, node, spec, keyword, positional) -> list[tuple[float, ...]]:
        """The positional points of a domain call (a polygon's vertices)."""
        arg = spec.arguments[0]
        if keyword:
            raise fail(next(iter(keyword.values()))[0], f"`{spec.name}` takes its {arg.name} as points: {spec.example}")
        if len(positional) < arg.minimum:
            raise fail(node, f"a {spec.name} needs at least {arg.minimum} {arg.name}, not {len(positional)}")
        return [self.point(v, int(arg.dimension or 2), arg.what) for _, v in positional]

    def only_keywords(self, node, kind, keyword, positional, allowed, required) -> None:
        if positional:
            raise fail(positional[0][0], f"`{kind}` takes named arguments: " + ", ".join(f"{a}: ..." for a in sorted(allowed)))
        for key, (arg, _) in keyword.items():
            if key not in allowed:
                raise fail(arg, f"`{kind}` has no argument `{key}`",
                           did_you_mean(key, allowed) or "its arguments are " + ", ".join(sorted(allowed)))
        for key in required:
            if key not in keyword:
                raise fail(node, f"`{kind}` needs the argument `{key}`")

    def positive(self, node: Tree, what: str) -> float:
        value = self.numeric(node, what)
        if value <= 0:
            raise fail(node, f"{what} must be positive, not {value:g}")
        return value

    def point(self, node: Tree, dim: int, what: str) -> tuple[float, ...]:
        if not (isinstance(node, Tree) and node.data == "vector"):
            raise fail(node, f"{what} must be a point such as (0, 0)")
        if len(node.children) != dim:
            raise fail(node, f"{what} needs {dim} coordinates, not {len(node.children)}")
        return tuple(self.numeric(c, what) for c in node.children)

    def domain_intervals(self, node, spec, keyword, positional) -> list[tuple[str, float, float]]:
        """``(name, lo, hi)`` per coordinate of a domain call such as ``box(x: [0, 1], y: [0, 2])``."""
        kind = spec.name
        if positional:
            raise fail(positional[0][0], f"`{kind}` takes one interval per coordinate: {spec.example}")
        if not keyword:
            raise fail(node, f"`{kind}` needs an interval per coordinate, e.g. x: [0, 1]")
        axes: dict[str, tuple[float, float]] = {}
        names = list(self.scope.coords)
        for key, (arg, value) in keyword.items():
            if names and key not in names:
                raise fail(arg, f"unknown coordinate `{key}`; the coordinates are " + ", ".join(names),
                           did_you_mean(key, names))
            if not (isinstance(value, Tree) and value.data == "interval"):
                raise fail(value, f"`{key}` needs an interval such as [0, 1]")
            lo = self.numeric(value.children[0], "an interval bound")
            hi = self.numeric(value.children[1], "an interval bound")
            if not hi > lo:
                raise fail(value, f"the interval [{lo:g}, {hi:g}] for `{key}` is empty; the upper bound must exceed the lower")
            axes[key] = (lo, hi)
        if names:
            missing = [n for n in names if n not in axes]
            if missing:
                raise fail(node, f"the {kind} gives no interval for " + ", ".join(f"`{m}`" for m in missing),
                           "give one interval per coordinate of the `space` line")
            ordered = [(n, *axes[n]) for n in names if n in axes]
        else:
            ordered = [(k, *v) for k, v in axes.items()]
        return ordered

    # ------------------------------------------------------------- equations
    def exact_stmt(self, node: Tree) -> None:
        tok, expr = node.children
        name = str(tok)
        if name not in self.scope.fields:
            raise fail(tok, f"`exact {name}` names no field", did_you_mean(name, self.scope.fields) or "declare the field first")
        if name in self.scope.exact:
            raise fail(tok, f"a second exact solution for `{name}`")
        value = self.converter(allow_fields=False).scalar(expr)  # dt of a known expression is evaluated
        self.check_finite(expr, value, "the exact solution")
        self.scope.exact[name] = value

    def equation_stmt(self, node: Tree) -> None:
        conv = self.converter()
        lhs = conv.scalar(node.children[0])
        rhs = conv.scalar(node.children[1])
        self.check_finite(node, lhs - rhs, "the equation")
        self.check_unknowns(node, conv, lhs - rhs)
        self.equations.append((lhs, rhs, node))

    def check_unknowns(self, node: Tree, conv: Converter, residual: sp.Expr) -> None:
        """Refuse an equation whose fields, or whose time derivatives, cancel (``0 = x``, ``dt(u) = dt(u) + u``).

        SymPy simplifies ``lhs - rhs`` as it builds it; what the line wrote
        but the equation lost would otherwise surface later, as a singular
        matrix blamed on the boundary conditions, or a field that never moves.
        """
        present = [f for f in self.fields if residual.has(f.applied) or residual.has(f.function)]
        if not present:
            if self.field_failed or not self.fields:
                raise FollowOnError("no field to involve", position_of(node))  # that error is reported already
            seen = [f"`{f.name}`" for f in self.fields if f.name in conv.shared.fields_seen]
            if seen:
                raise fail(node, "after simplification the equation does not involve any field: the terms in "
                                 + " and ".join(seen) + " cancel",
                           "an equation states how a field behaves; check the signs and coefficients")
            raise fail(node, "the equation does not involve any field",
                       "an equation states how a field behaves, e.g. `equation -lap(u) = 1`")
        t = self.time.symbol if self.time is not None else None
        for f in self.fields:
            written = conv.shared.time_orders.get(f.name, 0)
            left = time_order_in(residual, f.applied, t)
            if left < written:
                term = _dt_text(f.name, written)
                rest = f"no time derivative of `{f.name}`" if left == 0 else f"`{_dt_text(f.name, left)}` at most"
                raise fail(node, f"`{term}` cancels: after simplification the equation has {rest}",
                           f"write `{term}` on one side only, with a coefficient that is not zero"
                           + (", or leave it out for a steady equation" if left == 0 else ""))

    def boundary_condition(self, node: Tree) -> None:
        side_list, lhs_node, rhs_node = node.children
        sides: list[str] = []
        available = self.domain.sides if self.domain is not None else ()
        listed: dict[str, Token] = {}
        for tok in side_list.children:
            name = str(tok)
            if name == "all":
                if "all" in listed or listed:
                    twice = "`all` twice" if "all" in listed else f"`all`, which includes `{next(iter(listed))}`"
                    raise fail(tok, f"this line lists {twice}", "list each side once, or write `all` alone")
                listed["all"] = tok
                sides.extend(s for s in available if s not in sides)
                continue
            if self.domain is not None and name not in available:
                raise fail(tok, f"unknown boundary side `{name}`; the sides of this {self.domain.kind} are " + ", ".join(available),
                           did_you_mean(name, list(available) + ["all"]))
            if name in listed or "all" in listed:
                why = "twice" if name in listed else "after `all`, which includes it"
                raise fail(tok, f"this line lists the side `{name}` {why}", "list each side once")
            listed[name] = tok
            if name not in sides:
                sides.append(name)
        conv = self.converter(allow_dn=True, allow_time_derivative=True)
        lhs = conv.scalar(lhs_node)
        rhs = conv.scalar(rhs_node)
        self.check_finite(node, lhs - rhs, "the boundary condition")
        present = [f for f in self.fields if (lhs - rhs).has(f.applied) or (lhs - rhs).has(f.function)]
        if not present:
            if self.field_failed or not self.fields:
                raise FollowOnError("no field to involve", position_of(node))  # that error is reported already
            raise fail(node, "the boundary condition does not involve any field", "write e.g. `boundary left: u = 0`")
        fld = present[0]
        self.conditions.append(classify_condition(tuple(sides), fld, lhs, rhs, position_of(node)))

    def boundary_periodic(self, node: Tree) -> None:
        for tok in node.children[1:]:
            if str(tok) not in self.scope.coords:
                raise fail(tok, f"unknown coordinate `{tok}`; the coordinates are " + ", ".join(self.scope.coordinate_names))
        if self.domain is not None and not self.domain.has_grid:
            raise fail(node, f"periodic boundaries need a box domain; this problem has a {self.domain.kind}")
        seen: set[str] = set()
        for tok in node.children[1:]:
            name = str(tok)
            if name in seen:
                raise fail(tok, f"this line lists `{name}` twice", "list each coordinate once")
            if name in self.periodic_at:
                raise fail(tok, f"`{name}` is already periodic (line {self.periodic_at[name].line})",
                           "remove one of the two declarations")
            seen.add(name)
        for tok in node.children[1:]:
            self.periodic_at[str(tok)] = position_of(node)
            self.periodic.append(str(tok))
        self.periodic_node = node

    def initial_stmt(self, node: Tree) -> None:
        lhs_node, rhs_node = node.children
        if self.time is None:
            if "time" in self.scope.failed:
                raise FollowOnError("the time was not declared", position_of(node))
            raise fail(node, "an initial condition in a steady problem", "add a `time t in [0, T]` line, or remove this line")
        lhs = self.converter().scalar(lhs_node)
        order = 0
        target = lhs
        if isinstance(lhs, sp.Derivative):
            counts = dict(lhs.variable_count)
            if set(counts) == {self.time.symbol}:
                order = int(counts[self.time.symbol])
                target = lhs.expr
        fld = next((f for f in self.fields if f.applied == target), None)
        if fld is None:
            raise fail(lhs_node, "the left side of `initial` must be a field or its time derivative, e.g. `initial u = ...` or `initial dt(u) = ...`")
        value = self.converter(allow_fields=False).scalar(rhs_node)  # dt of a known expression is evaluated
        try:
            value = value.subs(self.time.symbol, self.time.start)
        except (TypeError, ValueError, ArithmeticError):  # SymPy compares zoo (1/t at t = 0) and refuses
            raise fail(rhs_node, f"the initial value evaluates to infinity or NaN at {self.time.symbol} = "
                                 f"{self.time.start:g}", "check for a division by the time") from None
        self.check_finite(rhs_node, value, "the initial value")
        if any(ic.field == fld.name and ic.order == order for ic in self.initial):
            raise fail(node, f"a second initial condition for {'dt(' + fld.name + ')' if order else fld.name}")
        self.initial.append(InitialCondition(fld.name, order, value, position_of(node)))

    def solve_stmt(self, node: Tree) -> None:
        if self.solve is not None:
            raise fail(node, "a second `solve` line")
        method = str(node.children[0])
        options: dict[str, Any] = {}
        positions: dict[str, Position] = {}
        for opt in node.children[1:]:
            if opt is None:
                continue
            key = str(opt.children[0])
            value_node = opt.children[1]
            if key in positions:
                raise fail(opt.children[0], f"the option `{key}` is given twice (first at column "
                                            f"{positions[key].column})", "give each option once")
            positions[key] = position_of(opt)
            word = self.option_word(value_node)
            if word is not None:
                options[key] = word
                continue
            value = self.numeric(value_node, f"the option `{key}`")
            literal = str(value_node.children[0]) if value_node.data == "number" else ""
            options[key] = int(value) if literal.isdigit() else value
        self.solve = SolveSpec(method, options, position_of(node), positions, position_of(node.children[0]))

    def option_word(self, node: Tree) -> str | None:
        """An option value written as a bare word (``strang``, ``crank-nicolson``), else None."""
        import re

        pos = position_of(node)
        if pos.end_line not in (None, pos.line):
            return None
        text = self.source.line(pos.line)[pos.column - 1 : pos.column - 1 + pos.length]
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(-[A-Za-z_][A-Za-z0-9_]*)*", text):
            return None
        if any(part in self.scope.params for part in text.split("-")):
            return None
        return text

    # ---------------------------------------------------------- whole-file checks
    def check_finite(self, node: Tree | Token, value: sp.Expr, what: str) -> None:
        if value.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
            raise fail(node, f"{what} evaluates to infinity or NaN", "check for a division by zero")

    def check_whole(self, statements: list[Tree]) -> None:
        last = statements[-1] if statements else None
        end = position_of(last) if last is not None else Position(1, 1)
        if self.space is None and not any(s.data == "space_stmt" for s in statements):
            self.errors.add("the problem declares no coordinates", end, "add a line such as `space x, y`")
        if self.domain is None and self.space is not None and not any(s.data == "domain_stmt" for s in statements):
            self.errors.add("the problem declares no domain", end, "add a line such as `domain box(x: [0, 1], y: [0, 1])`")
        if not self.fields and not self.field_failed:
            self.errors.add("the problem declares no field", end, "add a line such as `field u`")
        if not any(s.data == "equation_stmt" for s in statements) and self.fields:
            self.errors.add("the problem has no equation", end, "add a line such as `equation -lap(u) = 1`")
        self.assign_equations()
        complete = self.equation_statements == len(self.equations) and not self.field_failed
        if self.time is not None:
            if not self.initial_failed:
                self.check_initial_conditions()
            if complete:
                self.check_extra_initial_conditions()
        if complete:
            self.check_conditions_per_side()
        if not self.errors.errors:
            self.check_boundary_coverage()
        if self.periodic and self.domain is not None and self.domain.has_grid:
            for bc in self.conditions:
                for side in bc.parts:
                    axis, _ = self.domain.axis_of_side(side)
                    if self.domain.axes[axis][0] in self.periodic:
                        self.errors.add(f"the side `{side}` is periodic and cannot also have a boundary condition",
                                        bc.position, "remove the condition or the periodic declaration")

    def assign_equations(self) -> None:
        """Match equations to fields: by the time derivative they contain, then in order."""
        self.assigned: list[Equation] = []
        free = [f.name for f in self.fields]
        pending: list[tuple[sp.Expr, sp.Expr, Tree]] = []
        for lhs, rhs, node in self.equations:
            expr = lhs - rhs
            claimed = [f.name for f in self.fields if self.time is not None
                       and any(d.expr == f.applied and self.time.symbol in d.variables for d in expr.atoms(sp.Derivative))]
            claimed = [c for c in claimed if c in free]
            if len(claimed) == 1:
                free.remove(claimed[0])
                self.assigned.append(Equation(lhs, rhs, claimed[0], position_of(node)))
            else:
                pending.append((lhs, rhs, node))
        for lhs, rhs, node in pending:
            if not free:
                if self.field_failed:
                    continue  # a `field` line failed: that error says what is missing
                self.errors.add(f"there are more equations ({len(self.equations)}) than fields ({len(self.fields)})",
                                position_of(node), "declare another field, or remove this equation")
                continue
            self.assigned.append(Equation(lhs, rhs, free.pop(0), position_of(node)))
        failed = self.equation_statements - len(self.equations)
        for name in free:
            f = next(f for f in self.fields if f.name == name)
            if self.equations and not failed:
                self.errors.add(f"the field `{name}` has no equation ({len(self.equations)} equation"
                                f"{'s' if len(self.equations) != 1 else ''} for {len(self.fields)} fields)",
                                f.position, "add an `equation` line for it, or remove the field")
        order = {f.name: i for i, f in enumerate(self.fields)}
        self.assigned.sort(key=lambda e: order[e.field])

    def check_boundary_coverage(self) -> None:
        """Every side of a non-periodic direction has a condition for each field with spatial derivatives.

        A field of spatial order 2 or 3 needs one condition per side, of order 4 or
        more two (``u = 0`` and ``dn(u) = 0``).  Fields without spatial
        derivatives (ODEs at each point) and first-order (transport) fields, whose
        conditions belong on inflow sides only, are not checked; periodic
        directions have no sides.
        """
        if self.domain is None or self.domain_node is None:
            return
        sides = list(self.domain.sides)
        if self.periodic and self.domain.has_grid:
            sides = [s for s in sides if self.domain.axes[self.domain.axis_of_side(s)[0]][0] not in self.periodic]
        t = self.time.symbol if self.time is not None else None
        for f in self.fields:
            order = max([space_order_in(eq.residual, f.applied, t) for eq in self.assigned] + [0])
            if order < 2:
                continue
            need = 2 if order >= 4 else 1
            count = {s: sum(1 for bc in self.conditions if bc.field == f.name and s in bc.parts) for s in sides}
            short = [s for s in sides if count[s] < need]
            if not short:
                continue
            names = ", ".join(f"`{s}`" for s in short)
            listed = ", ".join(short)
            noun = "side" if len(short) == 1 else "sides"
            verb = "has" if len(short) == 1 else "have"
            if need == 1:
                self.errors.add(f"{noun} {names} {verb} no condition for `{f.name}`",
                                position_of(self.domain_node),
                                f"add `boundary {listed}: {f.name} = ...` or `boundary {listed}: dn({f.name}) = ...`")
            else:
                self.errors.add(f"{noun} {names} {verb} fewer than two conditions for `{f.name}`, which is of order "
                                f"{order} in space and needs two on each side", position_of(self.domain_node),
                                f"add `boundary {listed}: {f.name} = ...` and `boundary {listed}: dn({f.name}) = ...`")

    def space_orders(self) -> dict[str, int]:
        """Field name -> the highest spatial derivative of it in the equations."""
        t = self.time.symbol if self.time is not None else None
        return {f.name: max([space_order_in(eq.residual, f.applied, t) for eq in self.assigned] + [0])
                for f in self.fields}

    def check_conditions_per_side(self) -> None:
        """Refuse a condition on a side that already has all it takes for that field.

        A field of spatial order 2 takes one condition per side, of order 4
        two (``u = 0`` and ``dn(u) = 0``): one per order 2.  An odd order
        shares its extra condition between the sides, so order 3 (KdV in 1D:
        ``u = 0`` on both sides, ``dn(u) = 0`` on one) takes at most two on a
        side; a field of lower order one at most.  Two Dirichlet, or two
        Neumann, conditions on one side say the same thing twice even where
        two are taken.  Methods would otherwise keep one of them (fd the
        first, fem the last) without a word.
        """
        orders = self.space_orders()
        placed: dict[tuple[str, str], list[BoundaryCondition]] = {}
        for bc in self.conditions:
            order = orders.get(bc.field, 0)
            takes = max(1, (order + 1) // 2)
            full: list[tuple[str, list[BoundaryCondition]]] = []
            same: list[tuple[str, BoundaryCondition]] = []
            for side in bc.parts:
                before = list(placed.get((side, bc.field), []))
                if len(before) >= takes:
                    full.append((side, before))
                else:
                    same.extend((side, b) for b in before if b.kind == bc.kind and bc.kind in ("dirichlet", "neumann"))
            if not (full or same):  # a refused line does not count against the lines after it
                for side in bc.parts:
                    placed.setdefault((side, bc.field), []).append(bc)
            field_words = f"a field of {_order_words(order)} in space" if order else "a field without spatial derivatives"
            count = ("at most " if order % 2 and order > 1 else "") + (
                "one condition" if takes == 1 else f"{_NUMBERS.get(takes, takes)} conditions")
            if full:
                sides = [s for s, _ in full]
                lines = sorted({b.position.line for _, before in full for b in before if b.position is not None})
                noun = f"side `{sides[0]}` already has" if len(sides) == 1 else (
                    "sides " + ", ".join(f"`{s}`" for s in sides) + " already have")
                what = "a condition" if takes == 1 else f"{_NUMBERS.get(takes, takes)} conditions"
                at = (f" (line{'s' if len(lines) > 1 else ''} " + ", ".join(map(str, lines)) + ")") if lines else ""
                self.errors.add(f"{noun} {what} for `{bc.field}`{at}; {field_words} takes {count} per side",
                                bc.position, "remove one of the lines, or name only the other sides on this one")
            elif same:
                side, first = same[0]
                kind = "Dirichlet" if bc.kind == "dirichlet" else "Neumann"
                line = f" (line {first.position.line})" if first.position is not None else ""
                self.errors.add(f"side `{side}` already has a {kind} condition for `{bc.field}`{line}; {field_words} "
                                f"takes {count} per side, each of another kind",
                                bc.position, f"e.g. `boundary {side}: {bc.field} = 0` and `boundary {side}: "
                                             f"dn({bc.field}) = 0`")

    def check_extra_initial_conditions(self) -> None:
        """Refuse an initial line a field does not take: ``initial dt(u) = 0`` for ``u`` first order in time."""
        t = self.time.symbol
        for ic in self.initial:
            f = next(f for f in self.fields if f.name == ic.field)
            order = max([time_order_in(eq.residual, f.applied, t) for eq in self.assigned] + [0])
            if ic.order < max(1, order):  # a field without dt may state its start (symop mms writes one)
                continue
            if order == 0:
                message = (f"`{f.name}` has no time derivative in the equations; it takes at most "
                           f"`initial {f.name} = ...`")
            else:
                takes = "one initial condition" if order == 1 else f"{_NUMBERS.get(order, order)} initial conditions"
                lines = " and ".join(f"`initial {_dt_text(f.name, k)} = ...`" for k in range(order))
                message = f"`{f.name}` is {_order_words(order)} in time; it takes {takes} ({lines})"
            self.errors.add(message, ic.position, "remove this line")

    def check_initial_conditions(self) -> None:
        t = self.time.symbol
        for eq in self.assigned:
            f = next(f for f in self.fields if f.name == eq.field)
            order = time_order_in(eq.residual, f.applied, t)
            for k in range(order):
                if not any(ic.field == f.name and ic.order == k for ic in self.initial):
                    lhs = f.name if k == 0 else (f"dt({f.name})" if k == 1 else f"dt({f.name}, {k})")
                    need = "one initial condition" if order == 1 else f"{order} initial conditions"
                    self.errors.add(f"missing initial condition `initial {lhs} = ...`: the field `{f.name}` is "
                                    f"{'first' if order == 1 else 'second' if order == 2 else str(order) + 'th'} order in time and needs {need}",
                                    f.position, f"add a line `initial {lhs} = ...`")

    # ------------------------------------------------------------------ result
    def random_fields_to_symbols(self) -> None:
        """Give each random field and each of its derivatives a parameter symbol of its own.

        While the file is read a random field ``a`` is the function ``a(x, y)``,
        so ``div(a*grad(u))`` keeps ``Derivative(a(x, y), x)``.  Here every such
        derivative becomes a parameter ``a_x`` (a ``derivative`` distribution:
        drawn with ``a``, by differentiating its draw) and ``a(x, y)`` becomes
        the symbol ``a``, so methods see parameters only.
        """
        applied = {n: f for n, f in self.scope.params.items() if not isinstance(f, sp.Symbol)}
        if not applied:
            return
        exprs = [e for eq in self.assigned for e in (eq.lhs, eq.rhs)]
        exprs += [e for bc in self.conditions for e in (bc.lhs, bc.rhs, bc.alpha, bc.beta, bc.value)]
        exprs += [ic.value for ic in self.initial] + list(self.scope.exact.values()) + list(self.scope.lets.values())
        mapping: dict[sp.Expr, sp.Symbol] = {}
        taken = set(self.scope.params) | {f.name for f in self.fields}
        for name, fn in applied.items():
            derivs = {d for e in exprs for d in sp.sympify(e).atoms(sp.Derivative) if d.expr == fn}
            for d in sorted(derivs, key=str):
                variables = tuple(v for v, k in d.variable_count for _ in range(k))
                dname = _derived_name(name, variables, taken)
                taken.add(dname)
                mapping[d] = sp.Symbol(dname, real=True)
                self.scope.params[dname] = mapping[d]
                self.scope.param_values[dname] = 0.0
                self.distributions[dname] = Distribution(dname, "derivative", (),
                                                         {"of": name, "wrt": tuple(str(v) for v in variables)})
            mapping[fn] = sp.Symbol(name, real=True)
            self.scope.params[name] = mapping[fn]

        def sub(e: sp.Expr) -> sp.Expr:
            return sp.sympify(e).xreplace(mapping)

        self.assigned = [replace(eq, lhs=sub(eq.lhs), rhs=sub(eq.rhs)) for eq in self.assigned]
        self.conditions = [replace(bc, lhs=sub(bc.lhs), rhs=sub(bc.rhs), alpha=sub(bc.alpha), beta=sub(bc.beta),
                                   value=sub(bc.value)) for bc in self.conditions]
        self.initial = [replace(ic, value=sub(ic.value)) for ic in self.initial]
        self.scope.exact = {n: sub(e) for n, e in self.scope.exact.items()}
        self.scope.lets = {n: sub(e) for n, e in self.scope.lets.items()}

    def problem(self) -> Problem:
        name = self.name or (Path(self.source.filename).stem if self.source.filename != "<string>" else "problem")
        self.random_fields_to_symbols()
        return Problem(
            name=name,
            title=self.title,
            space=self.space,
            time=self.time,
            domain=self.domain,
            params=dict(self.scope.param_values),
            param_symbols=dict(self.scope.params),
            lets=dict(self.scope.lets),
            fields=tuple(self.fields),
            equations=tuple(self.assigned),
            boundary=tuple(self.conditions),
            periodic=tuple(self.periodic),
            initial=tuple(self.initial),
            exact=dict(self.scope.exact),
            solve=self.solve,
            source=self.source,
            param_ranges=dict(self.param_ranges),
            param_distributions=dict(self.distributions),
            structural_params=frozenset(self.scope.structural),
            read_params=dict(self.scope.param_values),
        )


def _dt_text(name: str, order: int) -> str:
    """``u``, ``dt(u)`` or ``dt(u, 2)``: the ``order``-th time derivative of ``name`` as the language writes it."""
    return name if order == 0 else f"dt({name})" if order == 1 else f"dt({name}, {order})"


_NUMBERS = {2: "two", 3: "three", 4: "four"}
_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", 6: "sixth", 7: "seventh", 8: "eighth"}


def _order_words(order: int) -> str:
    """``second order``, ``order 0``: a derivative order as it reads after "of"."""
    return f"{_ORDINALS[order]} order" if order in _ORDINALS else f"order {order}"


def _derived_name(base: str, variables: tuple[sp.Symbol, ...], taken: set[str]) -> str:
    """``a_x``, ``a_xy``, ``a_xx`` ...: the name of a derivative of the random field ``a``, not yet taken."""
    name = f"{base}_{''.join(str(v) for v in variables)}"
    while name in taken:
        name = "_" + name
    return name
