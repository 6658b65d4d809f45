"""The ``insr`` discretization: options, what it accepts, and the program that steps a network in time.

A run fits the network to the initial data (and the boundary conditions at
the start time), then takes equal time steps :math:`\\Delta t' = (t_1 - t_0)/n \\le`
``dt``, each a warm-started fit whose loss is the chosen scheme's update
(:mod:`symop_insr.steps`), optionally split into sub-flows (Lie, Strang).
Every step's network is kept: the solution is that sequence
(:class:`~symop_insr.network.SteppedField`), evaluable at any point and time,
with the stored floats in its summary.
"""

from __future__ import annotations

import time as _time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import sympy as sp

from symop.contract import Accuracy, Refinement
from symop.errors import OptionError, SymopError
from symop.integrate import LieSplitting, StrangSplitting, explicit_tableau, get_scheme, scheme_names, split_order
from symop.model import analysis
from symop.nn import ACTIVATIONS
from symop.plugins import Discretization, OnlyWith, Option, Program
from symop.training import get_optimizer, optimizer_names
from symop.writer import language_text

if TYPE_CHECKING:  # pragma: no cover - the options are read without torch (`symop plugins`)
    import torch

    from symop.solution import Solution

    from .physics import StepPhysics
    from .steps import Fitter

#: schemes of the registry this method steps (explicit Runge–Kutta and the theta family), and its own
MIDPOINT = "midpoint"
#: fits a time step may take at most (seeds of its points: step k's fits are numbered from FITS_PER_STEP * k)
FITS_PER_STEP = 16
#: the sub-flows of a splitting: A (diffusion and source), then B (advection and reaction)
SUBFLOWS = (("diffusion", "source"), ("advection", "reaction"))


#: `damping` acts only with these optimizers, `lr_decay` only with the others (their line search picks each step)
GAUSS_NEWTON = OnlyWith("optimizer", ("engd", "kfac"))
STDE = OnlyWith("estimator", ("stde",))


def schemes() -> tuple[str, ...]:
    """The ``scheme`` choices: every registered explicit and implicit (theta) scheme, and ``midpoint``."""
    return scheme_names(("explicit", "implicit")) + (MIDPOINT,)


def scheme_order(name: str) -> int:
    """The order in time of the scheme ``name``."""
    return 2 if name == MIDPOINT else get_scheme(name).order


class INSRProgram(Program):
    """A problem lowered for INSR: its step physics and the stepper the options ask for."""

    def __init__(self, problem, options: Mapping[str, Any]) -> None:
        from symop.nn.hard import dirichlet_fields

        self.problem = problem
        self.options = dict(options)
        o = self.options
        if o["split"] != "none" and any(analysis.time_order(problem, f) != 1 for f in problem.field_names):
            raise OptionError("split needs every field to be first order in time, and this problem has a field of "
                              "second order; use split: none.")
        if o["advection"] == "semi-lagrangian" and o["split"] == "none":
            raise OptionError("advection: semi-lagrangian is a sub-flow of a splitting; set split: lie or strang.")
        if o["estimator"] == "stde" and self._stages() > 1:
            raise OptionError(f"the scheme {o['scheme']} evaluates the right-hand side of its own stages, which needs "
                              "derivatives of derivatives that only the autograd engine takes; use estimator: "
                              "autograd, or a one-stage scheme (euler, backward-euler, crank-nicolson, midpoint).")
        self.hard = dirichlet_fields(problem) if o["hard"] else {}
        if o["optimizer"] == "kfac" and o["fourier"] > 0:
            raise OptionError("kfac takes its Kronecker factors from the layers of an MLP without Fourier features; "
                              "leave fourier at 0, or use engd.")
        if o["optimizer"] == "kfac" and not o["damping"] > 0:
            raise OptionError("kfac inverts damped Kronecker factors and needs damping above 0 (1e-6 by default).")
        physics = self.physics("cpu")
        physics.loss.refuse_unused_sampling(o, {option.name: option.default for option in INSR().options})
        if o["advection"] == "semi-lagrangian":
            if physics.groups_present(("reaction",)):
                raise OptionError("advection: semi-lagrangian backtracks the advection sub-flow alone, and this "
                                  "problem has reaction terms there too; use advection: scheme.")
            from .steps import velocity_of
            for f in problem.field_names:
                if velocity_of(problem, f) is None:
                    raise OptionError(f"advection: semi-lagrangian needs advection terms -a·grad({f}) with a free "
                                      f"of derivatives; use advection: scheme.")
        self.source = physics.source()

    def _stages(self) -> int:
        scheme = self.options["scheme"]
        if scheme == MIDPOINT or get_scheme(scheme).kind != "explicit":
            return 1
        return explicit_tableau(scheme).stages

    def physics(self, device) -> StepPhysics:
        """The step physics on ``device`` (generated right-hand sides, boundary terms, sampling)."""
        import torch

        from symop.nn import PhysicsLoss, make_engine
        from .physics import StepPhysics

        o = self.options
        dtype = torch.float64 if o["dtype"] == "float64" else torch.float32
        engine = make_engine(o["estimator"], o["samples"], o["tangents"], o["seed"])
        loss = PhysicsLoss(self.problem, engine, points=o["points"], boundary_points=o["boundary_points"],
                           boundary_weight=o["boundary_weight"], seed=o["seed"], dtype=dtype, device=device,
                           hard=tuple(self.hard))
        return StepPhysics(self.problem, loss)

    def stages(self) -> dict[str, str]:
        return {"code": self.source}

    def network(self, physics: StepPhysics) -> torch.nn.Module:
        """The spatial network: inputs encoded over the bounding box, periodic axes on the circle; with
        ``hard``, wrapped so that the Dirichlet data hold exactly (:mod:`symop_insr.hard`)."""
        import numpy as np
        import torch

        from symop.nn.hard import side_factors

        from .hard import HardDirichlet
        from .network import SpatialNet

        o = self.options
        domain = self.problem.domain
        lo, hi = domain.bounding_box()
        periodic = [self.problem.space.names.index(n) for n in self.problem.periodic]
        torch.manual_seed(o["seed"])
        net = SpatialNet(physics.dim, len(physics.components), lo, hi, periodic, o["width"], o["depth"],
                         o["activation"], o["fourier"], o["sigma"], o["output_scale"])
        if not self.hard:
            return net
        names = physics.components
        mask = [1.0 if n in self.hard else 0.0 for n in names]
        lift = [physics.loss.layout.aux(self.hard[n][0]) if n in self.hard and self.hard[n][0] != 0 else None
                for n in names]
        factors = [side_factors(domain, self.hard[n][1]) if n in self.hard and domain.kind in ("box", "interval")
                   else [] for n in names]
        ball = None
        if domain.kind in ("disk", "ball"):
            center = getattr(domain, "_c", None)
            ball = (list(np.asarray(domain.center if center is None else center, float)), float(domain.radius))
        return HardDirichlet(net, physics.dim, len(names), factors, lift, mask, ball)

    def stepper(self, fitter: Fitter):
        """The stepper of the options: one fitted scheme, or two sub-flows in a Lie or Strang splitting."""
        from .physics import GROUPS
        from .steps import Identity, SemiLagrangian

        o = self.options
        if o["split"] == "none":
            return self._scheme(fitter, GROUPS)
        physics = fitter.physics
        flows = []
        for groups in SUBFLOWS:
            if not physics.groups_present(groups):
                flows.append(Identity())
            elif "advection" in groups and o["advection"] == "semi-lagrangian":
                flows.append(SemiLagrangian(fitter, self.problem))
            else:
                flows.append(self._scheme(fitter, groups))
        a, b = flows
        if isinstance(a, Identity):
            return b
        if isinstance(b, Identity):
            return a
        return (LieSplitting if o["split"] == "lie" else StrangSplitting)(a, b)

    def _scheme(self, fitter: Fitter, groups):
        from .steps import ExplicitFit, MidpointFit, ThetaFit

        name = self.options["scheme"]
        if name == MIDPOINT:
            return MidpointFit(fitter, groups, MIDPOINT, 2)
        entry = get_scheme(name)
        if entry.kind == "explicit":
            return ExplicitFit(fitter, groups, name, entry.order)
        return ThetaFit(fitter, groups, name, entry.order, entry.theta)

    def run(self, device: str = "cpu", progress: bool = False) -> Solution:
        import numpy as np
        import torch

        from symop.integrate import step_count
        from symop.model.family import family_hash
        from symop.solution import PointCloud, Solution
        from symop.training import progress_bar
        from .network import SteppedField
        from .state import Snapshot
        from .steps import FitSettings, Fitter, value_rows

        from symop.training import DistInfo, device_for

        o = self.options
        problem = self.problem
        began = _time.perf_counter()
        # under torchrun: every fit's points are split over the processes, DDP averages the gradients
        procs = self.processes if self.processes is not None and self.processes.is_distributed else DistInfo()
        if procs.is_distributed:
            device = str(device_for(device, procs))
        physics = self.physics(device)
        live = self.network(physics).to(device=device, dtype=physics.loss.dtype)
        gauss_newton = get_optimizer(o["optimizer"]).residuals  # its line search picks the step: no decay
        lr = o["lr"] if o["lr"] is not None else 1.0 if o["optimizer"] == "lbfgs" or gauss_newton else 1e-3
        decay = 1.0 if gauss_newton else o["lr_decay"]
        settings = FitSettings(o["iterations"], o["optimizer"], lr, decay, o["tol"], points=o["points"],
                               resample=o["resample"], boundary_points=o["boundary_points"], seed=o["seed"],
                               options={"damping": o["damping"]} if gauss_newton else {})
        fitter = Fitter(physics, live, settings, procs)
        model = fitter.model  # the live network as the loss calls it
        stepper = self.stepper(fitter)
        t0, t1 = float(problem.time.start), float(problem.time.end)
        n = step_count(t0, t1, o["dt"] or (t1 - t0) / 100)
        h = (t1 - t0) / n
        folder = Path(o["checkpoint"]) if o["checkpoint"] else None
        stamps = [t1 if k == n else t0 + k * h for k in range(n + 1)]  # the time each step's state stands for
        # what a stored step depends on beyond its time: a folder written for another problem or network is refused
        scheme = {"scheme": o["scheme"], "split": o["split"], "problem": family_hash(problem, []),
                  "activation": o["activation"], "output_scale": float(o["output_scale"]), "hard": bool(o["hard"])}
        nets, times, losses, iterations = self._resume(folder, live, device, procs, stamps, scheme)
        with progress_bar("insr", n + 1, progress and procs.is_main, completed=len(nets), t=t0,
                          loss=float("nan")) as update:
            if not nets:
                state = fitter.fit(None, t0, lambda p: model(p.X) - physics.initial(p.X), o["initial_iterations"],
                                   label="insr initial fit", live_rows=value_rows)
                self._keep(folder, 0, t0, state, fitter.records, nets, times, losses, iterations, procs, scheme)
                update(1, t=t0, loss=losses[-1])
            state = Snapshot(nets[-1])
            for k in range(len(nets) - 1, n):
                t = t0 + k * h
                fitter.count = FITS_PER_STEP * (k + 1)  # the points of step k's fits, resumed or not
                first = len(fitter.records)
                state = stepper.step(t, state, h)
                self._keep(folder, k + 1, stamps[k + 1], state, fitter.records[first:], nets, times, losses,
                           iterations, procs, scheme)
                update(k + 2, t=times[-1], loss=losses[-1])
        from .accuracy import time_residual, warning

        rho = time_residual(physics, nets, times, o["points"], o["seed"])
        said = warning(rho, h, o["points"])
        if said and procs.is_main:
            warnings.warn(said, UserWarning, stacklevel=2)
        field = SteppedField(nets, times, physics.dim, len(problem.fields))
        pts = problem.domain.sample_interior(o["eval_points"], seed=np.random.default_rng((o["seed"], 10**9)))
        X = np.concatenate([pts, np.full((len(pts), 1), t1)], axis=1)
        with torch.no_grad():
            out = field(torch.as_tensor(X, dtype=physics.loss.dtype, device=device)).cpu().numpy().astype(np.float64)
        per = field.floats_per_state
        itemsize = torch.finfo(physics.loss.dtype).bits // 8
        memory = {"floats_per_state": per, "bytes_per_state": per * itemsize, "states": len(nets),
                  "bytes": per * itemsize * len(nets)}
        info = {"memory": memory, "steps": n, "dt": h, "step_losses": losses, "step_iterations": iterations,
                "final_loss": losses[-1], "train_time": _time.perf_counter() - began,
                "scheme": o["scheme"], "split": o["split"], "time_residual": rho}
        if procs.is_distributed:
            info["processes"] = procs.world
        return Solution(problem=problem, method="insr", options=o, geometry=PointCloud(pts, problem.space.names),
                        fields={name: out[:, k] for k, name in enumerate(problem.field_names)}, time=t1,
                        device=device, info=info, network=field)

    def _keep(self, folder, k, t, state, records, nets, times, losses, iterations, procs, scheme) -> None:
        """Store step ``k``: its network, time, the loss of its last fit and the iterations of all its fits
        (a splitting fits each sub-flow), and write its checkpoint with the ``scheme`` (and splitting) that made
        it (rank 0 alone under several processes)."""
        from symop.training import save_checkpoint

        loss, count = float(records[-1].loss), sum(int(r.iterations) for r in records)
        nets.append(state.module)
        times.append(float(t))
        losses.append(loss)
        iterations.append(count)
        if folder is not None:
            save_checkpoint(folder / f"step{k:06d}.pt", {"model": state.module.state_dict(), "step": k, "time": t,
                                                          "loss": loss, "iterations": count, **scheme}, procs)

    def _resume(self, folder, live, device, procs, stamps, scheme):
        """The steps already written to the checkpoint folder (consecutive from 0), loaded into copies of ``live``.

        Step ``k`` must stand for the time ``stamps[k]`` and have been made by ``scheme`` (its scheme and
        splitting): a folder written with another ``dt``, time interval or scheme is refused, not mixed in.

        Under several processes rank 0 reads the folder and sends the steps to
        the others (:meth:`_send_resumed`), so that only rank 0 needs to see it.
        """
        from symop.training import load_checkpoint
        from .state import Snapshot

        nets, times, losses, iterations = [], [], [], []
        if folder is None:
            return nets, times, losses, iterations
        if procs.is_main:
            try:  # before any fit: a folder that cannot be made loses no work
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise OptionError(f"the checkpoint folder `{folder}` cannot be made ({error.strerror or error}); "
                                  "give a folder you can write with --set checkpoint=DIR.") from None
        k = 0
        while procs.is_main and k < len(stamps) and (folder / f"step{k:06d}.pt").exists():
            data = load_checkpoint(folder / f"step{k:06d}.pt", device)
            _same_run(folder / f"step{k:06d}.pt", data, k, stamps[k], scheme)
            net = Snapshot(live).module
            try:
                net.load_state_dict(data["model"])
            except (RuntimeError, KeyError) as error:
                raise SymopError(f"the checkpoint `{folder / f'step{k:06d}.pt'}` does not hold a network of these "
                                 f"options ({error}); delete the folder or run as before.") from None
            nets.append(net)
            times.append(float(data["time"]))
            losses.append(float(data["loss"]))
            iterations.append(int(data["iterations"]))
            k += 1
        if procs.is_distributed:
            nets, times, losses, iterations = self._send_resumed(nets, times, losses, iterations, live, device, procs)
        if nets:
            live.load_state_dict(nets[-1].state_dict())
        return nets, times, losses, iterations

    @staticmethod
    def _send_resumed(nets, times, losses, iterations, live, device, procs):
        """Rank 0's resumed steps on every process: their count, times, losses and iterations, then every
        network's tensors, broadcast from rank 0 (tensors, no pickles)."""
        import torch

        from .state import Snapshot

        import torch.distributed as dist

        count = torch.tensor([len(nets)], dtype=torch.int64, device=device)
        dist.broadcast(count, 0)
        k = int(count.item())
        if k == 0:
            return nets, times, losses, iterations
        table = torch.tensor(list(zip(times, losses, iterations)) if procs.is_main else [[0.0] * 3] * k,
                             dtype=torch.float64, device=device)
        dist.broadcast(table, 0)
        if not procs.is_main:
            nets = [Snapshot(live).module for _ in range(k)]
            times, losses = [float(v) for v in table[:, 0].tolist()], [float(v) for v in table[:, 1].tolist()]
            iterations = [int(v) for v in table[:, 2].tolist()]
        for net in nets:
            for tensor in net.state_dict().values():  # views of the parameters and buffers: filled in place
                dist.broadcast(tensor, 0)
        return nets, times, losses, iterations


class INSR(Discretization):
    name = "insr"
    description = "neural field stepped in time: each step a warm-started fit whose loss is a classical scheme's update"
    #: refined in time (dt halved per level); the network's spatial error has no order
    refinement = Refinement(step="dt", budget=("iterations",))

    @property
    def options(self) -> tuple[Option, ...]:
        """The options; ``scheme`` offers the registry's explicit and theta schemes and ``midpoint``,
        ``optimizer`` every registered optimizer."""
        return (
            Option("scheme", str, MIDPOINT, "time scheme of each step's loss (explicit ones suit reaction and "
                   "transport: on diffusion they amplify the fits' errors at high wavenumbers)", schemes()),
            Option("dt", float, 0.0, "time step (0: a hundredth of the time interval)", minimum=0),
            Option("split", str, "none", "operator splitting: diffusion and source, then advection and reaction",
                   ("none", "lie", "strang")),
            Option("advection", str, "scheme", "advection sub-flow of a splitting: the scheme, or semi-Lagrangian "
                   "backtracking", ("scheme", "semi-lagrangian")),
            Option("width", int, 32, "neurons per hidden layer", minimum=1),
            Option("depth", int, 3, "hidden layers", minimum=1),
            Option("activation", str, "tanh", "activation function", ACTIVATIONS),
            Option("fourier", int, 0, "random Fourier features (0: none)", minimum=0),
            Option("sigma", float, 1.0, "standard deviation of the Fourier frequencies", minimum=0, exclusive=True,
                   only_with=OnlyWith("fourier", (0,), exclude=True)),
            Option("output_scale", float, 1.0, "multiply the network output by this (about the size of the solution)"),
            Option("hard", bool, False, "impose Dirichlet data exactly: u = g + phi N with phi vanishing on the "
                   "Dirichlet sides of a box or interval, or on the whole boundary of a disk or ball"),
            Option("iterations", int, 5, "optimizer steps per time step, each at fresh points (an L-BFGS step "
                   "takes up to 20 iterations)", minimum=1),
            Option("initial_iterations", int, 100, "optimizer steps of the fit to the initial data", minimum=1),
            Option("tol", float, 0.0, "stop a step's fit when its loss falls below this (0: never early)", minimum=0),
            Option("optimizer", str, "lbfgs", "a registered optimizer (adam needs far more iterations; engd: "
                   "Gauss-Newton steps on the step's residuals and their exact Jacobian, a line search, one "
                   "process, per iteration the M x P Jacobian point by point and a min(M, P) solve; kfac: "
                   "Gauss-Newton with each layer's block two Kronecker factors (the step's rows, the boundary "
                   "terms) from Taylor-mode jets through the encoding and the hard transform, per iteration one "
                   "jet pass with a reverse pass per term and state component, (width+1)-square "
                   "eigendecompositions and a loss evaluation or more: on 2D heat at the default size 15x "
                   "cheaper per iteration than engd's, but it needs several times the iterations, and does "
                   "better with resample false; no Fourier features)", optimizer_names()),
            Option("lr", float, None, "learning rate (default: 1 for lbfgs, and for engd and kfac, their largest "
                   "step; 1e-3 for the others)", minimum=0, exclusive=True),
            Option("lr_decay", float, 0.1, "final learning rate / initial within each step's fit (not for engd or "
                   "kfac, whose line search or Gauss-Newton model picks each step)", minimum=0, exclusive=True,
                   only_with=OnlyWith("optimizer", GAUSS_NEWTON.values, exclude=True)),
            Option("damping", float, 1e-6, "engd's damping, relative to the mean diagonal of J J^T (its floor: "
                   "less fits each iteration's points and not the next's); kfac's, its square root on each "
                   "Kronecker factor relative to the factor's mean diagonal (kfac needs it above 0)", minimum=0,
                   only_with=GAUSS_NEWTON),
            Option("points", int, 1024, "interior points per iteration", minimum=1),
            Option("resample", bool, True, "fresh points every optimizer step (false: one set per time step's fit)"),
            Option("boundary_points", int, 256, "points per boundary condition per iteration", minimum=1),
            Option("boundary_weight", float, 1.0, "weight of the boundary terms", minimum=0),
            Option("estimator", str, "autograd", "derivative engine: exact autograd or STDE jets",
                   ("autograd", "stde")),
            Option("samples", int, 16, "STDE random directions per point", minimum=1, only_with=STDE),
            Option("tangents", str, "sparse", "STDE directions: sparse or dense", ("sparse", "dense"),
                   only_with=STDE),
            Option("seed", int, 0, "random seed (network, points)"),
            Option("eval_points", int, 2000, "points where the final state is reported", minimum=1),
            Option("checkpoint", str, "", "folder of one checkpoint per time step; resumed from when it has some",
                   path=True),
            Option("dtype", str, "float32", "floating-point precision", ("float32", "float64")),
        )

    def accuracy(self, options: Mapping[str, Any]) -> Accuracy:
        """No order in space (a fitted network); in time the scheme's order, capped by the splitting's."""
        order = scheme_order(options["scheme"])
        if options["split"] != "none":
            order = split_order(options["split"], order)
        return Accuracy(space=None, time=order)

    def accepts(self, problem) -> str | None:
        from symop.nn import unsupported

        if problem.time is None or problem.is_steady:
            return ("insr steps a field in time, and this problem is steady (it has no time derivative); "
                    f"solve it with {_steady_methods(problem)}")
        if problem.periodic and not problem.domain.has_grid:
            return "periodic boundaries need a box or an interval"
        why = unsupported(problem)
        if why:
            return why
        fields = problem.field_names
        t = problem.t
        for f in fields:
            try:
                k, rhs = analysis.evolution(problem, f)
            except SymopError as error:
                return f"insr needs each equation solved for the highest time derivative of its field: {error}"
            if k == 0:
                return (f"insr steps every field in time, and the equation of `{f}` has no time derivative "
                        "(a constraint such as incompressibility); no scheme here projects onto it")
            if k > 2:
                return f"insr steps first- and second-order equations in time, and `{f}` is of order {k} in t"
            for d in rhs.atoms(sp.Derivative):
                if t in d.variables and d.atoms(sp.core.function.AppliedUndef) and \
                        not (k == 2 and d.expr == problem.field(f).applied and dict(d.variable_count).get(t) == 1
                             and len(d.variable_count) == 1):
                    return (f"the equation of `{f}` has `{language_text(d, problem)}`, a time derivative insr "
                            "cannot step "
                            "(only dt of the field itself in a second-order equation)")
            for order in range(k):
                if problem.initial_for(f, order) is None:
                    what = f if order == 0 else f"dt({f})" if order == 1 else f"dt({f}, {order})"
                    return f"insr needs initial data for {what}"
        for bc in problem.boundary:
            if any(t in d.variables for d in bc.residual.atoms(sp.Derivative)
                   if d.atoms(sp.core.function.AppliedUndef)):
                return (f"the boundary condition on {', '.join(bc.parts)} has a time derivative of a field, which a "
                        "network of space alone cannot take; write it without dt")
        return None

    def lower(self, problem, options: Mapping[str, Any]) -> Program:
        return INSRProgram(problem, options)

    def processes(self, problem, options: Mapping[str, Any]) -> str | None:
        """Under torchrun every fit's points are split over the processes and DDP averages the gradients
        (L-BFGS's line search reads the loss averaged over them); every option runs split."""
        return None


def _same_run(path, data: dict, k: int, stamp: float, scheme: dict) -> None:
    """Refuse the checkpoint ``path`` of step ``k`` unless it stands for the time ``stamp`` and was made by
    ``scheme`` (the time scheme and splitting, the problem's hash, the network's activation, output scale and hard
    transform; a checkpoint that does not record one of them is taken as it is)."""
    written = float(data.get("time", float("nan")))
    if not abs(written - stamp) <= 1e-9 * max(1.0, abs(stamp)):
        raise SymopError(f"the checkpoint `{path}` holds step {k} at time {written:g}, but step {k} of this run is "
                         f"at time {stamp:g}: the folder was written with another dt or time interval; delete it "
                         "or run as before.")
    for key, value in scheme.items():
        if key == "problem" and key in data and data[key] != value:
            raise SymopError(f"the checkpoint `{path}` was written for another problem (its equations, conditions, "
                             "domain, time interval or parameter values differ); delete the folder or give this run "
                             "its own with --set checkpoint=DIR.")
        if key in data and str(data[key]) != str(value):
            raise SymopError(f"the checkpoint `{path}` was written with {key} `{data[key]}`, but this run uses "
                             f"`{value}`; delete the folder or run as before.")


def _steady_methods(problem) -> str:
    """The installed methods among pinn, fd and fem that accept the steady ``problem``, as words."""
    from symop.plugins import discretizations

    installed = discretizations()
    names = [name for name in ("pinn", "fd", "fem") if name in installed and installed[name].accepts(problem) is None]
    if not names:
        return "another method (`symop plugins` lists them)"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
