"""Benchmark of the fd method against py-pde (numba backend).

Explicit Euler with a fixed dt on periodic grids: 2D heat at 256² and 1024²,
Gray–Scott at 256².  Time per step is the difference of two runs with
different step counts inside one set-up (so set-up, compilation and per-call
overhead cancel), minimum over repeats; the counts are large enough that the
difference is many times the run-to-run noise.  A difference that still comes
out non-positive is printed as "unreliable", never as a negative time.  py-pde
is timed through one stepper made by ``EulerSolver.make_stepper`` (numba
compiles it once; ``PDE.solve`` would make and compile a new one per call).
Also prints the memory-bandwidth bound of a 1024² float64 step (16 bytes per
point per step) and cold-run times in fresh subprocesses.

    python benchmarks/fd.py [--quick] [--no-cold] [--no-eager] [--cpu-time]

``--cpu-time`` runs both codes on one thread and measures process CPU time
instead of wall time: on a machine shared with other jobs the wall time of a
multi-threaded step mostly measures the scheduler, the CPU time of a
single-threaded one still measures the code (up to cache and memory contention).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time

import numpy as np
import torch

HEAT = """
problem heat "periodic heat"
space x, y
time t in [0, {T}]
domain box(x: [0, 1], y: [0, 1])
boundary periodic(x, y)
param D = 1
field u
equation dt(u) = D*lap(u)
initial u = sin(2*pi*x)*cos(2*pi*y)
"""

GRAY_SCOTT = """
problem gs "Gray-Scott"
space x, y
time t in [0, {T}]
domain box(x: [0, 2.5], y: [0, 2.5])
boundary periodic(x, y)
param Du = 2e-5, Dv = 1e-5, F = 0.04, k = 0.06
field u, v
equation dt(u) = Du*lap(u) - u*v^2 + F*(1 - u)
equation dt(v) = Dv*lap(v) + u*v^2 - (F + k)*v
initial u = 1 - 0.5*exp(-100*((x - 1.25)^2 + (y - 1.25)^2))
initial v = 0.25*exp(-100*((x - 1.25)^2 + (y - 1.25)^2))
"""


#: the clock of the timed runs; ``--cpu-time`` swaps in ``time.process_time``
CLOCK = time.perf_counter


def heat_dt(n: int) -> float:
    return 0.2 / n**2


def symop_step(kind: str, n: int, steps: tuple[int, int], repeats: int, compile: bool) -> float:
    """Seconds per step of ``symop.lower(..., "fd", scheme="euler")`` through the fd time stepper."""
    import symop

    dt = heat_dt(n) if kind == "heat" else 1.0
    text = HEAT if kind == "heat" else GRAY_SCOTT

    from symop_fd.timestep import run_evolution

    problem = symop.parse(text.format(T=repr(dt * steps[1])))
    program = symop.lower(problem, "fd", n=n, scheme="euler", dt=dt, compile=compile)
    low = program.lowered("cpu")
    stamps: dict[int, float] = {}

    def mark(k: int, total: int, t: float) -> None:
        if k in steps:
            stamps[k] = CLOCK()

    run_evolution(low, program.options, mark)  # warm-up: compilation
    best = np.inf
    for _ in range(repeats):
        run_evolution(low, program.options, mark)
        best = min(best, (stamps[steps[1]] - stamps[steps[0]]) / (steps[1] - steps[0]))
    return best


def pypde_problem(kind: str, n: int):
    """py-pde's state, equation and time step for the same problem symop solves."""
    import pde

    if kind == "heat":
        grid = pde.CartesianGrid([(0, 1), (0, 1)], [n, n], periodic=True)
        state = pde.ScalarField.from_expression(grid, "sin(2*pi*x)*cos(2*pi*y)")
        return state, pde.DiffusionPDE(diffusivity=1.0, bc="periodic"), heat_dt(n)
    grid = pde.CartesianGrid([(0, 2.5), (0, 2.5)], [n, n], periodic=True)
    g = "exp(-100*((x - 1.25)**2 + (y - 1.25)**2))"
    state = pde.FieldCollection([pde.ScalarField.from_expression(grid, f"1 - 0.5*{g}", label="u"),
                                 pde.ScalarField.from_expression(grid, f"0.25*{g}", label="v")])
    eq = pde.PDE({"u": "Du*laplace(u) - u*v**2 + F*(1 - u)", "v": "Dv*laplace(v) + u*v**2 - (F + k)*v"},
                 consts={"Du": 2e-5, "Dv": 1e-5, "F": 0.04, "k": 0.06}, bc="periodic")
    return state, eq, 1.0


def pypde_solve(eq, state, dt: float, count: int) -> None:
    """``count`` explicit Euler steps of py-pde's numba backend (one-off: compiles a new stepper)."""
    eq.solve(state, t_range=dt * count, dt=dt, tracker=None, solver="explicit",
             scheme="euler", adaptive=False, backend="numba")


def pypde_step(kind: str, n: int, steps: tuple[int, int], repeats: int) -> float:
    """Seconds per step of one compiled py-pde Euler stepper: runs of ``steps[0]`` and ``steps[1]`` steps."""
    import pde

    state, eq, dt = pypde_problem(kind, n)
    stepper = pde.EulerSolver(eq, backend="numba", adaptive=False).make_stepper(state, dt=dt)
    stepper(state.copy(), 0.0, dt * steps[0])  # warm-up: numba compilation

    def run(count: int) -> float:
        s = state.copy()
        start = CLOCK()
        stepper(s, 0.0, dt * count)
        return CLOCK() - start

    best = np.inf
    for _ in range(repeats):
        a, b = run(steps[0]), run(steps[1])
        best = min(best, (b - a) / (steps[1] - steps[0]))
    return best


def ms(seconds: float) -> str:
    """A per-step time in ms, "unreliable" when the difference of two runs came out non-positive, "-" when not run."""
    if seconds != seconds:
        return "-"
    return f"{seconds * 1e3:.3f} ms" if seconds > 0 else "unreliable"


def ratio(a: float, b: float) -> str:
    if a != a or b != b:
        return "-"
    return f"{a / b:.2f}" if a > 0 and b > 0 else "unreliable"


def bandwidth() -> float:
    """Bytes per second of a large float64 copy, read + write counted."""
    n = 2**25
    a = torch.rand(n, dtype=torch.float64)
    b = torch.empty_like(a)
    best = np.inf
    for _ in range(5):
        start = time.perf_counter()
        b.copy_(a)
        best = min(best, time.perf_counter() - start)
    return 2 * 8 * n / best


COLD_SYMOP = """
import time; t = time.perf_counter()
import symop
text = {text!r}
symop.solve(symop.parse(text), "fd", n={n}, scheme="euler", dt={dt!r})
print(time.perf_counter() - t)
"""

COLD_PYPDE = """
import time; t = time.perf_counter()
import sys; sys.path.insert(0, {here!r})
import fd
fd.pypde_once({kind!r}, {n}, {steps})
print(time.perf_counter() - t)
"""


def pypde_once(kind: str, n: int, steps: int) -> None:
    state, eq, dt = pypde_problem(kind, n)
    pypde_solve(eq, state, dt, steps)


def cold(kind: str, n: int, steps: int) -> tuple[float, float]:
    dt = heat_dt(n) if kind == "heat" else 1.0
    text = (HEAT if kind == "heat" else GRAY_SCOTT).format(T=repr(dt * steps))
    here = os.path.dirname(os.path.abspath(__file__))
    out = []
    for code in (COLD_SYMOP.format(text=text, n=n, dt=dt), COLD_PYPDE.format(here=here, kind=kind, n=n, steps=steps)):
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        out.append(float(res.stdout.strip().splitlines()[-1]))
    return out[0], out[1]


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    global CLOCK
    quick = "--quick" in sys.argv
    if "--cpu-time" in sys.argv:
        os.environ["NUMBA_NUM_THREADS"] = "1"  # before py-pde imports numba
        torch.set_num_threads(1)
        CLOCK = time.process_time
        print("clock: process CPU time, one thread for symop and py-pde")
    reps = 2 if quick else 5
    print(f"machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu_model()}; "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads); load average "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    # step counts: the longer run takes ~0.2-1 s, far above the noise of one call
    cases = [("heat", 256, (200, 2200)), ("heat", 1024, (20, 220)), ("gray-scott", 256, (200, 2200))]
    print(f"\n{'case':<18}{'symop eager':>14}{'symop compile':>15}{'py-pde numba':>15}{'compile/pypde':>15}")
    rows = {}
    for kind, n, steps in cases:
        k = "heat" if kind == "heat" else "gs"
        eager = float("nan") if "--no-eager" in sys.argv else symop_step(k, n, steps, reps, compile=False)
        comp = symop_step(k, n, steps, reps, compile=True)
        ref = pypde_step(k, n, steps, reps)
        rows[(kind, n)] = comp

        def per_point(v: float) -> str:
            return "-" if v != v else f"{v / n**2 * 1e9:.2f}" if v > 0 else "unreliable"

        print(f"{kind + f' {n}²':<18}{ms(eager):>14}{ms(comp):>15}{ms(ref):>15}{ratio(comp, ref):>15}"
              f"   (eager/pypde {ratio(eager, ref)}; ns/point: eager {per_point(eager)}, "
              f"compile {per_point(comp)}, py-pde {per_point(ref)})")
    print(f"load average after the timed runs: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    bw = bandwidth()
    bound = 16 * 1024**2 / bw
    print(f"\nmemory bandwidth (large copy, read+write): {bw / 1e9:.1f} GB/s; "
          f"1024² float64 step bound (16 B/point): {bound * 1e3:.3f} ms = {bound / 1024**2 * 1e9:.2f} ns/point; "
          f"compiled heat 1024² / bound: {ratio(rows[('heat', 1024)], bound)}")
    if "--no-cold" in sys.argv:
        return
    print("\ncold runs (fresh subprocess, import + set-up + compile + 1000 steps, 256²):")
    for kind in ("heat", "gs"):
        s, p = cold(kind, 256, 1000)
        print(f"  {kind:<6} symop fd (eager) {s:6.2f} s   py-pde {p:6.2f} s")


if __name__ == "__main__":
    main()
