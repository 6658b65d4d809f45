"""Grids and stencils that every grid-based method shares.

Public API:

* :class:`Lattice`: spacings and node counts of a uniform box lattice, the base of a
  method's own grid dataclass (:mod:`symop.discrete.lattice`);
* :mod:`stencils <symop.discrete.stencils>`: central finite-difference weights of any
  derivative order and even accuracy, applied to torch tensors (ghost-padded or
  periodic) or assembled as sparse matrices, and the ghost weights of boundary closures;
* :func:`derivative_orders`: a field node of the symbolic model as (unknown index,
  derivative order per axis), raising :class:`NodeError` (or the caller's error)
  for a node no stencil can evaluate (:mod:`symop.discrete.nodes`);
* :mod:`elements <symop.discrete.elements>`: Lagrange P1/P2 bases on reference simplices
  and simplex quadrature, which finite elements assemble with and solutions evaluate with.

Finite differences (``fd``) and neural operators (``pino``) import these names;
nothing here knows about a plugin.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from . import stencils
from .lattice import Lattice
from .nodes import NodeError, derivative_orders

if TYPE_CHECKING:  # pragma: no cover
    from . import elements


def __getattr__(name: str) -> Any:
    """``elements`` on first use (PEP 562): its quadrature needs SciPy, which finite differences do not."""
    if name == "elements":
        return import_module(f"{__name__}.elements")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["Lattice", "NodeError", "derivative_orders", "elements", "stencils"]
