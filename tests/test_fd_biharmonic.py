"""fd on fourth-order equations with two conditions per side (clamped: ``u`` and ``dn(u)``).

The boundary node takes the Dirichlet value and the ghost layers beyond it the
flux condition (:meth:`symop_fd.boundary.BoundarySet.clamped_degree`); both
conditions must hold in the discrete problem, or the solution converges to
another problem (or the matrix is singular).  Each case is a manufactured
solution that is not symmetric about the box's centre, most with nonzero
boundary data, and the observed order over two refinements must lie within
[declared - 0.3, declared + 0.5].  Combinations fd cannot close are refused up
front with a sentence.
"""

from __future__ import annotations

import math

import pytest

import symop
from symop.errors import SymopError
from symop_fd.method import FiniteDifferences

pytestmark = pytest.mark.usefixtures("one_thread")

# 1D: nonzero data, a Robin flux condition on the right, a lower-order term with a variable coefficient
BEAM_1D = """
problem clamped1
space x
domain interval(x: [0, 1])
field u
exact u = exp(x)*sin(2*x + 0.5)
equation d(u, x, 4) + x*d(u, x, 2) = d(exact(u), x, 4) + x*d(exact(u), x, 2)
boundary left: u = exact(u)
boundary left: dn(u) = dn(exact(u))
boundary right: u = exact(u)
boundary right: dn(u) + 2*u = dn(exact(u)) + 2*exact(u)
"""

# 2D: nonzero data on every side, a box that is not a square
PLATE_2D = """
problem clamped2
space x, y
domain box(x: [0, 1], y: [0, 2])
field u
exact u = sin(2*x + 0.5)*cos(1.5*y + 0.3) + x^3*y
equation biharm(u) = biharm(exact(u))
boundary all: u = exact(u)
boundary all: dn(u) = dn(exact(u))
"""

# the audit's plate: zero data, a solution without the symmetry of examples/plate.pde
PLATE_ZERO = """
problem clamped3
space x, y
domain box(x: [0, 1], y: [0, 1])
field w
exact w = (x*(1 - x)*y*(1 - y))^2*(1 + x + y^2)
equation biharm(w) = biharm(exact(w))
boundary all: w = 0
boundary all: dn(w) = 0
"""

# time-dependent: the boundary nodes follow dg/dt, the ghosts the time-dependent flux data
HEAT_1D = """
problem clamped4
space x
time t in [0, 0.002]
domain interval(x: [0, 1])
field u
exact u = exp(-t)*exp(x)*sin(2*x + 0.5)
equation dt(u) = -d(u, x, 4) + dt(exact(u)) + d(exact(u), x, 4)
boundary all: u = exact(u)
boundary all: dn(u) = dn(exact(u))
initial u = exact(u)
"""


def rates(text: str, ns, **options) -> tuple[list[float], list[float]]:
    problem = symop.parse(text)
    errs = []
    for n in ns:
        sol = symop.solve(problem, "fd", n=n, **options)
        errs.append(max(e["rel_l2"] for e in sol.errors().values()))
    return errs, [math.log(errs[i] / errs[i + 1]) / math.log(ns[i + 1] / ns[i]) for i in range(len(ns) - 1)]


def assert_order(errs, observed, declared: int) -> None:
    assert all(declared - 0.3 <= r <= declared + 0.5 for r in observed), (errs, observed)


@pytest.mark.parametrize("order", [2, 4])
def test_clamped_1d_converges_at_the_declared_order(order):
    errs, observed = rates(BEAM_1D, (16, 32, 64), order=order)
    assert errs[-1] < (1e-4 if order == 2 else 1e-7)
    assert_order(errs, observed, order)


@pytest.mark.parametrize("order, ns", [(2, (12, 24, 48)), (4, (16, 32, 64))])
def test_clamped_2d_nonzero_data_converges_at_the_declared_order(order, ns):
    errs, observed = rates(PLATE_2D, ns, order=order)
    assert_order(errs, observed, order)


@pytest.mark.parametrize("order, ns", [(2, (16, 32, 64)), (4, (8, 16, 32))])
def test_clamped_plate_without_symmetry(order, ns):
    errs, observed = rates(PLATE_ZERO, ns, order=order)
    assert errs[-1] < (1e-3 if order == 2 else 1e-5)
    assert_order(errs, observed, order)


def test_clamped_time_dependent_converges_in_h():
    # Crank-Nicolson with a small fixed dt: the time error is far below the spatial one
    errs, observed = rates(HEAT_1D, (16, 32, 64), scheme="crank-nicolson", dt=1e-4)
    assert_order(errs, observed, 2)


def _fourth(conditions: str, equation: str = "biharm(u) = 1") -> str:
    return (f"space x, y\ndomain box(x: [0, 1], y: [0, 1])\nfield u\nequation {equation}\n{conditions}")


@pytest.mark.parametrize("text, words", [
    (_fourth("boundary all: dn(u) = 0\nboundary all: dn(u) + u = 0\n"), "a Neumann and a Robin condition"),
    ("space x\ndomain interval(x: [0, 1])\nfield u\nequation d(u, x, 6) = 1\n"
     "boundary all: u = 0\nboundary all: dn(u) = 0\n", "up to fourth order in space"),
])
def test_unsupported_conditions_are_refused_up_front(text, words):
    problem = symop.parse(text)
    reason = FiniteDifferences().accepts(problem)
    assert reason is not None and words in reason
    with pytest.raises(SymopError, match="fd"):
        symop.solve(problem, "fd", n=8)


@pytest.mark.parametrize("text, words", [
    (_fourth("boundary all: u = 0\nboundary all: u = x\n"), "already"),
    (_fourth("boundary all: u = 0\nboundary all: dn(u) = 0\nboundary left: u = 1\n"), "side `left`"),
])
def test_conditions_no_fourth_order_closure_takes_are_refused_when_read(text, words):
    # two Dirichlet conditions on one side, or a third condition: an error of the file, before any method
    with pytest.raises(SymopError, match=words):
        symop.parse(text)


def test_simply_supported_sides_are_refused_up_front():
    # lap(u) = 0 is not of the form alpha*u + beta*dn(u) = g: fd refuses it rather than solving another problem
    problem = symop.parse(_fourth("boundary all: u = 0\nboundary all: lap(u) = 0\n"))
    assert "alpha*u + beta*dn(u) = g" in FiniteDifferences().accepts(problem)


def test_too_few_nodes_for_the_clamped_closure_is_refused():
    with pytest.raises(SymopError, match="at least 7 nodes"):
        symop.solve(symop.parse(PLATE_ZERO), "fd", n=4, order=4)
