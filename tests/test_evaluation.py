"""Evaluation of solutions anywhere: s(points, t), s.at(t), each method's interpolant, snapshots by default."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import symop
from symop.errors import SymopError
from symop.evaluation import DEFAULT_SNAPSHOTS, SNAPSHOT_BUDGET, snapshot_count
from symop.interpolate import GridInterpolant, lagrange_weights
from symop.solution import Grid, Solution

ROOT = Path(__file__).resolve().parents[1]

POISSON = {
    1: ("space x\ndomain interval(x: [0, 1])", "sin(pi*x)", "pi^2*sin(pi*x)"),
    2: ("space x, y\ndomain box(x: [0, 1], y: [0, 1])", "sin(pi*x)*sin(pi*y)", "2*pi^2*sin(pi*x)*sin(pi*y)"),
    3: ("space x, y, z\ndomain box(x: [0, 1], y: [0, 1], z: [0, 1])", "sin(pi*x)*sin(pi*y)*sin(pi*z)",
        "3*pi^2*sin(pi*x)*sin(pi*y)*sin(pi*z)"),
}


def poisson(d: int):
    head, exact, source = POISSON[d]
    return symop.parse(f"problem p{d}\n{head}\nfield u\nequation -lap(u) = {source}\n"
                       f"boundary all: u = 0\nexact u = {exact}\n")


def exact_poisson(P: np.ndarray) -> np.ndarray:
    return np.prod(np.sin(np.pi * P), axis=1)


def slope(hs, errors) -> float:
    """The fitted order p of errors ~ C h^p."""
    return float(np.polyfit(np.log(hs), np.log(errors), 1)[0])


def interior(problem, n: int, seed: int = 7) -> np.ndarray:
    """``n`` uniformly random points of the domain, the same whatever ran before."""
    lo, hi = (np.asarray(v, float) for v in problem.domain.bounding_box())
    P = np.random.default_rng(seed).uniform(lo, hi, (4 * n, len(lo)))
    return P[problem.domain.contains(P)][:n]


# ------------------------------------------------------------------ fd
@pytest.mark.parametrize("d, order, levels", [(1, 2, (8, 16, 32, 64)), (1, 4, (16, 32, 64)), (2, 2, (8, 16, 32)),
                                              (2, 4, (16, 32, 64)), (3, 2, (6, 12, 24))])
def test_fd_evaluation_converges_at_the_stencil_order(d, order, levels):
    """Between the nodes the error keeps the stencils' order; the interpolant alone (of exact nodal
    values) converges at degree + 1 = order + 2, a degree equal to the order would give order + 1."""
    p = poisson(d)
    P = interior(p, 300)
    full, alone = [], []
    for n in levels:
        s = symop.solve(p, method="fd", n=n, order=order)
        full.append(np.abs(s(P) - exact_poisson(P)).max())
        nodes = exact_poisson(s.geometry.points()).reshape(s.geometry.shape)
        alone.append(np.abs(s.interpolant(nodes, P) - exact_poisson(P)).max())
    hs = [1.0 / n for n in levels]
    assert slope(hs, full) >= order - 0.2, full
    assert slope(hs, alone) >= order + 1.5, alone  # degree order + 1: error h^(order + 2)


def test_grid_interpolant_is_local_lagrange_and_exact_on_polynomials():
    """Degree q reproduces polynomials of degree q exactly, nonuniform and periodic axes included."""
    rng = np.random.default_rng(2)
    x = np.sort(rng.uniform(0, 1, 12))
    y = np.linspace(-1, 2, 9)
    X, Y = np.meshgrid(x, y, indexing="ij")
    poly = lambda a, b: 1 + a - 2 * a**2 * b + a**3 * b**2 - b**3  # noqa: E731
    P = np.stack([rng.uniform(x[0], x[-1], 50), rng.uniform(-1, 2, 50)], axis=1)
    gi = GridInterpolant((x, y), 3)
    np.testing.assert_allclose(gi(poly(X, Y), P), poly(P[:, 0], P[:, 1]), atol=1e-10)
    # at the nodes the values themselves
    np.testing.assert_allclose(gi(poly(X, Y), np.stack([X.ravel(), Y.ravel()], 1)), poly(X, Y).ravel(), atol=1e-12)
    # a periodic axis wraps around: the interval between the last node and the period's end is interpolated
    nodes = np.arange(32) / 32 * 2 * np.pi
    per = GridInterpolant((nodes,), 5, (2 * np.pi,))
    at = np.array([[2 * np.pi - 0.05], [-0.1], [0.3]])
    np.testing.assert_allclose(per(np.sin(nodes), at), np.sin(at[:, 0]), atol=1e-6)
    idx, w = lagrange_weights(nodes, np.array([2 * np.pi - 0.05]), 3, 2 * np.pi)
    assert sorted(idx[0]) == [0, 1, 30, 31] and abs(w.sum() - 1) < 1e-12


def test_fd_periodic_evaluation_wraps_around():
    p = symop.parse("problem adv\nspace x\ntime t in [0, 0.25]\ndomain interval(x: [0, 1])\nfield u\n"
                    "equation dt(u) = -d(u, x)\nboundary periodic(x)\ninitial u = sin(2*pi*x)\n"
                    "exact u = sin(2*pi*(x - t))\n")
    s = symop.solve(p, method="fd", n=64, order=4)
    x = np.array([0.0, 0.5 / 64, 1 - 0.3 / 64, 1.0])
    assert np.abs(s(x) - np.sin(2 * np.pi * (x - 0.25))).max() < 5e-5
    assert s(1.0) == pytest.approx(s(0.0), abs=1e-13)  # x = 1 is the node x = 0, not an extrapolation


# ------------------------------------------------------------------ fem
FEM = {
    "box": ("domain box(x: [0, 1], y: [0, 1])", "sin(2*x)*cos(3*y)", "all"),
    "disk": ("domain disk(center: (0, 0), radius: 1)", "exp(x)*cos(2*y)", "boundary"),
    "hole": ("domain box(x: [0, 1], y: [0, 1]) minus disk(center: (0.5, 0.5), radius: 0.2) as hole",
             "sin(2*x)*cos(3*y)", "left, right, bottom, top, hole"),
}


def fem_problem(kind: str):
    domain, exact, sides = FEM[kind]
    return symop.parse(f"problem f_{kind}\nspace x, y\n{domain}\nfield u\nexact u = {exact}\n"
                       f"equation -lap(u) + u = -lap(exact(u)) + exact(u)\nboundary {sides}: u = exact(u)\n")


def exact_fem(kind: str, P: np.ndarray) -> np.ndarray:
    x, y = P[:, 0], P[:, 1]
    return np.exp(x) * np.cos(2 * y) if kind == "disk" else np.sin(2 * x) * np.cos(3 * y)


@pytest.mark.parametrize("kind", ["box", "disk", "hole"])
@pytest.mark.parametrize("degree", [1, 2])
def test_fem_evaluation_converges_at_the_element_order(kind, degree):
    """The P1/P2 interpolant of exact dof values converges at degree + 1 in the max norm at random
    points (curved P2 cells included), and so does the solution evaluated there."""
    p = fem_problem(kind)
    P = interior(p, 400)
    # around the hole h = 0.2 is as wide as the hole itself: not yet asymptotic
    hs, full, alone = ((0.1, 0.05, 0.025) if kind == "hole" else (0.2, 0.1, 0.05)), [], []
    for h in hs:
        s = symop.solve(p, method="fem", degree=degree, h=h)
        full.append(np.abs(s(P) - exact_fem(kind, P)).max())
        coords = s.interpolant.dof_coords
        alone.append(np.abs(s.interpolant(exact_fem(kind, coords), P) - exact_fem(kind, P)).max())
        if degree == 2:
            assert s.dofs["u"].shape == (len(coords),) and len(coords) > len(s.geometry.points)
    assert slope(hs, alone) >= degree + 1 - 0.3, alone
    assert slope(hs, full) >= degree + 1 - 0.4, full


def test_fem_nodes_give_back_the_nodal_values():
    p = fem_problem("hole")
    s = symop.solve(p, method="fem", degree=2, h=0.1)
    np.testing.assert_allclose(s(s.geometry.points), s.fields["u"], atol=1e-12)
    np.testing.assert_allclose(s(s.interpolant.dof_coords), s.dofs["u"], atol=1e-10)


# ------------------------------------------------------------------ time
def test_at_interpolates_between_snapshots_at_fourth_order():
    """Exact snapshots of a smooth heat solution: the error of at(t) falls as (snapshot spacing)^4."""
    p = symop.load(ROOT / "examples/heat.pde")
    x = np.linspace(0, 1, 9)
    grid = Grid((x, x))
    pts = grid.points()

    def exact(t):
        return (np.exp(-2 * np.pi**2 * 0.1 * t) * np.sin(np.pi * pts[:, 0]) * np.sin(np.pi * pts[:, 1])).reshape(9, 9)

    errors, spacings = [], []
    for count in (6, 11, 21, 41):
        times = np.linspace(0, 0.5, count)
        s = Solution(p, "fd", {}, grid, {"u": exact(0.5)}, time=0.5, times=times,
                     history={"u": np.stack([exact(t) for t in times])})
        tq = np.random.default_rng(count).uniform(0, 0.5, 20)
        errors.append(max(np.abs(s.at(t).fields["u"] - exact(t)).max() for t in tq))
        spacings.append(0.5 / (count - 1))
    assert slope(spacings, errors) >= 3.5, errors


def test_heat_run_keeps_a_time_series_and_at_matches_the_exact_solution():
    p = symop.load(ROOT / "examples/heat.pde")
    s = symop.solve(p, method="fd", n=32, scheme="crank-nicolson", dt=0.005)
    assert len(s.times) == DEFAULT_SNAPSHOTS and s.history["u"].shape == (DEFAULT_SNAPSHOTS, 33, 33)
    np.testing.assert_allclose(s.times, np.linspace(0, 0.5, DEFAULT_SNAPSHOTS))
    P = interior(p, 200)

    def exact(t):
        return np.exp(-2 * np.pi**2 * 0.1 * t) * np.sin(np.pi * P[:, 0]) * np.sin(np.pi * P[:, 1])

    nodal = max(np.abs(s.history["u"][k] - s.at(t).exact_values("u")).max() for k, t in enumerate(s.times))
    for t in (0.013, 0.33, 0.4999):
        a = s.at(t)
        assert a.time == t and a.history is None
        assert np.abs(a(P) - exact(t)).max() <= 1.5 * nodal
        np.testing.assert_allclose(s(P, t=t), a(P), atol=1e-14)
    # a saved time gives back its snapshot
    np.testing.assert_allclose(s.at(s.times[7]).fields["u"], s.history["u"][7], atol=1e-13)
    with pytest.raises(SymopError, match="outside the saved times"):
        s.at(0.7)
    s0 = symop.solve(p, method="fd", n=8, save=0)
    assert s0.history is None
    with pytest.raises(SymopError, match="kept only its state"):
        s0(P, t=0.2)
    assert len(symop.solve(p, method="fd", n=8, save=5).times) == 5


@pytest.mark.parametrize("method, options", [
    ("fd", {"n": 8}),
    ("pinn", {"steps": 2, "width": 4, "depth": 1, "points": 16, "boundary_points": 4, "eval_points": 10}),
    ("insr", {"dt": 0.25, "iterations": 1, "initial_iterations": 1, "width": 4, "depth": 1, "points": 16,
              "boundary_points": 4, "eval_points": 10}),
])
def test_every_solution_refuses_a_time_outside_its_interval(method, options):
    """A network (pinn, insr) evaluated at t = 5 on [0, 0.5] extrapolated without a word where a grid solution
    refuses; now s(points, t) and s.at(t) refuse alike, whatever the method."""
    p = symop.load(ROOT / "examples/heat.pde")
    s = symop.solve(p, method=method, **options)
    P = interior(p, 5)
    assert np.isfinite(s(P, t=0.25)).all()
    for t in (5.0, -1.0):
        with pytest.raises(SymopError, match=f"t = {t:g} lies outside the (saved times|time interval)"):
            s(P, t=t)
        with pytest.raises(SymopError, match="lies outside the"):
            s.at(t)


@pytest.mark.parametrize("method, options", [("fd", {"n": 8, "scheme": "crank-nicolson"}), ("fem", {"n": 4})])
def test_default_snapshots_lie_on_the_steps(method, options):
    """With a step that does not divide the spacing, the default snapshots are steps of the run
    (no extra partial step, no extra factorization); an explicit save is equally spaced."""
    p = symop.load(ROOT / "examples/heat.pde")
    s = symop.solve(p, method=method, dt=0.0071, **options)
    h = 0.5 / s.info["steps"]
    assert s.info["steps"] == 71 and len(s.times) == DEFAULT_SNAPSHOTS
    np.testing.assert_allclose(s.times / h, np.rint(s.times / h), atol=1e-9)
    assert np.diff(s.times).max() - np.diff(s.times).min() <= h * (1 + 1e-9)
    np.testing.assert_allclose(symop.solve(p, method=method, dt=0.0071, save=6, **options).times,
                               np.linspace(0, 0.5, 6))


def test_fem_time_series_and_at():
    p = symop.load(ROOT / "examples/heat.pde")
    s = symop.solve(p, method="fem", degree=2, n=8, dt=0.01)
    assert len(s.times) == DEFAULT_SNAPSHOTS and s.dof_history["u"].shape[1] == s.dofs["u"].size
    P = interior(p, 100)
    t = 0.27
    ex = np.exp(-2 * np.pi**2 * 0.1 * t) * np.sin(np.pi * P[:, 0]) * np.sin(np.pi * P[:, 1])
    assert np.abs(s(P, t=t) - ex).max() < 2e-3


def test_snapshot_count_is_bounded_by_memory():
    assert snapshot_count(None, 1000) == DEFAULT_SNAPSHOTS
    assert snapshot_count(5, 10**12) == 5 and snapshot_count(0, 10) is None and snapshot_count(1, 10) is None
    big = SNAPSHOT_BUDGET // 4
    assert snapshot_count(None, big) == 4
    assert snapshot_count(None, SNAPSHOT_BUDGET) is None


# ------------------------------------------------------------------ points, fields, outside
def test_points_as_arrays_tensors_and_coordinates():
    p = poisson(2)
    s = symop.solve(p, method="fd", n=16)
    P = interior(p, 10)
    ref = s(P)
    assert ref.shape == (10,)
    np.testing.assert_allclose(s(torch.as_tensor(P)), ref)
    np.testing.assert_allclose(s(P[:, 0], P[:, 1]), ref)
    np.testing.assert_allclose(s(P.tolist()), ref)
    X, Y = np.meshgrid(np.linspace(0, 1, 5), np.linspace(0, 1, 4), indexing="ij")
    assert s(X, Y).shape == (5, 4)
    line = s(np.linspace(0, 1, 7), 0.5)  # a line y = 1/2: the number broadcasts
    assert line.shape == (7,)
    assert isinstance(s(0.3, 0.4), float) and abs(s(0.3, 0.4) - np.sin(0.3 * np.pi) * np.sin(0.4 * np.pi)) < 5e-3
    assert s(P, field="u").shape == (10,)
    with pytest.raises(SymopError, match="has no field `v`"):
        s(P, field="v")
    with pytest.raises(SymopError, match="3 coordinates each"):
        s(np.zeros((4, 3)))
    with pytest.raises(SymopError, match="steady"):
        s(P, t=0.1)


def test_several_fields_come_back_as_a_dict():
    p = symop.parse("problem two\nspace x\ndomain interval(x: [0, 1])\nfield u, v\n"
                    "equation -d(u, x, 2) = pi^2*sin(pi*x)\nequation -d(v, x, 2) + u = 0\n"
                    "boundary all: u = 0\nboundary all: v = 0\n")
    s = symop.solve(p, method="fd", n=32)
    x = np.linspace(0.1, 0.9, 5)
    out = s(x)
    assert set(out) == {"u", "v"} and out["u"].shape == (5,)
    np.testing.assert_allclose(s(x, field="v"), out["v"])


@pytest.mark.parametrize("method, kind, options", [("fd", "box", {"n": 8}), ("fem", "hole", {"h": 0.2})])
def test_outside_points_raise_or_give_nan(method, kind, options):
    p = fem_problem(kind)
    s = symop.solve(p, method=method, **options)
    P = np.array([[0.25, 0.25], [0.5, 0.5], [1.5, 0.2], [1.0, 1.0]])  # (0.5, 0.5) is in the hole
    with pytest.raises(SymopError, match="outside the domain"):
        s(P)
    out = s(P, outside="nan")
    hole = kind == "hole"
    assert np.isnan(out).tolist() == [False, hole, True, False]
    with pytest.raises(SymopError, match="outside must be"):
        s(P, outside="zero")


def test_fem_points_on_a_curved_boundary_are_inside_and_converge_at_order_three():
    """Points on the circle lie past the straight cells: the curved P2 cells reach them (Newton)."""
    p = fem_problem("disk")
    a = np.linspace(0, 2 * np.pi, 100)
    P = np.stack([np.cos(a), np.sin(a)], axis=1)
    hs = (0.2, 0.1, 0.05)
    errors = [np.abs(symop.solve(p, method="fem", degree=2, h=h)(P) - exact_fem("disk", P)).max() for h in hs]
    assert slope(hs, errors) >= 2.7, errors


# ------------------------------------------------------------------ networks
def test_pinn_evaluates_its_network():
    p = symop.load(ROOT / "examples/heat.pde")
    s = symop.solve(p, method="pinn", steps=3, width=8, depth=1, points=64, boundary_points=16, eval_points=50)
    assert isinstance(s.network, torch.nn.Module) and s.model is s.network
    P = interior(p, 30)
    X = torch.as_tensor(np.concatenate([P, np.full((30, 1), 0.2)], 1), dtype=torch.float32)
    with torch.no_grad():
        own = s.network(X)[:, 0].double().numpy()
    np.testing.assert_allclose(s(P, t=0.2), own, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(s.at(0.2)(P), own, rtol=1e-6, atol=1e-7)
    # the stored values are the network at the reported points and time
    np.testing.assert_allclose(s(s.geometry.points), s.fields["u"], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(s.at(0.2).fields["u"], s(s.geometry.points, t=0.2), rtol=1e-6, atol=1e-7)
    with pytest.raises(SymopError, match="outside the domain"):
        s([[2.0, 0.5]])
    assert np.isnan(s([[2.0, 0.5], [0.5, 0.5]], outside="nan")).tolist() == [True, False]


def test_pino_interpolates_its_grid(tmp_path):
    text = ("problem heat1d\nspace x\ntime t in [0, 0.2]\ndomain interval(x: [0, 1])\n"
            "param a ~ uniform(-1, 1)\nfield u\nequation dt(u) = 0.1*d(u, x, 2)\nboundary all: u = 0\n"
            "initial u = sin(pi*x) + a*sin(2*pi*x)\n")
    path = tmp_path / "heat1d.pde"
    path.write_text(text)
    problem = symop.load(path)
    model = tmp_path / "m.pt"
    torch.set_num_threads(1)
    symop.train(problem, "pino", samples=4, output=model, seed=0, steps=2, width=4, modes=3, layers=1, n=8,
                batch=4)
    s = symop.solve(problem, method="pino", model=str(model))
    x = s.geometry.axes[0]
    np.testing.assert_allclose(s(x), s.fields["u"], atol=1e-12)
    np.testing.assert_allclose(s(x, t=s.times[3]), s.history["u"][3], atol=1e-12)
    # between nodes: the cubic through the four nearest nodes
    q = 0.3 * x[2] + 0.7 * x[3]
    c = np.polyfit(x[1:5], s.fields["u"][1:5], 3)
    assert abs(s(q) - np.polyval(c, q)) < 1e-10


def test_hypino_evaluates_its_generated_network(tmp_path):
    path = tmp_path / "fam.pde"
    path.write_text("problem fam\nspace x, y\ndomain box(x: [-1, 1], y: [-1, 1])\nparam k in [0, 2]\nfield u\n"
                    "equation -lap(u) + k*u = 1 + x\nboundary all: u = 0\n")
    model = tmp_path / "h.pt"
    torch.set_num_threads(1)
    symop.train(path, "hypino", samples=4, output=model, seed=0, steps=2, grid=8, patch=4, dim=8, layers=1,
                heads=1, width=8, depth=1, points=32, boundary_points=16, batch=4)
    s = symop.solve(symop.load(path), method="hypino", model=str(model), eval_points=40)
    P = np.random.default_rng(3).uniform(-1, 1, (25, 2))
    with torch.no_grad():
        own = s.network(torch.as_tensor(P, dtype=torch.float32))[:, 0].double().numpy()
    np.testing.assert_allclose(s(P), own, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(s(s.geometry.points), s.fields["u"], rtol=1e-6, atol=1e-7)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_network_and_grid_solutions_evaluate_on_cuda():
    p = symop.load(ROOT / "examples/heat.pde")
    s = symop.solve(p, method="pinn", device="cuda", steps=3, width=8, depth=1, points=64, boundary_points=16)
    assert next(s.network.parameters()).device.type == "cuda"
    P = interior(p, 100_000)  # more than one batch
    X = torch.as_tensor(np.concatenate([P, np.full((len(P), 1), 0.5)], 1), dtype=torch.float32, device="cuda")
    with torch.no_grad():
        own = s.network(X)[:, 0].double().cpu().numpy()
    np.testing.assert_allclose(s(P), own, rtol=1e-6, atol=1e-7)
    g = symop.solve(p, method="fd", device="cuda", n=32)
    assert len(g.times) == DEFAULT_SNAPSHOTS
    assert np.abs(g(P[:100], t=0.3) - symop.solve(p, method="fd", n=32)(P[:100], t=0.3)).max() < 1e-12


def test_pictures_refuse_what_they_cannot_draw_with_a_sentence(tmp_path):
    """plot() to an extension matplotlib does not write, and animate() of a steady network solution (no time to
    animate), end in sentences; fields.npz carries the exact values as the .h5 does."""
    p = symop.load(ROOT / "examples/heat.pde")
    fd = symop.solve(p, method="fd", n=8)
    with pytest.raises(SymopError, match=r"plot\(\) cannot write `u.xyz`: .* use one of .*\.png"):
        fd.plot(tmp_path / "u.xyz")
    assert fd.plot(tmp_path / "u").exists() or (tmp_path / "u.png").exists()
    fd.save(tmp_path / "out")
    with np.load(tmp_path / "out" / "fields.npz") as saved:
        np.testing.assert_allclose(saved["exact_u"], fd.exact_values("u"))
    steady = symop.solve(symop.load(ROOT / "examples/poisson.pde"), method="pinn", steps=2, width=4, depth=1,
                         points=16, boundary_points=4, eval_points=10)
    with pytest.raises(SymopError, match="the solution has no history to animate"):
        steady.animate(tmp_path / "u.gif")


def test_at_its_own_time_a_solution_keeps_the_methods_error_measures():
    """fem measures its L2 error by quadrature (Solution.norms); at(t) at the solution's own time keeps it, so
    the two error reports of one state agree; elsewhere at(t) reports nodal errors."""
    p = symop.load(ROOT / "examples/heat.pde")
    s = symop.solve(p, method="fem", n=8)
    assert s.norms  # the method measured its own errors
    assert s.at(s.time).errors() == s.errors()
    assert s.at(0.25).norms is None
