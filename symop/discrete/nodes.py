r"""Field nodes of the symbolic model as (unknown, multi-index) pairs.

A grid method evaluates every field node of a generated expression, ``u`` or
``Derivative(u, (x, 2), y)``, as a stencil applied to one unknown; what it
needs is the unknown's index and the derivative order along every grid axis,
here :math:`(0, (2, 1))`.
"""

from __future__ import annotations

import sympy as sp

from symop.errors import SymopError

__all__ = ["NodeError", "derivative_orders"]


class NodeError(SymopError):
    """A field node is not an unknown, or not a derivative of one along the grid's axes."""


def derivative_orders(node: sp.Expr, applied, coords, method: str = "this method",
                      error: type[Exception] = NodeError) -> tuple[int, tuple[int, ...]]:
    """(index in ``applied``, derivative orders per axis of ``coords``) of one field node.

    ``applied`` are the unknowns as applied functions; a node that is neither
    one of them nor their derivative in ``coords`` raises ``error``, naming ``method``.
    """
    for ci, app in enumerate(applied):
        if node == app:
            return ci, (0,) * len(coords)
        if isinstance(node, sp.Derivative) and node.expr == app:
            counts = dict(node.variable_count)
            extra = [v for v in counts if v not in coords]
            if extra:
                raise error(f"{method} cannot evaluate `{sp.sstr(node)}`: it differentiates in {extra[0]}.")
            return ci, tuple(int(counts.get(x, 0)) for x in coords)
    raise error(f"{method} cannot evaluate `{sp.sstr(node)}`: it is not an unknown or a derivative of one in "
                + ", ".join(str(x) for x in coords) + ".")
