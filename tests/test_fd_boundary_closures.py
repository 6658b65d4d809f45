"""fd's side closures: a stable order-4 Dirichlet closure for waves, and the sides fd refuses to close."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import symop
from symop.errors import SymopError
from symop.plugins import get_discretization

pytestmark = pytest.mark.usefixtures("one_thread")


def _dirichlet_laplacian(n: int, order: int) -> np.ndarray:
    """The 1-D d^2/dx^2 fd builds with Dirichlet sides, on the nodes that are not Dirichlet nodes."""
    from symop_fd.lowering import Lowered

    problem = symop.parse("problem h\nspace x\ntime t in [0, 1]\ndomain interval(x: [0, 1])\nfield u\n"
                          "equation dt(u) = d(u, x, 2)\nboundary left, right: u = 0\ninitial u = 0\n")
    low = Lowered(problem, n, order, torch.float64, "cpu")
    exprs = [c.rhs for c in low.comps]
    U = torch.zeros((1, *low.shape), dtype=torch.float64)
    J = low.assemble(low.jacobian_parts(exprs), low.time_tensor(0.0), U).toarray()
    keep = ~low.dirichlet_mask.reshape(-1)
    return J[np.ix_(keep, keep)]


@pytest.mark.parametrize("n", [8, 16, 32, 64])
def test_order_4_dirichlet_laplacian_has_a_real_negative_spectrum(n):
    """A ghost extrapolated with degree 6 gave two pairs of complex eigenvalues (-2644 ± 520i at n = 32),
    which a wave turns into growth like exp(0.16 t/h); the degree-5 closure keeps them real and negative."""
    lam = np.linalg.eigvals(_dirichlet_laplacian(n, 4))
    assert np.abs(lam.imag).max() <= 1e-9 * np.abs(lam).max(), lam[np.abs(lam.imag) > 0]
    assert lam.real.max() < 0
    # the lowest mode is -pi^2 to the order of the stencils, and the radius stays within the interior's 16/3 h^-2
    assert lam.real.max() == pytest.approx(-np.pi**2, rel=1e-3 if n >= 16 else 1e-2)
    assert np.abs(lam).max() <= 16 / 3 * n**2


WAVE = """
problem w "wave with Dirichlet sides over two periods"
space x
time t in [0, 4]
domain interval(x: [0, 1])
field u
equation dt(u, 2) = d(u, x, 2)
boundary left, right: u = 0
initial u = sin(pi*x)
initial dt(u) = 0
exact u = cos(pi*t)*sin(pi*x)
"""


def test_order_4_wave_with_dirichlet_sides_converges():
    """Before the fix: rel L2 6.6e-5, 1.5e-3, 13.5 at n = 16, 32, 64, with no message."""
    problem = symop.parse(WAVE)
    errs = [symop.solve(problem, "fd", n=n, order=4).errors()["u"]["rel_l2"] for n in (16, 32, 64)]
    assert errs[-1] < 1e-7, errs
    assert errs[0] / errs[1] > 12 and errs[1] / errs[2] > 12, errs


def test_order_4_wave_written_as_a_first_order_system_stays_bounded():
    """The same closure closes a wave written as u' = v, v' = u_xx (no field second order in time)."""
    problem = symop.parse("problem ws\nspace x\ntime t in [0, 4]\ndomain interval(x: [0, 1])\nfield u, v\n"
                          "equation dt(u) = v\nequation dt(v) = d(u, x, 2)\nboundary left, right: u = 0\n"
                          "boundary left, right: v = 0\ninitial u = sin(pi*x)\ninitial v = 0\n"
                          "exact u = cos(pi*t)*sin(pi*x)\nexact v = -pi*sin(pi*t)*sin(pi*x)\n")
    err = symop.solve(problem, "fd", n=32, order=4, dt=0.01).errors()["u"]["rel_l2"]
    assert err < 1e-5


ADVECTION = """
problem adv
space x
time t in [0, 0.5]
domain interval(x: [0, 1])
field u
exact u = sin(2*pi*(x - t))
equation dt(u) + dx(u) = 0
boundary left: u = exact(u)
initial u = exact(u)
"""


def test_a_side_without_a_condition_is_refused_up_front():
    """fd used to impose dn(u) = 0 on the outflow side that the problem leaves open (rel L2 about 1.4 at any n)."""
    problem = symop.parse(ADVECTION)
    reason = get_discretization("fd").accepts(problem)
    assert reason is not None and "side `right` has none for `u`" in reason
    with pytest.raises(SymopError, match=r"fd needs a condition on every side that is not periodic; side `right` "
                                         r"has none for `u`"):
        symop.solve(problem, "fd", n=16)


def test_sides_that_no_stencil_reads_need_no_condition():
    # periodic: no sides; a transport along x only: the sides in y are never read; an ODE field: no stencils
    periodic = ADVECTION.replace("boundary left: u = exact(u)", "boundary periodic(x)")
    assert symop.solve(symop.parse(periodic), "fd", n=32, order=4, dt=1e-3).errors()["u"]["rel_l2"] < 1e-3
    along_x = ("problem ax\nspace x, y\ntime t in [0, 0.2]\ndomain box(x: [0, 1], y: [0, 1])\nfield u\n"
               "equation dt(u) + dx(u) = 0\nboundary left, right: u = 0\ninitial u = sin(pi*x)*y\n")
    assert get_discretization("fd").accepts(symop.parse(along_x)) is None
    ode = ("problem ode\nspace x\ntime t in [0, 0.2]\ndomain interval(x: [0, 1])\nfield u, w\n"
           "equation dt(u) = d(u, x, 2) - w\nequation dt(w) = u - w\nboundary all: u = 0\n"
           "initial u = sin(pi*x)\ninitial w = 1\n")
    assert get_discretization("fd").accepts(symop.parse(ode)) is None


MIXED = """
problem sys3
space x, y
domain box(x: [0, 1], y: [0, 2])
field u, v
exact u = exp(x)*cos(2*y) + x^3*y
exact v = sin(x + 2*y) + x*y^2
equation -lap(u) + v = -lap(exact(u)) + exact(v)
equation -lap(v) - 2*u = -lap(exact(v)) - 2*exact(u)
boundary left, bottom: u = exact(u)
boundary right: dn(u) - v = dx(exact(u)) - exact(v)
boundary top: u + dn(u) = exact(u) + dy(exact(u))
boundary left: dn(v) = -dx(exact(v))
boundary right, top: v = exact(v)
boundary bottom: 2*v + dn(v) = 2*exact(v) - dy(exact(v))
"""


@pytest.mark.parametrize("method", ["fd", "fem"])
def test_a_condition_that_involves_another_field_is_refused(method):
    """fd crashed (gb() missing the argument v), fem called the linear condition nonlinear."""
    problem = symop.parse(MIXED)
    sentence = (f"the condition on `right` for `u` involves the field `v`; {method} takes conditions on one field "
                "at a time")
    assert sentence in (get_discretization(method).accepts(problem) or "")
    with pytest.raises(SymopError, match=sentence):
        symop.solve(problem, method, n=8)
