"""fem's default linear solve and error norms: the iterative solver stops at a tolerance tied to
the discretization error (and still gives the orders P1 2, P2 3), the Dirichlet elimination in
place solves the same system as the condensed matrix, and the norms' quadrature (degree 2(p+1)
for L2, 2p for H1, in chunks of cells) agrees with a much finer rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch

import symop

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

POISSON = """
problem p "Poisson, Dirichlet"
space x, y
domain box(x: [0, 1], y: [0, 1])
field u
exact u = sin(pi*x)*sin(pi*y)*exp(x)
equation -lap(u) = -lap(exact(u))
boundary all: u = exact(u)
"""

CONVECTION = """
problem c "convection-diffusion: not symmetric"
space x, y
domain box(x: [0, 1], y: [0, 1])
field u
exact u = sin(pi*x)*sin(pi*y)
equation -lap(u) + 5*dx(u) = -lap(exact(u)) + 5*dx(exact(u))
boundary all: u = exact(u)
"""


def _program(text: str, **options):
    prog = symop.lower(symop.parse(text), method="fem", **options)
    prog._setup()
    return prog


def _errors_default_and_converged(n: int, degree: int, monkeypatch):
    """(L2 error of the default solve, L2 norm of its difference from the solve converged to a
    relative residual of 1e-12, the tolerance used, the solver, how info describes it)."""
    import symop_fem.method as fem

    prog = _program(POISSON, n=n, degree=degree)
    solver, tol = prog.solver_choice()
    info: dict = {}
    u = prog.run_steady(info)
    err = prog.norms(u, None)["u"]["l2"]
    with monkeypatch.context() as m:
        m.setattr(fem, "ALGEBRAIC_FRACTION", 0.0)  # clipped to MIN_TOL = 1e-12
        assert prog.solver_choice()[1] == fem.MIN_TOL
        v = prog.run_steady({})
    d = u - v
    algebraic = math.sqrt(float(d @ (prog.mass() @ d)))
    return err, algebraic, tol, solver, info["solver"]


@pytest.mark.parametrize("degree, ns", [(1, (150, 300)), pytest.param(2, (72, 144), marks=pytest.mark.slow)])
def test_default_iterative_solve_stays_far_below_the_discretization_error(degree, ns, monkeypatch) -> None:
    """Above AMG_LIMIT unknowns the default is AMG-CG at a relative residual of 1e-2 (h/L)^(p+1), not
    1e-10; its algebraic error (against the same system solved to 1e-12) is below 1% of the discretization
    error at every h, and the observed order is p + 1."""
    from symop_fem.method import ALGEBRAIC_FRACTION, AMG_LIMIT, MAX_TOL, MIN_TOL

    errs = []
    for n in ns:
        assert (n * degree - 1) ** 2 >= AMG_LIMIT  # the iterative solver is the default here
        err, algebraic, tol, solver, described = _errors_default_and_converged(n, degree, monkeypatch)
        h = math.sqrt(2) / n
        assert solver == "amg"
        assert "relative residual" in described
        assert tol == pytest.approx(min(MAX_TOL, max(MIN_TOL, ALGEBRAIC_FRACTION * h ** (degree + 1))))
        assert tol > 1e-10 * 10
        assert algebraic < 1e-2 * err, (n, algebraic, err)
        errs.append(err)
    order = math.log(errs[0] / errs[1]) / math.log(ns[1] / ns[0])
    assert abs(order - (degree + 1)) < 0.15, order


def test_tolerance_follows_h_and_small_systems_go_direct() -> None:
    assert _program(POISSON, n=40).solver_choice()[0] == "direct"  # below AMG_LIMIT unknowns
    coarse, fine = _program(POISSON, n=250), _program(POISSON, n=500)
    (s1, t1), (s2, t2) = coarse.solver_choice(), fine.solver_choice()
    assert s1 == s2 == "amg"
    assert t1 / t2 == pytest.approx(4.0)  # (h1/h2)^(p+1), P1
    p2 = _program(POISSON, n=250, degree=2)
    assert p2.solver_choice()[1] == pytest.approx(t1 * math.sqrt(2) / 250)  # one more power of h


def test_symmetry_is_read_off_the_weak_form() -> None:
    assert _program(POISSON, n=4).symmetric is True
    conv = _program(CONVECTION, n=4)
    assert conv.symmetric is False
    assert conv.solver_choice()[0] == "direct"


@pytest.mark.parametrize("solver", ["amg", "direct"])
@pytest.mark.parametrize("text", [POISSON, CONVECTION], ids=["symmetric", "convection"])
def test_dirichlet_elimination_in_place_solves_the_condensed_system(text, solver) -> None:
    prog = _program(text, n=12, solver=solver)
    r0, J = prog.residual(None)
    f = prog.free
    g, _ = prog.dirichlet_values()
    rhs = -(r0 + J @ g)
    import scipy.sparse.linalg as spla

    expected = spla.spsolve(J[f][:, f].tocsc(), rhs[f])
    x = prog._solve_free(J, rhs)  # overwrites J
    assert np.all(x[prog.dir_dofs] == 0.0)
    assert np.allclose(x[f], expected, rtol=0, atol=1e-6 * np.abs(expected).max())


def _reference_norms(prog, u: np.ndarray, qdegree: int) -> dict[str, float]:
    """L2 and H1 errors with one quadrature rule of degree ``qdegree`` over all cells at once."""
    from symop_fem.assembly import DTYPE, CellSpace
    from symop_fem.method import Kernel

    ex = prog.problem.numeric(sp.sympify(prog.problem.exact["u"]))
    exprs = {"u": ex, **{f"g{k}": sp.diff(ex, c) for k, c in enumerate(prog.wf.coords)}}
    ker = Kernel(exprs, prog.wf.arguments, "ref")
    cs = CellSpace(prog.dofs, prog.d, qdegree)
    uq, gq = cs.values(torch.as_tensor(u, dtype=DTYPE))
    res = ker(prog._args(cs.xq, 0.0))
    ge = torch.stack([res[f"g{k}"] for k in range(prog.d)], dim=-1)
    return {"l2": float(torch.sqrt((cs.wdet * (uq - res["u"]) ** 2).sum())),
            "h1": float(torch.sqrt((cs.wdet * ((gq - ge) ** 2).sum(-1)).sum()))}


@pytest.mark.parametrize("degree, n", [(1, 16), (1, 48), (2, 8), (2, 24)])
def test_norm_quadrature_matches_a_fine_rule(degree, n, monkeypatch) -> None:
    """Degree 2(p+1) for L2 and 2p for H1, taken in chunks of cells, give the errors of a degree-9
    rule to 1e-3 relative on a smooth solution (a rule of degree 2p+1 for L2 misses about 2% of
    P1's L2 error); chunking does not change the sums."""
    import symop_fem.method as fem

    prog = _program(POISSON, n=n, degree=degree)
    u = prog.run_steady({})
    ref = _reference_norms(prog, u, 9)
    monkeypatch.setattr(fem, "NORM_CHUNK", 37)  # many chunks, the last one partial
    got = prog.norms(u, None)["u"]
    assert got["l2"] == pytest.approx(ref["l2"], rel=1e-3)
    assert got["h1"] == pytest.approx(ref["h1"], rel=1e-3)
    monkeypatch.setattr(fem, "NORM_CHUNK", 1 << 20)
    one = prog.norms(u, None)["u"]
    assert one["l2"] == pytest.approx(got["l2"], rel=1e-12)
    assert one["h1"] == pytest.approx(got["h1"], rel=1e-12)


HEAT = """
problem h "heat with moving Dirichlet data"
space x, y
time t in [0, 0.2]
domain box(x: [0, 1], y: [0, 1])
field u
exact u = exp(-t)*sin(pi*x)*cos(y) + t*x
equation dt(u) = lap(u) + dt(exact(u)) - lap(exact(u))
boundary left, right, bottom: u = exact(u)
boundary top: dn(u) = dn(exact(u))
initial u = exact(u)
"""


def test_time_dependent_solves_eliminate_in_place_at_the_discretization_tolerance(monkeypatch) -> None:
    """The stepping matrices are the assembled J and M themselves, Dirichlet rows and columns
    eliminated in place (no J[f][:, f] copies), and the iterative solves stop at the steady
    tolerance over the step count, not 1e-10; AMG-CG at that tolerance gives the direct solve's error."""
    import symop.integrate
    import symop_fem.method as fem

    real = symop.integrate.SparseLinearPart
    seen: dict = {}

    class Recording(real):
        def __init__(self, L, shape, mass=None, solver="auto", tol=1e-10, symmetric=None, amg=None):
            seen.update(L=L, mass=mass, tol=tol, symmetric=symmetric)
            super().__init__(L, shape, mass=mass, solver=solver, tol=tol, symmetric=symmetric, amg=amg)

    assembled = {}
    residual, mass = fem.FEMProgram.residual, fem.FEMProgram.mass

    def recorded_residual(self, u, t=0.0, jacobian=True):
        R, J = residual(self, u, t, jacobian)
        if jacobian:
            assembled["J"] = J
        return R, J

    def recorded_mass(self):
        assembled["M"] = mass(self)
        return assembled["M"]

    monkeypatch.setattr(symop.integrate, "SparseLinearPart", Recording, raising=False)
    monkeypatch.setattr(fem.FEMProgram, "residual", recorded_residual)
    monkeypatch.setattr(fem.FEMProgram, "mass", recorded_mass)
    program = symop.lower(symop.parse(HEAT), method="fem", n=48, dt=0.02, scheme="crank-nicolson", solver="amg")
    sol = program.run()
    assert seen["L"] is assembled["J"] and seen["mass"] is assembled["M"]  # no copies
    D = program.dir_dofs
    assert seen["L"][D].nnz == 0 and seen["L"][:, D].nnz == 0
    assert np.all(seen["mass"][D][:, D].toarray() == np.eye(len(D)))
    assert seen["tol"] == pytest.approx(program.transient_tolerance(10)) == sol.info["solver_tolerance"]
    assert seen["tol"] == pytest.approx(fem.ALGEBRAIC_FRACTION * (program.h / 1.0) ** 2 / 10)  # (h/L)^(p+1)/steps
    assert seen["tol"] > 1e-8 and seen["symmetric"] is True
    err = sol.errors()["u"]["rel_l2"]
    direct = symop.lower(symop.parse(HEAT), method="fem", n=48, dt=0.02, scheme="crank-nicolson",
                         solver="direct").run().errors()["u"]["rel_l2"]
    assert abs(err - direct) < 1e-2 * direct
    assert err < 2e-3


def test_cpu_runs_use_one_intra_op_thread_and_restore_the_count(monkeypatch) -> None:
    import symop_fem.method as fem

    inner = fem.FEMProgram._run
    seen = []

    def recording(self, device, progress):
        seen.append(torch.get_num_threads())
        return inner(self, device, progress)

    monkeypatch.setattr(fem.FEMProgram, "_run", recording)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        symop.lower(symop.parse(POISSON), method="fem", n=8).run()
        assert seen == [1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
