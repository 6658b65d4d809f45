"""Loss-based methods checked without training, on the manufactured problems of :mod:`problems`.

For pinn, pino and hypino and every boundary kind each supports, the residual
of every loss term (interior, boundary, initial, periodic) is computed for

* the exact solution ``u*``: it is zero (to rounding in float64);
* ``u* + eps*p`` for a known perturbation ``p``: it equals ``eps`` times the
  perturbation's own residual, value and sign, point by point.  That residual
  is derived here by hand from the catalogue row: the operator applied to
  ``p`` in the interior, ``alpha*p + beta*grad(p).n`` on a side with the
  outward normal written in the catalogue (not asked of the domain), ``p`` at
  ``t = 0``, and ``d^k p`` on one periodic face minus the other.

pinn evaluates its loss terms on a "network" that is the exact expression;
pino its grid residuals on the exact solution sampled on the grid; hypino its
collocation residuals on the exact expression.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch

import symop
from problems import LOSS_PROBLEMS, Manufactured, t, x, y

EPS = 0.25


def perturbation(row: Manufactured, grid_periodic: bool = False) -> sp.Expr:
    """The perturbation ``p`` of a row: quadratic along each grid axis, so grid stencils are exact on it."""
    if row.timed:
        return (1 + x) ** 2 * (1 + t)
    if grid_periodic and row.periodic:  # a grid that wraps around needs a periodic perturbation
        return sp.cos(2 * sp.pi * x) * (1 + y ** 2)
    return (1 + x) ** 2 * (1 + y)


def as_torch(expr: sp.Expr, symbols):
    """``expr`` as a function of one tensor per symbol (SymPy's torch printer is the oracle)."""
    fn = sp.lambdify(symbols, sp.sympify(expr).evalf(), modules="torch")

    def call(*cols: torch.Tensor) -> torch.Tensor:
        out = fn(*cols)
        out = torch.as_tensor(out, dtype=cols[0].dtype)
        return torch.broadcast_to(out, torch.broadcast_shapes(*(c.shape for c in cols)))

    return call


def side_of(row: Manufactured, problem, point: np.ndarray) -> str:
    """The side of the domain box that ``point`` (spatial coordinates) lies on."""
    if len(row.sides) == 1:
        return next(iter(row.sides))
    lo, hi = problem.domain.bounding_box()
    best, where = None, np.inf
    for side, normal in row.sides.items():
        axis = int(np.flatnonzero(normal)[0])
        bound = hi[axis] if normal[axis] > 0 else lo[axis]
        d = abs(point[axis] - bound)
        if d < where:
            best, where = side, d
    assert where < 1e-9, f"{point} is on no side of {row.name}"
    return best


def expected_boundary(row: Manufactured, problem, p: sp.Expr, points: np.ndarray, side: str | None = None
                      ) -> np.ndarray:
    """``alpha*p + beta*grad(p).n`` at boundary ``points`` (first columns space, then time), ``n`` by hand.

    ``side`` names the side of all the points (grid nodes include corners, which
    lie on two); without it each point's side is found from its coordinates.
    """
    space = row.symbols[: problem.dimension]
    values = []
    for z in points:
        n = row.sides[side or side_of(row, problem, z[: problem.dimension])]
        dn = sum(sp.sympify(nk) * sp.diff(p, s) for nk, s in zip(n, space))
        e = row.alpha * p + row.beta * dn
        values.append(float(e.subs(dict(zip(row.symbols, map(float, z))))))
    return np.array(values)


def rows(method: str) -> list:
    supported = {"pinn": ("dirichlet", "neumann", "robin", "periodic"),
                 "pino": ("dirichlet", "neumann", "robin", "periodic"),
                 "hypino": ("dirichlet", "neumann", "robin")}[method]
    return [pytest.param(r, id=r.name) for r in LOSS_PROBLEMS.values()
            if r.kind in supported and (r.grid or method != "pino")]


def close(actual: torch.Tensor, expected, tol: float, what: str) -> None:
    actual = actual.detach().reshape(-1).double().numpy()
    expected = np.broadcast_to(np.asarray(expected, dtype=float).reshape(-1), actual.shape)
    err = float(np.abs(actual - expected).max()) if len(actual) else 0.0
    scale = max(1.0, float(np.abs(expected).max()) if len(expected) else 0.0)
    assert err <= tol * scale, f"{what}: max |residual - expected| = {err:.3g} (scale {scale:.3g})"


# ---------------------------------------------------------------------- pinn
def pinn_residuals(row: Manufactured, u: sp.Expr, estimator: str = "autograd"):
    from symop.nn import PhysicsLoss, make_engine

    problem = symop.parse(row.text)
    loss = PhysicsLoss(problem, make_engine(estimator), points=40, boundary_points=40, dtype=torch.float64, seed=5)
    f = as_torch(u, row.symbols)
    model = lambda X: f(*[X[:, k] for k in range(X.shape[1])])[:, None]  # noqa: E731
    out = []
    for term, (X, n) in zip(loss.terms, loss.sample(0)):
        out.append((term, X, n, loss.residual(model, term, X, n, create_graph=False)))
    return problem, out


@pytest.mark.parametrize("row", rows("pinn"))
def test_pinn_residual_of_the_exact_solution_vanishes(row):
    _, terms = pinn_residuals(row, row.exact)
    kinds = {term.kind for term, *_ in terms}
    assert {"interior", "boundary"} <= kinds and ("initial" in kinds) == row.initial
    assert ("periodic" in kinds) == bool(row.periodic)
    for term, X, _, r in terms:
        close(r, 0.0, 1e-10, f"pinn {term.name}")


@pytest.mark.parametrize("row", rows("pinn"))
def test_pinn_residual_of_a_perturbation_is_its_own_residual(row):
    p = perturbation(row)
    problem, terms = pinn_residuals(row, row.exact + EPS * p)
    for term, X, other, r in terms:
        Z = X.detach().numpy()
        if term.kind == "interior":
            expected = EPS * as_torch(row.operator(p), row.symbols)(*X.T).numpy()
        elif term.kind == "initial":
            expected = EPS * as_torch(p, row.symbols)(*X.T).numpy()
        elif term.kind == "periodic":
            k = int(term.name.rstrip("]").split(":")[-1])
            axis = row.symbols[problem.space.names.index(term.name.split(":")[1])]
            dk = as_torch(sp.diff(p, axis, k) if k else p, row.symbols)
            expected = EPS * (dk(*X.T) - dk(*other.T)).numpy()
        else:
            expected = EPS * expected_boundary(row, problem, p, Z)
        assert np.abs(expected).max() > 1e-3, f"{term.name}: the perturbation does not show in this term"
        close(r, expected, 1e-9, f"pinn {term.name}")


@pytest.mark.parametrize("row", rows("pinn"))
def test_pinn_boundary_terms_with_taylor_mode_match_autograd(row):
    """The stde engine's normal and partial derivatives are exact (Taylor mode): same boundary residuals."""
    u = row.exact + EPS * perturbation(row)
    _, exact = pinn_residuals(row, u)
    _, taylor = pinn_residuals(row, u, "stde")
    compared = 0
    for (term, *_, r), (_, *_, r_stde) in zip(exact, taylor):
        if term.kind != "interior":  # the interior Laplacian is a stochastic estimate
            close(r_stde, r.detach().numpy(), 1e-9, f"pinn stde {term.name}")
            compared += 1
    assert compared


# ---------------------------------------------------------------------- pino
def pino_residuals(row: Manufactured, u: sp.Expr, n: int = 8):
    from symop_pino.grid import build
    from symop_pino.physics import GridPhysics

    problem = symop.parse(row.text)
    grid = build(problem, n)
    physics = GridPhysics(problem, grid, dtype=torch.float64)
    mesh = [torch.as_tensor(m, dtype=torch.float64) for m in grid.mesh()]
    values = as_torch(u, grid.symbols)(*mesh)
    output = values[None, None]  # (B = 1, F = 1, *grid)
    return problem, physics, physics.residuals(output, {})


def pino_tolerance(row: Manufactured) -> float:
    """Polynomial rows are exact on the grid; the periodic row's cosine perturbation is not (O(h^2), n = 32)."""
    return 2e-2 if row.periodic else 1e-9


@pytest.mark.parametrize("row", rows("pino"))
def test_pino_residual_of_the_exact_solution_vanishes(row):
    n = 32 if row.periodic else 8
    _, physics, res = pino_residuals(row, row.exact, n)
    kinds = {term.kind for term in physics.terms}
    assert "boundary" in kinds and ("initial" in kinds) == row.initial
    assert not any(f"u:{side}]" in name for side in ("left", "right") for name in res if row.periodic)
    if row.periodic:  # the sine is not exact on the grid: the equation's residual falls as h^2 (wrapped stencils)
        _, _, coarse = pino_residuals(row, row.exact, n // 2)
        ratio = float(coarse["pde[u]"].abs().max() / res["pde[u]"].abs().max())
        assert 3.5 < ratio < 4.5, ratio
        res = {name: r for name, r in res.items() if name != "pde[u]"}
    for name, r in res.items():
        close(r, 0.0, 1e-9, f"pino {name}")


@pytest.mark.parametrize("row", rows("pino"))
def test_pino_residual_of_a_perturbation_is_its_own_residual(row):
    n = 32 if row.periodic else 8
    p = perturbation(row, grid_periodic=True)
    problem, physics, base = pino_residuals(row, row.exact, n)
    _, _, res = pino_residuals(row, row.exact + EPS * p, n)
    for term in physics.terms:
        coords = [c[..., None] for c in physics.nodes(term.name)]
        r = res[term.name] - base[term.name]  # the grid residual of u* is O(h^2) only on the periodic row
        if term.kind == "equation":
            expected = EPS * as_torch(row.operator(p), row.symbols)(*coords)
        elif term.kind == "initial":
            expected = EPS * as_torch(p, row.symbols)(*coords)
        else:
            Z = np.stack([c.reshape(-1).numpy() for c in coords], axis=1)
            side = term.name.rstrip("]").split(":")[-1]
            assert row.sides[side][term.axis] == term.sign  # the grid's side is the catalogue's
            expected = EPS * expected_boundary(row, problem, p, Z, side)
        expected = np.asarray(expected).reshape(-1)
        assert np.abs(expected).max() > 1e-3, f"{term.name}: the perturbation does not show in this term"
        close(r, expected, pino_tolerance(row), f"pino {term.name}")


# ---------------------------------------------------------------------- hypino
def hypino_residuals(row: Manufactured, u: sp.Expr):
    from symop.nn import AUTOGRAD
    from symop_hypino.encoding import Spec, encode
    from symop_hypino.physics import boundary_residual, interior_residual

    problem = symop.parse(row.text)
    inst = encode(problem, Spec(grid=8, points=40, boundary_points=40), seed=2).to("cpu", torch.float64)
    f = as_torch(u, row.symbols)
    net = lambda Z: f(Z[..., 0], Z[..., 1])  # noqa: E731
    r, _ = interior_residual(AUTOGRAD, net, inst.Z[None], inst.coef[None], inst.f[None])
    rb, _ = boundary_residual(AUTOGRAD, net, inst.Zb[None], inst.nu[None], inst.a[None], inst.b[None], inst.g[None])
    return problem, inst, r[0], rb[0]


#: hypino's instances hold their data in float32
HYPINO_TOL = 2e-6


@pytest.mark.parametrize("row", rows("hypino"))
def test_hypino_residual_of_the_exact_solution_vanishes(row):
    _, inst, r, rb = hypino_residuals(row, row.exact)
    close(r, 0.0, HYPINO_TOL, "hypino interior")
    close(rb, 0.0, HYPINO_TOL, "hypino boundary")
    assert bool((inst.b != 0).any()) == (row.kind != "dirichlet")


@pytest.mark.parametrize("row", rows("hypino"))
def test_hypino_residual_of_a_perturbation_is_its_own_residual(row):
    p = perturbation(row)
    problem, inst, r0, rb0 = hypino_residuals(row, row.exact)
    _, _, r, rb = hypino_residuals(row, row.exact + EPS * p)
    expected = EPS * as_torch(row.operator(p), row.symbols)(*inst.Z.T).numpy()
    close(r - r0, expected, HYPINO_TOL, "hypino interior")
    Zb = inst.Zb.numpy()
    initial = np.isclose(Zb[:, -1], 0.0) & (inst.nu[:, -1].numpy() == 1.0) if row.timed else np.zeros(len(Zb), bool)
    expected_b = np.zeros(len(Zb))
    if initial.any():
        expected_b[initial] = EPS * as_torch(p, row.symbols)(*inst.Zb[initial].T).numpy()
    expected_b[~initial] = EPS * expected_boundary(row, problem, p, Zb[~initial])
    assert np.abs(expected_b[~initial]).max() > 1e-3
    close(rb - rb0, expected_b, HYPINO_TOL, "hypino boundary")
    close(rb, expected_b, HYPINO_TOL, "hypino boundary (absolute)")


def test_hypino_refuses_periodic_problems_with_a_sentence():
    from symop.plugins import get_discretization

    reason = get_discretization("hypino").accepts(symop.parse(LOSS_PROBLEMS["periodic_x"].text))
    assert reason and "periodic" in reason


def test_pino_encodes_dn_data_of_a_family_side_by_side():
    """A random boundary value ``dn(e)`` becomes one input channel per side, grad(e).n there."""
    from symop_pino.encoding import Encoder
    from symop_pino.grid import build

    family = symop.parse("""
problem dn_family
space x, y
domain box(x: [0, 1], y: [0, 2])
param k ~ uniform(1, 2)
field u
equation -lap(u) = 0
boundary left, top: dn(u) = dn(k*x^2*y)
boundary right, bottom: u = 0
""")
    grid = build(family, 4)
    encoder = Encoder(family, grid)
    assert encoder.channels == ["x", "y", "k", "boundary0[u:left]", "boundary0[u:top]"]
    inputs = encoder.encode([{"k": 1.5}], torch.float64).inputs[0]
    X, Y = (torch.as_tensor(m) for m in grid.mesh())
    assert torch.allclose(inputs[3], -1.5 * 2 * X * Y)  # left: -d/dx
    assert torch.allclose(inputs[4], 1.5 * X ** 2)  # top: +d/dy


def test_pino_boundary_residual_of_the_fd_solution_of_a_neumann_family_is_small():
    """Neumann and Robin data on the low sides: fd's solution of each member satisfies pino's boundary terms."""
    from symop.model import family
    from symop_pino.encoding import Encoder
    from symop_pino.grid import build
    from symop_pino.physics import GridPhysics

    problem = symop.parse("""
problem neumann_family
space x, y
domain box(x: [0, 1], y: [0, 2])
param k ~ uniform(1, 2)
field u
equation -lap(u) + (1 + x)*u = k*(-1 + (1 + x)*(1 + x + x*y + y^2/2))
boundary left: dn(u) = -k*(1 + y)
boundary bottom: dn(u) + u = k*(1 + x) - k*x
boundary right, top: u = k*(1 + x + x*y + y^2/2)
""")
    grid = build(problem, 8)
    physics = GridPhysics(problem, grid, dtype=torch.float64)
    drawn = family.members(problem, 2, seed=1)
    _, params, _ = Encoder(problem, grid).encode([v for v, _ in drawn], torch.float64).take(slice(None))
    fd = torch.as_tensor(np.stack([symop.solve(m, method="fd", n=8).fields["u"] for _, m in drawn]))[:, None]
    terms = physics.terms_of(fd, params)
    assert {"bc[u:left]", "bc[u:bottom]"} <= set(terms)
    for name, value in terms.items():
        assert float(value.max()) < 1e-16, (name, float(value.max()))
