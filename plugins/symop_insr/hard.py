r"""Dirichlet data imposed exactly: the state is :math:`u = G(x, \tau) + \varphi(x)\, N(x)`.

:math:`N` is the spatial network, :math:`G` the Dirichlet expression of the
field evaluated inside the domain (an extension of its boundary data) at the
time :math:`\tau` the state stands for (a buffer of the module, set before each
fit, so that every stored step carries its own), and :math:`\varphi` vanishes
exactly on the Dirichlet sides:

* on a box or interval, :math:`\varphi = \prod_{\text{sides}} d_s(x)`, with
  :math:`d_s = (x_k - a_k)/(b_k - a_k)` for the low side of axis :math:`k` and
  :math:`(b_k - x_k)/(b_k - a_k)` for the high one, over the sides with the
  Dirichlet condition (the other sides keep their penalty terms);
* on a disk or ball with the condition on its whole boundary,
  :math:`\varphi = 1 - |x - c|^2/R^2`.

The Dirichlet terms of those fields then leave the loss.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import sympy as sp
import torch
from torch import nn

from symop.errors import OptionError

__all__ = ["HardDirichlet", "hard_fields"]


def hard_fields(problem) -> dict[str, tuple[sp.Expr, tuple[str, ...]]]:
    """Field -> (Dirichlet expression, its sides) for every field ``hard`` imposes; an :class:`OptionError`
    (a sentence) when the domain or the conditions do not allow it."""
    domain = problem.domain
    if domain.kind not in ("box", "interval", "disk", "ball"):
        raise OptionError(f"the option hard imposes Dirichlet data on boxes, intervals, disks and balls, and this "
                          f"domain is a {domain.kind}; leave hard off.")
    if problem.periodic:
        raise OptionError("the option hard does not combine with periodic sides (they are exact already); "
                          "leave hard off.")
    out: dict[str, tuple[sp.Expr, tuple[str, ...]]] = {}
    for bc in problem.boundary:
        if bc.kind != "dirichlet":
            continue
        parts = tuple(domain.sides) if bc.parts in (("all",), ()) else tuple(bc.parts)
        value = sp.simplify(bc.value / bc.alpha)
        if bc.field in out:
            if sp.simplify(out[bc.field][0] - value) != 0:
                raise OptionError(f"the option hard needs one Dirichlet expression for `{bc.field}` on all its "
                                  f"Dirichlet sides, and it has two; write one condition or leave hard off.")
            parts = out[bc.field][1] + parts
        out[bc.field] = (value, parts)
    if not out:
        raise OptionError("the option hard imposes Dirichlet data, and this problem has no Dirichlet condition; "
                          "leave hard off.")
    if domain.kind in ("disk", "ball"):
        for f, (_, parts) in out.items():
            if set(parts) < set(domain.sides):
                raise OptionError(f"on a {domain.kind} the option hard needs the Dirichlet condition of `{f}` on its "
                                  "whole boundary; leave hard off.")
    return out


class HardDirichlet(nn.Module):
    """``u = G(x, time) + phi(x) * N(x)`` for the fields of ``mask`` (see the module docstring)."""

    def __init__(self, net: nn.Module, dim: int, components: int, factors: Sequence[tuple[int, float, float]],
                 lift: Sequence[Callable[[torch.Tensor], torch.Tensor] | None], mask: Sequence[Sequence[float]],
                 ball: tuple[Sequence[float], float] | None = None) -> None:
        super().__init__()
        self.net, self.dim = net, int(dim)
        #: per hard field, the (axis, origin, signed 1/length) of each side factor d_s = (x_k - origin) * scale
        self.factors = [list(f) for f in factors]
        self.lift = list(lift)
        self.register_buffer("mask", torch.as_tensor(np.asarray(mask, float)))  # (components,) 1 where hard
        self.register_buffer("time", torch.zeros(()))
        self.ball = ball

    def phi(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, components)``: the vanishing factor of each hard component, 1 for the others."""
        cols = []
        for k in range(len(self.lift)):
            if self.mask[k] == 0:
                cols.append(torch.ones_like(x[:, 0]))
            elif self.ball is not None:
                c, R = self.ball
                cc = torch.as_tensor(np.asarray(c, float), dtype=x.dtype, device=x.device)
                cols.append(1 - ((x - cc) ** 2).sum(-1) / R ** 2)
            else:
                p = torch.ones_like(x[:, 0])
                for axis, origin, scale in self.factors[k]:
                    p = p * (x[:, axis] - origin) * scale
                cols.append(p)
        return torch.stack(cols, dim=1)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        x = X[..., : self.dim]
        out = self.phi(x) * self.net(X)
        lifts = [fn for fn in self.lift if fn is not None]
        if lifts:
            Xt = torch.cat([x, self.time.to(x.dtype).expand(x.shape[0], 1)], dim=1)
            cols = [torch.zeros_like(x[:, 0]) if fn is None else fn(Xt)[:, 0] for fn in self.lift]
            out = out + torch.stack(cols, dim=1)
        return out


def side_factors(domain, parts: Sequence[str]) -> list[tuple[int, float, float]]:
    """``(axis, origin, scale)`` of the factor of each side in ``parts`` of a box (``scale`` signed)."""
    lo, hi = domain.bounding_box()
    sides = list(domain.sides)
    out = []
    for side in dict.fromkeys(parts):
        i = sides.index(side)
        axis, high = divmod(i, 2)
        length = float(hi[axis] - lo[axis])
        out.append((axis, float(hi[axis]), -1.0 / length) if high else (axis, float(lo[axis]), 1.0 / length))
    return out
