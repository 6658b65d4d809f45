"""Leaf nodes that the generated code receives as arguments, and their names.

A *node* is a piece of an expression that the code generator does not know how
to evaluate itself: an applied field ``u(x, y, t)``, a ``sympy.Derivative``, a
``sympy.Subs`` and the operator nodes of :mod:`symop.model.operators`
(:class:`~symop.model.operators.Laplacian`,
:class:`~symop.model.operators.Partial`,
:class:`~symop.model.operators.NormalDerivative`).  Whoever calls the generated
function evaluates them (a finite-difference stencil, automatic
differentiation, ...) and passes the values in.
"""

from __future__ import annotations

import keyword
import re
from typing import Callable, Iterable, Sequence

import sympy as sp
from sympy.core.function import AppliedUndef

from symop.codegen.errors import CodegenError
from symop.model.operators import Laplacian, NormalDerivative, Partial
from symop.writer import language_text

#: Types whose instances become arguments of the generated function.
NODE_TYPES: tuple[type, ...] = (AppliedUndef, sp.Derivative, sp.Subs, Laplacian, Partial, NormalDerivative)

#: Names the generated source uses itself; arguments may not take them.
RESERVED_NAMES = frozenset({"torch", "math", "sum", "range", "float", "min", "max", "len"})


def describe(expr: sp.Basic) -> str:
    """``expr`` in the equation language (:func:`symop.writer.language_text`), or a plain ``Name(args)``
    form where no printer can write a node."""
    try:
        return language_text(expr)
    except Exception:  # e.g. Partial with a symbolic index
        if not expr.args:
            return str(expr)
        return f"{type(expr).__name__}({', '.join(describe(a) for a in expr.args)})"


def is_node(expr: sp.Basic) -> bool:
    """Whether ``expr`` is a node: a field, a derivative or an operator node."""
    return isinstance(expr, NODE_TYPES)


def collect_nodes(exprs: Iterable[sp.Basic]) -> list[sp.Basic]:
    """The distinct outermost nodes of ``exprs``, in order of first appearance.

    The traversal is pre-order and does not enter a node, so in
    ``Derivative(u(x, t), x) + u(x, t)`` the nodes are the derivative and the
    field, but the field inside the derivative is not visited separately.
    """
    seen: dict[sp.Basic, None] = {}

    def visit(e: sp.Basic) -> None:
        if is_node(e):
            seen.setdefault(e, None)
            return
        for a in e.args:
            visit(a)

    for e in exprs:
        visit(e)
    return list(seen)


def sanitize(name: str) -> str:
    """``name`` turned into a Python identifier that the generated code may use.

    Characters that are not allowed become ``_``; keywords and the reserved
    names of the generated code (``torch``, ``math``, ``sum``, ...) get a
    trailing ``_``; a leading digit gets a leading ``_``.

    >>> sanitize("x[1]"), sanitize("lambda"), sanitize("torch")
    ('x_1', 'lambda_', 'torch_')
    """
    if not name.isidentifier():
        name = re.sub(r"\W+", "_", name).rstrip("_") or "_"
        if not name.isidentifier():
            name = "_" + name
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in RESERVED_NAMES:
        name += "_"
    return name


def _field_name(expr: sp.Basic) -> str | None:
    if isinstance(expr, AppliedUndef):
        return expr.func.__name__
    return None


def _variable_name(var: sp.Basic) -> str:
    if isinstance(var, sp.Indexed):
        return str(var.base.label) + "".join(str(i) for i in var.indices)
    return str(var)


def default_node_name(node: sp.Basic) -> str | None:
    """The default argument name of a node, or None for a node of a non-field.

    ``u(x, y, t)`` → ``u``; ``Derivative(u(x, y, t), (x, 2), y)`` → ``u_xxy``;
    ``Laplacian(u(x, t))`` → ``lap_u``; ``Partial(u(x, t), 1, 1)`` →
    ``d_u_1_1``; ``NormalDerivative(u(x, y))`` → ``dn_u``.  The result is not
    yet sanitized.
    """
    field = _field_name(node)
    if field is not None:
        return field
    if isinstance(node, sp.Derivative):
        field = _field_name(node.expr)
        if field is None:
            return None
        parts = "".join(_variable_name(v) * int(n) for v, n in node.variable_count)
        return f"{field}_{parts}"
    if isinstance(node, Laplacian):
        field = _field_name(node.args[0])
        return None if field is None else f"lap_{field}"
    if isinstance(node, Partial):
        field = _field_name(node.args[0])
        if field is None or not all(a.is_Integer for a in node.args[1:]):
            return None
        return f"d_{field}_" + "_".join(str(int(i)) for i in node.args[1:])
    if isinstance(node, NormalDerivative):
        field = _field_name(node.args[0])
        return None if field is None else f"dn_{field}"
    return None


def name_nodes(
    nodes: Sequence[sp.Basic],
    node_name: Callable[[sp.Basic], str | None] | None,
    taken: Iterable[str],
) -> dict[sp.Basic, str]:
    """Give every node a distinct identifier that differs from the ``taken`` names.

    ``node_name(node)`` is asked first; a name it returns is sanitized and must
    be unique (a clash raises :class:`CodegenError`).  Otherwise the default
    name is used; default names that clash get a suffix ``_2``, ``_3``, ...
    (in the order of :func:`sympy.default_sort_key`).  Nodes of expressions
    that are not a field are called ``node0``, ``node1``, ...
    """
    taken = set(taken)
    chosen: dict[sp.Basic, str] = {}
    custom_owner: dict[str, sp.Basic] = {}
    pending: list[tuple[sp.Basic, str]] = []
    anonymous: list[sp.Basic] = []
    for node in nodes:
        name = node_name(node) if node_name is not None else None
        if name is not None:
            name = sanitize(str(name))
            if name in taken:
                raise CodegenError(
                    f"node_name gave `{name}` to `{describe(node)}`, but an argument already has that name."
                )
            if name in custom_owner:
                raise CodegenError(
                    f"node_name gave the same name `{name}` to `{describe(custom_owner[name])}` "
                    f"and `{describe(node)}`."
                )
            custom_owner[name] = node
            chosen[node] = name
            continue
        default = default_node_name(node)
        if default is None:
            anonymous.append(node)
        else:
            pending.append((node, sanitize(default)))
    used = taken | set(chosen.values())
    by_base: dict[str, list[sp.Basic]] = {}
    for node, base in pending:
        by_base.setdefault(base, []).append(node)
    for base in sorted(by_base):
        group = sorted(by_base[base], key=sp.default_sort_key)
        suffix = 1
        for node in group:
            name = base if suffix == 1 else f"{base}_{suffix}"
            while name in used:
                suffix += 1
                name = f"{base}_{suffix}"
            suffix += 1
            used.add(name)
            chosen[node] = name
    counter = 0
    for node in sorted(anonymous, key=sp.default_sort_key):
        while f"node{counter}" in used:
            counter += 1
        name = f"node{counter}"
        used.add(name)
        chosen[node] = name
        counter += 1
    return chosen
