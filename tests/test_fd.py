"""The fd method: stencils, boundary closures, steady and time-dependent solves."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch

import symop
from symop.discrete import stencils
from symop.errors import MethodError, SolveError
from symop.plugins import get_discretization
from symop_fd.lowering import Lowered


pytestmark = pytest.mark.usefixtures("one_thread")


# ---------------------------------------------------------------- stencils
@pytest.mark.parametrize("order", [2, 4])
@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_stencils_exact_on_polynomials(m, order):
    x = sp.Symbol("x")
    h = 0.1
    r = stencils.half_width(m, order)
    g = r
    nodes = np.arange(-g, 10 + g) * h + 0.3
    for degree in range(m + order):  # exact up to degree m + order - 1
        poly = sum((k + 1) * x**k for k in range(degree + 1))
        f = sp.lambdify(x, poly, "numpy")
        df = sp.lambdify(x, sp.diff(poly, x, m), "numpy")
        padded = torch.as_tensor(np.broadcast_to(f(nodes), nodes.shape).copy(), dtype=torch.float64)
        got = stencils.apply(padded, (m,), (h,), g, order).numpy()
        want = np.broadcast_to(df(nodes[g:-g]), got.shape)
        assert np.allclose(got, want, rtol=1e-8, atol=1e-6 * max(1.0, np.abs(want).max())), (m, order, degree)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_flux_ghost_weights_exact_for_degree_5(k):
    rng = np.random.default_rng(k)
    c = rng.normal(size=6)
    p = np.polynomial.Polynomial(c)
    L, M = stencils.flux_ghost_weights(5, k)
    ghost = L @ p(np.arange(5.0)) + M * p.deriv()(0.0)
    assert ghost == pytest.approx(p(-k), rel=1e-10, abs=1e-10)
    # degree 2 is the second-order closure u(-k) = u(k) - 2k u'(0)
    L2, M2 = stencils.flux_ghost_weights(2, 1)
    assert np.allclose(L2, [0.0, 1.0]) and M2 == pytest.approx(-2.0)


def test_known_weights():
    assert stencils.weights(2, 2) == pytest.approx((1.0, -2.0, 1.0))
    assert stencils.weights(1, 4) == pytest.approx((1 / 12, -2 / 3, 0.0, 2 / 3, -1 / 12))


def test_mixed_derivative_exact_and_matrix_matches_slicing():
    h = (0.1, 0.2)
    g = 1
    xs = np.arange(-g, 6 + g) * h[0]
    ys = np.arange(-g, 5 + g) * h[1]
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    u = torch.as_tensor(X**2 * Y**3 + X * Y, dtype=torch.float64)
    got = stencils.apply(u, (1, 2), h, g, 2).numpy()
    Xi, Yi = X[g:-g, g:-g], Y[g:-g, g:-g]
    assert np.allclose(got, 12 * Xi * Yi, atol=1e-9)
    M = stencils.matrix((6, 5), (1, 2), h, g, 2)
    assert np.allclose(M @ u.numpy().ravel(), got.ravel())


def test_pad_matrix_matches_torch_padding():
    text = """
problem pad "pad"
space x, y
domain box(x: [0, 1], y: [0, 2])
field u
equation -lap(u) + d(u, x, y) = 1
boundary left: u = y
boundary right: dn(u) = x*y
boundary bottom: dn(u) + (1 + x)*u = 2
boundary top: u = 0
"""
    for order in (2, 4):
        low = Lowered(symop.parse(text), 6, order, torch.float64, "cpu")
        b = low.bsets[0]
        u = torch.rand(low.shape, dtype=torch.float64)
        lin = (b.pad(u, None) - b.pad(torch.zeros_like(u), None)).numpy().ravel()
        assert np.allclose(b.pad_matrix() @ u.numpy().ravel(), lin)


# ---------------------------------------------------------------- plugin
def test_registered_with_options():
    fd = get_discretization("fd")
    names = {o.name for o in fd.options}
    assert {"n", "order", "scheme", "split", "dt", "save", "dtype", "compile"} <= names


def test_refuses_disk_with_a_sentence():
    problem = symop.load("examples/disk_poisson.pde")
    reason = get_discretization("fd").accepts(problem)
    assert reason.startswith("fd needs a box domain; this problem's domain is a disk")
    with pytest.raises(MethodError, match="fd needs a box domain; this problem.s domain is a disk"):
        symop.solve(problem, "fd")


def test_show_code_is_the_generated_function():
    problem = symop.load("examples/poisson.pde")
    program = symop.lower(problem, "fd", n=8)
    assert "def rhs(" in program.source and "u_xx" in program.source
    assert program.stages()["code"] == program.source


# ---------------------------------------------------------------- steady
def test_poisson_example():
    sol = symop.solve(symop.load("examples/poisson.pde"), "fd", n=16)
    assert sol.errors()["u"]["rel_l2"] < 5e-3
    assert sol.info["newton_iterations"] == 1
    assert sol.fields["u"].shape == (17, 17)


NEWTON = """
problem newton "-lap(u) + u^3 = f"
space x, y
domain box(x: [0, 1], y: [0, 1])
field u
equation -lap(u) + u^3 = -lap(exact(u)) + exact(u)^3
boundary all: u = exact(u)
exact u = 2 + sin(pi*x)*sin(pi*y) + x
"""


def test_newton_on_cubic_reaction():
    problem = symop.parse(NEWTON)
    errs = []
    for n in (8, 16):
        sol = symop.solve(problem, "fd", n=n)
        assert 2 <= sol.info["newton_iterations"] <= 10
        assert sol.info["residuals"][-1] <= 1e-10
        errs.append(sol.errors()["u"]["rel_l2"])
    assert errs[1] < 1e-3
    assert math.log2(errs[0] / errs[1]) == pytest.approx(2.0, abs=0.2)


def test_newton_failure_is_a_sentence():
    text = """
problem bad "Bratu beyond the fold: no solution"
space x
domain interval(x: [0, 1])
field u
equation -d(u, x, 2) = 10*exp(u)
boundary all: u = 0
"""
    with pytest.raises(SolveError, match="Newton's method did not converge"):
        symop.solve(symop.parse(text), "fd", n=8)


# ---------------------------------------------------------------- evolution
def test_heat_example_and_snapshots():
    sol = symop.solve(symop.load("examples/heat.pde"), "fd", n=16, save=5)
    assert sol.errors()["u"]["rel_l2"] < 1e-2
    assert sol.history["u"].shape == (5, 17, 17)
    assert sol.times[0] == 0.0 and sol.times[-1] == pytest.approx(0.5)


def test_default_dt_is_stable():
    sol = symop.solve(symop.load("examples/advection_diffusion.pde"), "fd", n=64, scheme="ssprk3")
    assert sol.info["dt_default"]
    assert sol.errors()["c"]["rel_l2"] < 2e-2


def test_wave_second_order_in_time():
    sol = symop.solve(symop.load("examples/wave.pde"), "fd", n=32, dt=0.005)
    assert set(sol.fields) == {"u"}
    assert sol.errors()["u"]["rel_l2"] < 2e-3


def test_gray_scott_runs_a_few_steps():
    text = open("examples/gray_scott.pde").read().replace("time t in [0, 500]", "time t in [0, 10]")
    sol = symop.solve(symop.parse(text), "fd", n=16, dt=1.0)
    assert sol.info["steps"] == 10
    u, v = sol.fields["u"], sol.fields["v"]
    assert u.shape == v.shape == (16, 16)
    assert np.isfinite(u).all() and np.isfinite(v).all()
    assert 0 < u.min() and u.max() <= 1.0 + 1e-12 and v.max() > 0


def test_time_dependent_robin_coefficient_is_refused_with_a_sentence():
    text = """
problem r "Robin coefficient that changes in time"
space x
time t in [0, 1]
domain interval(x: [0, 1])
field u
equation dt(u) = d(u, x, 2)
boundary left: u = 0
boundary right: dn(u) + (1 + t)*u = 0
initial u = x
"""
    with pytest.raises(symop.SymopError, match="time-independent alpha and beta in the Robin condition on right"):
        symop.solve(symop.parse(text), "fd", n=8)


def test_float32_and_progress():
    sol = symop.solve(symop.load("examples/heat.pde"), "fd", n=8, dtype="float32", progress=True)
    assert sol.errors()["u"]["rel_l2"] < 5e-2


def test_blow_up_is_reported():
    text = """
problem blow "explicit Euler far beyond its stability limit"
space x
time t in [0, 1]
domain interval(x: [0, 1])
field u
equation dt(u) = d(u, x, 2)
boundary all: u = 0
initial u = x*(1 - x)
"""
    with pytest.raises(SolveError, match="unstable at this dt"):
        symop.solve(symop.parse(text), "fd", n=64, scheme="euler", dt=0.01)


@pytest.mark.parametrize("example, options", [
    ("examples/heat.pde", {"scheme": "ssprk3", "dt": 2e-3}),           # Dirichlet, Neumann, Robin sides
    ("examples/advection_diffusion.pde", {"scheme": "rk4", "dt": 5e-3}),  # periodic: stencils by roll
])
def test_fused_step_matches_the_stage_by_stage_step(example, options):
    from symop.integrate import ExplicitRK
    from symop_fd.fused import FusedExplicitRK
    from symop_fd.timestep import DirichletAtStepEnd

    problem = symop.load(example)
    low = Lowered(problem, 12, 2, torch.float64, "cpu")
    fused = FusedExplicitRK(low, options["scheme"], compile=False)
    U = torch.rand((1, *low.shape), dtype=torch.float64)

    def rhs(t, V):
        out = torch.stack(low.rhs(low.time_tensor(t), V))
        for ci, b in enumerate(low.bsets):
            b.set_dirichlet(out[ci], low.time_tensor(t), rate=True)
        return out

    # both end the step with the Dirichlet nodes at g(t + dt)
    want = DirichletAtStepEnd(ExplicitRK(rhs, options["scheme"]), low.bsets, low).step(0.1, U, options["dt"])
    got = fused.step(0.1, U, options["dt"])
    assert torch.allclose(got, want, rtol=1e-12, atol=1e-12)
    assert not torch.allclose(got, U)


@pytest.mark.slow
def test_compile_option_matches_eager():
    problem = symop.load("examples/heat.pde")
    a = symop.solve(problem, "fd", n=16, scheme="rk4", dt=1e-3, compile=True)
    b = symop.solve(problem, "fd", n=16, scheme="rk4", dt=1e-3)
    assert np.allclose(a.fields["u"], b.fields["u"], atol=1e-12)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    problem = symop.load("examples/heat.pde")
    a = symop.solve(problem, "fd", n=16, device="cuda")
    b = symop.solve(problem, "fd", n=16)
    assert a.device == "cuda"
    assert np.allclose(a.fields["u"], b.fields["u"], atol=1e-8)
    p = symop.solve(symop.load("examples/poisson.pde"), "fd", n=16, device="cuda")
    assert p.errors()["u"]["rel_l2"] < 5e-3


def test_a_solver_for_explicit_unsplit_steps_is_refused():
    """Explicit steps without splitting solve no linear system: a `solver` there would be dropped, so it is
    refused; implicit, IMEX or split steps and steady problems take it."""
    heat = symop.load("examples/heat.pde")
    with pytest.raises(symop.SymopError, match=r"`solver` picks the linear solver of steady problems and of "
                                               r"implicit or split time steps, and this run steps explicitly with "
                                               r"rk4: choose an implicit scheme or a split, or leave solver out\."):
        symop.lower(heat, "fd", scheme="rk4", solver="cg")
    for options in ({"scheme": "rk4", "split": "lie"}, {"scheme": "backward-euler"}, {"scheme": "imex-euler"}):
        symop.lower(heat, "fd", solver="cg", **options)
    symop.lower(symop.load("examples/poisson.pde"), "fd", solver="cg")
    symop.lower(heat, "fd", scheme="rk4")
