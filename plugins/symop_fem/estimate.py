"""How big a mesh will be before it is made: element counts from the domain's volume and h.

A mesh of size ``h`` on a domain of volume :math:`V` in :math:`d` dimensions has about
:math:`V / v_d(h)` simplices, :math:`v_d(h)` the volume of a regular simplex of
edge ``h`` (``h``, :math:`\\sqrt3 h^2/4`, :math:`h^3/(6\\sqrt2)`); a structured box
mesh with ``n`` cells per axis has :math:`d!\\,n^d`.  Meshing, assembly and the
solve keep, per element, its nodes, quadrature data and matrix entries: at
least :data:`BYTES_PER_ELEMENT` bytes, which is what :func:`check_mesh_size`
compares with this machine's memory before the mesher starts.
"""

from __future__ import annotations

import math

#: a lower bound on the bytes one element costs (cells, quadrature points and weights,
#: basis gradients, sparse matrix entries of degree 1)
BYTES_PER_ELEMENT = 512


def simplex_volume(h: float, d: int) -> float:
    """The volume of a regular d-simplex of edge ``h``: :math:`h^d \\sqrt{d+1} / (d!\\, 2^{d/2})`."""
    return h**d * math.sqrt(d + 1) / (math.factorial(d) * 2 ** (d / 2))


def element_estimate(domain, h: float | None = None, n: int | None = None) -> float:
    """About how many simplices a mesh of ``domain`` with size ``h`` (or ``n`` cells per axis) has."""
    d = domain.dimension
    if n is not None:
        return float(math.factorial(d)) * float(n) ** d
    return float(domain.volume()) / simplex_volume(float(h), d)


def check_mesh_size(domain, degree: int, h: float | None = None, n: int | None = None, fields: int = 1) -> None:
    """Refuse, with the estimate, a mesh whose elements would not fit in this machine's memory.

    A system of ``fields`` fields keeps every per-element cost once per field
    (its own dofs, coefficients and Jacobian blocks): at least ``fields`` times
    the cost of one.
    """
    from symop.resources import format_count, require_memory

    count = element_estimate(domain, h, n)
    per = BYTES_PER_ELEMENT * (1 if degree <= 1 else 3) * max(1, int(fields))
    size = f"n = {n}" if n is not None else f"h = {h:g}"
    what = f"a mesh with {size} (about {format_count(count)} elements)"
    if fields > 1:
        what += f" for {fields} fields"
    require_memory(count * per, what,
                   "raise `h`" if n is None else "lower `n`")
