"""Benchmark of the fd method against py-pde (numba backend, and its torch backend).

Explicit Euler with a fixed dt on periodic grids: 2D heat and Gray–Scott at 256²
and 1024².  Time per step is the difference of two runs with different step
counts inside one set-up (so set-up, compilation and per-call overhead cancel),
minimum over repeats; the counts are large enough that the difference is many
times the run-to-run noise.  A difference that still comes out non-positive is
printed as "unreliable", never as a negative time.  py-pde is timed through one
stepper made by ``EulerSolver.make_stepper`` (numba or torch.compile compiles it
once; ``PDE.solve`` would make and compile a new one per call).

Columns: symop eager (``compile: false``), symop compiled (``compile: true``),
the path fd's default takes for the longer of the two runs, py-pde numba and
py-pde torch.  Also prints the memory-bandwidth bound of a 1024² float64 step
(16 bytes per point per step) and cold runs: ``symop run`` of an equation file
in a fresh process (import, set-up, compilation when the default compiles,
1000 steps at 256²), twice, the first with an empty compile cache, against a
fresh py-pde process; wall time and CPU time (the process and its children).

    python benchmarks/fd.py [--quick] [--no-cold] [--no-eager] [--no-torch] [--cpu-time] [--threads N]

``--cpu-time`` runs both codes on one thread and measures process CPU time
instead of wall time: on a machine shared with other jobs the wall time of a
multi-threaded step mostly measures the scheduler, the CPU time of a
single-threaded one still measures the code (up to cache and memory contention).
``--threads N`` gives symop's torch N intra-op threads and py-pde's numba N
threads (``NUMBA_NUM_THREADS``, set before numba is imported) and also measures
process CPU time (all threads together); a second table gives the wall time of
the same runs, since CPU time alone hides a speed-up from threads and counts
workers that spin-wait.  ``--cpu-time`` is ``--threads 1``.  fd's default still
chooses its own threads inside (an eager run below 2^20 points steps on one).

The cold runs are always a user's default: fresh processes with the environment
this script was started with (``--threads`` does not reach them), so torch and
numba take their own thread counts there; the header line says which.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import torch

from machine import cpu_model  # benchmarks/machine.py: run as python benchmarks/NAME.py

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


#: the clock of the tables' first columns: wall time, or process CPU time with ``--cpu-time`` / ``--threads``
CPU_CLOCK = False
#: the environment this script was started with: what the cold runs get (a user's default)
USER_ENV = dict(os.environ)


def clocks() -> tuple[float, float]:
    """(process CPU time, wall time) now, in seconds."""
    return time.process_time(), time.perf_counter()


def best_per_step(pairs: list[tuple[tuple[float, float], tuple[float, float]]], count: int) -> tuple[float, float]:
    """(CPU, wall) seconds per step: the smallest difference over repeats of ``(start, end)`` clock pairs, each
    clock on its own, divided by the ``count`` steps between them."""
    return (min((b[0] - a[0]) / count for a, b in pairs), min((b[1] - a[1]) / count for a, b in pairs))


def main_clock(pair: tuple[float, float]) -> float:
    """The time the tables lead with: CPU with ``--cpu-time`` / ``--threads``, else wall."""
    return pair[0] if CPU_CLOCK else pair[1]


def heat_dt(n: int) -> float:
    return 0.2 / n**2


def step_dt(kind: str, n: int) -> float:
    """The Euler step of a case: 0.2 h² for heat; for Gray–Scott 1 at 256² and (256/n)² finer (stable, Du dt/h² ≈ 0.2)."""
    return heat_dt(n) if kind == "heat" else (256 / n) ** 2


def symop_step(kind: str, n: int, steps: tuple[int, int], repeats: int,
               compile: bool | None) -> tuple[float, float]:
    """(CPU, wall) seconds per step of ``symop.lower(..., "fd", scheme="euler")`` through the fd time stepper.

    ``compile=None`` leaves fd's default to choose (it compiles for these runs when they are long enough).
    """
    import symop

    dt = step_dt(kind, n)
    text = HEAT if kind == "heat" else GRAY_SCOTT

    from symop_fd.timestep import run_evolution

    problem = symop.parse(text.format(T=repr(dt * steps[1])))
    extra = {} if compile is None else {"compile": compile}
    program = symop.lower(problem, "fd", n=n, scheme="euler", dt=dt, **extra)
    low = program.lowered("cpu")
    stamps: dict[int, tuple[float, float]] = {}

    def mark(k: int, total: int, t: float) -> None:
        if k in steps:
            stamps[k] = clocks()

    run_evolution(low, program.options, mark)  # warm-up: compilation
    pairs = []
    for _ in range(repeats):
        run_evolution(low, program.options, mark)
        pairs.append((stamps[steps[0]], stamps[steps[1]]))
    return best_per_step(pairs, steps[1] - steps[0])


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
    return state, eq, step_dt("gs", n)


def pypde_solve(eq, state, dt: float, count: int) -> None:
    """``count`` explicit Euler steps of py-pde's numba backend (one-off: compiles a new stepper)."""
    eq.solve(state, t_range=dt * count, dt=dt, tracker=None, solver="explicit",
             scheme="euler", adaptive=False, backend="numba")


def pypde_step(kind: str, n: int, steps: tuple[int, int], repeats: int,
               backend: str = "numba") -> tuple[float, float]:
    """(CPU, wall) seconds per step of one compiled py-pde Euler stepper: runs of ``steps[0]`` and ``steps[1]``
    steps."""
    import pde

    state, eq, dt = pypde_problem(kind, n)
    stepper = pde.EulerSolver(eq, backend=backend, adaptive=False).make_stepper(state, dt=dt)
    stepper(state.copy(), 0.0, dt * steps[0])  # warm-up: numba or torch.compile compilation

    def run(count: int) -> tuple[float, float]:
        s = state.copy()
        start = clocks()
        stepper(s, 0.0, dt * count)
        end = clocks()
        return end[0] - start[0], end[1] - start[1]

    pairs = []
    for _ in range(repeats):
        a, b = run(steps[0]), run(steps[1])
        pairs.append(((0.0, 0.0), (b[0] - a[0], b[1] - a[1])))
    return best_per_step(pairs, steps[1] - steps[0])


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


def timed_process(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its children) of one fresh process."""
    import resource

    def children() -> float:
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    before, start = children(), time.perf_counter()
    subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return time.perf_counter() - start, children() - before


def cold(kind: str, n: int, steps: int, options: str, cache: str) -> tuple[tuple[float, float], ...]:
    """Two cold ``symop run``s sharing the compile cache ``cache`` (empty before the first).

    ``options`` goes on the file's ``solve fd(...)`` line after ``n``, ``scheme`` and ``dt``.
    """
    import tempfile

    dt = step_dt(kind, n)
    text = (HEAT if kind == "heat" else GRAY_SCOTT).format(T=repr(dt * steps))
    text += f"\nsolve fd(n: {n}, scheme: euler, dt: {dt!r}, save: 0{options})\n"
    env = {k: v for k, v in USER_ENV.items() if k not in ("TORCHINDUCTOR_CACHE_DIR", "SYMOP_COMPILE")}
    env["SYMOP_CACHE_DIR"] = cache
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f"{kind}.pde")
        with open(path, "w") as f:
            f.write(text)
        run = [sys.executable, "-m", "symop", "run", path, "-q"]
        first = timed_process(run, env)
        second = timed_process(run, env)
    return first, second


def cold_pypde(kind: str, n: int, steps: int) -> tuple[float, float]:
    """A cold py-pde (numba) run of the same problem: (wall, CPU) seconds."""
    here = os.path.dirname(os.path.abspath(__file__))
    return timed_process([sys.executable, "-c", COLD_PYPDE.format(here=here, kind=kind, n=n, steps=steps)],
                         dict(USER_ENV))



def main() -> None:
    global CPU_CLOCK
    quick = "--quick" in sys.argv
    threads = 1 if "--cpu-time" in sys.argv else None
    if "--threads" in sys.argv:
        threads = int(sys.argv[sys.argv.index("--threads") + 1])
    if threads is not None:
        os.environ["NUMBA_NUM_THREADS"] = str(threads)  # before py-pde imports numba
        torch.set_num_threads(threads)
        CPU_CLOCK = True
        print(f"clock: process CPU time (all threads; wall time in a second table), {threads} thread(s) for symop's "
              f"torch and py-pde's numba")
    reps = 2 if quick else 5
    print(f"machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu_model()}; "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads); load average "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    # step counts: the longer run takes ~0.2-1 s, far above the noise of one call
    cases = [("heat", 256, (200, 2200)), ("heat", 1024, (20, 220)),
             ("gray-scott", 256, (200, 2200)), ("gray-scott", 1024, (20, 220))]
    torch_baseline = "--no-torch" not in sys.argv
    print(f"\n{'case':<17}{'symop eager':>13}{'symop compiled':>16}{'default':>10}{'py-pde numba':>14}"
          f"{'py-pde torch':>14}{'default/numba':>15}{'default/torch':>15}")
    rows, walls = {}, []
    from symop_fd.timestep import worth_compiling
    import symop

    for kind, n, steps in cases:
        k = "heat" if kind == "heat" else "gs"
        nan = (float("nan"), float("nan"))
        eager2 = nan if "--no-eager" in sys.argv else symop_step(k, n, steps, reps, compile=False)
        comp2 = symop_step(k, n, steps, reps, compile=True)
        # what fd's default does with the longer run (same check as run_evolution)
        text = (HEAT if k == "heat" else GRAY_SCOTT).format(T="1")
        low = symop.lower(symop.parse(text), "fd", n=n, scheme="euler").lowered("cpu")
        default_compiles = worth_compiling(low, "euler", steps[1])
        default2 = comp2 if default_compiles else eager2
        ref2 = pypde_step(k, n, steps, reps)
        ref_torch2 = pypde_step(k, n, steps, reps, backend="torch") if torch_baseline else nan
        eager, comp, default, ref, ref_torch = map(main_clock, (eager2, comp2, default2, ref2, ref_torch2))
        rows[(kind, n)] = comp
        walls.append((kind, n, eager2[1], comp2[1], default_compiles, ref2[1], ref_torch2[1]))

        def per_point(v: float) -> str:
            return "-" if v != v else f"{v / n**2 * 1e9:.2f}" if v > 0 else "unreliable"

        print(f"{kind + f' {n}²':<17}{ms(eager):>13}{ms(comp):>16}{'compiled' if default_compiles else 'eager':>10}"
              f"{ms(ref):>14}{ms(ref_torch):>14}{ratio(default, ref):>15}{ratio(default, ref_torch):>15}"
              f"   (ns/point: eager {per_point(eager)}, compiled {per_point(comp)}, py-pde numba {per_point(ref)}, "
              f"torch {per_point(ref_torch)})")
    print("load average after the timed runs: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    if CPU_CLOCK:
        print("\nwall time per step, same runs (best of the repeats, each clock on its own):")
        for kind, n, eager, comp, default_compiles, ref, ref_torch in walls:
            default = comp if default_compiles else eager
            path = "compiled" if default_compiles else "eager"
            print(f"{kind + f' {n}²':<17}{ms(eager):>13}{ms(comp):>16}{path:>10}"
                  f"{ms(ref):>14}{ms(ref_torch):>14}{ratio(default, ref):>15}{ratio(default, ref_torch):>15}")
    bw = bandwidth()
    bound = 16 * 1024**2 / bw
    print(f"\nmemory bandwidth (large copy, read+write): {bw / 1e9:.1f} GB/s; "
          f"1024² float64 step bound (16 B/point): {bound * 1e3:.3f} ms = {bound / 1024**2 * 1e9:.2f} ns/point; "
          f"compiled heat 1024² / bound: {ratio(rows[('heat', 1024)], bound)}")
    if "--no-cold" in sys.argv:
        return
    import tempfile

    print("\ncold runs: `symop run FILE` in a fresh process (import, set-up, compilation if any, 1000 Euler steps "
          "at 256²), twice with one compile cache that is empty before the first; py-pde numba in a fresh process; "
          "the environment this script started with (threads: "
          + ", ".join(f"{v}={USER_ENV.get(v, 'unset')}" for v in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS"))
          + f", {len(os.sched_getaffinity(0))} cores). wall / CPU (process and children) seconds:")
    for kind in ("heat", "gs"):
        wp, cp = cold_pypde(kind, 256, 1000)
        print(f"  {kind:<5} py-pde numba         {wp:6.2f} / {cp:6.2f}")
        for label, options in (("default", ""), ("compile: true", ", compile: true")):
            with tempfile.TemporaryDirectory() as cache:
                (w1, c1), (w2, c2) = cold(kind, 256, 1000, options, cache)
            print(f"  {kind:<5} symop {label:<14} first {w1:6.2f} / {c1:6.2f}   second {w2:6.2f} / {c2:6.2f}   "
                  f"CPU / py-pde: first {c1 / cp:.2f}, second {c2 / cp:.2f}")


if __name__ == "__main__":
    main()
