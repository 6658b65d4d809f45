r"""The residual vector of a physics loss and its Jacobian with respect to the network's parameters.

A :class:`~symop.nn.loss.PhysicsLoss` is a weighted sum of mean squared
residuals.  Folding the weights in,

.. math::  L(\theta) = \sum_t \frac{w_t}{N_t}\sum_{i=1}^{N_t} r_t(x_i; \theta)^2 = |r(\theta)|^2,
           \qquad r = \Big(\sqrt{w_t / N_t}\; r_t(x_i; \theta)\Big)_{t, i},

and Gauss–Newton methods (:mod:`symop.training.curvature`) need :math:`r` and
its Jacobian :math:`J = \partial r / \partial\theta` (one row per point of every
interior, boundary, initial and periodic term).  :func:`linearise` computes both
from the generated residual functions: every row is the residual at one point,
evaluated by a functional engine (derivatives of the network with respect to its
inputs by nested ``torch.func.jacfwd`` / ``jacrev``) so that ``torch.func.vmap``
over the points and ``jacrev`` over the parameters give all rows at the cost of
one reverse pass per point.  Nodes that involve no field (a manufactured source
``lap(exact(u))``) do not depend on the parameters and are evaluated once, by the
ordinary engine, outside the transforms.

For symop's :class:`~symop.nn.network.MLP` (no Fourier features, no output
transform) the Jacobian comes instead from the Taylor-mode copies of every layer
(:func:`symop.nn.kfac.jacobian`): one reverse pass per term, the rows assembled
as :math:`\sum_s g_{n,s} \tilde a_{n,s}^\top`, exact as well and much cheaper.

With the STDE engine and the step's seed, the rows from the copies are the
loss's own estimates (the same sampled directions: :math:`|r|^2` is the loss)
and the Jacobian is that of the estimate, unbiased for the exact one and of a
cost flat in the dimension; wrapped networks (pinn's hard constraint) are
linearised the same way.  Otherwise the derivatives are exact (the Hessian trace
for a Laplacian): in ``d`` input dimensions the per-point path computes a
derivative of order ``k`` as a tensor of ``d^k`` entries, which suits moderate
dimensions only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import sympy as sp
import torch
from sympy.core.function import AppliedUndef
from torch.func import functional_call, jacfwd, jacrev, vmap

from .engines import Engine, Evaluation, _field_of

__all__ = ["Linearisation", "FunctionalEngine", "linearise"]


@dataclass
class Linearisation:
    """The stacked weighted residual ``r`` (``loss = |r|²``), its Jacobian and which rows belong to which term."""

    #: ``(M,)``, the weights folded in: the loss is ``(residual ** 2).sum()``
    residual: torch.Tensor
    #: ``(M, P)``, columns in the order of the parameters given (``None`` when not asked for)
    jacobian: torch.Tensor | None
    #: ``(name, rows)`` of every term, in the order of the rows
    terms: tuple[tuple[str, int], ...] = ()


class FunctionalEngine(Engine):
    """Exact derivatives of a network at *one* point by nested ``torch.func`` transforms (composable with ``vmap``).

    The evaluation's points are ``(1, D)``; the derivative tensor of order ``k``
    of all outputs, ``(outputs, D, ..., D)``, is computed once (``jacrev`` for
    the first order, ``jacfwd`` above) and every partial, Laplacian, biharmonic
    and normal derivative is read off it.
    """

    name = "functional"

    def _tensor(self, ev: Evaluation, order: int) -> torch.Tensor:
        key = ("tensor", order)
        if key not in ev.cache:
            def f(y: torch.Tensor) -> torch.Tensor:
                return ev.model(y[None])[0]

            for j in range(order):
                f = jacrev(f) if j == 0 else jacfwd(f)
            ev.cache[key] = f(ev.X[0])
        return ev.cache[key]

    def partial(self, ev: Evaluation, k: int, cols: tuple[int, ...]) -> torch.Tensor:
        if not cols:
            return ev.out()[:, k]
        return self._tensor(ev, len(cols))[(k,) + tuple(cols)].reshape(1)

    def laplacian(self, ev: Evaluation, k: int) -> torch.Tensor:
        d = ev.layout.dim
        return torch.diagonal(self._tensor(ev, 2)[k][:d, :d]).sum().reshape(1)

    def biharmonic(self, ev: Evaluation, k: int) -> torch.Tensor:
        d = ev.layout.dim
        t = self._tensor(ev, 4)[k][:d, :d, :d, :d]
        return torch.einsum("iijj->", t).reshape(1)

    def normal(self, ev: Evaluation, k: int) -> torch.Tensor:
        n = ev.normals
        return (self._tensor(ev, 1)[k][: n.shape[-1]] * n[0]).sum().reshape(1)


FUNCTIONAL = FunctionalEngine()


def _depends_on_fields(node: sp.Expr, fields: Mapping[str, int]) -> bool:
    if _field_of(node, type("L", (), {"fields": fields})()) is not None:
        return True
    return any(isinstance(a, AppliedUndef) and a.func.__name__ in fields for a in node.atoms(AppliedUndef))


def linearise(loss, model: torch.nn.Module, batch: Sequence[tuple[torch.Tensor, torch.Tensor | None]],
              params: Sequence[torch.Tensor] | None = None, jacobian: bool = True, chunk: int = 512,
              seed: int | None = None) -> Linearisation:
    """The weighted residual vector of ``loss`` (a :class:`~symop.nn.loss.PhysicsLoss`) at ``batch``, and its Jacobian.

    ``params`` are the parameters the Jacobian's columns belong to (default: all
    of ``model``'s, in ``model.parameters()`` order); the rows come ``chunk``
    points at a time, so memory stays bounded for large batches.  With a
    stochastic (STDE) loss and the ``seed`` its evaluation is reseeded with,
    the residuals of symop's MLP (alone or in pinn's output transform) are the
    loss's own estimates, and the Jacobian theirs (:func:`symop.nn.kfac.estimate_engine`).
    """
    named = dict(model.named_parameters())
    by_id = {id(p): name for name, p in named.items()}
    own = list(model.parameters())
    params = own if params is None else list(params)
    if jacobian and [id(p) for p in params] == [id(p) for p in own]:
        from .kfac import estimate_engine, exact_copies, jacobian as from_copies, kfac_unsupported

        if kfac_unsupported(model) is None and exact_copies(loss):  # symop's MLP: one reverse pass per term
            r, J, counts = from_copies(loss, model, batch, estimate_engine(loss, seed))
            return Linearisation(r, J, counts)
    names = [by_id[id(p)] for p in params]
    theta = {n: p.detach() for n, p in zip(names, params)}
    fields = loss.layout.fields
    rows: list[torch.Tensor] = []
    jacs: list[torch.Tensor] = []
    counts: list[tuple[str, int]] = []
    for term, (X, normals) in zip(loss.terms, batch):
        scale = (term.weight / X.shape[0]) ** 0.5
        plain = term if term.kind != "periodic" else _plain_term(term)
        fixed = [name for name, node in plain.fn.nodes.items() if not _depends_on_fields(node, fields)]
        aux = _aux_values(loss, model, plain, fixed, X, None if term.kind == "periodic" else normals)
        aux_hi = _aux_values(loss, model, plain, fixed, normals, None) if term.kind == "periodic" else aux

        def point(theta_: dict, x: torch.Tensor, n: torch.Tensor, a: dict, a_hi: dict, plain=plain,
                  periodic=term.kind == "periodic", normal=normals is not None) -> torch.Tensor:
            def net(Z: torch.Tensor) -> torch.Tensor:
                return functional_call(model, theta_, (Z,))

            if periodic:
                return _at(loss, net, plain, x, None, a) - _at(loss, net, plain, n, None, a_hi)
            return _at(loss, net, plain, x, n if normal else None, a)

        other = normals if normals is not None else X  # a placeholder where a term has no normals
        with torch.enable_grad():
            for lo in range(0, X.shape[0], chunk):
                sl = slice(lo, lo + chunk)
                args = (X[sl].detach(), other[sl].detach(), {k: v[sl] for k, v in aux.items()},
                        {k: v[sl] for k, v in aux_hi.items()})
                if jacobian:  # the value comes with the reverse pass
                    J, r = vmap(jacrev(lambda *a: (point(*a),) * 2, has_aux=True),
                                in_dims=(None, 0, 0, 0, 0))(theta, *args)
                    jacs.append(scale * torch.cat([J[n].reshape(r.shape[0], -1) for n in names], dim=1).detach())
                else:
                    r = vmap(point, in_dims=(None, 0, 0, 0, 0))(theta, *args)
                rows.append(scale * r.detach())
        counts.append((term.name, X.shape[0]))
    return Linearisation(torch.cat(rows), torch.cat(jacs) if jacobian else None, tuple(counts))


def _plain_term(term):
    from .loss import _value_of

    return _value_of(term)


def _aux_values(loss, model, term, fixed: list[str], X: torch.Tensor | None, normals) -> dict[str, torch.Tensor]:
    """The nodes of ``term`` that involve no field, at every point of ``X`` (ordinary engine, detached)."""
    if not fixed or X is None:
        return {}
    from .engines import AUTOGRAD

    ev = AUTOGRAD.evaluation(lambda Z: torch.zeros(Z.shape[0], 1, dtype=Z.dtype), X.detach(), loss.layout,
                             normals, create_graph=False)
    return {name: ev.node(term.fn.nodes[name]).detach().reshape(X.shape[0]) for name in fixed}


def _at(loss, net, term, x: torch.Tensor, n: torch.Tensor | None, aux: Mapping[str, Any]) -> torch.Tensor:
    """The residual of ``term`` at the single point ``x`` (with normal ``n``), a scalar."""
    X = x[None]
    ev = FUNCTIONAL.evaluation(net, X, loss.layout, None if n is None else n[None], create_graph=True)
    nodes = {name: (aux[name].reshape(1) if name in aux else ev.node(node)) for name, node in term.fn.nodes.items()}
    return loss.call(term.fn, X, nodes)[0]
