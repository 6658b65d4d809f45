"""The scikit-fem + pyamg script that `benchmarks/fem.py --run` holds `symop run` against.

It does what ``symop run`` does for P1 Poisson on the unit square with
``u = sin(pi x) sin(pi y)``, as a user of those libraries would write it: the
structured mesh (``MeshTri.init_tensor``, n x n squares, two triangles each),
the P1 basis, the stiffness matrix and load vector, the Dirichlet condensation,
Ruge–Stüben AMG-preconditioned CG (pyamg + SciPy) to the relative residual
given on the command line (the one symop's default picks, so both stop at the
same accuracy), and the L2 and H1 errors, with a quadrature of degree 4 (exact
for the leading term of the P1 error, as in symop; scikit-fem's default of 2
misses about 3% of the L2 error here).  It prints one JSON line.

Usage: ``python benchmarks/fem_skfem.py N RTOL [NORM_DEGREE]`` (NORM_DEGREE 4 by default;
2 is scikit-fem's own default for P1, cheaper and about 3% off in the L2 error here).
"""

from __future__ import annotations

import json
import resource
import sys
import time

import numpy as np


def main(n: int, rtol: float, norm_degree: int = 4) -> None:
    t0 = time.perf_counter()
    import pyamg
    import scipy.sparse.linalg as spla
    import skfem
    from skfem.helpers import grad
    from skfem.models.poisson import laplace

    t_import = time.perf_counter() - t0
    stages = {}
    t = time.perf_counter()
    x = np.linspace(0.0, 1.0, n + 1)
    mesh = skfem.MeshTri.init_tensor(x, x)
    stages["mesh"] = time.perf_counter() - t

    t = time.perf_counter()
    basis = skfem.Basis(mesh, skfem.ElementTriP1())

    @skfem.LinearForm
    def load(v, w):
        return 2 * np.pi**2 * np.sin(np.pi * w.x[0]) * np.sin(np.pi * w.x[1]) * v

    A = skfem.asm(laplace, basis)
    b = skfem.asm(load, basis)
    stages["assembly"] = time.perf_counter() - t

    t = time.perf_counter()
    D = basis.get_dofs()
    Aff, bf, u, interior = skfem.condense(A, b, D=D, expand=True)
    ml = pyamg.ruge_stuben_solver(Aff)
    its = []
    uf, info = spla.cg(Aff, bf, rtol=rtol, atol=0.0, M=ml.aspreconditioner(), maxiter=1000,
                       callback=lambda xk: its.append(1))
    u = u.copy()
    u[interior] = uf
    stages["solve"] = time.perf_counter() - t

    t = time.perf_counter()
    ebasis = skfem.Basis(mesh, skfem.ElementTriP1(), intorder=norm_degree)
    uh = ebasis.interpolate(u)

    @skfem.Functional
    def l2(w):
        return (w.uh - np.sin(np.pi * w.x[0]) * np.sin(np.pi * w.x[1])) ** 2

    @skfem.Functional
    def h1(w):
        gx = np.pi * np.cos(np.pi * w.x[0]) * np.sin(np.pi * w.x[1])
        gy = np.pi * np.sin(np.pi * w.x[0]) * np.cos(np.pi * w.x[1])
        g = grad(w.uh)
        return (g[0] - gx) ** 2 + (g[1] - gy) ** 2

    el2 = float(np.sqrt(l2.assemble(ebasis, uh=uh)))
    eh1 = float(np.sqrt(h1.assemble(ebasis, uh=uh)))
    stages["norms"] = time.perf_counter() - t
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"unknowns": int(basis.N), "l2": el2, "h1": eh1, "iterations": len(its), "info": int(info),
                      "import": t_import, "stages": stages, "cpu": ru.ru_utime + ru.ru_stime,
                      "peak_mib": ru.ru_maxrss / 1024}))


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 4)
