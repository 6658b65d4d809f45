"""Time-dependent problems: explicit RK, theta / IMEX on the linear part, and
diffusion-vs-rest splitting, all driven by :func:`symop.integrate.integrate`.

Dirichlet nodes: the right-hand side holds ``dg/dt`` there, so the stages of
every scheme carry the data as the scheme integrates them, and every step (and
partial step to a snapshot) ends with the nodes at ``g(t + dt)`` itself
(:class:`DirichletAtStepEnd`; theta schemes solve for it, their Dirichlet rows
reading ``u_b = g(t + dt)``; the compiled step sets it in its last loop).

IMEX schemes step ``u' = L u + s(t) + N(t, u)`` with the data of Neumann and
Robin sides, which reach the rows next to a side through the ghost layers, as
the implicit ``s(t)`` (:func:`flux_data`).

The default step (:func:`default_dt`) follows the stability limit of the scheme
at the largest coefficients over the interval (:data:`DT_SAMPLES` times).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import sympy as sp
import torch

from symop.errors import OptionError, SymopError
from symop.model.analysis import bounded_expand, splitting_caveat
from symop.discrete import stencils
from symop.integrate import (EXPLICIT_METHODS, Scheme, Stepper, ThetaMethod, get_scheme, integrate, make_stepper,
                             split_order)
from symop.threads import SMALL_WORK_ELEMENTS, intra_op_threads, small_work_threads

from .eager import EagerRHS
from .lowering import Lowered, collect, linear_terms, multi_index


#: the most time steps fd takes over a run: beyond, a step is refused rather than attempted
MAX_STEPS = 1e9

#: the implicit scheme of the diffusion sub-flow when fd splits
SPLIT_DIFFUSION = "crank-nicolson"


def reaction_scheme(scheme: str) -> str:
    """The explicit scheme of the rest when fd splits: ``scheme`` if it is explicit, else rk4."""
    return scheme if explicit_scheme(scheme) else "rk4"


def time_order(scheme: str, split: str) -> int:
    """The order in dt of fd with these options: the scheme's, or the splitting's over its sub-flows."""
    if split == "none":
        return get_scheme(scheme).order
    return split_order(split, get_scheme(SPLIT_DIFFUSION).order, get_scheme(reaction_scheme(scheme)).order)


def explicit_scheme(name: str) -> Scheme | None:
    """The registered explicit scheme called ``name``, or None (an implicit or IMEX scheme, or "implicit")."""
    try:
        entry = get_scheme(name)
    except SymopError:
        return None
    return entry if entry.kind == "explicit" else None


def _symbol_max(mi, h, order, periodic=None) -> float:
    """max |symbol| of the stencil ``mi``, times :func:`_closure_factor` on closed axes."""
    out = 1.0
    periodic = periodic or (True,) * len(mi)
    for m, hh, per in zip(mi, h, periodic):
        if m == 0:
            continue
        out *= _interior_symbol(m, order) / hh**m
        if not per:
            out *= _closure_factor(m, order)
    return out


def _interior_symbol(m: int, order: int) -> float:
    """max over theta of |sum_j w_j e^{i j theta}| (unit spacing)."""
    theta = np.linspace(0, np.pi, 257)
    w = stencils.weights(m, order)
    r = len(w) // 2
    sym = sum(wj * np.exp(1j * j * theta) for j, wj in zip(range(-r, r + 1), w))
    return float(np.abs(sym).max())


_CLOSURE: dict[tuple[int, int], float] = {}


def _closure_factor(m: int, order: int) -> float:
    """Spectral radius of the 1D stencil closed by Neumann ghosts over its interior symbol (>= 1).

    The fourth-order closures (:func:`stencils.flux_ghost_weights`) raise the
    spectral radius of the second difference from 16/3 to about 9 h^-2, so a
    step chosen from the interior symbol alone would be unstable.  Measured once
    on 64 cells (h^m times the radius has converged to a few percent there).
    """
    if order <= 2:
        return 1.0
    key = (m, order)
    if key not in _CLOSURE:
        n, g = 65, stencils.half_width(m, order)
        degree = order + 1
        P = np.zeros((n + 2 * g, n))
        P[g:g + n] = np.eye(n)
        for k in range(1, g + 1):
            L, _ = stencils.flux_ghost_weights(degree, k)
            P[g - k, :len(L)] = L
            P[g + n - 1 + k, n - len(L):] = L[::-1]
        A = stencils.matrix_1d(n, m, g, 1.0, order).toarray() @ P
        radius = float(np.abs(np.linalg.eigvals(A)).max())
        _CLOSURE[key] = max(1.0, radius / _interior_symbol(m, order))
    return _CLOSURE[key]


def spectral_estimate(low: Lowered, exprs, U, t, blocks=None) -> tuple[float, float]:
    """(real, imaginary) bounds of the spectrum of dF/du from the node coefficients.

    Each term ``c * D u`` adds ``max|c|`` times the largest symbol of the stencil
    ``D``: to the real bound for even derivatives (diffusion-like), to the
    imaginary one for odd ones (advection-like).  A field second order in time,
    ``u' = v, v' = A u + B v``, is one block: its eigenvalues solve
    ``lambda^2 = A + B lambda``, so ``A`` (the spatial operator on ``u``, a wave
    operator ``c^2 lap``) contributes ``sqrt(|A|)`` (about ``2c/h`` per axis) to
    the imaginary bound, not ``|A|`` to the real one: the step follows the CFL
    condition ``dt ~ h/c`` of the hyperbolic equation instead of a diffusion ``h^2``.

    With ``blocks`` ``U`` is this process's block, and each ``max|c|`` is taken over every block.
    """
    return spectral_estimates(low, exprs, U, [t], blocks)[0]


def spectral_estimates(low: Lowered, exprs, U, times, blocks=None) -> list[tuple[float, float]]:
    """:func:`spectral_estimate` at each of ``times`` (the coefficients at that time and the state ``U``),
    from one generated coefficient function (and, with ``blocks``, one ``all_reduce``)."""
    times = list(times)
    parts = low.jacobian_parts(exprs)
    nodes, _mats, ev, keys = parts
    if ev is None:
        return [(0.0, 0.0)] * len(times)
    if blocks is not None:
        ev = blocks.localize(ev)
    peaks = [c.abs().max() for t in times for c in ev(low.time_tensor(t), U)]
    if blocks is not None:
        from .distributed import all_max

        peaks = all_max(peaks)
    aligned = len(exprs) == len(low.comps)
    pairs = {c.velocity_of: ci for ci, c in enumerate(low.comps) if c.velocity_of is not None} if aligned else {}
    velocity = {v: m for m, v in pairs.items()}
    sizes = [_symbol_max(multi_index(nodes[k], low.comps, low.coords)[1], low.grid.h, low.order,
                         low.grid.periodic) for _ci, k in keys]
    out = []
    for i in range(len(times)):
        re = im = 0.0
        wave: dict[int, float] = {}  # velocity component -> |A| of its field's spatial operator
        for (ci, k), peak, symbol in zip(keys, peaks[i * len(keys):(i + 1) * len(keys)], sizes):
            cj, mi = multi_index(nodes[k], low.comps, low.coords)
            size = float(peak) * symbol
            if pairs.get(ci) == cj and not any(mi):
                continue  # u' = v: the coupling inside the block
            if velocity.get(ci) == cj:
                wave[ci] = wave.get(ci, 0.0) + size
            elif sum(mi) % 2 == 1:
                im += size
            else:
                re += size
        im += sum(math.sqrt(a) for a in wave.values())
        out.append((re, im))
    return out


#: how many equally spaced times of [t0, t1] (both ends included) the default time step looks at when a
#: coefficient of the unknowns changes in time: the stability limit of ``dt(u) = 0.5*(1 + t)*lap(u)`` at t1 = 1
#: is half the one at t0 = 0, and a step chosen at t0 alone blows up on the way
DT_SAMPLES = 9


def dt_sample_times(low: Lowered, exprs, t0: float, t1: float) -> list[float]:
    """The times at which :func:`default_dt` evaluates the spectral bounds: t0 alone when no coefficient of
    the unknowns in ``exprs`` depends on time, else :data:`DT_SAMPLES` equally spaced times of [t0, t1]."""
    if not exprs or not time_dependent(low, exprs):
        return [t0]
    return [t0 + (t1 - t0) * k / (DT_SAMPLES - 1) for k in range(DT_SAMPLES)]


def default_dt(low: Lowered, scheme: str, exprs, U, t0: float, t1: float, blocks=None) -> float:
    """The time step fd takes when none is given: from the stability interval of ``scheme`` and the
    spectral bounds of the right-hand side at ``U`` (this process's block with ``blocks``).

    Coefficients that change in time are evaluated at :func:`dt_sample_times` (:data:`DT_SAMPLES` times
    of [t0, t1], with the state ``U``) and the smallest of the steps is taken, so that the step stays stable
    over the whole interval, not only at t0.
    """
    span = t1 - t0
    explicit = explicit_scheme(scheme)
    if explicit is None or not exprs:
        if not exprs:
            return span / 20.0
        bounds = spectral_estimates(low, exprs, U, dt_sample_times(low, exprs, t0, t1), blocks)
        limit = min(2.5 / max(re + im, 1e-300) for re, im in bounds)
        return min(span / 20.0, max(limit, min(low.grid.h)))
    if explicit.stability is None:
        raise OptionError(f"the scheme `{scheme}` declares no stability interval, so fd cannot choose "
                          "a time step for it; give one with the option dt.")
    bounds = spectral_estimates(low, exprs, U, dt_sample_times(low, exprs, t0, t1), blocks)
    return min(0.9 * min(_stable_step(scheme, explicit.stability, re, im) for re, im in bounds), span)


def _stable_step(scheme: str, stability: tuple[float, float], re: float, im: float) -> float:
    """The largest step of the explicit ``scheme`` (stability intervals ``stability``) for spectral bounds (re, im)."""
    rl, il = stability
    if im > 0 and il == 0.0 and re <= 1e-8 * im:
        raise OptionError(f"the scheme `{scheme}` has no stable step for this problem: its spectrum lies on the "
                          "imaginary axis (a wave or pure advection), where the scheme's stability region has no "
                          "part; use rk4 or ssprk3, an implicit scheme such as crank-nicolson, or give dt.")
    if im > 0 and il == 0.0:
        # forward Euler / Heun on advection: rely on the diffusion to damp it
        return 0.5 * rl / max(re + im * im / max(re, 1e-300), 1e-300)
    return 1.0 / max(re / rl + (im / il if im else 0.0), 1e-300)


class FDLinear:
    """The linear part L (Dirichlet rows zero) and its affine source."""

    def __init__(self, low: Lowered, exprs, solver: str) -> None:
        import scipy.sparse as sps  # not on the explicit path

        from symop.integrate import SparseLinearPart

        self.low = low
        parts = low.jacobian_parts(exprs)
        # coefficients must not depend on time (backward Euler and Crank–Nicolson re-assemble instead)
        if time_dependent(low, exprs):
            raise OptionError("splitting and IMEX schemes in fd need coefficients that do not change in time; "
                              "use backward-euler, crank-nicolson or an explicit scheme such as rk4.")
        U0 = torch.zeros((len(low.comps), *low.shape), dtype=low.dtype, device=low.device)
        L = low.assemble(parts, low.time_tensor(0.0), U0)
        keep = sps.diags((~low.dirichlet_mask.reshape(-1)).astype(np.float64))
        self.L = sps.csr_matrix(keep @ L)
        self.part = SparseLinearPart(self.L, U0.shape, solver=solver)


def time_dependent(low: Lowered, exprs) -> bool:
    """Whether a coefficient of the unknowns in ``exprs`` depends on time."""
    return low.t is not None and any(e.has(low.t) for e in _coefficient_exprs(exprs, low))


def _coefficient_exprs(exprs, low):
    nodes = collect(exprs, low.comps)
    from .lowering import freeze

    out = []
    for e in exprs:
        fe, syms = freeze(e, nodes)
        for s in syms:
            d = sp.diff(fe, s)
            if d != 0:
                out.append(d)
    return out


def initial_state(low: Lowered, t0: float, blocks=None) -> torch.Tensor:
    """The state ``[C, *shape]`` at ``t0``: every component's initial value, Dirichlet nodes set to the data.

    With ``blocks`` (a :class:`symop_fd.distributed.Blocks`) the state of this process's block only: a split
    run never holds the whole grid's initial state.
    """
    from symop.codegen import generate

    shape = low.shape if blocks is None else blocks.shape
    coords = low.coord_tensors if blocks is None else blocks.coord_tensors
    bsets = low.bsets if blocks is None else blocks.bsets
    U0 = torch.zeros((len(low.comps), *shape), dtype=low.dtype, device=low.device)
    for ci, c in enumerate(low.comps):
        if c.initial is None:
            raise OptionError(f"the problem needs an `initial {c.name} = ...` line for a time-dependent solve.")
        fn = generate(c.initial, [*low.coords, low.t], name="initial")
        U0[ci] = torch.broadcast_to(fn(*coords, low.time_tensor(t0)), shape)
        bsets[ci].set_dirichlet(U0[ci], low.time_tensor(t0), rate=False)
    return U0


def set_dirichlet_values(U: torch.Tensor, t, bsets) -> torch.Tensor:
    """Set the Dirichlet nodes of the state ``U`` to the data g(t), in place (``bsets``: each component's
    boundary); returns ``U``."""
    for ci, b in enumerate(bsets):
        if b.dirichlet:
            b.set_dirichlet(U[ci], t, rate=False)
    return U


def dirichlet_values(U: torch.Tensor, t, bsets) -> torch.Tensor:
    """A copy of the state ``U`` whose Dirichlet nodes hold the data g(t)."""
    return set_dirichlet_values(U.clone(), t, bsets)


class DirichletAtStepEnd(Stepper):
    """``inner``'s step, after which the Dirichlet nodes hold the data: u_b^{n+1} = g(t^{n+1}) exactly.

    Inside the step the Dirichlet nodes follow ``u_b' = dg/dt`` through the
    scheme's own stages (the right-hand side holds dg/dt there), from the exact
    ``g(t^n)``.  That is the remedy of Carpenter, Gottlieb, Abarbanel and Don
    (SIAM J. Sci. Comput. 16, 1995) against the order reduction that imposing
    ``g(t^n + c_i dt)`` at the intermediate stages of a Runge–Kutta method
    causes; what it adds up to at the end of the step differs from ``g(t^{n+1})``
    by the scheme's local error (a jump of g, whose dg/dt is zero, it misses
    altogether).  Resetting the nodes to ``g(t^{n+1})`` after every step (and
    every partial step to a snapshot) keeps that error from accumulating and
    switches data on when they jump: only the interior, which saw the stage
    values, carries the scheme's O(dt^p).
    """

    def __init__(self, inner: Stepper, bsets, low: Lowered) -> None:
        self.inner = inner
        self.bsets = bsets
        self.low = low
        self.name = inner.name
        self.order = inner.order
        #: the growth monitor's look at every step or not: the inner stepper's choice
        self.watch_every_step = getattr(inner, "watch_every_step", True)

    def step(self, t: float, u: torch.Tensor, dt: float) -> torch.Tensor:
        v = self.inner.step(t, u, dt)
        return set_dirichlet_values(v.clone() if v is u else v, self.low.time_tensor(t + dt), self.bsets)


class LastTimes:
    """``f(t)`` remembered for the last ``size`` times asked: an IMEX step asks for the data at its stage times
    on both sides, and for its end time again as the next step's start (``t + dt`` and the driver's next ``t``
    may differ in the last bits, so times within 1e-12 relative count as the same)."""

    def __init__(self, f, size: int = 3) -> None:
        self.f = f
        self.size = size
        self.seen: list[tuple[float, torch.Tensor]] = []

    def __call__(self, t: float) -> torch.Tensor:
        t = float(t)
        for s, value in self.seen:
            if abs(s - t) <= 1e-12 * max(1.0, abs(t)):
                return value
        value = self.f(t)
        self.seen = [*self.seen[-(self.size - 1):], (t, value)]
        return value


def flux_data(low: Lowered, lin_exprs, full, Z, bsets, blocks=None):
    """The data of Neumann and Robin sides as IMEX schemes take them: ``s(t)``, the linear part of the
    right-hand side at U = 0 (the ghost layers hold the data there), Dirichlet rows zero; None when no side of
    any component has such data.

    They enter the rows next to the side as a forcing of size ``|g|/h`` (2 g/h for a second difference), a
    stiff forcing: on the explicit side of ARS(2,2,2) time-dependent fluxes cost half an order (1.54 observed
    in the max norm), on the implicit side the order is 2.  Sources and the rates of Dirichlet nodes stay with
    the explicit terms, which they often nearly cancel (a manufactured source balances the nonlinear terms):
    moved to the implicit side they raised the error of nonlinear manufactured problems 6 to 25-fold.
    """
    if not any(c.kind in ("neumann", "robin") or c.flux is not None
               for comp in low.comps for c in comp.conditions.values()):
        return None
    ev = low.evaluator({c.name: e for c, e in zip(low.comps, lin_exprs)}, "fluxes")
    ev = ev if blocks is None else blocks.localize(ev)
    return LastTimes(lambda t: _zero_dirichlet(full(t, Z, ev, False), bsets))


def run_evolution(low: Lowered, options: dict, progress_cb=None, snapshots=None, blocks=None):
    """Integrate the lowered problem over its time interval: (trajectory, info).

    ``snapshots(t0, t1, dt)`` gives the ``save_times`` of :func:`symop.integrate.integrate`
    (default: the option ``save`` as a count, else the first and last states only).
    ``blocks`` (a :class:`symop_fd.distributed.Blocks`): this process steps its
    block of a grid split over several processes; the trajectory is the block's.
    """
    problem = low.problem
    t0, t1 = float(problem.time.start), float(problem.time.end)
    U0 = initial_state(low, t0, blocks)  # this process's block under several processes

    rhs_ev = low.rhs if blocks is None else blocks.localize(low.rhs)
    bsets = low.bsets if blocks is None else blocks.bsets
    u0 = U0  # the stepped state (it also sets the default dt)
    linear = FDLinear if blocks is None else blocks.linear

    # the right-hand side is one eager pass into a [C, *shape] tensor (symop_fd.eager), on this process's block
    # under several processes
    fast = EagerRHS(low) if blocks is None else EagerRHS(low).localize(blocks)

    def full(t, U, evaluator=rhs_ev, dirichlet=True):
        tt = low.time_tensor(t) if not isinstance(t, torch.Tensor) else t
        out = fast(tt, U) if fast is not None and evaluator is rhs_ev else torch.stack(evaluator(tt, U))
        for ci, b in enumerate(bsets):
            if b.dirichlet:
                b.set_dirichlet(out[ci], tt, rate=dirichlet)
        return out

    scheme = options.get("scheme") or "rk4"
    split = options.get("split") or "none"
    # compile: true on the paths the fused step does not take (splitting, implicit and IMEX schemes)
    if options.get("compile") and blocks is None and (split != "none" or not explicit_scheme(scheme)):
        inner = full
        _dynamo_can_import_generated_code()

        compiled = getattr(low, "_compiled_rhs", None)
        if compiled is None:  # once per lowering: later runs reuse the compiled code
            compiled = torch.compile(lambda tt, U: inner(tt, U), dynamic=False)
            low._compiled_rhs = compiled

        def full(t, U, evaluator=rhs_ev, dirichlet=True):  # noqa: F811
            if evaluator is rhs_ev and dirichlet:
                return compiled(low.time_tensor(t), U)
            return inner(t, U, evaluator, dirichlet)

    solver = options.get("solver") or "auto"
    exprs = [c.rhs for c in low.comps]
    info = {"scheme": scheme, "split": split}

    if split != "none":
        caveat = splitting_caveat(low.problem)
        if caveat:
            warnings.warn(caveat, stacklevel=2)
            info["caveat"] = caveat
        diff_exprs, rest_exprs = [], []
        for c in low.comps:
            dterms, rterms = [], []
            for term in sp.Add.make_args(bounded_expand(c.rhs)):
                nodes = collect([term], low.comps)
                order = max([sum(multi_index(nd, low.comps, low.coords)[1]) for nd in nodes] + [0])
                (dterms if order >= 2 else rterms).append(term)
            diff_exprs.append(sp.Add(*dterms))
            rest_exprs.append(sp.Add(*rterms))
        for e in diff_exprs:
            lin, non = linear_terms(e, collect([e], low.comps), [sp.Dummy() for _ in collect([e], low.comps)])
            if non != 0:
                raise OptionError("splitting in fd needs diffusion terms that are linear in the unknowns.")
        lin = linear(low, diff_exprs, solver)
        diff_ev = low.evaluator({c.name: e for c, e in zip(low.comps, diff_exprs)}, "diffusion")
        diff_ev = diff_ev if blocks is None else blocks.localize(diff_ev)
        Z = torch.zeros_like(u0)

        def rest(t, U):
            d = _zero_dirichlet(full(t, U, diff_ev, False), bsets)
            return full(t, U) - d

        # implicit diffusion by Crank–Nicolson, the rest by the chosen explicit scheme (rk4 otherwise)
        stepper = make_stepper(SPLIT_DIFFUSION, split, linear=lin.part,
                               source=lambda t: _zero_dirichlet(full(t, Z, diff_ev, False), bsets), reaction=rest,
                               reaction_scheme=reaction_scheme(scheme))
        dt_exprs = rest_exprs
        dt_scheme = stepper.b.name
    elif blocks is None and explicit_scheme(scheme) and scheme in EXPLICIT_METHODS and (
            fused := _fused(low, scheme, options, lambda: _step_count(low, scheme, exprs, U0, t0, t1, options))):
        stepper = fused
        dt_exprs, dt_scheme = exprs, scheme
        info["compiled"] = True
    elif explicit_scheme(scheme):
        stepper = make_stepper(scheme, rhs=lambda t, U: full(t, U))
        dt_exprs, dt_scheme = exprs, scheme
    else:
        entry = get_scheme(scheme)
        nodes = collect(exprs, low.comps)
        lin_exprs, non_exprs = [], []
        for e in exprs:
            le, ne = linear_terms(e, nodes, [sp.Dummy() for _ in nodes])
            lin_exprs.append(le)
            non_exprs.append(ne)
        nonlinear = any(ne != 0 and collect([ne], low.comps) for ne in non_exprs)
        Z = torch.zeros_like(u0)

        def fixed(t, R):  # theta schemes: the Dirichlet rows of the solve read u_b = g(t + dt)
            return dirichlet_values(R, low.time_tensor(t), bsets)

        if entry.kind == "implicit" and not nonlinear and time_dependent(low, lin_exprs):
            from .theta import TimeDependentTheta

            if blocks is not None:
                raise OptionError(f"`{scheme}` re-assembles this problem's time-dependent coefficients every step, "
                                  "which fd does in one process; run it in one process, or use an explicit scheme "
                                  "under torchrun.")

            if entry.theta is None:
                raise OptionError(f"fd re-assembles time-dependent coefficients only for theta schemes, not "
                                  f"`{scheme}`; use backward-euler or crank-nicolson.")
            stepper = TimeDependentTheta(low, lin_exprs, lambda t: full(t, Z), entry.theta, solver, fixed=fixed)
            dt_exprs = []
        elif entry.kind == "implicit" and not nonlinear:
            lin = linear(low, lin_exprs, solver)
            if entry.theta is not None:  # the Dirichlet rows of the solve hold g(t + dt) itself
                stepper = ThetaMethod(lin.part, lambda t: full(t, Z), theta=entry.theta, fixed=fixed)
            else:
                stepper = make_stepper(scheme, linear=lin.part, source=lambda t: full(t, Z))
            dt_exprs = []
        else:
            # an IMEX scheme, or an implicit one whose IMEX partner takes the nonlinear terms explicitly
            lin = linear(low, lin_exprs, solver)
            fluxes = flux_data(low, lin_exprs, full, Z, bsets, blocks)
            if fluxes is None:
                stepper = make_stepper(scheme, linear=lin.part, explicit=lambda t, U: full(t, U) - lin.part.matvec(U))
            else:  # F(t, U) = L U + s(t) + N(t, U), the flux data s implicit
                stepper = make_stepper(scheme, linear=lin.part, source=fluxes,
                                       explicit=lambda t, U: full(t, U) - lin.part.matvec(U) - fluxes(t))
            dt_exprs = [e for e in non_exprs if collect([e], low.comps)]
        dt_scheme = "heun"
    dt = options.get("dt")
    if dt is None:
        dt = default_dt(low, dt_scheme if dt_exprs else "implicit", dt_exprs, U0, t0, t1, blocks)
        if dt_exprs and (split != "none" or not explicit_scheme(scheme)):
            # the stability limit of the explicit part alone (mild reactions: the whole interval) is no accuracy
            # limit: at least 20 steps, as for the implicit schemes
            dt = min(dt, (t1 - t0) / 20)
    info["dt_default"] = options.get("dt") is None
    steps_needed = (t1 - t0) / float(dt) if float(dt) > 0 else float("inf")
    if not steps_needed <= MAX_STEPS:
        where = ("the stability limit of the explicit part at the initial state gives dt = "
                 f"{float(dt):.3g}" if options.get("dt") is None else f"dt = {float(dt):.3g}")
        raise OptionError(f"{where}, so the interval [{t0:g}, {t1:g}] would take {steps_needed:.3g} steps (at most "
                          f"{MAX_STEPS:.0e} are taken): a term of the equation is that stiff at the initial state, and fd "
                          "steps nonlinear terms explicitly; check the equation's scaling and its initial data.")
    save = options.get("save")
    save_times = snapshots(t0, t1, float(dt)) if snapshots is not None else (int(save) if save else None)
    fields = (lambda t, U: {c.name: U[i] for i, c in enumerate(low.comps) if c.name in problem.field_names}) \
        if blocks is None else None
    if not info.get("compiled") and any(b.dirichlet for b in bsets):
        # every step ends with the Dirichlet nodes at g(t + dt) (the compiled step sets them itself)
        stepper = DirichletAtStepEnd(stepper, bsets, low)
    threads = eager_threads(low) if blocks is None and not info.get("compiled") else None
    with intra_op_threads(threads):
        traj = integrate(stepper if blocks is None else blocks.stepper(stepper), u0, t0, t1, float(dt),
                         save_times=save_times, progress=progress_cb, fields=fields)
    info.update(steps=traj.steps, dt=traj.dt)
    if threads is not None:
        info["threads"] = threads
    return traj, info


#: below this many grid points the eager time loop on the CPU runs on one intra-op thread.  An eager step is a
#: dozen element-wise passes; at 256² (65,536 points, 0.5 MB a pass) each takes tens of microseconds, and
#: splitting it over OpenMP threads costs more than it saves: on 2 cores (benchmarks/RESULTS.md, fd) 1000 eager
#: heat steps at 256² on 2 threads took 1.5-1.7x the wall time and 2-2.5x the CPU time of 1 thread at load
#: average 0.5, and 8-20x both at load 4-7, where the workers spin-wait for a descheduled peer.  The compiled
#: step keeps every thread.
EAGER_THREAD_POINTS = SMALL_WORK_ELEMENTS


def eager_threads(low: Lowered) -> int | None:
    """The intra-op thread count of an eager run on ``low``: 1 on the CPU below
    :data:`EAGER_THREAD_POINTS` points, else None (torch's setting stays)."""
    return small_work_threads(int(np.prod(low.shape)), low.device)


#: below this many point-stage evaluations (steps x stages x grid points) a default run steps eagerly on the
#: CPU: about a second of eager stepping, less than loading a compiled step (importing the compiler and
#: reading its on-disk cache) costs
CPU_COMPILE_WORK = 2**27
#: on a GPU the eager step is bound by kernel launches, not points: the same in steps x stages
GPU_COMPILE_STAGES = 20_000


def _step_count(low: Lowered, scheme: str, exprs, U0, t0: float, t1: float, options: dict) -> int:
    """Steps of an explicit run: from the option ``dt``, else from the default time step."""
    dt = options.get("dt") or default_dt(low, scheme, exprs, U0, t0, t1)
    return max(1, math.ceil((t1 - t0) / float(dt) - 1e-9))


def worth_compiling(low: Lowered, scheme: str, steps: int) -> bool:
    """Whether the default compiles: a compiled step of this structure exists, or the run is long enough to pay.

    On the CPU: ``steps x stages x points >= CPU_COMPILE_WORK``; on a GPU:
    ``steps x stages >= GPU_COMPILE_STAGES``.
    """
    from . import fused

    if low.__dict__.get("_fused_steppers", {}).get(scheme):
        return True
    if fused._CACHE and fused.FusedExplicitRK(low, scheme, compile=False).key() in fused._CACHE:
        return True  # compiled before in this process for another lowering of the same structure
    stages = EXPLICIT_METHODS[scheme].stages
    if str(low.device).startswith("cpu"):
        return steps * stages * int(np.prod(low.shape)) >= CPU_COMPILE_WORK
    return steps * stages >= GPU_COMPILE_STAGES


def _fused(low: Lowered, scheme: str, options: dict, steps=None):
    """The compiled whole-step stepper, or None: not asked for, or compilation unavailable (said in one line).

    ``compile: true`` compiles; ``false`` does not; unset, fd compiles unless
    ``SYMOP_COMPILE=0`` or the run is too short to pay (:func:`worth_compiling`,
    ``steps()`` gives the step count).  Made once per lowering and scheme; its
    compiled code is shared by every lowering of the same structure (:mod:`symop_fd.fused`).
    """
    from .fused import CompileUnavailable, FusedExplicitRK, compile_default, say_eager

    choice = options.get("compile")
    if not compile_default(choice):
        return None
    if choice is None and steps is not None and not worth_compiling(low, scheme, steps()):
        return None
    cache = low.__dict__.setdefault("_fused_steppers", {})
    if scheme not in cache:
        _dynamo_can_import_generated_code()
        try:
            cache[scheme] = FusedExplicitRK(low, scheme)
        except CompileUnavailable as e:
            say_eager(str(e))
            cache[scheme] = None
    return cache[scheme]


def _dynamo_can_import_generated_code() -> None:
    """torch.compile imports the ``__name__`` module of traced functions; the
    generated code says ``symop.codegen.generated``, which is no real module."""
    import sys
    import types

    mod = sys.modules.setdefault("symop.codegen.generated", types.ModuleType("symop.codegen.generated"))
    mod.torch = torch
    mod.math = math


def _zero_dirichlet(out, bsets):
    """``out`` with the Dirichlet nodes of every component (``bsets``' masks) set to zero, in place."""
    for ci, b in enumerate(bsets):
        if b.dirichlet:
            out[ci][torch.as_tensor(b.mask, device=out.device)] = 0.0
    return out
