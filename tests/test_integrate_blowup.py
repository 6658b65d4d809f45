"""Blow-ups inside a time step: the growth monitor's failed probes and linear solves of overflowed stages end in
the stability sentence, not in an accepted result or a message about a singular matrix."""

from __future__ import annotations

import math

import pytest
import scipy.sparse as sps
import torch

from symop.errors import SolveError
from symop.integrate import (ExplicitRK, NonFiniteStage, SparseLinearPart, Stepper, StrangSplitting, ThetaMethod,
                             integrate)
from symop.integrate.monitor import GrowthMonitor

DT = torch.float64


class Scripted(Stepper):
    """A step of ``dt0 / count`` multiplies the state by ``growth[count] ** (1 / count)``: ``count`` of them grow it by
    ``growth[count]``; a step of a count not listed fails, as an implicit solve of overflowed values did."""

    def __init__(self, dt0: float, growth: dict[int, float]) -> None:
        self.dt0, self.growth = dt0, growth

    def step(self, t, u, dt):
        count = round(self.dt0 / dt)
        if count not in self.growth:
            raise SolveError("the sparse LU solve produced NaN or infinite values")
        return u * self.growth[count] ** (1.0 / count)


def observe(growth: dict[int, float]) -> GrowthMonitor:
    """A monitor of :class:`Scripted` (dt = 0.1) that sees max|u| grow from 1 to 20, which makes it probe."""
    monitor = GrowthMonitor(Scripted(0.1, growth), 0.1)
    monitor.start(torch.ones(3, dtype=DT))
    monitor.observe(5, 0.5, torch.full((3,), 20.0, dtype=DT))
    return monitor


def test_a_probe_that_fails_after_a_blow_up_stops_the_run():
    # one step of dt grows max|u| 2e5-fold, two of dt/2 2e24-fold, four of dt/4 fail (ARS(2,2,2) on Burgers)
    with pytest.raises(SolveError) as info:
        observe({1: 2e5, 2: 2e24})
    msg = str(info.value)
    assert "grows by 2e+05 in one step and by 2e+24 in 2 steps of dt/2, and 4 steps of dt/4 failed (the sparse" in msg
    assert "unstable at this dt" in msg and "smaller dt" in msg


@pytest.mark.parametrize("growth", [{}, {1: 1.5, 2: 1.5}], ids=["nothing measured", "agreeing small factors"])
def test_a_probe_that_fails_without_evidence_of_instability_accepts_the_growth(growth):
    # no factor measured, or factors that agree and stay far below 1e5: the probe cannot tell, as before
    monitor = observe(growth)
    assert monitor.reference == 20.0 and monitor.history  # probed, accepted: the reference moved up


def laplacian(n: int) -> sps.csr_matrix:
    h = 1.0 / (n + 1)
    return sps.diags([1.0, -2.0, 1.0], [-1, 0, 1], shape=(n, n), format="csr") / h**2


@pytest.mark.parametrize("mass", [None, sps.identity(8, format="csr") * 2.0])
def test_a_solve_of_non_finite_values_says_so(mass):
    part = SparseLinearPart(laplacian(8), (8,), mass=mass)
    rhs = torch.ones(8, dtype=DT)
    rhs[3] = math.inf
    with pytest.raises(NonFiniteStage, match="NaN or infinite values: the solution blew up within the time step"):
        part.solve_shifted(0.1, rhs)
    if mass is not None:  # a reaction sub-flow's mass solve (fem's splitting)
        with pytest.raises(NonFiniteStage):
            part.solve_mass(rhs)


def test_a_splitting_whose_explicit_part_overflows_ends_in_the_stability_sentence():
    # u' = L u + u^5 from u = 1000, Strang with dt = 1: rk4's third stage overflows, and the diffusion's next
    # half step solved inf ("the sparse LU solve produced NaN or infinite values; the matrix is singular")
    diffusion = ThetaMethod(SparseLinearPart(laplacian(8), (8,)), theta=0.5)
    stepper = StrangSplitting(diffusion, ExplicitRK(lambda t, u: u**5, "rk4"))
    with pytest.raises(SolveError) as info:
        integrate(stepper, torch.full((8,), 1000.0, dtype=DT), 0.0, 2.0, 1.0, monitor=False)
    msg = str(info.value)
    assert "became NaN or infinite inside a time step at step 1 (t = 1)" in msg
    assert "dt = 1 may exceed the stability limit" in msg and "singular" not in msg
