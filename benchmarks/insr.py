"""INSR against finite differences at equal memory: a Gaussian pulse advected around a periodic interval.

    dt(u) + a*dx(u) = 0,   x in [-2, 2] periodic,   u0 = exp(-(x - c)^2 / (2 sigma^2)),
    a = 0.25, sigma = 0.1, c = -1.5, to t = 12 (the pulse travels 3 units).

INSR keeps one network per time step (``--width``, ``--depth``; the periodic
axis encoded on the circle) and advances it by semi-Lagrangian backtracking
(``split: strang, advection: semi-lagrangian``: the advection is the only
sub-flow, each step a fit of u(x) = u_prev(x - a dt)), or by any ``--scheme``.
fd stores the state on a grid of ``n`` cells; ``n`` is set to the network's
parameter count, so both keep the same number of floats per time step.  The
mean absolute error against the exact pulse on 2001 points is printed at
every ``--every`` time units, with the ratio fd / insr, and plotted
(``--plot FILE``).

Defaults: a network of width 8 and depth 2 (105 floats), dt = 0.1, each step
10 L-BFGS steps of up to 20 iterations at 1024 fresh points, float64; fd with
fourth-order stencils and rk4 at its own stable dt (second-order stencils listed
too).  Part (3) grows fd's grid until it matches insr's error at the end.

Run: ``python benchmarks/insr.py`` (the full run to t = 12, about 2-3 minutes on
one core), ``--t-end 3`` for a shorter one.

``--case heat`` compares the optimizers of the step fits instead, on
``examples/heat.pde`` (2D heat, every boundary kind, a known solution): dt =
0.05, a 16 × 2 network (``--heat-net``), 256 interior and 64 points per
boundary condition per iteration (``--heat-points``), float64, each of
``--runs`` (``OPT[:ITERATIONS[:INITIAL[:fixed]]]``, default 5 and 50
iterations, ``fixed``: one set of points per fit) one after the other on one
thread: relative L2 and max error at t = 0.5 on 2000 points, the fits' final
losses, and the process CPU time of each run with the load average.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

import symop

TEXT = """
problem pulse "advected Gaussian pulse"
space x
time t in [0, {t_end}]
domain interval(x: [-2, 2])
boundary periodic(x)
param a = 0.25
field u
equation dt(u) + a*dx(u) = 0
initial u = exp(-(x + 1.5)^2/(2*0.1^2))
"""
A, SIGMA, C, L = 0.25, 0.1, -1.5, 4.0


def exact(x: np.ndarray, t: float) -> np.ndarray:
    """The pulse at ``t``, folded onto [-2, 2] (the images one period away are below 1e-300)."""
    z = np.mod(x - C - A * t + L / 2, L) - L / 2
    return np.exp(-z ** 2 / (2 * SIGMA ** 2))


ALLEN_CAHN = """
problem allen_cahn "Allen-Cahn on the periodic unit square"
space x, y
time t in [0, {t_end}]
domain box(x: [0, 1], y: [0, 1])
boundary periodic(x, y)
param eps = 0.05
field u
equation dt(u) = eps^2*lap(u) + u - u^3
initial u = 0.8*sin(2*pi*x)*sin(2*pi*y) + 0.3*cos(2*pi*x)
"""


def allen_cahn(args) -> None:
    """(2) Allen–Cahn, insr with Strang splitting (diffusion, then reaction; midpoint fits) against fd at
    equal floats per state; both measured against fd on a 128² grid with fourth-order stencils."""
    problem = symop.parse(ALLEN_CAHN.format(t_end=args.t_end))
    began = time.perf_counter()
    net = symop.solve(problem, "insr", progress=False, dt=args.dt, width=args.width, depth=args.depth,
                      iterations=args.iterations, initial_iterations=args.initial_iterations, points=args.points,
                      lr=args.lr, optimizer=args.optimizer, activation=args.activation, dtype="float64",
                      split="strang", scheme="midpoint")
    insr_time = time.perf_counter() - began
    floats = net.info["memory"]["floats_per_state"]
    n = int(round(np.sqrt(floats)))
    saves = int(round(args.t_end / args.every)) + 1
    reference = symop.solve(problem, "fd", n=128, order=4, scheme="rk4", save=saves)
    grids = {order: symop.solve(problem, "fd", n=n, order=order, scheme="rk4", save=saves) for order in (2, 4)}
    g = np.linspace(0, 1, 101)
    X, Y = np.meshgrid(g, g, indexing="ij")
    pts = np.stack([X.ravel(), Y.ravel()], axis=1)
    print(f"insr: strang (diffusion | reaction, midpoint fits), width {args.width}, depth {args.depth}, dt {args.dt}; "
          f"{floats} floats per state, {net.info['memory']['states']} states; {insr_time:.1f} s")
    print(f"fd:   n = {n} ({n * n} floats per state), rk4; reference fd n = 128, order 4")
    print(f"{'t':>6} {'insr mean|err|':>15} {'fd4 mean|err|':>14} {'fd4 / insr':>10} {'fd2 mean|err|':>14}")
    last = None
    for t in np.linspace(0, args.t_end, saves):
        ref = reference(pts, t=t)
        e = [float(np.mean(np.abs(sol(pts, t=t) - ref))) for sol in (net, grids[4], grids[2])]
        print(f"{t:6.2f} {e[0]:15.3e} {e[1]:14.3e} {e[1] / e[0]:10.2f} {e[2]:14.3e}")
        last = e
    print(f"at t = {args.t_end:g}: fd (order 4, same floats) / insr = {last[1] / last[0]:.2f}")
    print(f"load average after: {open('/proc/loadavg').read().split()[:3]}")


def heat_optimizers(args) -> None:
    """(3) The optimizers of the step fits on examples/heat.pde, one run each (see the module docstring)."""
    problem = symop.load(os.path.join(os.path.dirname(__file__), "..", "examples", "heat.pde"))
    print(f"{'optimizer':<10} {'iter':>4} {'init':>4} {'points':>6} {'rel_l2':>10} {'max err':>9}  "
          f"{'fit losses (initial, step 1, last)':<28} {'CPU s':>6} {'per iter ms':>11}  load average")
    width, depth = (int(v) for v in args.heat_net.split("x"))
    points, boundary_points = (int(v) for v in args.heat_points.split(":"))
    print(f"{width} x {depth} network, {points} + {boundary_points} points per boundary condition per iteration")
    for run in args.runs.split(","):
        name, *rest = run.split(":")
        iterations = int(rest[0]) if rest else 5
        initial = int(rest[1]) if len(rest) > 1 else 50
        fixed = len(rest) > 2 and rest[2] == "fixed"
        began = time.process_time()
        s = symop.solve(problem, "insr", progress=False, optimizer=name, dt=0.05, width=width, depth=depth,
                        points=points, boundary_points=boundary_points, iterations=iterations,
                        initial_iterations=initial, dtype="float64", eval_points=2000, resample=not fixed,
                        **({"lr": 1e-2} if name in ("adam", "soap") else {}))
        cpu = time.process_time() - began
        err = s.errors()["u"]
        losses = s.info["step_losses"]
        total = sum(s.info["step_iterations"])
        print(f"{name:<10} {iterations:>4} {initial:>4} {'fixed' if fixed else 'fresh':>6} {err['rel_l2']:10.3e} "
              f"{err['max']:9.2e}  {losses[0]:.1e}, {losses[1]:.1e}, {losses[-1]:.1e}       {cpu:6.1f} "
              f"{1e3 * cpu / total:11.1f}  {' '.join(open('/proc/loadavg').read().split()[:3])}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--t-end", type=float, default=12.0)
    parser.add_argument("--dt", type=float, default=0.1)
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--initial-iterations", type=int, default=300)
    parser.add_argument("--points", type=int, default=1024)
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--optimizer", default="lbfgs", help="any registered optimizer (adam: use --lr 1e-3)")
    parser.add_argument("--activation", default="tanh")
    parser.add_argument("--scheme", default="semi-lagrangian",
                        help="semi-lagrangian, or a scheme of insr (midpoint, crank-nicolson, rk4, ...)")
    parser.add_argument("--fd-order", type=int, default=4, help="the fd stencil order compared (the other is listed)")
    parser.add_argument("--every", type=float, default=1.0)
    parser.add_argument("--plot", default="")
    parser.add_argument("--case", default="pulse", choices=("pulse", "allen-cahn", "heat"),
                        help="(1) the advected pulse, (2) Allen-Cahn in 2D with Strang splitting, or (3) the step "
                             "fits' optimizers on 2D heat")
    parser.add_argument("--runs", default="kfac,engd,lbfgs",
                        help="--case heat: OPT[:ITERATIONS[:INITIAL[:fixed]]], comma-separated")
    parser.add_argument("--heat-net", default="16x2", help="--case heat: WIDTHxDEPTH")
    parser.add_argument("--heat-points", default="256:64", help="--case heat: INTERIOR:PER_BOUNDARY_CONDITION")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs; torch {torch.__version__} "
          f"({torch.get_num_threads()} threads); load average {open('/proc/loadavg').read().split()[:3]}")
    if args.case == "allen-cahn":
        allen_cahn(args)
        return
    if args.case == "heat":
        heat_optimizers(args)
        return
    problem = symop.parse(TEXT.format(t_end=args.t_end))
    options = dict(dt=args.dt, width=args.width, depth=args.depth, iterations=args.iterations,
                   initial_iterations=args.initial_iterations, points=args.points, lr=args.lr, progress=False,
                   optimizer=args.optimizer, activation=args.activation, dtype="float64")
    if args.scheme == "semi-lagrangian":
        options.update(split="strang", advection="semi-lagrangian", scheme="midpoint")
    else:
        options.update(scheme=args.scheme)
    progress = options.pop("progress")
    began = time.perf_counter()
    net = symop.solve(problem, "insr", progress=progress, **options)
    insr_time = time.perf_counter() - began
    floats = net.info["memory"]["floats_per_state"]
    began = time.perf_counter()
    saves = int(round(args.t_end / args.every)) + 1
    grid = symop.solve(problem, "fd", n=floats, order=args.fd_order, scheme="rk4", save=saves)
    fd_time = time.perf_counter() - began
    other = 2 if args.fd_order == 4 else 4
    grid2 = symop.solve(problem, "fd", n=floats, order=other, scheme="rk4", save=saves)
    x = np.linspace(-2, 2, 2001)
    times = np.linspace(0, args.t_end, saves)
    rows = []
    for t in times:
        e_net = float(np.mean(np.abs(net(x, t=t) - exact(x, t))))
        e_fd = float(np.mean(np.abs(grid(x, t=t) - exact(x, t))))
        rows.append((t, e_net, e_fd, float(np.mean(np.abs(grid2(x, t=t) - exact(x, t))))))
    print(f"insr: {args.scheme}, width {args.width}, depth {args.depth}, dt {args.dt}, {args.iterations} iterations "
          f"per step; {floats} floats per state ({net.info['memory']['bytes_per_state']} bytes), "
          f"{net.info['memory']['states']} states; {insr_time:.1f} s")
    print(f"fd:   n = {floats} cells (the same floats per state), order {args.fd_order}, rk4, "
          f"dt {grid.info.get('dt', float('nan')):.4g}; {fd_time:.1f} s")
    print(f"{'t':>6} {'insr mean|err|':>15} {'fd mean|err|':>13} {'fd / insr':>10} {f'fd order {other}':>13}")
    for t, a, b, c in rows:
        print(f"{t:6.2f} {a:15.3e} {b:13.3e} {b / a:10.2f} {c:13.3e}")
    print(f"at t = {args.t_end:g}: fd / insr = {rows[-1][2] / rows[-1][1]:.2f} (target >= 3)")
    mean_net = float(np.mean([r[1] for r in rows[1:]]))
    mean_fd = float(np.mean([r[2] for r in rows[1:]]))
    print(f"mean over the printed times t > 0: insr {mean_net:.3e}, fd {mean_fd:.3e}, "
          f"fd / insr = {mean_fd / mean_net:.2f}")
    # (3) the memory fd needs to match insr's error at the final time
    n, final = floats, rows[-1][1]
    if rows[-1][2] <= final:
        print(f"fd matches insr's error at t = {args.t_end:g} already with the same floats per state")
    while rows[-1][2] > final and n < 64 * floats:
        n = int(round(n * 1.25))
        e = float(np.mean(np.abs(symop.solve(problem, "fd", n=n, order=args.fd_order, scheme="rk4", save=2)(x)
                                 - exact(x, args.t_end))))
        if e <= final:
            print(f"fd matches insr's error at t = {args.t_end:g} ({final:.3e}) with n = {n} cells ({e:.3e}): "
                  f"{n / floats:.2f} x insr's floats per state")
            break
    else:
        if rows[-1][2] > final:
            print(f"fd does not match insr's error at t = {args.t_end:g} up to n = {n}")
    print(f"load average after: {open('/proc/loadavg').read().split()[:3]}")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
        ax[0].semilogy(times, [r[1] for r in rows], "o-", label=f"insr ({floats} floats)")
        ax[0].semilogy(times, [r[2] for r in rows], "s-", label=f"fd order {args.fd_order}, n = {floats}")
        ax[0].semilogy(times, [r[3] for r in rows], "^:", label=f"fd order {other}, n = {floats}")
        ax[0].set_xlabel("t")
        ax[0].set_ylabel("mean |u - u_exact|")
        ax[0].legend()
        ax[1].plot(x, exact(x, args.t_end), "k-", label="exact")
        ax[1].plot(x, net(x, t=args.t_end), "--", label="insr")
        ax[1].plot(x, grid(x, t=args.t_end), ":", label=f"fd (order {args.fd_order})")
        ax[1].set_xlabel("x")
        ax[1].set_title(f"t = {args.t_end:g}")
        ax[1].legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
