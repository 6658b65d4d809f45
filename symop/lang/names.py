"""The vocabulary of the language: functions, operators, constants, keywords.

One table per kind, so that the converter, the error hints ("did you mean
`lap`?") and the documentation all read the same names.
"""

from __future__ import annotations

import difflib
from typing import Iterable

import sympy as sp

#: Elementwise functions: name -> (SymPy constructor, number of arguments).
#: ``None`` as the count means "two or more".
FUNCTIONS: dict[str, tuple[object, int | None]] = {
    "sin": (sp.sin, 1),
    "cos": (sp.cos, 1),
    "tan": (sp.tan, 1),
    "exp": (sp.exp, 1),
    "log": (sp.log, 1),
    "sqrt": (sp.sqrt, 1),
    "tanh": (sp.tanh, 1),
    "sinh": (sp.sinh, 1),
    "cosh": (sp.cosh, 1),
    "asin": (sp.asin, 1),
    "acos": (sp.acos, 1),
    "atan": (sp.atan, 1),
    "abs": (sp.Abs, 1),
    "sign": (sp.sign, 1),
    "min": (sp.Min, None),
    "max": (sp.Max, None),
}

#: Operators the converter implements itself, with a one-line description.
OPERATORS: dict[str, str] = {
    "dt": "time derivative: dt(u), dt(u, 2)",
    "dx": "first derivative in x",
    "dy": "first derivative in y",
    "dz": "first derivative in z",
    "d": "partial derivative: d(u, x), d(u, x, 2), d(u, x, y)",
    "grad": "gradient, a vector",
    "div": "divergence of a vector: div((a, b))",
    "lap": "Laplacian",
    "biharm": "biharmonic operator lap(lap(u))",
    "dn": "outward normal derivative, in boundary conditions",
    "dot": "dot product of two vectors",
    "norm": "Euclidean norm of a vector",
    "sum": "indexed sum: sum(i, 1, d, expr)",
    "if": "if(condition, then, else)",
    "exact": "the declared exact solution: exact(u)",
}

CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "e": sp.E}

#: Names that may not be declared by a file.  Functions and operators live in
#: their own namespace (``param d = 3`` and ``d(u, x)`` may share a file).
RESERVED = set(CONSTANTS)

# Domain kinds (``box``, ``disk``, ...) are not listed here: each domain module registers its
# kind, with its argument schema, in :mod:`symop.model.domains.registry`, where the builder finds it.


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to a misspelt ``name``, or None; one that differs only in case first (``PI``: ``pi``)."""
    candidates = list(candidates)
    folded = [c for c in candidates if c.casefold() == name.casefold() and c != name]
    if folded:
        return folded[0]
    matches = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A hint sentence ``did you mean `x`?`` or None."""
    best = suggest(name, candidates)
    return f"did you mean `{best}`?" if best else None
