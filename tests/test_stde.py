"""Taylor-mode jets and stochastic Taylor derivative estimators against exact derivatives."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import torch

from symop.nn import AUTOGRAD, MLP, Evaluation, Layout, stde
from symop.nn.taylor import generic_jet


@pytest.fixture(autouse=True)
def float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def net(d, width=32, depth=3, seed=0, activation="tanh", fourier=0):
    torch.manual_seed(seed)
    return MLP(d, 1, width, depth, activation, fourier)


def exact_eval(model, x, dim=None):
    X = x.clone().requires_grad_(True)
    return Evaluation(AUTOGRAD, model, X, Layout(dim or x.shape[1], {}, {"u": 0}), create_graph=False)


def assert_unbiased(samples: torch.Tensor, exact: torch.Tensor, z: float = 4.0):
    """``samples`` (N, S) single-draw estimates; the mean is within z standard errors of ``exact`` (N,)."""
    n = samples.shape[1]
    mean = samples.mean(1)
    se = samples.std(1) / math.sqrt(n)
    dev = (mean - exact).abs()
    assert torch.all(dev <= z * se + 1e-10), (dev / se).max()
    # and the estimator is not trivially exact: the test has power
    assert float(se.max()) > 0


@pytest.mark.parametrize("activation,fourier", [("tanh", 0), ("sin", 0), ("tanh", 4)])
def test_taylor_jet_matches_nested_jvp(activation, fourier):
    model = net(5, 16, 3, activation=activation, fourier=fourier)
    x, v = torch.randn(4, 5) * 0.5, torch.randn(3, 5)
    a, b = model.jet(x, v, 4), generic_jet(model, x, v, 4, 5)
    for p, q in zip(a, b):
        torch.testing.assert_close(p.expand_as(q), q, rtol=1e-7, atol=1e-7)
    index = torch.tensor([0, 4, 2])
    a, b = model.jet(x, (index, 2.0), 3), generic_jet(model, x, (index, 2.0), 3, 5)
    for p, q in zip(a, b):
        torch.testing.assert_close(p.expand_as(q), q, rtol=1e-8, atol=1e-8)


def test_polarization_coefficients():
    # ∂_i∂_j = (∂²_{e_i+e_j} - ∂²_{e_i-e_j}) / 4 ;  ∂²_i = ∂²_{2e_i} / 4
    assert dict((w, c) for c, w in stde.polarization((0, 1))) == {((0, 1), (1, 1)): sp.Rational(1, 4), ((0, 1), (1, -1)): -sp.Rational(1, 4)}
    assert stde.polarization((2, 2)) == ((sp.Rational(1, 4), ((2, 2),)),)
    assert stde.gaussian_moment_factor(4) == 3
    # with u = exp(s·y): ∂_{idx} u(0) = Π s_i and D^k u(0)[w^k] = (w·s)^k, so the identity is polynomial
    s_ = sp.symbols("s0:3")
    for idx in [(0, 1), (0, 0, 1), (0, 1, 2), (0, 0, 1, 1), (0, 1, 1, 2), (1, 1, 1, 1), (0, 0, 0)]:
        k = len(idx)
        poly = sum(c * sum(wt * s_[i] for i, wt in w) ** k for c, w in stde.polarization(idx))
        assert sp.expand(poly - sp.Mul(*[s_[i] for i in idx])) == 0


def test_polarized_partials_match_autograd():
    model = net(4)
    x = torch.randn(6, 4) * 0.7
    ev = exact_eval(model, x)
    for idx in [(0,), (0, 1), (2, 2), (0, 1, 3), (1, 1, 2), (0, 0, 1, 1), (0, 1, 2, 3), (3, 3, 3, 3)]:
        torch.testing.assert_close(stde.partial(model, x, idx)[:, 0], AUTOGRAD.partial(ev, 0, idx), rtol=1e-7, atol=1e-8)


def test_autograd_engine_matches_sympy():
    xs = sp.symbols("x0:3")
    f = sp.sin(xs[0]) * sp.exp(xs[1] / 2) * xs[2] ** 3 + sp.cos(xs[0] * xs[2])
    fn = sp.lambdify(xs, f, "math")

    def model(X):
        return (torch.sin(X[:, 0]) * torch.exp(X[:, 1] / 2) * X[:, 2] ** 3 + torch.cos(X[:, 0] * X[:, 2]))[:, None]

    pts = np.random.default_rng(0).uniform(-1, 1, (5, 3))
    ev = exact_eval(model, torch.as_tensor(pts))
    for idx in [(0,), (2,), (0, 2), (1, 1), (0, 0, 2), (0, 1, 2, 2), (2, 2, 2, 2)]:
        expr = sp.diff(f, *[xs[i] for i in idx])
        want = np.array([float(expr.subs(dict(zip(xs, p)))) for p in pts])
        np.testing.assert_allclose(AUTOGRAD.partial(ev, 0, idx).detach().numpy(), want, rtol=1e-10, atol=1e-10)
    lap = sum(sp.diff(f, v, 2) for v in xs)
    want = np.array([float(lap.subs(dict(zip(xs, p)))) for p in pts])
    np.testing.assert_allclose(AUTOGRAD.laplacian(ev, 0).detach().numpy(), want, rtol=1e-10)
    bih = sum(sp.diff(f, a, 2, b, 2) for a in xs for b in xs)
    want = np.array([float(bih.subs(dict(zip(xs, p)))) for p in pts])
    np.testing.assert_allclose(AUTOGRAD.biharmonic(ev, 0).detach().numpy(), want, rtol=1e-9)
    assert fn(*pts[0]) == pytest.approx(float(model(torch.as_tensor(pts[:1]))[0, 0]))


@pytest.mark.parametrize("d", [10, 100])
@pytest.mark.parametrize("tangents", ["sparse", "dense"])
def test_laplacian_unbiased(d, tangents):
    model = net(d, 32, 3, seed=1)
    x = torch.randn(3, d) / math.sqrt(d)
    exact = AUTOGRAD.laplacian(exact_eval(model, x), 0).detach()
    g = torch.Generator().manual_seed(0)
    est = stde.laplacian(model, x, d, 2000, tangents, g, per_sample=True)[..., 0].detach()
    assert_unbiased(est, exact)
    # a wrong scaling (no sqrt(d) factor) would be caught
    if tangents == "sparse":
        assert not torch.allclose(est.mean(1) / d, exact, rtol=0.5)


def test_biharmonic_unbiased():
    model = net(3, 32, 3, seed=2)
    x = torch.randn(3, 3) * 0.5
    exact = AUTOGRAD.biharmonic(exact_eval(model, x), 0).detach()
    g = torch.Generator().manual_seed(1)
    est = stde.biharmonic(model, x, 3, 20000, g, per_sample=True)[..., 0].detach()
    assert_unbiased(est, exact)


def test_mixed_partial_from_random_pairs_unbiased():
    """∑_{i<j} ∂_i∂_j u estimated by random pairs (i, j) with polarized jets along e_i ± e_j."""
    d = 6
    model = net(d, 32, 3, seed=3)
    x = torch.randn(3, d) * 0.5
    ev = exact_eval(model, x)
    pairs = [(i, j) for i in range(d) for j in range(i + 1, d)]
    exact = sum(AUTOGRAD.partial(ev, 0, p) for p in pairs).detach()
    g = torch.Generator().manual_seed(2)
    S = 4000
    draw = torch.randint(0, len(pairs), (S,), generator=g)
    P = torch.tensor(pairs)[draw]  # (S, 2)
    E = torch.eye(d)
    V = torch.cat([E[P[:, 0]] + E[P[:, 1]], E[P[:, 0]] - E[P[:, 1]]])  # jets along e_i ± e_j
    f2 = model.jet(x, V, 2)[2][..., 0]
    c = [float(c) for c, _ in stde.polarization((0, 1))]  # (-1/4 for e_i - e_j, 1/4 for e_i + e_j)
    per = (c[1] * f2[:, :S] + c[0] * f2[:, S:]).detach() * len(pairs)
    assert_unbiased(per, exact)


@pytest.mark.parametrize("tangents", ["sparse", "dense"])
def test_variable_coefficient_unbiased(tangents):
    d = 8
    model = net(d, 32, 3, seed=4)
    x = torch.randn(3, d) * 0.5

    def a(X):
        return 1 + X**2 + 0.5 * torch.sin(torch.arange(X.shape[1], dtype=X.dtype))

    ev = exact_eval(model, x)
    exact = sum(a(x)[:, i] * AUTOGRAD.partial(ev, 0, (i, i)) for i in range(d)).detach()
    g = torch.Generator().manual_seed(3)
    est = stde.laplacian(model, x, d, 4000, tangents, g, weights=a, per_sample=True)[..., 0].detach()
    assert_unbiased(est, exact)


def test_time_column_is_not_in_the_laplacian():
    d = 4
    model = net(d + 1, 16, 2, seed=5)
    x = torch.randn(3, d + 1) * 0.5
    exact = AUTOGRAD.laplacian(exact_eval(model, x, dim=d), 0).detach()
    g = torch.Generator().manual_seed(4)
    est = stde.laplacian(model, x, d, 4000, "dense", g, per_sample=True)[..., 0].detach()
    assert_unbiased(est, exact)


def test_collapsed_jet_is_the_sum_of_second_coefficients():
    from symop.nn.taylor import mlp_jet2_sum

    for fourier in (0, 3):
        model = net(6, 16, 3, seed=6, fourier=fourier)
        x = torch.randn(5, 6) * 0.5
        for dirs in [(torch.tensor([0, 5, 2]), 2.5), torch.randn(4, 6), torch.randn(5, 4, 6)]:
            full, col = model.jet(x, dirs, 2), mlp_jet2_sum(model, x, dirs)
            torch.testing.assert_close(col[0], full[0][:, 0])
            torch.testing.assert_close(col[1], full[1])
            torch.testing.assert_close(col[2], full[2].sum(1))


def constrained(d=5, lift=True):
    from symop_pinn.constraint import Constrained

    inner = net(d + 1, 16, 2, seed=7)  # one time column
    g = (lambda X: X[:, :1] ** 2 * X[:, 1:2] + X[:, d:d + 1]) if lift else None
    return Constrained(inner, 3.0, d, center=torch.full((d,), 0.1), radius=1.5, mask=[1.0], lift=g)


def test_hard_constraint_holds_on_the_sphere_and_its_jets_are_exact():
    d = 5
    model = constrained(d)
    y = torch.randn(7, d)
    sphere = 0.1 + 1.5 * y / y.norm(dim=1, keepdim=True)
    X = torch.cat([sphere, torch.rand(7, 1)], dim=1)
    torch.testing.assert_close(model(X), X[:, :1] ** 2 * X[:, 1:2] + X[:, d:d + 1])
    x = torch.randn(4, d + 1) * 0.4
    V = torch.randn(3, d + 1)
    for a, b in zip(model.jet(x, V, 4), generic_jet(model, x, V, 4, d + 1)):
        torch.testing.assert_close(a.expand_as(b), b)
    sparse = (torch.tensor([0, 3, 4]), 2.0)
    a, b = model.jet2_sum(x, sparse), generic_jet(model, x, sparse, 2, d + 1)
    torch.testing.assert_close(a[2], b[2].sum(1))


@pytest.mark.parametrize("tangents", ["sparse", "dense"])
def test_hard_constraint_laplacian_unbiased(tangents):
    """The Rao-Blackwellised Laplacian of u = G + φ s N: the mean over draws matches autograd."""
    d = 5
    model = constrained(d, lift=False)
    x = torch.randn(4, d + 1) * 0.4
    exact = AUTOGRAD.laplacian(exact_eval(model, x, dim=d), 0).detach()
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        draws = torch.stack([stde.laplacian(model, x, d, 2, tangents, g)[:, 0] for _ in range(800)], dim=1)
    assert_unbiased(draws, exact)


def test_mixed_partial_estimator_unbiased():
    """stde.mixed: Σ c_ij ∂_i∂_j u over pairs with mixed signs (and a diagonal pair), against autograd."""
    d = 6
    model = net(d, 32, 3, seed=8)
    x = torch.randn(3, d) * 0.5
    ev = exact_eval(model, x)
    pairs = [(i, j) for i in range(d) for j in range(i + 1, d)] + [(2, 2)]
    c = torch.linspace(-1.0, 2.0, len(pairs))
    exact = sum(float(cp) * AUTOGRAD.partial(ev, 0, p) for cp, p in zip(c, pairs)).detach()
    g = torch.Generator().manual_seed(6)
    est = stde.mixed(model, x, pairs, c, 4000, g, per_sample=True)[..., 0].detach()
    assert_unbiased(est, exact)
    # the test has the power to see a wrong factor (1/2 instead of 1/4 would double the estimate)
    se = est.std(1) / math.sqrt(est.shape[1])
    assert float((exact.abs() / se).max()) > 8


@pytest.mark.parametrize("fourier", [0, 4])
def test_radial_derivative_rides_in_the_collapsed_jet(fourier):
    """jet2_sum(..., center): (x - c)·∇f over the first dim inputs, from the value's first layer, is the jet along x - c."""
    d = 5
    torch.manual_seed(3)
    model = MLP(d + 1, 2, 16, 2, "tanh", fourier, shift=torch.randn(d + 1) * 0.1, scale=torch.rand(d + 1) + 0.5)
    x = torch.randn(6, d + 1) * 0.4
    c = torch.full((d,), 0.2)
    offset = torch.cat([x[:, :d] - c, torch.zeros(6, 1)], dim=1)
    f0, f1, f2, radial = model.jet2_sum(x, (torch.tensor([0, 2, 4]), 2.0), center=c, dim=d)
    torch.testing.assert_close(radial, model.jet(x, offset[:, None, :], 1)[1][:, 0])
    torch.testing.assert_close(f0, model(x))


def test_laplacian_and_value_agree_with_the_separate_evaluations():
    d = 5
    model = constrained(d)
    x = torch.randn(4, d + 1) * 0.4
    lap, u = stde.laplacian_and_value(model, x, d, 3, "sparse", torch.Generator().manual_seed(2))
    torch.testing.assert_close(u, model(x))
    torch.testing.assert_close(lap, stde.laplacian(model, x, d, 3, "sparse", torch.Generator().manual_seed(2)))


#: Poisson in named coordinates (x, y): the example the README runs
NAMED = Path(__file__).resolve().parent.parent / "examples" / "poisson.pde"

INDEXED = """problem indexed "Poisson in indexed coordinates"
param d = 3
space x[1..d]
domain ball(dim: d, radius: 1)
field u
equation -lap(u) = -2*d
boundary all: u = sum(i, 1, d, x[i]^2)
exact u = sum(i, 1, d, x[i]^2)
"""


def test_sampling_options_are_refused_where_stde_samples_nothing(tmp_path):
    """A Laplacian in named coordinates is expanded into exact second derivatives: STDE's samples, tangents and
    product loss would change nothing there and are refused (pinn and insr); over indexed coordinates the
    Laplacian is sampled and they act."""
    import symop
    from symop.errors import OptionError

    small = dict(method="pinn", estimator="stde", steps=1, width=6, depth=1, points=16, boundary_points=8,
                 eval_points=10)
    named = symop.load(NAMED)
    for option in (dict(samples=4), dict(tangents="dense"), dict(loss="product")):
        name = next(iter(option))
        with pytest.raises(OptionError, match=f"`{name}` acts only where STDE samples a Laplacian, and `poisson` "
                                              f"has none to sample.*leave {name} out"):
            symop.solve(named, **small, **option)
    symop.solve(named, **small)  # stde itself stays allowed: its polarized partials are exact
    indexed = symop.parse(INDEXED)
    one = symop.solve(indexed, **small, samples=1).info["history"]
    many = symop.solve(indexed, **small, samples=8).info["history"]
    assert one != many  # the samples act where a Laplacian is sampled
    heat = symop.parse(NAMED.read_text().replace("space x, y", "space x, y\ntime t in [0, 1]")
                       .replace("-lap(u) = 2*pi^2*sin(pi*x)*sin(pi*y)", "dt(u) = lap(u)")
                       .replace("exact u = sin(pi*x)*sin(pi*y)", "initial u = sin(pi*x)*sin(pi*y)")
                       .replace("solve fd(n: 64)", ""))
    with pytest.raises(OptionError, match="`samples` acts only where STDE samples a Laplacian"):
        symop.solve(heat, method="insr", estimator="stde", samples=3, dt=0.5, iterations=1, initial_iterations=1,
                    width=4, depth=1, points=8, boundary_points=4)
