r"""Time steps of INSR: each one a fit of the network, warm-started, whose loss is a scheme's update.

With :math:`u` the state at :math:`t` (a frozen network), :math:`v` the
network being fitted and :math:`F` the right-hand side (or the groups of it
that a sub-flow of a splitting takes), the residual at fresh points
:math:`x_i` of each training iteration is

* explicit Runge–Kutta (a tableau of :mod:`symop.integrate`):
  :math:`v(x) - U(x)` with :math:`U` what :class:`~symop.integrate.ExplicitRK`
  builds from states (:mod:`symop_insr.state`), :math:`U = u + \Delta t \sum_i b_i k_i`;
* the theta family (``backward-euler`` :math:`\theta = 1`, ``crank-nicolson``
  :math:`\theta = 1/2`, from the registry):
  :math:`v - u - \Delta t\,[\theta F(t + \Delta t, v) + (1 - \theta) F(t, u)]`;
* the implicit midpoint rule: :math:`v - u - \Delta t\, F(t + \Delta t/2, (u + v)/2)`;
* semi-Lagrangian advection of :math:`\partial_t w + a \cdot \nabla w = 0`:
  :math:`v(x) - u(x_*)` at the foot of the characteristic,
  :math:`x_* = x - \Delta t\, a(x - \tfrac{\Delta t}{2} a(x))` (midpoint rule, :math:`a` at
  :math:`t + \Delta t/2`, a velocity that depends on the fields read from :math:`u`).

The loss of the step is the mean of the squared residual over points and
components plus the boundary terms of :math:`v` at the step's end time; it is
minimised by the shared loop (:func:`symop.training.optimize`) with any
registered optimizer, and stops early when it falls below a tolerance.  For the
Gauss–Newton optimizers (``engd``) the loss also gives its weighted residual
vector and the exact Jacobian (:class:`StepLoss`): each scheme names the part
of its residual that depends on the new network (its value for the explicit,
semi-Lagrangian and initial fits; :math:`v - \theta\Delta t F(v)` for the theta
family; :math:`v - \Delta t F((u + v)/2)` for the midpoint rule), whose rows
are differentiated point by point.  For ``kfac`` the same rows are evaluated
once more by Taylor-mode jets through a recorder of the network's layers
(:mod:`symop.nn.kfac`; the encoding and the hard-Dirichlet transform in front
of and behind it, :class:`StepLoss.kronecker`): the step's rows are one group
of Kronecker factors (the interior's, as a pinn's equation), the boundary
terms the other.  Each
stepper is a :class:`symop.integrate.Stepper` whose state is a network
snapshot, so :class:`~symop.integrate.LieSplitting` and
:class:`~symop.integrate.StrangSplitting` combine them as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy as sp
import torch

from symop.codegen import generate
from symop.errors import OptionError
from symop.integrate import ExplicitRK, Stepper
from symop.model import analysis
from symop.training import DistInfo, Phase, Schedule, optimize, wrap
from symop.writer import language_text

from .physics import Points, StepPhysics
from .state import Combination, Live, Rate, Snapshot, State

__all__ = ["ExplicitFit", "Fitter", "FitSettings", "Identity", "LiveRows", "MidpointFit", "Rows", "SemiLagrangian",
           "StepLoss", "ThetaFit", "share", "value_rows", "velocity_of"]


@dataclass(frozen=True)
class FitSettings:
    """How each time step is fitted."""

    iterations: int = 200
    optimizer: str = "adam"
    lr: float = 1e-3
    lr_decay: float = 1.0
    #: stop a step's fit when its loss falls below this (0: run every iteration)
    tol: float = 0.0
    points: int = 1024
    #: fresh points every optimizer step (True), or one set of points per fit
    resample: bool = True
    boundary_points: int = 256
    seed: int = 0
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class FitRecord:
    """One fit: the end time, its final loss, the iterations it ran."""

    time: float
    loss: float
    iterations: int
    terms: dict[str, float]


class Fitter:
    """Fits the live network to a residual, warm-started from a state, in the shared training loop.

    With ``info`` of several processes (under ``torchrun``) every process
    draws the whole seeded set of points of each iteration and keeps its
    share (:func:`share`), and the loss calls :attr:`model`, the live network
    wrapped for DDP, which averages the gradients: the processes together fit
    the whole set, as one process does.
    """

    def __init__(self, physics: StepPhysics, live: torch.nn.Module, settings: FitSettings,
                 info: DistInfo | None = None) -> None:
        self.physics, self.live, self.settings = physics, live, settings
        self.info = info or DistInfo()
        #: the live network as the loss calls it: ``live`` itself, or wrapped for DDP under several processes;
        #: its buffers (input encoding, a hard-Dirichlet state's time) are set alike on every process
        self.model = wrap(live, self.info, broadcast_buffers=False)
        self.records: list[FitRecord] = []
        self.count = 0
        if self.info.is_distributed:
            self.batch(0, 0)  # uneven shares are refused before any fit

    def batch(self, index: int, k: int) -> Points:
        """The points of iteration ``k`` of fit ``index`` (seeded by both; by ``index`` alone without ``resample``),
        this process's share of them under several processes."""
        s = self.settings
        rng = np.random.default_rng((s.seed, index, k if s.resample else 0))
        points = self.physics.sample(rng, s.points, s.boundary_points)
        if self.info.is_distributed:
            points = share(points, self.info)
        if self.physics.loss.engine.name == "autograd":
            points.X.requires_grad_(True)
        return points

    def fit(self, start: Snapshot | None, time: float, residual: Callable[[Points], torch.Tensor],
            iterations: int | None = None, label: str = "insr step", live_rows: LiveRows | None = None
            ) -> Snapshot:
        """Train the live network from ``start``'s weights on ``mean(residual**2)`` plus the boundary
        terms at ``time``; the fitted network as a snapshot.

        ``live_rows(state, X, engine)``, when given, is the part of ``residual``
        that depends on the live network (``residual = live_rows(live) - b``
        with ``b`` free of it), evaluated on any state by ``engine``, point by
        point: Gauss–Newton optimizers then take the Jacobian of the step's rows
        through it (:class:`StepLoss`).
        """
        s = self.settings
        if start is not None:
            self.live.load_state_dict(start.module.state_dict())
        if isinstance(getattr(self.live, "time", None), torch.Tensor):  # the time a hard-Dirichlet state stands for
            self.live.time.fill_(float(time))
        index = self.count
        self.count += 1
        steps = s.iterations if iterations is None else iterations
        value = StepLoss(self, time, residual, live_rows)
        until = (lambda record: record.loss < s.tol) if s.tol > 0 else None
        phases = [Phase(steps, s.optimizer, s.lr, Schedule("exponential", s.lr_decay), dict(s.options))]
        result = optimize(self.model, value, phases, batch=lambda k: self.batch(index, k), info=self.info,
                          until=until, label=label, hint="lower `lr` or `dt`")
        self.records.append(FitRecord(time, result.final_loss, len(result.losses),
                                      dict(result.terms[-1]) if result.terms else {}))
        return Snapshot(self.live)


#: ``live_rows(state, X, engine) -> (N, C)``: the rows of a step residual that depend on the live network
LiveRows = Callable[[State, torch.Tensor, Any], torch.Tensor]


@dataclass(frozen=True)
class Rows:
    """Live rows (:data:`LiveRows`) that the functional engine may not evaluate point by point.

    ``pointwise`` false (a node of a known function, which the engines
    differentiate by autograd outside any transform): engd then takes the
    step's Jacobian by reverse mode through the evaluated residual, while kfac's
    Taylor-mode jets evaluate the rows as they are.
    """

    fn: LiveRows
    pointwise: bool = True

    def __call__(self, state: State, X: torch.Tensor, engine: Any = None) -> torch.Tensor:
        return self.fn(state, X, engine)


class StepLoss:
    r"""The loss of one fit, :math:`\mathrm{mean}(r_{step}^2) + \sum_b w_b\,\mathrm{mean}(r_b^2)`, and its linearisation.

    ``loss(points)`` gives the terms (``step`` and each boundary condition's,
    weighted); :meth:`linearise` the stacked weighted residual
    :math:`r = (r_{step}/\sqrt{NC},\ \sqrt{w_b/N_b}\, r_b)`, so that the loss is
    :math:`|r|^2`, and its Jacobian with respect to the live network's parameters
    (``model.parameters()`` order), which the Gauss–Newton optimizers of
    :mod:`symop.training.curvature` (``engd``) step on.
    """

    def __init__(self, fitter: Fitter, time: float, residual: Callable[[Points], torch.Tensor],
                 live_rows: LiveRows | None = None) -> None:
        self.fitter, self.time, self.residual, self.live_rows = fitter, float(time), residual, live_rows

    def __call__(self, points: Points) -> dict[str, torch.Tensor]:
        r = self.residual(points)
        terms = {"step": (r * r).mean()}
        terms.update(self.fitter.physics.boundary(self.fitter.model, self.time, points))
        return terms

    def linearise(self, points: Points):
        """The weighted residuals of every term at ``points`` and their Jacobian (a
        :class:`~symop.nn.linearise.Linearisation`).

        The values are those the loss squares (the same evaluation).  The
        Jacobian's rows come point by point (:func:`symop.nn.jacobian.pointwise_jacobian`)
        with the live network's derivatives in the inputs by the functional
        engine: the step's through ``live_rows``, a boundary term's through its
        generated residual; where a residual has no such form (a node of a known
        function, or no ``live_rows``), by batched reverse mode through the
        evaluated residual (:func:`symop.nn.jacobian.batched_jacobian`).  The
        derivatives are exact: with the STDE estimator the loss is an estimate
        and the Jacobian that of the exact residual.
        """
        from symop.nn.jacobian import batched_jacobian, pointwise_jacobian
        from symop.nn.linearise import FunctionalEngine, Linearisation

        model, physics = self.fitter.model, self.fitter.physics
        params = list(model.parameters())
        engine = FunctionalEngine()
        with torch.enable_grad():
            r = self.residual(points)
        r = r.reshape(r.shape[0], -1)
        scale = 1.0 / r.numel() ** 0.5
        rows, jacs, counts = [scale * r.detach().reshape(-1)], [], [("step", r.numel())]
        if self.live_rows is not None and getattr(self.live_rows, "pointwise", True):
            live_rows = self.live_rows
            _, J = pointwise_jacobian(lambda net, x: live_rows(Live(net), x, engine), model, points.X)
            jacs.append(scale * J.reshape(r.numel(), -1))
        else:
            jacs.append(batched_jacobian(scale * r, params))
        for term, (Xb, normals) in zip(physics.boundary_terms, points.boundary):
            Xt = physics.with_time(Xb, self.time)
            with torch.enable_grad():
                rb = physics.boundary_residual(model, term, Xt, normals).reshape(-1)
            scale = (term.weight / Xb.shape[0]) ** 0.5
            rows.append(scale * rb.detach())
            if physics.pointwise_term(term):
                _, J = pointwise_jacobian(lambda net, x, n, term=term: physics.boundary_residual(net, term, x, n,
                                                                                                  engine),
                                          model, Xt, normals)
                jacs.append(scale * J.reshape(rb.shape[0], -1))
            else:
                jacs.append(batched_jacobian(scale * rb, params))
            counts.append((term.name, rb.shape[0]))
        return Linearisation(torch.cat(rows), torch.cat(jacs), tuple(counts))

    def row_terms(self, points: Points) -> list:
        """The step's terms at ``points`` as :class:`~symop.nn.kfac.RowTerm` s, weighted as :meth:`linearise`
        weighs them: the step's live rows (group ``interior``) with the values the loss squares, then every
        boundary term's residual (group ``boundary``), each evaluated by exact Taylor-mode jets on whatever
        network it is given (the live one with its MLP recorded)."""
        from symop.nn.kfac import ExactJets, RowTerm

        if self.live_rows is None:
            raise OptionError("kfac takes its Kronecker factors from the part of a step's residual that depends on "
                              "the network, and this fit does not give it; use engd.")
        physics = self.fitter.physics
        engine = ExactJets(samples=1, seed=0)
        with torch.enable_grad():
            r = self.residual(points)
        r = r.reshape(r.shape[0], -1).detach()
        scale = 1.0 / r.numel() ** 0.5
        X, live_rows = points.X.detach(), self.live_rows
        terms = [RowTerm("step", "interior", lambda net: scale * live_rows(Live(net), X, engine).reshape(r.shape),
                         scale * r)]
        for term, (Xb, normals) in zip(physics.boundary_terms, points.boundary):
            def rows(net, term=term, Xt=physics.with_time(Xb, self.time).detach(), normals=normals,
                     weight=(term.weight / Xb.shape[0]) ** 0.5) -> torch.Tensor:
                return weight * physics.boundary_residual(net, term, Xt, normals, engine).reshape(-1)

            terms.append(RowTerm(term.name, "boundary", rows))
        return terms

    def kronecker(self, points: Points):
        r"""The Kronecker factors of the step's Gauss–Newton matrix, with :math:`J^\top r` and Jacobian products
        (a :class:`~symop.nn.kfac.Factors`), for ``kfac``.

        The rows are :meth:`row_terms`', differentiated through the copies of
        the live network's layers (:func:`symop.nn.kfac.terms_kronecker`); a
        state of ``C`` components has ``C`` rows per point, one reverse pass
        each.  As for engd, with the STDE estimator the values are the loss's
        estimates and the Jacobian that of the exact rows.
        """
        from symop.nn.kfac import terms_kronecker

        return terms_kronecker(self.fitter.model, self.row_terms(points), self.fitter.physics.dim)


def share(points: Points, info: DistInfo) -> Points:
    """This process's share of ``points``: ``X[rank::world]`` of the interior and of every boundary term's points
    (with their normals).

    The mean of a term over each share, averaged over the processes, is the
    mean over the whole set only when the shares are equally large, so a count
    that the number of processes does not divide is refused.
    """
    counts = [("points", points.X.shape[0])] + [("boundary_points", Xb.shape[0]) for Xb, _ in points.boundary]
    for option, count in counts:
        if count % info.world:
            raise OptionError(f"insr splits its points evenly over the {info.world} processes, and a fit draws "
                              f"{count} {'interior' if option == 'points' else 'boundary'} points per iteration; "
                              f"make {option} (per side of a boundary condition) a multiple of {info.world}.")
    r, w = info.rank, info.world
    return Points(points.X[r::w].contiguous(),
                  [(Xb[r::w].contiguous(), n[r::w].contiguous()) for Xb, n in points.boundary])


class _Fitted(Stepper):
    """A stepper whose step is one fit of :class:`Fitter` to :meth:`residual`."""

    def __init__(self, fitter: Fitter, groups: Sequence[str], name: str, order: int) -> None:
        self.fitter, self.groups, self.name, self.order = fitter, tuple(groups), name, order
        self.physics = fitter.physics

    def rhs(self, t: float, state: State) -> Rate:
        """:math:`F(t, \\cdot)` of this stepper's groups on ``state``, as a state."""
        return Rate(lambda tt, s, X: self.physics.rate(tt, s, X, self.groups), t, state)

    def residual(self, t: float, u: Snapshot, dt: float, live: Live, points: Points) -> torch.Tensor:
        raise NotImplementedError

    def live_rows(self, t: float, u: Snapshot, dt: float) -> LiveRows | None:
        """The part of :meth:`residual` that depends on the new state, ``(state, X, engine) -> (N, C)``, for
        the Jacobian of Gauss–Newton fits (``None``: only through the evaluated residual)."""
        return None

    def step(self, t: float, u: Snapshot, dt: float) -> Snapshot:
        live = Live(self.fitter.model)
        return self.fitter.fit(u, t + dt, lambda points: self.residual(t, u, dt, live, points),
                               label=f"insr {self.name}", live_rows=self.live_rows(t, u, dt))


def value_rows(state: State, X: torch.Tensor, engine: Any = None) -> torch.Tensor:
    """The rows of a residual ``v(X) - target``: the new state's value."""
    return state(X)


class ExplicitFit(_Fitted):
    """An explicit Runge–Kutta step of the registry, built on states, then projected onto the network."""

    def residual(self, t, u, dt, live, points):
        target = ExplicitRK(self.rhs, self.name).step(t, u, dt)
        with torch.enable_grad():
            goal = target(points.X).detach()
        return live(points.X) - goal

    def live_rows(self, t, u, dt):
        return value_rows


class ThetaFit(_Fitted):
    """The theta method: :math:`v - u - \\Delta t [\\theta F(t+\\Delta t, v) + (1-\\theta) F(t, u)]`."""

    def __init__(self, fitter, groups, name, order, theta: float) -> None:
        super().__init__(fitter, groups, name, order)
        self.theta = float(theta)

    def residual(self, t, u, dt, live, points):
        X = points.X
        r = live(X) - u(X).detach()
        if self.theta < 1.0:
            r = r - ((1 - self.theta) * dt) * self.physics.rate(t, u, X, self.groups).detach()
        if self.theta > 0.0:
            r = r - (self.theta * dt) * self.physics.rate(t + dt, live, X, self.groups)
        return r

    def live_rows(self, t, u, dt):
        if self.theta == 0.0:
            return value_rows
        c = self.theta * dt

        def rows(v: State, X: torch.Tensor, engine: Any = None) -> torch.Tensor:
            return v(X) - c * self.physics.rate(t + dt, v, X, self.groups, engine)

        return Rows(rows, self.physics.pointwise(self.groups))


class MidpointFit(_Fitted):
    """The implicit midpoint rule: :math:`v - u - \\Delta t F(t + \\Delta t/2, (u + v)/2)`."""

    def residual(self, t, u, dt, live, points):
        X = points.X
        mid = Combination(((0.5, u), (0.5, live)))
        return live(X) - u(X).detach() - dt * self.physics.rate(t + 0.5 * dt, mid, X, self.groups)

    def live_rows(self, t, u, dt):
        def rows(v: State, X: torch.Tensor, engine: Any = None) -> torch.Tensor:
            mid = Combination(((0.5, u), (0.5, v)))
            return v(X) - dt * self.physics.rate(t + 0.5 * dt, mid, X, self.groups, engine)

        return Rows(rows, self.physics.pointwise(self.groups))


class Identity(Stepper):
    """A sub-flow with nothing to do (its groups are absent): the state unchanged."""

    name, order = "identity", 99

    def step(self, t, u, dt):
        return u


def velocity_of(problem, field: str) -> list[sp.Expr] | None:
    """The velocity :math:`a` with advection part :math:`-a \\cdot \\nabla u` of ``field``'s equation,
    or ``None`` when the advection terms are not of that form (coefficients free of derivatives)."""
    adv = sp.expand(analysis.split(problem, field).advection)
    u = problem.field(field).applied
    space = problem.space
    a, rest = [], adv
    for k in range(space.dimension):
        d = sp.Derivative(u, space.coordinate(k))
        c = sp.expand(adv).coeff(d)
        a.append(sp.expand(-c))
        rest = sp.expand(rest - c * d)
    if rest != 0 or any(c.atoms(sp.Derivative) for c in a):
        return None
    return a


class SemiLagrangian(Stepper):
    """Advection by backtracking: :math:`v(x) = u(x_*)` at the foot of the characteristic, fitted."""

    def __init__(self, fitter: Fitter, problem) -> None:
        self.fitter, self.physics, self.problem = fitter, fitter.physics, problem
        self.name, self.order = "semi-lagrangian", 2
        loss = self.physics.loss
        self.velocity = []
        for f in problem.field_names:
            a = velocity_of(problem, f)
            if a is None:
                raise OptionError(f"advection: semi-lagrangian needs advection terms of the form -a·grad({f}) with "
                                  f"a free of derivatives, and the equation of `{f}` has "
                                  f"`{language_text(analysis.split(problem, f).advection, problem)}`; "
                                  "use advection: scheme.")
            self.velocity.append([generate(problem.numeric(ak), loss.base, name=f"velocity_{f}_{k}",
                                           constants=loss.constants) for k, ak in enumerate(a)])
        lo, hi = problem.domain.bounding_box()
        self.lo, self.hi = np.asarray(lo, float), np.asarray(hi, float)

    def _a(self, u: State, X: torch.Tensor, t: float, column: int) -> torch.Tensor:
        physics = self.physics
        Xt = physics.with_time(X, t)
        ev = physics.loss.engine.evaluation(u, Xt, physics.layout, None, False)
        cols = []
        for fn in self.velocity[column]:
            nodes = {name: ev.node(node) for name, node in fn.nodes.items()}
            cols.append(physics.loss.call(fn, Xt, nodes))
        return torch.stack(cols, dim=1)

    def _foot(self, u: State, X: torch.Tensor, t: float, dt: float, column: int) -> torch.Tensor:
        d = self.physics.dim
        x = X[:, :d]
        half = x - 0.5 * dt * self._a(u, X, t + 0.5 * dt, column)
        foot = x - dt * self._a(u, self._clamp(half, X), t + 0.5 * dt, column)
        return self._clamp(foot, X)

    def _clamp(self, x: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        lo = torch.as_tensor(self.lo, dtype=x.dtype, device=x.device)
        hi = torch.as_tensor(self.hi, dtype=x.dtype, device=x.device)
        periodic = [self.problem.space.names.index(n) for n in self.problem.periodic]
        for k in periodic:  # the network is periodic there: wrap for the clamp below to leave it alone
            x = x.clone()
            x[:, k] = lo[k] + torch.remainder(x[:, k] - lo[k], hi[k] - lo[k])
        x = torch.maximum(torch.minimum(x, hi), lo)  # inflow: the state at the boundary
        return torch.cat([x, X[:, self.physics.dim:]], dim=1)

    def step(self, t: float, u: Snapshot, dt: float) -> Snapshot:
        live = Live(self.fitter.model)

        def residual(points: Points) -> torch.Tensor:
            X = points.X.detach()
            with torch.no_grad():
                goal = torch.stack([u(self._foot(u, X, t, dt, k))[:, k] for k in range(len(self.velocity))], dim=1)
            return live(X)[:, : len(self.velocity)] - goal

        fields = len(self.velocity)
        return self.fitter.fit(u, t + dt, residual, label="insr semi-lagrangian",
                               live_rows=lambda v, X, engine=None: v(X)[:, :fields])
