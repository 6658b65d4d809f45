r"""Dirichlet data imposed exactly on an insr state: :math:`u = G(x, \tau) + \varphi(x)\, N(x)`.

The fields, their data and the vanishing factors :math:`\varphi` (a product of
side distances on a box or interval, :math:`1 - |x - c|^2/R^2` on a disk or ball)
come from :mod:`symop.nn.hard`.  Here :math:`N` is the spatial network and
:math:`G` the Dirichlet expression evaluated at the time :math:`\tau` the state
stands for (a buffer of the module, set before each fit, so that every stored
step carries its own).  The Dirichlet terms of those fields then leave the loss;
the other sides keep their penalty terms.

Taylor-mode jets follow the product rule along each line :math:`x + s v`,

.. math::  u_k = \sum_{j \le k} \binom{k}{j} \varphi_j\, N_{k-j} + G_k,

with :math:`N`'s jets from the spatial network's own and the jets of
:math:`\varphi` and :math:`G` (known functions) by nested forward mode; the
collapsed form sums the second coefficients over the directions,
:math:`\sum_s u_{2,s} = \varphi_0 \sum_s N_{2,s} + 2\sum_s \varphi_{1,s} N_{1,s}
+ N_0 \sum_s \varphi_{2,s} + \sum_s G_{2,s}`.  :meth:`HardDirichlet.around` puts the
same transform around another inner network (the recorder of :mod:`symop.nn.kfac`).
"""

from __future__ import annotations

import copy
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

    def data(self, x: torch.Tensor) -> torch.Tensor | None:
        """``(N, C)``: each component's Dirichlet data at the stored time (0 where it has none); None when no
        component has any."""
        if all(fn is None for fn in self.lift):
            return None
        Xt = torch.cat([x, self.time.to(x.dtype).expand(x.shape[0], 1)], dim=1)
        return torch.stack([torch.zeros_like(x[:, 0]) if fn is None else fn(Xt)[:, 0] for fn in self.lift], dim=1)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        x = X[..., : self.dim]
        out = self.phi(x) * self.net(X)
        G = self.data(x)
        return out if G is None else out + G

    def around(self, inner: nn.Module) -> "HardDirichlet":
        """The same transform around the spatial network's :meth:`~symop_insr.network.SpatialNet.around`
        ``inner`` (buffers shared, the time included)."""
        out = copy.copy(self)
        out._modules = {**self._modules, "net": self.net.around(inner)}
        return out

    def _known(self, X: torch.Tensor) -> torch.Tensor:
        """``(N, 2C)``: the factor of every component, then its Dirichlet data (0 where there is none)."""
        x = X[..., : self.dim]
        phi, G = self.phi(x), self.data(x)
        return torch.cat([phi, torch.zeros_like(phi) if G is None else G], dim=1)

    def _known_jet(self, X: torch.Tensor, directions, order: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """The jets of :math:`\\varphi` and :math:`G` along ``directions``, each ``[(N, 1, C), (N, S, C), ...]``."""
        from symop.nn.taylor import generic_jet

        f = generic_jet(self._known, X.detach(), directions, order, X.shape[-1])
        c = len(self.lift)
        return [fj[..., :c].detach() for fj in f], [fj[..., c:].detach() for fj in f]

    def jet(self, X: torch.Tensor, directions, order: int) -> list[torch.Tensor]:
        """``[u_0 (N, 1, C), u_1, ..., u_order (N, S, C)]`` along ``directions`` (the product rule)."""
        from symop.nn import stde
        from symop.nn.taylor import dense_directions, leibniz

        V = dense_directions(directions, X.shape[-1], X.dtype, X.device)
        N = stde.jet(self.net, X, V, order)
        phi, G = self._known_jet(X, V, order)
        return [a + b for a, b in zip(leibniz(phi, N), G)]

    def jet2_sum(self, X: torch.Tensor, directions) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(u_0 (N, C), u_1 (N, S, C), sum_s u_2 (N, C))`` (collapsed; see the module docstring)."""
        from symop.nn import stde
        from symop.nn.taylor import dense_directions

        V = dense_directions(directions, X.shape[-1], X.dtype, X.device)
        N0, N1, N2 = stde.jet2_sum(self.net, X, V)
        phi, G = self._known_jet(X, V, 2)
        p0, p1, p2 = phi[0][:, 0], phi[1], phi[2]
        u0 = p0 * N0 + G[0][:, 0]
        u1 = p0[:, None] * N1 + p1 * N0[:, None] + G[1]
        u2 = p0 * N2 + 2 * (p1 * N1).sum(1) + p2.sum(1) * N0 + G[2].sum(1)
        return u0, u1, u2
