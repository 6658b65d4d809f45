"""Benchmark of the `fem` method: P1 Poisson on the unit square at about 10^6 unknowns.

Times, on the same structured mesh (n x n squares, 2 n^2 triangles):

* symop: geometry (Jacobians, gradients at the quadrature points) + stiffness
  matrix + load vector, through the lowered program (``FEMProgram.residual``,
  i.e. chunks of cells: geometry, generated coefficient functions and batched
  torch einsums per chunk, then one COO -> CSR);
* scikit-fem: ``Basis(MeshTri, ElementTriP1())`` + ``asm(laplace, basis)`` +
  the load vector ``asm(LinearForm(f v), basis)``;
* the solve of the Dirichlet problem with symop's default solver (``auto``:
  Ruge–Stüben AMG-preconditioned CG at this size, to a relative residual tied
  to the discretization error).

Usage: ``python benchmarks/fem.py [n]`` (default n = 1000: 1,002,001 unknowns).

``python benchmarks/fem.py --run [n] [--threads 1 2] [--repeat 2]`` times the whole
``symop run`` of the same problem (fresh process, defaults only) against the
scikit-fem + pyamg script ``benchmarks/fem_skfem.py`` (mesh, assembly,
Dirichlet condensation, Ruge–Stüben AMG-CG to the same relative residual as
symop's default, L2/H1 errors), run twice: with the norms' quadrature of
degree 4 that symop uses for P1's L2 error (same accuracy), and with
scikit-fem's default degree 2 (cheaper, about 3% off in L2 at 10^6 unknowns): CPU time
(user + system, from the child's rusage), wall time and peak resident memory
of each process, the best of ``repeat`` alternating runs, with the ratios.

``python benchmarks/fem.py --solve [n]`` times, in one process on one
assembled system, symop's default linear solve (``FEMProgram._solve_free``:
Dirichlet rows eliminated in place, ``solver: auto``) against pyamg
Ruge–Stüben + SciPy CG at the same relative residual on the condensed matrix
(``K[f][:, f]``, the condensation timed with it, as symop's elimination is),
and, for reference, the same with pyamg's direct interpolation (the hierarchy
symop builds for P1, so the rest of the difference is the cycle and the CG
loop) and smoothed aggregation at 1e-10 (the old default); CPU time of the
process (all threads), the best of 4 rotating runs and every run's figure, with
the errors each solution reaches.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

import symop
from machine import cpu_model  # benchmarks/machine.py: run as python benchmarks/NAME.py

TEXT = """
problem bench "-lap(u) = 2 pi^2 sin(pi x) sin(pi y)"
space x, y
domain box(x: [0, 1], y: [0, 1])
field u
exact u = sin(pi*x)*sin(pi*y)
equation -lap(u) = 2*pi^2*sin(pi*x)*sin(pi*y)
boundary all: u = 0
"""



def best(fn, repeat: int = 3):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main(n: int = 1000) -> None:
    import torch

    print(f"machine: nproc={os.cpu_count()}, CPU: {cpu_model()}, torch threads={torch.get_num_threads()}")
    problem = symop.parse(TEXT)
    prog = symop.lower(problem, method="fem", n=n)
    prog._setup()  # mesh and dofs
    N = prog.dofs.size
    print(f"mesh: {n} x {n} squares, {prog.mesh.num_cells} triangles, {N} unknowns (P1)")

    def symop_assembly():
        return prog.residual(None)  # geometry chunk by chunk, load vector r0 = -b and stiffness matrix K

    t_sym, (r0, K) = best(symop_assembly)
    print(f"symop      assembly (geometry + stiffness + load): {t_sym:.3f} s   nnz={K.nnz}")

    t_sk = None
    try:
        import skfem
        from skfem.models.poisson import laplace

        mesh = skfem.MeshTri(prog.mesh.points.T.copy(), prog.mesh.cells.T.copy())

        @skfem.LinearForm
        def load(v, w):
            x, y = w.x
            return 2 * np.pi**2 * np.sin(np.pi * x) * np.sin(np.pi * y) * v

        def sk_assembly():
            basis = skfem.Basis(mesh, skfem.ElementTriP1())
            return skfem.asm(laplace, basis), skfem.asm(load, basis)

        t_sk, (Ks, bs) = best(sk_assembly)
        print(f"scikit-fem assembly (basis + laplace + load):      {t_sk:.3f} s   nnz={Ks.nnz}")
        print(f"  max |K_symop - K_skfem| = {abs(K - Ks).max():.2e}, max |b_symop - b_skfem| = {np.abs(-r0 - bs).max():.2e}")
        print(f"ratio symop / scikit-fem (assembly): {t_sym / t_sk:.2f}")
    except ImportError:
        print("scikit-fem is not installed: pip install scikit-fem")

    solver, rtol = prog.solver_choice()
    t = time.perf_counter()
    u = prog._solve_free(K, -r0)  # the default solve: Dirichlet dofs eliminated in place (K is overwritten)
    t_solve = time.perf_counter() - t
    err = prog.norms(u, None)["u"]
    print(f"symop      solve (default solver 'auto' -> {solver}, relative residual {rtol:.1e}): {t_solve:.3f} s")
    print(f"  L2 error {err['l2']:.3e}, H1 error {err['h1']:.3e}")


def default_rtol(n: int) -> float:
    """The relative residual symop's default solver uses on the n x n unit-square P1 mesh."""
    from symop_fem.method import ALGEBRAIC_FRACTION, MAX_TOL, MIN_TOL

    h = np.sqrt(2.0) / n  # the longest edge of a right triangle of the mesh
    return float(min(MAX_TOL, max(MIN_TOL, ALGEBRAIC_FRACTION * h**2)))


def _child(cmd: list[str], threads: int, pycache: str | None = None) -> tuple[float, float, float, str]:
    """Run ``cmd`` with ``threads`` threads: (CPU seconds, wall seconds, peak MiB, stdout).

    ``pycache``: a folder for the children's bytecode (``PYTHONPYCACHEPREFIX``), written even where
    ``PYTHONDONTWRITEBYTECODE`` is set, so that after one warm-up run neither side compiles its modules
    from source; None keeps the environment as it is."""
    import subprocess

    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads))
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    out = proc.stdout.read()
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    if status != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with status {status}")
    return ru.ru_utime + ru.ru_stime, wall, ru.ru_maxrss / 1024, out


def whole_run(n: int, threads: list[int], repeat: int, cold_bytecode: bool = False) -> None:
    """The whole `symop run` against the scikit-fem + pyamg script, in fresh processes.

    Both sides import their modules from cached bytecode, as an installed package does: symop runs from
    this repository, where ``PYTHONDONTWRITEBYTECODE`` (set in some environments) left every run compiling
    its ~80 modules from source (0.1-0.2 s of CPU), while the libraries of the baseline come with their
    bytecode.  The children write bytecode into a temporary folder (not the repository) during one
    untimed warm-up run of each command at a small size.  ``cold_bytecode`` keeps the environment as it
    is instead (no warm-up)."""
    import json
    import shutil
    import tempfile

    here = os.path.dirname(os.path.abspath(__file__))
    with open("/proc/loadavg") as fh:
        load = fh.read().split()[:3]
    print(f"machine: nproc={os.cpu_count()}, CPU: {cpu_model()}, load average {' '.join(load)}")
    rtol = default_rtol(n)
    with tempfile.NamedTemporaryFile("w", suffix=".pde", delete=False) as fh:
        fh.write(TEXT)
        path = fh.name
    sym = [sys.executable, "-m", "symop", "run", path, "--method", "fem", "--set", f"n={n}", "--quiet", "--json"]
    script = os.path.join(here, "fem_skfem.py")
    baselines = {"skfem-q4": [sys.executable, script, str(n), repr(rtol), "4"],
                 "skfem-q2": [sys.executable, script, str(n), repr(rtol), "2"]}
    print(f"P1 Poisson, {n} x {n} squares, {(n + 1) ** 2} unknowns; relative residual {rtol:.1e} in all")
    print(f"symop:    {' '.join(sym[1:])}")
    for name, cmd in baselines.items():
        print(f"{name}: {' '.join(cmd[1:])}   (norms with a degree-{cmd[-1]} rule)")
    pycache = None if cold_bytecode else tempfile.mkdtemp(prefix="symop-bench-pycache-")
    print("bytecode: " + ("as the environment has it (no warm-up)" if cold_bytecode
                          else "cached in a temporary folder after one warm-up run of each command at n = 8"))
    try:
        if pycache is not None:
            small = [sym[:-3] + ["n=8"] + sym[-2:], *[[*cmd[:2], "8", *cmd[3:]] for cmd in baselines.values()]]
            for cmd in small:
                _child(cmd, 1, pycache)
        for nt in threads:
            best: dict = {}
            outs = {}
            cpus: dict = {}
            for _ in range(repeat):
                for name, cmd in (("symop", sym), *baselines.items()):
                    cpu, wall, peak, out = _child(cmd, nt, pycache)
                    outs[name] = out
                    cpus.setdefault(name, []).append(cpu)
                    if name not in best or cpu < best[name][0]:
                        best[name] = (cpu, wall, peak)
            js = json.loads(outs["symop"])
            e_sym = js["errors"]["u"]
            c1, w1, m1 = best["symop"]
            print(f"threads={nt}  (best CPU of {repeat}; every run's CPU: "
                  + "; ".join(f"{name} " + " ".join(f"{c:.2f}" for c in cs) for name, cs in cpus.items()) + ")")
            print(f"  symop run  CPU {c1:7.2f} s  wall {w1:7.2f} s  peak {m1:7.0f} MiB  L2 {e_sym['l2']:.6e}  "
                  f"H1 {e_sym['h1']:.6e}  solver {js['info'].get('solver')}  timing "
                  + ", ".join(f"{k} {v:.2f}" for k, v in js["info"]["timing"].items()))
            for name in baselines:
                e_sk = json.loads(outs[name].strip().splitlines()[-1])
                c2, w2, m2 = best[name]
                print(f"  {name}   CPU {c2:7.2f} s  wall {w2:7.2f} s  peak {m2:7.0f} MiB  L2 {e_sk['l2']:.6e}  "
                      f"H1 {e_sk['h1']:.6e}  CG its {e_sk['iterations']}  stages (wall) "
                      + ", ".join(f"{k} {v:.2f}" for k, v in e_sk["stages"].items()))
                print(f"  ratio symop / {name}: CPU {c1 / c2:.2f}, wall {w1 / w2:.2f}, peak memory {m1 / m2:.2f}")
    finally:
        os.unlink(path)
        if pycache is not None:
            shutil.rmtree(pycache, ignore_errors=True)


REPEAT_SOLVE = 4


def solve_only(n: int) -> None:
    """symop's default linear solve against Ruge–Stüben CG at the same relative residual."""
    import resource

    import pyamg
    import scipy.sparse.linalg as spla
    import torch

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    with open("/proc/loadavg") as fh:
        load = " ".join(fh.read().split()[:3])
    blas = os.environ.get("OPENBLAS_NUM_THREADS")
    print(f"machine: nproc={os.cpu_count()}, CPU: {cpu_model()}, torch threads={torch.get_num_threads()}, "
          + (f"OPENBLAS_NUM_THREADS={blas}, " if blas else "") + f"load average {load}")
    prog = symop.lower(symop.parse(TEXT), method="fem", n=n)
    prog._setup()
    f = prog.free
    r0, K = prog.residual(None)
    solver, rtol = prog.solver_choice()
    print(f"P1 Poisson, {n} x {n} squares, {prog.dofs.size} unknowns; symop's default: {solver}, "
          f"relative residual {rtol:.1e}")
    Kff = K[f][:, f].tocsr()
    b = -r0[f]

    def report(name, seconds, x_free):
        u = np.zeros(prog.dofs.size)
        u[f] = x_free
        e = prog.norms(u, None)["u"]
        print(f"  {name:44s} CPU {seconds:6.2f} s   L2 {e['l2']:.6e}  H1 {e['h1']:.6e}")
        return seconds

    rows: dict = {"rs": [], "symop": [], "rs-direct": []}

    def rs(interpolation: str = "classical", key: str = "rs"):
        t = cpu()
        Kff = K[f][:, f].tocsr()  # the condensation is on its way to the solver, as symop's elimination is
        ml = pyamg.ruge_stuben_solver(Kff, interpolation=interpolation)
        x, _ = spla.cg(Kff, b, rtol=rtol, atol=0.0, M=ml.aspreconditioner(), maxiter=1000)
        rows[key].append((cpu() - t, x))

    def rs_direct():
        rs("direct", "rs-direct")  # the hierarchy symop builds for P1, with pyamg's own cycle and SciPy's CG

    def sym():
        J = K.copy()  # _solve_free overwrites its matrix; the copy is outside the timing
        t = cpu()
        x = prog._solve_free(J, -r0)
        rows["symop"].append((cpu() - t, x[f]))

    fns = (rs, sym, rs_direct)
    for k in range(REPEAT_SOLVE):  # rotating which goes first
        for fn in fns[k % 3:] + fns[:k % 3]:
            fn()
    t = cpu()
    ml = pyamg.smoothed_aggregation_solver(Kff)
    x, _ = spla.cg(Kff, b, rtol=1e-10, atol=0.0, M=ml.aspreconditioner(), maxiter=1000)
    t_sa = cpu() - t
    s_sym = report(f"symop default (best of {REPEAT_SOLVE})", *min(rows["symop"], key=lambda r: r[0]))
    s_rs = report(f"pyamg Ruge-Stuben + CG, rtol {rtol:.1e} (best of {REPEAT_SOLVE})",
                  *min(rows["rs"], key=lambda r: r[0]))
    s_rsd = report(f"pyamg R-S direct interp. + CG (best of {REPEAT_SOLVE})", *min(rows["rs-direct"], key=lambda r: r[0]))
    report("pyamg smoothed aggregation + CG, rtol 1e-10", t_sa, x)
    print(f"  ratio symop / Ruge-Stuben CG (solve): {s_sym / s_rs:.2f}   "
          f"(against the direct-interpolation row: {s_sym / s_rsd:.2f})")
    print("  every run's CPU: " + "; ".join(f"{name} " + " ".join(f"{r[0]:.2f}" for r in rows[key])
                                            for key, name in (("symop", "symop"), ("rs", "Ruge-Stuben CG"),
                                                              ("rs-direct", "direct"))))


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("n", nargs="?", type=int, default=1000, help="squares per axis (default 1000)")
    ap.add_argument("--run", action="store_true", help="whole `symop run` against the scikit-fem + pyamg script")
    ap.add_argument("--solve", action="store_true", help="the default solve against Ruge-Stuben CG")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts for --run")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each process for --run (best CPU kept)")
    ap.add_argument("--cold-bytecode", action="store_true",
                    help="--run without the warm-up that caches the children's bytecode")
    args = ap.parse_args()
    if args.run:
        whole_run(args.n, args.threads, args.repeat, args.cold_bytecode)
    elif args.solve:
        solve_only(args.n)
    else:
        main(args.n)
