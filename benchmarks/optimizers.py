"""Physics-informed training: relative L2 error against wall time for each optimizer, in one run.

Every optimizer trains the ``pinn`` method on each problem for the same budget
of CPU time (``time.process_time``, one torch thread, so that other jobs on a
shared machine slow the wall clock but not the comparison; float64); a tracker
measures the relative L2 error of the network on 2000 held-out points (at the
final time for the heat equation) at times spaced by a factor 1.5, the
evaluation's own time taken off the clock.  The table gives the error each
optimizer had reached at 10 s, 30 s, 60 s and at the end of the budget, and its
ratio to Adam's at the same time.

Optimizer settings (each its usual set-up for PINNs):

* ``adam``: symop's default network (64 x 4 tanh), 1024 fresh interior points
  per step, rate 1e-3 decayed exponentially over 1.5 times the steps that fit
  in the budget (measured on 20 steps first);
* ``soap``: the same network and points, rate 3e-3 (pytorch-optimizer's SOAP);
* ``lbfgs``: a 32 x 2 network, fixed points, 20 strong-Wolfe iterations a step;
* ``engd``: a 32 x 2 network, fresh points every step (pinn's default; on a
  fixed set smaller than its parameters it interpolates the set), damped
  Gauss-Newton with a grid line search (Woodbury form when there are fewer
  residuals than parameters);
* ``kfac``: the same network on fixed points, Kronecker-factored Gauss-Newton
  (damping 1e-8), the step and momentum minimising the Gauss-Newton model.

``ball100`` is ``examples/highdim/poisson_ball.pde``: Poisson on the unit ball in
100 dimensions, the Dirichlet data imposed exactly (``hard``), the Laplacian
estimated by STDE (16 sparse directions; the Gauss-Newton Jacobian is that of
the same estimates).  Adam runs the file's own options (128 x 4, 100 fresh points
a step, rate 3e-3, float32); engd and kfac draw fresh points every step
(a fixed set is interpolated), kfac with its factors averaged over steps
(``ema`` 0.95) and damping 1e-4: with each step's own factors and damping 1e-8
it ended at 1.7e-2, worse than Adam.  Not in the default run (``--only ball100``).

``fourhole`` (Poisson on a square with four holes) has no exact solution: its
reference is a P2 fem solve with h = 0.02, 1e-5 from the h = 0.03 one.  Not in
the default run (``--only fourhole``).

Usage: ``python benchmarks/optimizers.py [--budget S] [--only poisson2d,heat1d]
[--optimizers adam,engd] [--set KEY=VALUE ...] [--plot FILE]`` (``--set width=128``:
that pinn option for every optimizer run, over the settings above; an optimizer
that would not use the option, ``--set ema=0.95`` for adam, refuses it and the
run goes on with the next).
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from machine import cpu_model, torch_on_one_thread  # benchmarks/machine.py: run as python benchmarks/NAME.py

PROBLEMS = {
    "poisson2d": """problem poisson2d "-lap(u) = 2 pi^2 sin(pi x) sin(pi y) on the unit square"
space x, y
domain box(x: [0, 1], y: [0, 1])
field u
equation -lap(u) = 2*pi^2*sin(pi*x)*sin(pi*y)
boundary all: u = 0
exact u = sin(pi*x)*sin(pi*y)
""",
    "heat1d": """problem heat1d "u_t = u_xx / 4 on [0, 1] x [0, 1]"
space x
time t in [0, 1]
domain interval(x: [0, 1])
field u
param kappa = 0.25
equation dt(u) = kappa*lap(u)
boundary all: u = 0
initial u = sin(pi*x)
exact u = exp(-kappa*pi^2*t)*sin(pi*x)
""",
    "poisson5d": """problem poisson5d "-lap(u) = f on the unit cube in five dimensions"
space x1, x2, x3, x4, x5
domain box(x1: [0, 1], x2: [0, 1], x3: [0, 1], x4: [0, 1], x5: [0, 1])
field u
equation -lap(u) = pi^2*(cos(pi*x1) + cos(pi*x2) + cos(pi*x3) + cos(pi*x4) + cos(pi*x5))
boundary all: u = cos(pi*x1) + cos(pi*x2) + cos(pi*x3) + cos(pi*x4) + cos(pi*x5)
exact u = cos(pi*x1) + cos(pi*x2) + cos(pi*x3) + cos(pi*x4) + cos(pi*x5)
""",
    "fourhole": """problem fourhole "-lap(u) = 0 on a square with four holes, u = 1 outside, u = 0 on the holes"
space x, y
domain box(x: [-1, 1], y: [-1, 1]) minus disk(center: (-0.5, -0.5), radius: 0.2) as h1 minus disk(center: (0.5, -0.5), radius: 0.2) as h2 minus disk(center: (-0.5, 0.5), radius: 0.2) as h3 minus disk(center: (0.5, 0.5), radius: 0.2) as h4
field u
equation -lap(u) = 0
boundary left, right, bottom, top: u = 1
boundary h1, h2, h3, h4: u = 0
""",
}
PROBLEMS["ball100"] = (Path(__file__).resolve().parent.parent / "examples" / "highdim" / "poisson_ball.pde").read_text()
#: problems without an exact solution: the reference is this solve (P2 fem: 1e-5 from its h = 0.03 solve)
REFERENCE = {"fourhole": {"method": "fem", "h": 0.02, "degree": 2}}

COMMON = {"dtype": "float64", "seed": 0, "eval_points": 2000}
SETTINGS = {
    "adam": {"optimizer": "adam", "width": 64, "depth": 4, "points": 1024, "boundary_points": 256, "lr": 1e-3},
    "soap": {"optimizer": "soap", "width": 64, "depth": 4, "points": 1024, "boundary_points": 256, "lr": 3e-3},
    "lbfgs": {"optimizer": "lbfgs", "width": 32, "depth": 2, "points": 1000, "boundary_points": 200, "lr": 1.0,
              "resample": False},
    "engd": {"optimizer": "engd", "width": 32, "depth": 2, "points": 500, "boundary_points": 100},
    "kfac": {"optimizer": "kfac", "width": 32, "depth": 2, "points": 500, "boundary_points": 100,
             "resample": False},
}
#: per problem, settings that differ from the above (more points where the dimension asks for them)
OVERRIDES = {"poisson2d": {"engd": {"points": 1000, "boundary_points": 200}},  # 500 points plateau near 1e-6
             "poisson5d": {"engd": {"points": 1000, "boundary_points": 500, "width": 48},
                           "lbfgs": {"points": 2000, "boundary_points": 1000}},
             # the holes need Fourier features (16, sigma 1) to leave the constant-0.5 plateau; engd then
             # resamples its points (fixed ones are interpolated by the larger first layer)
             "fourhole": {opt: {"fourier": 16} for opt in ("adam", "soap", "lbfgs", "kfac")} |
             {"engd": {"fourier": 16, "points": 1000, "boundary_points": 400}},
             # the file's own Adam set-up (float32); Gauss-Newton on fresh points every step, STDE Jacobian
             "ball100": {"adam": {"width": 128, "depth": 4, "points": 100, "lr": 3e-3, "dtype": "float32"},
                         "soap": {"width": 128, "depth": 4, "points": 100, "dtype": "float32"},
                         "lbfgs": {"points": 500},
                         "engd": {"points": 500, "resample": True},
                         # fresh points: the factors averaged over about 20 batches, and damped more
                         "kfac": {"points": 500, "resample": True, "ema": 0.95, "damping": 1e-4}}}
MARKS = (10.0, 30.0, 60.0)



class Curve:
    """A tracker: the relative L2 error at training times spaced by a factor 1.5, stopping at the budget."""

    def __init__(self, X, exact: np.ndarray, budget: float) -> None:
        import torch

        self.X, self.exact, self.budget = X, exact, budget
        self.norm = float(np.sqrt(np.mean(exact ** 2)))
        self.start = time.process_time()
        self.spent = 0.0  # time spent evaluating, not training
        self.next = 0.5
        self.points: list[tuple[float, float, int]] = []
        self.torch = torch

    def clock(self) -> float:
        """CPU seconds of training so far (this process, all its threads), evaluation taken off."""
        return time.process_time() - self.start - self.spent

    def error(self, net) -> float:
        with self.torch.no_grad():  # a float32 network (Adam on the ball) is evaluated in its own precision
            u = net(self.X.to(next(net.parameters()).dtype))[:, 0].cpu().numpy().astype(np.float64)
        return float(np.sqrt(np.mean((u - self.exact) ** 2)) / self.norm)

    def __call__(self, state) -> None:
        from symop.trackers import StopRun

        now = self.clock()
        if now >= self.next or now >= self.budget:
            began = time.process_time()
            err = self.error(state.state)
            self.points.append((now, err, state.step))
            self.spent += time.process_time() - began
            while self.next <= now:
                self.next *= 1.5
        if now >= self.budget:
            raise StopRun("the time budget is spent")

    def at(self, t: float) -> float:
        """The error reached by training time ``t`` (the last measurement at or before it; the final one at the
        budget)."""
        if t >= self.budget:
            return self.points[-1][1]
        seen = [e for s, e, _ in self.points if s <= t * 1.0001]
        return seen[-1] if seen else math.nan


def held_out(problem):
    """2000 held-out points (with the final time) and the exact solution there."""
    import torch

    import symop

    sol = symop.solve(problem, method="pinn", steps=0, **COMMON)
    pts = np.asarray(sol.geometry.points, dtype=np.float64)
    if problem.name in REFERENCE:
        exact = np.asarray(symop.solve(problem, **REFERENCE[problem.name])(pts), dtype=np.float64)
    else:
        exact = sol.exact_values("u")
    X = pts if problem.time is None else np.concatenate([pts, np.full((len(pts), 1), problem.time.end)], 1)
    return torch.as_tensor(X, dtype=torch.float64), exact


def run(problem, name: str, optimizer: str, budget: float, extra: dict | None = None) -> Curve:
    """Train ``optimizer`` on ``problem`` for ``budget`` CPU-seconds with its settings (``extra`` over them)."""
    import symop

    settings = {**COMMON, **SETTINGS[optimizer], **OVERRIDES.get(name, {}).get(optimizer, {}), **(extra or {})}
    X, exact = held_out(problem)
    if optimizer in ("adam", "soap"):  # the rate decays over the steps that fit in the budget
        stamps: list[float] = []
        symop.solve(problem, method="pinn", steps=25, callbacks=[lambda state: stamps.append(time.process_time())],
                    **settings)
        per_step = (stamps[-1] - stamps[4]) / 20
        settings["steps"] = max(10, int(1.5 * budget / per_step))  # load varies: rather too many than too few
    else:
        settings["steps"] = 100000
    curve = Curve(X, exact, budget)
    symop.solve(problem, method="pinn", callbacks=[curve], **settings)
    return curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=120.0,
                        help="CPU seconds of training per optimizer and problem")
    parser.add_argument("--only", default="poisson2d,heat1d,poisson5d",
                        help=f"problems, comma-separated, of {', '.join(PROBLEMS)}")
    parser.add_argument("--optimizers", default="adam,soap,lbfgs,engd,kfac", help="optimizers, comma-separated")
    parser.add_argument("--plot", default="benchmarks/optimizers.png", help="figure of error against time ('' none)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a pinn option for every optimizer run, over its settings (repeatable)")
    args = parser.parse_args()
    torch = torch_on_one_thread()
    import symop

    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__} (1 thread), "
          f"python {platform.python_version()}")
    print(f"load average at start: {open('/proc/loadavg').read().split()[:3]}")
    print(f"command: python {' '.join(sys.argv)}")
    optimizers = args.optimizers.split(",")
    extra = dict(item.split("=", 1) for item in args.set)  # strings, converted by pinn as from `symop run --set`
    curves: dict[str, dict[str, Curve]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in args.only.split(","):
            path = Path(folder) / f"{name}.pde"
            path.write_text(PROBLEMS[name])
            problem = symop.load(path)
            curves[name] = {}
            for opt in optimizers:
                if opt == "soap" and importlib.util.find_spec("pytorch_optimizer") is None:
                    print("  soap skipped: pytorch-optimizer is not installed (pip install 'symop[soap]')")
                    continue
                try:
                    curve = run(problem, name, opt, args.budget, extra)
                except symop.SymopError as err:
                    print(f"  {name:10s} {opt:6s} refused: {err}")
                    continue
                curves[name][opt] = curve
                last = curve.points[-1]
                print(f"  {name:10s} {opt:6s} rel L2 {last[1]:.2e} after {last[0]:6.1f} s ({last[2]} steps)",
                      flush=True)
    print(f"load average at end: {open('/proc/loadavg').read().split()[:3]}")
    marks = [m for m in MARKS if m < args.budget] + [args.budget]
    print()
    print("| problem | optimizer | " + " | ".join(f"rel L2 at {m:g} s" for m in marks) + " | steps | "
          f"Adam / this at {args.budget:g} s |")
    print("|---|---|" + "---|" * len(marks) + "---|---|")
    for name, by_opt in curves.items():
        ref = by_opt.get("adam")
        for opt, curve in by_opt.items():
            errs = " | ".join(f"{curve.at(m):.2e}" for m in marks)
            ratio = ref.at(args.budget) / curve.at(args.budget) if ref is not None else math.nan
            print(f"| {name} | {opt} | {errs} | {curve.points[-1][2]} | {ratio:.3g} |")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(curves), figsize=(4.2 * len(curves), 3.6), squeeze=False)
        for ax, (name, by_opt) in zip(axes[0], curves.items()):
            for opt, curve in by_opt.items():
                t, e, _ = zip(*curve.points)
                ax.loglog(t, e, marker="o", markersize=3, label=opt)
            ax.set_title(name)
            ax.set_xlabel("training CPU time [s]")
            ax.set_ylabel("relative L2 error")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)
        print(f"\nfigure: {args.plot}")


if __name__ == "__main__":
    main()
