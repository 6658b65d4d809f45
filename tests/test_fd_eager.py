"""fd's eager right-hand side (one pass into a [C, *shape] tensor) and the eager loop's thread count."""

from __future__ import annotations

import pytest
import torch

import symop
from symop_fd.eager import EagerRHS, node_stencil
from symop_fd.timestep import EAGER_THREAD_POINTS, eager_threads, initial_state

pytestmark = pytest.mark.usefixtures("one_thread")

SYSTEM = """
problem sys "two fields, closed and periodic sides"
space x, y
time t in [0, 0.01]
domain box(x: [0, 1], y: [0, 2])
boundary periodic(y)
param a = 0.3, k = 2
field u, v
equation dt(u) = a*lap(u) + d(u, x, y) + (1 + x^2)*d(u, x, 2) - u*v^2 + k*(1 - u) + sin(t)
equation dt(v) = 0.5*d(v, y, 2) + 3*d(u, x) + u*v^2 - v + x*v
boundary left: u = sin(y)
boundary right: dn(u) = 1
boundary left, right: dn(v) + 2*v = cos(t)
initial u = cos(y)*(1 + x)
initial v = exp(-x)*sin(y)
"""


@pytest.mark.parametrize("order", [2, 4])
@pytest.mark.parametrize("source", ["system", "heat", "gray_scott", "wave"])
def test_eager_rhs_matches_the_evaluator(source, order):
    """Merged constant-coefficient stencils plus the generated rest equal the node-by-node evaluation."""
    problem = symop.parse(SYSTEM) if source == "system" else symop.load(f"examples/{source}.pde")
    low = symop.lower(problem, "fd", n=12, order=order, scheme="rk4").lowered("cpu")
    U = initial_state(low, 0.0)
    U = U + 0.1 * torch.rand(U.shape, generator=torch.Generator().manual_seed(0), dtype=U.dtype)
    t = low.time_tensor(0.37)
    want = torch.stack(low.rhs(t, U))
    got = EagerRHS(low)(t, U)
    assert got.shape == want.shape
    assert torch.allclose(got, want, rtol=1e-12, atol=1e-10 * float(want.abs().max()))


def test_eager_rhs_merges_the_laplacian_into_one_stencil():
    problem = symop.load("examples/gray_scott.pde")
    low = symop.lower(problem, "fd", n=8, scheme="euler").lowered("cpu")
    fast = EagerRHS(low)
    hx, hy = low.grid.h
    for c, lin in enumerate(fast.linear):
        offsets = {o for (cj, o) in lin if cj == c}
        assert offsets == {(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)}  # five points, the centre once
    assert node_stencil((1, 1), (0.5, 0.25), 2) == {(a, b): a * b / (4 * 0.5 * 0.25)
                                                     for a in (-1, 1) for b in (-1, 1)}


def test_small_eager_runs_take_one_thread_and_restore_the_count():
    problem = symop.load("examples/heat.pde")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        program = symop.lower(problem, "fd", n=16, scheme="euler", compile=False, save=0)
        assert eager_threads(program.lowered("cpu")) == 1
        sol = program.run()
        assert sol.info["threads"] == 1
        assert torch.get_num_threads() == 2
        big = symop.lower(problem, "fd", n=int(EAGER_THREAD_POINTS**0.5), scheme="euler", compile=False)
        assert eager_threads(big.lowered("cpu")) is None  # large grids keep torch's threads
    finally:
        torch.set_num_threads(before)
