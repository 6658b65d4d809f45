"""The growth monitor of the time loop: numerical growth stops early, real growth runs on."""

from __future__ import annotations

import math
import re

import pytest
import torch

from symop.errors import SolveError
from symop.integrate import ExplicitRK, integrate
from symop.integrate.monitor import GrowthMonitor

DT = torch.float64


def laplacian(n: int) -> torch.Tensor:
    """The Dirichlet second difference on n interior nodes of [0, 1], h = 1/(n + 1)."""
    h = 1.0 / (n + 1)
    main = -2.0 * torch.ones(n, dtype=DT)
    off = torch.ones(n - 1, dtype=DT)
    return (torch.diag(main) + torch.diag(off, 1) + torch.diag(off, -1)) / h**2


def test_unstable_euler_stops_long_before_the_blow_up_guard():
    # heat equation, forward Euler at dt = 4x its stability limit h^2/2
    A = laplacian(31)
    x = torch.linspace(0, 1, 33, dtype=DT)[1:-1]
    u0 = torch.sin(math.pi * x) + 1e-6 * torch.randn(31, dtype=DT, generator=torch.Generator().manual_seed(0))
    dt = 4 * 0.5 / 32**2
    seen: list[float] = []
    stepper = ExplicitRK(lambda t, u: A @ u, "euler")
    with pytest.raises(SolveError) as info:
        integrate(stepper, u0, 0.0, 1.0, dt, progress=lambda k, n, t: seen.append(t))
    msg = str(info.value)
    assert "at step" in msg and "(t = " in msg and "smaller dt" in msg and "implicit scheme" in msg
    assert len(seen) < 40  # of 256 steps: stopped at the first decade of growth
    reached = float(re.search(r"grew from max \|u\| = 1 to (\S+) at step", msg).group(1))
    assert 10 <= reached < 1e3  # stopped at the first decades of growth, not at 1e12


def test_the_monitor_names_the_step_and_the_time():
    A = laplacian(31)
    u0 = torch.ones(31, dtype=DT)
    stepper = ExplicitRK(lambda t, u: A @ u, "euler")
    monitor = GrowthMonitor(stepper, 0.01)
    monitor.start(u0)
    u = u0
    with pytest.raises(SolveError) as info:
        for k in range(1, 50):
            u = stepper.step(0.0, u, 0.01)
            monitor.observe(k, 0.01 * k, u)
    step, time, size = monitor.history[-1]
    assert f"at step {step} (t = {time:g})" in str(info.value) and size >= 10


@pytest.mark.parametrize("scheme", ["euler", "heun", "rk4"])
def test_real_exponential_growth_is_not_stopped(scheme):
    # u' = 10 u on [0, 1] grows by e^10 = 2.2e4; with dt = 0.05 every scheme follows it
    stepper = ExplicitRK(lambda t, u: 10.0 * u, scheme)
    traj = integrate(stepper, torch.ones(4, dtype=DT), 0.0, 1.0, 0.05)
    assert float(traj.final[0]) > 1e3


def test_growth_from_rest_is_not_stopped():
    # u' = 4 t^3 from u = 0: u = t^4 grows without bound relative to its start
    stepper = ExplicitRK(lambda t, u: 4.0 * t**3 * torch.ones_like(u), "rk4")
    traj = integrate(stepper, torch.zeros(3, dtype=DT), 0.0, 10.0, 0.01)
    assert abs(float(traj.final[0]) - 1e4) < 1e-6


def test_monitor_can_be_turned_off():
    A = laplacian(15)
    stepper = ExplicitRK(lambda t, u: A @ u, "euler")
    with pytest.raises(SolveError) as info:
        integrate(stepper, torch.ones(15, dtype=DT), 0.0, 1.0, 0.01, monitor=False)
    assert "exceeded |u| = 1e+12" in str(info.value)


def test_probes_are_bounded_for_a_run_from_a_tiny_state():
    # u' = u from 1e-200: each decade of real growth would cost a probe; at most max_probes are made
    stepper = ExplicitRK(lambda t, u: u, "rk4")
    calls = []

    class Counting(ExplicitRK):
        def step(self, t, u, dt):
            calls.append(dt)
            return stepper.step(t, u, dt)

    monitor = GrowthMonitor(Counting(lambda t, u: u, "rk4"), 0.01, max_probes=3)
    monitor.start(torch.full((2,), 1e-200, dtype=DT))
    u = torch.full((2,), 1e-200, dtype=DT)
    for k in range(1, 2001):
        u = stepper.step(0.0, u, 0.01)
        monitor.observe(k, 0.01 * k, u)
    assert monitor.probes == 3 and len(calls) == 3 * 7
