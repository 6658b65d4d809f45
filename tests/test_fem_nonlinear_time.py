"""fem in time with a nonlinear term of second order in space (``u^2*lap(u)``, ``div((1 + u^2)*grad(u))``) or a
coefficient in front of the unknown that depends on time: every term is implicit, with Newton's method in each
step of the theta method, so the default step (1/100 of the interval) is stable and the scheme keeps its order.

Taken explicitly (IMEX), ``u^2*lap(u)`` needs dt ~ h^2 / 2: at the default step the run blew up."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import symop
from symop.errors import OptionError, SolveError

torch.set_num_threads(1)

NLD = """
problem nld "nonlinear diffusion"
space x
time t in [0, 0.5]
domain interval(x: [0, 1])
field u
equation dt(u) = 0.1*lap(u) + u^2*lap(u)
boundary all: u = 0
initial u = sin(pi*x)
"""

MANUFACTURED = """
problem nldm "nonlinear diffusion with a known solution"
space x
time t in [0, 0.5]
domain interval(x: [0, 1])
field u
exact u = exp(-t)*sin(pi*x)
equation dt(u) = 0.1*lap(u) + u^2*lap(u) + dt(exact(u)) - 0.1*lap(exact(u)) - exact(u)^2*lap(exact(u))
boundary all: u = exact(u)
initial u = exact(u)
"""

# the divergence form, with a Neumann side: its boundary term (1 + u^2) dn(u) has a coefficient that depends on
# both u and t (fem refused time-dependent coefficients in front of the unknown before)
DIVERGENCE = """
problem nldd "nonlinear diffusion in divergence form"
space x
time t in [0, 0.5]
domain interval(x: [0, 1])
field u
exact u = exp(-t)*cos(x) + x
equation dt(u) - div((1 + u^2)*grad(u)) = dt(exact(u)) - div((1 + exact(u)^2)*grad(exact(u)))
boundary left: u = exact(u)
boundary right: dn(u) = dx(exact(u))
initial u = exact(u)
"""

PLANE = """
problem nld2 "nonlinear diffusion in 2D with a known solution"
space x, y
time t in [0, 0.5]
domain box(x: [0, 1], y: [0, 1])
field u
exact u = exp(-t)*sin(pi*x)*sin(pi*y)
equation dt(u) = 0.1*lap(u) + u^2*lap(u) + dt(exact(u)) - 0.1*lap(exact(u)) - exact(u)^2*lap(exact(u))
boundary all: u = exact(u)
initial u = exact(u)
"""

WAVE = """
problem nlw "a nonlinear wave with a known solution"
space x
time t in [0, 0.5]
domain interval(x: [0, 1])
field u
exact u = cos(2*t)*sin(pi*x) + 0.5*x*t
equation dt(u, 2) = div((1 + u^2)*grad(u)) + dt(exact(u), 2) - div((1 + exact(u)^2)*grad(exact(u)))
boundary all: u = exact(u)
initial u = exact(u)
initial dt(u) = dt(exact(u))
"""

TIMED = """
problem td "a diffusion coefficient that depends on time"
space x
time t in [0, 0.5]
domain interval(x: [0, 1])
field u
exact u = exp(-t)*sin(pi*x) + x*t
equation dt(u) = (1 + t)*lap(u) + dt(exact(u)) - (1 + t)*lap(exact(u))
boundary all: u = exact(u)
initial u = exact(u)
"""

CROSS = """
problem cross "a system whose diffusion coefficient is the other field"
space x
time t in [0, 0.5]
domain interval(x: [0, 1])
field u, v
exact u = exp(-t)*sin(pi*x) + x
exact v = cos(t)*cos(x)
equation dt(u) = div((1 + v^2)*grad(u)) + dt(exact(u)) - div((1 + exact(v)^2)*grad(exact(u)))
equation dt(v) = lap(v) + u*v + dt(exact(v)) - lap(exact(v)) - exact(u)*exact(v)
boundary all: u = exact(u)
boundary left: v = exact(v)
boundary right: dn(v) = dx(exact(v))
initial u = exact(u)
initial v = exact(v)
"""

DTS = (0.05, 0.025, 0.0125)


def rates(errs) -> np.ndarray:
    """The observed orders between successive halvings of dt."""
    errs = np.asarray(errs)
    return np.log2(errs[:-1] / errs[1:])


def test_the_default_step_solves_the_nonlinear_diffusion_that_blew_up():
    problem = symop.parse(NLD)
    sol = symop.solve(problem, method="fem")
    assert sol.info["dt"] == pytest.approx(0.005)  # 1/100 of the interval: u^2*lap(u) explicit needs ~ h^2/2
    assert sol.info["scheme"] == "crank-nicolson (every term implicit, Newton's method in each step)"
    assert 0 < sol.info["newton_most_per_step"] <= 6
    fd = symop.solve(problem, method="fd")  # rk4 at fd's stability limit
    x = np.linspace(0.05, 0.95, 19)[:, None]
    assert np.isfinite(sol.fields["u"]).all()
    # both methods' space errors at h = 1/32 are a few 1e-4
    assert np.abs(sol(x) - fd(x)).max() < 2e-3


@pytest.mark.parametrize("text", [MANUFACTURED, DIVERGENCE], ids=["u2-lap", "divergence"])
@pytest.mark.parametrize("scheme, order", [("crank-nicolson", 2), ("backward-euler", 1)])
def test_nonlinear_diffusion_converges_at_the_schemes_order_in_time(text, scheme, order):
    """Halving dt twice on a fine fixed mesh (P2, h = 1/128: space error ~ 5e-8, below the time error):
    the observed order is the scheme's."""
    problem = symop.parse(text)
    assert symop.plugins.get_discretization("fem").accuracy({"scheme": scheme, "split": "none",
                                                             "degree": 2}).time == order
    errs = [symop.solve(problem, method="fem", degree=2, n=128, dt=dt, scheme=scheme).errors()["u"]["l2"]
            for dt in DTS]
    assert np.all(np.abs(rates(errs) - order) < 0.1), (errs, rates(errs))


def test_nonlinear_diffusion_in_2d_default_step_and_order():
    problem = symop.parse(PLANE)
    sol = symop.solve(problem, method="fem", n=16)  # P1, default dt = 0.005
    assert sol.errors()["u"]["rel_l2"] < 1e-2  # P1 at h = 1/16; the explicit u^2*lap(u) blew up here
    # a faster time scale, so that Crank-Nicolson's time error stays above P2's space error at h = 1/12 (~4e-6)
    problem = symop.parse(PLANE.replace("exp(-t)*sin(pi*x)*sin(pi*y)", "cos(3*t)*sin(pi*x)*sin(pi*y)"))
    errs = [symop.solve(problem, method="fem", degree=2, n=12, dt=dt).errors()["u"]["l2"] for dt in (0.1, 0.05, 0.025)]
    assert np.all(np.abs(rates(errs) - 2) < 0.1), (errs, rates(errs))


def test_nonlinear_wave_converges_at_order_two():
    """``dt(u, 2) = div((1 + u^2)*grad(u))``: the first-order system in (u, dt(u)) with Newton's method."""
    problem = symop.parse(WAVE)
    sols = [symop.solve(problem, method="fem", degree=2, n=128, dt=dt) for dt in DTS]
    assert "Newton" in sols[0].info["scheme"] and "first-order system" in sols[0].info["scheme"]
    errs = [s.errors()["u"]["l2"] for s in sols]
    assert np.all(np.abs(rates(errs) - 2) < 0.1), (errs, rates(errs))


def test_a_time_dependent_coefficient_is_stepped_at_the_schemes_order():
    """``dt(u) = (1 + t)*lap(u)``: fem refused it; the Newton steps evaluate the operator at each stage's time."""
    problem = symop.parse(TIMED)
    errs = [symop.solve(problem, method="fem", degree=2, n=128, dt=dt).errors()["u"]["l2"] for dt in DTS]
    assert np.all(np.abs(rates(errs) - 2) < 0.1), (errs, rates(errs))


def test_a_system_with_a_nonlinear_cross_diffusion_converges_at_order_two():
    problem = symop.parse(CROSS)
    sols = [symop.solve(problem, method="fem", degree=2, n=128, dt=dt) for dt in DTS]
    for name in ("u", "v"):
        errs = [s.errors()[name]["l2"] for s in sols]
        assert np.all(np.abs(rates(errs) - 2) < 0.1), (name, errs, rates(errs))


def test_splitting_a_nonlinear_diffusion_is_refused_up_front():
    problem = symop.parse(NLD)
    with pytest.raises(OptionError, match=r"coefficient `.*u.*` of the second derivatives.*split: none"):
        symop.lower(problem, "fem", split="strang")
    timed = symop.parse(NLD.replace("u^2*lap(u)", "t*u^2"))  # a reaction with a time-dependent coefficient
    with pytest.raises(OptionError, match=r"depends on time.*split: none"):
        symop.lower(timed, "fem", split="lie")


def test_linear_and_first_order_nonlinear_problems_keep_their_schemes():
    heat = symop.parse(NLD.replace(" + u^2*lap(u)", ""))
    assert symop.solve(heat, method="fem", n=8, dt=0.1).info["scheme"] == "crank-nicolson"
    reaction = symop.parse(NLD.replace("u^2*lap(u)", "u^2"))
    assert symop.solve(reaction, method="fem", n=8, dt=0.1).info["scheme"] == "ars222 (IMEX partner of crank-nicolson)"


def test_newton_that_does_not_converge_in_a_step_is_a_sentence():
    with pytest.raises(SolveError, match=r"Newton's method of the implicit time step from t = 0 to 0\.05 did not "
                                         r"converge in 1 iterations.*maxit"):
        symop.solve(symop.parse(NLD), method="fem", n=8, dt=0.05, maxit=1)
