r"""Jacobians of residual vectors with respect to a network's parameters, for Gauss–Newton methods.

Two routes, both exact:

* :func:`pointwise_jacobian` — for residuals whose row at a point depends on the
  network only there (its value and derivatives in the inputs at that point):
  ``fn(net, x)`` is evaluated at one point with the network called functionally
  (``torch.func.functional_call``), ``jacrev`` over the parameters gives that
  point's rows and ``vmap`` batches the points.  One reverse pass per point, each
  through a one-point graph: the cost grows like the number of points.
  Derivatives of ``net`` inside ``fn`` must themselves be ``torch.func``
  transforms (:class:`symop.nn.linearise.FunctionalEngine`), not
  ``torch.autograd.grad``.
* :func:`batched_jacobian` — for any residual tensor already computed with its
  graph: batched reverse mode, ``torch.autograd.grad(r, params, grad_outputs=I,
  is_grads_batched=True)``, ``chunk`` rows at a time (a loop of reverse passes
  where a graph cannot be batched).  Each row is a reverse pass through the
  whole batch's graph, so the cost grows like the square of the number of
  points: the fallback where :func:`pointwise_jacobian` does not apply.

Columns are in the order of the parameters given (default: ``model.parameters()``),
each parameter flattened row-major, as :class:`~symop.nn.linearise.Linearisation`
and the optimizers of :mod:`symop.training.curvature` expect.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch.func import functional_call, jacrev, vmap

__all__ = ["batched_jacobian", "pointwise_jacobian"]


def pointwise_jacobian(fn: Callable[..., torch.Tensor], model: torch.nn.Module, X: torch.Tensor,
                       *args: torch.Tensor, params: Sequence[torch.nn.Parameter] | None = None,
                       chunk: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The rows :math:`f(\theta; x_i)` and their Jacobian :math:`\partial f / \partial \theta`, point by point.

    ``fn(net, x, *a)`` returns the ``C`` residuals at the single point ``x``
    (``(1, D)``; ``a`` the matching ``(1, ...)`` slices of ``args``) as a
    ``(1, C)`` or ``(1,)`` tensor, ``net`` being ``model`` with the parameters
    ``params`` (default: all, in ``model.parameters()`` order) as the transform's
    variables.  Returns the values ``(N, C)`` and the Jacobian ``(N, C, P)``;
    ``chunk`` points at a time.
    """
    named = dict(model.named_parameters())
    by_id = {id(p): name for name, p in named.items()}
    params = list(model.parameters()) if params is None else list(params)
    names = [by_id[id(p)] for p in params]
    theta = {n: p.detach() for n, p in zip(names, params)}

    def one(theta_: dict, x: torch.Tensor, *a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        def net(Z: torch.Tensor) -> torch.Tensor:
            return functional_call(model, theta_, (Z,))

        out = fn(net, x[None], *(ai[None] for ai in a)).reshape(-1)
        return out, out

    values, jacs = [], []
    dims = (None, 0) + (0,) * len(args)
    for lo in range(0, X.shape[0], chunk):
        sl = slice(lo, lo + chunk)
        J, v = vmap(jacrev(one, has_aux=True), in_dims=dims)(theta, X[sl].detach(),
                                                             *(a[sl].detach() for a in args))
        n, c = v.shape
        values.append(v.detach())
        jacs.append(torch.cat([J[name].reshape(n, c, -1) for name in names], dim=2).detach())
    return torch.cat(values), torch.cat(jacs)


def batched_jacobian(r: torch.Tensor, params: Sequence[torch.nn.Parameter], chunk: int = 256) -> torch.Tensor:
    """The Jacobian ``(M, P)`` of the flattened ``r`` (computed with its graph) with respect to ``params``.

    Batched reverse mode, ``chunk`` rows at a time; a loop of single reverse
    passes where the graph holds an operation that cannot be batched.  A
    parameter ``r`` does not depend on gets zero columns.
    """
    r = r.reshape(-1)
    params = list(params)
    M = r.shape[0]
    blocks = []
    for lo in range(0, M, chunk):
        rows = min(chunk, M - lo)
        eye = torch.zeros(rows, M, dtype=r.dtype, device=r.device)
        eye[torch.arange(rows), torch.arange(lo, lo + rows)] = 1.0
        try:
            grads = torch.autograd.grad(r, params, grad_outputs=eye, is_grads_batched=True, retain_graph=True,
                                        allow_unused=True)
        except RuntimeError:  # an operation without a batching rule: one reverse pass per row
            per_row = [torch.autograd.grad(r, params, grad_outputs=e, retain_graph=True, allow_unused=True)
                       for e in eye]
            grads = tuple(torch.stack([g[k] if g[k] is not None else torch.zeros_like(p) for g in per_row])
                          for k, p in enumerate(params))
        blocks.append(torch.cat([(g if g is not None else torch.zeros(rows, *p.shape, dtype=r.dtype,
                                                                      device=r.device)).reshape(rows, -1)
                                 for g, p in zip(grads, params)], dim=1).detach())
    return torch.cat(blocks) if blocks else torch.zeros(0, sum(p.numel() for p in params), dtype=r.dtype)
