"""kfac for insr's per-step fits: Taylor-mode jets through the encoding and the hard-Dirichlet transform, the
copies of a step's rows, the Kronecker factors against the exact Gauss–Newton matrix, and runs.

The reference for every Jacobian is the step loss's own ``linearise`` (engd's,
point by point through ``torch.func``), which ``test_insr_gauss_newton`` checks
against autograd row by row.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import symop
from symop.errors import OptionError
from symop.plugins import discretizations

from insr_steps import program, step_loss

#: heat with a cubic reaction, a Dirichlet and a Robin side (exact solution exp(-pi^2 t) sin(pi x) without the cubic)
HEAT = ("space x\ntime t in [0, 1]\ndomain interval(x: [0, 1])\nfield u\nequation dt(u) = d(u, x, 2) - u^3/2\n"
        "boundary left: u = 0\nboundary right: dx(u) + 2*u = -pi*exp(-pi^2*t)\ninitial u = sin(pi*x)\n")
#: periodic in x (encoded on the circle), nonlinear advection, a source of x, Dirichlet and Robin sides
PERIODIC = ("space x, y\ntime t in [0, 1]\ndomain box(x: [0, 1], y: [0, 2])\nfield u\n"
            "equation dt(u) = lap(u) + dx(u)*u - u^3/2 + sin(x)\nboundary periodic(x)\nboundary bottom: u = 0\n"
            "boundary top: dn(u) + u = 1\ninitial u = sin(2*pi*x)*y\n")
#: time-dependent Dirichlet data on three sides of a box (hard: u = G + phi N), a Robin side
HARD = ("space x, y\ntime t in [0, 1]\ndomain box(x: [0, 1], y: [0, 2])\nfield u\n"
        "equation dt(u) = lap(u) + dy(u) - u^3/2\nboundary left, right, bottom: u = y*t + 1\n"
        "boundary top: dn(u) + u = 1\ninitial u = 1\n")
#: second order in time: two components per point (u and its rate)
WAVE = ("space x\ntime t in [0, 1]\ndomain interval(x: [0, 1])\nfield u\nequation dt(u, 2) = d(u, x, 2) - u^3\n"
        "boundary all: u = 0\ninitial u = sin(pi*x)\ninitial dt(u) = 0\n")
#: Dirichlet data only, periodic in x: every row of an explicit step is a value
VALUES = ("space x, y\ntime t in [0, 1]\ndomain box(x: [0, 1], y: [0, 2])\nfield u\n"
          "equation dt(u) = lap(u) - u^3\nboundary periodic(x)\nboundary bottom, top: u = y\n"
          "initial u = sin(2*pi*x) + y\n")




# ------------------------------------------------------------------ jets
def test_the_encoded_and_hard_networks_jets_are_forward_modes(one_thread):
    """Taylor mode through the encoding (a periodic axis is a curve: coefficients of every order) and the product
    rule of u = G + phi N agree with nested forward mode, for shared, per-point and sparse directions."""
    from symop.nn.taylor import dense_directions, generic_jet
    from symop_insr.hard import HardDirichlet
    from symop_insr.network import SpatialNet

    torch.manual_seed(0)
    X = torch.rand(5, 3, dtype=torch.float64)
    directions = (torch.randn(3, 3, dtype=torch.float64), torch.randn(5, 2, 3, dtype=torch.float64),
                  (torch.tensor([0, 1, 2]), torch.full((3,), 1.5, dtype=torch.float64)))
    lift = [lambda Xt: torch.sin(Xt[:, :1]) * Xt[:, 1:2] ** 2 + Xt[:, 2:3], None]
    nets = [SpatialNet(2, 2, [0, -1], [1, 2], periodic, 6, 2, "tanh", fourier, 1.0, 1.7).double()
            for periodic in ((1,), (0, 1)) for fourier in (0, 3)]
    for ball in (None, ([0.5, 1.0], 1.0)):
        inner = SpatialNet(2, 2, [0, -1], [1, 2], (), 6, 2, "tanh", 0, 1.0, 1.7)
        hard = HardDirichlet(inner, 2, 2, [[(0, 0.0, 1.0), (1, 2.0, -0.5)], []], lift, [1.0, 0.0], ball).double()
        hard.time.fill_(0.3)
        nets.append(hard)
    for net in nets:
        for k, v in enumerate(directions):
            V = dense_directions(v, 3, torch.float64, "cpu")
            for order in (1, 2, 3) if k == 0 else (2,):
                for ours, reference in zip(net.jet(X, v, order), generic_jet(net, X, V, order, 3)):
                    torch.testing.assert_close(ours, reference, rtol=1e-10, atol=1e-10)
            f0, f1, f2 = net.jet2_sum(X, v)
            reference = generic_jet(net, X, V, 2, 3)
            torch.testing.assert_close(f0, reference[0][:, 0])
            torch.testing.assert_close(f1, reference[1])
            torch.testing.assert_close(f2, reference[2].sum(1), rtol=1e-10, atol=1e-10)


# ------------------------------------------------------------------ copies and factors
CASES = [(HEAT, "backward-euler", {}), (HEAT, "midpoint", {"estimator": "stde"}), (PERIODIC, "midpoint", {}),
         (PERIODIC, "crank-nicolson", {}), (HARD, "backward-euler", {"hard": True}), (HARD, "euler", {"hard": True}),
         (WAVE, "midpoint", {})]


@pytest.mark.parametrize("text,scheme,options", CASES,
                         ids=["heat", "heat-stde", "periodic", "periodic-cn", "hard", "hard-euler", "wave"])
def test_the_copies_of_a_step_rebuild_its_jacobian(text, scheme, options, one_thread):
    """The Jacobian rebuilt from the recorded copies, J_m = sum_s g_{m,s} a_{m,s}^T, is the step's exact one; the
    factors' gradient J^T r and products J v come from the same copies."""
    from symop.nn.kfac import terms_jacobian

    loss, fitter, points = step_loss(text, scheme, **options)
    lin = loss.linearise(points)
    r, J, counts = terms_jacobian(fitter.model, loss.row_terms(points), fitter.physics.dim)
    assert counts == lin.terms
    torch.testing.assert_close(r, lin.residual, rtol=0, atol=1e-13)
    torch.testing.assert_close(J, lin.jacobian, rtol=0, atol=1e-12)
    factors = loss.kronecker(points)
    torch.testing.assert_close(factors.gradient, J.T @ r, rtol=0, atol=1e-12)
    v = torch.randn(J.shape[1], dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(factors.jvp(v), J @ v, rtol=0, atol=1e-12)


@pytest.mark.parametrize("scheme", ["initial", "euler"])
def test_kfac_factors_of_value_rows_are_the_gauss_newton_matrix_of_a_one_layer_network(scheme):
    """One linear layer behind the encoding (a periodic axis on the circle) and an output scale: every row of an
    explicit step, or of the fit to the initial data, and of a Dirichlet term is one copy of the layer's input with
    the same output gradient, so B ⊗ A is each group's block J^T J exactly."""
    from symop_insr.steps import StepLoss, value_rows

    loss, fitter, points = step_loss(VALUES, "euler", depth=0, output_scale=2.0)
    if scheme == "initial":
        physics, model = fitter.physics, fitter.model
        loss = StepLoss(fitter, 0.0, lambda p: model(p.X) - physics.initial(p.X), value_rows)
    lin = loss.linearise(points)
    factors = loss.kronecker(points)
    assert len(factors.A["interior"]) == 1 and sorted(factors.A) == ["boundary", "interior"]
    start, blocks = 0, {"interior": 0, "boundary": 0}
    for name, rows in lin.terms:
        J = lin.jacobian[start:start + rows]
        start += rows
        blocks["interior" if name == "step" else "boundary"] += J.T @ J
    for group, block in blocks.items():
        A, B = factors.A[group][0], factors.B[group][0]
        torch.testing.assert_close(torch.kron(B, A), block, rtol=0, atol=1e-13)


def test_kfac_factors_of_a_one_layer_implicit_step_are_its_copies_second_moments():
    """Backward Euler on one linear layer behind the encoding: kfac's interior pair is A = the mean over points of
    the sum of a a^T over the layer's input copies, B = the sum of the squared output gradients. The copies, by
    hand: the value (with the bias) and, for each d(u, x_i, 2) = D^2 u[2 e_i, 2 e_i] / 4 (stde's polarization),
    the first coefficient along 2 e_i (which the second derivative of a linear layer does not use) and the second
    one, which is zero, and not a copy, along the affine axis y."""
    from symop_insr.network import SpatialNet

    loss, fitter, points = step_loss(VALUES, "backward-euler", depth=0)
    net = fitter.live
    assert isinstance(net, SpatialNet) and not list(net.mlp.hidden)
    X = points.X.detach()
    n, dt = X.shape[0], 0.05
    zero, one = torch.zeros(n, 1, dtype=X.dtype), torch.ones(n, 1, dtype=X.dtype)
    copies = []
    for i in range(2):
        h0, h, _ = net._input_jet(X, 2 * torch.eye(X.shape[1], dtype=X.dtype)[i:i + 1], 2)
        copies += [torch.cat([h[0][:, 0], zero], 1)] + ([torch.cat([h[1][:, 0], zero], 1)] if i == 0 else [])
        assert (h[1] is None) == (i == 1)
    copies.append(torch.cat([h0, one], 1))
    A = sum(a.T @ a for a in copies) / n
    # rows (v - dt (lap v - v^3))/sqrt(N): dr/dz = (1 + 3 dt v^2)/sqrt(N) for the value, -dt/(4 sqrt(N)) for a
    # second coefficient
    v = net(X).detach()[:, 0]
    B = (((1 + 3 * dt * v ** 2) ** 2).sum() / n + (dt / 4) ** 2).reshape(1, 1)
    factors = loss.kronecker(points)
    torch.testing.assert_close(factors.A["interior"][0], A, rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(factors.B["interior"][0], B, rtol=1e-12, atol=0)


# ------------------------------------------------------------------ runs
def _heat(optimizer: str, **options):
    text = HEAT.replace(" - u^3/2", "")
    settings = dict(scheme="backward-euler", dt=0.25, iterations=8, initial_iterations=40, width=8, depth=1,
                    points=32, boundary_points=4, dtype="float64", eval_points=64)
    s = symop.solve(symop.parse(text), "insr", progress=False, optimizer=optimizer, **{**settings, **options})
    x = s.geometry.points[:, 0]
    exact = np.exp(-np.pi ** 2) * np.sin(np.pi * x)
    return s, float(np.abs(s.fields["u"] - exact).max())


def test_kfac_fits_insr_steps_below_adam_near_engd_and_resumes_from_its_checkpoints(tmp_path, one_thread):
    """Four backward-Euler steps of 1D heat (dt = 0.25; the scheme's own error at t = 1 is about 0.026, which engd
    reaches): kfac's fits end far below one kfac iteration's and adam's at the same iterations, its error is near
    engd's, and a run resumed from its checkpoints ends where the whole run did."""
    folder = tmp_path / "steps"
    kfac, error = _heat("kfac", checkpoint=str(folder))
    few, _ = _heat("kfac", iterations=1, initial_iterations=5)
    adam, adam_error = _heat("adam", lr=1e-2)
    _, engd_error = _heat("engd")
    losses = kfac.info["step_losses"]
    assert all(np.isfinite(losses)) and len(losses) == 5
    assert all(a < 0.25 * b for a, b in zip(losses, few.info["step_losses"])), (losses, few.info["step_losses"])
    assert sum(losses) < 0.2 * sum(adam.info["step_losses"]), (losses, adam.info["step_losses"])
    assert error < adam_error / 2 and error < 1.5 * engd_error, (error, adam_error, engd_error)
    for k in (3, 4):  # interrupted after step 2: the resumed run ends where the whole one did
        (folder / f"step{k:06d}.pt").unlink()
    again, _ = _heat("kfac", checkpoint=str(folder))
    np.testing.assert_allclose(again.fields["u"], kfac.fields["u"], rtol=0, atol=1e-12)
    assert again.info["step_losses"] == losses


def test_kfac_takes_every_insr_network_but_fourier_features():
    program(HEAT, optimizer="kfac")
    program(HEAT, optimizer="kfac", hard=True)
    with pytest.raises(OptionError, match="kfac takes its Kronecker factors from the layers of an MLP without "
                                          "Fourier features.*fourier at 0, or use engd"):
        program(HEAT, optimizer="kfac", fourier=4)
    with pytest.raises(OptionError, match="kfac inverts damped Kronecker factors and needs damping above 0"):
        program(HEAT, optimizer="kfac", damping=0.0)
    help_text = next(o.help for o in discretizations()["insr"].options if o.name == "optimizer")
    assert "kfac: Gauss-Newton" in help_text and "kfac is refused" not in help_text


@pytest.mark.parametrize("given, words", [
    (dict(optimizer="lbfgs", damping=1e-3), "`damping` acts only with optimizer engd or kfac, and this run has "
                                            "optimizer lbfgs: change optimizer, or leave damping out."),
    (dict(optimizer="engd", lr_decay=0.01), "`lr_decay` acts only with optimizer other than engd and kfac"),
    (dict(optimizer="kfac", lr_decay=0.5), "this run has optimizer kfac"),
    (dict(sigma=2.0), "`sigma` acts only with fourier other than 0"),
    (dict(samples=4), "`samples` acts only with estimator stde"),
])
def test_options_an_optimizer_would_drop_are_refused(given, words):
    """damping only steers engd and kfac, lr_decay only the others, sigma Fourier features, samples STDE: set
    where it would be dropped, insr says so up front."""
    with pytest.raises(OptionError, match=re.escape(words)):
        program(HEAT, **given)
    program(HEAT, optimizer=given.get("optimizer", "lbfgs"))  # the defaults are taken by every optimizer
