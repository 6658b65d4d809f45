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

A network whose input is itself a function of the points (an encoding of
them) is differentiated along the curve that the encoding makes of the line:
:func:`mlp_input_jet` and :func:`mlp_input_jet2_sum` take the jet of the MLP's
input instead of directions, and :func:`leibniz` multiplies two jets (an
output transform :math:`\varphi N`).
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
    "dense_directions",
    "elementwise",
    "generic_jet",
    "leibniz",
    "linear",
    "mlp_input_jet",
    "mlp_input_jet2_sum",
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


def _collapsed_activation(name: str, x0: torch.Tensor, x1: torch.Tensor, x2: torch.Tensor | None,
                          xr: torch.Tensor | None = None):
    """``g`` on a collapsed 2-jet: ``y1 = g' x1``, ``Σ_s y2 = g' Σ_s x2 + g'' Σ_s x1²``; and ``g' xr`` when given."""
    g = activation_derivatives(name, x0, 2)
    y1 = g[1][:, None, :] * x1
    y2 = g[2] * (x1 * x1).sum(-2)
    if x2 is not None:
        y2 = y2 + g[1] * x2
    return g[0], y1, y2, (None if xr is None else g[1] * xr)


def _collapsed_fourier(z0: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor | None, zr: torch.Tensor | None = None):
    """Random Fourier features ``[sin z, cos z]`` on a collapsed 2-jet of ``z = 2π B h`` (``z2`` the summed second
    coefficients, None for zero; ``zr`` a radial tangent or None): the features' ``(x0, x1, Σ x2, xr)``."""
    s0, s1, s2, sr = _collapsed_activation("sin", z0, z1, z2, zr)
    c0, c1, c2, cr = _collapsed_activation("cos", z0, z1, z2, zr)
    return (torch.cat([s0, c0], dim=-1), torch.cat(torch.broadcast_tensors(s1, c1), dim=-1),
            torch.cat([s2.expand_as(s0), c2.expand_as(c0)], dim=-1),
            None if zr is None else torch.cat([sr, cr], dim=-1))


def _plain_normalisation(net) -> tuple[bool, bool]:
    """(shift is zero, scale is one) for ``net``'s input normalisation, cached until a buffer changes.

    Skipping the identity normalisation spares (width, D) products per step,
    and their gradients, at large D.
    """
    key = (net.shift._version, net.scale._version, net.shift.data_ptr(), net.scale.data_ptr())
    cached = getattr(net, "_plain_normalisation", None)
    if cached is None or cached[0] != key:
        cached = (key, (not bool(net.shift.any()), bool((net.scale == 1).all())))
        net._plain_normalisation = cached
    return cached[1]


def _radial_first(lin: torch.Tensor, Ms: torch.Tensor, x: torch.Tensor, shift: torch.Tensor,
                  center: torch.Tensor, dim: int, zero_offset: bool) -> torch.Tensor:
    r"""The first layer's tangent along :math:`r = (x - c)` in the first ``dim`` columns (0 in the others).

    With ``lin`` :math:`= (x - m) M_s^T` already computed (``Ms`` the layer's matrix
    over the input scale), :math:`r M_s^T = 	ext{lin} - (c - m)_{:dim} M_{s,:dim}^T - (x - m)_{dim:} M_{s,dim:}^T`:
    no second (N, D) product, only a (D,) one and one over the few columns past ``dim``.
    """
    out = lin
    if not zero_offset:
        out = out - (center.to(x.dtype) - shift[:dim]) @ Ms[:, :dim].T
    if x.shape[-1] > dim:
        out = out - (x[:, dim:] - shift[dim:]) @ Ms[:, dim:].T
    return out


def mlp_jet2_sum(net, x: torch.Tensor, directions, center: torch.Tensor | None = None, dim: int | None = None):
    r"""Collapsed 2-jet: ``f0 (N, out)``, ``f1 (N, S, out)`` and :math:`\sum_s \partial^2_{v_s} f` ``(N, out)``.

    The second coefficient enters every layer linearly (a linear map, or
    :math:`g' x_2 + g'' x_1^2` with :math:`g', g''` independent of the direction),
    so its sum over the ``S`` directions is propagated as one ``(N, width)``
    tensor instead of ``S`` of them ("collapsed" Taylor mode): about half the work
    of :func:`mlp_jet` for a Laplacian, and the same value up to rounding.

    With ``center`` (``(dim,)``) a fourth output, the radial derivative
    :math:`(x - c)\cdot\nabla f` over the first ``dim`` inputs ``(N, out)``, rides along as
    one more first-order tangent whose first layer is derived from the value's
    (:func:`_radial_first`): at large D it costs no second pass over the inputs.
    """
    inv = 1.0 / net.scale
    tangent = _normalised_tangent(net, x, directions)
    zero_shift, unit_scale = _plain_normalisation(net)
    dim = x.shape[-1] if dim is None else int(dim)
    zero_offset = center is None or (zero_shift and not bool(center.any()))
    x2 = xr = None
    if net.fourier > 0:
        h0 = (x - net.shift) * inv
        B = 2 * math.pi * net.B
        z0, z1 = h0 @ B.T, _first_layer_tangent(B, tangent)
        z1 = z1[None] if z1.dim() == 2 else z1
        zr = None if center is None else _radial_first(z0, B * inv, x, net.shift, center, dim, zero_offset)
        x0, x1, x2, xr = _collapsed_fourier(z0, z1, None, zr)
        layers = list(net.hidden)
    else:
        first = net.hidden[0]
        # W ((x - shift) / scale) + b folded into one product: no (N, D) temporaries at large D
        Ws = first.weight if unit_scale else first.weight * inv
        lin = x @ Ws.T
        if not zero_shift:
            lin = lin - Ws @ net.shift
        x0 = lin + first.bias
        x1 = _first_layer_tangent(first.weight, tangent)
        x1 = x1[None] if x1.dim() == 2 else x1
        xr = None if center is None else _radial_first(lin, Ws, x, net.shift, center, dim, zero_offset)
        x0, x1, x2, xr = _collapsed_activation(net.activation, x0, x1, None, xr)
        layers = list(net.hidden)[1:]
    f0, f1, f2, fr = _collapsed_layers(net, layers, x0, x1, x2, xr)
    return (f0, f1, f2) if center is None else (f0, f1, f2, fr)


def _collapsed_layers(net, layers, x0: torch.Tensor, x1: torch.Tensor, x2: torch.Tensor | None,
                      xr: torch.Tensor | None = None):
    """The collapsed 2-jet (and the radial tangent ``xr``) through ``layers`` with ``net``'s activation, then
    ``net.last``: ``(f0 (N, out), f1 (N, S, out), sum_s f2 (N, out), fr (N, out) or None)``; ``x2`` None is a
    zero second coefficient."""
    for layer in layers:
        W = layer.weight
        x0, x1 = layer(x0), x1 @ W.T
        x2 = None if x2 is None else x2 @ W.T
        xr = None if xr is None else xr @ W.T
        x0, x1, x2, xr = _collapsed_activation(net.activation, x0, x1, x2, xr)
    W = net.last.weight
    x1 = x1 @ W.T
    f2 = torch.zeros(x0.shape[0], W.shape[0], dtype=x0.dtype, device=x0.device) if x2 is None else x2 @ W.T
    return net.last(x0), x1.expand(x0.shape[0], *x1.shape[1:]), f2, (None if xr is None else xr @ W.T)


def dense_directions(directions, D: int, dtype, device) -> torch.Tensor:
    """Directions as a dense ``(S, D)`` or ``(N, S, D)`` tensor (a sparse pair ``(index, scale)`` made dense)."""
    if isinstance(directions, tuple):
        index, scale = directions
        v = torch.zeros(*index.shape, D, dtype=dtype, device=device)
        v.scatter_(-1, index[..., None], 1.0)
        scale = torch.as_tensor(scale, dtype=dtype, device=device)
        if scale.dim() > index.dim():
            scale = scale[..., 0]
        return v * scale.expand(index.shape)[..., None]
    return directions.to(dtype)


def leibniz(f: Jet, g: Jet) -> Jet:
    r"""The jet of the product :math:`f g` from the jets of both (derivatives, not Taylor coefficients):
    :math:`(fg)_k = \sum_{j \le k} \binom{k}{j} f_j\, g_{k-j}` (``None`` entries are zero)."""
    out: Jet = []
    for k in range(min(len(f), len(g))):
        terms = []
        for j in range(k + 1):
            t = _mul(f[j], g[k - j])
            terms.append(t if t is None or j in (0, k) else math.comb(k, j) * t)
        out.append(_add(*terms))
    return out


def _fourier_jet(net, jet: Jet) -> Jet:
    """The random Fourier features ``[sin(2π B h), cos(2π B h)]`` of an input jet ``h`` (Faà di Bruno)."""
    order = len(jet) - 1
    B = 2 * math.pi * net.B
    z = [None if c is None else c @ B.T for c in jet]
    zs = compose(activation_derivatives("sin", z[0], order), z)
    zc = compose(activation_derivatives("cos", z[0], order), z)
    return [None if a is None else torch.cat(torch.broadcast_tensors(a, b), dim=-1) for a, b in zip(zs, zc)]


def mlp_input_jet(net, h: Jet) -> Jet:
    """The jet of ``net`` along a curve whose input jet is ``h``: ``[h_0 (N, inputs), h_1, ..., h_k]``, each
    ``h_j`` ``(N, S, inputs)`` or ``(S, inputs)`` or ``None`` (zero).

    :func:`mlp_jet` is the straight line ``h = [x, v, 0, ...]``; an encoding of
    the points (a circle for a periodic axis) gives curved ones.  Returns
    ``[f_0 (N, 1, outputs), f_1, ..., f_k (N, S, outputs)]``.
    """
    order = len(h) - 1
    if order > MAX_ORDER:
        raise MethodError(f"Taylor-mode derivatives of order {order} are not supported (at most {MAX_ORDER}); "
                          "use `--set estimator=autograd`.")
    inv = 1.0 / net.scale
    jet: Jet = [((h[0] - net.shift) * inv)[:, None, :]] + [None if c is None else c * inv for c in h[1:]]
    if net.fourier > 0:
        jet = _fourier_jet(net, jet)
    for layer in net.hidden:
        jet = elementwise(net.activation, linear(layer, jet))
    jet = linear(net.last, jet)
    n = jet[0].shape[0]
    s = max((c.shape[-2] for c in jet[1:] if c is not None), default=1)
    shape = (n, s, jet[0].shape[-1])
    return [jet[0]] + [torch.zeros(shape, dtype=jet[0].dtype, device=jet[0].device) if c is None else c.expand(shape)
                       for c in jet[1:]]


def mlp_input_jet2_sum(net, h0: torch.Tensor, h1: torch.Tensor, h2: torch.Tensor | None):
    r"""Collapsed 2-jet of ``net`` along the curves of an input jet: ``h0 (N, inputs)``, first coefficients
    ``h1 (N, S, inputs)`` (or ``(S, inputs)``) and the sum of the second ones over the ``S`` curves
    ``h2 (N, inputs)`` (``None``: straight lines).  Returns ``f0 (N, out)``, ``f1 (N, S, out)`` and
    :math:`\sum_s f_{2,s}` ``(N, out)``, as :func:`mlp_jet2_sum` does for straight lines."""
    inv = 1.0 / net.scale
    x0, x1 = (h0 - net.shift) * inv, h1 * inv
    x1 = x1[None] if x1.dim() == 2 else x1
    x2 = None if h2 is None else h2 * inv
    if net.fourier > 0:
        B = 2 * math.pi * net.B
        x0, x1, x2, _ = _collapsed_fourier(x0 @ B.T, x1 @ B.T, None if x2 is None else x2 @ B.T)
    return _collapsed_layers(net, net.hidden, x0, x1, x2)[:3]
