"""Derivative engines: evaluate the derivative nodes of the symbolic model on a network.

An engine receives a *model* (any callable ``X (N, D) → (N, fields)``; our
:class:`~symop.nn.network.MLP` or, in tests, an exact function), the points
``X`` (spatial columns first, then time) and evaluates nodes:

* ``autograd``: exact, nested ``torch.autograd.grad`` (the Laplacian in ``d``
  dimensions costs ``d`` backward passes);
* ``stde``: Taylor-mode jets; Laplacians and biharmonics by stochastic Taylor
  derivative estimators with ``samples`` random ``sparse`` or ``dense``
  tangents, any other partial derivative exactly by polarized jets. The
  Laplacian propagates only the sum of the second coefficients (collapsed
  Taylor mode), and a model with its own estimator (a ``laplacian(x,
  directions, samples)`` method and a ``dim``, such as a network with hard
  Dirichlet data) samples only what it chooses, the rest being exact.

Nodes whose argument is not a field (``lap(exact(u))`` in a manufactured
source) are evaluated exactly by autograd on the generated function, detached.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import sympy as sp
import torch
from sympy.core.function import AppliedUndef

from symop.errors import MethodError
from symop.writer import language_text
from symop.model.operators import Laplacian, NormalDerivative, Partial

from . import stde
from .taylor import generic_jet

__all__ = [
    "AUTOGRAD",
    "AutogradEngine",
    "Engine",
    "EngineError",
    "Evaluation",
    "Layout",
    "StdeEngine",
    "make_engine",
]


class EngineError(MethodError):
    """A derivative node an engine cannot evaluate, or an unknown estimator (a sentence for the user)."""


@dataclass
class Layout:
    """How the model's inputs and outputs map to the problem's symbols."""

    dim: int  # spatial dimension
    columns: dict  # sympy Symbol (named coordinate or time) -> input column
    fields: dict  # field name -> output column
    aux: Callable[[sp.Expr], Callable[[torch.Tensor], torch.Tensor]] | None = None  # non-field expr -> X -> (N, 1)

    @property
    def inputs(self) -> int:
        return self.dim + (1 if any(c >= self.dim for c in self.columns.values()) else 0)


def _field_of(expr: sp.Expr, layout: Layout) -> int | None:
    if isinstance(expr, AppliedUndef) and expr.func.__name__ in layout.fields:
        return layout.fields[expr.func.__name__]
    return None


def _has_field(expr: sp.Expr) -> bool:
    return bool(expr.atoms(AppliedUndef))


class Evaluation:
    """One evaluation of nodes at points ``X`` (caches shared work)."""

    def __init__(self, engine: "Engine", model, X: torch.Tensor, layout: Layout, normals: torch.Tensor | None = None,
                 create_graph: bool = True) -> None:
        self.engine, self.model, self.X, self.layout = engine, model, X, layout
        self.normals, self.create_graph = normals, create_graph
        self._out: torch.Tensor | None = None
        self.cache: dict[Any, torch.Tensor] = {}

    def out(self) -> torch.Tensor:
        if self._out is None:
            self._out = self.model(self.X)
        return self._out

    def nodes(self, named: dict[str, sp.Expr]) -> dict[str, torch.Tensor]:
        """Every node of ``named`` (name → node), derivatives first: an engine whose jets carry the
        value (STDE) then hands it to the plain field nodes instead of a second forward pass."""
        plain = {name for name, e in named.items() if _field_of(e, self.layout) is not None}
        out = {name: self.node(e) for name, e in named.items() if name not in plain}
        out.update((name, self.node(named[name])) for name in plain)
        return {name: out[name] for name in named}

    # -- dispatch
    def node(self, node: sp.Expr) -> torch.Tensor:
        L = self.layout
        k = _field_of(node, L)
        if k is not None:
            return self.out()[:, k]
        if isinstance(node, sp.Derivative):
            cols = []
            for var, count in node.variable_count:
                if var not in L.columns:
                    raise EngineError(f"cannot differentiate with respect to `{var}`.")
                cols += [L.columns[var]] * int(count)
            return self._partial(node.expr, tuple(sorted(cols)), node)
        if isinstance(node, Partial):
            return self._partial(node.expr, tuple(sorted(i - 1 for i in node.indices)), node)
        if isinstance(node, Laplacian):
            inner = node.args[0]
            if isinstance(inner, Laplacian):
                k = _field_of(inner.args[0], L)
                if k is not None:
                    return self.engine.biharmonic(self, k)
                return self._aux(inner.args[0], "biharmonic", node)
            k = _field_of(inner, L)
            if k is not None:
                return self.engine.laplacian(self, k)
            return self._aux(inner, "laplacian", node)
        if isinstance(node, NormalDerivative):
            k = _field_of(node.args[0], L)
            if self.normals is None:
                raise EngineError(f"`{language_text(node)}` is only meaningful on the boundary, where normals are "
                                  "known.")
            if k is None:
                return self._aux(node.args[0], "normal", node)
            return self.engine.normal(self, k)
        raise EngineError(f"the pinn method cannot evaluate `{language_text(node)}`.")

    def _partial(self, expr: sp.Expr, cols: tuple[int, ...], node: sp.Expr) -> torch.Tensor:
        k = _field_of(expr, self.layout)
        if k is not None:
            return self.engine.partial(self, k, cols)
        return self._aux(expr, cols, node)

    def _aux(self, expr: sp.Expr, what, node: sp.Expr) -> torch.Tensor:
        L = self.layout
        if _has_field(expr) or L.aux is None:
            raise EngineError(
                f"the pinn method cannot evaluate `{language_text(node)}`: derivatives of expressions of fields "
                "are not supported; write them in terms of derivatives of the fields."
            )
        key = ("aux", expr, what)
        if key not in self.cache and what == "laplacian":
            # exact: forward-over-forward 2-jets along all d coordinate directions, in one batched call
            fn = L.aux(expr)
            X = self.X.detach()
            V = torch.eye(X.shape[-1], dtype=X.dtype, device=X.device)[: L.dim]
            with torch.no_grad():
                self.cache[key] = generic_jet(fn, X, V, 2, X.shape[-1])[2].sum(1)[:, 0]
        if key not in self.cache:
            fn = L.aux(expr)
            X = self.X.detach().requires_grad_(True)
            with torch.enable_grad():
                sub = Evaluation(AUTOGRAD, fn, X, Layout(L.dim, L.columns, {"_": 0}), self.normals, create_graph=False)
                if what == "normal":
                    val = AUTOGRAD.normal(sub, 0)
                elif what == "laplacian":
                    val = AUTOGRAD.laplacian(sub, 0)
                elif what == "biharmonic":
                    val = AUTOGRAD.biharmonic(sub, 0)
                else:
                    val = AUTOGRAD.partial(sub, 0, what)
            self.cache[key] = val.detach()
        return self.cache[key]


class Engine:
    """How derivative nodes are computed on a model; subclasses define the four kinds of node."""

    name = ""
    stochastic = False

    def evaluation(self, model, X, layout, normals=None, create_graph=True) -> Evaluation:
        return Evaluation(self, model, X, layout, normals, create_graph)

    def partial(self, ev: Evaluation, k: int, cols: tuple[int, ...]) -> torch.Tensor:
        raise NotImplementedError

    def laplacian(self, ev: Evaluation, k: int) -> torch.Tensor:
        raise NotImplementedError

    def biharmonic(self, ev: Evaluation, k: int) -> torch.Tensor:
        raise NotImplementedError

    def normal(self, ev: Evaluation, k: int) -> torch.Tensor:
        raise NotImplementedError


class AutogradEngine(Engine):
    """Exact derivatives by nested reverse mode; gradients of ``∂^α u`` are cached for reuse."""

    name = "autograd"

    def partial(self, ev: Evaluation, k: int, cols: tuple[int, ...]) -> torch.Tensor:
        cols = tuple(sorted(cols))
        key = ("ad", k, cols)
        if key in ev.cache:
            return ev.cache[key]
        if not cols:
            return ev.out()[:, k]
        prev = self.partial(ev, k, cols[:-1])
        if not ev.X.requires_grad:
            raise EngineError("the autograd engine needs points with requires_grad=True.")
        if prev.requires_grad:
            (g,) = torch.autograd.grad(prev.sum(), ev.X, create_graph=True)
        else:  # a constant derivative
            g = torch.zeros_like(ev.X)
        for c in range(ev.X.shape[-1]):
            ev.cache.setdefault(("ad", k, tuple(sorted(cols[:-1] + (c,)))), g[:, c])
        return ev.cache[key]

    def laplacian(self, ev: Evaluation, k: int) -> torch.Tensor:
        return sum(self.partial(ev, k, (i, i)) for i in range(ev.layout.dim))

    def biharmonic(self, ev: Evaluation, k: int) -> torch.Tensor:
        d = ev.layout.dim
        return sum(self.partial(ev, k, (i, i, j, j)) for i in range(d) for j in range(d))

    def normal(self, ev: Evaluation, k: int) -> torch.Tensor:
        n = ev.normals
        return sum(self.partial(ev, k, (c,)) * n[:, c] for c in range(n.shape[-1]))


class StdeEngine(Engine):
    """Taylor-mode jets: stochastic Laplacian/biharmonic, exact polarized partials."""

    name = "stde"
    stochastic = True

    def __init__(self, samples: int = 16, tangents: str = "sparse", seed: int = 0) -> None:
        self.samples, self.tangents = int(samples), tangents
        self.seed = seed
        self.generator: torch.Generator | None = None
        self._device = None

    def reseed(self, seed: int, device="cpu") -> None:
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(int(seed))
        self._device = str(device)

    def _gen(self, X: torch.Tensor):
        if self.generator is None or self._device != str(X.device):
            self.reseed(self.seed, X.device)
        return self.generator

    def partial(self, ev: Evaluation, k: int, cols: tuple[int, ...]) -> torch.Tensor:
        key = ("jet", cols)
        if key not in ev.cache:
            ev.cache[key] = stde.partial(ev.model, ev.X, cols)
        return ev.cache[key][:, k]

    def laplacian(self, ev: Evaluation, k: int) -> torch.Tensor:
        key = ("lap",)
        if key not in ev.cache:
            if ev._out is None:  # the jets carry the value: the evaluation's forward pass comes free
                ev.cache[key], ev._out = stde.laplacian_and_value(ev.model, ev.X, ev.layout.dim, self.samples,
                                                                  self.tangents, self._gen(ev.X))
            else:
                ev.cache[key] = stde.laplacian(ev.model, ev.X, ev.layout.dim, self.samples, self.tangents,
                                               self._gen(ev.X))
        return ev.cache[key][:, k]

    def biharmonic(self, ev: Evaluation, k: int) -> torch.Tensor:
        key = ("biharm",)
        if key not in ev.cache:
            ev.cache[key] = stde.biharmonic(ev.model, ev.X, ev.layout.dim, self.samples, self._gen(ev.X))
        return ev.cache[key][:, k]

    def normal(self, ev: Evaluation, k: int) -> torch.Tensor:
        key = ("normal",)
        if key not in ev.cache:
            ev.cache[key] = stde.directional(ev.model, ev.X, stde.pad(ev.normals, ev.normals.shape[-1], ev.X.shape[-1]), 1)
        return ev.cache[key][:, k]


AUTOGRAD = AutogradEngine()


def make_engine(estimator: str, samples: int = 16, tangents: str = "sparse", seed: int = 0) -> Engine:
    """The engine called ``estimator`` (``autograd`` or ``stde``, the latter with ``samples`` tangents of
    kind ``tangents`` drawn from ``seed``)."""
    if estimator == "autograd":
        return AutogradEngine()
    if estimator == "stde":
        return StdeEngine(samples, tangents, seed)
    raise EngineError(f"unknown estimator `{estimator}`; use autograd or stde.")
