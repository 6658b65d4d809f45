"""Generate, compile and cache PyTorch functions from SymPy expressions.

:func:`generate` is the entry point.  Its pipeline:

1. sums whose summand holds a node that depends on the summation index
   (``Sum(Partial(u, i, i), (i, 1, 3))``) are expanded, since every such node
   must become an argument of its own;
2. every *node* (applied field ``u(x, t)``, ``Derivative``, ``Subs``,
   ``Laplacian``, ``Partial``, ``NormalDerivative``) is replaced by a symbol
   that becomes an extra argument: ``u``, ``u_xx``, ``lap_u``, ``d_u_1_1``,
   ``dn_u`` or ``node0``, ... unless ``node_name`` names it;
3. ``constants`` are substituted as literals, and every constant
   sub-expression that is not a plain product of rationals, ``pi`` and ``E``
   (``sin(2)``, ``sqrt(3)``) is evaluated to a float;
4. every ``Sum`` that does not depend on an enclosing summation index is
   hoisted into a temporary ``_s0, _s1, ...`` (vectorized by the printer);
5. common subexpression elimination (:func:`sympy.cse`) over all outputs, with
   temporaries ``_t0, _t1, ...``;
6. one assignment per line, then the source is compiled once per distinct
   text (:mod:`symop.codegen.compiler`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence

import sympy as sp
import torch

from symop.codegen.compiler import compile_function
from symop.codegen.errors import CodegenError
from symop.codegen.nodes import RESERVED_NAMES, collect_nodes, describe, is_node, name_nodes, sanitize
from symop.codegen.printer import TorchPrinter, constant_value, float_literal, is_simple_number

#: Most terms a sum is expanded into when its summand holds index-dependent nodes.
MAX_EXPANDED_TERMS = 64


@dataclass
class GeneratedFunction:
    """A compiled PyTorch function generated from SymPy expressions.

    ``arguments`` lists every parameter: the ``arguments`` given to
    :func:`generate`, then one per node, sorted by name; ``nodes`` maps those
    names to the SymPy node each stands for.  ``source`` is the readable
    ``def`` and ``function`` the compiled callable (wrap it in
    ``torch.compile`` if wanted).  Calling returns one tensor when a single
    expression was generated, else a tuple of tensors in the order of
    ``outputs``.
    """

    name: str
    source: str
    arguments: tuple[str, ...]
    outputs: tuple[str, ...]
    nodes: dict[str, sp.Expr]
    function: Callable[..., Any] = field(repr=False, compare=False)
    single: bool = field(default=True, repr=False)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Evaluate on tensors (Python numbers are turned into tensors like the first tensor)."""
        values = list(args) + list(kwargs.values())
        if not all(isinstance(v, torch.Tensor) for v in values):
            like = next((v for v in values if isinstance(v, torch.Tensor)), None)
            dtype = like.dtype if like is not None else torch.get_default_dtype()
            device = like.device if like is not None else None

            def conv(v: Any) -> Any:
                return v if isinstance(v, torch.Tensor) else torch.as_tensor(v, dtype=dtype, device=device)

            args = tuple(conv(v) for v in args)
            kwargs = {k: conv(v) for k, v in kwargs.items()}
        return self.function(*args, **kwargs)

    def __str__(self) -> str:
        return self.source


# ----------------------------------------------------------------- inputs
@dataclass(frozen=True)
class _Argument:
    obj: sp.Basic  # Symbol or IndexedBase
    label: str  # the SymPy name
    name: str  # the Python name
    indexed: bool


def _arguments(arguments: Sequence[Any]) -> list[_Argument]:
    out: list[_Argument] = []
    seen: dict[str, str] = {}
    for a in arguments:
        if isinstance(a, str):
            a = sp.Symbol(a)
        if isinstance(a, sp.IndexedBase):
            label, indexed = str(a.label), True
        elif isinstance(a, sp.Symbol):
            label, indexed = a.name, False
        else:
            raise CodegenError(f"the argument `{a!r}` is neither a SymPy Symbol nor an IndexedBase.")
        name = sanitize(label)
        if name in seen:
            raise CodegenError(f"the arguments `{seen[name]}` and `{label}` would both be called `{name}`.")
        seen[name] = label
        out.append(_Argument(a, label, name, indexed))
    return out


def _constant_literal(value: Any, key: Any) -> sp.Expr:
    if isinstance(value, sp.Basic):
        if getattr(value, "free_symbols", None):
            raise CodegenError(f"the constant `{key}` has the value `{value}`, which is not a number.")
        v = constant_value(value)
    else:
        try:
            v = float(value)
        except (TypeError, ValueError) as exc:
            raise CodegenError(f"the constant `{key}` has the value {value!r}, which is not a number.") from exc
    if v.is_integer() and abs(v) < 2**53:
        return sp.Integer(int(v))
    return sp.Float(v)


def _constants(constants: Mapping[Any, Any] | None) -> dict[str, sp.Expr]:
    out: dict[str, sp.Expr] = {}
    for k, v in (constants or {}).items():
        key = k.name if isinstance(k, sp.Symbol) else str(k)
        out[key] = _constant_literal(v, key)
    return out


def _as_expr(value: Any, name: str) -> sp.Basic:
    try:
        expr = sp.sympify(value)
    except (sp.SympifyError, TypeError) as exc:
        raise CodegenError(f"the output `{name}` is not a SymPy expression: {value!r}.") from exc
    if not isinstance(expr, sp.Basic):
        raise CodegenError(f"the output `{name}` is not a SymPy expression: {value!r}.")
    return expr


# ----------------------------------------------------------------- sums
def _rebuild(e: sp.Basic, args: list[sp.Basic]) -> sp.Basic:
    if all(a is b for a, b in zip(args, e.args)):
        return e
    return e.func(*args)


def _prepare_sums(e: sp.Basic, constants: Mapping[str, sp.Expr]) -> sp.Basic:
    """Nest multi-limit sums and expand those whose summand has index-dependent nodes."""
    if e.is_Atom or not e.args or is_node(e) or isinstance(e, sp.Indexed):
        return e
    if isinstance(e, sp.Sum):
        f = _prepare_sums(e.function, constants)
        for limit in e.limits:  # innermost first
            if len(limit) != 3:
                raise CodegenError(f"the sum `{describe(e)}` needs lower and upper bounds for `{limit[0]}`.")
            i, a, b = limit
            f = _one_sum(f, i, a, b, constants)
        return f
    return _rebuild(e, [_prepare_sums(a, constants) for a in e.args])


def _integer_bound(value: sp.Basic, constants: Mapping[str, sp.Expr]) -> int | None:
    value = value.xreplace({s: constants[s.name] for s in value.free_symbols if getattr(s, "name", None) in constants})
    return int(value) if value.is_Integer else None


def _one_sum(f: sp.Expr, i: sp.Symbol, a: sp.Basic, b: sp.Basic, constants: Mapping[str, sp.Expr]) -> sp.Expr:
    dependent = [n for n in collect_nodes([f]) if n.has(i)]
    if not dependent:
        return sp.Sum(f, (i, a, b))
    lo, hi = _integer_bound(a, constants), _integer_bound(b, constants)
    if lo is None or hi is None:
        raise CodegenError(
            f"the sum over `{i}` contains `{describe(dependent[0])}`, which depends on `{i}`, "
            "so it must be expanded, but its bounds are not integers."
        )
    if hi - lo + 1 > MAX_EXPANDED_TERMS:
        raise CodegenError(
            f"the sum over `{i}` from {lo} to {hi} contains `{describe(dependent[0])}`, which depends on `{i}`; "
            f"expanding it would give {hi - lo + 1} arguments (at most {MAX_EXPANDED_TERMS}); "
            "use an operator node such as the Laplacian instead."
        )
    return sp.Add(*[f.xreplace({i: sp.Integer(k)}) for k in range(lo, hi + 1)])


def _fold(e: sp.Basic) -> sp.Basic:
    """Evaluate constant sub-expressions that do not print readably (``sin(2)``) to floats."""
    if e.is_Atom or not e.args:
        return e
    if isinstance(e, sp.Expr) and e.is_number and not is_simple_number(e):
        return sp.Float(constant_value(e))
    if isinstance(e, sp.Indexed):
        return e
    return _rebuild(e, [_fold(a) for a in e.args])


def _names(prefix: str, taken: set[str]) -> Iterator[str]:
    n = 0
    while True:
        name = f"{prefix}{n}"
        n += 1
        if name not in taken:
            taken.add(name)
            yield name


class _SumLifter:
    """Replaces every sum that no enclosing index affects by a temporary."""

    def __init__(self, names: Iterator[str]) -> None:
        self.names = names
        self.sums: dict[sp.Sum, sp.Dummy] = {}
        self.labels: dict[sp.Dummy, str] = {}

    def lift(self, e: sp.Basic, bound: frozenset = frozenset()) -> sp.Basic:
        if e.is_Atom or not e.args or isinstance(e, sp.Indexed):
            return e
        if isinstance(e, sp.Sum):
            variables = {lim[0] for lim in e.limits}
            inner = self.lift(e.function, bound | variables)
            s = sp.Sum(inner, *e.limits)
            if any(s.has(j) for j in bound):
                return s
            if any(len(lim) == 3 and lim[1].is_Integer and lim[2].is_Integer and lim[2] < lim[1] for lim in e.limits):
                return sp.S.Zero
            if s not in self.sums:
                label = next(self.names)
                d = sp.Dummy(label)
                self.sums[s] = d
                self.labels[d] = label
            return self.sums[s]
        return _rebuild(e, [self.lift(a, bound) for a in e.args])


# ----------------------------------------------------------------- symbols
def _plain_symbols(e: sp.Basic, bound: frozenset = frozenset()) -> set[sp.Symbol]:
    """Symbols of ``e`` outside ``Indexed`` labels and not bound by a sum."""
    if isinstance(e, sp.Indexed):
        out: set[sp.Symbol] = set()
        for idx in e.indices:
            out |= _plain_symbols(idx, bound)
        return out
    if isinstance(e, sp.Symbol):
        return set() if e in bound else {e}
    if isinstance(e, sp.Sum):
        inner = bound | {lim[0] for lim in e.limits}
        out = _plain_symbols(e.function, inner)
        for lim in e.limits:
            for v in lim[1:]:
                out |= _plain_symbols(v, inner)
        return out
    out = set()
    for a in e.args:
        out |= _plain_symbols(a, bound)
    return out


def _resolve(
    e: sp.Basic,
    by_name: Mapping[str, _Argument],
    constants: Mapping[str, sp.Expr],
    placeholders: set[sp.Basic],
) -> sp.Basic:
    """Substitute constants (matched by name) and check every symbol is known."""
    mapping: dict[sp.Basic, sp.Basic] = {}
    for s in _plain_symbols(e):
        if s in placeholders:
            continue
        arg = by_name.get(s.name)
        if arg is not None:
            if arg.indexed:
                raise CodegenError(
                    f"`{s.name}` is an indexed coordinate and must be used with an index, as `{s.name}[1]`."
                )
            if s != arg.obj:
                mapping[s] = arg.obj
        elif s.name in constants:
            mapping[s] = constants[s.name]
        else:
            known = ", ".join([*by_name, *constants]) or "none"
            raise CodegenError(
                f"the expression uses `{s.name}`, which is neither an argument nor a constant "
                f"(arguments and constants: {known})."
            )
    for ix in e.atoms(sp.Indexed):
        arg = by_name.get(str(ix.base.label))
        if arg is None or not arg.indexed:
            raise CodegenError(f"`{describe(ix)}` indexes `{ix.base.label}`, which is not an indexed argument.")
    return e.xreplace(mapping) if mapping else e


# ----------------------------------------------------------------- generate
def generate(
    outputs: sp.Expr | Mapping[str, sp.Expr],
    arguments: Sequence[sp.Symbol | sp.IndexedBase],
    *,
    name: str = "f",
    constants: Mapping[sp.Symbol, float] | None = None,
    node_name: Callable[[sp.Expr], str | None] | None = None,
) -> GeneratedFunction:
    """Generate, compile (once per source) and return a PyTorch function.

    ``outputs`` is one expression or an ordered mapping name → expression;
    ``arguments`` are the leading parameters (a ``Symbol`` is a tensor of any
    shape, an ``IndexedBase`` ``x`` a tensor of shape ``(..., d)`` whose
    ``x[..., k-1]`` is the coordinate ``x[k]``).  Every node (field,
    derivative, operator node) becomes a further parameter, sorted by name,
    named by ``node_name(node)`` or by default (``u``, ``u_xx``, ``lap_u``,
    ``d_u_1_1``, ``dn_u``, ``node0``).  ``constants`` are substituted as
    literals.

    Every output is a tensor broadcast to the common shape of the tensors it
    uses; a constant output is a tensor shaped like the first parameter (its
    point shape ``x.shape[:-1]`` when that parameter is indexed), with its
    dtype and device.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> fn = generate(sp.sin(x) * y, [x, y])
    >>> print(fn.source, end="")
    def f(x, y):
        \"\"\"Inputs: x, y. Output: f.\"\"\"
        return y*torch.sin(x)
    """
    single = not isinstance(outputs, Mapping)
    fname = sanitize(str(name))
    if single:
        out_names: tuple[str, ...] = (str(name),)
        exprs = [_as_expr(outputs, str(name))]
    else:
        out_names = tuple(str(k) for k in outputs)
        if not out_names:
            raise CodegenError("generate needs at least one output expression.")
        exprs = [_as_expr(v, n) for n, v in zip(out_names, outputs.values())]

    args = _arguments(arguments)
    by_name = {a.label: a for a in args}
    consts = _constants(constants)
    clash = sorted(set(by_name) & set(consts))
    if clash:
        raise CodegenError(f"`{clash[0]}` is both an argument and a constant.")

    # nodes become arguments
    exprs = [_prepare_sums(e, consts) for e in exprs]
    nodes = collect_nodes(exprs)
    arg_names = [a.name for a in args]
    chosen = name_nodes(nodes, node_name, taken=set(arg_names))
    placeholders = {node: sp.Dummy(nm) for node, nm in chosen.items()}
    exprs = [e.xreplace(placeholders) for e in exprs]
    node_params = sorted(chosen.values())
    params = arg_names + node_params

    # constants, checks, constant folding
    ph_set = set(placeholders.values())
    exprs = [_fold(_resolve(e, by_name, consts, ph_set)) for e in exprs]

    taken = set(params) | set(RESERVED_NAMES) | {fname}
    names: dict[sp.Basic, str] = {a.obj: a.name for a in args if not a.indexed}
    names.update({placeholders[n]: nm for n, nm in chosen.items()})

    # sums into temporaries
    lifter = _SumLifter(_names("_s", taken))
    exprs = [lifter.lift(e) for e in exprs]
    names.update(lifter.labels)

    # common subexpressions
    temp_names = _names("_t", taken)
    replacements, reduced = sp.cse(exprs, symbols=(sp.Dummy(f"t{k}") for k in range(10**9)), order="canonical")
    inline: dict[sp.Basic, sp.Basic] = {}
    kept: list[tuple[sp.Basic, sp.Basic]] = []
    for sym, value in replacements:
        value = value.xreplace(inline) if inline else value
        if not value.free_symbols:
            inline[sym] = value
        else:
            kept.append((sym, value))
            names[sym] = next(temp_names)
    reduced = [r.xreplace(inline) if inline else r for r in reduced]

    # print
    first = params[0] if params else None
    printer = TorchPrinter(names=names, indexed={a.label: a.name for a in args if a.indexed}, ref=first)
    printer.taken |= taken
    statements: list[tuple[str, str]] = []
    printer.hoist = statements
    for s, d in lifter.sums.items():
        code = printer.doprint(s)
        statements.append((names[d], code))
    for sym, value in kept:
        statements.append((names[sym], printer.doprint(value)))
    returns = [_output_code(r, printer, args, first) for r in reduced]

    source = _source(fname, params, out_names, single, chosen, statements, returns)
    function = compile_function(source, fname)
    return GeneratedFunction(
        name=fname,
        source=source,
        arguments=tuple(params),
        outputs=out_names,
        nodes={nm: node for node, nm in sorted(chosen.items(), key=lambda kv: kv[1])},
        function=function,
        single=single,
    )


def _output_code(r: sp.Basic, printer: TorchPrinter, args: list[_Argument], first: str | None) -> str:
    if r.free_symbols:
        return printer.doprint(r)
    value = float_literal(constant_value(r))
    if first is None:
        return f"torch.tensor({value}, dtype=torch.get_default_dtype())"
    like = f"{first}[..., 0]" if args and args[0].indexed else first
    return f"torch.full_like({like}, {value})"


def _source(
    fname: str,
    params: list[str],
    out_names: tuple[str, ...],
    single: bool,
    nodes: Mapping[sp.Basic, str],
    statements: list[tuple[str, str]],
    returns: list[str],
) -> str:
    outputs = ", ".join(out_names)
    label = "Output" if len(out_names) == 1 else "Outputs"
    inputs = ", ".join(params) if params else "none"
    lines = [f"def {fname}({', '.join(params)}):", f'    """Inputs: {inputs}. {label}: {outputs}."""']
    for node, nm in sorted(nodes.items(), key=lambda kv: kv[1]):  # what each node argument stands for
        text = _one_line(describe(node))
        if text != nm:  # a field is its own name: `u`, not `u = u`
            lines.append(f"    # {nm} = {text}")
    lines += [f"    {n} = {c}" for n, c in statements]
    if single:
        lines.append(f"    return {returns[0]}")
    else:
        lines.append("    return (")
        lines += [f"        {c},  # {_one_line(n)}" for n, c in zip(out_names, returns)]
        lines.append("    )")
    return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())
