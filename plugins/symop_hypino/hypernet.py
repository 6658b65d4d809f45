r"""The hypernetwork: a grid image of a PDE instance → the weights of a small PINN.

Architecture (a plain ViT-style encoder; the paper uses a Swin Transformer):

.. math::
   \text{tokens} = \text{Conv}_{p\times p,\ \text{stride } p}(I) + E_{\text{pos}}
   \in \mathbb{R}^{(G/p)^2 \times D},\qquad
   h = \text{mean}\big(\text{Encoder}^{L}(\text{tokens})\big),\qquad
   \theta = \theta_0 + \gamma \odot (W h + w),

``L`` pre-norm transformer encoder layers with ``heads`` heads and no dropout;
:math:`\theta_0` is a learned base network (initialised like an ordinary
PINN) so that training starts from a sensible PINN and learns per-instance
corrections; :math:`\gamma` is each layer's Xavier standard deviation over
:math:`\sqrt D`, so that a head with weights of order one on the :math:`D`
normalised features (outputs of standard deviation :math:`\sqrt D`) corrects
every generated weight by about that standard deviation.  Without the scale
the first steps blow the generated networks up; with a smaller one (over
:math:`D`) the corrections stay too small to learn a family in a few thousand
steps (Poisson-bump family, 256 members, 1000 steps: held-out error 0.57
against 0.29).

The generated PINN (:class:`Target`) is
:math:`u(z) = s\,\big(W_L \sigma(\cdots \sigma(W_1 \phi(\hat z) + b_1) \cdots) + b_L\big)`
with :math:`\hat z = (z - m)/r` normalised on the bounding box,
:math:`\phi` optional fixed Fourier features :math:`[\sin 2\pi B\hat z, \cos 2\pi B\hat z]`,
and :math:`s` the instance's data scale.  :meth:`Target.apply` evaluates a
batch of networks with batched matrix products, one weight set per instance.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from symop.errors import OptionError

from symop.nn import activate


@dataclass(frozen=True)
class Config:
    """Sizes of the hypernetwork and of the PINN it generates."""

    channels: int = 13
    grid: int = 32
    patch: int = 4
    dim: int = 64
    layers: int = 2
    heads: int = 4
    width: int = 32
    depth: int = 2
    activation: str = "tanh"
    fourier: int = 0
    sigma: float = 1.0

    def as_dict(self) -> dict:
        return asdict(self)


class Target(nn.Module):
    """The generated PINN's layout: flat parameter vector ↔ layers, and batched evaluation."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        first = 2 * config.fourier if config.fourier > 0 else 2
        sizes = [first] + [config.width] * config.depth + [1]
        self.shapes = [(b, a) for a, b in zip(sizes[:-1], sizes[1:])]
        self.size = sum(o * i + o for o, i in self.shapes)
        self.register_buffer("B", config.sigma * torch.randn(max(config.fourier, 0), 2))

    def initial(self) -> torch.Tensor:
        """A flat parameter vector initialised like :class:`symop.nn.MLP` (Xavier normal, zero bias),
        except the output layer, scaled by 0.01 so that a fresh network is nearly zero."""
        parts = []
        for k, (o, i) in enumerate(self.shapes):
            last = k == len(self.shapes) - 1
            parts.append(torch.randn(o, i) * math.sqrt(2.0 / (o + i)) * (0.01 if last else 1.0))
            parts.append(torch.zeros(o))
        return torch.cat([p.reshape(-1) for p in parts])

    def gains(self) -> torch.Tensor:
        """Per-parameter scale of the hypernetwork's corrections: each layer's Xavier standard deviation."""
        parts = []
        for o, i in self.shapes:
            std = math.sqrt(2.0 / (o + i))
            parts.append(torch.full((o * i,), std))
            parts.append(torch.full((o,), std))
        return torch.cat(parts)

    def layers(self, theta: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``theta`` ``(B, P)`` as ``[(W (B, out, in), b (B, out)), ...]``."""
        out, k = [], 0
        for o, i in self.shapes:
            W = theta[:, k : k + o * i].reshape(-1, o, i)
            k += o * i
            b = theta[:, k : k + o]
            k += o
            out.append((W, b))
        return out

    def features(self, Z: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
        """Normalised inputs (with Fourier features): ``Z`` ``(B, N, 2)`` → ``(B, N, first)``."""
        h = (Z - ((lo + hi) / 2)[:, None, :]) / ((hi - lo) / 2)[:, None, :]
        if self.config.fourier > 0:
            zz = 2 * math.pi * h @ self.B.T
            h = torch.cat([torch.sin(zz), torch.cos(zz)], dim=-1)
        return h

    def apply(self, theta: torch.Tensor, Z: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
        """``u`` ``(B, N)`` of the networks ``theta`` ``(B, P)`` at ``Z`` ``(B, N, 2)`` (unscaled)."""
        h = self.features(Z, lo, hi)
        layers = self.layers(theta)
        for W, b in layers[:-1]:
            h = activate(self.config.activation, torch.baddbmm(b[:, None, :], h, W.transpose(1, 2)))
        W, b = layers[-1]
        return torch.baddbmm(b[:, None, :], h, W.transpose(1, 2))[..., 0]


class HyperNetwork(nn.Module):
    """Patch embedding, transformer encoder, mean pooling, linear head to PINN weights."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        if config.grid % config.patch:
            raise OptionError(f"the hypino grid ({config.grid}) must be a multiple of the patch size ({config.patch}).")
        self.config = config
        self.target = Target(config)
        tokens = (config.grid // config.patch) ** 2
        self.embed = nn.Conv2d(config.channels, config.dim, config.patch, stride=config.patch)
        self.position = nn.Parameter(0.02 * torch.randn(1, tokens, config.dim))
        layer = nn.TransformerEncoderLayer(config.dim, config.heads, 4 * config.dim, dropout=0.0,
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.dim)
        self.head = nn.Linear(config.dim, self.target.size)
        nn.init.normal_(self.head.weight, std=1e-2)
        nn.init.zeros_(self.head.bias)
        self.base = nn.Parameter(self.target.initial())
        self.register_buffer("gain", self.target.gains() / math.sqrt(config.dim))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """``image`` ``(B, C, G, G)`` → flat PINN parameters ``(B, P)``."""
        tokens = self.embed(image).flatten(2).transpose(1, 2) + self.position
        h = self.norm(self.encoder(tokens)).mean(dim=1)
        return self.base[None, :] + self.gain * self.head(h)
