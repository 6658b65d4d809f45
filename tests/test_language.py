"""The equation language: every documented form parses and means what it says."""

from __future__ import annotations

from pathlib import Path

import pytest
import sympy as sp

import symop
from symop.errors import SymopError
from symop.model.operators import Laplacian, NormalDerivative

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").rglob("*.pde"))

HEAT = """\
# heat.pde: lines after '#' are comments; one statement per line,
# a statement continues on the next line while a bracket is open.
problem heat "2D heat equation with a known solution"

space x, y                                   # spatial coordinates
time t in [0, 0.5]                           # omit for a steady problem

domain box(x: [0, 1], y: [0, 1])             # sides: left right bottom top (front back in 3D)

param kappa = 0.1                            # constants; several per line allowed
let f = 0                                    # named expressions (inlined)
field u                                      # unknowns; several per line allowed

equation dt(u) = kappa*lap(u) + f
boundary left, right: u = 0                  # Dirichlet
boundary bottom: dn(u) = 0                   # Neumann (outward normal derivative)
boundary top: dn(u) + 2*u = 0                # Robin
initial u = sin(pi*x)*sin(pi*y)
exact u = exp(-2*pi^2*kappa*t)*sin(pi*x)*sin(pi*y)   # optional: enables error norms

solve fd(n: 128, dt: 1e-4, split: strang)    # optional default method and options
"""


def symbols(*names):
    return [sp.Symbol(n, real=True) for n in names]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_parses(path):
    problem = symop.load(path)
    assert problem.fields and problem.equations
    first = path.read_text().splitlines()[0]
    assert first.startswith("#"), "each example starts with a one-line comment of what it shows"


def test_enough_examples_cover_the_language():
    assert len(EXAMPLES) >= 10
    kinds = {symop.load(p).domain.kind for p in EXAMPLES}
    assert {"interval", "box", "disk", "polygon", "difference", "ball"} <= kinds


def test_heat_from_the_language_reference():
    p = symop.parse(HEAT, "heat.pde")
    x, y, t, kappa = symbols("x", "y", "t", "kappa")
    u = p.field("u").applied
    assert p.name == "heat" and p.title.startswith("2D heat")
    assert p.time.start == 0 and p.time.end == 0.5
    assert p.params == {"kappa": 0.1}
    eq = p.equations[0]
    assert sp.simplify(eq.residual - (sp.diff(u, t) - kappa * (sp.diff(u, x, 2) + sp.diff(u, y, 2)))) == 0
    kinds = {bc.parts: bc.kind for bc in p.boundary}
    assert kinds == {("left", "right"): "dirichlet", ("bottom",): "neumann", ("top",): "robin"}
    top = next(bc for bc in p.boundary if bc.parts == ("top",))
    assert (top.alpha, top.beta, top.value) == (2, 1, 0)
    assert p.initial[0].order == 0
    assert p.solve.method == "fd" and p.solve.options == {"n": 128, "dt": 1e-4, "split": "strang"}
    assert p.exact["u"].has(sp.exp)


def test_terms_on_either_side_are_the_same_equation():
    head = "space x, y\ntime t in [0, 1]\ndomain box(x: [0, 1], y: [0, 1])\nparam a = 1, nu = 0.1\nfield c\ninitial c = 0\nboundary all: c = 0\n"
    a = symop.parse(head + "equation dt(c) + a*dx(c) = nu*lap(c)\n")
    b = symop.parse(head + "equation dt(c) = nu*lap(c) - a*dx(c)\n")
    assert sp.simplify(a.equations[0].residual - b.equations[0].residual) == 0


def test_second_order_in_time_takes_two_initial_lines():
    src = ("space x\ntime t in [0, 1]\ndomain interval(x: [0, 1])\nfield u\n"
           "equation dt(u, 2) = d(u, x, 2)\nboundary all: u = 0\ninitial u = sin(pi*x)\ninitial dt(u) = 0\n")
    p = symop.parse(src)
    assert {(ic.field, ic.order) for ic in p.initial} == {("u", 0), ("u", 1)}


def test_fourth_order_takes_two_conditions_per_side():
    p = symop.parse("space x, y\ndomain box(x: [0, 1], y: [0, 1])\nfield w\nequation biharm(w) = 1\n"
                    "boundary all: w = 0\nboundary all: dn(w) = 0\n")
    assert [bc.kind for bc in p.boundary] == ["dirichlet", "neumann"]
    x, y = symbols("x", "y")
    w = p.field("w").applied
    assert sp.diff(w, x, 4) in p.equations[0].lhs.atoms(sp.Derivative)
    assert sp.diff(w, x, 2, y, 2) in p.equations[0].lhs.atoms(sp.Derivative)


def test_variable_coefficients_in_divergence_form():
    p = symop.parse("space x, y\ndomain box(x: [0, 1], y: [0, 1])\nparam a = 2\nfield u\n"
                    "equation -div((1 + a*x)*grad(u)) = 1\nboundary all: u = 0\n")
    x, y, a = symbols("x", "y", "a")
    u = p.field("u").applied
    expected = -((1 + a * x) * (sp.diff(u, x, 2) + sp.diff(u, y, 2)) + a * sp.diff(u, x))
    assert sp.simplify(p.equations[0].lhs - expected) == 0


def test_expressions_functions_and_conditionals():
    p = symop.parse("space x\ndomain interval(x: [0, 1])\nfield u\n"
                    "let g = if(x < 0.5 and x >= 0.1 or x == 1, min(x, 2, 3), max(abs(x), sign(x)))\n"
                    "equation -d(u, x, 2) = g + tan(x) + tanh(x) + sinh(x) + cosh(x) + sqrt(x) + log(1 + x) + e^x + 2**x\n"
                    "boundary all: u = 0\n")
    rhs = p.equations[0].rhs
    assert rhs.has(sp.Piecewise) and rhs.has(sp.Min) and rhs.has(sp.Max) and rhs.has(sp.tanh)


def test_vectors_dot_norm_and_mixed_partials():
    p = symop.parse("space x, y\ndomain box(x: [0, 1], y: [0, 1])\nfield u\n"
                    "equation -lap(u) + dot((1, 2), grad(u)) + norm((3, 4))*d(u, x, y) = dx(u) + dy(u)\n"
                    "boundary all: u = 0\n")
    x, y = symbols("x", "y")
    u = p.field("u").applied
    res = sp.expand(p.equations[0].residual)
    assert res.coeff(sp.diff(u, x, y)) == 5
    assert res.coeff(sp.diff(u, y)) == 1


def test_indexed_space_keeps_sums_and_laplacian_unexpanded():
    src = """
param d = 1000
space x[1..d]
domain ball(dim: d, radius: 1)
field u
let g = sum(i, 1, d-1, sin(x[i] + cos(x[i+1]) + x[i+1]*cos(x[i])))
exact u = (1 - sum(i, 1, d, x[i]^2)) * g
equation lap(u) + sin(u) = lap(exact(u)) + sin(exact(u))
boundary all: u = exact(u)
"""
    p = symop.parse(src)
    assert p.dimension == 1000 and p.space.is_indexed
    eq = p.equations[0]
    assert eq.lhs.has(Laplacian) and eq.rhs.has(Laplacian)
    assert p.exact["u"].has(sp.Sum)
    assert len(str(p.exact["u"])) < 300, "the sum must not be unrolled into d terms"
    assert p.boundary[0].parts == ("boundary",)


def test_systems_assign_one_equation_per_field():
    p = symop.load(Path(__file__).parent.parent / "examples" / "gray_scott.pde")
    assert [e.field for e in p.equations] == ["u", "v"]
    assert p.periodic == ("x", "y")


def test_normal_derivative_only_in_boundary_conditions():
    p = symop.parse("space x\ndomain interval(x: [0, 1])\nfield u\nequation -d(u, x, 2) = 1\n"
                    "boundary left: u = 0\nboundary right: dn(u) = 1\n")
    assert p.boundary[1].lhs == NormalDerivative(p.field("u").applied)


def test_statements_continue_while_a_bracket_is_open():
    p = symop.parse("space x, y\ndomain polygon((0,0), (2,0),\n   (2,1), (1,1),\n (1,2), (0,2))\nfield u\n"
                    "equation -lap(u) = (1 +\n 2)\nboundary all: u = 0\n")
    assert p.domain.kind == "polygon" and len(p.domain.sides) == 6
    assert p.equations[0].rhs == 3


def test_difference_domain_names_the_hole():
    p = symop.load(Path(__file__).parent.parent / "examples" / "plate_hole.pde")
    assert p.domain.sides[-1] == "hole"
    assert "hole" in {s for bc in p.boundary for s in bc.parts}


def test_exact_inside_expressions_is_the_declared_solution():
    p = symop.load(Path(__file__).parent.parent / "examples" / "variable_coefficient.pde")
    u_exact = p.exact["u"]
    residual = p.substitute_fields(p.equations[0].residual, {"u": u_exact})
    assert sp.simplify(p.numeric(residual)) == 0


def test_derivative_in_a_summed_coordinate_is_a_positioned_error_not_a_crash():
    text = ("param d = 5\nspace x[1..d]\ndomain ball(dim: d, radius: 1)\nfield u\n"
            "equation lap(u) + sum(i, 1, d-1, d(u, x[i], x[i+1])) = 1\nboundary all: u = 0\n")
    with pytest.raises(SymopError) as info:
        symop.parse(text, "mixed.pde")
    assert "mixed.pde:5:39" in str(info.value) and "summation index is not supported" in str(info.value)


SHAPED = """problem shaped "Poisson whose dimension is a parameter"
param d = 4
param kappa = 2, half = kappa/2
space x[1..d]
domain ball(dim: d, radius: 1)
field u
equation -kappa*lap(u) = -2*kappa*d + half - 1
boundary all: u = sum(i, 1, d, x[i]^2)
exact u = sum(i, 1, d, x[i]^2)
"""


def test_a_parameter_that_shapes_the_problem_is_set_by_reading_the_file_again(tmp_path, capsys):
    """`d` fixes the space, the domain and a sum as the file is read, and `kappa` another parameter's value:
    setting either reads the file again with the new value (the space has d coordinates, `half` follows kappa);
    a parameter used only in expressions is substituted as before; a problem that is not the file's as read
    (manufactured) refuses a structural change with a sentence instead of mixing dimensions."""
    from symop.api import split_settings, with_params
    from symop.cli import main
    from symop.errors import OptionError
    from symop.mms import manufacture

    path = tmp_path / "shaped.pde"
    path.write_text(SHAPED)
    problem = symop.load(path)
    assert problem.structural_params == {"d", "kappa"} and problem.dimension == 4
    five, _ = split_settings(problem, "pinn", {"d": "5"})
    assert five.dimension == 5 and five.domain.dimension == 5 and five.params["d"] == 5.0
    assert five.exact["u"].has(five.space.indexed[5]) and not problem.exact["u"].has(problem.space.indexed[5])
    softer = with_params(problem, {"kappa": 4.0})
    assert softer.params["kappa"] == 4.0 and softer.params["half"] == 2.0 and softer.dimension == 4
    # values set earlier survive a later reading again (in two calls): a structural one, and one substituted
    both = with_params(with_params(softer, {"half": 7.0}), {"d": 3.0})
    assert both.dimension == 3 and both.params["kappa"] == 4.0 and both.params["half"] == 7.0
    with pytest.raises(OptionError, match="the parameter `d` of `shaped` shapes the problem itself"):
        problem.with_params(d=5)
    made = manufacture(problem, {"u": problem.exact["u"]})
    with pytest.raises(OptionError, match="was built from another \\(manufactured\\), so change `param d`"):
        with_params(made, {"d": 3.0})
    assert main(["show", str(path), "--set", "d=6"]) == 0
    out = capsys.readouterr().out
    assert "(dimension 6)" in out and "d = 6" in out
    assert main(["show", str(path), "--set", "n=6"]) != 0
    assert "`--set n` is not a parameter of `shaped`" in capsys.readouterr().err
