"""The ``pinn`` discretization: options, lowering and the runnable program."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from symop.errors import OptionError
from symop.nn import ACTIVATIONS
from symop.plugins import Discretization, OnlyWith, Option, Program, Refinement
from symop.training import OPTIMIZERS, get_optimizer, optimizer_names
from symop.training.choices import LINE_SEARCHES, SOLVERS

if TYPE_CHECKING:  # pragma: no cover - the options are read without torch (`symop plugins`); programs import it
    import torch

    from symop.nn import PhysicsLoss
    from symop.solution import Solution


def _optimizer_help() -> str:
    costs = "; ".join(f"{name}: {spec.cost}" for name, spec in OPTIMIZERS.items() if spec.cost)
    return ("the optimizer of the `steps` steps (engd: Gauss-Newton on the residuals of every term, weighted as the "
            f"loss weighs them, with a line search; use dtype float64). Cost of one step: {costs}")


#: options of the Gauss-Newton optimizers, passed to their phase (damping only when given)
CURVATURE_OPTIONS = {"engd": ("damping", "solver", "line_search", "momentum"),
                     "kfac": ("damping", "ema")}


def _curvature(name: str) -> OnlyWith:
    """The condition under which the Gauss-Newton option ``name`` acts: an optimizer that takes it."""
    return OnlyWith("optimizer", tuple(opt for opt, names in CURVATURE_OPTIONS.items() if name in names))


STDE = OnlyWith("estimator", ("stde",))

OPTIONS = (
    Option("width", int, 64, "neurons per hidden layer", minimum=1),
    Option("depth", int, 4, "hidden layers", minimum=1),
    Option("activation", str, "tanh", "activation function", ACTIVATIONS),
    Option("fourier", int, 0, "random Fourier features (0: none)", minimum=0),
    Option("sigma", float, 1.0, "standard deviation of the Fourier frequencies", minimum=0, exclusive=True,
           only_with=OnlyWith("fourier", (0,), exclude=True)),
    Option("steps", int, 2000, "steps of the optimizer (fresh collocation points each step unless resample is off)",
           minimum=0),
    Option("lr", float, 1e-3, "learning rate of adam, soap and lbfgs, and of the Adam warm-up (adam and soap decay "
           "it by lr_decay over their steps; engd and kfac find their own step)", minimum=0, exclusive=True),
    Option("lbfgs", int, 0, "L-BFGS iterations after Adam (0: none)", minimum=0),
    Option("optimizer", str, "adam", _optimizer_help(), optimizer_names()),
    Option("warmup", int, 0, "Adam steps before the optimizer, when it is not adam (a schedule that switches)",
           minimum=0, only_with=OnlyWith("optimizer", ("adam",), exclude=True)),
    Option("resample", bool, True, "draw fresh collocation points every step (off: the points of step 0 throughout; "
           "engd then interpolates them once they are fewer than its parameters)"),
    Option("damping", float, None, "engd, kfac: damping of the Gauss-Newton matrix relative to its mean diagonal "
           "(default: engd 1e-10, kfac 1e-8, its square root on each Kronecker factor)", minimum=0,
           only_with=_curvature("damping")),
    Option("ema", float, None, "kfac: weight of the earlier steps in the running average of the Kronecker "
           "factors (default 0: each step's own); with fresh points every step, 0.95 averages the curvature over "
           "about 20 batches instead of fitting each one", minimum=0, maximum=0.999,
           only_with=_curvature("ema")),
    Option("solver", str, "auto", "engd: dense (P x P system), woodbury (M x M, for fewer residuals M than "
           "parameters P), auto: the smaller", SOLVERS,
           only_with=_curvature("solver")),
    Option("line_search", str, "grid", "engd: grid (step 2^-k, k < 20, lowest loss), backtracking (halve from 1 "
           "until the loss falls), none (the full Gauss-Newton step); kfac takes its step and momentum from the "
           "Gauss-Newton model",
           LINE_SEARCHES, only_with=_curvature("line_search")),
    Option("momentum", float, 0.0, "engd: fraction of the previous direction added (SPRING's momentum; 0: none)",
           minimum=0, maximum=0.999, only_with=_curvature("momentum")),
    Option("points", int, 1024, "interior collocation points per step", minimum=1),
    Option("boundary_points", int, 256, "points per boundary or initial condition per step", minimum=1),
    Option("estimator", str, "autograd", "derivative engine: exact autograd or STDE jets", ("autograd", "stde")),
    Option("samples", int, 16, "STDE random directions per point", minimum=1, only_with=STDE),
    Option("tangents", str, "sparse", "STDE directions: sqrt(d) e_i (sparse) or Rademacher (dense)", ("sparse", "dense"),
           only_with=STDE),
    Option("loss", str, "mse", "mse, or product: unbiased two-draw product of STDE residuals", ("mse", "product"),
           only_with=STDE),
    Option("seed", int, 0, "random seed (network, points, directions)"),
    Option("eval_points", int, 2000, "held-out points where the solution is reported", minimum=1),
    Option("checkpoint", str, "", "checkpoint file; resumed from when it exists (one written for another problem, "
           "network or optimizer is refused)", path=True),
    Option("boundary_weight", float, 1.0, "weight of boundary terms", minimum=0),
    Option("initial_weight", float, 1.0, "weight of initial-condition terms", minimum=0),
    Option("dtype", str, "float32", "floating-point precision", ("float32", "float64")),
    Option("hard", bool, False, "impose Dirichlet data on the whole boundary of a ball or disk exactly: "
           "u = g + (1 - |x-c|^2/R^2) N(x), no boundary loss"),
    Option("output_scale", float, 1.0, "multiply the network output by this (about the size of the solution)"),
    Option("lr_decay", float, 0.1, "final learning rate / initial (exponential decay over the adam, soap and "
           "warm-up steps)",
           minimum=0, exclusive=True),
)


def hard_fields(problem) -> dict:
    """Field -> (its Dirichlet expression, its sides) for the fields with a Dirichlet condition on the whole
    boundary of a ball or disk (what ``hard`` can impose); a :class:`~symop.nn.hard.HardConstraintError` (a
    sentence) otherwise."""
    from symop.nn.hard import dirichlet_fields

    return dirichlet_fields(problem, ("disk", "ball"))


def _refuse_unused_rates(o: Mapping[str, Any]) -> None:
    """Refuse ``lr`` and ``lr_decay`` (given other than their defaults) where no phase of the run would use them:
    engd and kfac take their step from a line search or the Gauss-Newton model, L-BFGS keeps its rate; with
    ``warmup`` the Adam warm-up uses both."""
    optimizer, warmup = o.get("optimizer", "adam"), int(o.get("warmup") or 0)
    if warmup > 0:
        return
    defaults = {option.name: option.default for option in OPTIONS}
    curvature = get_optimizer(optimizer).residuals
    if curvature and o.get("lr", defaults["lr"]) != defaults["lr"]:
        raise OptionError(f"`lr` is not used by {optimizer}, which finds its own step length: leave lr out, or "
                          "set warmup for an Adam warm-up at that rate.")
    if (curvature or optimizer == "lbfgs") and o.get("lr_decay", defaults["lr_decay"]) != defaults["lr_decay"]:
        raise OptionError(f"`lr_decay` decays Adam's and soap's rate, and {optimizer} keeps its step without "
                          "decay: leave lr_decay out, or set warmup for an Adam warm-up that decays.")


class PINNProgram(Program):
    def __init__(self, problem, options: Mapping[str, Any]) -> None:
        self.problem = problem
        self.options = dict(options)
        self.source = ""
        self.hard_data = hard_fields(problem) if self.options.get("hard") else {}
        self.hard = tuple(self.hard_data)
        o = self.options
        if o.get("optimizer") == "kfac" and o.get("fourier", 0):
            raise OptionError("kfac takes its Kronecker factors from an MLP without Fourier features: leave fourier "
                              "at 0, or use engd.")
        if o.get("optimizer") == "kfac" and o.get("damping") is not None and not o["damping"] > 0:
            raise OptionError("kfac inverts damped Kronecker factors and needs damping above 0 (1e-8 by default): "
                              "leave damping out, or set it above 0.")
        _refuse_unused_rates(o)
        loss = self._loss("cpu")
        loss.refuse_unused_sampling(o, {option.name: option.default for option in OPTIONS})
        self.source = "\n".join(t.fn.source for t in loss.terms)

    def _loss(self, device) -> PhysicsLoss:
        import torch

        from symop.nn import PhysicsLoss, make_engine

        o = self.options
        dtype = torch.float64 if o["dtype"] == "float64" else torch.float32
        engine = make_engine(o["estimator"], o["samples"], o["tangents"], o["seed"])
        return PhysicsLoss(self.problem, engine, points=o["points"], boundary_points=o["boundary_points"],
                           boundary_weight=o["boundary_weight"], initial_weight=o["initial_weight"],
                           loss=o["loss"], seed=o["seed"], dtype=dtype, device=device, hard=self.hard)

    def stages(self) -> dict[str, str]:
        return {"code": self.source}

    def network(self, loss: PhysicsLoss) -> torch.nn.Module:
        """The MLP with normalised inputs, wrapped in :class:`Constrained` for ``hard`` or ``output_scale``.

        Inputs are mapped to ``[-1, 1]`` over the bounding box, except on a ball in
        ``d`` dimensions, whose uniform points have coordinates of standard deviation
        ``R / sqrt(d + 2)``: there they are divided by that, so that every input of the
        network is of order one whatever ``d`` (the bounding box would leave them ``~1/sqrt(d)``).
        """
        import numpy as np
        import torch

        from symop.nn import MLP
        from symop_pinn.constraint import Constrained

        o = self.options
        domain = self.problem.domain
        lo, hi = domain.bounding_box()
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        shift, half = (lo + hi) / 2, np.maximum((hi - lo) / 2, 1e-12)
        if domain.kind == "ball":
            half = np.full_like(half, domain.radius / np.sqrt(domain.dimension + 2))
        shift, half = list(shift), list(half)
        if self.problem.time is not None:
            shift.append((self.problem.time.start + self.problem.time.end) / 2)
            half.append(max((self.problem.time.end - self.problem.time.start) / 2, 1e-12))
        torch.manual_seed(o["seed"])
        net = MLP(loss.inputs, len(self.problem.fields), o["width"], o["depth"], o["activation"], o["fourier"],
                  o["sigma"], shift=torch.as_tensor(np.array(shift)), scale=torch.as_tensor(np.array(half)))
        if not self.hard and o["output_scale"] == 1.0:
            return net
        if not self.hard:
            return Constrained(net, o["output_scale"], loss.dim)
        names = self.problem.field_names
        mask = [1.0 if n in self.hard else 0.0 for n in names]
        values = {}
        for field, (expr, _) in self.hard_data.items():
            g = self.problem.numeric(expr)
            if g != 0:
                values[field] = loss._aux(g)
        lift = None
        if values:
            def lift(X, values=values, names=names):
                cols = [values[n](X) if n in values else torch.zeros(X.shape[0], 1, dtype=X.dtype, device=X.device)
                        for n in names]
                return torch.cat(cols, dim=1)
        center = getattr(domain, "_c", None)
        if center is None:
            center = np.asarray(domain.center, float)
        return Constrained(net, o["output_scale"], loss.dim, center=torch.as_tensor(np.asarray(center, float)),
                           radius=domain.radius, mask=mask, lift=lift)

    def run(self, device: str = "cpu", progress: bool = False) -> Solution:
        import numpy as np
        import torch

        from symop.solution import PointCloud, Solution
        from symop.training import device_for, wrap
        from symop.threads import intra_op_threads
        from symop_pinn.train import run_stamp, train, training_threads

        o = self.options
        procs = self.processes if self.processes is not None and self.processes.is_distributed else None
        if procs is not None:
            device = str(device_for(device, procs))
        loss = self._loss(device)
        model = self.network(loss).to(device=device, dtype=loss.dtype)
        spec = OPTIMIZERS[o["optimizer"]]
        options = {k: o[k] for k in CURVATURE_OPTIONS.get(spec.name, ()) if o[k] is not None}
        # under torchrun: DDP averages the gradients of the processes' shards of the points
        trained = wrap(model, procs) if procs is not None else model
        # small steps train on one CPU thread (training_threads says why); Gauss-Newton's dense solves keep them
        threads = None if spec.residuals else training_threads(o["points"], o["width"], loss.dim, device)
        with intra_op_threads(threads):
            info = train(trained, loss, steps=o["steps"], lr=o["lr"], lr_decay=o["lr_decay"], lbfgs=o["lbfgs"],
                         checkpoint=o["checkpoint"], progress=progress and (procs is None or procs.is_main),
                         optimizer=o["optimizer"], warmup=o["warmup"], options=options, resample=o["resample"],
                         info=procs, stamp=run_stamp(self.problem, o))
        pts = self.problem.domain.sample_interior(o["eval_points"], seed=np.random.default_rng((o["seed"], 10**9)))
        X = pts
        if self.problem.time is not None:
            X = np.concatenate([pts, np.full((len(pts), 1), self.problem.time.end)], axis=1)
        with torch.no_grad():
            out = model(torch.as_tensor(X, dtype=loss.dtype, device=device)).cpu().numpy().astype(np.float64)
        fields = {name: out[:, k] for k, name in enumerate(self.problem.field_names)}
        sol = Solution(problem=self.problem, method="pinn", options=o, geometry=PointCloud(pts, self.problem.space.names),
                       fields=fields, time=self.problem.time.end if self.problem.time else None, device=device,
                       info={"final_loss": info["final_loss"], "train_time": info["train_time"],
                             "history": info["history"][-20:], "parameters": sum(p.numel() for p in model.parameters()),
                             **({"processes": procs.world} if procs is not None else {}),
                             **({"threads": threads} if threads is not None else {})},
                       network=model)  # s(points, t) evaluates the network
        return sol


class PINN(Discretization):
    name = "pinn"
    description = "physics-informed neural network (autograd or STDE derivatives), mesh-free, any dimension"
    options = OPTIONS
    #: no mesh: studies double the collocation points and the training steps; no declared order
    refinement = Refinement(budget=("points", "steps"))

    def accepts(self, problem) -> str | None:
        if problem.periodic and not problem.domain.has_grid:
            return "periodic boundaries need a box or an interval"
        from symop.nn import unsupported

        return unsupported(problem)

    def lower(self, problem, options: Mapping[str, Any]) -> Program:
        return PINNProgram(problem, options)

    def processes(self, problem, options: Mapping[str, Any]) -> str | None:
        """Under torchrun every process trains on its shard of the collocation points (DDP; L-BFGS's line search
        reads the loss averaged over the processes); Gauss–Newton optimizers (their systems are not split) and
        checkpoints are refused."""
        spec = OPTIMIZERS[options["optimizer"]]
        if spec.residuals:
            return (f"the optimizer `{spec.name}` runs in one process (its Gauss-Newton system is not split over "
                    "processes); under torchrun pinn trains with adam, soap or lbfgs.")
        if options.get("checkpoint"):
            return "pinn's checkpoints are written in one process; under torchrun leave checkpoint unset."
        return None
