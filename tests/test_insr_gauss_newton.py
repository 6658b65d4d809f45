"""Gauss–Newton fits of insr's steps: the linearisation of a step's loss, and engd against adam.

The step loss ``mean(r_step²) + Σ_b w_b mean(r_b²)`` must equal ``|r|²`` of the
stacked weighted residual its ``linearise`` hands over, and the Jacobian must
be autograd's row by row, for schemes whose residual is the new network's value
(explicit Euler) and for those that differentiate it (backward Euler, the
implicit midpoint rule), with a Robin condition and a boundary weight that is
not 1.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import symop
from symop.errors import OptionError

from insr_steps import program as insr_program
from insr_steps import step_loss as insr_step_loss

TEXT = ("space x\ntime t in [0, 1]\ndomain interval(x: [0, 1])\nfield u\nequation dt(u) = d(u, x, 2) - u^3/2\n"
        "boundary left: u = 0\nboundary right: dx(u) + 2*u = -pi*exp(-pi^2*t)\ninitial u = sin(pi*x)\n")


def program(text: str = TEXT, **options):
    return insr_program(text, **options)


def step_loss(scheme: str):
    """The loss object of one ``scheme`` step from a perturbed state, its fitter and its points."""
    return insr_step_loss(TEXT, scheme, boundary_points=3)


def reference_rows(loss, fitter, points) -> tuple[torch.Tensor, torch.Tensor]:
    """The weighted residuals and their Jacobian, one autograd pass per row (the reference)."""
    physics = fitter.physics
    params = list(fitter.live.parameters())
    r = loss.residual(points).reshape(-1)
    parts = [r / r.numel() ** 0.5]
    for term, (Xb, n) in zip(physics.boundary_terms, points.boundary):
        rb = physics.loss.residual(fitter.live, term, physics.with_time(Xb, loss.time), n).reshape(-1)
        parts.append(rb * (term.weight / Xb.shape[0]) ** 0.5)
    R = torch.cat(parts)
    J = torch.stack([torch.cat([g.reshape(-1) for g in torch.autograd.grad(R[i], params, retain_graph=True)])
                     for i in range(R.shape[0])])
    return R.detach(), J


@pytest.mark.parametrize("scheme", ["euler", "backward-euler", "midpoint"])
def test_a_steps_linearisation_is_its_loss_and_autograds_jacobian(scheme):
    loss, fitter, points = step_loss(scheme)
    lin = loss.linearise(points)
    total = sum(float(v.detach()) for v in loss(points).values())
    assert [name for name, _ in lin.terms][0] == "step" and len(lin.terms) == 3
    assert float((lin.residual ** 2).sum()) == pytest.approx(total, rel=1e-12)
    R, J = reference_rows(loss, fitter, points)
    assert lin.jacobian.shape == J.shape == (10 + 2 * 3, sum(p.numel() for p in fitter.live.parameters()))
    torch.testing.assert_close(lin.residual, R, rtol=0, atol=1e-14)
    torch.testing.assert_close(lin.jacobian, J, rtol=0, atol=1e-12)


def test_the_generic_jacobian_agrees_with_the_pointwise_one():
    from symop.nn.jacobian import batched_jacobian, pointwise_jacobian

    loss, fitter, points = step_loss("backward-euler")
    rows = loss.live_rows
    loss.live_rows = None  # the fallback: batched reverse mode through the evaluated residual
    generic = loss.linearise(points)
    loss.live_rows = rows
    torch.testing.assert_close(generic.jacobian, loss.linearise(points).jacobian, rtol=0, atol=1e-12)
    net = fitter.live
    X = points.X.detach()
    values, J = pointwise_jacobian(lambda f, x: f(x), net, X)
    torch.testing.assert_close(J.reshape(X.shape[0], -1), batched_jacobian(net(X), list(net.parameters())))
    torch.testing.assert_close(values, net(X).detach())


def test_engd_fits_a_step_far_below_adam_in_the_same_iterations():
    text = TEXT.replace(" - u^3/2", "")
    losses = {}
    for optimizer in ("engd", "adam"):
        s = symop.solve(symop.parse(text), "insr", progress=False, scheme="backward-euler", dt=0.5, iterations=3,
                        initial_iterations=8, optimizer=optimizer, width=8, depth=1, points=32, boundary_points=4,
                        dtype="float64")
        losses[optimizer] = s.info["step_losses"]
        assert all(np.isfinite(v).all() for v in s.fields.values())
    assert all(e < 0.05 * a for e, a in zip(losses["engd"], losses["adam"])) and losses["engd"][-1] < 1e-2, losses


def test_kfac_is_refused_only_with_fourier_features_and_engd_is_not():
    with pytest.raises(OptionError, match="kfac.*Fourier features.*use engd"):
        program(optimizer="kfac", fourier=4)
    program(optimizer="kfac")
    program(optimizer="engd", fourier=4)
