r"""The physics-informed loss, generated from the symbolic model with :mod:`symop.codegen`.

Terms (each a mean of squared residuals, or with ``loss=product`` the mean of
the product of two residuals computed with independent STDE draws, which is an
unbiased estimate of the squared residual):

* one interior term per equation, at points drawn from the domain (times drawn
  uniformly from the time interval);
* one term per boundary condition (Dirichlet, Neumann, Robin or general, with
  the outward normals from ``Domain.sample_boundary``), weighted ``boundary_weight``
  (none for the Dirichlet data of the fields in ``hard``, which the network imposes exactly);
* one term per initial condition ``dt(u, k) = g`` at the start time, weighted
  ``initial_weight``;
* for each periodic coordinate x in [a, b] and each field, terms
  :math:`\partial_x^k u(a, \cdot) - \partial_x^k u(b, \cdot)` for k below the
  highest order of x in the equations, at paired points of the two faces,
  weighted ``boundary_weight``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import sympy as sp
import torch

from sympy.core.function import AppliedUndef

from symop.codegen import generate
from symop.errors import OptionError
from symop.codegen.nodes import collect_nodes
from symop.model.operators import Laplacian
from symop.model.problem import Problem
from symop.writer import language_text

from .engines import Engine, Layout

__all__ = ["COMPILE_DIM", "TORCH_DRAW_DIM", "PhysicsLoss", "Term", "unsupported"]

#: from this many space dimensions a stochastic (STDE) loss compiles its generated residuals
COMPILE_DIM = 4096
#: from this many space dimensions interior points of a steady problem are drawn by torch in the loss's dtype
#: (where the domain can: a ball), since the draw of points x d normal values is then a large share of a step
TORCH_DRAW_DIM = 4096


class _CompiledTerm:
    """A generated residual function run through ``torch.compile``; eager, after one line saying why, if that fails."""

    def __init__(self, fn) -> None:
        self.fn, self.arguments = fn, fn.arguments
        self._call = torch.compile(fn.function)
        self._failed = False

    def __call__(self, *args):
        if not self._failed:
            try:
                return self._call(*args)
            except Exception as e:  # no compiler, an unsupported platform: the residual is the same eagerly
                import sys

                self._failed = True
                text = str(e).strip().splitlines()
                print(f"pinn: evaluating the residual eagerly, since torch.compile is unavailable here "
                      f"({type(e).__name__}: {text[0][:160] if text else ''}).", file=sys.stderr)
        return self.fn(*args)


def unsupported(problem: Problem) -> str | None:
    """Why a derivative engine cannot evaluate the physics loss of ``problem`` (``None`` when it can).

    Engines differentiate the network's fields and known expressions; a
    derivative, Laplacian or normal derivative of an expression *of* a field
    (``dn(u^2)`` in a boundary condition, ``lap(u^2)`` in an indexed space) and
    a substitution node are refused here, before any training, with a sentence.
    """
    fields = set(problem.field_names)
    exprs = [eq.residual for eq in problem.equations] + [bc.residual for bc in problem.boundary]
    exprs += [ic.value for ic in problem.initial]
    for node in collect_nodes(exprs):
        if isinstance(node, AppliedUndef):
            continue
        if isinstance(node, sp.Subs):
            return f"the network methods cannot evaluate `{language_text(node, problem)}`"
        inner = node.args[0]
        if isinstance(node, Laplacian) and isinstance(inner, Laplacian):
            inner = inner.args[0]
        if isinstance(inner, AppliedUndef) and inner.func.__name__ in fields:
            continue
        if inner.atoms(AppliedUndef):
            return (f"the network methods cannot evaluate `{language_text(node, problem)}`: derivatives of "
                    "expressions of fields "
                    "are not supported; write them in terms of derivatives of the fields")
    return None


@dataclass
class Term:
    """One term of the loss: its generated residual, weight and where its points are drawn."""

    name: str
    kind: str  # interior | boundary | initial | periodic
    weight: float
    fn: Any  # GeneratedFunction
    parts: tuple[str, ...] = ()
    order: int = 0


def _value_of(term: Term) -> Term:
    """A periodic term's expression as a plain term, evaluated on one face."""
    return Term(term.name, "boundary", term.weight, term.fn)


class PhysicsLoss:
    """Samples points, evaluates every residual with an engine and sums the weighted terms."""

    def __init__(self, problem: Problem, engine: Engine, *, points: int = 1024, boundary_points: int = 256,
                 boundary_weight: float = 1.0, initial_weight: float = 1.0, loss: str = "mse", seed: int = 0,
                 dtype=torch.float32, device="cpu", hard: tuple[str, ...] = ()) -> None:
        self.problem, self.engine = problem, engine
        self.hard = tuple(hard)  # fields whose Dirichlet data the network satisfies exactly: no boundary term
        self.points, self.boundary_points = int(points), int(boundary_points)
        self.loss_kind, self.seed = loss, int(seed)
        self.dtype, self.device = dtype, torch.device(device)
        space = problem.space
        self.dim = space.dimension
        self.base: list[sp.Basic] = list(space.arguments)
        columns: dict[sp.Basic, int] = {}
        if not space.is_indexed:
            columns = {c: i for i, c in enumerate(space.coords)}
        if problem.t is not None:
            self.base.append(problem.t)
            columns[problem.t] = self.dim
        self.inputs = self.dim + (1 if problem.t is not None else 0)
        self.layout = Layout(self.dim, columns, {n: i for i, n in enumerate(problem.field_names)}, aux=self._aux)
        self.constants = problem.param_values
        self._aux_cache: dict[sp.Expr, Callable] = {}
        self.terms: list[Term] = []
        for eq in problem.equations:
            self.terms.append(Term(f"pde[{eq.field}]", "interior", 1.0, self._generate(eq.residual, f"residual_{eq.field}")))
        for j, bc in enumerate(problem.boundary):
            if bc.field in self.hard and bc.kind == "dirichlet":
                continue
            parts = tuple(problem.domain.sides) if bc.parts in (("all",), ()) else bc.parts
            self.terms.append(Term(f"bc{j}[{bc.field}:{bc.kind}]", "boundary", float(boundary_weight),
                                   self._generate(bc.residual, f"boundary_{j}"), parts))
        for name in problem.periodic:
            axis = problem.space.names.index(name)
            coord = problem.space.coordinate(axis)
            for fld in problem.fields:
                highest = max([dict(d.variable_count).get(coord, 0) for eq in problem.equations
                               for d in eq.residual.atoms(sp.Derivative) if d.expr == fld.applied] + [2])
                for k in range(highest):
                    expr = fld.applied if k == 0 else sp.Derivative(fld.applied, (coord, k))
                    self.terms.append(Term(f"periodic[{fld.name}:{name}:{k}]", "periodic", float(boundary_weight),
                                           self._generate(expr, f"periodic_{fld.name}_{name}_{k}"), order=axis))
        for j, ic in enumerate(problem.initial):
            f = problem.field(ic.field).applied
            lhs = f if ic.order == 0 else sp.Derivative(f, (problem.t, ic.order))
            self.terms.append(Term(f"ic{j}[{ic.field}]", "initial", float(initial_weight),
                                   self._generate(lhs - ic.value, f"initial_{j}"), order=ic.order))

    # ---------------------------------------------------------------- codegen
    @property
    def sampled(self) -> bool:
        """Whether the engine estimates some node of the loss by sampling: a Laplacian (or biharmonic) under STDE.

        A Laplacian written over named coordinates (``space x, y``) is expanded into exact second derivatives
        before it reaches the engine; over indexed ones (``space x[1..d]``) it stays one node, which STDE samples.
        """
        return bool(getattr(self.engine, "stochastic", False)) and any(
            isinstance(node, Laplacian) for term in self.terms for node in term.fn.nodes.values())

    def refuse_unused_sampling(self, options: dict[str, Any], defaults: dict[str, Any]) -> None:
        """Refuse the sampling options among ``samples``, ``tangents`` and ``loss`` that ``options`` sets other
        than ``defaults`` when the engine samples nothing in this loss (:attr:`sampled`): they would change
        nothing."""
        if self.sampled or not getattr(self.engine, "stochastic", False):
            return
        given = [name for name in ("samples", "tangents", "loss") if name in options and name in defaults
                 and options[name] != defaults[name]]
        if given:
            raise OptionError(f"`{given[0]}` acts only where STDE samples a Laplacian, and `{self.problem.name}` has "
                              "none to sample: its derivatives are computed exactly (a Laplacian over named "
                              "coordinates becomes exact second derivatives; over indexed ones, `space x[1..d]`, "
                              f"it is sampled): leave {given[0]} out.")

    def _generate(self, expr: sp.Expr, name: str):
        return generate(self.problem.numeric(expr), self.base, name=name, constants=self.constants)

    def _aux(self, expr: sp.Expr) -> Callable[[torch.Tensor], torch.Tensor]:
        """A non-field expression as a function of the input matrix ``X``, ``(N, 1)``."""
        if expr not in self._aux_cache:
            fn = self._generate(expr, "source")
            self._aux_cache[expr] = lambda X, fn=fn: self.call(fn, X, {})[:, None]
        return self._aux_cache[expr]

    def call(self, fn, X: torch.Tensor, nodes: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.problem.space.is_indexed:
            args = [X[:, : self.dim]]
        else:
            args = [X[:, i] for i in range(self.dim)]
        if self.problem.t is not None:
            args.append(X[:, self.dim])
        args += [nodes[name] for name in fn.arguments[len(self.base):]]
        out = fn(*args)
        return out.expand(X.shape[0]) if out.dim() == 0 else out

    # ---------------------------------------------------------------- sampling
    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(a, dtype=self.dtype, device=self.device)

    def _with_time(self, pts: np.ndarray, rng: np.random.Generator, at: float | None = None) -> np.ndarray:
        if self.problem.t is None:
            return pts
        tm = self.problem.time
        t = np.full(len(pts), tm.start) if at is not None else tm.start + (tm.end - tm.start) * rng.random(len(pts))
        return np.concatenate([pts, t[:, None]], axis=1)

    def sample(self, step: int) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        """Points (and normals) for every term at ``step`` (deterministic in ``seed`` and ``step``)."""
        rng = np.random.default_rng((self.seed, int(step)))
        domain = self.problem.domain
        out = []
        for term in self.terms:
            if term.kind == "interior" and self._torch_draw():
                gen = torch.Generator(device=self.device).manual_seed(int(rng.integers(2**62)))
                out.append((domain.sample_interior_torch(self.points, gen, self.dtype, self.device), None))
            elif term.kind == "interior":
                pts = domain.sample_interior(self.points, seed=rng)
                out.append((self._tensor(self._with_time(pts, rng)), None))
            elif term.kind == "initial":
                pts = domain.sample_interior(self.boundary_points, seed=rng)
                out.append((self._tensor(self._with_time(pts, rng, at=0.0)), None))
            elif term.kind == "periodic":  # the same points on the faces x = a and x = b
                lo, hi = domain.bounding_box()
                pts = self._with_time(domain.sample_interior(self.boundary_points, seed=rng), rng)
                low, high = pts.copy(), pts.copy()
                low[:, term.order], high[:, term.order] = lo[term.order], hi[term.order]
                out.append((self._tensor(low), self._tensor(high)))
            else:
                per = max(1, self.boundary_points // len(term.parts))
                pts, nrm = zip(*(domain.sample_boundary(p, per, seed=rng) for p in term.parts))
                pts, nrm = np.concatenate(pts), np.concatenate(nrm)
                out.append((self._tensor(self._with_time(pts, rng)), self._tensor(nrm)))
        return out

    def _torch_draw(self) -> bool:
        """Whether interior points are drawn by torch (:data:`TORCH_DRAW_DIM`); still seeded by ``(seed, step)``."""
        return (self.dim >= TORCH_DRAW_DIM and self.problem.t is None
                and hasattr(self.problem.domain, "sample_interior_torch"))

    # ---------------------------------------------------------------- residuals
    def residual(self, model, term: Term, X: torch.Tensor, normals: torch.Tensor | None = None,
                 create_graph: bool = True) -> torch.Tensor:
        """The residual of ``term`` at ``X`` (one engine draw); a periodic term's ``normals`` are the paired points."""
        if term.kind == "periodic":
            return self.residual(model, _value_of(term), X, None, create_graph) - \
                self.residual(model, _value_of(term), normals, None, create_graph)
        X = X.detach().requires_grad_(self.engine.name == "autograd")
        ev = self.engine.evaluation(model, X, self.layout, normals, create_graph)
        nodes = ev.nodes(term.fn.nodes)
        return self.call(self._compiled(term.fn), X, nodes)

    def _compiled(self, fn):
        """``fn``, compiled by ``torch.compile`` where that pays: STDE training in ``COMPILE_DIM`` or more dimensions.

        There the generated residual (the source term's elementwise work over
        ``(points, d)`` slices, summed) is a large share of a step, and inductor
        fuses it into a few loops (d = 10⁴: 53 → 39 ms per step,
        ``benchmarks/pinn_step.py``). ``SYMOP_COMPILE=0`` keeps it eager; where
        compilation fails the first call says why in one line and stays eager.
        """
        if self.dim < COMPILE_DIM or not getattr(self.engine, "stochastic", False):
            return fn
        import os

        if os.environ.get("SYMOP_COMPILE", "1").strip().lower() in ("0", "false", "no", "off"):
            return fn
        cache = self.__dict__.setdefault("_compiled_terms", {})
        if id(fn) not in cache:
            cache[id(fn)] = _CompiledTerm(fn)
        return cache[id(fn)]

    def __call__(self, model, batch) -> tuple[torch.Tensor, dict[str, float]]:
        total = 0.0
        parts: dict[str, float] = {}
        for term, (X, normals) in zip(self.terms, batch):
            r = self.residual(model, term, X, normals)
            if self.loss_kind == "product" and self.engine.stochastic and term.kind == "interior":
                r2 = self.residual(model, term, X, normals)
                value = (r * r2).mean()
            else:
                value = (r * r).mean()
            parts[term.name] = float(value.detach())
            total = total + term.weight * value
        return total, parts
