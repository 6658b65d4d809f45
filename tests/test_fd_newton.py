"""fd's steady Newton solve: a continuation from the Dirichlet data where plain Newton from it fails, and a sentence
where neither finds a solution."""

from __future__ import annotations

import pytest

import symop
from symop.errors import SolveError

pytestmark = pytest.mark.usefixtures("one_thread")

#: strongly nonlinear diffusion: (1 + u^2) reaches 6401, and Newton from u = 0 (whose first step solves
#: -u'' = f, with f of size A^3) is sent to u of size 10^4 and does not come back at n = 128
DIFFUSION = """
problem nl1 "nonlinear diffusion with a reaction, 1D"
space x
domain interval(x: [0, 1])
field u
param A = 80
exact u = A*sin(pi*x)
equation -div((1 + u^2)*grad(u)) + u^3 = -div((1 + exact(u)^2)*grad(exact(u))) + exact(u)^3
boundary all: u = 0
"""

#: -u'' = lam e^u on [0, 1] with u = 0 at both ends has solutions only for lam below about 3.51
BRATU = """
problem bratu "Bratu's problem"
space x
domain interval(x: [0, 1])
field u
param lam = 1
equation -lap(u) = lam*exp(u)
boundary all: u = 0
"""


def test_continuation_solves_where_plain_newton_fails():
    """At A = 80, n = 128 plain Newton from u = 0 cycles for 50 iterations; the continuation reaches the discrete
    solution, within the coarse grid's error of the exact one (8.7e-3 measured; 3.1e-4 at n = 256)."""
    sol = symop.solve(symop.parse(DIFFUSION), method="fd", n=128)
    assert sol.info["continuation_stages"] >= 1
    assert sol.errors()["u"]["rel_l2"] < 3e-2


def test_plain_newton_keeps_its_path_where_it_converges():
    """Where Newton from the Dirichlet data converges, no continuation runs (same iterations as before)."""
    sol = symop.solve(symop.parse(DIFFUSION), method="fd", n=256)
    assert "continuation_stages" not in sol.info
    assert sol.errors()["u"]["rel_l2"] < 1e-3
    linear = symop.solve(symop.parse(BRATU.replace("lam*exp(u)", "lam")), method="fd", n=32)
    assert linear.info["newton_iterations"] == 1 and "continuation_stages" not in linear.info


def test_no_solution_is_a_sentence():
    """Past the fold (lam = 10) neither Newton nor the continuation finds a solution, and the error says so."""
    assert "continuation_stages" not in symop.solve(symop.parse(BRATU), method="fd", n=64).info
    with pytest.raises(SolveError, match=r"nor did a continuation .* stalled .* check that the problem has a "
                                         r"solution"):
        symop.solve(symop.parse(BRATU), method="fd", n=64, lam=10)
