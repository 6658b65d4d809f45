r"""A compact Fourier neural operator (Li et al., 2021) for 1, 2 or 3 grid axes.

The network maps input channels :math:`a(x)` on a uniform grid to output
channels :math:`u(x)`:

.. math::

    v_0 = P a, \qquad
    v_{l+1} = \sigma\big(W_l v_l + \mathcal F^{-1}(R_l \cdot \mathcal F v_l)\big), \qquad
    u = Q v_L,

with :math:`P, W_l, Q` pointwise (1×1) linear maps, :math:`\mathcal F` the real
FFT over the grid axes and :math:`R_l` a complex weight per kept mode
:math:`|k_j| < m` (the last axis keeps :math:`0 \le k < m`; every other axis
keeps both signs, so ``2^{d-1}`` blocks of modes).  No activation follows the
last layer.  Non-periodic axes are zero-padded at their upper end before the
Fourier layers and cropped after them, so that the FFT's implied periodicity
does not tie the two ends of the box together.

Weights are stored as real tensors (last dimension: real, imaginary), which
keeps them plain for optimizers, ``state_dict`` files and DDP on gloo.

Written here rather than taken from ``neuraloperator``: that package (2.0)
requires wandb, h5py, tensorly, tensorly-torch, zencfg, configmypy, ruamel-yaml
and matplotlib for a layer that takes ~60 lines, and its constructor arguments
changed between major versions.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from symop.errors import SymopError


class FNOError(SymopError):
    """A grid too small for the configured number of Fourier modes."""


@dataclass(frozen=True)
class FNOConfig:
    """Shape of an :class:`FNO`: channels in and out, grid axes, width, modes, layers, padding.

    ``padding`` is a fraction of each non-periodic axis (``ceil(padding * nodes)``
    zeros), so the network pads alike on any resolution it is evaluated on.
    """

    inputs: int
    outputs: int
    dimension: int
    width: int = 32
    modes: int = 12
    layers: int = 4
    padding: float = 0.0
    periodic: tuple[bool, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return {**asdict(self), "periodic": list(self.periodic)}

    @classmethod
    def from_dict(cls, data: dict) -> "FNOConfig":
        data = dict(data)
        data["periodic"] = tuple(bool(p) for p in data.get("periodic", ()))
        return cls(**data)


def _conv(dimension: int) -> type[nn.Module]:
    return {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[dimension]


class SpectralConv(nn.Module):
    r"""``v ↦ F^{-1}(R · F v)`` over the last ``dimension`` axes, keeping ``modes`` modes per axis."""

    def __init__(self, channels_in: int, channels_out: int, dimension: int, modes: int) -> None:
        super().__init__()
        if dimension not in (1, 2, 3):
            raise FNOError(f"a spectral convolution works on 1, 2 or 3 axes, not {dimension}.")
        self.cin, self.cout, self.dimension, self.modes = channels_in, channels_out, dimension, int(modes)
        #: sign pattern of each block of modes on the axes before the last (0: low, 1: high)
        self.corners = list(itertools.product((0, 1), repeat=dimension - 1))
        scale = 1.0 / (channels_in * channels_out)
        shape = (len(self.corners), channels_in, channels_out) + (self.modes,) * dimension + (2,)
        self.weight = nn.Parameter(scale * torch.rand(shape))

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        d, m = self.dimension, self.modes
        sizes = v.shape[-d:]
        for k, n in enumerate(sizes):
            limit = n // 2 + 1 if k == d - 1 else n // 2
            if m > limit:
                raise FNOError(f"a grid axis with {n} nodes holds at most {limit} Fourier modes, "
                               f"but the network keeps {m}; use fewer modes or a finer grid.")
        axes = tuple(range(-d, 0))
        vf = torch.fft.rfftn(v, dim=axes)
        out = torch.zeros(v.shape[0], self.cout, *sizes[:-1], sizes[-1] // 2 + 1, dtype=vf.dtype, device=v.device)
        weight = torch.view_as_complex(self.weight)
        letters = "xyz"[:d]
        rule = f"bi{letters},io{letters}->bo{letters}"
        for c, corner in enumerate(self.corners):
            index = (slice(None), slice(None)) + tuple(slice(0, m) if s == 0 else slice(-m, None) for s in corner)
            index += (slice(0, m),)
            out[index] = torch.einsum(rule, vf[index], weight[c])
        return torch.fft.irfftn(out, s=sizes, dim=axes)


class FNO(nn.Module):
    """Lift, ``layers`` Fourier layers with GELU, project: ``(B, inputs, *grid) → (B, outputs, *grid)``."""

    def __init__(self, config: FNOConfig) -> None:
        super().__init__()
        self.config = config
        d, w = config.dimension, config.width
        conv = _conv(d)
        self.lift = conv(config.inputs, w, 1)
        self.spectral = nn.ModuleList(SpectralConv(w, w, d, config.modes) for _ in range(config.layers))
        self.pointwise = nn.ModuleList(conv(w, w, 1) for _ in range(config.layers))
        self.project = nn.Sequential(conv(w, 2 * w, 1), nn.GELU(), conv(2 * w, config.outputs, 1))

    def _pad(self, v: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
        d, p = self.config.dimension, float(self.config.padding)
        periodic = self.config.periodic or (False,) * d
        sizes = v.shape[-d:]
        widths = [0 if periodic[k] or p <= 0 else int(math.ceil(p * sizes[k])) for k in range(d)]
        if not any(widths):
            return v, widths
        pads: list[int] = []
        for k in reversed(range(d)):  # F.pad lists the last axis first
            pads += [0, widths[k]]
        return nn.functional.pad(v, pads), widths

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        d = self.config.dimension
        v = self.lift(a)
        v, widths = self._pad(v)
        last = len(self.spectral) - 1
        for l, (spec, point) in enumerate(zip(self.spectral, self.pointwise)):
            v = spec(v) + point(v)
            if l < last:
                v = nn.functional.gelu(v)
        if any(widths):
            index = (slice(None), slice(None)) + tuple(slice(0, v.shape[2 + k] - widths[k]) for k in range(d))
            v = v[index]
        return self.project(v)

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())
