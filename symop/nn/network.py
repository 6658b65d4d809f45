"""The network: a fully connected MLP with optional random Fourier features.

The layers are kept explicit (a list of ``Linear`` modules and one elementwise
activation) so that :mod:`symop.nn.taylor` can push Taylor-mode jets through
them without autograd.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from symop.errors import OptionError
from symop.nn import ACTIVATIONS  # the activations an MLP (and its Taylor-mode jets) supports; declared light

from .taylor import mlp_input_jet, mlp_input_jet2_sum, mlp_jet, mlp_jet2_sum

__all__ = ["ACTIVATIONS", "MLP", "activate"]


def activate(name: str, x: torch.Tensor) -> torch.Tensor:
    """The activation ``name`` (one of :data:`ACTIVATIONS`) applied elementwise to ``x``."""
    if name == "tanh":
        return torch.tanh(x)
    if name == "sin":
        return torch.sin(x)
    raise OptionError(f"unknown activation `{name}`; use one of {', '.join(ACTIVATIONS)}.")


class MLP(nn.Module):
    """``inputs → [Fourier features] → (Linear → activation) × depth → Linear → outputs``.

    ``fourier = m > 0`` prepends ``[sin(2π B x), cos(2π B x)]`` with a fixed
    Gaussian ``B`` of shape ``(m, inputs)`` and standard deviation ``sigma``.
    ``shift`` and ``scale`` normalise the inputs (``(x - shift) / scale``).
    """

    def __init__(self, inputs: int, outputs: int = 1, width: int = 64, depth: int = 4,
                 activation: str = "tanh", fourier: int = 0, sigma: float = 1.0,
                 shift: torch.Tensor | None = None, scale: torch.Tensor | None = None) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise OptionError(f"unknown activation `{activation}`; use one of {', '.join(ACTIVATIONS)}.")
        self.inputs, self.outputs, self.activation = int(inputs), int(outputs), activation
        self.fourier = int(fourier)
        self.register_buffer("shift", torch.zeros(inputs) if shift is None else torch.as_tensor(shift, dtype=torch.get_default_dtype()))
        self.register_buffer("scale", torch.ones(inputs) if scale is None else torch.as_tensor(scale, dtype=torch.get_default_dtype()))
        first = inputs
        if self.fourier > 0:
            self.register_buffer("B", sigma * torch.randn(self.fourier, inputs))
            first = 2 * self.fourier
        sizes = [first] + [width] * depth
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.last = nn.Linear(sizes[-1], outputs)
        for layer in self.hidden:
            nn.init.xavier_normal_(layer.weight)
            nn.init.zeros_(layer.bias)
        nn.init.xavier_normal_(self.last.weight)
        nn.init.zeros_(self.last.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` of shape ``(..., inputs)`` → ``(..., outputs)``."""
        h = (x - self.shift) / self.scale
        if self.fourier > 0:
            z = 2 * math.pi * h @ self.B.T
            h = torch.cat([torch.sin(z), torch.cos(z)], dim=-1)
        for layer in self.hidden:
            h = activate(self.activation, layer(h))
        return self.last(h)

    def jet(self, x: torch.Tensor, directions, order: int):
        """Taylor-mode jet along straight lines; see :func:`symop.nn.taylor.mlp_jet`."""
        return mlp_jet(self, x, directions, order)

    def jet2_sum(self, x: torch.Tensor, directions, center: torch.Tensor | None = None, dim: int | None = None):
        """Collapsed 2-jet (sum of the second coefficients), and with ``center`` the radial derivative
        ``(x - center)·∇`` over the first ``dim`` inputs; see :func:`symop.nn.taylor.mlp_jet2_sum`."""
        return mlp_jet2_sum(self, x, directions, center, dim)

    def input_jet(self, h):
        """Taylor-mode jet along the curve whose input jet is ``h`` (an encoding of the points in front of the
        network); see :func:`symop.nn.taylor.mlp_input_jet`."""
        return mlp_input_jet(self, h)

    def input_jet2_sum(self, h0: torch.Tensor, h1: torch.Tensor, h2: torch.Tensor | None):
        """Collapsed 2-jet from an input jet (the second coefficients summed over the curves); see
        :func:`symop.nn.taylor.mlp_input_jet2_sum`."""
        return mlp_input_jet2_sum(self, h0, h1, h2)
