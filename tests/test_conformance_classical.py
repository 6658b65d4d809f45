"""Classical methods (fd, fem) on boundary data given as expressions: ``dn(exact(u))``,
Robin data ``dn(exact(u)) + 2*exact(u)``, each solved at the method's declared order.

The data hold ``dn`` of a known expression, which each method evaluates with the
domain's outward normal on every side; a wrong sign of that normal breaks the
manufactured solution and the observed order.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symop
from symop.model import analysis

pytestmark = pytest.mark.usefixtures("one_thread")


def slope(hs, errors) -> float:
    """The least-squares slope of log(error) against log(h)."""
    return float(np.polyfit(np.log(hs), np.log(errors), 1)[0])


def rel_l2(problem, method: str, **options) -> float:
    sol = symop.solve(problem, method, **options)
    return max(e["rel_l2"] for e in sol.errors().values())


FD_2D = """
problem dn2 "2D Poisson with Neumann and Robin data from dn(exact(u))"
space x, y
domain box(x: [0, 1], y: [0, 2])
field u
exact u = sin(2*x + 1)*cos(y) + x*y^2
equation -lap(u) + u = -lap(exact(u)) + exact(u)
boundary left, right: dn(u) = dn(exact(u))
boundary top: dn(u) + 2*u = dn(exact(u)) + 2*exact(u)
boundary bottom: u = exact(u)
"""

FD_3D_HEAT = """
problem dn3 "3D heat with Neumann data dn(exact(u)) on left and right"
space x, y, z
time t in [0, 0.05]
domain box(x: [0, 1], y: [0, 1], z: [0, 1])
field u
exact u = exp(-t)*cos(x + 0.3)*sin(y + 0.5)*cos(z)
equation dt(u) = lap(u) + dt(exact(u)) - lap(exact(u))
boundary left, right: dn(u) = dn(exact(u))
boundary bottom, top: dn(u) + 2*u = dn(exact(u)) + 2*exact(u)
boundary front, back: u = exact(u)
initial u = exact(u)
"""

FEM_BOX = """
problem dnbox "Poisson on a box: Neumann on all sides but one, Robin on top"
space x, y
domain box(x: [0, 1], y: [0, 1])
field u
exact u = sin(2*x + 0.5)*cos(y) + x*y
equation -lap(u) + u = -lap(exact(u)) + exact(u)
boundary left, right: dn(u) = dn(exact(u))
boundary top: dn(u) + 2*u = dn(exact(u)) + 2*exact(u)
boundary bottom: u = exact(u)
"""

FEM_DISK = """
problem dndisk "Poisson on a disk with Robin data dn(exact(u)) + 2*exact(u)"
space x, y
domain disk(center: (0.2, -0.1), radius: 1)
field u
exact u = sin(x + 0.5)*cos(y) + x*y
equation -lap(u) = -lap(exact(u))
boundary all: dn(u) + 2*u = dn(exact(u)) + 2*exact(u)
"""


def test_normal_data_uses_each_sides_outward_normal():
    problem = symop.parse(FD_2D)
    x, y = problem.space.coords
    bc = next(b for b in problem.boundary if b.parts == ("left", "right"))
    assert bc.kind == "neumann"
    e = sp.sin(2 * x + 1) * sp.cos(y) + x * y ** 2
    left = analysis.normal_data(bc.value, problem.domain, "left", (x, y))
    right = analysis.normal_data(bc.value, problem.domain, "right", (x, y))
    assert sp.simplify(left + sp.diff(e, x)) == 0
    assert sp.simplify(right - sp.diff(e, x)) == 0
    robin = next(b for b in problem.boundary if b.parts == ("top",))
    assert robin.kind == "robin" and robin.alpha == 2 and robin.beta == 1


def test_fd_2d_dn_data_second_order():
    problem = symop.parse(FD_2D)
    ns = (16, 32, 64)
    errs = [rel_l2(problem, "fd", n=n) for n in ns]
    assert errs[-1] < 1e-4
    assert slope([1 / n for n in ns], errs) >= 2 - 0.15


def test_fd_2d_dn_data_fourth_order():
    problem = symop.parse(FD_2D)
    ns = (12, 16, 24)
    errs = [rel_l2(problem, "fd", n=n, order=4) for n in ns]
    assert slope([1 / n for n in ns], errs) >= 4 - 0.3


def test_fd_3d_heat_dn_data_second_order():
    problem = symop.parse(FD_3D_HEAT)
    ns = (6, 10, 14)
    # Crank-Nicolson with dt proportional to h: second order in h overall
    errs = [rel_l2(problem, "fd", n=n, scheme="crank-nicolson", dt=0.05 / n) for n in ns]
    assert errs[-1] < 1e-3
    assert slope([1 / n for n in ns], errs) >= 2 - 0.15


@pytest.mark.parametrize("degree", [1, 2])
def test_fem_box_dn_data_at_element_order(degree):
    problem = symop.parse(FEM_BOX)
    ns = (4, 8, 16)
    errs = [rel_l2(problem, "fem", n=n, degree=degree) for n in ns]
    assert slope([1 / n for n in ns], errs) >= degree + 1 - 0.15


@pytest.mark.parametrize("degree", [1, 2])
def test_fem_disk_robin_dn_data_at_element_order(degree):
    problem = symop.parse(FEM_DISK)
    hs = (0.4, 0.2, 0.1)
    errs = [rel_l2(problem, "fem", h=h, degree=degree) for h in hs]
    assert slope(hs, errs) >= degree + 1 - 0.25


WAVE = """
problem wave4 "u_tt = 4 u_xx"
space x
time t in [0, 1]
domain interval(x: [0, 1])
field u
equation dt(u, 2) = 4*d(u, x, 2)
boundary left, right: u = 0
initial u = sin(pi*x)
initial dt(u) = 0
exact u = cos(2*pi*t)*sin(pi*x)
"""

WAVE_2D = """
problem wave2d "u_tt = lap(u) in 2D"
space x, y
time t in [0, 0.5]
domain box(x: [0, 1], y: [0, 1])
field u
equation dt(u, 2) = lap(u)
boundary all: u = 0
initial u = sin(pi*x)*sin(pi*y)
initial dt(u) = 0
exact u = cos(sqrt(2)*pi*t)*sin(pi*x)*sin(pi*y)
"""


def test_fd_default_dt_of_the_wave_equation_follows_the_cfl_condition():
    """dt ~ h/c: halving h halves the default step (a diffusion-type h^2 estimate would quarter it)."""
    problem = symop.parse(WAVE)
    dts, errs = [], []
    for n in (32, 64, 128):
        sol = symop.solve(problem, "fd", n=n)
        assert sol.info["dt_default"]
        dts.append(sol.info["dt"])
        errs.append(max(e["rel_l2"] for e in sol.errors().values()))
    assert slope([1 / 32, 1 / 64, 1 / 128], dts) == pytest.approx(1.0, abs=0.1)
    # rk4 on the imaginary axis reaches 2.83: dt stays within that CFL limit, c = 2, |symbol| <= 2/h
    for n, dt in zip((32, 64, 128), dts):
        assert 0.5 * 2.83 / (2 * 2 * n) < dt <= 2.83 / (2 * 2 * n)
    assert max(errs) < 1e-4


def test_fd_default_dt_of_the_2d_wave_is_stable_and_accurate():
    problem = symop.parse(WAVE_2D)
    sol = symop.solve(problem, "fd", n=48)
    assert sol.info["dt"] > 0.2 / 48  # ~ h/c, not ~ h^2
    assert max(e["rel_l2"] for e in sol.errors().values()) < 1e-3


def test_fd_default_dt_of_a_parabolic_problem_still_scales_like_h_squared():
    text = """
problem heat1 "u_t = 0.5 u_xx"
space x
time t in [0, 0.1]
domain interval(x: [0, 1])
field u
equation dt(u) = 0.5*d(u, x, 2)
boundary left, right: u = 0
initial u = sin(pi*x)
exact u = exp(-0.5*pi^2*t)*sin(pi*x)
"""
    problem = symop.parse(text)
    dts = [symop.solve(problem, "fd", n=n).info["dt"] for n in (16, 32, 64)]
    assert slope([1 / 16, 1 / 32, 1 / 64], dts) == pytest.approx(2.0, abs=0.1)


def test_fd_refuses_a_scheme_with_no_stable_step_for_a_wave():
    with pytest.raises(symop.errors.SymopError, match="no stable step"):
        symop.solve(symop.parse(WAVE), "fd", n=16, scheme="euler")


# ------------------------------------------------------------------ missing conditions
def _problem(domain: str, body: str, space: str = "x, y") -> str:
    return f"problem m\nspace {space}\n{domain}\n{body}"


_BOX2 = "domain box(x: [0, 1], y: [0, 1])"


def test_a_side_without_a_condition_is_an_error_at_the_domain_line():
    text = _problem(_BOX2, "field u\nequation -lap(u) = 1\nboundary left, right: u = 0\nboundary bottom: dn(u) = 0\n")
    with pytest.raises(symop.errors.SourceError) as info:
        symop.parse(text, "m.pde")
    err = info.value
    assert "side `top` has no condition for `u`" in str(err)
    assert "boundary top: u = ..." in str(err) and "dn(u) = ..." in str(err)
    assert (err.position.line, err.position.column) == (3, 1)


def test_several_missing_sides_and_fields_are_named():
    text = _problem(_BOX2, "field u, v\nequation -lap(u) = v\nequation -lap(v) = 1\nboundary left: u = 0\n"
                           "boundary all: v = 0\n")
    with pytest.raises(symop.errors.SymopError, match=r"sides `right`, `bottom`, `top` have no condition for `u`"):
        symop.parse(text)


def test_conditions_that_need_none_or_are_all_given():
    # periodic directions have no sides; boundary all covers every side
    symop.parse(_problem(_BOX2, "boundary periodic(x)\nfield u\nequation -lap(u) + u = 1\nboundary bottom, top: u = 0\n"))
    symop.parse(_problem(_BOX2, "boundary periodic(x, y)\nfield u\nequation -lap(u) + u = 1\n"))
    symop.parse(_problem(_BOX2, "field u\nequation -lap(u) = 1\nboundary all: u = 0\n"))
    # a field without spatial derivatives (an ODE at each point) needs no condition
    symop.parse(_problem(_BOX2, "time t in [0, 1]\nfield u, w\nequation dt(u) = lap(u) - w\nequation dt(w) = u - w\n"
                                "boundary all: u = 0\ninitial u = 0\ninitial w = 1\n"))
    # a first-order (transport) equation takes conditions on its inflow side only
    symop.parse(_problem("domain interval(x: [0, 1])", "time t in [0, 1]\nfield u\nequation dt(u) + dx(u) = 0\n"
                                                        "boundary left: u = 0\ninitial u = 0\n", space="x"))


def test_a_fourth_order_equation_needs_two_conditions_per_side():
    base = "field u\nequation biharm(u) = 1\nboundary all: u = 0\n"
    with pytest.raises(symop.errors.SymopError, match="fewer than two conditions for `u`"):
        symop.parse(_problem(_BOX2, base))
    symop.parse(_problem(_BOX2, base + "boundary all: dn(u) = 0\n"))
    with pytest.raises(symop.errors.SymopError, match=r"side `top` has fewer than two"):
        symop.parse(_problem(_BOX2, base + "boundary left, right, bottom: dn(u) = 0\n"))


def test_every_example_loads():
    from pathlib import Path

    files = sorted((Path(__file__).parent.parent / "examples").rglob("*.pde"))
    assert len(files) > 10
    for f in files:
        symop.load(f)


def test_check_reports_every_file_and_fails_if_any_failed(tmp_path, capsys):
    from symop.cli import main

    good = tmp_path / "good.pde"
    good.write_text(_problem(_BOX2, "field u\nequation -lap(u) = 1\nboundary all: u = 0\n"))
    bad = tmp_path / "bad.pde"
    bad.write_text(_problem(_BOX2, "field u\nequation -lap(u) = 1\nboundary left: u = 0\n"))
    worse = tmp_path / "worse.pde"
    worse.write_text("space x\nfield u\nequation lapp(u) = 1\n")
    assert main(["check", str(bad), str(good), str(worse)]) == 1
    out, err = capsys.readouterr()
    assert f"{good}: ok (m: 1 field, 2D, steady)" in out
    assert f"{bad}:3:1: error: sides `right`, `bottom`, `top` have no condition for `u`" in err
    assert f"{worse}:" in err and "Traceback" not in err
    assert "2 of 3 files failed the check" in err
    assert main(["check", str(good), str(good)]) == 0


# ------------------------------------------------------------------ fem, second order in time
FEM_WAVE = """
problem fw1 "u_tt = 4 u_xx + f with moving Dirichlet data"
space x
time t in [0, 0.8]
domain interval(x: [0, 1])
field u
exact u = sin(pi*x)*cos(2*pi*t) + x*t^2 + sin(x + t)
equation dt(u, 2) = 4*d(u, x, 2) + dt(exact(u), 2) - 4*d(exact(u), x, 2)
boundary left, right: u = exact(u)
initial u = exact(u)
initial dt(u) = cos(x)
"""

FEM_WAVE_2D = """
problem fw2 "2D wave with Neumann data dn(exact(u)) and Dirichlet sides"
space x, y
time t in [0, 0.5]
domain box(x: [0, 1], y: [0, 1])
field u
exact u = sin(x + 0.5)*cos(y)*cos(2*t) + 0.2*x*y*t
equation dt(u, 2) = lap(u) + dt(exact(u), 2) - lap(exact(u))
boundary left, right: dn(u) = dn(exact(u))
boundary bottom, top: u = exact(u)
initial u = exact(u)
initial dt(u) = 0.2*x*y
"""


@pytest.mark.parametrize("scheme, order, dts", [("crank-nicolson", 2, (0.1, 0.05, 0.025)),
                                                ("backward-euler", 1, (0.01, 0.005, 0.0025))])
def test_fem_wave_converges_at_the_schemes_order_in_time(scheme, order, dts):
    problem = symop.parse(FEM_WAVE)
    errs = [rel_l2(problem, "fem", n=64, degree=2, dt=dt, scheme=scheme) for dt in dts]
    assert slope(dts, errs) >= order - 0.15


def test_fem_nonlinear_wave_converges_at_order_two_in_time():
    text = (FEM_WAVE.replace("4*d(u, x, 2) +", "4*d(u, x, 2) - u^3 +")
            .replace("- 4*d(exact(u), x, 2)", "- 4*d(exact(u), x, 2) + exact(u)^3"))
    problem = symop.parse(text)
    dts = (0.1, 0.05, 0.025)
    errs = [rel_l2(problem, "fem", n=64, degree=2, dt=dt) for dt in dts]
    assert slope(dts, errs) >= 2 - 0.15


@pytest.mark.parametrize("degree, power", [(1, 1.0), (2, 1.5)])
def test_fem_wave_converges_at_the_elements_order_in_space(degree, power):
    problem = symop.parse(FEM_WAVE)
    ns = (8, 16, 32)
    # Crank-Nicolson with dt ~ h^((degree + 1) / 2) keeps the time error below the space error
    errs = [rel_l2(problem, "fem", n=n, degree=degree, dt=0.2 / n**power) for n in ns]
    assert slope([1 / n for n in ns], errs) >= degree + 1 - 0.15


def test_fem_2d_wave_with_neumann_data_second_order():
    problem = symop.parse(FEM_WAVE_2D)
    ns = (4, 8, 16)
    errs = [rel_l2(problem, "fem", n=n, dt=0.1 / n) for n in ns]
    assert errs[-1] < 2e-3
    assert slope([1 / n for n in ns], errs) >= 2 - 0.15


def test_fem_wave_refuses_splitting():
    with pytest.raises(symop.errors.SymopError, match="split: none"):
        symop.solve(symop.parse(FEM_WAVE), "fem", n=8, split="strang")


def test_fd_default_dt_of_a_damped_wave_with_reaction_stays_accurate():
    """u_tt = 4 u_xx - 0.5 u_t - u + f: the damping and reaction join the wave's CFL bound."""
    text = """
problem telegraph "damped wave with a reaction term"
space x
time t in [0, 1]
domain interval(x: [0, 1])
field u
exact u = exp(-t)*sin(pi*x) + x*t
equation dt(u, 2) = 4*d(u, x, 2) - 0.5*dt(u) - u + dt(exact(u), 2) - 4*d(exact(u), x, 2) + 0.5*dt(exact(u)) + exact(u)
boundary left, right: u = exact(u)
initial u = sin(pi*x)
initial dt(u) = -sin(pi*x) + x
"""
    problem = symop.parse(text)
    dts, errs = [], []
    for n in (32, 64):
        sol = symop.solve(problem, "fd", n=n)
        dts.append(sol.info["dt"])
        errs.append(max(e["rel_l2"] for e in sol.errors().values()))
    assert dts[0] / dts[1] == pytest.approx(2.0, rel=0.1)
    assert errs[1] < 1e-3 and errs[0] / errs[1] > 3.5  # second order in h with dt ~ h


def test_fd_boundary_errors_are_sentences_a_user_can_act_on():
    base = "problem e\nspace x, y\ndomain box(x: [0, 1], y: [0, 1])\nfield u\nequation -lap(u) = 1\n"
    robin = base + "boundary left, right, bottom: u = 0\nboundary top: (x - 0.5)*u + (x - 0.5)*dn(u) = 0\n"
    with pytest.raises(symop.errors.SymopError, match="Robin condition on `top` has beta = 0"):
        symop.solve(symop.parse(robin), "fd", n=4)
    neumann = base + "boundary left, right, bottom: u = 0\nboundary top: dn(u) = 0\n"
    with pytest.raises(symop.errors.OptionError, match="at least 5 nodes per axis"):
        symop.solve(symop.parse(neumann), "fd", n=2, order=4)
