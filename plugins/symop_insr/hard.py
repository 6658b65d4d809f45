r"""Dirichlet data imposed exactly on an insr state: :math:`u = G(x, \tau) + \varphi(x)\, N(x)`.

The fields, their data and the vanishing factors :math:`\varphi` (a product of
side distances on a box or interval, :math:`1 - |x - c|^2/R^2` on a disk or ball)
come from :mod:`symop.nn.hard`.  Here :math:`N` is the spatial network and
:math:`G` the Dirichlet expression evaluated at the time :math:`\tau` the state
stands for (a buffer of the module, set before each fit, so that every stored
step carries its own).  The Dirichlet terms of those fields then leave the loss;
the other sides keep their penalty terms.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from symop.nn.hard import ball_factor

__all__ = ["HardDirichlet"]


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
                cols.append(ball_factor(x, torch.as_tensor(np.asarray(c, float), device=x.device), R))
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
