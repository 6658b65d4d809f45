r"""The spatial network of a time step, and the solution: the sequence of stored networks.

:class:`SpatialNet` maps points ``X (N, D)`` (spatial columns first; a time
column, when there is one, is ignored) to the state ``(N, C)``: each
coordinate :math:`x_k \in [a_k, b_k]` is encoded as
:math:`2 (x_k - a_k)/(b_k - a_k) - 1`, or, along a periodic axis, as
:math:`(\cos \theta_k, \sin \theta_k)` with :math:`\theta_k = 2\pi (x_k - a_k)/(b_k - a_k)`,
which makes the state exactly periodic there (no periodic penalty is needed),
then passed through an :class:`~symop.nn.MLP` and scaled by ``output_scale``.

Its Taylor-mode jets (:meth:`SpatialNet.jet`, :meth:`SpatialNet.jet2_sum`) run
the line :math:`x + s v` through the encoding first: an axis mapped affinely
gives the network's input the coefficients :math:`(2 v_k / (b_k - a_k), 0, 0, \dots)`,
a periodic one those of :math:`f(\theta_k)` for :math:`f = \cos, \sin`, which
along the line are :math:`f^{(j)}(\theta_k)\, \theta_{k,1}^j` with
:math:`\theta_{k,1} = 2\pi v_k/(b_k - a_k)` (a curve, not a line); the MLP then
takes that input jet (:func:`symop.nn.taylor.mlp_input_jet`).  With
:meth:`SpatialNet.around` the same encoding runs in front of another network
with the MLP's parameters: the recorder of :mod:`symop.nn.kfac`, whose copies
of the first layer are then the encoded coefficients.

:class:`SteppedField` is the solution: the networks of the stored time steps
and their times, called as ``X (N, d + 1) -> (N, fields)`` like a pinn network.
At a stored time it is that step's network; between stored times it is the
cubic Lagrange interpolation in time of the four nearest stored networks
(:data:`symop.evaluation.TIME_DEGREE`), as grid methods interpolate snapshots.
"""

from __future__ import annotations

import copy
import math
from typing import Sequence

import numpy as np
import torch
from torch import nn

from symop.nn import MLP

__all__ = ["SpatialNet", "SteppedField"]


class SpatialNet(nn.Module):
    """``x -> output_scale * MLP(encode(x))`` with periodic axes encoded on the circle (see the module docstring)."""

    def __init__(self, dim: int, outputs: int, lo: Sequence[float], hi: Sequence[float],
                 periodic: Sequence[int] = (), width: int = 32, depth: int = 3, activation: str = "tanh",
                 fourier: int = 0, sigma: float = 1.0, output_scale: float = 1.0) -> None:
        super().__init__()
        self.dim, self.outputs = int(dim), int(outputs)
        self.periodic = tuple(int(k) for k in periodic)
        self.register_buffer("lo", torch.as_tensor(np.asarray(lo, float)))
        self.register_buffer("hi", torch.as_tensor(np.maximum(np.asarray(hi, float), np.asarray(lo, float) + 1e-12)))
        self.output_scale = float(output_scale)
        encoded = self.dim + len(self.periodic)
        self.mlp = MLP(encoded, outputs, width, depth, activation, fourier, sigma)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The network's input: each axis mapped to [-1, 1], a periodic one to (cos, sin) of its angle."""
        z = (x - self.lo.to(x.dtype)) / (self.hi - self.lo).to(x.dtype)
        cols = []
        for k in range(self.dim):
            if k in self.periodic:
                angle = 2 * math.pi * z[..., k]
                cols += [torch.cos(angle), torch.sin(angle)]
            else:
                cols.append(2 * z[..., k] - 1)
        return torch.stack(cols, dim=-1)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.output_scale * self.mlp(self.encode(X[..., : self.dim]))

    @property
    def net(self) -> nn.Module:
        """The network behind the encoding (the MLP, or what :meth:`around` put there)."""
        return self.mlp

    def around(self, inner: nn.Module) -> "SpatialNet":
        """The same encoding and output scale in front of ``inner``, a network with the MLP's parameters (the
        recorder of Kronecker-factored curvature, :mod:`symop.nn.kfac`); the buffers are shared."""
        out = copy.copy(self)
        out._modules = {**self._modules, "mlp": inner}
        return out

    def _input_jet(self, X: torch.Tensor, directions, order: int):
        """The MLP's input along the lines ``X + s v``: its value ``(N, E)``, ``[h_1, ..., h_order]`` (each
        ``(N, S, E)``; ``None`` for orders above one where no direction moves along a periodic axis, so that
        the recorder of :mod:`symop.nn.kfac` keeps no copy that is zero) and the dense directions."""
        from symop.nn.taylor import activation_derivatives, dense_directions

        V = dense_directions(directions, X.shape[-1], X.dtype, X.device)
        x = X[..., : self.dim]
        n = x.shape[0]
        V = (V[None] if V.dim() == 2 else V).expand(n, *V.shape[-2:])[..., : self.dim]
        length = (self.hi - self.lo).to(x.dtype)
        w = V / length  # the line in the unit box: z_1 = v / (b - a)
        h0 = self.encode(x)
        cols: list[list[torch.Tensor]] = [[] for _ in range(order)]
        z = (x - self.lo.to(x.dtype)) / length
        for k in range(self.dim):
            if k in self.periodic:
                theta, theta1 = 2 * math.pi * z[:, k, None], 2 * math.pi * w[..., k]
                for f in ("cos", "sin"):
                    g = activation_derivatives(f, theta, order)
                    for j in range(1, order + 1):
                        cols[j - 1].append(g[j] * theta1 ** j)
            else:
                cols[0].append(2 * w[..., k])
                for j in range(2, order + 1):
                    cols[j - 1].append(torch.zeros_like(w[..., k]))
        h = [torch.stack(c, dim=-1) for c in cols]
        if not self.periodic or not bool(V[..., list(self.periodic)].any()):  # straight lines: no higher coefficients
            h = h[:1] + [None] * (order - 1)
        return h0, h, V

    def jet(self, X: torch.Tensor, directions, order: int) -> list[torch.Tensor]:
        """``[f_0 (N, 1, C), f_1, ..., f_order (N, S, C)]`` along ``directions`` (see the module docstring)."""
        h0, h, _ = self._input_jet(X, directions, order)
        return [self.output_scale * f for f in self.mlp.input_jet([h0] + h)]

    def jet2_sum(self, X: torch.Tensor, directions) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(f_0 (N, C), f_1 (N, S, C), sum_s f_2 (N, C))``, the second coefficients summed over the directions
        (collapsed Taylor mode, :func:`symop.nn.taylor.mlp_input_jet2_sum`)."""
        h0, h, _ = self._input_jet(X, directions, 2)
        h2 = None if h[1] is None else h[1].sum(1)
        return tuple(self.output_scale * f for f in self.mlp.input_jet2_sum(h0, h[0], h2))


class SteppedField(nn.Module):
    """The stored networks ``nets[i]`` at ``times[i]``, evaluated at ``(x, t)`` (see the module docstring)."""

    def __init__(self, nets: Sequence[nn.Module], times: Sequence[float], dim: int, fields: int) -> None:
        super().__init__()
        self.nets = nn.ModuleList(nets)
        self.times = np.asarray(times, dtype=float)
        self.dim, self.fields = int(dim), int(fields)

    @property
    def floats_per_state(self) -> int:
        """Numbers stored per time step (one network's parameters)."""
        return sum(p.numel() for p in self.nets[0].parameters()) if len(self.nets) else 0

    def weights(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the stored networks and their weights at time ``t``."""
        from symop.evaluation import TIME_DEGREE
        from symop.interpolate import lagrange_weights

        scale = max(1.0, float(np.abs(self.times).max()))
        near = np.flatnonzero(np.abs(self.times - t) <= 1e-9 * scale)
        if len(near):
            return near[:1], np.ones(1)
        idx, w = lagrange_weights(self.times, np.array([t]), TIME_DEGREE)
        return idx[0], w[0]

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        if X.shape[-1] == self.dim:
            ts = np.full(1, self.times[-1])
            inverse = torch.zeros(X.shape[0], dtype=torch.long, device=X.device)
        else:
            values, inverse = torch.unique(X[:, self.dim], return_inverse=True)
            ts = values.detach().cpu().numpy()
        out = torch.zeros(X.shape[0], self.fields, dtype=X.dtype, device=X.device)
        for j, t in enumerate(ts):
            rows = inverse == j
            idx, w = self.weights(float(t))
            for i, wi in zip(idx, w):
                out[rows] += float(wi) * self.nets[int(i)](X[rows])[:, : self.fields]
        return out
