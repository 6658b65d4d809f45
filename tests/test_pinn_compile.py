"""A high-dimensional STDE loss compiles its generated residuals; the eager fallback says why in one line."""

from __future__ import annotations

import torch

import symop
import symop.nn.loss as loss_module
from symop.nn import MLP, PhysicsLoss, make_engine

SOURCE = """
problem ball5 "a source with sums over the coordinates"
param d = 5
space x[1..d]
domain ball(dim: d, radius: 1)
field u
equation lap(u) + sin(u) = sum(i, 1, d - 1, cos(x[i])*sin(x[i+1])) + sum(i, 1, d - 1, cos(x[i])^2)
boundary all: u = 0
"""


def residuals(monkeypatch, compile_dim: int):
    """The interior residual of the same network and draw, with residuals compiled from ``compile_dim`` dimensions."""
    monkeypatch.delenv("SYMOP_COMPILE", raising=False)
    monkeypatch.setattr(loss_module, "COMPILE_DIM", compile_dim)
    problem = symop.parse(SOURCE)
    loss = PhysicsLoss(problem, make_engine("stde", 4), points=16, boundary_points=8, seed=1)
    torch.manual_seed(0)
    net = MLP(5, 1, 16, 2)
    term = loss.terms[0]
    X, _ = loss.sample(0)[0]
    loss.engine.reseed(3)
    return loss, loss.residual(net, term, X)


def test_a_high_dimensional_stde_residual_is_compiled_and_agrees(monkeypatch):
    eager_loss, eager = residuals(monkeypatch, 10**9)
    assert not getattr(eager_loss, "_compiled_terms", None)
    loss, compiled = residuals(monkeypatch, 2)
    assert len(loss._compiled_terms) == 1
    torch.testing.assert_close(compiled, eager)
    compiled.pow(2).mean().backward()  # the compiled residual is differentiable


def test_without_a_compiler_the_residual_says_why_and_stays_eager(monkeypatch, capsys):
    def broken(fn, *args, **kwargs):
        def fail(*a):
            raise RuntimeError("no C++ compiler found")
        return fail

    monkeypatch.setattr(torch, "compile", broken)
    _, eager = residuals(monkeypatch, 10**9)
    loss, got = residuals(monkeypatch, 2)
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["pinn: evaluating the residual eagerly, since torch.compile is unavailable here "
                   "(RuntimeError: no C++ compiler found)."]
    torch.testing.assert_close(got, eager)


def test_high_dimensional_points_are_drawn_by_torch_uniformly_in_the_ball(monkeypatch):
    """From TORCH_DRAW_DIM dimensions: seeded by (seed, step), in the loss's dtype, uniform in the ball."""
    monkeypatch.setattr(loss_module, "TORCH_DRAW_DIM", 3)
    problem = symop.parse(SOURCE.replace("radius: 1", "radius: 2"))
    loss = PhysicsLoss(problem, make_engine("stde", 4), points=4000, boundary_points=8, seed=1)
    assert loss._torch_draw()
    X = loss.sample(0)[0][0]
    assert X.dtype == torch.float32 and X.shape == (4000, 5)
    torch.testing.assert_close(loss.sample(0)[0][0], X)  # seeded by (seed, step)
    assert not torch.equal(loss.sample(1)[0][0], X)
    r = X.norm(dim=1) / 2
    assert float(r.max()) <= 1.0
    # uniform in the 5-ball: (r/R)^5 is uniform on [0, 1], mean 1/2 (standard error 0.0046 at 4000 points)
    assert abs(float((r**5).mean()) - 0.5) < 0.02
    # and the direction is uniform: every coordinate has mean 0
    assert float(X.mean(0).abs().max()) < 0.1
