"""Tests of symop.solution: errors against exact solutions, files, figures, summary."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import sympy as sp

from symop.errors import SymopError
from symop.model.domains import Box, Interval
from symop.model.problem import Equation, Field, Problem, Space, Time
from symop.solution import Grid, PointCloud, Solution

from symop.model.mesh import Mesh


X, Y, T = sp.symbols("x y t", real=True)


def make_problem(name, coords, exact, *, time=None, domain=None, params=None, indexed=None, dimension=None):
    """A one-field problem ``u`` with the given exact solution (equations are placeholders)."""
    params = dict(params or {})
    param_symbols = {k: sp.Symbol(k, real=True) for k in params}
    if indexed is not None:
        space = Space(indexed=indexed, dimension=dimension)
    else:
        space = Space(coords=tuple(coords), dimension=len(coords))
    u = sp.Function("u", real=True)
    args = space.arguments + ((time.symbol,) if time else ())
    applied = u(*args)
    return Problem(
        name=name,
        title=f"{name} test problem",
        space=space,
        time=time,
        domain=domain,
        params=params,
        param_symbols=param_symbols,
        lets={},
        fields=(Field("u", u, applied),),
        equations=(Equation(applied, sp.S.Zero, "u"),),
        exact={"u": exact(param_symbols)} if exact is not None else {},
    )


@pytest.fixture
def steady_1d():
    problem = make_problem(
        "sine",
        (X,),
        lambda p: p["a"] * sp.sin(sp.pi * X),
        domain=Interval("x", 0, 1),
        params={"a": 1.0},
    )
    x = np.linspace(0.0, 1.0, 5)
    perturbation = 0.01 * np.array([0.0, 1.0, -2.0, 1.0, 0.0])
    sol = Solution(
        problem, "fd", {"n": 5}, Grid((x,), ("x",)), {"u": np.sin(np.pi * x) + perturbation}
    )
    return sol


@pytest.fixture
def heat_2d():
    exact = lambda p: sp.exp(-T) * sp.sin(sp.pi * X) * sp.sin(sp.pi * Y)  # noqa: E731
    problem = make_problem("heat", (X, Y), exact, time=Time(T, 0.0, 0.5), domain=Box((("x", 0, 1), ("y", 0, 1))))
    x = np.linspace(0, 1, 21)
    y = np.linspace(0, 1, 17)
    grid = Grid((x, y), ("x", "y"))
    xx, yy = np.meshgrid(x, y, indexing="ij")
    times = np.array([0.0, 0.25, 0.5])
    history = np.stack([np.exp(-t) * np.sin(np.pi * xx) * np.sin(np.pi * yy) * (1 + 0.01 * t) for t in times])
    return Solution(
        problem, "fd", {"n": 20, "dt": 0.25}, grid, {"u": history[-1]},
        time=0.5, times=times, history={"u": history}, wall_time=0.12,
        info={"steps": 2, "residual": np.float64(1e-9), "shape": (21, 17)},
    )


# ---------------------------------------------------------------- errors
def test_steady_errors_match_hand_computation(steady_1d):
    # exact at x = 0, 1/4, 1/2, 3/4, 1 is 0, s, 1, s, 0 with s^2 = 1/2; the
    # perturbation 0.01*(0, 1, -2, 1, 0) gives rms ratio sqrt(6e-4/5)/sqrt(2/5).
    errors = steady_1d.errors()
    assert set(errors) == {"u"}
    assert errors["u"]["rel_l2"] == pytest.approx(0.01 * math.sqrt(3), rel=1e-12)
    assert errors["u"]["max"] == pytest.approx(0.02, rel=1e-12)


def test_exact_values_use_parameters(steady_1d):
    problem = steady_1d.problem.with_params(a=3.0)
    sol = Solution(problem, "fd", {}, steady_1d.geometry, steady_1d.fields)
    np.testing.assert_allclose(sol.exact_values("u"), 3 * np.sin(np.pi * np.linspace(0, 1, 5)), atol=1e-14)
    assert sol.exact_values("v") is None


def test_zero_exact_gives_absolute_error():
    problem = make_problem("zero", (X,), lambda p: sp.S.Zero, domain=Interval("x", 0, 1))
    sol = Solution(problem, "fd", {}, Grid((np.linspace(0, 1, 4),)), {"u": np.array([0.0, 0.3, -0.4, 0.0])})
    errors = sol.errors()["u"]
    assert errors["rel_l2"] == pytest.approx(math.sqrt((0.09 + 0.16) / 4))
    assert errors["max"] == pytest.approx(0.4)


def test_time_dependent_exact_at_final_time(heat_2d):
    x, y = heat_2d.geometry.axes
    xx, yy = np.meshgrid(x, y, indexing="ij")
    expected = np.exp(-0.5) * np.sin(np.pi * xx) * np.sin(np.pi * yy)
    np.testing.assert_allclose(heat_2d.exact_values("u"), expected, atol=1e-14)
    np.testing.assert_allclose(heat_2d.exact_values("u", time=0.0), expected * np.exp(0.5), atol=1e-14)
    errors = heat_2d.errors()["u"]
    assert errors["rel_l2"] == pytest.approx(0.005, rel=1e-10)
    assert errors["max"] == pytest.approx(0.005 * np.abs(expected).max(), rel=1e-10)


def test_torch_tensors_and_flat_grid_fields_are_converted():
    torch = pytest.importorskip("torch")
    problem = make_problem("sine", (X,), lambda p: sp.sin(sp.pi * X), domain=Interval("x", 0, 1))
    x = np.linspace(0, 1, 9)
    sol = Solution(problem, "pinn", {}, Grid((torch.tensor(x),)), {"u": torch.tensor(np.sin(np.pi * x))},
                   time=None)
    assert isinstance(sol.fields["u"], np.ndarray)
    assert sol.errors()["u"]["max"] < 1e-12
    grid = Grid((np.linspace(0, 1, 3), np.linspace(0, 1, 4)))
    assert grid.shape == (3, 4) and grid.dimension == 2
    pts = grid.points()
    assert pts.shape == (12, 2) and tuple(pts[1]) == (0.0, 1 / 3)
    with pytest.raises(SymopError, match="has 5 values"):
        Solution(problem, "fd", {}, Grid((x,)), {"u": np.zeros(5)})


def test_norms_override_nodal_errors(steady_1d):
    steady_1d.norms = {"u": {"rel_l2": 1e-6, "h1": 2e-4}}
    errors = steady_1d.errors()["u"]
    assert errors["rel_l2"] == 1e-6
    assert errors["h1"] == 2e-4
    assert errors["max"] == pytest.approx(0.02)


# ---------------------------------------------------------------- geometries
@pytest.fixture
def two_triangles():
    problem = make_problem("plane", (X, Y), lambda p: X + 2 * Y, domain=Box((("x", 0, 1), ("y", 0, 1))))
    points = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    cells = np.array([[0, 1, 2], [0, 2, 3]])
    mesh = Mesh(points=points, cells=cells, facets={"left": np.array([[3, 0]])})
    u = points[:, 0] + 2 * points[:, 1]
    u[2] += 0.1
    return Solution(problem, "fem", {"order": 1}, mesh, {"u": u})


def test_mesh_errors(two_triangles):
    # exact 0, 1, 3, 2: rms sqrt(14/4); error 0.1 at one node: rms sqrt(0.01/4)
    errors = two_triangles.errors()["u"]
    assert errors["rel_l2"] == pytest.approx(0.1 / math.sqrt(14))
    assert errors["max"] == pytest.approx(0.1)


@pytest.fixture
def cloud_2d():
    rng = np.random.default_rng(0)
    pts = rng.uniform(0, 1, size=(200, 2))
    problem = make_problem("cloud", (X, Y), lambda p: sp.cos(X) * Y, domain=Box((("x", 0, 1), ("y", 0, 1))))
    return Solution(problem, "pinn", {"width": 32}, PointCloud(pts, ("x", "y")),
                    {"u": np.cos(pts[:, 0]) * pts[:, 1] + 1e-3}, device="cuda:0")


def test_point_cloud_errors(cloud_2d):
    assert cloud_2d.errors()["u"]["max"] == pytest.approx(1e-3)


def test_indexed_space_exact_on_points():
    xb = sp.IndexedBase("x", real=True)
    d = 5
    problem = make_problem(
        "bowl", (), lambda p: sum(xb[k] ** 2 for k in range(1, d + 1)) / d,
        domain=Box(tuple((f"x{k}", 0, 1) for k in range(1, d + 1))), indexed=xb, dimension=d,
    )
    pts = np.random.default_rng(1).uniform(size=(50, d))
    sol = Solution(problem, "pinn", {}, PointCloud(pts), {"u": (pts ** 2).mean(axis=1)})
    np.testing.assert_allclose(sol.exact_values("u"), (pts ** 2).mean(axis=1), atol=1e-14)
    assert sol.errors()["u"]["max"] < 1e-14


def test_indexed_sum_exact_and_unusable_exact():
    xb = sp.IndexedBase("x", real=True)
    i = sp.Symbol("i", integer=True)
    d = 40
    problem = make_problem(
        "sum", (), lambda p: sp.Sum(xb[i] ** 2, (i, 1, d)) * sp.exp(-T),
        time=Time(T, 0.0, 1.0), domain=Box(tuple((f"x{k}", 0, 1) for k in range(1, d + 1))),
        indexed=xb, dimension=d,
    )
    pts = np.random.default_rng(4).uniform(size=(30, d))
    sol = Solution(problem, "pinn", {}, PointCloud(pts), {"u": np.zeros(30)}, time=0.5)
    np.testing.assert_allclose(sol.exact_values("u"), (pts ** 2).sum(axis=1) * np.exp(-0.5), rtol=1e-13)

    k = sp.Symbol("k", real=True)
    bad = make_problem("bad", (X,), lambda p: sp.sin(k * X), domain=Interval("x", 0, 1))
    with pytest.raises(SymopError, match="exact solution of `u` cannot be evaluated"):
        Solution(bad, "fd", {}, Grid((np.linspace(0, 1, 3),)), {"u": np.zeros(3)}).errors()


def test_numpy_fallback_evaluates_like_codegen():
    from symop.solution import _evaluate_numpy

    xb = sp.IndexedBase("x", real=True)
    i = sp.Symbol("i", integer=True)
    pts = np.random.default_rng(5).uniform(size=(7, 3))
    got = _evaluate_numpy(sp.Sum(xb[i] ** 2, (i, 1, 3)) + xb[2] * T, [xb, T], [pts, np.full(7, 2.0)])
    np.testing.assert_allclose(got, (pts ** 2).sum(axis=1) + 2 * pts[:, 1], rtol=1e-14)
    got = _evaluate_numpy(sp.Integer(3), [X, Y], [pts[:, 0], pts[:, 1]])
    np.testing.assert_array_equal(got, np.full(7, 3.0))
    with pytest.raises(SymopError, match="depends on k"):
        _evaluate_numpy(sp.Symbol("k") * X, [X], [pts[:, 0]])


# ---------------------------------------------------------------- summary, table
def test_summary_is_json_serialisable(heat_2d):
    summary = heat_2d.summary()
    text = json.dumps(summary, allow_nan=False)
    back = json.loads(text)
    assert back["problem"] == "heat"
    assert back["title"] == "heat test problem"
    assert back["method"] == "fd"
    assert back["options"] == {"n": 20, "dt": 0.25}
    assert back["info"] == {"steps": 2, "residual": 1e-9, "shape": [21, 17]}
    assert back["errors"]["u"]["rel_l2"] == pytest.approx(0.005)
    assert back["wall_time"] == pytest.approx(0.12)


def test_table_lists_norms(steady_1d):
    from rich.console import Console

    steady_1d.norms = {"u": {"h1": 1e-3}}
    console = Console(width=100, record=True)
    console.print(steady_1d.table())
    text = console.export_text()
    assert "rel_l2" in text and "h1" in text and "1.000e-03" in text


# ---------------------------------------------------------------- files
def _grid_arrays(path, shape):
    """A grid's .vtu read back by meshio: the mesh, its point data and the coordinates of each axis."""
    import meshio

    mesh = meshio.read(path)
    points = mesh.points[:, : len(shape)].reshape(*shape, len(shape))
    coords = [np.moveaxis(points[..., k], k, 0).reshape(shape[k], -1)[:, 0] for k in range(len(shape))]
    return mesh, dict(mesh.point_data), coords


def test_save_steady_grid(steady_1d, tmp_path):
    files = steady_1d.save(tmp_path / "out")
    names = sorted(p.name for p in files)
    assert names == ["fields.npz", "sine.h5", "sine.vtu", "summary.json"]
    data = np.load(tmp_path / "out" / "fields.npz")
    np.testing.assert_array_equal(data["u"], steady_1d.fields["u"])
    np.testing.assert_array_equal(data["axis_0"], steady_1d.geometry.axes[0])
    mesh, point, coords = _grid_arrays(tmp_path / "out" / "sine.vtu", (5,))
    assert mesh.cells[0].type == "line" and len(mesh.cells[0].data) == 4
    np.testing.assert_allclose(point["u"], steady_1d.fields["u"], rtol=1e-15)
    np.testing.assert_allclose(point["u_exact"], np.sin(np.pi * coords[0]), atol=1e-15)
    np.testing.assert_allclose(coords[0], np.linspace(0, 1, 5))
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["errors"]["u"]["max"] == pytest.approx(0.02)


def test_save_history_writes_one_file_per_time_and_pvd(heat_2d, tmp_path):
    files = heat_2d.save(tmp_path)
    names = sorted(p.name for p in files)
    assert names == ["fields.npz", "heat.h5", "heat.pvd", "heat_0000.vtu", "heat_0001.vtu", "heat_0002.vtu",
                     "summary.json"]
    data = np.load(tmp_path / "fields.npz")
    assert data["history_u"].shape == (3, 21, 17)
    np.testing.assert_array_equal(data["times"], [0.0, 0.25, 0.5])
    assert float(data["time"]) == 0.5
    collection = ET.parse(tmp_path / "heat.pvd").getroot()
    sets = collection.findall("Collection/DataSet")
    assert [s.get("file") for s in sets] == ["heat_0000.vtu", "heat_0001.vtu", "heat_0002.vtu"]
    assert [float(s.get("timestep")) for s in sets] == [0.0, 0.25, 0.5]
    # the grid's nodes are in C order (y fastest)
    mesh, point, coords = _grid_arrays(tmp_path / "heat_0001.vtu", (21, 17))
    assert [len(c) for c in coords] == [21, 17]
    assert mesh.field_data["TimeValue"][0] == 0.25
    expected = heat_2d.history["u"][1].ravel()
    np.testing.assert_allclose(point["u"], expected, rtol=1e-15)
    xx, yy = np.meshgrid(coords[0], coords[1], indexing="ij")
    np.testing.assert_allclose(point["u_exact"], (np.exp(-0.25) * np.sin(np.pi * xx) * np.sin(np.pi * yy)).ravel(),
                               atol=1e-15)


def test_save_mesh_and_points_as_vtu(two_triangles, cloud_2d, tmp_path):
    import meshio

    files = two_triangles.save(tmp_path / "mesh")
    assert sorted(p.name for p in files) == ["fields.npz", "plane.h5", "plane.vtu", "summary.json"]
    mesh = meshio.read(tmp_path / "mesh" / "plane.vtu")
    np.testing.assert_allclose(mesh.points[:, :2], two_triangles.geometry.points)
    assert mesh.cells[0].type == "triangle"
    np.testing.assert_array_equal(mesh.cells[0].data, two_triangles.geometry.cells)
    np.testing.assert_allclose(mesh.point_data["u"], two_triangles.fields["u"])
    np.testing.assert_allclose(mesh.point_data["u_error"], [0, 0, 0.1, 0], atol=1e-15)
    data = np.load(tmp_path / "mesh" / "fields.npz")
    np.testing.assert_array_equal(data["cells"], two_triangles.geometry.cells)

    cloud_2d.save(tmp_path / "cloud")
    cloud = meshio.read(tmp_path / "cloud" / "cloud.vtu")
    assert cloud.cells[0].type == "vertex" and len(cloud.points) == 200
    np.testing.assert_allclose(cloud.point_data["u"], cloud_2d.fields["u"])


# ---------------------------------------------------------------- figures
def _is_png(path):
    return path.exists() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_1d_and_2d(steady_1d, heat_2d, tmp_path, monkeypatch):
    assert _is_png(steady_1d.plot(tmp_path / "line.png"))
    assert _is_png(heat_2d.plot(tmp_path / "heat.png"))
    monkeypatch.chdir(tmp_path)
    from matplotlib.figure import Figure

    assert isinstance(steady_1d.plot(), Figure)  # without a path: the figure, and no file
    assert not (tmp_path / "sine.png").exists()
    with pytest.raises(SymopError, match="no field `v`"):
        steady_1d.plot(field="v")


def test_plot_several_fields_side_by_side(heat_2d, tmp_path):
    sol = Solution(heat_2d.problem, "fd", {}, heat_2d.geometry,
                   {"u": heat_2d.fields["u"], "v": -heat_2d.fields["u"]}, time=0.5)
    from PIL import Image

    one = Image.open(sol.plot(tmp_path / "one.png", field="u", errors=False)).size
    two = Image.open(sol.plot(tmp_path / "two.png", errors=False)).size
    assert two[0] > 1.5 * one[0]


def test_plot_3d_grid_mesh_and_points(two_triangles, cloud_2d, tmp_path):
    Z = sp.Symbol("z", real=True)
    problem = make_problem("cube", (X, Y, Z), lambda p: X * Y * Z, domain=Box((("x", 0, 1), ("y", 0, 1), ("z", 0, 1))))
    a = np.linspace(0, 1, 6)
    xx, yy, zz = np.meshgrid(a, a, a, indexing="ij")
    cube = Solution(problem, "fd", {}, Grid((a, a, a), ("x", "y", "z")), {"u": xx * yy * zz})
    assert _is_png(cube.plot(tmp_path / "cube.png"))
    assert _is_png(two_triangles.plot(tmp_path / "mesh.png"))
    assert _is_png(cloud_2d.plot(tmp_path / "cloud.png"))
    pts = np.random.default_rng(2).uniform(size=(100, 3))
    cloud3 = Solution(problem, "pinn", {}, PointCloud(pts), {"u": pts.prod(axis=1)})
    assert _is_png(cloud3.plot(tmp_path / "cloud3.png"))
    with pytest.raises(SymopError, match="one or two space dimensions"):
        Solution(problem, "fd", {}, cube.geometry, cube.fields, time=1.0, times=[0.0, 1.0],
                 history={"u": np.stack([cube.fields["u"]] * 2)}).animate(tmp_path / "cube.gif")


def test_plot_high_dimensional_points_as_parity(tmp_path):
    xb = sp.IndexedBase("x", real=True)
    d = 6
    problem = make_problem("hd", (), lambda p: sum(xb[k] for k in range(1, d + 1)),
                           domain=Box(tuple((f"x{k}", 0, 1) for k in range(1, d + 1))), indexed=xb, dimension=d)
    pts = np.random.default_rng(3).uniform(size=(80, d))
    sol = Solution(problem, "pinn", {}, PointCloud(pts), {"u": pts.sum(axis=1) * 1.01})
    assert _is_png(sol.plot(tmp_path / "hd.png"))
    files = sol.save(tmp_path / "hd")
    assert sorted(p.name for p in files) == ["fields.npz", "hd.h5", "summary.json"]


def test_animate_gif(heat_2d, steady_1d, tmp_path):
    from PIL import Image

    path = heat_2d.animate(tmp_path / "heat.gif", fps=5)
    assert path.read_bytes()[:6] in (b"GIF89a", b"GIF87a")
    assert Image.open(path).n_frames == 3
    with pytest.raises(SymopError, match="no history"):
        steady_1d.animate(tmp_path / "none.gif")
