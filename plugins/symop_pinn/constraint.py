r"""Output transforms of the network: scaling and hard Dirichlet data on balls.

The trained function is

.. math::  u(x) = G(x) + \big(m\,\varphi(x) + 1 - m\big)\, s\, N(x),
           \qquad \varphi(x) = 1 - \frac{|x - c|^2}{R^2},

with :math:`N` the MLP, :math:`s` the ``output_scale`` (so that a network with
outputs of order one represents a solution of size :math:`s`), :math:`m` the
fields whose Dirichlet data on the whole sphere :math:`|x - c| = R` is imposed
exactly (``hard``), and :math:`G` an extension of that data (the Dirichlet
expression evaluated inside the ball; omitted when it is zero).  Since
:math:`\varphi = 0` on the sphere, :math:`u = G` there for any :math:`N`, and the
boundary terms of the loss drop out.

Taylor mode: :math:`\varphi` is a quadratic, so along :math:`x + t v` its
derivatives are :math:`\varphi_1 = -2 (x - c)\cdot v / R^2`,
:math:`\varphi_2 = -2 |v|^2 / R^2` and zero above, and Leibniz' rule gives

.. math::  (\varphi N)_k = \varphi_0 N_k + k\,\varphi_1 N_{k-1} + \tbinom{k}{2}\varphi_2 N_{k-2}.

With the sparse STDE tangents :math:`v = \sqrt d\, e_i` (and Rademacher ones),
:math:`|v|^2 = d` is constant, so the dominant :math:`-2d\,N/R^2` part of the
Laplacian is exact and only :math:`\varphi\,\Delta N` and
:math:`-4 (x - c)\cdot\nabla N / R^2` are sampled.

:meth:`Constrained.laplacian` goes further (a Rao-Blackwellised estimator): of

.. math::  \Delta(\varphi N) = \varphi\,\Delta N - \frac{4}{R^2}(x - c)\cdot\nabla N - \frac{2d}{R^2} N

only :math:`\Delta N` is estimated (from the directions' jets); the first-order
term costs one extra jet along the single direction :math:`x - c` and is exact,
so the variance is that of :math:`\varphi\,\Delta N` alone, which vanishes at the
sphere.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from symop.nn import MLP
from symop.nn.hard import ball_factor
from symop.nn.taylor import generic_jet


class Constrained(nn.Module):
    """``u = G + (m φ + 1 - m) · s · N`` around an inner network ``N`` (see the module docstring)."""

    def __init__(self, net: nn.Module, output_scale: float = 1.0, dim: int | None = None,
                 center=None, radius: float | None = None, mask=None,
                 lift: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        super().__init__()
        self.net = net
        self.output_scale = float(output_scale)
        self.dim = int(dim) if dim is not None else net.inputs
        self.hard = radius is not None
        self.radius = float(radius) if radius is not None else 1.0
        self.register_buffer("center", torch.zeros(self.dim) if center is None else torch.as_tensor(center).float())
        self.register_buffer("mask", torch.ones(net.outputs) if mask is None else torch.as_tensor(mask).float())
        self.lift = lift
        self.inputs, self.outputs = net.inputs, net.outputs

    def around(self, inner: nn.Module) -> "Constrained":
        """The same transform around another inner network with ``net``'s parameters (a recorder of its jets).

        Gauss–Newton curvature (:mod:`symop.nn.kfac`) evaluates the residuals
        through a network that records each layer's Taylor-mode copies; the
        transform has no parameters of its own, so those copies are all the
        Jacobian needs.
        """
        out = Constrained(inner, self.output_scale, self.dim, radius=self.radius if self.hard else None,
                          lift=self.lift)
        out.center, out.mask = self.center, self.mask
        return out

    # ------------------------------------------------------------ values
    def _offset(self, x: torch.Tensor) -> torch.Tensor:
        """``x - c`` in the spatial columns, 0 in the time column."""
        out = torch.zeros_like(x)
        out[:, : self.dim] = x[:, : self.dim] - self.center.to(x.dtype)
        return out

    def phi(self, x: torch.Tensor) -> torch.Tensor:
        """The factor ``m φ + 1 - m``, ``(N, outputs)``."""
        m = self.mask.to(x.dtype)
        if not self.hard:
            return torch.ones(x.shape[0], self.outputs, dtype=x.dtype, device=x.device)
        p = ball_factor(x[:, : self.dim], self.center, self.radius)[:, None]
        return m * p + (1 - m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.phi(x) * (self.output_scale * self.net(x))
        if self.lift is not None:
            out = out + self.lift(x)
        return out

    # ------------------------------------------------------------ jets
    def _line(self, x: torch.Tensor, directions) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x - c)·v`` and ``|v|²`` (spatial part) for every point and direction, each ``(N, S)`` or ``(S,)``."""
        xc = self._offset(x)
        if isinstance(directions, tuple):
            index, scale = directions
            scale = torch.as_tensor(scale, dtype=x.dtype, device=x.device)
            if scale.dim() > index.dim():
                scale = scale[..., 0]
            scale = scale.expand(index.shape)
            spatial = (index < self.dim).to(x.dtype)
            if index.dim() == 1:
                dot = xc[:, index] * scale
            else:
                dot = torch.gather(xc, 1, index) * scale
            return dot, scale * scale * spatial
        V = directions.to(x.dtype)
        if V.dim() == 2:
            dot = xc @ V.T
        else:
            dot = torch.einsum("nd,nsd->ns", xc, V)
        return dot, (V[..., : self.dim] ** 2).sum(-1)

    def jet(self, x: torch.Tensor, directions, order: int) -> list[torch.Tensor]:
        """The ``order``-jet of ``u`` by Leibniz' rule on ``φ · N`` (outputs ``(N, S, outputs)``)."""
        N = self.net.jet(x, directions, order)
        s = self.output_scale
        if self.hard:
            m = self.mask.to(x.dtype)
            dot, vv = self._line(x, directions)
            R2 = self.radius**2
            phi = [self.phi(x)[:, None, :], (-2 * dot / R2)[..., None] * m, (-2 * vv / R2)[..., None] * m]
            out = []
            for k in range(order + 1):
                term = phi[0] * N[k]
                if k >= 1:
                    term = term + k * phi[1] * N[k - 1]
                if k >= 2:
                    term = term + (k * (k - 1) // 2) * phi[2] * N[k - 2]
                out.append(s * term)
        else:
            out = [s * f for f in N]
        if self.lift is not None:
            G = generic_jet(self.lift, x, directions, order, x.shape[-1])
            out = [a + b for a, b in zip(out, G)]
        return out

    def jet2_sum(self, x: torch.Tensor, directions) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        r"""Collapsed 2-jet ``(u0, u1, Σ_s u2)`` (see :func:`symop.nn.taylor.mlp_jet2_sum`):
        :math:`\sum_s (\varphi N)_2 = \varphi_0 \sum_s N_2 + 2 \sum_s \varphi_{1,s} N_{1,s} + N_0 \sum_s \varphi_{2,s}`."""
        if hasattr(self.net, "jet2_sum"):
            f0, f1, f2 = self.net.jet2_sum(x, directions)
        else:
            f = self.net.jet(x, directions, 2)
            f0, f1, f2 = f[0][:, 0], f[1], f[2].sum(1)
        s = self.output_scale
        if self.hard:
            m = self.mask.to(x.dtype)
            dot, vv = self._line(x, directions)
            R2 = self.radius**2
            p0 = self.phi(x)
            p1 = (-2 * dot / R2)[..., None] * m
            p2 = (-2 * vv / R2)[..., None] * m
            u0 = s * p0 * f0
            u1 = s * (p0[:, None, :] * f1 + p1 * f0[:, None, :])
            u2 = s * (p0 * f2 + 2 * (p1 * f1).sum(1) + (p2 * f0[:, None, :]).sum(1))
        else:
            u0, u1, u2 = s * f0, s * f1, s * f2
        if self.lift is not None:
            G = generic_jet(self.lift, x, directions, 2, x.shape[-1])
            u0, u1, u2 = u0 + G[0][:, 0], u1 + G[1], u2 + G[2].sum(1)
        return u0, u1, u2

    #: :meth:`laplacian` can return ``u`` with the Laplacian (:func:`symop.nn.stde.laplacian_and_value`)
    laplacian_gives_value = True

    def laplacian(self, x: torch.Tensor, directions, samples: int, value: bool = False):
        """Unbiased Laplacian in the first ``dim`` inputs from ``samples`` directions with ``E[v v^T] = I``, ``(N, out)``.

        Only the inner network's Laplacian is sampled; see the module docstring.
        With ``value`` returns ``(laplacian, u)``: the jets carry the value, so no further forward pass is needed.
        On our MLP the exact radial term rides in the same pass
        (:func:`symop.nn.taylor.mlp_jet2_sum` with ``center``).
        """
        net = self.net
        radial = None
        if self.hard and isinstance(net, MLP):
            f0, _, f2, radial = net.jet2_sum(x, directions, center=self.center, dim=self.dim)
        elif hasattr(net, "jet2_sum"):
            f0, _, f2 = net.jet2_sum(x, directions)
        else:
            f = net.jet(x, directions, 2)
            f0, f2 = f[0][:, 0], f[2].sum(1)
        lap = f2 / samples
        phi = self.phi(x)
        if self.hard:
            m = self.mask.to(x.dtype)
            R2 = self.radius**2
            if radial is None:
                radial = net.jet(x, self._offset(x)[:, None, :], 1)[1][:, 0]  # (x - c)·∇N, exact
            lap = phi * lap + m * (-4 / R2 * radial - 2 * self.dim / R2 * f0)
        lap = self.output_scale * lap
        u = phi * (self.output_scale * f0) if value else None
        if self.lift is not None:
            lap = lap + generic_jet(self.lift, x, directions, 2, x.shape[-1])[2].sum(1) / samples
            u = u + self.lift(x) if value else None
        return (lap, u) if value else lap
