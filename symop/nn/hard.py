r"""Dirichlet data imposed exactly by a network's output transform: which fields, and the vanishing factors.

A method that imposes Dirichlet data by construction writes the solution as

.. math::  u = G(x) + \varphi(x)\, N(x),

with :math:`N` the network, :math:`G` the Dirichlet expression evaluated inside
the domain (an extension of the boundary data) and :math:`\varphi` a factor that
vanishes exactly on the Dirichlet sides:

* on a box or interval, :math:`\varphi = \prod_s d_s(x)` over the Dirichlet
  sides, :math:`d_s = (x_k - a_k)/(b_k - a_k)` for the low side of axis
  :math:`k` and :math:`(b_k - x_k)/(b_k - a_k)` for the high one
  (:func:`side_factors`);
* on a disk or ball with the condition on its whole boundary,
  :math:`\varphi = 1 - |x - c|^2/R^2` (:func:`ball_factor`).

:func:`dirichlet_fields` finds the fields and their data, or says in a sentence
why ``hard`` does not apply.  ``pinn`` (balls, with Taylor-mode rules for the
STDE engine) and ``insr`` (boxes, intervals and balls) build their transforms on
these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import sympy as sp

from symop.errors import OptionError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["HardConstraintError", "ball_factor", "dirichlet_fields", "side_factors"]

#: the domain kinds whose Dirichlet sides have a vanishing factor here
KINDS = ("box", "interval", "disk", "ball")


class HardConstraintError(OptionError):
    """``hard: true`` was asked for a problem where it does not apply."""


def _kinds_text(kinds: Sequence[str]) -> str:
    plural = {"box": "boxes", "interval": "intervals", "disk": "disks", "ball": "balls"}
    names = [plural.get(k, k + "s") for k in kinds]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def dirichlet_fields(problem, kinds: Sequence[str] = KINDS) -> dict[str, tuple[sp.Expr, tuple[str, ...]]]:
    """Field -> (its Dirichlet expression ``g/alpha``, the sides it holds on) for every field with a Dirichlet
    condition, on a domain of one of ``kinds``.

    A :class:`HardConstraintError` (a sentence ending in "leave hard off") when the domain is of another kind
    or has periodic sides, when the problem has no Dirichlet condition, when a field has two different
    Dirichlet expressions, or when on a disk or ball a field's condition does not cover the whole boundary
    (the factor :math:`1 - |x - c|^2/R^2` vanishes on all of it).
    """
    domain = problem.domain
    if domain.kind not in kinds:
        article = "an" if domain.kind[:1] in "aeiou" else "a"
        raise HardConstraintError(f"the option hard imposes Dirichlet data on {_kinds_text(kinds)}, and this "
                                  f"domain is {article} {domain.kind}; leave hard off.")
    if problem.periodic:
        raise HardConstraintError("the option hard does not combine with periodic sides (they are exact already); "
                                  "leave hard off.")
    out: dict[str, tuple[sp.Expr, tuple[str, ...]]] = {}
    for bc in problem.boundary:
        if bc.kind != "dirichlet":
            continue
        parts = tuple(domain.sides) if bc.parts in (("all",), ()) else tuple(bc.parts)
        value = sp.simplify(bc.value / bc.alpha)
        if bc.field in out:
            if sp.simplify(out[bc.field][0] - value) != 0:
                raise HardConstraintError(f"the option hard needs one Dirichlet expression for `{bc.field}` on all "
                                          "its Dirichlet sides, and it has two; write one condition or leave hard "
                                          "off.")
            parts = out[bc.field][1] + parts
        out[bc.field] = (value, parts)
    if not out:
        raise HardConstraintError("the option hard imposes Dirichlet data, and this problem has no Dirichlet "
                                  "condition (such as `boundary all: u = g`); leave hard off.")
    if domain.kind in ("disk", "ball"):
        for f, (_, parts) in out.items():
            if set(parts) < set(domain.sides):
                raise HardConstraintError(f"on a {domain.kind} the option hard needs the Dirichlet condition of "
                                          f"`{f}` on its whole boundary; leave hard off.")
    return out


def side_factors(domain, parts: Sequence[str]) -> list[tuple[int, float, float]]:
    """``(axis, origin, scale)`` of the factor :math:`d_s = (x_k - \\text{origin})\\,\\text{scale}` of each side
    in ``parts`` of a box (``scale`` signed: :math:`1/L` on the low side, :math:`-1/L` on the high one)."""
    lo, hi = domain.bounding_box()
    sides = list(domain.sides)
    out = []
    for side in dict.fromkeys(parts):
        i = sides.index(side)
        axis, high = divmod(i, 2)
        length = float(hi[axis] - lo[axis])
        out.append((axis, float(hi[axis]), -1.0 / length) if high else (axis, float(lo[axis]), 1.0 / length))
    return out


def ball_factor(x: "torch.Tensor", center: "torch.Tensor", radius: float) -> "torch.Tensor":
    """:math:`1 - |x - c|^2/R^2` at the points ``x`` ``(N, d)``, shape ``(N,)``: zero on the sphere."""
    return 1 - ((x - center.to(x.dtype)) ** 2).sum(-1) / radius ** 2
