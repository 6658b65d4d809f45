r"""Kronecker factors of the Gauss–Newton matrix of a physics loss (KFAC for PINNs).

The residuals of a :class:`~symop.nn.loss.PhysicsLoss` are computed from
Taylor-mode jets of the network (value, first-order coefficients along
directions, the collapsed sum of second-order coefficients for a Laplacian).  A
linear layer :math:`z = W a + b` is applied to every coefficient of its input
jet: to ``S`` *copies* :math:`a_{n,s}` per point (the value with the bias, the
derivative coefficients without).  The Jacobian of the residual :math:`r_n` with
respect to :math:`\tilde W = [W\ b]` is therefore

.. math::  \partial r_n / \partial \tilde W = \sum_s g_{n,s}\, \tilde a_{n,s}^\top,
           \qquad g_{n,s} = \partial r_n / \partial z_{n,s},\quad
           \tilde a_{n,s} = (a_{n,s}, [s \text{ is the value}]),

and KFAC-expand (Dangel, Müller & Zeinhofer 2024) approximates the layer's block
of the Gauss–Newton matrix :math:`\sum_n J_n^\top J_n` by :math:`B \otimes A` with

.. math::  A = \frac1N \sum_{n,s} \tilde a_{n,s} \tilde a_{n,s}^\top, \qquad
           B = \sum_{n,s} g_{n,s} g_{n,s}^\top

(``N`` rows; exact when each point has one copy, e.g. a regression on the
network's value).  The interior terms form one pair of factors and the
boundary, initial and periodic terms another; :class:`Factors` holds both per
layer.

:func:`kronecker` computes them with a recording network (:class:`Recorder`)
that evaluates the jets layer by layer and keeps each layer's input copies and
outputs; the residuals come from the loss's generated functions through the
STDE engine's exact polarized partials and a collapsed Laplacian, exact
(:class:`ExactJets`) or, for a stochastic loss, along the loss's own sampled
directions (:func:`estimate_engine`), and the :math:`g` are one reverse pass per
term.  The same copies give :math:`J^\top r` and Jacobian-vector products
:math:`J v` (:class:`Factors`).  It supports symop's
:class:`~symop.nn.network.MLP` without Fourier features, alone or inside
transforms without parameters of their own that offer ``around`` (pinn's hard
Dirichlet constraint and output scale; insr's input encoding and hard
Dirichlet data): an output transform combines the recorder's output jets, an
input encoding hands it the jet of the MLP's input along each line (a curve
for a nonlinear encoding), whose nonzero coefficients are then the first
layer's copies.

The terms need not come from a physics loss: :class:`RowTerm` is any function
from the (recorded) network to weighted residual rows, one or ``C`` per point,
with its group; :func:`terms_kronecker` and :func:`terms_jacobian` take a list
of them (insr's time steps, whose rows are a scheme's update).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
from torch import nn

from symop.errors import OptionError

from symop.model.operators import Laplacian

from .engines import StdeEngine
from .network import MLP
from .taylor import activation_derivatives, compose, dense_directions

__all__ = ["ExactJets", "Factors", "Recorder", "RowTerm", "copies", "estimate_engine", "exact_copies", "jacobian",
           "kronecker", "kfac_unsupported", "loss_terms", "term_copies", "terms_jacobian", "terms_kronecker"]


@dataclass
class Factors:
    """Per layer (hidden layers, then the last), the input factor ``A`` and output factor ``B`` of each group."""

    #: group (``interior``, ``boundary``) -> per layer ``A`` ``(in + 1, in + 1)``
    A: dict[str, list[torch.Tensor]] = field(default_factory=dict)
    #: group -> per layer ``B`` ``(out, out)``
    B: dict[str, list[torch.Tensor]] = field(default_factory=dict)
    #: the weighted residuals ``r`` ``(M,)`` the factors were taken at
    residual: torch.Tensor | None = None
    #: :math:`J^\top r` (half the loss gradient), flattened in ``model.parameters()`` order
    gradient: torch.Tensor | None = None
    #: ``v (P,) -> J v (M,)``, the Jacobian applied to a vector through the recorded copies (no new pass)
    jvp: Callable[[torch.Tensor], torch.Tensor] | None = None


def _inner(model: nn.Module) -> MLP | None:
    """The MLP whose layers hold all of ``model``'s parameters: ``model`` itself, or, at any depth, the ``net`` of
    a wrapper with a method ``around(inner)`` that returns the same wrapper with that MLP replaced by ``inner``
    (an input encoding or an output transform without parameters of its own, such as pinn's hard Dirichlet
    constraint or insr's encoded, hard-wrapped state); ``None`` otherwise."""
    if isinstance(model, MLP):
        return model
    inner = getattr(model, "net", None)
    if isinstance(inner, nn.Module) and callable(getattr(model, "around", None)):
        mlp = _inner(inner)
        if mlp is not None and [id(p) for p in model.parameters()] == [id(p) for p in mlp.parameters()]:
            return mlp
    return None


def kfac_unsupported(model: nn.Module) -> str | None:
    """Why ``kfac`` cannot take Kronecker factors of ``model`` (``None`` when it can)."""
    inner = _inner(model)
    if inner is None:
        return ("kfac takes its Kronecker factors from symop's MLP, alone or inside transforms that offer `around` "
                "(pinn's output transform, insr's encoded state); use engd")
    if inner.fourier > 0:
        return "kfac does not take Kronecker factors through Fourier features; set fourier to 0, or use engd"
    return None


class ExactJets(StdeEngine):
    r"""The STDE engine with its Laplacian taken along every coordinate direction: exact, not sampled.

    :math:`\Delta u = \sum_{i \le d} \partial^2_{e_i} u`, one collapsed jet of ``d``
    directions (a model's own ``laplacian`` gets the ``d`` directions and
    ``samples = 1``); the partials are STDE's exact polarized jets.
    """

    def laplacian(self, ev, k: int) -> torch.Tensor:
        key = ("lap",)
        if key not in ev.cache:
            d, X = ev.layout.dim, ev.X
            eye = torch.eye(X.shape[-1], dtype=X.dtype, device=X.device)[:d]
            model = ev.model
            if hasattr(model, "laplacian") and getattr(model, "dim", None) == d:
                ev.cache[key] = model.laplacian(X, eye, 1)
            else:
                ev.cache[key] = model.jet2_sum(X, eye)[2]
        return ev.cache[key][:, k]


def estimate_engine(loss, seed: int | None) -> StdeEngine:
    """The engine whose residuals the curvature linearises: for a stochastic (STDE) loss with the step's
    ``seed`` its own engine reseeded, so that the residuals are the very estimates the loss squares (same
    directions, the Jacobian that of the estimate, unbiased for the exact one's); otherwise exact jets."""
    engine = loss.engine
    if seed is not None and getattr(engine, "stochastic", False) and isinstance(engine, StdeEngine):
        engine.reseed(seed, loss.device)
        return engine
    return ExactJets(samples=1, seed=0)


class Recorder(nn.Module):
    """An :class:`~symop.nn.network.MLP` evaluated by Taylor mode that records each layer's input copies and outputs.

    ``records[l]`` lists ``(a_tilde, z)`` pairs, ``a_tilde`` ``(N, S, in + 1)``
    (detached) and ``z`` ``(N, S, out)`` (in the graph), for every evaluation
    since :meth:`clear`.  The value pass at a set of points is computed once and
    reused as the zeroth coefficient of every jet at the same points (points
    equal in value, not only the same tensor: a model that rebuilds its input,
    such as an encoding of the points, records one value pass per point).
    Jets run along straight lines (:meth:`jet`, :meth:`jet2_sum`) or along the
    curves of an input jet (:meth:`input_jet`, :meth:`input_jet2_sum`, as
    :class:`~symop.nn.network.MLP` offers them): every nonzero input
    coefficient is a copy of the first layer.
    """

    def __init__(self, net: MLP, dim: int) -> None:
        super().__init__()
        self.net, self.dim = net, int(dim)
        self.inputs, self.outputs = net.inputs, net.outputs
        self.layers = list(net.hidden) + [net.last]
        self.records: list[list[tuple[torch.Tensor, torch.Tensor]]] = [[] for _ in self.layers]
        self._values: list[tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]] = []

    def clear(self) -> None:
        """Forget the recorded copies and the cached value passes."""
        self.records = [[] for _ in self.layers]
        self._values = []

    def _record(self, layer: int, a: torch.Tensor, z: torch.Tensor, value: bool) -> None:
        one = torch.full((*a.shape[:-1], 1), 1.0 if value else 0.0, dtype=a.dtype, device=a.device)
        self.records[layer].append((torch.cat([a.detach(), one], dim=-1), z))

    def _value(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The pre-activations of every hidden layer and the output at ``x`` (recorded once per ``x``)."""
        for seen, pre, out in self._values:
            if seen is x or (seen.shape == x.shape and torch.equal(seen, x.detach())):
                return pre, out
        h = (x - self.net.shift) / self.net.scale
        pre = []
        for l, layer in enumerate(self.net.hidden):  # the recorded z is the one the rest is computed from
            z = layer(h[:, None, :])
            self._record(l, h[:, None, :], z, True)
            z = z[:, 0]
            pre.append(z)
            h = activation_derivatives(self.net.activation, z, 0)[0]
        out = self.net.last(h[:, None, :])
        self._record(len(self.layers) - 1, h[:, None, :], out, True)
        out = out[:, 0]
        self._values.append((x.detach(), pre, out))
        return pre, out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._value(x)[1]

    def _jet(self, x: torch.Tensor, coeffs: list[torch.Tensor | None], collapse: bool) -> list[torch.Tensor]:
        """Coefficients ``1..k`` of the jet at ``x`` whose input coefficients are ``coeffs`` (the raw input's,
        ``None`` for zero); ``collapse``: ``[h_1, sum_s h_2]``, the second order summed over the curves."""
        pre, out = self._value(x)
        n = x.shape[0]
        s = coeffs[0].shape[-2]
        coeffs = [None if c is None else (c[None] if c.dim() == 2 else c).expand(n, *c.shape[-2:]) / self.net.scale
                  for c in coeffs]
        order = 2 if collapse else len(coeffs)
        for l, layer in enumerate(self.layers):
            W = layer.weight
            new = []
            for c in coeffs:
                if c is None:
                    new.append(None)
                    continue
                z = c @ W.T
                self._record(l, c, z, False)
                new.append(z)
            if l == len(self.layers) - 1:
                coeffs = new
                break
            g = activation_derivatives(self.net.activation, pre[l][:, None, :], order)
            if collapse:  # y1 = g' x1, sum_s y2 = g' sum_s x2 + g'' sum_s x1^2 (one copy for the sum)
                x1, x2 = new[0], new[1]
                y2 = g[2][:, 0] * (x1 * x1).sum(1)
                if x2 is not None:
                    y2 = y2 + g[1][:, 0] * x2[:, 0]
                coeffs = [g[1] * x1, y2[:, None, :]]
            else:
                coeffs = compose(g, [pre[l][:, None, :]] + new)[1:]
        return [torch.zeros_like(out[:, None, :]).expand(n, 1 if collapse and k == 1 else s, out.shape[-1])
                if c is None else c for k, c in enumerate(coeffs)]

    def jet(self, x: torch.Tensor, directions, order: int) -> list[torch.Tensor]:
        """``[f_0 (N, 1, out), f_1, ..., f_order (N, S, out)]`` along ``directions``."""
        v = dense_directions(directions, x.shape[-1], x.dtype, x.device)
        return [self._value(x)[1][:, None, :]] + self._jet(x, [v] + [None] * (order - 1), False)

    def jet2_sum(self, x: torch.Tensor, directions):
        """``(f0, f1, sum_s f2)`` by collapsed Taylor mode."""
        v = dense_directions(directions, x.shape[-1], x.dtype, x.device)
        f1, f2 = self._jet(x, [v, None], True)
        return self._value(x)[1], f1, f2[:, 0]

    def input_jet(self, h: list[torch.Tensor | None]) -> list[torch.Tensor]:
        """The jet along the curves of the input jet ``h = [h_0 (N, in), h_1, ..., h_k]`` (each ``(N, S, in)``,
        ``(S, in)`` or ``None``), as :meth:`symop.nn.network.MLP.input_jet`."""
        return [self._value(h[0])[1][:, None, :]] + self._jet(h[0], list(h[1:]), False)

    def input_jet2_sum(self, h0: torch.Tensor, h1: torch.Tensor, h2: torch.Tensor | None):
        """``(f0, f1, sum_s f2)`` along the curves of an input jet whose second coefficients sum to ``h2``
        ``(N, in)``, as :meth:`symop.nn.network.MLP.input_jet2_sum`."""
        f1, f2 = self._jet(h0, [h1, None if h2 is None else h2[:, None, :]], True)
        return self._value(h0)[1], f1, f2[:, 0]

    def laplacian(self, x: torch.Tensor, directions, samples: int) -> torch.Tensor:
        r""":math:`\frac1S \sum_s \partial^2_{v_s} f` along the ``samples`` directions given (collapsed jets): the
        STDE estimate, or with the ``d`` coordinate directions and ``samples = 1`` (:class:`ExactJets`) exact."""
        return self.jet2_sum(x, directions)[2] / samples


@dataclass(frozen=True)
class RowTerm:
    r"""One term of a sum of squared residuals, as the copies see it.

    ``rows(model)`` evaluates the term's weighted residual rows on ``model``
    (the network with its MLP replaced by a :class:`Recorder`), ``(N,)`` or
    ``(N, C)`` for ``C`` residuals per point; its derivative in the recorded
    copies is the Jacobian's.  ``values``, when given, are the weighted
    residuals the loss squares, of the same shape: a term whose rows are only
    the part of the residual that depends on the network (a time step's
    :math:`v - \theta\Delta t F(v)` without the frozen state) gives them here.
    """

    name: str
    #: ``interior`` or ``boundary``: the pair of Kronecker factors the term adds to (:class:`Factors`)
    group: str
    rows: Callable[[nn.Module], torch.Tensor]
    values: torch.Tensor | None = None


def term_copies(model: nn.Module, terms: Sequence[RowTerm], dim: int | None = None):
    """Per term: ``(term, r, [[(a_tilde, g), ...] per layer], layers)``, ``r`` the weighted residuals ``(M,)``
    (detached), ``g = ∂r_m/∂z_{m,s}`` ``(M, S, out)`` of every recorded copy (``None`` where ``r`` does not depend
    on the copy).  A term of ``C`` residuals per point has ``M = N C`` rows, point-major, each with its point's
    copies; it costs one reverse pass per residual of a point (one for a scalar equation).  ``dim``: the spatial
    dimension the recorder's own Laplacian answers for (default: the network's inputs)."""
    why = kfac_unsupported(model)
    if why is not None:
        raise OptionError(why[:1].upper() + why[1:] + ".")
    inner = _inner(model)
    rec = Recorder(inner, inner.inputs if dim is None else dim)
    evaluated = rec if isinstance(model, MLP) else model.around(rec)
    for term in terms:
        rec.clear()
        with torch.enable_grad():
            R = term.rows(evaluated)
        n = R.shape[0] if R.dim() else 1
        R = R.reshape(n, -1)
        C = R.shape[1]
        outs = [z for layer in rec.records for _, z in layer]
        if R.requires_grad:
            per_c = [torch.autograd.grad(R[:, c].sum(), outs, retain_graph=c + 1 < C, allow_unused=True)
                     for c in range(C)]
        else:
            per_c = [[None] * len(outs)] * C
        grads = []
        for i, z in enumerate(outs):
            gs = [g[i] for g in per_c]
            if all(g is None for g in gs):
                grads.append(None)
                continue
            g = torch.stack([torch.zeros_like(z) if g is None else g.detach() for g in gs], dim=1)
            grads.append(g.reshape(n * C, *z.shape[1:]))
        per_layer = []
        for layer in rec.records:
            pairs = []
            for (a, _), g in zip(layer, grads):
                if C > 1:
                    a = a.expand(n, *a.shape[1:])[:, None].expand(n, C, *a.shape[1:]).reshape(n * C, *a.shape[1:])
                pairs.append((a, g))
            per_layer.append(pairs)
            grads = grads[len(layer):]
        values = R if term.values is None else term.values.reshape(n, C)
        yield term, values.detach().reshape(-1), per_layer, rec.layers


def loss_terms(loss, batch: Sequence[tuple[torch.Tensor, torch.Tensor | None]],
               engine: StdeEngine | None = None) -> list[RowTerm]:
    r"""The terms of a :class:`~symop.nn.loss.PhysicsLoss` at ``batch`` as :class:`RowTerm` s, weighted
    :math:`\sqrt{w_t/N_t}` and evaluated by ``engine`` (:func:`estimate_engine`'s; default: exact jets)."""
    engine = engine if engine is not None else ExactJets(samples=1, seed=0)
    out = []
    for term, (X, normals) in zip(loss.terms, batch):
        def rows(model, term=term, X=X.detach(), normals=normals) -> torch.Tensor:
            r = _residual(loss, engine, model, term, X, normals) * (term.weight / X.shape[0]) ** 0.5
            return r.expand(X.shape[0])
        out.append(RowTerm(term.name, "interior" if term.kind == "interior" else "boundary", rows))
    return out


def copies(loss, model: nn.Module, batch: Sequence[tuple[torch.Tensor, torch.Tensor | None]],
           engine: StdeEngine | None = None):
    """:func:`term_copies` of a physics loss's terms (:func:`loss_terms`): one reverse pass per term."""
    return term_copies(model, loss_terms(loss, batch, engine), loss.dim)


def exact_copies(loss) -> bool:
    """Whether the recorder evaluates every node of ``loss`` exactly (a biharmonic is sampled by STDE jets)."""
    return not any(isinstance(node, Laplacian) and isinstance(node.args[0], Laplacian)
                   for term in loss.terms for node in term.fn.nodes.values())


def jacobian(loss, model: nn.Module, batch, engine: StdeEngine | None = None
             ) -> tuple[torch.Tensor, torch.Tensor, tuple[tuple[str, int], ...]]:
    r"""The weighted residuals and their Jacobian from the copies, :math:`J_n = \sum_s g_{n,s}\tilde a_{n,s}^\top`
    per layer (columns in ``model.parameters()`` order): one reverse pass per term instead of one per point.
    Exact, or with a stochastic ``engine`` (:func:`estimate_engine`) that of its estimated residuals."""
    return terms_jacobian(model, loss_terms(loss, batch, engine), loss.dim)


def terms_jacobian(model: nn.Module, terms: Sequence[RowTerm], dim: int | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor, tuple[tuple[str, int], ...]]:
    """:func:`jacobian` of any :class:`RowTerm` s: the residuals, their Jacobian from the copies, and the rows of
    each term."""
    rows, jacs, counts = [], [], []
    for term, r, per_layer, layers in term_copies(model, terms, dim):
        n = r.shape[0]
        cols = []
        for layer, pairs in zip(layers, per_layer):
            M = torch.zeros(n, layer.out_features, layer.in_features + 1, dtype=r.dtype, device=r.device)
            for a, g in pairs:
                if g is not None:
                    M += torch.einsum("nso,nsi->noi", g, a.expand(n, *a.shape[1:]))
            cols += [M[:, :, :-1].reshape(n, -1), M[:, :, -1]]
        rows.append(r)
        jacs.append(torch.cat(cols, dim=1))
        counts.append((term.name, n))
    return torch.cat(rows), torch.cat(jacs), tuple(counts)


def kronecker(loss, model: nn.Module, batch: Sequence[tuple[torch.Tensor, torch.Tensor | None]],
              engine: StdeEngine | None = None) -> Factors:
    """The KFAC-expand factors of ``loss`` (a :class:`~symop.nn.loss.PhysicsLoss`) for ``model`` at ``batch``.

    Rows are weighted as in :func:`~symop.nn.linearise.linearise`
    (:math:`\\sqrt{w_t/N_t}`), so that :math:`\\sum_{groups} B \\otimes A` approximates
    the Gauss–Newton matrix of the loss :math:`|r|^2`.
    """
    return terms_kronecker(model, loss_terms(loss, batch, engine), loss.dim)


def terms_kronecker(model: nn.Module, terms: Sequence[RowTerm], dim: int | None = None) -> Factors:
    """The KFAC-expand factors of the loss :math:`\\sum_t |r_t|^2` of any :class:`RowTerm` s (rows already
    weighted), with its gradient and Jacobian products: what :func:`kronecker` computes for a physics loss, for a
    loss of another form (a time step's update)."""
    factors = Factors()
    rows: dict[str, int] = {}
    layers = []
    kept: list[list[list[tuple[torch.Tensor, torch.Tensor]]]] = []  # per term, per layer, (a, g) with g
    residuals = []
    grads: list[torch.Tensor] | None = None
    dtype = next(model.parameters()).dtype
    for term, r, per_layer, layers in term_copies(model, terms, dim):
        group = term.group
        As = factors.A.setdefault(group, [0.0] * len(layers))
        Bs = factors.B.setdefault(group, [0.0] * len(layers))
        if grads is None:
            grads = [torch.zeros(layer.out_features, layer.in_features + 1, dtype=r.dtype, device=r.device)
                     for layer in layers]
        kept.append([])
        for l, pairs in enumerate(per_layer):
            kept[-1].append([])
            for a, g in pairs:
                a2 = a.reshape(-1, a.shape[-1])
                As[l] = As[l] + a2.T @ a2
                if g is not None:
                    g2 = g.reshape(-1, g.shape[-1])
                    Bs[l] = Bs[l] + g2.T @ g2
                    a = a.expand(r.shape[0], *a.shape[1:])
                    grads[l] += torch.einsum("nso,nsi->oi", g * r[:, None, None], a)
                    kept[-1][-1].append((a, g))
        residuals.append(r)
        rows[group] = rows.get(group, 0) + r.shape[0]
    if residuals:
        factors.residual = torch.cat(residuals)
        factors.gradient = torch.cat([part for M in grads for part in (M[:, :-1].reshape(-1), M[:, -1])])
        shapes = [(layer.out_features, layer.in_features) for layer in layers]

        def jvp(v: torch.Tensor) -> torch.Tensor:
            mats, k = [], 0
            for out, inp in shapes:
                W, b = v[k:k + out * inp].reshape(out, inp), v[k + out * inp:k + out * inp + out]
                mats.append(torch.cat([W, b[:, None]], dim=1))
                k += out * inp + out
            parts = []
            for term_pairs, r in zip(kept, residuals):
                Jv = torch.zeros_like(r)
                for V, pairs in zip(mats, term_pairs):
                    for a, g in pairs:
                        Jv = Jv + ((a @ V.T) * g).sum((1, 2))
                parts.append(Jv)
            return torch.cat(parts)

        factors.jvp = jvp
    for group in factors.A:
        factors.A[group] = [A / rows[group] if isinstance(A, torch.Tensor) else
                            torch.zeros(layer.in_features + 1, layer.in_features + 1, dtype=dtype,
                                        device=layer.weight.device)
                            for A, layer in zip(factors.A[group], layers)]
        factors.B[group] = [B if isinstance(B, torch.Tensor) else
                            torch.zeros(layer.out_features, layer.out_features, dtype=dtype,
                                        device=layer.weight.device)
                            for B, layer in zip(factors.B[group], layers)]
    return factors


def _residual(loss, engine, model, term, X: torch.Tensor, normals) -> torch.Tensor:
    """The residual of ``term`` at ``X`` evaluated on ``model`` by ``engine`` (a periodic term on both faces)."""
    if term.kind == "periodic":
        from .loss import _value_of

        plain = _value_of(term)
        return _residual(loss, engine, model, plain, X, None) - _residual(loss, engine, model, plain, normals, None)
    ev = engine.evaluation(model, X, loss.layout, normals, True)
    nodes = {name: ev.node(node) for name, node in term.fn.nodes.items()}
    return loss.call(term.fn, X, nodes)
