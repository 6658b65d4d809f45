"""fem's assembly goes through the cells in chunks: the residual, Jacobian and mass matrix do not depend
on the chunk size, the chunks' geometry is kept only when the problem assembles again, the mesh size is
the mesh's own, and P1 AMG-CG preconditions with Ruge–Stüben direct interpolation (falling back to the
shared solver)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import symop

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

POISSON = """
problem p "Poisson"
space x, y
domain box(x: [0, 1], y: [0, 1])
field u
exact u = sin(pi*x)*sin(pi*y)
equation -lap(u) = 2*pi^2*sin(pi*x)*sin(pi*y)
boundary all: u = 0
"""

NONLINEAR = """
problem q "variable coefficient, convection, reaction: every kind of element matrix"
space x, y
domain disk(center: (0, 0), radius: 1)
field u
equation -div((1 + u^2)*grad(u)) + dx(u) + u^3 = 1 + x*y
boundary all: dn(u) + u = x
"""


def _lowered(text: str, **options):
    prog = symop.lower(symop.parse(text), method="fem", **options)
    prog._setup()
    return prog


@pytest.mark.parametrize("text, options", [(POISSON, dict(n=9)), (POISSON, dict(n=5, degree=2)),
                                           (NONLINEAR, dict(h=0.3, degree=2)), (NONLINEAR, dict(h=0.25))],
                         ids=["P1", "P2", "P2-curved-nonlinear", "P1-nonlinear"])
def test_chunked_assembly_does_not_depend_on_the_chunk_size(text, options, monkeypatch) -> None:
    import symop_fem.method as fem

    prog = _lowered(text, **options)
    rng = np.random.default_rng(0)
    u = rng.standard_normal(prog.size)
    whole_R, whole_J = prog.residual(u)
    whole_M = prog.mass()
    monkeypatch.setattr(fem, "ASSEMBLY_CHUNK", 7)  # many chunks, the last one partial
    prog = _lowered(text, **options)
    assert prog.dofs.cells.shape[0] % 7 != 0 and prog.dofs.cells.shape[0] > 7
    R, J = prog.residual(u)
    scale = abs(whole_J).max()
    assert abs(J - whole_J).max() <= 1e-13 * scale
    assert np.abs(R - whole_R).max() <= 1e-13 * np.abs(whole_R).max()
    assert abs(prog.mass() - whole_M).max() <= 1e-15
    R0, J0 = prog.residual(u, jacobian=False)
    assert J0 is None and np.array_equal(R0, R)


def test_chunked_stiffness_is_the_whole_mesh_one(monkeypatch) -> None:
    """The chunks' P1 stiffness matrix is the one of a single space over all cells (the path checked
    against scikit-fem in test_fem.py)."""
    import symop_fem.method as fem
    from symop_fem.assembly import CellSpace

    monkeypatch.setattr(fem, "ASSEMBLY_CHUNK", 10)
    prog = _lowered(POISSON, n=8)
    r0, K = prog.residual(None)
    cs = CellSpace(prog.dofs, 2, 3)
    assert abs(K - cs.matrix(A=np.eye(2))).max() < 1e-14
    f = 2 * np.pi**2 * torch.sin(np.pi * cs.xq[..., 0]) * torch.sin(np.pi * cs.xq[..., 1])
    assert np.abs(-r0 - cs.vector(f=f)).max() < 1e-14


@pytest.mark.parametrize("text, options, kept", [(POISSON, dict(n=8), False), (NONLINEAR, dict(h=0.3), True)],
                         ids=["steady-linear", "newton"])
def test_geometry_is_kept_only_when_assembled_again(text, options, kept, monkeypatch) -> None:
    import symop_fem.assembly as assembly
    import symop_fem.method as fem

    made = []
    real = assembly.CellSpace

    class Counting(real):
        def __init__(self, dofs, dim, qdegree, geometry=None):
            made.append(qdegree)
            super().__init__(dofs, dim, qdegree, geometry)

    monkeypatch.setattr(assembly, "CellSpace", Counting)
    monkeypatch.setattr(fem, "ASSEMBLY_CHUNK", 16)
    prog = symop.lower(symop.parse(text), method="fem", **options)
    sol = prog.run()
    chunks = -(-prog.dofs.cells.shape[0] // 16)
    assembled = [q for q in made if q == 2 * prog.degree + 1]
    if kept:  # Newton assembles every iteration, on the geometry of the first
        assert sol.info["newton_iterations"] >= 3
        assert len(assembled) == chunks and len(prog._cell_cache) == chunks
    else:
        assert len(assembled) == chunks and prog._cell_cache is None


@pytest.mark.parametrize("text, options", [(POISSON, dict(n=7)), (NONLINEAR, dict(h=0.2))], ids=["box", "disk"])
def test_mesh_size_is_the_meshs_own(text, options) -> None:
    from symop_fem.assembly import max_cell_size

    from symop.model.mesh import Mesh

    prog = _lowered(text, **options)
    assert prog.h == prog.mesh.max_size()
    assert max_cell_size(prog.mesh.points, prog.mesh.cells, chunk=5) == prog.mesh.max_size()
    rng = np.random.default_rng(1)  # the longest edge of any pair of vertices, in 2D and 3D
    for d in (2, 3):
        mesh = Mesh(rng.random((40, d)), rng.integers(0, 40, size=(23, d + 1)))
        assert max_cell_size(mesh.points, mesh.cells, chunk=4) == mesh.max_size()
        corner = Mesh(np.vstack([np.zeros(d), np.eye(d)]), np.arange(d + 1)[None])  # longest edges off vertex 0
        assert max_cell_size(corner.points, corner.cells) == corner.max_size() == np.sqrt(2.0)


def test_p1_amg_preconditions_with_direct_interpolation_and_falls_back(monkeypatch) -> None:
    import pyamg

    import symop.integrate.linear as linear

    calls = []
    real = pyamg.ruge_stuben_solver

    def recording(A, **kw):
        calls.append(kw.get("interpolation", "classical"))
        return real(A, **kw)

    monkeypatch.setattr(pyamg, "ruge_stuben_solver", recording)
    direct = symop.lower(symop.parse(POISSON), method="fem", n=40, solver="direct").run().errors()["u"]["l2"]
    sol = symop.lower(symop.parse(POISSON), method="fem", n=40, solver="amg").run()
    assert calls == ["direct"]
    assert sol.errors()["u"]["l2"] == pytest.approx(direct, rel=1e-3)
    # as if CG with direct interpolation missed the tolerance
    monkeypatch.setattr(linear, "preconditioned_cg", lambda A, b, M, tol, maxiter=1000: np.zeros_like(b))
    shared = []
    monkeypatch.setattr(linear._ScipySolver, "_hierarchy",
                        lambda self, name, real=linear._ScipySolver._hierarchy: (shared.append(name), real(self, name)))
    sol = symop.lower(symop.parse(POISSON), method="fem", n=40, solver="amg").run()
    assert shared == ["ruge-stuben-direct", "ruge-stuben"] and calls[-2:] == ["direct", "classical"]
    assert sol.errors()["u"]["l2"] == pytest.approx(direct, rel=1e-3)


def test_element_scatter_sums_like_coo(monkeypatch) -> None:
    """Chunks of element matrices through ElementScatter give the COO sum of all of them, exact zeros
    dropped, cells without a matrix counted as zero."""
    from symop_fem.assembly import ElementScatter, to_csr, triplets

    rng = np.random.default_rng(2)
    n, nb = 30, 3
    cells = rng.integers(0, n, size=(50, nb))
    Ke = torch.as_tensor(rng.standard_normal((50, nb, nb)))
    Ke[:, 0, 1] = 0.0
    Ke[40:] = 0.0  # the last chunk adds nothing
    scatter = ElementScatter(cells, n)
    for start in range(0, 40, 13):
        scatter.add(start, torch.as_tensor(cells[start:min(start + 13, 40)]), Ke[start:min(start + 13, 40)])
    A = scatter.tocsr()
    B = to_csr(*triplets(cells, n), Ke, n)
    assert abs(A - B).max() < 1e-13 and A.nnz == B.nnz
    assert np.all(A.data != 0.0)


def test_v_cycle_and_cg_are_pyamgs_and_scipys() -> None:
    """The V-cycle applies what pyamg's preconditioner applies (to the last bit), and the CG loop stops at
    SciPy's tolerance with SciPy's solution."""
    import pyamg
    import scipy.sparse.linalg as spla

    from symop.integrate.linear import VCycle, preconditioned_cg

    prog = _lowered(POISSON, n=60)
    _, J = prog.residual(None)
    prog._eliminate(J, 1.0)
    b = np.random.default_rng(3).standard_normal(J.shape[0])
    b[prog.dir_dofs] = 0.0
    ml = pyamg.ruge_stuben_solver(J, interpolation="direct")
    assert len(ml.levels) > 2
    assert np.array_equal(VCycle(ml).matvec(b), ml.aspreconditioner(cycle="V").matvec(b))
    x = preconditioned_cg(J, b, VCycle(ml), 1e-9)
    y, info = spla.cg(J, b, rtol=1e-9, atol=0.0, M=ml.aspreconditioner(cycle="V"))
    assert info == 0
    assert np.linalg.norm(b - J @ x) <= 1e-9 * np.linalg.norm(b)
    assert np.abs(x - y).max() <= 1e-6 * np.abs(y).max()


def test_chunks_run_on_one_intra_op_thread_and_restore_the_count(monkeypatch) -> None:
    """Called directly (not through run()), the chunked residual, mass matrix and norms still put torch on one
    thread (tens of small operations per chunk: more threads cost 20x on busy cores) and restore the count."""
    import symop_fem.assembly as assembly

    seen = []
    real = assembly.CellSpace

    class Recording(real):
        def __init__(self, dofs, dim, qdegree, geometry=None):
            seen.append(torch.get_num_threads())
            super().__init__(dofs, dim, qdegree, geometry)

    monkeypatch.setattr(assembly, "CellSpace", Recording)
    prog = _lowered(POISSON, n=8)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        _, J = prog.residual(None)
        prog.mass()
        prog.norms(np.zeros(prog.size), None)
        assert seen and set(seen) == {1}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
