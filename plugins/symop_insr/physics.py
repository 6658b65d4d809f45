r"""What a time step of INSR evaluates, generated from the symbolic model.

The problem is written as a first-order system :math:`s' = F(t, s)` for the
state :math:`s`: one component per field, and for a field of second order in
time (``dt(u, 2) = G``) a second component :math:`v = \partial_t u`, with
:math:`u' = v` and :math:`v' = G` where ``dt(u)`` in :math:`G` reads :math:`v`.
:math:`F` is found by :func:`symop.model.analysis.evolution` and, for
operator splitting, grouped by :func:`symop.model.analysis.split` into
diffusion, advection, reaction and source terms; each group's expression is
compiled once by :mod:`symop.codegen` and its derivative nodes are evaluated
on any state by a derivative engine of :mod:`symop.nn`.

Boundary conditions are the boundary terms of :class:`symop.nn.PhysicsLoss`
(Dirichlet, Neumann, Robin, general), evaluated on the new state at the end
time of the step; periodic axes are exact in the network
(:class:`~symop_insr.network.SpatialNet`) and need no term.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import sympy as sp
import torch

from symop.codegen import generate
from symop.model import analysis
from symop.nn import Layout, PhysicsLoss

from .state import State

__all__ = ["GROUPS", "StepPhysics", "Points"]

#: the groups a right-hand side is split into (:func:`symop.model.analysis.split`)
GROUPS = ("diffusion", "advection", "reaction", "source")


@dataclass
class Points:
    """One batch: interior points ``X`` and, per boundary term, points and outward normals."""

    X: torch.Tensor
    boundary: list[tuple[torch.Tensor, torch.Tensor]]


class StepPhysics:
    """Right-hand sides, initial data and boundary residuals of a problem, on states (see the module docstring)."""

    def __init__(self, problem, loss: PhysicsLoss) -> None:
        self.problem, self.loss = problem, loss
        self.dim = loss.dim
        self.fields = problem.field_names
        self.orders = {f: analysis.time_order(problem, f) for f in self.fields}
        self.second = tuple(f for f in self.fields if self.orders[f] == 2)
        #: the state's components: the fields, then the time derivative of each second-order field
        self.components = self.fields + tuple(f"{f}__dt" for f in self.second)
        columns = {name: k for k, name in enumerate(self.components)}
        self.layout = Layout(loss.dim, loss.layout.columns, columns, aux=loss.layout.aux)
        self._velocity = {}
        for f in self.second:
            fld = problem.field(f)
            self._velocity[sp.Derivative(fld.applied, problem.t)] = sp.Function(f"{f}__dt")(*fld.applied.args)
        self._rates: dict[tuple[str, ...], list] = {}
        self.boundary_terms = [term for term in loss.terms if term.kind == "boundary"]
        self._initial = self._initial_functions()

    # ------------------------------------------------------------ right-hand sides
    def _expr(self, field: str, groups: Sequence[str]) -> sp.Expr:
        if set(groups) >= set(GROUPS):
            _, rhs = analysis.evolution(self.problem, field)
        else:
            parts = analysis.split(self.problem, field)
            rhs = sp.Add(*(parts.part(g) for g in groups))
        return rhs.subs(self._velocity) if self._velocity else rhs

    def rhs_expressions(self, groups: Sequence[str] = GROUPS) -> list[sp.Expr]:
        """:math:`F` (or its ``groups``) per component, as SymPy expressions of the state's components."""
        out = [self._expr(f, groups) if self.orders[f] == 1 else self._velocity_of(f) for f in self.fields]
        out += [self._expr(f, groups) for f in self.second]
        return out

    def _velocity_of(self, field: str) -> sp.Expr:
        fld = self.problem.field(field)
        return sp.Function(f"{field}__dt")(*fld.applied.args)

    def _compile(self, groups: tuple[str, ...]) -> list:
        if groups not in self._rates:
            self._rates[groups] = [
                generate(self.problem.numeric(e), self.loss.base, name=f"rate_{name}", constants=self.loss.constants)
                for name, e in zip(self.components, self.rhs_expressions(groups))]
        return self._rates[groups]

    def source(self, groups: Sequence[str] = GROUPS) -> str:
        """The generated PyTorch source of the right-hand side (what ``symop show --code`` prints)."""
        return "\n".join(fn.source for fn in self._compile(tuple(groups)))

    def with_time(self, X: torch.Tensor, t: float) -> torch.Tensor:
        """``X`` with its time column set to ``t`` (the spatial columns keep their graph)."""
        if self.problem.t is None:
            return X
        col = torch.full((X.shape[0], 1), float(t), dtype=X.dtype, device=X.device)
        return torch.cat([X[:, : self.dim], col], dim=1)

    def rate(self, t: float, state: State, X: torch.Tensor, groups: Sequence[str] = GROUPS,
             engine=None) -> torch.Tensor:
        """:math:`F(t, s)` (only ``groups`` of it) at the points ``X``, ``(N, components)``, differentiable in ``X``.

        With the autograd engine ``X`` must require gradients; the derivatives
        are taken with ``create_graph`` so that a rate of a rate (a Runge–Kutta
        stage) is differentiated exactly.  ``engine`` replaces the loss's
        derivative engine (the functional one of :mod:`symop.nn.linearise`
        evaluates a rate at one point inside ``torch.func`` transforms).
        """
        fns = self._compile(tuple(groups))
        Xt = self.with_time(X, t)
        ev = (engine or self.loss.engine).evaluation(state, Xt, self.layout, None, True)
        cols = []
        for fn in fns:
            nodes = {name: ev.node(node) for name, node in fn.nodes.items()}
            cols.append(self.loss.call(fn, Xt, nodes))
        return torch.stack(cols, dim=1)

    def pointwise(self, groups: Sequence[str] = GROUPS) -> bool:
        """Whether every derivative node of :math:`F` (its ``groups``) is one of a state component, so that a
        rate is evaluated at one point by the functional engine alone (no node of a known function, which the
        engines differentiate by autograd outside any transform)."""
        return all(_of_components(node, self.layout) for fn in self._compile(tuple(groups))
                   for node in fn.nodes.values())

    # ------------------------------------------------------------ initial data
    def _initial_functions(self) -> list:
        out = []
        for name in self.components:
            field, order = (name[:-4], 1) if name.endswith("__dt") and name[:-4] in self.second else (name, 0)
            ic = self.problem.initial_for(field, order)
            out.append(None if ic is None else self.loss.layout.aux(ic.value))
        return out

    def initial(self, X: torch.Tensor) -> torch.Tensor:
        """The initial state at ``X`` (time column at the start), ``(N, components)``; 0 where no data is given."""
        Xt = self.with_time(X, self.problem.time.start)
        cols = [torch.zeros(X.shape[0], dtype=X.dtype, device=X.device) if fn is None else fn(Xt)[:, 0]
                for fn in self._initial]
        return torch.stack(cols, dim=1)

    # ------------------------------------------------------------ boundary
    def boundary(self, model, t: float, points: Points) -> dict[str, torch.Tensor]:
        """Mean squared residual of every boundary condition of the state ``model`` at time ``t``, by name."""
        out = {}
        for term, (Xb, normals) in zip(self.boundary_terms, points.boundary):
            r = self.loss.residual(model, term, self.with_time(Xb, t), normals)
            out[term.name] = term.weight * (r * r).mean()
        return out

    def boundary_residual(self, model, term, X: torch.Tensor, normals: torch.Tensor | None,
                          engine=None) -> torch.Tensor:
        """The residual of the boundary ``term`` at ``X`` (time column set) by ``engine`` (default the loss's),
        the unweighted one that :meth:`boundary` squares."""
        if engine is None:
            return self.loss.residual(model, term, X, normals)
        ev = engine.evaluation(model, X, self.loss.layout, normals, True)
        return self.loss.call(term.fn, X, ev.nodes(term.fn.nodes))

    def pointwise_term(self, term) -> bool:
        """Whether every derivative node of the boundary ``term`` is one of a field (see :meth:`pointwise`)."""
        return all(_of_components(node, self.loss.layout) for node in term.fn.nodes.values())

    # ------------------------------------------------------------ points
    def sample(self, rng: np.random.Generator, interior: int, boundary: int) -> Points:
        """Fresh interior points and boundary points (with normals) for every boundary term."""
        domain = self.problem.domain
        pts = domain.sample_interior(interior, seed=rng)
        X = self.tensor(self._pad(pts))
        out = []
        for term in self.boundary_terms:
            per = max(1, boundary // len(term.parts))
            bp, nrm = zip(*(domain.sample_boundary(p, per, seed=rng) for p in term.parts))
            out.append((self.tensor(self._pad(np.concatenate(bp))), self.tensor(np.concatenate(nrm))))
        return Points(X, out)

    def tensor(self, a: np.ndarray) -> torch.Tensor:
        """``a`` as a tensor of the run's dtype and device."""
        return torch.as_tensor(a, dtype=self.loss.dtype, device=self.loss.device)

    def _pad(self, pts: np.ndarray) -> np.ndarray:
        if self.problem.t is None:
            return pts
        return np.concatenate([pts, np.zeros((len(pts), 1))], axis=1)

    def groups_present(self, groups: Iterable[str]) -> bool:
        """Whether any field's right-hand side has a term in ``groups``."""
        return any(analysis.split(self.problem, f).part(g) != 0 for f in self.fields for g in groups)


def _of_components(node: sp.Expr, layout: Layout) -> bool:
    """Whether ``node`` (a field, or a derivative of one) involves a component of ``layout``."""
    return any(isinstance(a, sp.core.function.AppliedUndef) and a.func.__name__ in layout.fields
               for a in node.atoms(sp.core.function.AppliedUndef))
