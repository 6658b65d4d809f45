"""Symbolic operator nodes that SymPy has no native form for.

In a space of named coordinates (``space x, y``) every derivative is a plain
``sympy.Derivative`` of an applied field, e.g. ``Derivative(u(x, y, t), (x, 2))``;
``lap`` and ``grad`` expand into them.  Two situations need nodes of their own:

* ``dn(u)`` in a boundary condition: the outward normal derivative, which only
  a discretization knows how to evaluate on a given boundary part
  (:class:`NormalDerivative`).
* indexed spaces (``space x[1..d]`` with ``d`` in the thousands), where
  expanding ``lap(u)`` into ``d`` terms would defeat the purpose:
  :class:`Laplacian` and :class:`Partial` stay unexpanded and are mapped by the
  consumer (a PINN derivative engine such as STDE).

All nodes are unevaluated ``sympy.Function`` subclasses, so SymPy's
substitution, ``free_symbols``, ``atoms`` and printing work on them.
"""

from __future__ import annotations

import sympy as sp


class NormalDerivative(sp.Function):
    r"""Outward normal derivative :math:`\partial u / \partial n` of its argument.

    Appears only in boundary conditions; a discretization maps it per boundary
    part (on the left side of a box it is :math:`-\partial_x u`).
    """

    nargs = 1

    def _latex(self, printer):  # pragma: no cover - cosmetic
        return r"\partial_n " + printer._print(self.args[0])

    def _sympystr(self, printer):
        return f"dn({printer._print(self.args[0])})"


class Laplacian(sp.Function):
    r"""Unexpanded Laplacian :math:`\sum_i \partial^2_{x_i}` in an indexed space."""

    nargs = 1

    def _sympystr(self, printer):
        return f"lap({printer._print(self.args[0])})"


class Partial(sp.Function):
    r"""Partial derivative in an indexed space.

    ``Partial(e, 1, 1, 3)`` is :math:`\partial_{x_1}\partial_{x_1}\partial_{x_3} e`
    (1-based coordinate indices, as the language writes them).
    """

    @classmethod
    def eval(cls, *args):
        return None

    @property
    def expr(self) -> sp.Expr:
        return self.args[0]

    @property
    def indices(self) -> tuple[int, ...]:
        return tuple(int(i) for i in self.args[1:])

    def _sympystr(self, printer):
        idx = ", ".join(f"x[{i}]" for i in self.indices)
        return f"d({printer._print(self.args[0])}, {idx})"


def expand_laplacian(expr: sp.Expr, dimension: int) -> sp.Expr:
    """Replace every :class:`Laplacian` by its sum of ``Partial`` second derivatives.

    Only sensible for small ``dimension``; used by tests and exact engines.
    """
    return expr.replace(
        lambda e: isinstance(e, Laplacian),
        lambda e: sp.Add(*[Partial(e.args[0], i, i) for i in range(1, dimension + 1)]),
    )
