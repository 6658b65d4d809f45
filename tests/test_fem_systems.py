"""fem on systems of fields: one Lagrange space per field, coupled through the operator,
the nonlinear terms and nothing else; each field with its own boundary conditions.

Every problem is manufactured: the observed orders are fitted with ``np.polyfit``
and compared with the element's order in space (P1: 2, P2: 3 in L2) and the
scheme's order in time.  A wrong sign of a coupling block, or of one field's
Neumann or Robin data, breaks the manufactured solution and the observed order.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symop
from symop.api import manufacture

pytestmark = pytest.mark.usefixtures("one_thread")


def slope(hs, errors) -> float:
    """The least-squares slope of log(error) against log(h)."""
    return float(np.polyfit(np.log(hs), np.log(errors), 1)[0])


def errors(problem, **options) -> dict[str, float]:
    """The relative L2 error of every field of a fem solve."""
    sol = symop.solve(problem, "fem", **options)
    return {name: e["rel_l2"] for name, e in sol.errors().items()}


# ------------------------------------------------------------------ steady, linear, coupled
STEADY = """
problem coupled "two coupled fields: Dirichlet, Neumann and Robin sides, each field its own"
space x, y
domain box(x: [0, 1], y: [0, 1])
field u, w
exact u = sin(2*x + 0.5)*cos(y) + x*y
exact w = cos(x - 0.3)*exp(0.5*y)
equation -lap(u) + 2*u - w = -lap(exact(u)) + 2*exact(u) - exact(w)
equation -div((1 + x)*grad(w)) + w + u + dx(u) = -div((1 + x)*grad(exact(w))) + exact(w) + exact(u) + dx(exact(u))
boundary left, top: u = exact(u)
boundary right, bottom: dn(u) = dn(exact(u))
boundary left, bottom: dn(w) + 2*w = dn(exact(w)) + 2*exact(w)
boundary right, top: w = exact(w)
"""


@pytest.mark.parametrize("degree", [1, 2])
def test_steady_coupled_linear_system_converges_at_the_elements_order(degree):
    problem = symop.parse(STEADY)
    ns = (4, 8, 16)
    errs = [errors(problem, n=n, degree=degree) for n in ns]
    for name in ("u", "w"):
        assert abs(slope([1 / n for n in ns], [e[name] for e in errs]) - (degree + 1)) <= 0.15, (name, errs)


# ------------------------------------------------------------------ steady, nonlinear, Newton
NONLINEAR = """
problem nlsys "a nonlinear steady system with cross-diffusion, solved by Newton's method"
space x, y
domain box(x: [0, 1], y: [0, 1])
field u, w
exact u = sin(2*x + 0.5)*cos(y) + x*y
exact w = cos(x - 0.3)*exp(0.5*y)
equation -lap(u) + u*w^2 - 0.3*lap(w) = -lap(exact(u)) + exact(u)*exact(w)^2 - 0.3*lap(exact(w))
equation -div((1 + u^2)*grad(w)) + w^3 - u = -div((1 + exact(u)^2)*grad(exact(w))) + exact(w)^3 - exact(u)
boundary all: u = exact(u)
boundary left, right: w = exact(w)
boundary top, bottom: dn(w) = dn(exact(w))
"""


def test_steady_nonlinear_system_newton_with_the_symbolic_jacobian():
    problem = symop.parse(NONLINEAR)
    ns = (4, 8, 16)
    errs, sols = [], []
    for n in ns:
        sol = symop.solve(problem, "fem", n=n, degree=2)
        sols.append(sol)
        errs.append({k: e["rel_l2"] for k, e in sol.errors().items()})
    for name in ("u", "w"):
        assert abs(slope([1 / n for n in ns], [e[name] for e in errs]) - 3) <= 0.15, (name, errs)
    steps = sols[-1].info["newton_steps"]
    # quadratic convergence: the Jacobian is the exact derivative of the coupled residual
    assert steps[-1] < 1e-12 and steps[-2] < 1e-6 and len(steps) <= 8


def test_cross_diffusion_with_neumann_data_is_refused_with_a_sentence():
    text = NONLINEAR.replace("boundary all: u = exact(u)", "boundary all: dn(u) = dn(exact(u))")
    reason = symop.plugins.get_discretization("fem").accepts(symop.parse(text))
    assert reason is not None and "second derivatives of `w`" in reason and "Dirichlet" in reason


# ------------------------------------------------------------------ Gray-Scott type, in time
GRAY_SCOTT = """
problem gs "a Gray-Scott type reaction-diffusion system with mixed sides"
space x, y
time t in [0, 0.5]
domain box(x: [0, 1], y: [0, 1])
param Du = 0.2, Dv = 0.1, F = 0.5, k = 0.3
field u, v
equation dt(u) = Du*lap(u) - u*v^2 + F*(1 - u)
equation dt(v) = Dv*lap(v) + u*v^2 - (F + k)*v
boundary left, bottom: u = 0
boundary right, top: dn(u) = 0
boundary left, right: v = 0
boundary top, bottom: dn(v) + v = 0
initial u = 0
initial v = 0
"""
GS_SOLUTION = {"u": "1 + 0.5*sin(2*x + 1)*cos(y)*cos(2*t)", "v": "cos(x + y)*sin(t + 1) + 0.5*x*t"}


@pytest.fixture(scope="module")
def gray_scott():
    """The system with sources, boundary and initial data manufactured by symop.mms."""
    return manufacture(symop.parse(GRAY_SCOTT), GS_SOLUTION)


@pytest.mark.parametrize("scheme, order, dts", [("crank-nicolson", 2, (0.1, 0.05, 0.025)),
                                                ("backward-euler", 1, (0.05, 0.025, 0.0125))])
def test_gray_scott_converges_at_the_schemes_order_in_time(gray_scott, scheme, order, dts):
    # the reaction u*v^2 is explicit: Crank-Nicolson's IMEX partner ars222 (order 2), or IMEX Euler
    errs = [errors(gray_scott, n=16, degree=2, dt=dt, scheme=scheme) for dt in dts]
    for name in ("u", "v"):
        assert abs(slope(dts, [e[name] for e in errs]) - order) <= 0.15, (name, errs)


@pytest.mark.parametrize("degree, power", [(1, 1.0), (2, 1.5)])
def test_gray_scott_converges_at_the_elements_order_in_space(gray_scott, degree, power):
    ns = (4, 8, 16)
    # Crank-Nicolson with dt ~ h^((degree + 1) / 2) keeps the time error below the space error
    errs = [errors(gray_scott, n=n, degree=degree, dt=0.2 / n**power) for n in ns]
    for name in ("u", "v"):
        assert abs(slope([1 / n for n in ns], [e[name] for e in errs]) - (degree + 1)) <= 0.15, (name, errs)


@pytest.mark.parametrize("split", ["lie", "strang"])
def test_gray_scott_with_splitting_converges(gray_scott, split):
    # time-dependent Dirichlet data reduce the splitting's order (the method warns); it still converges
    dts = (0.1, 0.05, 0.025)
    with pytest.warns(UserWarning, match="order reduction"):
        errs = [errors(gray_scott, n=16, degree=2, dt=dt, split=split) for dt in dts]
    for name in ("u", "v"):
        assert slope(dts, [e[name] for e in errs]) >= 0.85, (name, errs)


# ------------------------------------------------------------------ mixed orders in time
WAVE_HEAT = """
problem waveheat "a wave coupled to a heat equation: second and first order in time"
space x
time t in [0, 0.8]
domain interval(x: [0, 1])
field u, w
equation dt(u, 2) = 4*d(u, x, 2) + w - u^3
equation dt(w) = d(w, x, 2) - u
boundary left: u = 0
boundary right: dn(u) = 0
boundary left: dn(w) + w = 0
boundary right: w = 0
initial u = 0
initial dt(u) = 0
initial w = 0
"""


def test_wave_coupled_to_heat_converges_at_order_two_in_time():
    problem = manufacture(symop.parse(WAVE_HEAT), {"u": "sin(pi*x)*cos(2*pi*t) + x*t^2",
                                                   "w": "cos(x + t)*exp(-t)"})
    dts = (0.1, 0.05, 0.025)
    sols = [symop.solve(problem, "fem", n=32, degree=2, dt=dt) for dt in dts]
    assert "first-order system" in sols[0].info["scheme"]
    for name in ("u", "w"):
        assert abs(slope(dts, [s.errors()[name]["rel_l2"] for s in sols]) - 2) <= 0.15, name


def test_a_field_without_a_time_derivative_is_refused_up_front():
    text = WAVE_HEAT.replace("equation dt(w) = d(w, x, 2) - u", "equation d(w, x, 2) = u").replace(
        "initial w = 0\n", "")
    reason = symop.plugins.get_discretization("fem").accepts(symop.parse(text))
    assert reason is not None and "`w` has no time derivative" in reason


# ------------------------------------------------------------------ the solution holds every field
def test_the_solution_evaluates_saves_and_plots_every_field(gray_scott, tmp_path):
    meshio = pytest.importorskip("meshio")
    sol = symop.solve(gray_scott, "fem", n=8, degree=2, dt=0.05)
    assert set(sol.fields) == {"u", "v"}
    rng = np.random.default_rng(3)
    pts = rng.uniform(0, 1, (40, 2))
    args = [*gray_scott.space.coords, gray_scott.t]
    for t in (0.5, 0.25):
        values = sol(pts, t=t)
        assert set(values) == {"u", "v"}
        for name in ("u", "v"):
            exact = sp.lambdify(args, gray_scott.numeric(gray_scott.exact[name]), "numpy")
            assert np.abs(values[name] - exact(pts[:, 0], pts[:, 1], t)).max() < 1e-3
            assert np.allclose(sol(pts, t=t, field=name), values[name])
    paths = sol.save(tmp_path)
    vtu = sorted(p for p in paths if str(p).endswith(".vtu"))
    mesh = meshio.read(vtu[-1])
    assert {"u", "v"} <= set(mesh.point_data)
    assert np.allclose(mesh.point_data["v"], sol.fields["v"])
    import matplotlib

    matplotlib.use("Agg")
    fig = sol.plot()
    assert len([ax for ax in fig.axes if ax.get_title() in ("u", "v")]) == 2


def test_show_weak_stage_prints_every_equation(capsys, tmp_path):
    from symop.cli import main

    path = tmp_path / "gs.pde"
    path.write_text(GRAY_SCOTT)
    assert main(["show", str(path), "--method", "fem", "--stage", "weak"]) in (0, None)
    out = capsys.readouterr().out
    assert "weak form of the equation of `u`" in out and "weak form of the equation of `v`" in out
    assert "phi_v*u*v**2" in out and "(robin)" in out and "on left, right" in out


# ------------------------------------------------------------------ periodic sides
PERIODIC = """
problem gsper "a Gray-Scott type system, periodic in x; Dirichlet, Neumann and Robin in y"
space x, y
time t in [0, 0.5]
domain box(x: [0, 1], y: [0, 1])
boundary periodic(x)
param Du = 0.2, Dv = 0.1, F = 0.5, k = 0.3
field u, v
equation dt(u) = Du*lap(u) - u*v^2 + F*(1 - u)
equation dt(v) = Dv*lap(v) + u*v^2 - (F + k)*v
boundary bottom: u = 0
boundary top: dn(u) = 0
boundary bottom, top: dn(v) + v = 0
initial u = 0
initial v = 0
"""


def test_periodic_in_one_axis_converges_at_the_elements_order():
    # the corners of the Dirichlet side are one unknown under periodicity: counted twice, the order drops to 1
    problem = manufacture(symop.parse(PERIODIC), {"u": "1 + 0.5*sin(2*pi*x)*cos(y)*cos(2*t)",
                                                  "v": "cos(2*pi*x + y)*sin(t + 1) + 0.5*y*t"})
    ns = (4, 8, 16)
    errs = [errors(problem, n=n, degree=2, dt=0.2 / n**1.5) for n in ns]
    for name in ("u", "v"):
        assert abs(slope([1 / n for n in ns], [e[name] for e in errs]) - 3) <= 0.15, (name, errs)


def test_periodic_in_every_axis_converges_at_the_elements_order():
    text = PERIODIC.replace("boundary periodic(x)", "boundary periodic(x, y)")
    text = "\n".join(line for line in text.splitlines() if not line.startswith("boundary bottom")
                     and not line.startswith("boundary top"))
    problem = manufacture(symop.parse(text), {"u": "1 + 0.5*sin(2*pi*x)*cos(2*pi*y)*cos(2*t)",
                                              "v": "cos(2*pi*(x + y))*sin(t + 1)"})
    ns = (8, 16, 32)
    errs = [errors(problem, n=n, degree=1, dt=0.2 / n) for n in ns]
    for name in ("u", "v"):
        assert abs(slope([1 / n for n in ns], [e[name] for e in errs]) - 2) <= 0.15, (name, errs)


def test_the_gray_scott_example_runs_with_fem_and_agrees_with_fd():
    text = open("examples/gray_scott.pde").read().replace("time t in [0, 500]", "time t in [0, 20]")
    problem = symop.parse(text)
    assert symop.plugins.get_discretization("fem").accepts(problem) is None
    fem = symop.solve(problem, "fem", n=64, dt=0.5)
    fd = symop.solve(problem, "fd", n=64, dt=0.5)
    pts = np.random.default_rng(5).uniform(0.8, 1.7, (200, 2))  # around the initial spot
    for name in ("u", "v"):
        assert np.isfinite(fem.fields[name]).all()
        spread = np.ptp(fd(pts, field=name))
        assert np.abs(fem(pts, field=name) - fd(pts, field=name)).max() < 0.15 * spread, name
    assert 0 < fem.fields["u"].min() and fem.fields["u"].max() <= 1 + 1e-6  # no discrete maximum principle


def test_info_names_the_scheme_that_stepped(gray_scott):
    sol = symop.solve(gray_scott, "fem", n=4, dt=0.25)
    assert sol.info["scheme"] == "ars222 (IMEX partner of crank-nicolson)"


DISK = """
problem dsys "a coupled system on a disk: Robin data for one field, Dirichlet for the other"
space x, y
domain disk(center: (0, 0), radius: 1)
field u, w
exact u = sin(x + 0.5)*cos(y) + x*y
exact w = exp(0.3*x)*cos(y)
equation -lap(u) + u - w = -lap(exact(u)) + exact(u) - exact(w)
equation -lap(w) + w + u^2 = -lap(exact(w)) + exact(w) + exact(u)^2
boundary all: dn(u) + 2*u = dn(exact(u)) + 2*exact(u)
boundary all: w = exact(w)
"""


def test_a_system_on_a_curved_domain_keeps_the_order_of_isoparametric_p2():
    problem = symop.parse(DISK)
    hs = (0.2, 0.1)
    errs = [errors(problem, h=h, degree=2) for h in hs]
    for name in ("u", "w"):
        assert slope(hs, [e[name] for e in errs]) >= 3 - 0.15, (name, errs)
