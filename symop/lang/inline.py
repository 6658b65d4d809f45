"""One expression of the language read on its own, in the names of a problem.

``symop mms --solution "u = sin(pi*x)*exp(-t)"`` gives expressions outside a
file.  :func:`parse_expression` reads such text with the language's own
parser and converter (never ``sympify``), in the coordinates, parameters,
``let`` names and operators of a :class:`~symop.model.problem.Problem`, and
reports a mistake as one line that names the column in the text.
"""

from __future__ import annotations

from typing import Mapping

import sympy as sp

from symop.errors import SourceError
from symop.lang.expressions import Converter, OperatorSpec, Scope
from symop.lang.parser import parse_tree
from symop.mms import ManufactureError
from symop.model.problem import Problem

__all__ = ["scope_of", "parse_expression"]

_PREFIX = "let __s = "


def scope_of(problem: Problem, operators: Mapping[str, OperatorSpec] | None = None,
             allow_fields: bool = False) -> Scope:
    """A language :class:`~symop.lang.expressions.Scope` with the names of ``problem``.

    ``operators`` are the extra (plugin) operators; with ``allow_fields`` the
    fields may be used too.
    """
    return Scope(
        coords={str(c): c for c in problem.space.coords},
        indexed=problem.space.indexed,
        dimension=problem.dimension,
        time=problem.t,
        params=dict(problem.param_symbols),
        param_values=dict(problem.params),
        lets=dict(problem.lets),
        fields={f.name: f.applied for f in problem.fields} if allow_fields else {},
        exact=dict(problem.exact),
        operators=dict(operators or {}),
    )


def parse_expression(problem: Problem, text: str, operators: Mapping[str, OperatorSpec] | None = None, *,
                     what: str = "the expression", allow_fields: bool = False) -> sp.Expr:
    """Convert one expression of the language, in the names of ``problem``, to SymPy.

    Errors are one-line :class:`~symop.mms.ManufactureError`\\ s that give the
    column in ``text`` (``undefined name `q` at column 5 of the expression ...``).
    """
    text = str(text).strip()
    if not text:
        raise ManufactureError(f"{what} is empty")
    if "\n" in text or "\r" in text:
        raise ManufactureError(f"{what} must be on one line")
    try:
        tree = parse_tree(_PREFIX + text)
        stmt = [c for c in tree.children if hasattr(c, "data")]
        if len(stmt) != 1 or stmt[0].data != "let_stmt":
            raise ManufactureError(f"{what} `{text}` is not a single expression")
        node = stmt[0].children[1]
        conv = Converter(scope_of(problem, operators, allow_fields), allow_fields=allow_fields, allow_dn=False,
                         allow_time_derivative=allow_fields)
        value = conv.scalar(node)
    except SourceError as err:
        raise _one_line(err, text, what) from None
    if value.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise ManufactureError(f"{what} `{text}` evaluates to infinity or NaN")
    return value


def _one_line(err: SourceError, text: str, what: str) -> ManufactureError:
    """The first of ``err``'s messages on one line, its column counted in ``text``."""
    errs = getattr(err, "errors", None) or [err]
    first = errs[0]
    message = getattr(first, "message", str(first)).splitlines()[0]
    pos = getattr(first, "position", None)
    where = ""
    if pos is not None and pos.line == 1:
        col = pos.column - len(_PREFIX)
        if 1 <= col <= len(text) + 1:
            where = f" at column {col}"
    hint = getattr(first, "hint", None)
    return ManufactureError(f"{what} (`{text}`): {message}{where}" + (f"; {hint}" if hint else ""))
