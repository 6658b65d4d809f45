"""Manufactured solutions: exact sources for many operators, the writer round trip, random solutions, CLI errors."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symop
from symop.model.operators import Laplacian
from symop.api import manufacture, parse_expression
from symop.mms import (ManufactureError, boundary_residuals, check_exact,
                       random_solution)
from symop.writer import expr_text, same_problem, write_problem

CASES = {
    "poisson2d": ("""space x, y
domain box(x: [0, 1], y: [0, 2])
field u
equation -lap(u) = 1
boundary left, right: u = 0
boundary bottom: dn(u) = 0
boundary top: dn(u) + 2*u = 0
""", {"u": "sin(pi*x)*cos(y) + x*y^2"}),
    "heat2d": ("""space x, y
time t in [0, 0.5]
domain box(x: [0, 1], y: [0, 1])
param kappa = 0.1
field u
equation dt(u) = kappa*lap(u)
boundary all: dn(u) + u = 0
initial u = 0
""", {"u": "exp(-t)*sin(pi*x)*cos(2*y)"}),
    "wave1d": ("""space x
time t in [0, 1]
domain interval(x: [0, 1])
param c = 2
field u
equation dt(u, 2) = c^2*d(u, x, 2)
boundary left: u = 0
boundary right: dn(u) = 0
initial u = 0
initial dt(u) = 0
""", {"u": "cos(3*t)*sin(pi*x) + t^2*x"}),
    "cubic": ("""space x, y
time t in [0, 1]
domain box(x: [0, 1], y: [0, 1])
field u
equation dt(u) = lap(u) + u - u^3
boundary all: u = 0
initial u = 0
""", {"u": "tanh(x - t)*cos(y)"}),
    "burgers": ("""space x
time t in [0, 1]
domain interval(x: [-1, 1])
param nu = 0.01
field u
equation dt(u) + u*dx(u) = nu*d(u, x, 2)
boundary left, right: u = 0
initial u = -sin(pi*x)
""", {"u": "exp(-t)*sin(pi*x) + x/4"}),
    "mixed": ("""space x, y
domain box(x: [0, 1], y: [0, 1])
field u
equation -lap(u) + d(u, x, y) = 0
boundary all: u = 0
""", {"u": "sin(x*y) + exp(x)*y^3"}),
    "varcoef": ("""space x, y
domain box(x: [0, 1], y: [0, 1])
param a = 2
field u
equation -div((1 + a*x*y^2)*grad(u)) = 0
boundary left, bottom: u = 0
boundary right, top: dn(u) = 0
""", {"u": "sin(2*x)*exp(y)"}),
    "biharmonic": ("""space x, y
domain box(x: [0, 1], y: [0, 1])
field w
equation biharm(w) = 1
boundary all: w = 0
boundary all: dn(w) = 0
""", {"w": "x^2*(1 - x)^2*sin(pi*y)"}),
    "gray_scott": ("""space x, y
time t in [0, 10]
domain box(x: [0, 1], y: [0, 1])
param Du = 2e-5, Dv = 1e-5, F = 0.04, k = 0.06
field u, v
equation dt(u) = Du*lap(u) - u*v^2 + F*(1 - u)
equation dt(v) = Dv*lap(v) + u*v^2 - (F + k)*v
boundary all: dn(u) = 0
boundary all: dn(v) = 0
initial u = 1
initial v = 0
""", {"u": "1 - exp(-t)*cos(pi*x)*cos(pi*y)/2", "v": "exp(-t)*sin(pi*x)*y^2/4"}),
    "poisson3d": ("""space x, y, z
domain box(x: [0, 1], y: [0, 1], z: [0, 1])
field u
equation -lap(u) = 0
boundary left, right, bottom, top: u = 0
boundary front, back: dn(u) = 0
""", {"u": "sin(pi*x)*sin(pi*y)*cos(z)"}),
    "advection_diffusion": ("""space x, y
time t in [0, 1]
domain box(x: [0, 1], y: [0, 1])
param nu = 0.05, a = 1, b = -0.5
field c
equation dt(c) + a*dx(c) + b*dy(c) = nu*lap(c)
boundary all: c = 0
initial c = 0
""", {"c": "exp(-t)*sin(pi*x)*x*y"}),
    "kdv_third_order": ("""space x
time t in [0, 1]
domain interval(x: [0, 1])
field u
equation dt(u) + 6*u*dx(u) + d(u, x, 3) = 0
boundary left, right: u = 0
boundary right: dn(u) = 0
initial u = 0
""", {"u": "cos(t)*sin(2*x)"}),
    "nonlinear_sin_disk": ("""space x, y
domain disk(center: (0.5, 0), radius: 2)
field u
equation -lap(u) + sin(u) = 0
boundary boundary: dn(u) + u^3 = 0
""", {"u": "x^2 - y*x + 1/3"}),
    "helmholtz_polygon": ("""space x, y
domain polygon((0,0), (2,0), (2,1), (1,1), (1,2), (0,2))
param k = 3
field u
equation -lap(u) - k^2*u = 0
boundary side1, side2, side3: dn(u) = 0
boundary side4, side5, side6: dn(u) + u = 0
""", {"u": "cos(x + 2*y)"}),
    "plate_hole": ("""space x, y
domain box(x: [0, 1], y: [0, 1]) minus disk(center: (0.5, 0.5), radius: 0.2) as hole
field u
equation -lap(u) = 0
boundary left, right, bottom, top: u = 0
boundary hole: dn(u) = 0
""", {"u": "x*y^2 + sin(x)"}),
    "indexed_ball": ("""space x[1..3]
domain ball(dim: 3, radius: 1)
field u
equation -lap(u) + u = 0
boundary all: dn(u) = 0
""", {"u": "x[1]^2*x[2] + x[3]"}),
}


@pytest.fixture(scope="module")
def made():
    return {name: manufacture(symop.parse(text), sols) for name, (text, sols) in CASES.items()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_manufactured_source_is_exact(made, name):
    problem = made[name]
    assert set(problem.exact) == set(problem.field_names)
    assert all(r == 0 for r in check_exact(problem).values()), check_exact(problem)
    assert all(r == 0 for _, r in boundary_residuals(problem))
    if not problem.is_steady:
        orders = {(ic.field, ic.order) for ic in problem.initial}
        for eq in problem.equations:
            assert (eq.field, 0) in orders


@pytest.mark.parametrize("name", sorted(CASES))
def test_writer_round_trip(made, name):
    problem = made[name]
    text = write_problem(problem)
    back = symop.parse(text)
    assert same_problem(problem, back) == []
    assert all(r == 0 for r in check_exact(back).values())


def test_boundary_values_use_outward_normals(made):
    p = made["poisson2d"]
    x, y = p.space.coords
    ue = p.exact["u"]
    bottom = next(bc for bc in p.boundary if "bottom" in bc.parts)
    assert bottom.kind == "neumann"
    assert sp.simplify(bottom.value - (-sp.diff(ue, y))) == 0
    top = next(bc for bc in p.boundary if "top" in bc.parts)
    assert sp.simplify(top.value - (sp.diff(ue, y) + 2 * ue)) == 0


def test_neumann_on_all_sides_splits_by_normal(made):
    parts = [bc.parts for bc in made["heat2d"].boundary]
    assert sorted(parts) == sorted([("left",), ("right",), ("bottom",), ("top",)])


def test_second_order_time_gets_two_initial_lines(made):
    p = made["wave1d"]
    ics = {ic.order: ic.value for ic in p.initial}
    x = p.space.coords[0]
    assert sp.simplify(ics[0] - sp.sin(sp.pi * x)) == 0
    assert sp.simplify(ics[1] - 0) == 0  # d/dt (cos(3t) sin(pi x) + t^2 x) at t = 0


def test_disk_normal_is_radial(made):
    p = made["nonlinear_sin_disk"]
    x, y = p.space.coords
    ue = p.exact["u"]
    bc = p.boundary[0]
    expected = ((x - sp.Rational(1, 2)) * sp.diff(ue, x) + y * sp.diff(ue, y)) / 2 + ue**3
    assert sp.simplify(bc.rhs - expected) == 0


def test_parse_expression_uses_language():
    p = symop.parse(CASES["heat2d"][0])
    e = parse_expression(p, "kappa*sin(pi*x)^2 + exp(-t)")
    x, y = p.space.coords
    assert sp.simplify(e - (p.param_symbols["kappa"] * sp.sin(sp.pi * x) ** 2 + sp.exp(-p.t))) == 0
    with pytest.raises(ManufactureError, match="undefined name `q` at column 5"):
        parse_expression(p, "sin(q*x)")
    with pytest.raises(ManufactureError):
        parse_expression(p, "__import__('os')")
    with pytest.raises(ManufactureError, match="no field `w`"):
        manufacture(p, {"w": "x"})
    with pytest.raises(ManufactureError, match="no solution"):
        manufacture(p, {})


def test_expr_text_forms():
    p = symop.parse(CASES["mixed"][0])
    eq = p.equations[0]
    text = expr_text(eq.lhs, p)
    assert "d(u, x, y)" in text and "lap(u)" in text  # d(u, x, 2) + d(u, y, 2) is written as lap(u)
    assert expr_text(sp.Derivative(p.field("u").applied, (p.space.coords[0], 2)), p) == "d(u, x, 2)"
    x, y = p.space.coords
    assert expr_text(x ** 3 / 7 - sp.sqrt(y) * sp.pi) in ("x^3/7 - pi*sqrt(y)", "-pi*sqrt(y) + x^3/7")


@pytest.mark.parametrize("name", ["heat2d", "poisson3d", "wave1d", "gray_scott", "helmholtz_polygon"])
def test_random_solution_reproducible_and_bounded(name):
    p = symop.parse(CASES[name][0])
    a = random_solution(p, 7, amplitude=2.0)
    b = random_solution(p, 7, amplitude=2.0)
    c = random_solution(p, 8, amplitude=2.0)
    assert a == b and a != c
    lo, hi = p.domain.bounding_box()
    rng = np.random.default_rng(0)
    pts = lo + (hi - lo) * rng.random((400, p.dimension))
    args = list(p.space.coords) + ([p.t] if p.t is not None else [])
    for name_, expr in a.items():
        assert not expr.atoms(sp.Float), "coefficients must be exact rationals"
        f = sp.lambdify(args, expr, "numpy")
        cols = [pts[:, k] for k in range(p.dimension)]
        if p.t is not None:
            cols.append(rng.uniform(p.time.start, p.time.end, 400))
        values = np.asarray(f(*cols), dtype=float) * np.ones(400)
        assert np.all(np.abs(values) <= 2.0 + 1e-9)
        assert np.max(np.abs(values)) > 1e-3
        for x in p.space.coords:
            assert expr.has(x) or p.dimension > 1


def test_random_manufactured_is_exact():
    p = symop.parse(CASES["burgers"][0])
    m = manufacture(p, random_solution(p, 3))
    assert check_exact(m) == {"u": 0}
    assert same_problem(m, symop.parse(write_problem(m))) == []


# ------------------------------------------------------------------ CLI
def _cli(args, capsys):
    from symop.cli import main

    rc = main(args)
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture
def heat_file(tmp_path):
    path = tmp_path / "heat.pde"
    path.write_text(CASES["heat2d"][0])
    return path


@pytest.mark.parametrize("args, message", [
    (["--solution", "w = x"], "no field `w`"),
    (["--solution", "u = sin(q*x)"], "undefined name `q` at column 5"),
    ([], "no solution given"),
    (["--solution", "u = sin(x"], "u"),
    (["--solution", "u"], "FIELD = EXPRESSION"),
])
def test_cli_mms_errors_are_one_line(heat_file, capsys, args, message):
    rc, out, err = _cli(["mms", str(heat_file), *args], capsys)
    assert rc == 1
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_cli_mms_writes_file(heat_file, tmp_path, capsys):
    out_path = tmp_path / "made.pde"
    rc, out, err = _cli(["mms", str(heat_file), "--solution", "u = exp(-t)*sin(pi*x)*y", "-o", str(out_path)], capsys)
    assert rc == 0, err
    p = symop.load(out_path)
    assert check_exact(p) == {"u": 0}
    rc, out, err = _cli(["mms", str(heat_file), "--random", "--seed", "4"], capsys)
    assert rc == 0 and out.startswith("#") and "exact u =" in out
    assert check_exact(symop.parse(out)) == {"u": 0}


def test_high_dimensional_indexed_space_keeps_the_laplacian_unexpanded():
    """d = 100 (beyond symbolic expansion): the source keeps lap(<function>) as a node, the
    written file parses back to the same problem, and the residual is zero at random points."""
    text = """
problem pb
param d = 100
space x[1..d]
domain ball(dim: d, radius: 1)
field u
equation lap(u) + sin(u) = 0
boundary all: u = 0
"""
    problem = symop.parse(text)
    made = manufacture(problem, {"u": "(1 - sum(i, 1, d, x[i]^2)) * sum(i, 1, d-1, sin(x[i] + cos(x[i+1])))"})
    assert made.equations[0].rhs.has(Laplacian)
    assert check_exact(made) == {"u": 0}
    back = symop.parse(write_problem(made))
    assert back.dimension == 100 and back.equations[0].rhs.has(Laplacian)
    assert check_exact(back) == {"u": 0}
    # the source is exactly lap(U) + sin(U) for the chosen U, with the Laplacian left to the method
    U = made.exact["u"]
    assert sp.expand(made.equations[0].rhs - Laplacian(U) - sp.sin(U)) == 0
