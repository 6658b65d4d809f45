r"""Taylor-mode automatic differentiation: univariate jets through our MLP.

A *k-jet* of a function :math:`f` at :math:`x` along :math:`v` is the list of
directional derivatives

.. math::  f_j = \frac{d^j}{ds^j} f(x + s v)\Big|_{s=0}, \qquad j = 0..k,

(derivatives, not Taylor coefficients divided by :math:`j!`).  The input line
:math:`x + s v` has the jet ``(x, v, 0, 0, ...)``.  A linear layer maps every
coefficient linearly (the bias only touches :math:`f_0`); an elementwise
activation :math:`g` composes by Faà di Bruno's formula, for :math:`k \le 4`:

.. math::

    y_1 &= g' x_1 \\
    y_2 &= g' x_2 + g'' x_1^2 \\
    y_3 &= g' x_3 + 3 g'' x_1 x_2 + g''' x_1^3 \\
    y_4 &= g' x_4 + g''(4 x_1 x_3 + 3 x_2^2) + 6 g''' x_1^2 x_2 + g'''' x_1^4

One forward pass costs about :math:`O(k^2)` times a plain forward pass and
evaluates :math:`\partial^k_v f` for many directions at once; no graph of
derivatives is built (only the graph of the jet itself, for training).

Directions are either a dense tensor ``(S, D)`` shared by all points, a dense
tensor ``(N, S, D)`` per point, or a *sparse* pair ``(index, scale)`` meaning
``scale * e_index`` (``index`` of shape ``(S,)`` or ``(N, S)``), which the
first layer turns into a column gather instead of a matrix product.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

from symop.errors import MethodError, OptionError

__all__ = [
    "MAX_ORDER",
    "Jet",
    "activation_derivatives",
    "compose",
    "elementwise",
    "generic_jet",
    "linear",
    "mlp_jet",
    "mlp_jet2_sum",
]

#: the highest jet order Faà di Bruno's formula is written out for
MAX_ORDER = 4

Jet = list  # list[torch.Tensor | None]


def activation_derivatives(name: str, x: torch.Tensor, order: int) -> list[torch.Tensor]:
    """``[g(x), g'(x), ..., g^(order)(x)]`` for the activation ``name``."""
    if name == "tanh":
        t = torch.tanh(x)
        out = [t]
        if order >= 1:
            d1 = 1 - t * t
            out.append(d1)
        if order >= 2:
            d2 = -2 * t * d1
            out.append(d2)
        if order >= 3:
            d3 = -2 * d1 * d1 - 2 * t * d2
            out.append(d3)
        if order >= 4:
            out.append(-6 * d1 * d2 - 2 * t * d3)
        return out
    if name in ("sin", "cos"):
        s, c = torch.sin(x), torch.cos(x)
        cycle = [s, c, -s, -c] if name == "sin" else [c, -s, -c, s]
        return [cycle[j % 4] for j in range(order + 1)]
    raise OptionError(f"Taylor-mode derivatives have no rule for the activation `{name}`; use tanh or sin.")


def _mul(*factors):
    out = None
    for f in factors:
        if f is None:
            return None
        out = f if out is None else out * f
    return out


def _add(*terms):
    out = None
    for t in terms:
        if t is None:
            continue
        out = t if out is None else out + t
    return out


def compose(g: Sequence[torch.Tensor], x: Jet) -> Jet:
    """Faà di Bruno: the jet of ``g(x(s))`` from ``g``'s derivatives at ``x_0`` and the jet ``x``."""
    k = len(x) - 1
    if k > MAX_ORDER:
        raise MethodError(f"Taylor-mode derivatives of order {k} are not supported (at most {MAX_ORDER}); "
                          "use `--set estimator=autograd`.")
    x1 = x[1] if k >= 1 else None
    x2 = x[2] if k >= 2 else None
    x3 = x[3] if k >= 3 else None
    x4 = x[4] if k >= 4 else None
    y = [g[0]]
    if k >= 1:
        y.append(_mul(g[1], x1))
    if k >= 2:
        y.append(_add(_mul(g[1], x2), _mul(g[2], x1, x1)))
    if k >= 3:
        y.append(_add(_mul(g[1], x3), _mul(3 * g[2], x1, x2) if x2 is not None else None, _mul(g[3], x1, x1, x1)))
    if k >= 4:
        y.append(_add(
            _mul(g[1], x4),
            _mul(g[2], _add(_mul(4 * x1, x3) if x3 is not None and x1 is not None else None,
                            _mul(3 * x2, x2) if x2 is not None else None)),
            _mul(6 * g[3], x1, x1, x2) if x2 is not None else None,
            _mul(g[4], x1, x1, x1, x1),
        ))
    return y


def linear(layer: torch.nn.Linear, x: Jet) -> Jet:
    """A linear layer applied to a jet (bias on the value only)."""
    out = [layer(x[0])]
    for xj in x[1:]:
        out.append(None if xj is None else xj @ layer.weight.T)
    return out


def elementwise(name: str, x: Jet) -> Jet:
    """The activation ``name`` applied to a jet (Faà di Bruno, :func:`compose`)."""
    return compose(activation_derivatives(name, x[0], len(x) - 1), x)


def _first_layer_tangent(matrix: torch.Tensor, directions) -> torch.Tensor:
    """``directions @ matrix.T`` for dense or sparse directions; ``matrix`` is ``(out, D)``."""
    if isinstance(directions, tuple):
        index, scale = directions
        cols = matrix.T[index]  # (..., S, out)
        return cols * scale
    return directions @ matrix.T


def _normalised_tangent(net, x: torch.Tensor, directions):
    """The directions in the network's normalised input :math:`(x - m)/r`: ``directions / r``, or for
    sparse directions ``(index, scale)`` the pair ``(index, scale / r[index])`` with a trailing axis."""
    inv = 1.0 / net.scale
    if isinstance(directions, tuple):
        index, scale = directions
        scale = torch.as_tensor(scale, dtype=x.dtype, device=x.device) * inv[index]
        return index, scale[..., None]
    return directions * inv


def mlp_jet(net, x: torch.Tensor, directions, order: int) -> Jet:
    """The ``order``-jet of ``net`` at points ``x`` ``(N, D)`` along ``directions``.

    Returns ``[f_0, ..., f_order]``; ``f_0`` has shape ``(N, 1, outputs)`` and
    each ``f_j`` ``(N, S, outputs)`` (a zero coefficient is returned as zeros).
    """
    if order > MAX_ORDER:
        raise MethodError(f"Taylor-mode derivatives of order {order} are not supported (at most {MAX_ORDER}); "
                          "use `--set estimator=autograd`.")
    inv = 1.0 / net.scale
    h0 = ((x - net.shift) * inv)[:, None, :]
    tangent = _normalised_tangent(net, x, directions)
    jet: Jet = [h0] + [None] * order
    first = True
    if net.fourier > 0:
        B = 2 * math.pi * net.B
        z = [h0 @ B.T, _first_layer_tangent(B, tangent)] + [None] * (order - 1)
        if z[1].dim() == 2:
            z[1] = z[1][None]
        zs = compose(activation_derivatives("sin", z[0], order), z)
        zc = compose(activation_derivatives("cos", z[0], order), z)
        jet = [None if a is None else torch.cat(torch.broadcast_tensors(a, b), dim=-1) for a, b in zip(zs, zc)]
        first = False
    for layer in net.hidden:
        if first:
            t1 = _first_layer_tangent(layer.weight, tangent)
            if t1.dim() == 2:
                t1 = t1[None]
            jet = [layer(h0)] + [t1] + [None] * (order - 1)
            first = False
        else:
            jet = linear(layer, jet)
        jet = elementwise(net.activation, jet)
    jet = linear(net.last, jet)
    shape = None
    for j in jet[1:]:
        if j is not None:
            shape = torch.broadcast_shapes(shape or j.shape, j.shape)
    return [jet[0]] + [torch.zeros(shape, dtype=jet[0].dtype, device=jet[0].device) if j is None else j.expand(shape) if shape else j
                       for j in jet[1:]]


def generic_jet(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, directions, order: int, dim: int) -> Jet:
    """The jet of any function ``fn: (M, D) → (M, outputs)`` by nested forward-mode ``jvp``.

    Slower than :func:`mlp_jet` (``order`` nested forward passes); used for
    callables that are not our MLP (exact solutions in tests, forcing terms).
    """
    from torch.func import jvp

    n = x.shape[0]
    if isinstance(directions, tuple):
        index, scale = directions
        eye = torch.zeros(*index.shape, dim, dtype=x.dtype, device=x.device)
        eye.scatter_(-1, index[..., None], 1.0)
        v = eye * torch.as_tensor(scale, dtype=x.dtype, device=x.device).expand(index.shape)[..., None]
    else:
        v = directions
    if v.dim() == 2:
        v = v[None].expand(n, *v.shape)
    s = v.shape[1]
    xs = x[:, None, :].expand(n, s, x.shape[-1]).reshape(n * s, -1)
    vs = v.reshape(n * s, -1).to(x.dtype)

    def derivative(f, j):
        if j == 0:
            return f
        inner = derivative(f, j - 1)
        return lambda p: jvp(inner, (p,), (vs,))[1]

    out = [fn(x)[:, None, :]]
    for j in range(1, order + 1):
        out.append(derivative(fn, j)(xs).reshape(n, s, -1))
    return out


def _collapsed_activation(name: str, x0: torch.Tensor, x1: torch.Tensor, x2: torch.Tensor | None):
    """``g`` on a collapsed 2-jet: ``y1 = g' x1``, ``Σ_s y2 = g' Σ_s x2 + g'' Σ_s x1²``."""
    g = activation_derivatives(name, x0, 2)
    y1 = g[1][:, None, :] * x1
    y2 = g[2] * (x1 * x1).sum(-2)
    if x2 is not None:
        y2 = y2 + g[1] * x2
    return g[0], y1, y2


def mlp_jet2_sum(net, x: torch.Tensor, directions) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Collapsed 2-jet: ``f0 (N, out)``, ``f1 (N, S, out)`` and :math:`\sum_s \partial^2_{v_s} f` ``(N, out)``.

    The second coefficient enters every layer linearly (a linear map, or
    :math:`g' x_2 + g'' x_1^2` with :math:`g', g''` independent of the direction),
    so its sum over the ``S`` directions is propagated as one ``(N, width)``
    tensor instead of ``S`` of them ("collapsed" Taylor mode): about half the work
    of :func:`mlp_jet` for a Laplacian, and the same value up to rounding.
    """
    inv = 1.0 / net.scale
    tangent = _normalised_tangent(net, x, directions)
    x2 = None
    if net.fourier > 0:
        h0 = (x - net.shift) * inv
        B = 2 * math.pi * net.B
        z0, z1 = h0 @ B.T, _first_layer_tangent(B, tangent)
        z1 = z1[None] if z1.dim() == 2 else z1
        s0, s1, s2 = _collapsed_activation("sin", z0, z1, None)
        c0, c1, c2 = _collapsed_activation("cos", z0, z1, None)
        x0 = torch.cat([s0, c0], dim=-1)
        x1 = torch.cat(torch.broadcast_tensors(s1, c1), dim=-1)
        x2 = torch.cat([s2.expand_as(s0), c2.expand_as(c0)], dim=-1)
        layers = list(net.hidden)
    else:
        first = net.hidden[0]
        # W ((x - shift) / scale) + b folded into one product: no (N, D) temporaries at large D
        Ws = first.weight * inv
        x0 = torch.addmm(first.bias - Ws @ net.shift, x, Ws.T)
        x1 = _first_layer_tangent(first.weight, tangent)
        x1 = x1[None] if x1.dim() == 2 else x1
        x0, x1, x2 = _collapsed_activation(net.activation, x0, x1, None)
        layers = list(net.hidden)[1:]
    for layer in layers:
        W = layer.weight
        x0, x1, x2 = layer(x0), x1 @ W.T, x2 @ W.T
        x0, x1, x2 = _collapsed_activation(net.activation, x0, x1, x2)
    W = net.last.weight
    x1 = x1 @ W.T
    return net.last(x0), x1.expand(x0.shape[0], *x1.shape[1:]), x2 @ W.T
