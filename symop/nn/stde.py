r"""Stochastic Taylor derivative estimators (STDE): tangents and combinatorial factors.

Every derivative is read off univariate jets :math:`\partial^k_w u = D^k u[w, ..., w]`.

* Any partial derivative :math:`\partial_{i_1}\cdots\partial_{i_k} u` exactly,
  by the **polarization identity** of the symmetric k-linear form :math:`D^k u`,

  .. math::  D^k u[v_1, ..., v_k] = \frac{1}{k!\,2^k}\sum_{\varepsilon\in\{\pm1\}^k}
             \varepsilon_1\cdots\varepsilon_k\, D^k u\Big[\big(\textstyle\sum_j \varepsilon_j v_j\big)^{\otimes k}\Big],

  whose terms :func:`polarization` merges exactly with SymPy rationals
  (``∂_i∂_j u = (∂²_{e_i+e_j} u - ∂²_{e_i-e_j} u)/4``, ``∂²_i u = ∂²_{e_i} u``).
* The **Laplacian** :math:`\Delta u = \mathbb E_v[\partial^2_v u]` for any
  :math:`v` with :math:`\mathbb E[v v^T] = I`: Rademacher :math:`v` (``dense``)
  or :math:`v = \sqrt d\, e_i` with :math:`i` uniform (``sparse``).
* The **weighted Laplacian** :math:`\sum_i a_i(x)\partial^2_i u`: sparse
  :math:`d\,a_i(x)\,\partial^2_{e_i} u`, or dense :math:`v_i = \sqrt{a_i}\,\xi_i`
  (needs :math:`a \ge 0`).
* **Sums of mixed partials** :math:`\sum_p c_p \partial_{i_p}\partial_{j_p} u` (:func:`mixed`): one
  pair drawn per sample with probability :math:`\propto |c_p|`, each partial polarized exactly.
* The **biharmonic** :math:`\Delta^2 u = \tfrac13\mathbb E_v[\partial^4_v u]`
  for Gaussian :math:`v\sim N(0, I)`, because
  :math:`\mathbb E[v_a v_b v_c v_d] = \delta_{ab}\delta_{cd}+\delta_{ac}\delta_{bd}+\delta_{ad}\delta_{bc}`
  (:func:`gaussian_moment_factor` derives the 3 with SymPy).
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache
from typing import Callable

import sympy as sp
import torch

from symop.errors import MethodError, OptionError

from .taylor import generic_jet

__all__ = [
    "biharmonic",
    "direction_matrix",
    "directional",
    "gaussian_moment_factor",
    "jet",
    "jet2_sum",
    "laplacian",
    "laplacian_and_value",
    "laplacian_tangents",
    "mixed",
    "pad",
    "partial",
    "polarization",
    "rademacher",
]


# ------------------------------------------------------------ exact combinations
@lru_cache(maxsize=None)
def polarization(indices: tuple[int, ...]) -> tuple[tuple[sp.Rational, tuple[tuple[int, int], ...]], ...]:
    """Exact jet combination for the partial derivative over ``indices`` (0-based, repeats allowed).

    Returns ``((c, w), ...)`` with ``w`` a sparse direction ``((index, integer weight), ...)``
    such that :math:`\\partial_{indices} u = \\sum c\\, D^k u[w^{\\otimes k}]`.
    """
    k = len(indices)
    if k == 0:
        return ((sp.Integer(1), ()),)
    terms: dict[tuple[tuple[int, int], ...], sp.Rational] = {}
    for eps in itertools.product((1, -1), repeat=k - 1):
        eps = (1,) + eps
        w: dict[int, int] = {}
        for e, i in zip(eps, indices):
            w[i] = w.get(i, 0) + e
        key = tuple(sorted((i, c) for i, c in w.items() if c != 0))
        if not key:
            continue
        sign = sp.Integer(math.prod(eps))
        if key[0][1] < 0:  # D^k[(-w)^k] = (-1)^k D^k[w^k]
            key = tuple((i, -c) for i, c in key)
            sign *= (-1) ** k
        terms[key] = terms.get(key, sp.Integer(0)) + sign
    factor = sp.Rational(2, math.factorial(k) * 2**k)
    return tuple((factor * c, key) for key, c in sorted(terms.items()) if c != 0)


def direction_matrix(combo, dim: int, dtype=None, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Dense directions ``(P, dim)`` and float coefficients ``(P,)`` of a :func:`polarization`."""
    V = torch.zeros(len(combo), dim, dtype=dtype, device=device)
    c = torch.zeros(len(combo), dtype=dtype, device=device)
    for p, (coef, w) in enumerate(combo):
        c[p] = float(coef)
        for i, weight in w:
            V[p, i] = weight
    return V, c


@lru_cache(maxsize=None)
def gaussian_moment_factor(k: int) -> sp.Integer:
    """:math:`\\mathbb E[(v\\cdot y)^k]` for Gaussian v is ``factor * |y|^k``: ``(k-1)!!`` (3 for k = 4)."""
    z = sp.Symbol("z", real=True)
    density = sp.exp(-z**2 / 2) / sp.sqrt(2 * sp.pi)
    return sp.integrate(z**k * density, (z, -sp.oo, sp.oo))


# ------------------------------------------------------------ random tangents
def rademacher(shape, generator=None, dtype=None, device=None) -> torch.Tensor:
    """Independent signs ``±1`` with equal probability, of shape ``shape``."""
    return (torch.randint(0, 2, shape, generator=generator, device=device) * 2 - 1).to(dtype or torch.get_default_dtype())


def laplacian_tangents(dim: int, samples: int, kind: str, generator=None, dtype=None, device=None):
    """Directions with :math:`E[vv^T] = I`: ``(index, sqrt(dim))`` (sparse) or Rademacher ``(S, dim)`` (dense)."""
    if kind == "sparse":
        index = torch.randint(0, dim, (samples,), generator=generator, device=device)
        return (index, torch.full((samples,), math.sqrt(dim), dtype=dtype, device=device))
    if kind == "dense":
        return rademacher((samples, dim), generator, dtype, device)
    raise OptionError(f"unknown tangents `{kind}`; use sparse or dense.")


def pad(directions, dim: int, total: int):
    """Directions in the first ``dim`` inputs embedded in ``total`` inputs (time columns get 0)."""
    if dim == total or isinstance(directions, tuple):
        return directions
    out = torch.zeros(*directions.shape[:-1], total, dtype=directions.dtype, device=directions.device)
    out[..., :dim] = directions
    return out


def jet(model, x: torch.Tensor, directions, order: int) -> list[torch.Tensor]:
    """Jet of ``model`` (our MLP by Taylor mode; any callable by nested jvp); outputs ``(N, S, out)``."""
    if hasattr(model, "jet"):
        return model.jet(x, directions, order)
    return generic_jet(model, x, directions, order, x.shape[-1])


def jet2_sum(model, x: torch.Tensor, directions) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(f0 (N, out), f1 (N, S, out), Σ_s ∂²_{v_s} f (N, out))``, collapsed where the model supports it."""
    if hasattr(model, "jet2_sum"):
        return model.jet2_sum(x, directions)
    f = jet(model, x, directions, 2)
    return f[0][:, 0], f[1], f[2].sum(1)


# ------------------------------------------------------------ estimators
def partial(model, x: torch.Tensor, indices: tuple[int, ...]) -> torch.Tensor:
    """Exact ``∂_{indices} model`` (0-based input columns) from polarized jets, ``(N, out)``."""
    combo = polarization(tuple(indices))
    if not combo[0][1]:
        return model(x)
    V, c = direction_matrix(combo, x.shape[-1], x.dtype, x.device)
    f = jet(model, x, V, len(indices))[-1]
    return torch.einsum("nso,s->no", f, c)


def laplacian_and_value(model, x: torch.Tensor, dim: int | None = None, samples: int = 16,
                        tangents: str = "sparse", generator=None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(laplacian(model, x, ...), model(x))`` from one pass: the collapsed jet's value coefficient is ``model(x)``.

    A loss that needs both ``u`` and its Laplacian at the same points (``lap(u) + sin(u)``)
    thus pays one pass through the network's first layer, not two.
    """
    total = x.shape[-1]
    dim = total if dim is None else dim
    dirs = pad(laplacian_tangents(dim, samples, tangents, generator, x.dtype, x.device), dim, total)
    if hasattr(model, "laplacian") and getattr(model, "dim", None) == dim:  # a model's own estimator
        if getattr(model, "laplacian_gives_value", False):
            return model.laplacian(x, dirs, samples, value=True)
        return model.laplacian(x, dirs, samples), model(x)
    f0, _, f2 = jet2_sum(model, x, dirs)
    return f2 / samples, f0


def laplacian(model, x: torch.Tensor, dim: int | None = None, samples: int = 16, tangents: str = "sparse",
              generator=None, weights: Callable[[torch.Tensor], torch.Tensor] | None = None,
              per_sample: bool = False) -> torch.Tensor:
    """STDE of :math:`\\sum_i a_i \\partial^2_i u` over the first ``dim`` inputs (``a = 1`` without ``weights``).

    ``weights(x)`` returns ``a(x)`` of shape ``(N, dim)``.  Returns ``(N, out)``,
    or ``(N, S, out)`` unbiased single-direction estimates with ``per_sample``.
    """
    total = x.shape[-1]
    dim = total if dim is None else dim
    n = x.shape[0]
    if weights is None:
        dirs = laplacian_tangents(dim, samples, tangents, generator, x.dtype, x.device)
        if not per_sample:  # collapsed Taylor mode: only the sum over directions is propagated
            if hasattr(model, "laplacian") and getattr(model, "dim", None) == dim:  # a model's own estimator
                return model.laplacian(x, pad(dirs, dim, total), samples)
            return jet2_sum(model, x, pad(dirs, dim, total))[2] / samples
        f2 = jet(model, x, pad(dirs, dim, total), 2)[2]
    else:
        a = weights(x)
        if tangents == "sparse":
            index = torch.randint(0, dim, (n, samples), generator=generator, device=x.device)
            f2 = jet(model, x, (index, torch.ones(n, samples, dtype=x.dtype, device=x.device)), 2)[2]
            f2 = f2 * (dim * torch.gather(a, 1, index))[..., None]
        else:
            if bool((a < 0).any()):
                raise MethodError("dense STDE tangents need a weighted Laplacian with non-negative weights; "
                                  "this one has a negative weight: use `--set tangents=sparse`.")
            xi = rademacher((n, samples, dim), generator, x.dtype, x.device)
            f2 = jet(model, x, pad(xi * a.sqrt()[:, None, :], dim, total), 2)[2]
    return f2 if per_sample else f2.mean(dim=1)


def biharmonic(model, x: torch.Tensor, dim: int | None = None, samples: int = 16, generator=None,
               per_sample: bool = False) -> torch.Tensor:
    """STDE of :math:`\\Delta^2 u = E[\\partial^4_v u] / 3` with Gaussian directions."""
    total = x.shape[-1]
    dim = total if dim is None else dim
    v = torch.randn(samples, dim, generator=generator, dtype=x.dtype, device=x.device)
    f4 = jet(model, x, pad(v, dim, total), 4)[4] / float(gaussian_moment_factor(4))
    return f4 if per_sample else f4.mean(dim=1)


def mixed(model, x: torch.Tensor, pairs, coefficients=None, samples: int = 16, generator=None,
          per_sample: bool = False) -> torch.Tensor:
    r"""STDE of :math:`\sum_p c_p\, \partial_{i_p}\partial_{j_p} u` over many index pairs ``pairs`` ``(P, 2)``.

    Each sample draws one pair with probability :math:`|c_p| / \sum_q |c_q|` and evaluates
    :math:`\partial_i\partial_j u = (\partial^2_{e_i+e_j} u - \partial^2_{e_i-e_j} u)/4` exactly by
    :func:`polarization` (two 2-jets; for ``i = j`` the second direction is 0), so

    .. math::  \Big(\sum_q |c_q|\Big)\,\operatorname{sign}(c_p)\,\partial_{i_p}\partial_{j_p} u

    is unbiased, at a cost of ``2 * samples`` jets whatever ``P`` (``d(d-1)/2`` for all pairs).
    Returns ``(N, out)``, or ``(N, S, out)`` single-draw estimates with ``per_sample``.
    """
    pairs = torch.as_tensor(pairs, device=x.device).reshape(-1, 2)
    c = torch.ones(len(pairs), dtype=x.dtype, device=x.device) if coefficients is None else \
        torch.as_tensor(coefficients, dtype=x.dtype, device=x.device).reshape(-1)
    total = c.abs().sum()
    pick = torch.multinomial(c.abs() / total, samples, replacement=True, generator=generator)
    i, j = pairs[pick, 0], pairs[pick, 1]
    eye = torch.eye(x.shape[-1], dtype=x.dtype, device=x.device)
    V = torch.cat([eye[i] + eye[j], eye[i] - eye[j]])  # (2S, D)
    (plus_c, _), (minus_c, _) = sorted(polarization((0, 1)), key=lambda t: -t[0])  # 1/4 and -1/4
    f2 = jet(model, x, V, 2)[2]
    per = float(plus_c) * f2[:, :samples] + float(minus_c) * f2[:, samples:]
    per = per * (total * torch.sign(c[pick]))[None, :, None]
    return per if per_sample else per.mean(dim=1)


def directional(model, x: torch.Tensor, v: torch.Tensor, order: int = 1) -> torch.Tensor:
    """``∂^order_v model`` with one direction per point ``v`` ``(N, D)``; ``(N, out)``."""
    return jet(model, x, v[:, None, :], order)[order][:, 0]
