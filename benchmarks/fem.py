"""Benchmark of the `fem` method: P1 Poisson on the unit square at about 10^6 unknowns.

Times, on the same structured mesh (n x n squares, 2 n^2 triangles):

* symop: geometry (Jacobians, gradients at the quadrature points) + stiffness
  matrix + load vector, through the lowered program (``FEMProgram.residual``,
  i.e. generated coefficient functions, batched torch einsum, COO -> CSR);
* scikit-fem: ``Basis(MeshTri, ElementTriP1())`` + ``asm(laplace, basis)`` +
  the load vector ``asm(LinearForm(f v), basis)``;
* the solve of the Dirichlet problem with symop's default solver (``auto``:
  AMG-preconditioned CG at this size).

Usage: ``python benchmarks/fem.py [n]`` (default n = 1000: 1,002,001 unknowns).
"""

from __future__ import annotations

import os
import platform
import sys
import time

import numpy as np

import symop

TEXT = """
problem bench "-lap(u) = 2 pi^2 sin(pi x) sin(pi y)"
space x, y
domain box(x: [0, 1], y: [0, 1])
field u
exact u = sin(pi*x)*sin(pi*y)
equation -lap(u) = 2*pi^2*sin(pi*x)*sin(pi*y)
boundary all: u = 0
"""


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def best(fn, repeat: int = 3):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main(n: int = 1000) -> None:
    import torch

    from symop.integrate import solve_sparse
    from symop_fem.assembly import CellSpace

    print(f"machine: nproc={os.cpu_count()}, CPU: {cpu_model()}, torch threads={torch.get_num_threads()}")
    problem = symop.parse(TEXT)
    prog = symop.lower(problem, method="fem", n=n)
    prog._setup()  # mesh and dofs
    N = prog.dofs.size
    print(f"mesh: {n} x {n} squares, {prog.mesh.num_cells} triangles, {N} unknowns (P1)")

    def symop_assembly():
        prog.cells = CellSpace(prog.dofs, 2, 3)  # geometry at the quadrature points
        return prog.residual(None)  # load vector r0 = -b and stiffness matrix K

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

    f = prog.free
    t = time.perf_counter()
    Kff = K[f][:, f]
    u = np.zeros(N)
    u[f] = solve_sparse(Kff, -r0[f], solver="auto")
    t_solve = time.perf_counter() - t
    err = prog.norms(u, None)["u"]
    print(f"symop      solve (default solver 'auto' -> {'AMG-CG' if len(f) >= 200_000 else 'direct'}): {t_solve:.3f} s")
    print(f"  L2 error {err['l2']:.3e}, H1 error {err['h1']:.3e}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
