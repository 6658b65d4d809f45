"""fd and fem refuse, with a sentence, what they cannot solve correctly: a steady problem whose solution is
fixed only up to a constant, and data that are not finite where they evaluate them (:mod:`symop.wellposed`)."""

from __future__ import annotations

import pytest

import symop
from symop.errors import MethodError
from symop.plugins import get_discretization
from symop.wellposed import DataError, constant_refusal

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

BOX = "space x, y\ndomain box(x: [0, 1], y: [0, 1])\n"
CLASSICAL = ("fd", "fem")

UNDETERMINED = {
    # before: fem returned u ≈ 1e14, fd "Newton's method did not converge in 50 iterations ... 3.36 → 1"
    "neumann, data that do not balance": "field u\nequation -lap(u) = 1\nboundary all: dn(u) = 0\n",
    "neumann, data that balance": "field u\nequation -lap(u) = cos(pi*x)*cos(pi*y)\nboundary all: dn(u) = 0\n",
    "periodic": "field u\nboundary periodic(x, y)\nequation -lap(u) = sin(2*pi*x)\n",
    "periodic and neumann": "field u\nboundary periodic(x)\nequation -lap(u) = 1\nboundary bottom, top: dn(u) = 0\n",
    "a reaction of zero": "field u\nparam k = 0\nequation -lap(u) + k*u = 1\nboundary all: dn(u) = 0\n",
    "nonlinear in the gradient": "field u\nequation -div((1 + dx(u)^2)*grad(u)) = 1\nboundary all: dn(u) = 0\n",
    "a field only in another's equation": "field u, v\nequation -lap(u) + v = 1\nequation -lap(v) + v = 0\n"
                                          "boundary all: dn(u) = 0\nboundary all: dn(v) = 0\n",
    "two fields shifted together": "field u, v\nequation -lap(u) + u - v = 1\nequation -lap(v) + v - u = 0\n"
                                   "boundary all: dn(u) = 0\nboundary all: dn(v) = 0\n",
}

DETERMINED = {
    "one dirichlet side": "field u\nequation -lap(u) = 1\nboundary left: u = 0\n"
                          "boundary right, bottom, top: dn(u) = 0\n",
    "one robin side": "field u\nequation -lap(u) = 1\nboundary left: dn(u) + u = 0\n"
                      "boundary right, bottom, top: dn(u) = 0\n",
    "a reaction": "field u\nequation -lap(u) + u = 1\nboundary all: dn(u) = 0\n",
    "periodic and dirichlet": "field u\nboundary periodic(x)\nequation -lap(u) = 1\nboundary bottom, top: u = 0\n",
    "coupled values": "field u, v\nequation -lap(u) + v = 1\nequation -lap(v) + u = 0\n"
                      "boundary all: dn(u) = 0\nboundary all: dn(v) = 0\n",
    "time-dependent": "time t in [0, 0.01]\nfield u\nequation dt(u) = lap(u)\nboundary all: dn(u) = 0\n"
                      "initial u = cos(pi*x)\n",
}


@pytest.mark.parametrize("name", UNDETERMINED)
@pytest.mark.parametrize("method", CLASSICAL)
def test_a_solution_fixed_only_up_to_a_constant_is_refused_with_the_fix(name, method):
    problem = symop.parse(BOX + UNDETERMINED[name])
    if method == "fem" and "dx(u)^2" in UNDETERMINED[name]:  # fem refuses it for its own reason first
        assert "not linear in its second derivatives" in get_discretization(method).accepts(problem)
        return
    reason = get_discretization(method).accepts(problem)
    assert reason is not None and "only up to added constant" in reason.replace("an added constant", "added constant")
    with pytest.raises(MethodError, match="needs a problem with one solution") as info:
        symop.solve(problem, method, n=8)
    message = str(info.value)
    assert "Add " in message and "Newton" not in message
    if "periodic(x, y)" not in UNDETERMINED[name]:
        assert "`boundary left: u = 0`" in message or "`boundary bottom: u = 0`" in message


def test_the_sentence_names_the_field_the_fixes_and_the_balance():
    problem = symop.parse(BOX + UNDETERMINED["neumann, data that do not balance"])
    assert constant_refusal(problem, "fd") == (
        "fd needs a problem with one solution, and this one fixes `u` only up to an added constant: `u` appears "
        "only through its derivatives (no term in `u` itself, and every side has dn(u) = g or is periodic), so if "
        "`u` solves it (which needs data that balance, ∫ source + ∮ flux = 0), every `u + c` does too. Add a Dirichlet condition on one side (`boundary left: u = 0`), or a Robin one (`dn(u) + u = g`), or a "
        "term in `u` itself to its equation (a reaction such as `+ u`).")
    both = constant_refusal(symop.parse(BOX + UNDETERMINED["two fields shifted together"]), "fd")
    assert "if (u, v) solves it" in both and "so does (u + c, v + c) for every constant c" in both
    periodic = constant_refusal(symop.parse(BOX + UNDETERMINED["periodic"]), "fd")
    assert "Dirichlet" not in periodic  # every side is periodic: no side to fix a value on


@pytest.mark.parametrize("name", DETERMINED)
def test_problems_with_one_solution_are_accepted(name):
    problem = symop.parse(BOX + DETERMINED[name])
    assert constant_refusal(problem, "fd") is None
    for method in CLASSICAL:
        assert get_discretization(method).accepts(problem) is None


def test_the_network_methods_still_take_a_pure_neumann_problem():
    problem = symop.parse(BOX + UNDETERMINED["neumann, data that balance"])
    assert get_discretization("pinn").accepts(problem) is None


@pytest.mark.parametrize("method", CLASSICAL)
@pytest.mark.parametrize("lines, message", [
    # before: "the sparse LU solve produced NaN or infinite values; the matrix is singular or badly scaled"
    ("equation -lap(u) = sqrt(x - 2) + 1\nboundary all: u = 0\n",
     r"the term `sqrt\(x - 2\)` of the equation of `u` is not a number \(NaN\) at \(x, y\) = \("),
    ("equation -lap(u) = 1\nboundary all: u = log(x - 2)\n",
     r"the value of the boundary condition of `u` on left, `log\(x - 2\)`, is not a number \(NaN\) at \(x, y\) = "
     r"\(0, 0\)"),
    # before: "the sparse LU factorization of the 81 x 81 system failed (Factor is exactly singular)"
    ("equation -div((x - 2)^0.5*grad(u)) = 1\nboundary all: u = 0\n",
     r"the coefficient of `d\(u, x, 2\)` in the equation of `u`, `-sqrt\(x - 2\)`, is not a number"),
])
def test_data_that_are_not_finite_where_the_method_evaluates_them_are_named(method, lines, message):
    problem = symop.parse(BOX + "field u\n" + lines)
    with pytest.raises(DataError, match=message) as info:
        symop.solve(problem, method, n=8)
    assert f"a point where {method} evaluates it" in str(info.value)


def test_data_singular_only_where_the_method_does_not_evaluate_them_are_fine():
    """1/x is infinite on x = 0, where fd sets the Dirichlet value instead of the equation and fem has no
    quadrature point."""
    problem = symop.parse(BOX + "field u\nequation -lap(u) = 1/x\nboundary all: u = 0\n")
    for method in CLASSICAL:
        assert symop.solve(problem, method, n=8).fields["u"] is not None


def test_boundary_data_are_checked_where_the_method_evaluates_them():
    """fd evaluates a flux at the nodes of its side (one at y = 0.5), fem at the facets' quadrature points."""
    problem = symop.parse(BOX + "field u\nequation -lap(u) = 1\nboundary left: dn(u) = 1/(y - 0.5)\n"
                                "boundary right, bottom, top: u = 0\n")
    with pytest.raises(DataError, match=r"the value of the boundary condition of `u` on left, `1/\(y - 0.5\)`, is "
                                        r"infinite at \(x, y\) = \(0, 0.5\), a point where fd evaluates it"):
        symop.solve(problem, "fd", n=8)
    assert symop.solve(problem, "fem", n=8).fields["u"] is not None


def test_time_dependent_data_are_checked_at_the_end_time_too():
    problem = symop.parse(BOX + "time t in [0, 1]\nfield u\nequation dt(u) = lap(u) + 1/(t - 1)\n"
                                "boundary all: u = 0\ninitial u = 0\n")
    with pytest.raises(DataError, match=r"is infinite at \(x, y\) = \(.*\) and t = 1,"):
        symop.solve(problem, "fd", n=4, dt=0.1)
