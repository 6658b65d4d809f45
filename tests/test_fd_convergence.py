"""Observed orders of the fd method on manufactured solutions (space and time)."""

from __future__ import annotations

import numpy as np
import pytest

import symop


pytestmark = pytest.mark.usefixtures("one_thread")


def rel_error(text: str, **options) -> tuple[float, float]:
    problem = symop.parse(text)
    sol = symop.solve(problem, "fd", **options)
    h = min((hi - lo) for _, lo, hi in problem.domain.axes) / options["n"]
    errs = sol.errors()
    return h, max(e["rel_l2"] for e in errs.values())


def observed_order(text: str, ns, **options) -> float:
    hs, es = zip(*(rel_error(text, n=n, **options) for n in ns))
    return float(np.polyfit(np.log(hs), np.log(es), 1)[0])


POISSON_1D = """
problem p1 "1D Poisson, Dirichlet left, Robin right"
space x
domain interval(x: [0, 1])
field u
equation -d(u, x, 2) + u = -d(exact(u), x, 2) + exact(u)
boundary left: u = exact(u)
boundary right: dn(u) + 2*u = {right}
exact u = exp(x)*sin(2*x) + x^3
"""

POISSON_2D = """
problem p2 "2D variable-coefficient Poisson with all side kinds"
space x, y
domain box(x: [0, 1], y: [0, 2])
field u
equation -div((1 + x*y)*grad(u)) + d(u, x, y) = -div((1 + x*y)*grad(exact(u))) + d(exact(u), x, y)
boundary left, right: u = exact(u)
boundary bottom: dn(u) = -d(exact(u), y)
boundary top: dn(u) + 3*u = d(exact(u), y) + 3*exact(u)
exact u = sin(2*x + 1)*cos(y) + x*y^2
"""

POISSON_3D = """
problem p3 "3D Poisson, Dirichlet and periodic"
space x, y, z
domain box(x: [0, 1], y: [0, 1], z: [0, 1])
boundary periodic(z)
field u
equation -lap(u) = -lap(exact(u))
boundary left, right, bottom, top: u = exact(u)
exact u = sin(pi*x)*cos(2*y)*sin(2*pi*z)
"""

HEAT = """
problem heat "2D heat with Dirichlet, Neumann and Robin sides"
space x, y
time t in [0, 0.1]
domain box(x: [0, 1], y: [0, 1])
param kappa = 0.5
field u
equation dt(u) = kappa*lap(u) + dt(exact(u)) - kappa*lap(exact(u))
boundary left, right: u = exact(u)
boundary bottom: dn(u) = -d(exact(u), y)
boundary top: dn(u) + 2*u = d(exact(u), y) + 2*exact(u)
initial u = exact(u)
exact u = exp(-t)*sin(pi*x)*cos(y) + x*y
"""

ADVECTION_DIFFUSION = """
problem ad "periodic advection-diffusion"
space x
time t in [0, 0.5]
domain interval(x: [0, 1])
boundary periodic(x)
param a = 1, nu = 0.05
field c
equation dt(c) + a*dx(c) = nu*d(c, x, 2)
initial c = sin(2*pi*x)
exact c = exp(-4*pi^2*nu*t)*sin(2*pi*(x - a*t))
"""


def test_poisson_1d_dirichlet_robin_order_2():
    text = POISSON_1D.replace("{right}", "d(exact(u), x) + 2*exact(u)")
    assert observed_order(text, [16, 32, 64, 128]) == pytest.approx(2.0, abs=0.1)


def test_poisson_2d_all_side_kinds_order_2():
    assert observed_order(POISSON_2D, [8, 16, 32, 64]) == pytest.approx(2.0, abs=0.1)


def test_poisson_3d_order_2():
    assert observed_order(POISSON_3D, [6, 12, 24]) == pytest.approx(2.0, abs=0.1)


def test_heat_order_2():
    assert observed_order(HEAT, [8, 16, 32]) == pytest.approx(2.0, abs=0.1)


def test_advection_diffusion_periodic_order_2():
    assert observed_order(ADVECTION_DIFFUSION, [16, 32, 64, 128]) == pytest.approx(2.0, abs=0.1)


def test_order_4_dirichlet_poisson():
    """From n = 16: the one-sided row next to a Dirichlet side (:meth:`BoundarySet.dirichlet_degree`) adds an
    O(h^5) error that lowers the error at n = 8 (6.5e-6 where the degree-6 closure gave 1.2e-5), so a fit from
    n = 8 reads 3.55; from n = 16 on the errors match that closure's (3.1e-9 at n = 64) and the slope is 3.9."""
    text = POISSON_2D.split("boundary bottom")[0] + "boundary bottom, top: u = exact(u)\nexact u = sin(2*x + 1)*cos(y) + x*y^2\n"
    assert observed_order(text, [16, 32, 64], order=4) == pytest.approx(4.0, abs=0.2)


def test_order_4_periodic_advection_diffusion():
    assert observed_order(ADVECTION_DIFFUSION, [16, 32, 64], order=4, dt=1e-3) == pytest.approx(4.0, abs=0.2)


POISSON_1D_FLUX = """
problem p1f "1D Poisson, Neumann left, Robin right"
space x
domain interval(x: [0, 1])
field u
equation -d(u, x, 2) + u = -d(exact(u), x, 2) + exact(u)
boundary left: dn(u) = -d(exact(u), x)
boundary right: dn(u) + 2*u = d(exact(u), x) + 2*exact(u)
exact u = exp(x)*sin(2*x) + x^3
"""

POISSON_2D_FLUX = """
problem p2f "2D variable-coefficient Poisson, Neumann and Robin on every side"
space x, y
domain box(x: [0, 1], y: [0, 2])
field u
equation -div((1 + x*y)*grad(u)) + d(u, x, y) = -div((1 + x*y)*grad(exact(u))) + d(exact(u), x, y)
boundary left: dn(u) = -d(exact(u), x)
boundary right: dn(u) + (1 + y)*u = d(exact(u), x) + (1 + y)*exact(u)
boundary bottom: dn(u) = -d(exact(u), y)
boundary top: dn(u) + 3*u = d(exact(u), y) + 3*exact(u)
exact u = sin(2*x + 1)*cos(y) + x*y^2
"""

HEAT_1D_FLUX = """
problem h1f "1D heat, Neumann left, time-dependent Robin right"
space x
time t in [0, 0.1]
domain interval(x: [0, 1])
field u
equation dt(u) = 0.5*d(u, x, 2) + dt(exact(u)) - 0.5*d(exact(u), x, 2)
boundary left: dn(u) = -d(exact(u), x)
boundary right: dn(u) + 2*u = d(exact(u), x) + 2*exact(u)
initial u = exact(u)
exact u = exp(-t)*cos(3*x) + x^2*sin(t + x)
"""


def test_order_4_neumann_robin_poisson_1d():
    assert observed_order(POISSON_1D_FLUX, [16, 32, 64], order=4) == pytest.approx(4.0, abs=0.2)


def test_order_4_neumann_robin_poisson_2d():
    assert observed_order(POISSON_2D_FLUX, [8, 16, 32], order=4) == pytest.approx(4.0, abs=0.2)


def test_order_4_neumann_robin_heat_1d_explicit_default_dt():
    # rk4 at the default (stability-limited) step: the closure's larger spectral radius is accounted for
    assert observed_order(HEAT_1D_FLUX, [8, 16, 32], order=4, scheme="rk4") == pytest.approx(4.0, abs=0.2)


def test_order_2_closure_unchanged_on_flux_sides():
    assert observed_order(POISSON_2D_FLUX, [8, 16, 32]) == pytest.approx(2.0, abs=0.1)


# ---------------------------------------------------------------- time
TIME_PROBLEM = """
problem tp "non-commuting diffusion and reaction"
space x
time t in [0, 1]
domain interval(x: [0, 6.283185307179586])
boundary periodic(x)
field u
equation dt(u) = 0.1*d(u, x, 2) + sin(x)*u + cos(t)*cos(x)
initial u = 1 + sin(x)
"""


def temporal_order(dts, **options) -> float:
    problem = symop.parse(TIME_PROBLEM)
    ref = symop.solve(problem, "fd", n=16, scheme="rk4", dt=1e-3).fields["u"]
    errs = [np.abs(symop.solve(problem, "fd", n=16, dt=dt, **options).fields["u"] - ref).max() for dt in dts]
    return float(np.polyfit(np.log(dts), np.log(errs), 1)[0])


@pytest.mark.parametrize(
    "options, dts, expected",
    [
        ({"scheme": "euler"}, [0.02, 0.01, 0.005], 1),
        ({"scheme": "heun"}, [0.1, 0.05, 0.025], 2),
        ({"scheme": "rk4"}, [0.2, 0.1, 0.05], 4),
        ({"scheme": "backward-euler"}, [0.1, 0.05, 0.025], 1),
        ({"scheme": "crank-nicolson"}, [0.1, 0.05, 0.025], 2),
        ({"scheme": "ars222"}, [0.1, 0.05, 0.025], 2),
        ({"split": "lie"}, [0.1, 0.05, 0.025], 1),
        ({"split": "strang"}, [0.1, 0.05, 0.025], 2),
    ],
    ids=["euler", "heun", "rk4", "backward-euler", "crank-nicolson", "ars222", "lie", "strang"],
)
def test_temporal_order(options, dts, expected):
    assert temporal_order(dts, **options) == pytest.approx(expected, abs=0.15)


#: time steps in the asymptotic range (and inside the stability limits) by declared order
ORDER_DTS = {1: [0.02, 0.01, 0.005], 2: [0.1, 0.05, 0.025], 3: [0.2, 0.1, 0.05], 4: [0.2, 0.1, 0.05]}


def _fd_schemes():
    from symop.integrate import get_scheme
    from symop.plugins import discretizations

    (scheme,) = [o for o in discretizations()["fd"].options if o.name == "scheme"]
    return [pytest.param(name, get_scheme(name).order, id=name) for name in scheme.choices]


@pytest.mark.parametrize("scheme, expected", _fd_schemes())
def test_every_scheme_fd_offers_reaches_its_registered_order(scheme, expected):
    dts = ORDER_DTS.get(expected, ORDER_DTS[4])
    assert temporal_order(dts, scheme=scheme) == pytest.approx(expected, abs=0.15)


TIME_DEPENDENT = """
problem tdc "1D heat with a time-dependent coefficient, Dirichlet and Robin data"
space x
time t in [0, 1]
domain interval(x: [0, 1])
field u
equation dt(u) = (1 + t)*d(u, x, 2) + dt(exact(u)) - (1 + t)*d(exact(u), x, 2)
boundary left: u = exact(u)
boundary right: dn(u) + 2*u = d(exact(u), x) + 2*exact(u)
initial u = exact(u)
exact u = (1 + x + x^2)*cos(2*t) + x*sin(3*t)
"""


@pytest.mark.parametrize("scheme, expected, dts", [("backward-euler", 1, [0.0125, 0.00625, 0.003125]),
                                                   ("crank-nicolson", 2, [0.1, 0.05, 0.025])])
def test_time_dependent_coefficient_and_data_implicit(scheme, expected, dts):
    # quadratic in x: the 2nd-order stencils and closures are exact, the error is the time error alone.  The
    # Dirichlet row holds g(t + dt) itself, so backward Euler's error is the interior's, whose O(dt) term takes
    # over below dt = 0.02 (local orders 1.49, 1.35, 1.22, 1.13, 1.07 from dt = 0.1 on)
    problem = symop.parse(TIME_DEPENDENT)
    errs = [symop.solve(problem, "fd", n=8, scheme=scheme, dt=dt).errors()["u"]["max"] for dt in dts]
    assert float(np.polyfit(np.log(dts), np.log(errs), 1)[0]) == pytest.approx(expected, abs=0.15)
